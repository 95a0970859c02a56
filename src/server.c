/* server.c - the FastCGI server (placeholder until the server work lands). */
#include <stdio.h>

int tg_serve(const char *config_path);

int tg_serve(const char *config_path)
{
    (void)config_path;
    fputs("tokengate: serving FastCGI is not built yet; use -t, check or mint\n", stderr);
    return 2;
}
