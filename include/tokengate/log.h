/* SPDX-License-Identifier: Apache-2.0 */
/* log.h - leveled log lines on stderr, never waited for.
 *
 * One line per call, prefixed with an ISO 8601 UTC time and the level. Callers
 * must never pass a token, key, API key or signature: the log is read by
 * people who are not allowed to hold credentials. While the server runs, a
 * writer thread of its own writes the lines: a line that finds its bounded
 * buffer full is dropped and counted, so a stderr that blocks never holds
 * up a decision.
 */
#ifndef TOKENGATE_LOG_H
#define TOKENGATE_LOG_H

enum tg_log_level { TG_LOG_ERROR, TG_LOG_WARN, TG_LOG_INFO, TG_LOG_DEBUG };

/* Lines above LEVEL are dropped. The default is TG_LOG_INFO. */
void tg_log_set_level(enum tg_log_level level);
int tg_log_enabled(enum tg_log_level level);

/* Parses "error", "warn", "info" or "debug". Returns -1 for anything else. */
int tg_log_level_parse(const char *name);

/* Starts (and stops, writing what it can within a second) the writer
 * thread; without it lines are written at once. */
int tg_log_writer_start(void);
void tg_log_writer_stop(void);

/* Lines dropped because the writer could not keep up. */
unsigned long tg_log_dropped(void);

void tg_log(enum tg_log_level level, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#endif
