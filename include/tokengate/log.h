/* log.h - leveled log lines on stderr.
 *
 * One line per call, prefixed with an ISO 8601 UTC time and the level. Callers
 * must never pass a token, key, API key or signature: the log is read by
 * people who are not allowed to hold credentials.
 */
#ifndef TOKENGATE_LOG_H
#define TOKENGATE_LOG_H

enum tg_log_level { TG_LOG_ERROR, TG_LOG_WARN, TG_LOG_INFO, TG_LOG_DEBUG };

/* Lines above LEVEL are dropped. The default is TG_LOG_INFO. */
void tg_log_set_level(enum tg_log_level level);
int tg_log_enabled(enum tg_log_level level);

/* Parses "error", "warn", "info" or "debug". Returns -1 for anything else. */
int tg_log_level_parse(const char *name);

void tg_log(enum tg_log_level level, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#endif
