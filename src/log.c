/* SPDX-License-Identifier: Apache-2.0 */
/* log.c - leveled log lines on stderr. */
#include "tokengate/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Read by every worker, written by a reload: atomic, not just volatile. */
static atomic_int current_level = TG_LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void tg_log_set_level(enum tg_log_level level) { atomic_store(&current_level, (int)level); }

int tg_log_enabled(enum tg_log_level level)
{
    return (int)level <= atomic_load_explicit(&current_level, memory_order_relaxed);
}

int tg_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

void tg_log(enum tg_log_level level, const char *format, ...)
{
    if (!tg_log_enabled(level))
        return;

    /* Build the whole line first and write it with one call, so lines from
     * concurrent worker threads never interleave. */
    char line[2048];
    struct timespec now;
    struct tm utc;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &utc);
    size_t used = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &utc);
    used += (size_t)snprintf(line + used, sizeof line - used, ".%03ldZ tokengate[%s] ",
                             now.tv_nsec / 1000000, level_names[level]);

    va_list args;
    va_start(args, format);
    int n = vsnprintf(line + used, sizeof line - used - 1, format, args);
    va_end(args);
    if (n < 0)
        n = 0;
    size_t message = used;
    used += (size_t)n < sizeof line - used - 1 ? (size_t)n : sizeof line - used - 2;
    /* Values from outside are quoted by the callers that know them (see
     * tg_text_logfmt_append); this is the backstop for every other line, a
     * provider's text included: nothing can start a line of its own. */
    for (size_t i = message; i < used; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 || c == 0x7f)
            line[i] = '?';
        else if (c == 0xc2 && i + 1 < used && (unsigned char)line[i + 1] >= 0x80 &&
                 (unsigned char)line[i + 1] <= 0x9f)
            line[i] = line[i + 1] = '?';
        else if (c == 0xe2 && i + 2 < used && (unsigned char)line[i + 1] == 0x80 &&
                 ((unsigned char)line[i + 2] == 0xa8 || (unsigned char)line[i + 2] == 0xa9))
            line[i] = line[i + 1] = line[i + 2] = '?';
    }
    line[used++] = '\n';
    fwrite(line, 1, used, stderr);
}
