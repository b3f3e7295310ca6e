/*
 * xr-util.c - small helpers the runner's parts share: monotonic time
 * arithmetic and allocation that cannot fail quietly.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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

/* The 1-minute load average, or -1. */
static double loadavg(void)
{
    double l;
    FILE *f = fopen("/proc/loadavg", "re");

    if (!f)
        return -1;
    if (fscanf(f, "%lf", &l) != 1)
        l = -1;
    fclose(f);
    return l;
}

/* MemAvailable in bytes, or 0 when unknown. */
static unsigned long long mem_available(void)
{
    unsigned long long kb = 0;
    char line[128];
    FILE *f = fopen("/proc/meminfo", "re");

    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return kb * 1024;
}

bool resources_ok(const struct options *o, const struct timespec *now)
{
    static struct timespec last;
    static bool ok = true;

    if (last.tv_sec && ts_diff(now, &last) < 0.25)
        return ok;
    last = *now;
    ok = true;
    if (o->load_max > 0) {
        double l = loadavg();

        if (l >= 0 && l >= o->load_max)
            ok = false;
    }
    if (ok && o->memfree) {
        unsigned long long m = mem_available();

        if (m && m < o->memfree)
            ok = false;
    }
    return ok;
}
