/* text.c - small helpers shared by the parsers and loaders. */
#include "tokengate/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tg_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Bytes that need a closer look: C0 controls (NUL included, which ends the
 * scan), DEL, and 0xC2, the lead byte of the C1 controls. One table lookup
 * per byte: this runs on every value passed to the application. */
static const unsigned char line_special[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1,
    [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1,
    [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1,
    [0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1,
    [0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1, [0x7f] = 1, [0xc2] = 1,
};

bool tg_text_is_single_line(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text;; p++) {
        if (!line_special[*p])
            continue;
        if (*p == 0)
            return true;
        /* U+0080..U+009F are encoded as C2 80..C2 9F in UTF-8. */
        if (*p != 0xc2 || (p[1] >= 0x80 && p[1] <= 0x9f))
            return false;
    }
}

char *tg_file_read(const char *path, size_t max, size_t *len, char *err, size_t err_size)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        snprintf(err, err_size, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buffer = malloc(max + 1);
    size_t n = buffer ? fread(buffer, 1, max + 1, file) : 0;
    bool failed = !buffer || ferror(file);
    fclose(file);
    if (failed || n > max) {
        if (failed)
            snprintf(err, err_size, "cannot read %s", path);
        else
            snprintf(err, err_size, "%s is larger than %zu KiB", path, max / 1024);
        free(buffer);
        return NULL;
    }
    buffer[n] = '\0';
    *len = n;
    return buffer;
}
