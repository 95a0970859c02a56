/* SPDX-License-Identifier: Apache-2.0 */
/* logline.c - what one log line says, as text or JSON (see log.h). The
 * pure half of logging, in the core; log.c writes the lines. */
#include "tokengate/log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tokengate/text.h"

static const char *const level_names[] = {"error", "warn", "info", "debug"};

static void line_begin(struct tg_buffer *line, enum tg_log_format format, bool journal,
                       enum tg_log_level level, const struct timespec *when)
{
    static const char journal_priorities[] = {'3', '4', '6', '7'};
    struct tm utc;
    char time_text[40];
    gmtime_r(&when->tv_sec, &utc);
    size_t len = strftime(time_text, sizeof time_text, "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf(time_text + len, sizeof time_text - len, ".%03ldZ", when->tv_nsec / 1000000);
    line->used = 0;
    line->overflow = false;
    if (format == TG_LOG_FORMAT_JSON) {
        tg_buffer_append(line, "{", 1);
        tg_buffer_json_member(line, "time", time_text, false);
        tg_buffer_json_member(line, "level", level_names[level], false);
        return;
    }
    if (journal)
        tg_buffer_printf(line, "<%c>", journal_priorities[level]);
    tg_buffer_printf(line, "%s tokengate[%s]", time_text, level_names[level]);
}

size_t tg_log_line_format(char *out, size_t size, enum tg_log_format format, bool journal,
                          enum tg_log_level level, const struct timespec *when,
                          const struct tg_log_field *fields, size_t count, const char *message)
{
    /* Two bytes are kept back for the end of the line: "}" and "\n". */
    struct tg_buffer line;
    tg_buffer_init(&line, out, size - 2);
    line_begin(&line, format, journal, level, when);
    if (format == TG_LOG_FORMAT_JSON) {
        if (message)
            tg_buffer_json_member(&line, "msg", message, false);
        for (size_t i = 0; i < count; i++)
            tg_buffer_json_member(&line, fields[i].key, fields[i].value, fields[i].number);
        /* A cut line must still parse: end the object whatever it holds. */
        if (line.overflow) {
            line_begin(&line, format, journal, level, when);
            tg_buffer_json_member(&line, "msg", "(line too long, cut)", false);
        }
        out[line.used++] = '}';
    } else {
        if (message) {
            /* Values from outside are quoted by the callers that know them
             * (fields are); this is the backstop for every other line, a
             * provider's text included: nothing can start a line of its
             * own. */
            size_t start = line.used + 1;
            tg_buffer_printf(&line, " %s", message);
            for (size_t i = start; i < line.used; i++) {
                size_t control = tg_text_control_length(out + i);
                memset(out + i, '?', control);
                i += control ? control - 1 : 0;
            }
        }
        for (size_t i = 0; i < count; i++)
            tg_buffer_logfmt(&line, fields[i].key, fields[i].value);
    }
    out[line.used++] = '\n';
    out[line.used] = '\0';
    return line.used;
}

