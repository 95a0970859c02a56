/* SPDX-License-Identifier: Apache-2.0 */
/* response.c - the bytes a decision becomes. */
#include "tokengate/response.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct writer {
    char *out;
    size_t size, used;
    bool overflow;
};

static void append(struct writer *writer, const char *text, size_t len)
{
    if (writer->overflow || writer->used + len >= writer->size) {
        writer->overflow = true;
        return;
    }
    memcpy(writer->out + writer->used, text, len);
    writer->used += len;
}

static void append_string(struct writer *writer, const char *text)
{
    append(writer, text, strlen(text));
}

/* A JSON string body for static descriptions; escapes what JSON requires. */
static void append_json_string(struct writer *writer, const char *text)
{
    append(writer, "\"", 1);
    for (const char *p = text; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char escaped[2] = {'\\', *p};
            append(writer, escaped, 2);
        } else if ((unsigned char)*p >= 0x20) {
            append(writer, p, 1);
        }
    }
    append(writer, "\"", 1);
}

size_t tg_response_format(const struct tg_decision *decision, const char *realm, char *out,
                          size_t size)
{
    struct writer writer = {.out = out, .size = size};
    char line[256];
    snprintf(line, sizeof line, "Status: %d\n", decision->status);
    append_string(&writer, line);

    if (decision->status == 200) {
        for (size_t i = 0; i < decision->variable_count; i++) {
            append_string(&writer, "Variable-");
            append_string(&writer, decision->variables[i].name);
            append(&writer, ": ", 2);
            append_string(&writer, decision->variables[i].value);
            append(&writer, "\n", 1);
        }
        append(&writer, "\n", 1);
    } else {
        append_string(&writer, "Content-Type: application/json\n");
        if (decision->status == 401 || decision->status == 403) {
            /* Descriptions are our own fixed phrases: no quotes to escape. */
            append_string(&writer, "WWW-Authenticate: Bearer realm=\"");
            append_string(&writer, realm);
            append(&writer, "\"", 1);
            if (decision->status == 403) {
                append_string(&writer, ", error=\"insufficient_scope\"");
            } else if (decision->credential_present) {
                append_string(&writer, ", error=\"invalid_token\", error_description=\"");
                append_string(&writer, decision->description);
                append(&writer, "\"", 1);
            }
            append(&writer, "\n", 1);
        }
        if (decision->status == 503 && decision->retry_after > 0) {
            snprintf(line, sizeof line, "Retry-After: %d\n", decision->retry_after);
            append_string(&writer, line);
        }
        append(&writer, "\n", 1);
        append_string(&writer, "{\"error\": ");
        append_json_string(&writer, decision->error ? decision->error : "access_denied");
        append_string(&writer, ", \"error_description\": ");
        append_json_string(&writer, decision->description ? decision->description : "");
        append_string(&writer, "}\n");
    }
    if (writer.overflow)
        return 0;
    out[writer.used] = '\0';
    return writer.used;
}
