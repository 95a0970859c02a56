/* SPDX-License-Identifier: Apache-2.0 */
/* log.c - leveled log lines on stderr, never waited for.
 *
 * Before tg_log_writer_start() (the command line, the tests, start-up)
 * lines are written at once. Once the server runs, tg_log() only copies the
 * line into a bounded ring, and a writer thread of its own writes the ring
 * to stderr: a stderr that blocks (a pipe nobody drains, a stalled journal)
 * holds up that thread alone, and lines that find the ring full are
 * dropped and counted.
 */
#include "tokengate/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tokengate/text.h"

#define RING_SIZE (256 * 1024)
#define LINE_MAX_BYTES 2048

/* Read by every worker, written by a reload: atomic, not just volatile. */
static atomic_int current_level = TG_LOG_INFO;
static atomic_int current_format = TG_LOG_FORMAT_TEXT;
static atomic_bool to_journal;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    bool running, stopping;
    char data[RING_SIZE];
    size_t start, used;       /* the bytes waiting, from start, wrapping */
} ring = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};
static atomic_ulong dropped;

void tg_log_set_level(enum tg_log_level level) { atomic_store(&current_level, (int)level); }

int tg_log_enabled(enum tg_log_level level)
{
    return (int)level <= atomic_load_explicit(&current_level, memory_order_relaxed);
}



void tg_log_set_format(enum tg_log_format format) { atomic_store(&current_format, (int)format); }

bool tg_log_journal_detect(void)
{
    /* systemd sets JOURNAL_STREAM to the device and inode of the stream it
     * connected; stderr may since have been redirected elsewhere. */
    const char *stream = getenv("JOURNAL_STREAM");
    unsigned long long device, inode;
    struct stat status;
    bool journal = stream && sscanf(stream, "%llu:%llu", &device, &inode) == 2 &&
                   fstat(STDERR_FILENO, &status) == 0 &&
                   (unsigned long long)status.st_dev == device &&
                   (unsigned long long)status.st_ino == inode;
    atomic_store(&to_journal, journal);
    return journal;
}

unsigned long tg_log_dropped(void) { return atomic_load(&dropped); }

static void write_all(const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        data += n;
        len -= (size_t)n;
    }
}

static void *writer_run(void *argument)
{
    (void)argument;
    char chunk[16384];
    pthread_mutex_lock(&ring.lock);
    for (;;) {
        while (ring.used == 0 && !ring.stopping)
            pthread_cond_wait(&ring.wake, &ring.lock);
        if (ring.used == 0)
            break;
        size_t len = ring.used < sizeof chunk ? ring.used : sizeof chunk;
        size_t first = RING_SIZE - ring.start < len ? RING_SIZE - ring.start : len;
        memcpy(chunk, ring.data + ring.start, first);
        memcpy(chunk + first, ring.data, len - first);
        ring.start = (ring.start + len) % RING_SIZE;
        ring.used -= len;
        pthread_mutex_unlock(&ring.lock);
        write_all(chunk, len);
        pthread_mutex_lock(&ring.lock);
    }
    pthread_mutex_unlock(&ring.lock);
    return NULL;
}

int tg_log_writer_start(void)
{
    pthread_mutex_lock(&ring.lock);
    ring.stopping = false;
    int rc = pthread_create(&ring.thread, NULL, writer_run, NULL);
    ring.running = rc == 0;
    pthread_mutex_unlock(&ring.lock);
    return rc == 0 ? 0 : -1;
}

void tg_log_writer_stop(void)
{
    pthread_mutex_lock(&ring.lock);
    bool running = ring.running;
    ring.stopping = true;
    pthread_cond_signal(&ring.wake);
    pthread_mutex_unlock(&ring.lock);
    if (!running)
        return;
    /* A stderr that blocks for ever must not block the exit: give the
     * writer a second to write what is left, then leave it behind. */
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 1;
    if (pthread_timedjoin_np(ring.thread, NULL, &deadline) != 0)
        pthread_detach(ring.thread);
    pthread_mutex_lock(&ring.lock);
    ring.running = false;
    pthread_mutex_unlock(&ring.lock);
}

/* Queues LINE for the writer thread, or writes it at once when there is
 * none. Never waits for stderr once the writer runs. */
static void line_emit(const char *line, size_t len)
{
    pthread_mutex_lock(&ring.lock);
    if (!ring.running) {
        pthread_mutex_unlock(&ring.lock);
        write_all(line, len);
        return;
    }
    if (RING_SIZE - ring.used < len) {
        pthread_mutex_unlock(&ring.lock);
        atomic_fetch_add(&dropped, 1);
        return;
    }
    size_t end = (ring.start + ring.used) % RING_SIZE;
    size_t first = RING_SIZE - end < len ? RING_SIZE - end : len;
    memcpy(ring.data + end, line, first);
    memcpy(ring.data, line + first, len - first);
    ring.used += len;
    pthread_cond_signal(&ring.wake);
    pthread_mutex_unlock(&ring.lock);
}

/* Starts LINE with what every line carries: the journal's priority
 * prefix, the time and the level (text), or the object's first members
 * (JSON). Returns the length. */
/* Formats and emits one line, as the configured format says. */
static void line_write(enum tg_log_level level, const struct tg_log_field *fields, size_t count,
                       const char *message)
{
    /* Built whole first and emitted at once, so lines from concurrent
     * worker threads never interleave. */
    char line[LINE_MAX_BYTES];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    size_t len = tg_log_line_format(line, sizeof line, atomic_load(&current_format),
                                    atomic_load(&to_journal), level, &now, fields, count,
                                    message);
    line_emit(line, len);
}

void tg_log(enum tg_log_level level, const char *format, ...)
{
    if (!tg_log_enabled(level))
        return;
    char message[LINE_MAX_BYTES];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    line_write(level, NULL, 0, message);
}

void tg_log_fields(enum tg_log_level level, const struct tg_log_field *fields, size_t count)
{
    if (tg_log_enabled(level))
        line_write(level, fields, count, NULL);
}
