/* SPDX-License-Identifier: Apache-2.0 */
/* The FastCGI record checker: what reaches libfcgi, and what never does. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fastcgi.h>

#include "tokengate/records.h"

#define MAX_BYTES 65536

struct bytes {
    uint8_t data[200000];
    size_t len;
};

static void record_add(struct bytes *out, int type, int id, const void *content, size_t len,
                       int padding)
{
    uint8_t header[8] = {1, (uint8_t)type, (uint8_t)(id >> 8), (uint8_t)id,
                         (uint8_t)(len >> 8), (uint8_t)len, (uint8_t)padding, 0};
    memcpy(out->data + out->len, header, 8);
    memcpy(out->data + out->len + 8, content, len);
    memset(out->data + out->len + 8 + len, 0, (size_t)padding);
    out->len += 8 + len + (size_t)padding;
}

static void begin_add(struct bytes *out, int id, int role, int flags)
{
    uint8_t body[8] = {(uint8_t)(role >> 8), (uint8_t)role, (uint8_t)flags, 0, 0, 0, 0, 0};
    record_add(out, FCGI_BEGIN_REQUEST, id, body, 8, 0);
}

static size_t length_put(uint8_t *out, size_t length)
{
    if (length < 128) {
        out[0] = (uint8_t)length;
        return 1;
    }
    out[0] = (uint8_t)(length >> 24 | 0x80);
    out[1] = (uint8_t)(length >> 16);
    out[2] = (uint8_t)(length >> 8);
    out[3] = (uint8_t)length;
    return 4;
}

/* One PARAMS stream of NAME=VALUE pairs (in one record) and its end. */
static void params_add(struct bytes *out, int id, const char *const *pairs)
{
    uint8_t content[65535];
    size_t len = 0;
    for (size_t i = 0; pairs[i]; i += 2) {
        size_t name_len = strlen(pairs[i]), value_len = strlen(pairs[i + 1]);
        len += length_put(content + len, name_len);
        len += length_put(content + len, value_len);
        memcpy(content + len, pairs[i], name_len);
        memcpy(content + len + name_len, pairs[i + 1], value_len);
        len += name_len + value_len;
    }
    record_add(out, FCGI_PARAMS, id, content, len, (int)((8 - len % 8) % 8));
    record_add(out, FCGI_PARAMS, id, "", 0, 0);
}

static const char *const ordinary[] = {"REQUEST_METHOD", "GET", "REQUEST_URI", "/app/x",
                                       "HTTP_AUTHORIZATION", "Bearer abc", NULL};

static enum tg_records_verdict run(const struct bytes *in, size_t *length)
{
    struct tg_records records;
    tg_records_init(&records, MAX_BYTES);
    return tg_records_next(&records, in->data, in->len, length);
}

static void test_a_request_is_found_whole(void **state)
{
    (void)state;
    static struct bytes in;
    in.len = 0;
    begin_add(&in, 1, FCGI_AUTHORIZER, FCGI_KEEP_CONN);
    params_add(&in, 1, ordinary);
    size_t request_len = in.len;
    record_add(&in, FCGI_STDIN, 1, "", 0, 0);

    /* Byte by byte: nothing until the last byte of the empty PARAMS. */
    struct tg_records records;
    tg_records_init(&records, MAX_BYTES);
    size_t length = 0;
    for (size_t have = 0; have < request_len; have++)
        assert_int_equal(tg_records_next(&records, in.data, have, &length), TG_RECORDS_MORE);
    assert_int_equal(tg_records_next(&records, in.data, in.len, &length), TG_RECORDS_REQUEST);
    assert_int_equal(length, request_len);
    assert_true(tg_records_keep_connection(&records));
    assert_int_equal(tg_records_role(&records), FCGI_AUTHORIZER);
    /* The empty STDIN behind it is dropped, header first. */
    assert_int_equal(tg_records_next(&records, in.data + request_len, in.len - request_len,
                                     &length),
                     TG_RECORDS_DROP);
    assert_int_equal(length, 8);
    assert_int_equal(tg_records_next(&records, NULL, 0, &length), TG_RECORDS_MORE);

    /* A kept-alive connection: the next request, with a body dropped in
     * pieces, then another request with the same id. */
    in.len = 0;
    record_add(&in, FCGI_STDIN, 1, "body-bytes", 10, 6);
    size_t body_end = in.len;
    begin_add(&in, 1, FCGI_RESPONDER, 0);
    params_add(&in, 1, ordinary);
    assert_int_equal(tg_records_next(&records, in.data, 12, &length), TG_RECORDS_DROP);
    assert_int_equal(length, 8);
    assert_int_equal(tg_records_next(&records, in.data + 8, 4, &length), TG_RECORDS_DROP);
    assert_int_equal(length, 4);
    assert_int_equal(tg_records_next(&records, in.data + 12, in.len - 12, &length),
                     TG_RECORDS_DROP);
    assert_int_equal(length, 12);
    assert_int_equal(tg_records_next(&records, in.data + body_end, in.len - body_end, &length),
                     TG_RECORDS_REQUEST);
    assert_int_equal(length, in.len - body_end);
    assert_false(tg_records_keep_connection(&records));
}

static void test_pairs_may_span_records(void **state)
{
    (void)state;
    static struct bytes in;
    in.len = 0;
    begin_add(&in, 7, FCGI_RESPONDER, 0);
    /* "REQUEST_URI" = "/x" split after the lengths and inside the name. */
    uint8_t lengths[2] = {11, 2};
    record_add(&in, FCGI_PARAMS, 7, lengths, 2, 6);
    record_add(&in, FCGI_PARAMS, 7, "REQUEST", 7, 1);
    record_add(&in, FCGI_PARAMS, 7, "_URI/x", 6, 2);
    record_add(&in, FCGI_PARAMS, 7, "", 0, 0);
    size_t length;
    assert_int_equal(run(&in, &length), TG_RECORDS_REQUEST);
    assert_int_equal(length, in.len);
}

/* Each of these is refused before libfcgi could read it. */
static void test_malformed_streams(void **state)
{
    (void)state;
    static struct bytes in;
    size_t length;

    /* CVE-2025-23016: name length 0x7ffffffe, value length 2. */
    in.len = 0;
    begin_add(&in, 1, FCGI_RESPONDER, 0);
    uint8_t crash[] = {0xff, 0xff, 0xff, 0xfe, 0x02, 'A', 'B', 'C'};
    record_add(&in, FCGI_PARAMS, 1, crash, sizeof crash, 0);
    record_add(&in, FCGI_PARAMS, 1, "", 0, 0);
    assert_int_equal(run(&in, &length), TG_RECORDS_MALFORMED);

    /* Lengths that overrun the stream by one byte. */
    in.len = 0;
    begin_add(&in, 1, FCGI_RESPONDER, 0);
    uint8_t overrun[] = {3, 3, 'A', 'B', 'C', 'x', 'y'};
    record_add(&in, FCGI_PARAMS, 1, overrun, sizeof overrun, 1);
    record_add(&in, FCGI_PARAMS, 1, "", 0, 0);
    assert_int_equal(run(&in, &length), TG_RECORDS_MALFORMED);

    /* A four-byte length cut by the end of the stream. */
    in.len = 0;
    begin_add(&in, 1, FCGI_RESPONDER, 0);
    uint8_t cut[] = {1, 0x80, 0};
    record_add(&in, FCGI_PARAMS, 1, cut, sizeof cut, 5);
    record_add(&in, FCGI_PARAMS, 1, "", 0, 0);
    assert_int_equal(run(&in, &length), TG_RECORDS_MALFORMED);

    const char *const empty_name[] = {"", "x", NULL};
    const char *const equals_in_name[] = {"REQUEST_URI=/open", "x", NULL};
    const char *const *bad_pairs[] = {empty_name, equals_in_name};
    for (size_t i = 0; i < 2; i++) {
        in.len = 0;
        begin_add(&in, 1, FCGI_RESPONDER, 0);
        params_add(&in, 1, bad_pairs[i]);
        assert_int_equal(run(&in, &length), TG_RECORDS_MALFORMED);
    }
    /* A NUL inside a value. */
    in.len = 0;
    begin_add(&in, 1, FCGI_RESPONDER, 0);
    uint8_t nul[] = {1, 3, 'A', 'x', 0, 'y'};
    record_add(&in, FCGI_PARAMS, 1, nul, sizeof nul, 2);
    record_add(&in, FCGI_PARAMS, 1, "", 0, 0);
    assert_int_equal(run(&in, &length), TG_RECORDS_MALFORMED);

    /* Headers no web server sends. */
    uint8_t version2[8] = {2, FCGI_BEGIN_REQUEST, 0, 1, 0, 8, 0, 0};
    in.len = 0;
    memcpy(in.data, version2, 8);
    in.len = 16;
    assert_int_equal(run(&in, &length), TG_RECORDS_MALFORMED);
    in.len = 0;
    record_add(&in, FCGI_GET_VALUES, 0, "", 0, 0);                 /* management */
    assert_int_equal(run(&in, &length), TG_RECORDS_MALFORMED);
    in.len = 0;
    record_add(&in, FCGI_PARAMS, 1, "", 0, 0);                     /* no BEGIN */
    assert_int_equal(run(&in, &length), TG_RECORDS_MALFORMED);
    in.len = 0;
    record_add(&in, FCGI_BEGIN_REQUEST, 1, "12345", 5, 3);         /* short body */
    assert_int_equal(run(&in, &length), TG_RECORDS_MALFORMED);
    in.len = 0;
    begin_add(&in, 1, 9, 0);                                       /* unknown role */
    params_add(&in, 1, ordinary);
    assert_int_equal(run(&in, &length), TG_RECORDS_MALFORMED);
    in.len = 0;
    begin_add(&in, 1, FCGI_RESPONDER, 0x82);                       /* unknown flag */
    assert_int_equal(run(&in, &length), TG_RECORDS_MALFORMED);
    in.len = 0;
    begin_add(&in, 1, FCGI_RESPONDER, 0);                          /* interleaved */
    begin_add(&in, 2, FCGI_RESPONDER, 0);
    assert_int_equal(run(&in, &length), TG_RECORDS_MALFORMED);
    in.len = 0;
    begin_add(&in, 1, FCGI_RESPONDER, 0);                          /* body too early */
    record_add(&in, FCGI_STDIN, 1, "", 0, 0);
    assert_int_equal(run(&in, &length), TG_RECORDS_MALFORMED);
    in.len = 0;
    begin_add(&in, 1, FCGI_RESPONDER, 0);                          /* aborted */
    record_add(&in, FCGI_ABORT_REQUEST, 1, "", 0, 0);
    assert_int_equal(run(&in, &length), TG_RECORDS_MALFORMED);
    in.len = 0;
    begin_add(&in, 1, FCGI_RESPONDER, 0);                          /* unknown type */
    record_add(&in, 42, 1, "", 0, 0);
    assert_int_equal(run(&in, &length), TG_RECORDS_MALFORMED);
}

static void test_limits(void **state)
{
    (void)state;
    static struct bytes in;
    size_t length;
    /* Over max_request_bytes: refused as soon as a header says so. */
    in.len = 0;
    begin_add(&in, 1, FCGI_RESPONDER, 0);
    static char big[60000];
    memset(big, 'v', sizeof big - 1);
    const char *const pairs[] = {"A", big, NULL};
    params_add(&in, 1, pairs);
    record_add(&in, FCGI_PARAMS, 1, big, 8000, 0);
    struct tg_records records;
    tg_records_init(&records, 32768);
    assert_int_equal(tg_records_next(&records, in.data, 24, &length), TG_RECORDS_TOO_LARGE);

    /* More pairs than TG_PARAMS_MAX. */
    in.len = 0;
    begin_add(&in, 1, FCGI_RESPONDER, 0);
    uint8_t many[2 * (TG_PARAMS_MAX + 1) * 3];
    size_t used = 0;
    for (int i = 0; i <= TG_PARAMS_MAX; i++) {
        many[used++] = 1;
        many[used++] = 0;
        many[used++] = 'N';
    }
    record_add(&in, FCGI_PARAMS, 1, many, used, (int)((8 - used % 8) % 8));
    record_add(&in, FCGI_PARAMS, 1, "", 0, 0);
    assert_int_equal(run(&in, &length), TG_RECORDS_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_request_is_found_whole),
        cmocka_unit_test(test_pairs_may_span_records),
        cmocka_unit_test(test_malformed_streams),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests_name("records", tests, NULL, NULL);
}
