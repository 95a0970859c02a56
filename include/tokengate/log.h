/* SPDX-License-Identifier: Apache-2.0 */
/* log.h - leveled log lines on stderr, never waited for.
 *
 * One line per call, prefixed with an ISO 8601 UTC time and the level, as
 * text (logfmt fields) or one JSON object (log_format = json). Callers
 * must never pass a token, key, API key or signature: the log is read by
 * people who are not allowed to hold credentials. While the server runs, a
 * writer thread of its own writes the lines: a line that finds its bounded
 * buffer full is dropped and counted, so a stderr that blocks never holds
 * up a decision.
 */
#ifndef TOKENGATE_LOG_H
#define TOKENGATE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum tg_log_level { TG_LOG_ERROR, TG_LOG_WARN, TG_LOG_INFO, TG_LOG_DEBUG };
enum tg_log_format { TG_LOG_FORMAT_TEXT, TG_LOG_FORMAT_JSON };

/* One KEY=VALUE of a structured line (a decision). VALUE NULL is "-" in
 * text and null in JSON; NUMBER values are digits, a JSON number. */
struct tg_log_field {
    const char *key;
    const char *value;
    bool number;
};

/* Lines above LEVEL are dropped. The default is TG_LOG_INFO. */
void tg_log_set_level(enum tg_log_level level);
int tg_log_enabled(enum tg_log_level level);

void tg_log_set_format(enum tg_log_format format);

/* Whether stderr is the journal (systemd's JOURNAL_STREAM names it): text
 * lines then start with the priority prefix, <3> error to <7> debug. */
bool tg_log_journal_detect(void);

/* Starts (and stops, writing what it can within a second) the writer
 * thread; without it lines are written at once. */
int tg_log_writer_start(void);
void tg_log_writer_stop(void);

/* Lines dropped because the writer could not keep up. */
unsigned long tg_log_dropped(void);

void tg_log(enum tg_log_level level, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* A structured line: the fields as logfmt (text) or JSON members. */
void tg_log_fields(enum tg_log_level level, const struct tg_log_field *fields, size_t count);

/* The pure part: one whole line (with its newline) in LINE of SIZE bytes,
 * starting with time and level (and for JOURNAL the priority prefix, text
 * only), then MESSAGE (printf-formatted text, may be NULL) and FIELDS. In
 * text, MESSAGE's control characters become "?" and field values are
 * quoted (tg_buffer_logfmt); in JSON everything is escaped
 * (tg_buffer_json_member) and a cut line is still one object. Returns the
 * length. */
size_t tg_log_line_format(char *line, size_t size, enum tg_log_format format, bool journal,
                          enum tg_log_level level, const struct timespec *when,
                          const struct tg_log_field *fields, size_t count, const char *message);

#endif
