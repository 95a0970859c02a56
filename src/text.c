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

bool tg_text_is_single_line(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
        /* U+0080..U+009F are encoded as C2 80..C2 9F in UTF-8. */
        if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            return false;
    }
    return true;
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
