/*
 * proc_report.c - a helper for the fork-safety suite (rule R4): prints
 * what an exec'd child started with, as the kernel sees it:
 *
 *   SigBlk:\t<hex>        its /proc/self/status lines, verbatim
 *   SigIgn:\t<hex>
 *   fds: 0 1 2            its open fds, ascending (the directory's own fd
 *                         excluded)
 *
 * Exits 0, or 2 when /proc could not be read.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    char line[512];
    int fds[4096], n = 0, i, self;
    FILE *f = fopen("/proc/self/status", "re");
    DIR *d;
    struct dirent *e;

    if (!f)
        return 2;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "SigBlk:", 7) || !strncmp(line, "SigIgn:", 7))
            fputs(line, stdout);
    }
    fclose(f); /* before listing fds: it is not one of the child's own */

    d = opendir("/proc/self/fd");
    if (!d)
        return 2;
    self = dirfd(d);
    while ((e = readdir(d)) != NULL && n < (int)(sizeof fds / sizeof fds[0])) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        if (atoi(e->d_name) == self)
            continue;
        fds[n++] = atoi(e->d_name);
    }
    closedir(d);
    qsort(fds, (size_t)n, sizeof fds[0], cmp_int);
    fputs("fds:", stdout);
    for (i = 0; i < n; i++)
        printf(" %d", fds[i]);
    fputs("\n", stdout);
    return fflush(stdout) == 0 ? 0 : 2;
}
