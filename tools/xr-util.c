/*
 * xr-util.c - small helpers the runner's parts share: monotonic time
 * arithmetic and allocation that cannot fail quietly.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xlchild-run.h"

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

void now_mono(struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
}

void ts_add_ms(struct timespec *ts, long ms)
{
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Milliseconds from now until ts, rounded up, at least 0. */
int ms_until(const struct timespec *ts, const struct timespec *now)
{
    double ms = ts_diff(ts, now) * 1000;

    if (ms <= 0)
        return 0;
    return ms > 1e9 ? 1000000000 : (int)ms + 1;
}

int min_timeout(int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

void __attribute__((noreturn)) out_of_memory(void)
{
    fputs(PROG ": out of memory\n", stderr);
    exit(2);
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);

    if (!p)
        out_of_memory();
    return p;
}

