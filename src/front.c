/* SPDX-License-Identifier: Apache-2.0 */
/* front.c - the event-driven front: no client of the socket can hold a worker. */
#include "tokengate/front.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <fastcgi.h>
#include <time.h>
#include <unistd.h>

#include "tokengate/log.h"
#include "tokengate/records.h"

#define EVENTS_MAX 64
#define BUFFER_INITIAL 4096
#define ACCEPT_PAUSE_MS 100   /* out of file descriptors: try again this much later */
#define TICK_MAX_MS 1000

enum connection_state { READING, AT_WORKER, LINGERING };

struct tg_connection {
    int fd;
    enum connection_state state;
    struct tg_records records;
    uint8_t *buffer;
    size_t used, capacity, limit;
    size_t request_len;         /* the checked request at the start of buffer */
    bool keep;                  /* the web server keeps the connection */
    bool watched;               /* registered with epoll */
    int64_t deadline;           /* milliseconds, monotonic */
    void *attachment;           /* what a worker left for the next one */
    void (*attachment_release)(void *attachment);
    struct tg_connection *previous, *next;  /* in one list or queue at a time */
};

struct list {
    struct tg_connection *head, *tail;
};

struct tg_front {
    int listen_fd, epoll_fd, wake_fd;
    pthread_t thread;
    bool started;
    atomic_bool stopping;

    pthread_mutex_t limits_lock;
    struct tg_front_limits limits;

    /* The front thread's own. */
    struct list reading, lingering;
    atomic_bool listening;      /* written by the front thread only */
    int64_t accept_resume;

    atomic_size_t open;
    atomic_ulong closed[TG_CLOSE_REASONS];

    /* Checked requests waiting for a worker. */
    pthread_mutex_t ready_lock;
    pthread_cond_t ready_cond;
    struct list ready;
    bool workers_stopping;

    /* Connections answered, waiting for the front thread. */
    pthread_mutex_t returned_lock;
    struct list returned;
    bool ended;
};

/* Tags for the two descriptors that are not connections. */
static int listen_tag, wake_tag;

static int64_t now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void list_push(struct list *list, struct tg_connection *connection)
{
    connection->next = NULL;
    connection->previous = list->tail;
    if (list->tail)
        list->tail->next = connection;
    else
        list->head = connection;
    list->tail = connection;
}

static void list_remove(struct list *list, struct tg_connection *connection)
{
    if (connection->previous)
        connection->previous->next = connection->next;
    else
        list->head = connection->next;
    if (connection->next)
        connection->next->previous = connection->previous;
    else
        list->tail = connection->previous;
    connection->previous = connection->next = NULL;
}

static struct tg_connection *list_pop(struct list *list)
{
    struct tg_connection *connection = list->head;
    if (connection)
        list_remove(list, connection);
    return connection;
}

static struct tg_front_limits limits_get(struct tg_front *front)
{
    pthread_mutex_lock(&front->limits_lock);
    struct tg_front_limits limits = front->limits;
    pthread_mutex_unlock(&front->limits_lock);
    return limits;
}

static void listening_set(struct tg_front *front, bool on)
{
    if (atomic_load(&front->listening) == on)
        return;
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = &listen_tag};
    if (epoll_ctl(front->epoll_fd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, front->listen_fd,
                  &event) == 0)
        atomic_store(&front->listening, on);
}

static void front_wake(struct tg_front *front)
{
    uint64_t one = 1;
    while (write(front->wake_fd, &one, sizeof one) < 0 && errno == EINTR)
        continue;
}

/* Closes a connection that is in no list. */
static void connection_free(struct tg_front *front, struct tg_connection *connection)
{
    if (connection->attachment && connection->attachment_release)
        connection->attachment_release(connection->attachment);
    close(connection->fd);
    free(connection->buffer);
    free(connection);
    atomic_fetch_sub(&front->open, 1);
}

/* Closes a connection the front thread holds. */
static void connection_close(struct tg_front *front, struct tg_connection *connection)
{
    if (connection->state == READING)
        list_remove(&front->reading, connection);
    else if (connection->state == LINGERING)
        list_remove(&front->lingering, connection);
    connection_free(front, connection);
}

static void connection_refuse(struct tg_front *front, struct tg_connection *connection,
                              enum tg_close_reason reason)
{
    atomic_fetch_add(&front->closed[reason], 1);
    connection_close(front, connection);
}

static void buffer_drop(struct tg_connection *connection, size_t len)
{
    memmove(connection->buffer, connection->buffer + len, connection->used - len);
    connection->used -= len;
    if (connection->used == 0 && connection->state != AT_WORKER) {
        /* An idle connection keeps no buffer: thousands cost memory only
         * for their small struct. */
        free(connection->buffer);
        connection->buffer = NULL;
        connection->capacity = 0;
    }
}

static void ready_push(struct tg_front *front, struct tg_connection *connection)
{
    pthread_mutex_lock(&front->ready_lock);
    list_push(&front->ready, connection);
    pthread_cond_signal(&front->ready_cond);
    pthread_mutex_unlock(&front->ready_lock);
}

/* Runs the checker over what the connection has buffered. False when the
 * connection left the reading state (handed to a worker, or closed). */
static bool connection_check(struct tg_front *front, struct tg_connection *connection)
{
    for (;;) {
        size_t len = 0;
        switch (tg_records_next(&connection->records, connection->buffer, connection->used,
                                &len)) {
        case TG_RECORDS_MORE:
            return true;
        case TG_RECORDS_DROP:
            buffer_drop(connection, len);
            continue;
        case TG_RECORDS_REQUEST:
            connection->request_len = len;
            connection->keep = tg_records_keep_connection(&connection->records);
            list_remove(&front->reading, connection);
            if (connection->watched)
                epoll_ctl(front->epoll_fd, EPOLL_CTL_DEL, connection->fd, NULL);
            connection->watched = false;
            connection->state = AT_WORKER;
            ready_push(front, connection);
            return false;
        case TG_RECORDS_MALFORMED:
            connection_refuse(front, connection, TG_CLOSED_MALFORMED);
            return false;
        case TG_RECORDS_TOO_LARGE:
            connection_refuse(front, connection, TG_CLOSED_TOO_LARGE);
            return false;
        }
    }
}

/* Reads what has arrived. True while the connection is still reading (not
 * handed to a worker, not closed: then it must not be touched again). */
static bool connection_read(struct tg_front *front, struct tg_connection *connection)
{
    for (;;) {
        if (connection->used == connection->capacity) {
            if (connection->capacity >= connection->limit) {
                connection_refuse(front, connection, TG_CLOSED_TOO_LARGE);
                return false;
            }
            size_t capacity = connection->capacity ? connection->capacity * 2 : BUFFER_INITIAL;
            if (capacity > connection->limit)
                capacity = connection->limit;
            uint8_t *buffer = realloc(connection->buffer, capacity);
            if (!buffer) {
                connection_close(front, connection);
                return false;
            }
            connection->buffer = buffer;
            connection->capacity = capacity;
        }
        ssize_t n = recv(connection->fd, connection->buffer + connection->used,
                         connection->capacity - connection->used, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (connection->used == 0) {
                /* Idle: no buffer until bytes arrive. */
                free(connection->buffer);
                connection->buffer = NULL;
                connection->capacity = 0;
            }
            return true;
        }
        if (n <= 0) {
            connection_close(front, connection);
            return false;
        }
        connection->used += (size_t)n;
        if (!connection_check(front, connection))
            return false;
    }
}

/* A connection answered and shut down for writing: what the web server
 * still sends is read and dropped until it closes. */
static void connection_linger(struct tg_front *front, struct tg_connection *connection)
{
    char discard[4096];
    for (;;) {
        ssize_t n = recv(connection->fd, discard, sizeof discard, 0);
        if (n > 0 || (n < 0 && errno == EINTR))
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        connection_close(front, connection);
        return;
    }
}

static void connection_watch(struct tg_front *front, struct tg_connection *connection)
{
    struct epoll_event event = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = connection};
    if (epoll_ctl(front->epoll_fd, EPOLL_CTL_ADD, connection->fd, &event) != 0) {
        connection_close(front, connection);
        return;
    }
    connection->watched = true;
}

/* A connection that is (again) reading: what it already holds, or what
 * already arrived, may be a whole request, which then goes to a worker
 * without a round through epoll. */
static void connection_start_reading(struct tg_front *front, struct tg_connection *connection)
{
    if (connection_check(front, connection) && connection_read(front, connection) &&
        !connection->watched)
        connection_watch(front, connection);
}

static void accept_all(struct tg_front *front)
{
    struct tg_front_limits limits = limits_get(front);
    while (atomic_load(&front->open) < limits.max_connections) {
        int fd = accept4(front->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: the listen socket stays readable, so
                 * stop watching it for a moment rather than spin. */
                tg_log(TG_LOG_WARN, "cannot accept connections: %s; retrying in %d ms",
                       strerror(errno), ACCEPT_PAUSE_MS);
                listening_set(front, false);
                front->accept_resume = now_ms() + ACCEPT_PAUSE_MS;
            }
            return;
        }
        struct tg_connection *connection = calloc(1, sizeof *connection);
        if (!connection) {
            close(fd);
            return;
        }
        atomic_fetch_add(&front->open, 1);
        connection->fd = fd;
        connection->state = READING;
        connection->limit = limits.max_request_bytes;
        tg_records_init(&connection->records, limits.max_request_bytes);
        connection->deadline = now_ms() + limits.request_timeout * 1000;
        list_push(&front->reading, connection);
        connection_start_reading(front, connection);
    }
    /* Full: the backlog waits until connections close. */
    atomic_fetch_add(&front->closed[TG_CLOSED_LIMIT], 1);
    listening_set(front, false);
    front->accept_resume = 0;
}

/* Takes back the connections workers answered. */
static void returned_receive(struct tg_front *front)
{
    uint64_t count;
    while (read(front->wake_fd, &count, sizeof count) < 0 && errno == EINTR)
        continue;
    pthread_mutex_lock(&front->returned_lock);
    struct list returned = front->returned;
    front->returned.head = front->returned.tail = NULL;
    pthread_mutex_unlock(&front->returned_lock);
    struct tg_front_limits limits = limits_get(front);
    struct tg_connection *connection;
    while ((connection = list_pop(&returned))) {
        size_t request_len = connection->request_len;
        connection->request_len = 0;
        if (connection->keep) {
            connection->state = READING;
            buffer_drop(connection, request_len);
            connection->deadline = now_ms() + limits.request_timeout * 1000;
            list_push(&front->reading, connection);
            connection_start_reading(front, connection);
        } else {
            connection->state = LINGERING;
            buffer_drop(connection, connection->used);
            shutdown(connection->fd, SHUT_WR);
            connection->deadline = now_ms() + TG_FRONT_LINGER_SECONDS * 1000;
            list_push(&front->lingering, connection);
            connection_watch(front, connection);
        }
    }
}

/* Closes the connections whose time is up; returns the milliseconds until
 * the next deadline (at most TICK_MAX_MS). */
static int deadlines_enforce(struct tg_front *front)
{
    int64_t now = now_ms();
    int64_t next = now + TICK_MAX_MS;
    while (front->reading.head && front->reading.head->deadline <= now)
        connection_refuse(front, front->reading.head, TG_CLOSED_TIMEOUT);
    while (front->lingering.head && front->lingering.head->deadline <= now)
        connection_close(front, front->lingering.head);
    if (front->reading.head && front->reading.head->deadline < next)
        next = front->reading.head->deadline;
    if (front->lingering.head && front->lingering.head->deadline < next)
        next = front->lingering.head->deadline;
    if (!atomic_load(&front->listening)) {
        struct tg_front_limits limits = limits_get(front);
        if (atomic_load(&front->open) < limits.max_connections &&
            (front->accept_resume == 0 || front->accept_resume <= now)) {
            listening_set(front, true);
        } else if (front->accept_resume > now && front->accept_resume < next) {
            next = front->accept_resume;
        }
    }
    return (int)(next > now ? next - now : 0);
}

static void *front_run(void *argument)
{
    struct tg_front *front = argument;
    struct epoll_event events[EVENTS_MAX];
    int timeout = 0;
    while (!atomic_load(&front->stopping)) {
        int count = epoll_wait(front->epoll_fd, events, EVENTS_MAX, timeout);
        for (int i = 0; i < count && !atomic_load(&front->stopping); i++) {
            void *tag = events[i].data.ptr;
            if (tag == &wake_tag) {
                returned_receive(front);
            } else if (tag == &listen_tag) {
                accept_all(front);
            } else {
                struct tg_connection *connection = tag;
                /* A connection closed earlier in this batch is not in it
                 * any more: closing removes it from the epoll set, and a
                 * later event for it cannot be pending in this batch
                 * because each connection has one registration. */
                if (connection->state == READING)
                    connection_read(front, connection);
                else if (connection->state == LINGERING)
                    connection_linger(front, connection);
            }
        }
        timeout = deadlines_enforce(front);
    }

    /* Stopping: close what the front holds; answered connections that come
     * back from now on are closed by the workers. */
    listening_set(front, false);
    pthread_mutex_lock(&front->returned_lock);
    front->ended = true;
    struct list returned = front->returned;
    front->returned.head = front->returned.tail = NULL;
    pthread_mutex_unlock(&front->returned_lock);
    struct tg_connection *connection;
    while ((connection = list_pop(&returned)) || (connection = list_pop(&front->reading)) ||
           (connection = list_pop(&front->lingering)))
        connection_free(front, connection);
    return NULL;
}

struct tg_front *tg_front_new(int listen_fd, const struct tg_front_limits *limits)
{
    struct tg_front *front = calloc(1, sizeof *front);
    if (!front)
        return NULL;
    front->listen_fd = listen_fd;
    front->limits = *limits;
    front->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    front->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&front->limits_lock, NULL);
    pthread_mutex_init(&front->ready_lock, NULL);
    pthread_cond_init(&front->ready_cond, NULL);
    pthread_mutex_init(&front->returned_lock, NULL);
    struct epoll_event wake = {.events = EPOLLIN, .data.ptr = &wake_tag};
    int flags = fcntl(listen_fd, F_GETFL);
    if (front->epoll_fd < 0 || front->wake_fd < 0 || flags < 0 ||
        fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
        epoll_ctl(front->epoll_fd, EPOLL_CTL_ADD, front->wake_fd, &wake) != 0) {
        tg_front_free(front);
        return NULL;
    }
    listening_set(front, true);
    if (!atomic_load(&front->listening)) {
        tg_front_free(front);
        return NULL;
    }
    return front;
}

int tg_front_start(struct tg_front *front)
{
    if (pthread_create(&front->thread, NULL, front_run, front) != 0)
        return -1;
    front->started = true;
    return 0;
}

void tg_front_limits_set(struct tg_front *front, const struct tg_front_limits *limits)
{
    pthread_mutex_lock(&front->limits_lock);
    front->limits = *limits;
    pthread_mutex_unlock(&front->limits_lock);
}

struct tg_connection *tg_front_take(struct tg_front *front)
{
    pthread_mutex_lock(&front->ready_lock);
    while (!front->ready.head && !front->workers_stopping)
        pthread_cond_wait(&front->ready_cond, &front->ready_lock);
    struct tg_connection *connection = list_pop(&front->ready);
    pthread_mutex_unlock(&front->ready_lock);
    return connection;
}

const uint8_t *tg_connection_request(const struct tg_connection *connection, size_t *len)
{
    *len = connection->request_len;
    return connection->buffer;
}

int tg_connection_fd(const struct tg_connection *connection) { return connection->fd; }

/* True when CONNECTION can be closed at once: the web server does not keep
 * it, and nothing it sent is left unread (closing with unread bytes would
 * reset the connection, and might destroy the response in flight). */
static bool connection_drained(const struct tg_connection *connection)
{
    if (connection->keep)
        return false;
    /* A responder's request goes on with its STDIN stream after the
     * PARAMS, and a web server may send its end after the answer is out
     * (Apache's mod_proxy_fcgi does): closing now would reset its write.
     * Such connections wait in the front for the web server to close its
     * side. An authorizer's request has no stream after its PARAMS. */
    bool more_may_come = tg_records_role(&connection->records) != FCGI_AUTHORIZER;
    char discard[512];
    for (;;) {
        ssize_t n = recv(connection->fd, discard, sizeof discard, MSG_DONTWAIT);
        if (n > 0 || (n < 0 && errno == EINTR))
            continue;
        if (n == 0)
            return true;
        return !more_may_come && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
}

void tg_front_give_back(struct tg_front *front, struct tg_connection *connection, bool close)
{
    /* The common case costs the front nothing: a web server that does not
     * keep the connection has sent all it will, so the worker closes it. */
    if (close || connection_drained(connection)) {
        connection_free(front, connection);
        /* A front that stopped accepting at max_connections takes up again
         * when it next wakes; wake it now. */
        if (!atomic_load(&front->listening))
            front_wake(front);
        return;
    }
    pthread_mutex_lock(&front->returned_lock);
    if (front->ended) {
        pthread_mutex_unlock(&front->returned_lock);
        connection_free(front, connection);
        return;
    }
    list_push(&front->returned, connection);
    pthread_mutex_unlock(&front->returned_lock);
    front_wake(front);
}

void tg_front_requeue(struct tg_front *front, struct tg_connection *connection,
                      void *attachment, void (*release)(void *attachment))
{
    connection->attachment = attachment;
    connection->attachment_release = release;
    pthread_mutex_lock(&front->ready_lock);
    bool stopping = front->workers_stopping;
    if (!stopping) {
        list_push(&front->ready, connection);
        pthread_cond_signal(&front->ready_cond);
    }
    pthread_mutex_unlock(&front->ready_lock);
    if (stopping)
        connection_free(front, connection);
}

void *tg_connection_attachment_take(struct tg_connection *connection)
{
    void *attachment = connection->attachment;
    connection->attachment = NULL;
    return attachment;
}

void tg_front_stop(struct tg_front *front)
{
    atomic_store(&front->stopping, true);
    front_wake(front);
    if (front->started) {
        pthread_join(front->thread, NULL);
        front->started = false;
    } else {
        front->ended = true;
    }
    pthread_mutex_lock(&front->ready_lock);
    front->workers_stopping = true;
    pthread_cond_broadcast(&front->ready_cond);
    pthread_mutex_unlock(&front->ready_lock);
}

void tg_front_free(struct tg_front *front)
{
    if (!front)
        return;
    struct tg_connection *connection;
    while ((connection = list_pop(&front->ready)))
        connection_free(front, connection);
    if (front->epoll_fd >= 0)
        close(front->epoll_fd);
    if (front->wake_fd >= 0)
        close(front->wake_fd);
    pthread_mutex_destroy(&front->limits_lock);
    pthread_mutex_destroy(&front->ready_lock);
    pthread_cond_destroy(&front->ready_cond);
    pthread_mutex_destroy(&front->returned_lock);
    free(front);
}

unsigned long tg_front_closed(const struct tg_front *front, enum tg_close_reason reason)
{
    return atomic_load(&front->closed[reason]);
}

size_t tg_front_open(const struct tg_front *front) { return atomic_load(&front->open); }
