/*
 * soak.c - a random mix of everything the library does, for a while, in
 * one long-lived process: proves that nothing is lost or reported twice
 * over many thousands of operations, and that nothing grows (fds, RSS).
 *
 *   make check                    a few seconds (the short form)
 *   make check-stress             30 s
 *   make check-soak DURATION=600 [SEED=n]
 *
 * Worker threads each draw their next operation from their own rand_r
 * stream seeded from SEED (printed, so a failing mix can be replayed; the
 * interleaving of threads is the scheduler's, the sequence each thread
 * runs is not).  The operations: synchronous runs, runs completed by
 * event and by callback, fork children with death callbacks, timeouts,
 * aborts, contexts created and freed (some with children still running:
 * early teardown), children the application forks and reaps itself beside
 * the library (selective mode), statuses stolen behind the library's back
 * (waitid on the child's own pidfd, so nothing else can be hit), and fork
 * children that use the library themselves.
 *
 * What stays out: faults and process-wide hostility (SIG_IGN, foreign
 * handlers, rlimits) change the whole process, so they live in their own
 * isolated cases (stress_faults, stress_limits, stress_hostile), not in a
 * mix whose every other operation they would break on purpose.
 *
 * Checked: every operation's own result (rc, status); started == reported
 * over the whole run (a loss makes it smaller, a double report larger);
 * lost statuses == the library's "behind the library's back" log lines;
 * no zombie left; the fd count back where it was after warm-up; RSS growth
 * reported, and bounded (a leak of a few hundred bytes per operation
 * would exceed the bound).
 */
#define _GNU_SOURCE
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define NTHREADS 6

enum op {
    OP_RUN_SYNC,
    OP_RUN_EVENT,
    OP_RUN_CALLBACK,
    OP_FORK,
    OP_TIMEOUT,
    OP_ABORT,
    OP_CTX_CHURN,
    OP_APP_REAPS,
    OP_STOLEN,
    OP_FORK_USES_LIBRARY,
    NOPS
};

static const char *const op_names[NOPS] = {
    "run_sync", "run_event", "run_callback", "fork", "timeout",
    "abort",    "ctx_churn", "app_reaps",    "stolen", "fork_uses_lib",
};

/* Weights: the cheap common operations most, the slow ones (timeouts and
 * aborts kill a sleep; churn frees ctxs) less. */
static const int op_weight[NOPS] = {8, 8, 8, 8, 1, 1, 2, 4, 1, 2};

static struct {
    libxl_ctx *def; /* default mode (M3) */
    libxl_ctx *sel; /* selective (M6): the application may waitpid its own */
    int64_t deadline_ms;
    unsigned seed;
    long started, reported, lost_seen, ops[NOPS];
    long log_lost; /* "behind the library's back" lines logged */
    long log_errors;
    uint64_t next_id;
} S;

/* ------------------------------------------------------------ logging */

/* Counts what the library logs; prints nothing but unexpected errors (a
 * soak prints a line per lost status otherwise). */
static void soak_vmessage(libxl_logger *lg, libxl_log_level level,
                          int errnoval, const char *context,
                          const char *fmt, va_list al)
{
    char buf[512];

    (void)lg;
    (void)errnoval;
    (void)context;
    if (level < LIBXL_LOG_WARN)
        return;
    vsnprintf(buf, sizeof buf, fmt, al);
    if (strstr(buf, "behind the library's back")) {
        __atomic_add_fetch(&S.log_lost, 1, __ATOMIC_RELAXED);
        return;
    }
    if (level >= LIBXL_LOG_ERROR) {
        __atomic_add_fetch(&S.log_errors, 1, __ATOMIC_RELAXED);
        fprintf(stderr, "soak: library error: %s\n", buf);
    }
}

static libxl_logger soak_logger = {soak_vmessage, NULL};

/* ------------------------------------------------------------ helpers */

static void started(void)
{
    __atomic_add_fetch(&S.started, 1, __ATOMIC_RELAXED);
}

static void reported(void)
{
    __atomic_add_fetch(&S.reported, 1, __ATOMIC_RELAXED);
}

static uint64_t new_id(void)
{
    return __atomic_add_fetch(&S.next_id, 1, __ATOMIC_RELAXED);
}

static libxl_childproc_args exit_args(char **argv, char *script, size_t sz,
                                      int code)
{
    snprintf(script, sz, "exit %d", code);
    argv[0] = "/bin/sh";
    argv[1] = "-c";
    argv[2] = script;
    argv[3] = NULL;
    return xlt_args(argv);
}

typedef struct {
    int reports; /* written by the callback, read by the pumping thread */
    int rc;
    int status;
    pid_t pid;
} soak_rec;

static void run_cb(libxl_ctx *ctx, int rc, void *user)
{
    soak_rec *r = user;

    (void)ctx;
    XLT_ASSERT(xlt_in_libxl > 0); /* never the reaper */
    r->rc = rc;
    reported();
    __atomic_add_fetch(&r->reports, 1, __ATOMIC_RELEASE);
}

static void death_cb(libxl_ctx *ctx, pid_t pid, int status, void *user)
{
    soak_rec *r = user;

    (void)ctx;
    XLT_ASSERT(xlt_in_libxl > 0);
    r->pid = pid;
    r->status = status;
    reported();
    __atomic_add_fetch(&r->reports, 1, __ATOMIC_RELEASE);
}

static libxl_ctx *pick_ctx(unsigned *rs)
{
    return rand_r(rs) & 1 ? S.def : S.sel;
}

/* ----------------------------------------------------------- the ops */

static void op_run_sync(unsigned *rs)
{
    char *argv[4], script[32];
    int code = rand_r(rs) % 200;
    libxl_childproc_args a = exit_args(argv, script, sizeof script, code);
    libxl_childproc_result r;

    started();
    XLT_ASSERT_RC(xlt_childproc_run(pick_ctx(rs), &a, &r, NULL), 0);
    reported();
    XLT_ASSERT_EXITED(r.status, code);
}

static void op_run_event(unsigned *rs)
{
    int code = rand_r(rs) % 200;
    libxl_childproc_result r;
    libxl_ctx *ctx = pick_ctx(rs);
    uint64_t id = new_id();

    started();
    xlt_start_exit(ctx, code, id, &r);
    XLT_ASSERT_RC(xlt_wait_for(ctx, id), 0);
    reported();
    XLT_ASSERT_EXITED(r.status, code);
}

static void op_run_callback(unsigned *rs)
{
    char *argv[4], script[32];
    int code = rand_r(rs) % 200;
    libxl_childproc_args a = exit_args(argv, script, sizeof script, code);
    libxl_childproc_result r;
    libxl_ctx *ctx = pick_ctx(rs);
    libxl_asyncop_how how;
    soak_rec rec = {0, 0, 0, 0};

    memset(&how, 0, sizeof how);
    how.callback = run_cb;
    how.u.for_callback = &rec;
    started();
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, &how), 0);
    xlt_pump_until(ctx, &rec.reports, 1, 60000);
    XLT_ASSERT_RC(rec.rc, 0);
    XLT_ASSERT_EXITED(r.status, code);
}

static void op_fork(unsigned *rs)
{
    int code = rand_r(rs) % 200;
    libxl_ctx *ctx = pick_ctx(rs);
    soak_rec rec = {0, 0, 0, 0};
    pid_t pid;

    started();
    pid = libxl_childproc_fork(ctx, death_cb, &rec);
    XLT_ASSERT_MSG(pid >= 0, "libxl_childproc_fork: %d", (int)pid);
    if (pid == 0)
        xlt_child_exit(code);
    xlt_pump_until(ctx, &rec.reports, 1, 60000);
    XLT_ASSERT_EQ(rec.pid, pid);
    XLT_ASSERT_EXITED(rec.status, code);
}

static void op_timeout(unsigned *rs)
{
    char *argv[] = {"/bin/sleep", "10", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;

    a.timeout_ms = 5 + rand_r(rs) % 30;
    a.kill_grace_ms = 500;
    started();
    XLT_ASSERT_RC(xlt_childproc_run(pick_ctx(rs), &a, &r, NULL),
                  ERROR_TIMEDOUT);
    reported();
    XLT_ASSERT_KILLED(r.status, SIGTERM);
}

static void op_abort(unsigned *rs)
{
    char *argv[] = {"/bin/sleep", "10", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    libxl_ctx *ctx = pick_ctx(rs);
    libxl_asyncop_how how;
    soak_rec rec = {0, 0, 0, 0};

    memset(&how, 0, sizeof how);
    how.callback = run_cb;
    how.u.for_callback = &rec;
    started();
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, &how), 0);
    if (rand_r(rs) & 1)
        xlt_sleep_ms(1); /* sometimes after exec, sometimes before */
    XLT_ASSERT_RC(libxl_ao_abort(ctx, &how), 0);
    xlt_pump_until(ctx, &rec.reports, 1, 60000);
    XLT_ASSERT_RC(rec.rc, ERROR_ABORTED);
}

/* A private ctx: a few children, then freed, sometimes before they end.
 * Their statuses are then discarded, by contract (API.md §2), so only
 * those waited for are counted; the others must still be reaped (checked
 * by the zombie scan at the end). */
static void op_ctx_churn(unsigned *rs)
{
    libxl_ctx *ctx = xlt_ctx_new(&soak_logger);
    int i, n = 1 + rand_r(rs) % 3, wait_them = rand_r(rs) % 3 != 0;
    libxl_childproc_result r[3];
    uint64_t ids[3];

    if (rand_r(rs) & 1) {
        libxl_childproc_hooks h;
        memset(&h, 0, sizeof h);
        h.chldowner = libxl_sigchld_owner_libxl_always_selective_reap;
        libxl_childproc_setmode(ctx, &h, NULL);
    }
    for (i = 0; i < n; i++) {
        ids[i] = new_id();
        xlt_start_exit(ctx, i + 1, ids[i], &r[i]);
        if (wait_them)
            started();
    }
    if (wait_them) {
        for (i = 0; i < n; i++) {
            /* any order of completion: wait by id */
            XLT_ASSERT_RC(xlt_wait_for(ctx, ids[i]), 0);
            reported();
            XLT_ASSERT_EXITED(r[i].status, i + 1);
        }
    }
    XLT_ASSERT_RC(libxl_ctx_free(ctx), 0);
}

/* The application's own child, reaped by the application (selective mode
 * is in force in this process, so the library never takes it). */
static void op_app_reaps(unsigned *rs)
{
    int code = rand_r(rs) % 200, st = 0;
    pid_t pid = fork();

    XLT_ASSERT(pid >= 0);
    if (pid == 0)
        xlt_child_exit(code);
    started();
    XLT_ASSERT_EQ(waitpid(pid, &st, 0), pid);
    reported();
    XLT_ASSERT_EXITED(st, code);
}

/* A library child whose status the application takes behind the
 * library's back, through the child's own pidfd (opened while the child is
 * blocked, so it can only name that child).  Either the application wins
 * (the library reports it lost: status -1) or the library does (the real
 * status; the application's waitid then fails): never both, never neither. */
static void op_stolen(unsigned *rs)
{
    libxl_ctx *ctx = rand_r(rs) & 1 ? S.sel : S.def;
    soak_rec rec = {0, 0, 0, 0};
    int gate[2], pidfd, app_won;
    siginfo_t si;
    pid_t pid;

    xlt_pipe(gate);
    started();
    pid = libxl_childproc_fork(ctx, death_cb, &rec);
    XLT_ASSERT(pid >= 0);
    if (pid == 0) {
        char c;
        close(gate[1]);
        while (read(gate[0], &c, 1) < 0 && errno == EINTR)
            ;
        xlt_child_exit(3);
    }
    close(gate[0]);
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) {
        /* no pidfds here: just a normal child */
        XLT_ASSERT_EQ(write(gate[1], "x", 1), 1);
        close(gate[1]);
        xlt_pump_until(ctx, &rec.reports, 1, 60000);
        XLT_ASSERT_EXITED(rec.status, 3);
        return;
    }
    /* A byte, not EOF: a fork child of another thread may hold a copy of
     * this write end for as long as it lives. */
    XLT_ASSERT_EQ(write(gate[1], "x", 1), 1);
    close(gate[1]);
    memset(&si, 0, sizeof si);
    app_won = syscall(SYS_waitid, P_PIDFD, pidfd, &si, WEXITED, NULL) == 0;
    close(pidfd);
    xlt_pump_until(ctx, &rec.reports, 1, 60000);
    XLT_ASSERT_EQ(rec.pid, pid);
    if (app_won) {
        XLT_ASSERT_EQ(si.si_pid, pid);
        XLT_ASSERT_EQ(rec.status, -1);
        __atomic_add_fetch(&S.lost_seen, 1, __ATOMIC_RELAXED);
    } else {
        XLT_ASSERT_EXITED(rec.status, 3);
    }
}

/* A plain fork() child that uses the library itself (F1, F2) and exits 0
 * when it all worked. */
static void op_fork_uses_library(unsigned *rs)
{
    int st = 0;
    pid_t pid;

    (void)rs;
    pid = fork();
    XLT_ASSERT(pid >= 0);
    if (pid == 0) {
        libxl_ctx *c = NULL;
        libxl_childproc_result r;
        char *argv[] = {"/bin/sh", "-c", "exit 5", NULL};
        libxl_childproc_args a = xlt_args(argv);
        if (XLT_UNDER_SANITIZER)
            _exit(0);
        if (libxl_ctx_alloc(&c, LIBXL_VERSION, 0, &soak_logger) ||
            libxl_childproc_run(c, &a, &r, NULL) || !WIFEXITED(r.status) ||
            WEXITSTATUS(r.status) != 5 || libxl_ctx_free(c))
            xlt_child_exit(1);
        xlt_child_exit(0); /* not _exit: see harness.h (valgrind) */
    }
    started();
    XLT_ASSERT_EQ(waitpid(pid, &st, 0), pid);
    reported();
    XLT_ASSERT_EXITED(st, 0);
}

static void (*const op_fn[NOPS])(unsigned *) = {
    op_run_sync, op_run_event, op_run_callback, op_fork,
    op_timeout,  op_abort,     op_ctx_churn,    op_app_reaps,
    op_stolen,   op_fork_uses_library,
};

static enum op draw(unsigned *rs)
{
    int total = 0, i, x;

    for (i = 0; i < NOPS; i++)
        total += op_weight[i];
    x = rand_r(rs) % total;
    for (i = 0; i < NOPS; i++) {
        if (x < op_weight[i])
            return (enum op)i;
        x -= op_weight[i];
    }
    return OP_RUN_SYNC;
}

static void *worker(void *arg)
{
    unsigned rs = S.seed * 7919u + (unsigned)(uintptr_t)arg;

    while (xlt_now_ms() < S.deadline_ms) {
        enum op o = draw(&rs);
        op_fn[o](&rs);
        __atomic_add_fetch(&S.ops[o], 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

/* ------------------------------------------------------------ the run */

static int duration_s(void)
{
    const char *d = getenv("XLT_SOAK_DURATION");

    if (d && *d)
        return atoi(d) > 0 ? atoi(d) : 1;
    return (int)xls_scale(30, 3);
}

XLT_TEST(test_soak_random_mix, duration_s() + 300)
{
    const char *seed_env = getenv("XLT_SOAK_SEED");
    pthread_t th[NTHREADS];
    long fds0, fds1, rss0, rss1, total = 0;
    libxl_childproc_hooks h;
    int i, dur = duration_s(), zombies = 0;
    unsigned ws = 1;

    S.seed = seed_env && *seed_env ? (unsigned)strtoul(seed_env, NULL, 0)
                                   : (unsigned)time(NULL);
    printf("SOAK seed=%u duration=%ds threads=%d (replay: make check-soak"
           " DURATION=%d SEED=%u)\n",
           S.seed, dur, NTHREADS, dur, S.seed);
    fflush(stdout);

    S.def = xlt_ctx_new(&soak_logger);
    S.sel = xlt_ctx_new(&soak_logger);
    memset(&h, 0, sizeof h);
    h.chldowner = libxl_sigchld_owner_libxl_always_selective_reap;
    libxl_childproc_setmode(S.sel, &h, NULL);

    /* Warm-up, one thread: every operation once, so that what is
     * allocated once (the reaper, its epoll set, the pid table, stdio)
     * exists before the baseline is taken. */
    for (i = 0; i < NOPS; i++)
        op_fn[i](&ws);
    fds0 = xls_count_fds();
    rss0 = xls_rss_kib();

    S.deadline_ms = xlt_now_ms() + (int64_t)dur * 1000;
    for (i = 0; i < NTHREADS; i++)
        XLT_ASSERT(pthread_create(&th[i], NULL, worker,
                                  (void *)(uintptr_t)(i + 1)) == 0);
    for (i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);

    /* A double report would come late, if at all: give it a chance. */
    xlt_pump_for(S.def, 200);
    xlt_pump_for(S.sel, 200);
    fds1 = xls_count_fds();
    rss1 = xls_rss_kib();

    for (i = 0; i < NOPS; i++) {
        total += S.ops[i];
        printf("SOAK op %-14s %ld\n", op_names[i], S.ops[i]);
    }
    xls_report("soak",
               "seed=%u duration=%ds operations=%ld children_started=%ld"
               " statuses_delivered=%ld lost_by_design=%ld"
               " lost_log_lines=%ld fds_start=%ld fds_end=%ld"
               " rss_start_kib=%ld rss_end_kib=%ld peak_rss_kib=%ld",
               S.seed, dur, total, S.started, S.reported, S.lost_seen,
               S.log_lost, fds0, fds1, rss0, rss1, xls_peak_rss_kib());

    XLT_ASSERT_MSG(S.reported == S.started,
                   "%ld children started, %ld statuses delivered",
                   S.started, S.reported);
    XLT_ASSERT_EQ(S.log_lost, S.lost_seen);
    XLT_ASSERT_EQ(S.log_errors, 0);
    XLT_ASSERT_EQ(fds1, fds0);
    /* Thread arenas and the pid table may grow to a high-water mark and
     * stay; a leak per operation grows without bound. */
    /* (Not under valgrind, whose own memory is in the process's RSS.) */
    XLT_ASSERT_MSG(getenv("XLT_UNDER_VALGRIND") ||
                       rss1 - rss0 < 16384 + total / 8,
                   "RSS grew from %ld to %ld KiB over %ld operations", rss0,
                   rss1, total);

    XLT_ASSERT_RC(libxl_ctx_free(S.sel), 0);
    XLT_ASSERT_RC(libxl_ctx_free(S.def), 0);
    /* Children of churned ctxs freed early are reaped by the library all
     * the same: give the last ones a moment, then none may be left. */
    for (i = 0; i < 500 && xlt_count_children(&zombies) > 0; i++)
        xlt_sleep_ms(10);
    xls_assert_no_zombies("soak");
    XLT_ASSERT_EQ(xlt_count_children(&zombies), 0);
}

int main(void)
{
    static const xlt_case cases[] = {XLT_CASE(test_soak_random_mix)};
    return xlt_main("soak", cases, sizeof cases / sizeof cases[0]);
}
