/* SPDX-License-Identifier: Apache-2.0 */
/* records.c - check a FastCGI connection's bytes before anything parses them. */
#include "tokengate/records.h"

#include <string.h>

#include <fastcgi.h>

struct header {
    uint8_t version, type;
    uint16_t request_id;
    size_t content_length, padding_length;
};

static struct header header_read(const uint8_t *data)
{
    return (struct header){
        .version = data[0],
        .type = data[1],
        .request_id = (uint16_t)(data[2] << 8 | data[3]),
        .content_length = (size_t)(data[4] << 8 | data[5]),
        .padding_length = data[6],
    };
}

static size_t record_size(const struct header *header)
{
    return TG_RECORD_HEADER_SIZE + header->content_length + header->padding_length;
}

void tg_records_init(struct tg_records *records, size_t max_request_bytes)
{
    memset(records, 0, sizeof *records);
    records->max_request_bytes = max_request_bytes;
}

bool tg_records_keep_connection(const struct tg_records *records)
{
    return records->keep_connection;
}

int tg_records_role(const struct tg_records *records) { return records->role; }

/* The PARAMS content of a checked request, read across its records. */
struct params_cursor {
    const uint8_t *data;
    size_t len;
    size_t position;       /* in DATA */
    size_t record_left;    /* content bytes left in the current record */
    size_t padding;        /* the current record's padding, skipped after its content */
    size_t stream_left;    /* content bytes left in the whole stream */
};

/* Moves to a record with content left; false at the end of the stream. */
static bool cursor_ready(struct params_cursor *cursor)
{
    while (cursor->record_left == 0) {
        cursor->position += cursor->padding;
        cursor->padding = 0;
        if (cursor->stream_left == 0 || cursor->position + TG_RECORD_HEADER_SIZE > cursor->len)
            return false;
        struct header header = header_read(cursor->data + cursor->position);
        cursor->position += TG_RECORD_HEADER_SIZE;
        cursor->record_left = header.content_length;
        cursor->padding = header.padding_length;
    }
    return true;
}

static bool cursor_byte(struct params_cursor *cursor, uint8_t *byte)
{
    if (!cursor_ready(cursor))
        return false;
    *byte = cursor->data[cursor->position++];
    cursor->record_left--;
    cursor->stream_left--;
    return true;
}

/* Passes LEN bytes of content, a record's piece at a time, refusing any
 * that holds a NUL, or an "=" when NAME: a NUL would cut the C string
 * libfcgi makes of the pair, and an "=" in a name would move where its
 * value starts. */
static bool cursor_pass(struct params_cursor *cursor, size_t len, bool name)
{
    while (len > 0) {
        if (!cursor_ready(cursor))
            return false;
        size_t piece = len < cursor->record_left ? len : cursor->record_left;
        const uint8_t *bytes = cursor->data + cursor->position;
        if (memchr(bytes, 0, piece) || (name && memchr(bytes, '=', piece)))
            return false;
        cursor->position += piece;
        cursor->record_left -= piece;
        cursor->stream_left -= piece;
        len -= piece;
    }
    return true;
}

/* A FastCGI length: one byte below 128, else four with the high bit set. */
static bool length_read(struct params_cursor *cursor, size_t *length)
{
    uint8_t bytes[4];
    if (!cursor_byte(cursor, &bytes[0]))
        return false;
    if (!(bytes[0] & 0x80)) {
        *length = bytes[0];
        return true;
    }
    for (int i = 1; i < 4; i++)
        if (!cursor_byte(cursor, &bytes[i]))
            return false;
    *length = (size_t)(bytes[0] & 0x7f) << 24 | (size_t)bytes[1] << 16 |
              (size_t)bytes[2] << 8 | bytes[3];
    return true;
}

bool tg_records_params_sound(const uint8_t *data, size_t len)
{
    /* The first record is BEGIN_REQUEST; every other one is PARAMS. */
    struct header begin = header_read(data);
    struct params_cursor cursor = {.data = data, .len = len, .position = record_size(&begin)};
    for (size_t at = cursor.position; at + TG_RECORD_HEADER_SIZE <= len;) {
        struct header header = header_read(data + at);
        cursor.stream_left += header.content_length;
        at += record_size(&header);
    }
    size_t pairs = 0;
    while (cursor.stream_left > 0) {
        size_t name_len, value_len;
        if (++pairs > TG_PARAMS_MAX || !length_read(&cursor, &name_len) ||
            !length_read(&cursor, &value_len))
            return false;
        /* Lengths are at most 31 bits, so the sum cannot wrap here, and it
         * must fit in what the stream still holds: libfcgi trusts it. */
        if (name_len == 0 || name_len + value_len > cursor.stream_left ||
            !cursor_pass(&cursor, name_len, true) || !cursor_pass(&cursor, value_len, false))
            return false;
    }
    return true;
}

enum tg_records_verdict tg_records_next(struct tg_records *records, const uint8_t *data,
                                        size_t len, size_t *length)
{
    if (records->skip > 0) {
        if (len == 0)
            return TG_RECORDS_MORE;
        *length = len < records->skip ? len : records->skip;
        records->skip -= *length;
        return TG_RECORDS_DROP;
    }
    if (records->request_id == 0) {
        if (len < TG_RECORD_HEADER_SIZE)
            return TG_RECORDS_MORE;
        struct header header = header_read(data);
        if (header.version != FCGI_VERSION_1)
            return TG_RECORDS_MALFORMED;
        /* The rest of a request already handed over: its body or an abort
         * that came too late. Dropped a record at a time. */
        if (records->finished_id != 0 && header.request_id == records->finished_id &&
            (header.type == FCGI_STDIN || header.type == FCGI_DATA ||
             header.type == FCGI_ABORT_REQUEST)) {
            records->skip = header.content_length + header.padding_length;
            *length = TG_RECORD_HEADER_SIZE;
            return TG_RECORDS_DROP;
        }
        if (header.type != FCGI_BEGIN_REQUEST || header.request_id == 0 ||
            header.content_length != sizeof(FCGI_BeginRequestBody))
            return TG_RECORDS_MALFORMED;
        records->request_id = header.request_id;
        records->checked = 0;
    }

    for (;;) {
        size_t at = records->checked;
        if (at + TG_RECORD_HEADER_SIZE > len)
            return at + TG_RECORD_HEADER_SIZE > records->max_request_bytes ? TG_RECORDS_TOO_LARGE
                                                                           : TG_RECORDS_MORE;
        struct header header = header_read(data + at);
        if (header.version != FCGI_VERSION_1 || header.request_id != records->request_id)
            return TG_RECORDS_MALFORMED;
        size_t size = record_size(&header);
        if (at + size > records->max_request_bytes)
            return TG_RECORDS_TOO_LARGE;
        if (at + size > len)
            return TG_RECORDS_MORE;
        const uint8_t *content = data + at + TG_RECORD_HEADER_SIZE;
        if (at == 0) {
            int role = content[0] << 8 | content[1];
            if ((role != FCGI_RESPONDER && role != FCGI_AUTHORIZER && role != FCGI_FILTER) ||
                (content[2] & ~FCGI_KEEP_CONN))
                return TG_RECORDS_MALFORMED;
            records->role = (uint8_t)role;
            records->keep_connection = content[2] & FCGI_KEEP_CONN;
        } else if (header.type != FCGI_PARAMS) {
            /* A body or an abort before the parameters ended, or a record
             * no web server sends. */
            return TG_RECORDS_MALFORMED;
        } else if (header.content_length == 0) {
            *length = at + size;
            if (!tg_records_params_sound(data, *length))
                return TG_RECORDS_MALFORMED;
            records->finished_id = records->request_id;
            records->request_id = 0;
            records->checked = 0;
            return TG_RECORDS_REQUEST;
        }
        records->checked = at + size;
    }
}
