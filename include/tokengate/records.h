/* SPDX-License-Identifier: Apache-2.0 */
/* records.h - check a FastCGI connection's bytes before anything parses them.
 *
 * libfcgi reads a request on the calling thread with no deadline, and
 * Debian's build aborts the whole process on one PARAMS record whose name
 * and value lengths add up past INT_MAX (CVE-2025-23016, half fixed). So
 * the front (front.h) collects a connection's bytes itself and runs them
 * through this checker; only a complete request whose every record header
 * and every name/value length is sound is handed to a worker, and to
 * libfcgi.
 *
 * A request is BEGIN_REQUEST (role responder, authorizer or filter), then
 * PARAMS records of the same id up to the empty one. What follows it on the
 * connection -- the STDIN or DATA stream of that request, or an ABORT -- is
 * dropped: tokengate never reads a body. Anything else (another version,
 * a management record, a second request interleaved, a record of an
 * unknown type, a name/value pair that overruns its stream) is malformed,
 * and a request larger than the limit, headers and padding included, is
 * too large. Pure: no I/O; the caller owns the bytes.
 */
#ifndef TOKENGATE_RECORDS_H
#define TOKENGATE_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TG_RECORD_HEADER_SIZE 8
#define TG_PARAMS_MAX 1024  /* name/value pairs in one request */

enum tg_records_verdict {
    TG_RECORDS_MORE,        /* nothing to do until more bytes arrive */
    TG_RECORDS_DROP,        /* drop the first *LENGTH bytes, then ask again */
    TG_RECORDS_REQUEST,     /* the first *LENGTH bytes are one checked request */
    TG_RECORDS_MALFORMED,   /* close the connection */
    TG_RECORDS_TOO_LARGE,   /* close the connection */
};

struct tg_records {
    size_t max_request_bytes;  /* set by the caller */
    /* private */
    size_t checked;            /* bytes of the request under way already checked */
    size_t skip;               /* bytes of a dropped record still to come */
    uint16_t request_id;       /* the request under way, 0: none */
    uint16_t finished_id;      /* the last request handed over: its streams are dropped */
    bool keep_connection;      /* of the last request found */
    uint8_t role;
};

/* Starts checking a new connection. */
void tg_records_init(struct tg_records *records, size_t max_request_bytes);

/* Looks at the LEN bytes at DATA, which start where the last DROP or
 * REQUEST left off (the bytes of a request under way are given again,
 * with more behind them; they are not checked twice). Sets *LENGTH for
 * DROP and REQUEST. */
enum tg_records_verdict tg_records_next(struct tg_records *records, const uint8_t *data,
                                        size_t len, size_t *length);

/* Of the request REQUEST just returned: whether the web server asked to keep
 * the connection (FCGI_KEEP_CONN), and its role. */
bool tg_records_keep_connection(const struct tg_records *records);
int tg_records_role(const struct tg_records *records);

/* True when the PARAMS content of the LEN bytes at DATA (a checked request)
 * reads as sound name/value pairs; exposed for the tests. */
bool tg_records_params_sound(const uint8_t *data, size_t len);

#endif
