/* SPDX-License-Identifier: Apache-2.0 */
/* front.h - the event-driven front: no client of the socket can hold a worker.
 *
 * One thread (epoll) accepts connections and reads each one until a complete
 * FastCGI request has arrived, checking every record as it goes (records.h),
 * within request_timeout and max_request_bytes. Idle and slow connections
 * cost a small struct, never a worker; only complete, checked requests are
 * queued for the worker threads, which take one with tg_front_take(), answer
 * it on the connection's socket and give the connection back. A connection
 * the web server keeps alive (FCGI_KEEP_CONN) returns to the front for its
 * next request. An authorizer's is closed by the worker once what the web
 * server sent has been read; any other (a responder's STDIN may still be on
 * its way) goes back to the front, is shut down for writing and closed once
 * the web server has closed its side (at most TG_FRONT_LINGER_SECONDS
 * later), so that a reset never
 * destroys a response in flight. At most max_connections are held at
 * once; beyond that the front stops accepting and the listen backlog waits.
 *
 * Threads: the front thread owns every connection it holds; a connection
 * taken by a worker belongs to that worker until it is given back. The
 * queues between them are guarded by one mutex each.
 */
#ifndef TOKENGATE_FRONT_H
#define TOKENGATE_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TG_FRONT_LINGER_SECONDS 2

struct tg_front;
struct tg_connection;

struct tg_front_limits {
    long request_timeout;        /* seconds */
    size_t max_connections;
    size_t max_request_bytes;
};

/* Why connections were closed before their request was answered. */
enum tg_close_reason {
    TG_CLOSED_TIMEOUT, TG_CLOSED_MALFORMED, TG_CLOSED_TOO_LARGE, TG_CLOSED_LIMIT,
    TG_CLOSE_REASONS
};

/* A front on LISTEN_FD (which it makes non-blocking, and never closes).
 * NULL when out of memory or file descriptors. */
struct tg_front *tg_front_new(int listen_fd, const struct tg_front_limits *limits);

/* Starts the front thread. 0 or -1. */
int tg_front_start(struct tg_front *front);

/* New limits for connections accepted from now on (a reload). */
void tg_front_limits_set(struct tg_front *front, const struct tg_front_limits *limits);

/* Blocks until a checked request is ready and returns its connection, or
 * NULL once the front is stopping and no request is left. */
struct tg_connection *tg_front_take(struct tg_front *front);

/* The checked request's bytes, from BEGIN_REQUEST to the empty PARAMS. */
const uint8_t *tg_connection_request(const struct tg_connection *connection, size_t *len);

/* The connection's socket (non-blocking), for the response. */
int tg_connection_fd(const struct tg_connection *connection);

/* Gives CONNECTION back after its response (see above for what becomes of
 * it); CLOSE when it must simply be closed (the response could not be
 * written whole). */
void tg_front_give_back(struct tg_front *front, struct tg_connection *connection, bool close);

/* Puts CONNECTION, which a worker took and did not answer (its request
 * waits for something, such as an API key's validation), back in the
 * workers' queue with ATTACHMENT for the worker that takes it next
 * (tg_connection_attachment_take()). RELEASE frees an attachment nobody
 * took. Once the front is stopping, the connection is closed instead. Any
 * thread may call it. */
void tg_front_requeue(struct tg_front *front, struct tg_connection *connection,
                      void *attachment, void (*release)(void *attachment));
void *tg_connection_attachment_take(struct tg_connection *connection);

/* Stops accepting and reading, closes what the front holds, and lets
 * tg_front_take() return NULL once the queued requests are taken. Returns
 * after the front thread has ended. Connections given back afterwards are
 * closed at once. */
void tg_front_stop(struct tg_front *front);

/* Frees the front after tg_front_stop() and after every worker is done. */
void tg_front_free(struct tg_front *front);

/* Connections closed before their request was answered, by REASON (and
 * for TG_CLOSED_LIMIT, how often the limit was reached); read without
 * locking, for logs and metrics. */
unsigned long tg_front_closed(const struct tg_front *front, enum tg_close_reason reason);

/* Connections held now (reading, queued, answered or lingering). */
size_t tg_front_open(const struct tg_front *front);

#endif
