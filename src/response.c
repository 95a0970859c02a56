/* SPDX-License-Identifier: Apache-2.0 */
/* response.c - the bytes a decision becomes. */
#include "tokengate/response.h"

#include <stdbool.h>
#include <string.h>

#include "tokengate/text.h"

size_t tg_response_format(const struct tg_decision *decision, const char *realm, char *out,
                          size_t size)
{
    struct tg_buffer writer;
    tg_buffer_init(&writer, out, size);
    tg_buffer_printf(&writer, "Status: %d\n", decision->status);

    if (decision->status == 200) {
        for (size_t i = 0; i < decision->variable_count; i++) {
            tg_buffer_puts(&writer, "Variable-");
            tg_buffer_puts(&writer, decision->variables[i].name);
            tg_buffer_append(&writer, ": ", 2);
            tg_buffer_puts(&writer, decision->variables[i].value);
            tg_buffer_append(&writer, "\n", 1);
        }
        tg_buffer_append(&writer, "\n", 1);
    } else {
        tg_buffer_puts(&writer, "Content-Type: application/json\n");
        if (decision->status == 401 || decision->status == 403) {
            /* Descriptions are our own fixed phrases: no quotes to escape. */
            tg_buffer_puts(&writer, "WWW-Authenticate: Bearer realm=\"");
            tg_buffer_puts(&writer, realm);
            tg_buffer_append(&writer, "\"", 1);
            if (decision->status == 403) {
                tg_buffer_puts(&writer, ", error=\"insufficient_scope\"");
            } else if (decision->credential_present) {
                tg_buffer_puts(&writer, ", error=\"invalid_token\", error_description=\"");
                tg_buffer_puts(&writer, decision->description);
                tg_buffer_append(&writer, "\"", 1);
            }
            tg_buffer_append(&writer, "\n", 1);
        }
        if ((decision->status == 503 || decision->status == 429) && decision->retry_after > 0) {
            tg_buffer_printf(&writer, "Retry-After: %d\n", decision->retry_after);
        }
        tg_buffer_append(&writer, "\n", 1);
        tg_buffer_puts(&writer, "{\"error\": ");
        tg_buffer_json_string(&writer, decision->error ? decision->error : "access_denied");
        tg_buffer_puts(&writer, ", \"error_description\": ");
        tg_buffer_json_string(&writer, decision->description ? decision->description : "");
        tg_buffer_puts(&writer, "}\n");
    }
    /* A cut response is no response: the caller refuses instead. */
    return writer.overflow ? 0 : writer.used;
}
