/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzing the FastCGI record checker over whole connection byte streams.
 *
 * The stream is fed as the front feeds it: appended to a buffer in pieces
 * whose sizes come from the input, with DROPs removed from the front and
 * each REQUEST taken off. Promises checked: every request found starts with
 * a BEGIN_REQUEST, is PARAMS records of its id up to the empty one, holds
 * only name/value pairs that fit their stream, and is no larger than the
 * limit; and the verdicts do not depend on how the stream was split (the
 * same requests, the same ending, as when it arrives whole). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokengate/records.h"

#define LIMIT 4096

struct outcome {
    size_t requests;
    uint64_t digest;          /* of the requests' bytes */
    int ending;               /* the verdict that stopped the stream, or MORE */
};

static void request_check(const uint8_t *data, size_t len)
{
    if (len > LIMIT || len < 24 || data[1] != 1 || data[5] != 8)
        abort();
    uint16_t id = (uint16_t)(data[2] << 8 | data[3]);
    size_t at = 8 + 8 + data[6];
    size_t last = 0;
    while (at < len) {
        if (at + 8 > len || data[at] != 1 || data[at + 1] != 4 ||
            (uint16_t)(data[at + 2] << 8 | data[at + 3]) != id)
            abort();
        last = at;
        at += 8 + (size_t)(data[at + 4] << 8 | data[at + 5]) + data[at + 6];
    }
    if (at != len || (data[last + 4] | data[last + 5]) != 0)
        abort();
    /* Every length fits what follows it, as libfcgi's ReadParams assumes. */
    uint8_t stream[LIMIT];
    size_t stream_len = 0;
    for (at = 8 + 8 + data[6]; at < len;) {
        size_t content = (size_t)(data[at + 4] << 8 | data[at + 5]);
        memcpy(stream + stream_len, data + at + 8, content);
        stream_len += content;
        at += 8 + content + data[at + 6];
    }
    for (size_t i = 0; i < stream_len;) {
        size_t lengths[2];
        for (int k = 0; k < 2; k++) {
            if (i >= stream_len)
                abort();
            if (stream[i] & 0x80) {
                if (i + 4 > stream_len)
                    abort();
                lengths[k] = (size_t)(stream[i] & 0x7f) << 24 | (size_t)stream[i + 1] << 16 |
                             (size_t)stream[i + 2] << 8 | stream[i + 3];
                i += 4;
            } else {
                lengths[k] = stream[i++];
            }
        }
        if (lengths[0] + lengths[1] > stream_len - i)
            abort();
        i += lengths[0] + lengths[1];
    }
}

static struct outcome feed(const uint8_t *data, size_t size, const uint8_t *splits,
                           size_t split_count)
{
    static uint8_t buffer[LIMIT + 64];
    size_t used = 0, offered = 0, split = 0;
    struct tg_records records;
    tg_records_init(&records, LIMIT);
    struct outcome outcome = {0, 1469598103934665603ULL, TG_RECORDS_MORE};
    while (offered < size) {
        size_t piece = split_count ? (size_t)splits[split++ % split_count] % 64 + 1 : size;
        if (piece > size - offered)
            piece = size - offered;
        if (piece > sizeof buffer - used)
            piece = sizeof buffer - used;
        memcpy(buffer + used, data + offered, piece);
        used += piece;
        offered += piece;
        for (;;) {
            size_t length = 0;
            enum tg_records_verdict verdict = tg_records_next(&records, buffer, used, &length);
            if (verdict == TG_RECORDS_MORE) {
                if (used == sizeof buffer)
                    abort();    /* the checker must have said too large */
                break;
            }
            if (verdict == TG_RECORDS_MALFORMED || verdict == TG_RECORDS_TOO_LARGE) {
                outcome.ending = verdict;
                return outcome;
            }
            if (length == 0 || length > used)
                abort();
            if (verdict == TG_RECORDS_REQUEST) {
                request_check(buffer, length);
                outcome.requests++;
                for (size_t i = 0; i < length; i++)
                    outcome.digest = (outcome.digest ^ buffer[i]) * 1099511628211ULL;
            }
            memmove(buffer, buffer + length, used - length);
            used -= length;
        }
    }
    return outcome;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* The first byte says how many of the next bytes are piece sizes. */
    size_t split_count = data[0] % 16;
    if (size < 1 + split_count)
        return 0;
    const uint8_t *splits = data + 1;
    const uint8_t *stream = data + 1 + split_count;
    size_t stream_len = size - 1 - split_count;
    struct outcome whole = feed(stream, stream_len, NULL, 0);
    struct outcome pieces = feed(stream, stream_len, splits, split_count);
    /* Too large can be seen earlier in pieces only as too large. */
    if (whole.requests != pieces.requests || whole.digest != pieces.digest ||
        whole.ending != pieces.ending)
        abort();
    return 0;
}
