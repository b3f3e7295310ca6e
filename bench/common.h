/*
 * common.h - the harness shared by every benchmark program (bench/m_*.c).
 *
 * Each program is one reaping mechanism.  The harness does everything that
 * must be identical across mechanisms: parsing the options, making the
 * children (or telling the mechanism how to), the latency stamps, the idle
 * children of W3, the ballast of W4, the W5 memory readings, the checks
 * (exactly N statuses, each child once, the right exit code, no leftover
 * child) and the one RESULT line on stdout.  A failed check prints FAIL on
 * stderr and exits 2; the watchdog exits 3.
 *
 * A mechanism's main loop is, in outline:
 *
 *     bench_init(argc, argv, "name", kinds it supports);
 *     ... set up the mechanism ...
 *     bench_start();
 *     while (!bench_all_done()) {
 *         while (bench_may_spawn()) { long i = bench_next(); spawn child i; }
 *         bench_w5_point();           (no-op except in W5 runs)
 *         ... wait; for each status: bench_got(i, pid, status) ...
 *     }
 *     ... tear down the mechanism ...
 *     return bench_finish();
 */
#ifndef XLBENCH_COMMON_H
#define XLBENCH_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum bench_kind {
    KIND_TRUE = 1,     /* (a) posix_spawn /bin/true, exits 0 */
    KIND_FORK = 2,     /* (b) fork(), stamp, _exit(i % 250) */
    KIND_STAMP = 4,    /* (c) posix_spawn of the stamp helper: same */
    KIND_FORKEXEC = 8, /* W4 contrast: fork() + execve /bin/true */
};

struct bench_opts {
    const char *mech;     /* printed as mech=; -T overrides */
    enum bench_kind kind; /* -k true|fork|stamp|forkexec */
    long n;               /* -n children */
    long c;               /* -c at most in flight */
    long k;               /* -K idle children (W3) */
    long ballast_mib;     /* -B touched MiB (W4) */
    bool huge;            /* -H MADV_HUGEPAGE on the ballast */
    long child_sleep_us;  /* -s children sleep this long before the stamp */
    bool w5;              /* -M: children block until all N are out */
    long nofile;          /* -f soft RLIMIT_NOFILE; 0 = raise to hard */
    const char *drive;    /* -d mechanism-specific */
    const char *mode;     /* -m mechanism-specific */
    int watchdog_s;       /* -w */
    bool idle_thread;     /* -I: one more thread, asleep for the whole run */
};

extern struct bench_opts bench_opt;

/* Parses the options; exits 1 when kind is not in kinds_ok (a bit set of
 * enum bench_kind).  Sets up stamps, ballast, idle children, RLIMIT_NOFILE
 * and the watchdog.  Creates no thread, except with -I: one that blocks
 * every signal and sleeps until the process ends, to measure what a second
 * thread alone costs (the floor of any library with a thread of its own). */
void bench_init(int argc, char **argv, const char *mech, unsigned kinds_ok);

/* Marks the start of timing (and takes the W5 baseline). */
void bench_start(void);

static inline bool bench_all_done(void);
/* True while another child may be started (fewer than n started, fewer
 * than c in flight). */
static inline bool bench_may_spawn(void);
/* Reserves the index of the next child (0 .. n-1). */
long bench_next(void);

/* Makes child i the harness's way (posix_spawn or fork) and records it.
 * Returns the pid; exits on failure. */
pid_t bench_spawn(long i);
/* The body of a forked child of kind FORK (also after
 * libxl_childproc_fork returned 0).  Async-signal-safe. */
void bench_child(long i) __attribute__((noreturn));
/* For mechanisms that exec themselves: the program and argv of child i.
 * buf (at least 64 bytes) holds the strings; argv has room for 6. */
const char *bench_exec_argv(long i, char **argv, char *buf);
/* Records that child i is pid (for bench_got_pid and the checks). */
void bench_record(long i, pid_t pid);

/* The consumer saw child i's wait status.  Checks it; exits on error. */
void bench_got(long i, pid_t pid, int status);
/* Same, for a consumer that knows only the pid (raw waitpid(-1)). */
void bench_got_pid(pid_t pid, int status);

/* W5: called once all N children are out; reads memory, then lets them
 * go.  No-op unless -M. */
void bench_w5_point(void);

/* Extra key=value text appended to the RESULT line. */
void bench_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Checks everything, kills and reaps the idle children, checks that no
 * child is left over, prints RESULT.  Returns the exit code for main. */
int bench_finish(void);

/* Prints FAIL and exits 2 (idle children are killed first). */
void bench_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* CLOCK_MONOTONIC in ns. */
int64_t bench_now_ns(void);

/* internal state, read by the inline helpers */
extern long bench_spawned, bench_done;

static inline bool bench_all_done(void)
{
    return bench_done >= bench_opt.n;
}

static inline bool bench_may_spawn(void)
{
    return bench_spawned < bench_opt.n &&
           bench_spawned - bench_done < bench_opt.c;
}

#endif /* XLBENCH_COMMON_H */
