/* Fuzzing path normalisation against its own promises: an accepted path is
 * absolute, has no empty, "." or ".." segment, no control character, no
 * escape of an unreserved character, and normalising it again changes
 * nothing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokengate/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > TG_PATH_MAX + 16)
        return 0;
    char input[TG_PATH_MAX + 17];
    memcpy(input, data, size);
    input[size] = '\0';
    char out[TG_PATH_MAX + 1], again[TG_PATH_MAX + 1];
    const char *why;
    if (tg_path_normalize(input, out, &why) != 0)
        return 0;
    if (out[0] != '/' || strstr(out, "//") || strstr(out, "/./") || strstr(out, "/../"))
        abort();
    size_t len = strlen(out);
    if ((len >= 2 && strcmp(out + len - 2, "/.") == 0) ||
        (len >= 3 && strcmp(out + len - 3, "/..") == 0) || strchr(out, '?'))
        abort();
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c < 0x20 || c == 0x7f)
            abort();
        if (c == '%') {
            /* Only reserved characters stay escaped, in upper case. */
            char hex[3] = {out[i + 1], out[i + 2], 0};
            long value = strtol(hex, NULL, 16);
            if ((value >= 'A' && value <= 'Z') || (value >= 'a' && value <= 'z') ||
                (value >= '0' && value <= '9') || value == '-' || value == '.' || value == '_' ||
                value == '~' || (hex[0] >= 'a' && hex[0] <= 'f') || (hex[1] >= 'a' && hex[1] <= 'f'))
                abort();
        }
    }
    if (tg_path_normalize(out, again, &why) != 0 || strcmp(out, again) != 0)
        abort();
    return 0;
}
