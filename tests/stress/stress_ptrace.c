/*
 * stress_ptrace.c - a tracer in the storm (R2, M3-M6): children that the
 * application traces while the library reaps.
 *
 * A ptrace stop is not a death.  A thread of the process that traces a
 * child makes that child's stops visible to every wait of the process:
 * wait4(-1) returns them, and so does waitid(WEXITED) on the child alone
 * (CLD_TRAPPED).  The library must report each of its children once, with
 * the status it ended with, never a stop; the application's own traced
 * children must reach reaped_callback once with their exit status (M3,
 * M5), or be left to the application's waitpid, which must then see the
 * stop and the exit itself (M6).
 *
 * The storm (as in stress_storm.c, smaller): library children over 4 ctxs
 * (8 waiter threads), all blocked on one pipe; a quarter are fork children
 * that make themselves tracees (PTRACE_TRACEME, then raise(SIGSTOP)), a
 * quarter are runs (`sh -c 'read x; ...'`, posix_spawn) that the test
 * attaches to with PTRACE_SEIZE and stops with PTRACE_INTERRUPT, the rest
 * untraced; half of the application's own fork() children are traced too.
 * The thread that started a tracee is its tracer.  Once every tracee sits
 * in its stop, half of the untraced library children exit (their own
 * pipe), so that the library reaps (or, in M4, is called) with the stops
 * there to be seen; then the tracers let every stop go on with PTRACE_CONT
 * (signal suppressed) as soon as /proc shows the child in a tracing stop,
 * whether or not anybody collected the stop.  Then the pipe is closed and
 * the rest exit at once.  Exit codes vary per child (traced ones die by
 * SIGKILL only: a tracer that suppresses signals would swallow any other).
 *
 * The ledger (stress.h) then proves: every child reported exactly once, with
 * its exit status (a stop reported as a death is a wrong status; the real
 * exit after it shows as a second report, a report of an unknown child or
 * a zombie), no zombie left, nothing logged at WARN or above.  In M3
 * (with a keeper child), M5 beside M3, M6 (the application waits by pid),
 * M4 with sigchld_occurred and with waitpid(-1) + childproc_reaped; M3,
 * M6 and M4 also without pidfds (XLCHILD_NO_PIDFD).
 */
#define _GNU_SOURCE
#include "stress.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NCTX 4
#define WAITERS_PER_CTX 2
#define NWAITERS (NCTX * WAITERS_PER_CTX)
#define HANG_MS 60000

typedef enum {
    APP_CALLBACK,    /* M3/M5: the library reaps them, reaped_callback */
    APP_WAITPID,     /* M6: the application's waitpid(pid) */
    APP_ML_OCCURRED, /* M4: own ones by pid, then sigchld_occurred */
    APP_ML_REAPED,   /* M4: waitpid(-1), then childproc_reaped */
} app_style;

typedef struct {
    const char *what;
    libxl_sigchld_owner mode[NCTX];
    app_style app;
    bool keeper;
    bool no_pidfd;
} trace_conf;

/* Kinds of library children, by token. */
enum { K_FORK_TRACEME, K_RUN_SEIZED, K_FORK, K_RUN };

static struct {
    const trace_conf *conf;
    libxl_ctx *ctx[NCTX];
    xls_ledger *led;
    long n_lib, n_app, n_total;
    long tok_app0, tok_keeper, tok_stop0;
    libxl_childproc_result *res;
    pid_t *app_pid;
    long app_forked;  /* atomic */
    int *conts;       /* per token: PTRACE_CONTs given (atomic) */
    int *stopped;     /* per token: seen in a tracing stop (atomic) */
    int *traced_done; /* per token: tracer saw it end (tracer thread) */
    int barrier_r, barrier_w, keeper_w;
    int early_r, early_w; /* the barrier of the early untraced children */
    int cont_allowed;     /* atomic: tracers may let their tracees go on */
    long n_early;
    bool exec_exit;
    int trace_stop, ml_stop, app_forked_all; /* atomic */
    long reaped_cb_calls, app_stops_seen, app_taken_by_app, ml_claimed;
    long stops_skipped_by_app;
} S;

/* -------------------------------------------------------------- helpers */

static int kind_of(long t)
{
    return (int)((t / NCTX) % 4);
}

static bool lib_traced(long t)
{
    return kind_of(t) == K_FORK_TRACEME || kind_of(t) == K_RUN_SEIZED;
}

static bool app_traced(long i)
{
    return i % 2 == 0;
}

/* Untraced library children that exit while the tracees sit in their
 * stop: half of them. */
static bool is_early(long t)
{
    return t < S.n_lib && !lib_traced(t) && (t / (NCTX * 4)) % 2 == 0;
}

static bool is_traced(long t)
{
    if (t < S.n_lib)
        return lib_traced(t);
    if (t >= S.tok_app0 && t < S.tok_app0 + S.n_app)
        return app_traced(t - S.tok_app0);
    return false;
}

/* Traced children end by an exit code or SIGKILL (a tracer that
 * suppresses signals swallows any other); the others also by SIGTERM. */
static int want_of(long t)
{
    if (t % 13 == 7)
        return is_traced(t) || (t < S.n_lib && kind_of(t) == K_FORK) ||
                       t >= S.tok_app0
                   ? SIGKILL
                   : SIGTERM;
    return W_EXITCODE((int)((t * 7 + 3) % 250), 0);
}

static void child_exit(int code) __attribute__((noreturn));
static void child_exit(int code)
{
    if (S.exec_exit)
        xlt_child_exit(code); /* valgrind: see harness.h */
    _exit(code);
}

/* A fork child: becomes a tracee if asked, waits at the barrier, ends
 * with want.  Async-signal-safe only. */
static void barrier_child(int want, bool traceme, int barrier_r)
    __attribute__((noreturn));
static void barrier_child(int want, bool traceme, int barrier_r)
{
    char c;
    ssize_t r;

    close(S.barrier_w);
    close(S.early_w);
    if (S.keeper_w >= 0)
        close(S.keeper_w);
    if (traceme) {
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0)
            _exit(250);
        raise(SIGSTOP);
    }
    do
        r = read(barrier_r, &c, 1);
    while (r < 0 && errno == EINTR);
    if (WIFSIGNALED(want) && r == 0) {
        if (S.exec_exit)
            execl("/bin/sh", "sh", "-c", "kill -9 $$", (char *)NULL);
        kill(getpid(), WTERMSIG(want));
    }
    child_exit(r == 0 ? WEXITSTATUS(want) : 254);
}

static long app_lookup(pid_t pid)
{
    long i, n = __atomic_load_n(&S.app_forked, __ATOMIC_ACQUIRE);

    for (i = 0; i < n; i++)
        if (__atomic_load_n(&S.app_pid[i], __ATOMIC_RELAXED) == pid)
            return i;
    return -1;
}

static void report_app(pid_t pid, int status, const char *how)
{
    long i = app_lookup(pid);

    if (i < 0) {
        fprintf(stderr, "%s: pid %d (status %#x) is no child of the test\n",
                how, (int)pid, status);
        xls_ledger_reported(S.led, -1, status, 0);
        return;
    }
    xls_ledger_reported(S.led, S.tok_app0 + i, status, 0);
}

static pid_t pid_of(long t)
{
    return __atomic_load_n(&S.led->slot[t].pid, __ATOMIC_RELAXED);
}

/* --------------------------------------------------------------- tracer */

/* One pass over the tracees [first, end) (step) of this thread: each one
 * in a tracing stop is marked stopped and, once the main thread allows it,
 * goes on, its signal suppressed.  Returns how many are still alive. */
static long tracer_pass(long first, long end, long step)
{
    long t, alive = 0;

    for (t = first; t < end; t += step) {
        pid_t pid;
        char st;

        if (!is_traced(t) || S.traced_done[t])
            continue;
        /* Once let go, a tracee stops again only at an exec (valgrind's
         * xlt_child_exit): /proc is read for those alone. */
        if (__atomic_load_n(&S.conts[t], __ATOMIC_ACQUIRE) > 0 && !S.exec_exit)
            continue;
        pid = pid_of(t);
        if (pid <= 0)
            continue;
        st = xlt_proc_state(pid);
        if (st == 0 || st == 'Z') {
            S.traced_done[t] = 1;
            continue;
        }
        alive++;
        if (st != 't')
            continue;
        __atomic_store_n(&S.stopped[t], 1, __ATOMIC_RELEASE);
        if (__atomic_load_n(&S.cont_allowed, __ATOMIC_ACQUIRE) &&
            ptrace(PTRACE_CONT, pid, NULL, NULL) == 0)
            __atomic_add_fetch(&S.conts[t], 1, __ATOMIC_RELEASE);
    }
    return alive;
}

static void trace_until_stop(long first, long end, long step)
{
    while (!__atomic_load_n(&S.trace_stop, __ATOMIC_ACQUIRE)) {
        tracer_pass(first, end, step);
        xlt_sleep_ms(5);
    }
}

/* ---------------------------------------------------- library children */

static void check_result(long t)
{
    const libxl_childproc_result *r = &S.res[t];

    XLT_ASSERT_MSG(r->pid > 0 && r->exec_errno == 0 &&
                       (pid_of(t) == 0 || pid_of(t) == r->pid),
                   "token %ld: result pid %d (shell said %d) exec_errno %d", t,
                   (int)r->pid, (int)pid_of(t), r->exec_errno);
}

static void run_cb(libxl_ctx *ctx, int rc, void *user)
{
    long t = (long)(intptr_t)user;

    (void)ctx;
    XLT_ASSERT(xlt_in_libxl > 0);
    XLT_ASSERT_MSG(rc == 0, "token %ld completed with rc %d (%s)", t, rc,
                   libxl_strerror(rc));
    check_result(t);
    xls_ledger_reported(S.led, t, S.res[t].status, rc);
}

static void death_cb(libxl_ctx *ctx, pid_t pid, int status, void *user)
{
    long t = (long)(intptr_t)user;

    (void)ctx;
    XLT_ASSERT(xlt_in_libxl > 0);
    /* (A death reported before the forking thread stored the pid can only
     * be a stop: the child cannot exit before the barrier opens.) */
    XLT_ASSERT_MSG(t >= 0 && t < S.n_lib &&
                       (pid_of(t) == 0 || pid_of(t) == pid),
                   "death callback for token %ld with pid %d", t, (int)pid);
    if (WIFSTOPPED(status))
        fprintf(stderr,
                "death callback of token %ld (pid %d) with a stop"
                " status %#x: the child is alive\n",
                t, (int)pid, status);
    xls_ledger_reported(S.led, t, status, 0);
}

/* Starts a run of `sh -c 'read x; <end with want>'` on stdin_fd.  With
 * pid_out, the shell first says its pid on a pipe (an asynchronous run's
 * result holds the pid only once it completes). */
static void start_run(libxl_ctx *ctx, long t, int want, int stdin_fd,
                      bool callback, pid_t *pid_out)
{
    char script[80];
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_asyncop_how how;
    int p[2] = {-1, -1};

    snprintf(script, sizeof script, "%sread x; ", pid_out ? "echo $$; " : "");
    if (WIFSIGNALED(want))
        snprintf(script + strlen(script), sizeof script - strlen(script),
                 "kill -%d $$", WTERMSIG(want));
    else
        snprintf(script + strlen(script), sizeof script - strlen(script),
                 "exit %d", WEXITSTATUS(want));
    a.stdin_fd = stdin_fd;
    if (pid_out) {
        xlt_pipe(p);
        a.stdout_fd = p[1];
    }
    memset(&how, 0, sizeof how);
    if (callback) {
        how.callback = run_cb;
        how.u.for_callback = (void *)(intptr_t)t;
    } else {
        how.u.for_event = (uint64_t)t;
    }
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &S.res[t], &how), 0);
    if (pid_out) {
        char line[32];
        close(p[1]);
        xlt_read_line(p[0], line, sizeof line);
        close(p[0]);
        *pid_out = (pid_t)atoi(line);
        XLT_ASSERT_MSG(*pid_out > 0, "token %ld: pid line \"%s\"", t, line);
    }
}

static void start_lib(libxl_ctx *ctx, long t)
{
    int want = want_of(t), k = kind_of(t);
    pid_t pid = 0;

    xls_ledger_started(S.led, t, 0, want);
    if (k == K_FORK_TRACEME || k == K_FORK) {
        pid = xlt_childproc_fork(ctx, death_cb, (void *)(intptr_t)t);
        if (pid == 0)
            barrier_child(want, k == K_FORK_TRACEME,
                          is_early(t) ? S.early_r : S.barrier_r);
        XLT_ASSERT_MSG(pid > 0, "libxl_childproc_fork of token %ld: %d", t,
                       (int)pid);
        __atomic_store_n(&S.led->slot[t].pid, pid, __ATOMIC_RELAXED);
        return;
    }
    start_run(ctx, t, want, is_early(t) ? S.early_r : S.barrier_r, k == K_RUN,
              &pid);
    __atomic_store_n(&S.led->slot[t].pid, pid, __ATOMIC_RELAXED);
    if (k == K_RUN_SEIZED) {
        XLT_ASSERT_MSG(ptrace(PTRACE_SEIZE, pid, NULL, NULL) == 0,
                       "PTRACE_SEIZE %d: %s", (int)pid, strerror(errno));
        XLT_ASSERT_MSG(ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) == 0,
                       "PTRACE_INTERRUPT %d: %s", (int)pid, strerror(errno));
    }
}

/* Starts ctx c's children, then traces them until the end. */
static void *starter(void *arg)
{
    int c = (int)(intptr_t)arg;
    long t;

    for (t = c; t < S.n_lib; t += NCTX)
        start_lib(S.ctx[c], t);
    trace_until_stop(c, S.n_lib, NCTX);
    return NULL;
}

static void *waiter(void *arg)
{
    libxl_ctx *ctx = arg;

    for (;;) {
        libxl_event *ev = NULL;
        long t;
        int rc;

        XLT_ASSERT_RC(xlt_event_wait(ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL),
                      0);
        t = ev->for_user < (uint64_t)S.n_total ? (long)ev->for_user : -1;
        rc = ev->u.operation_complete.rc;
        libxl_event_free(ctx, ev);
        if (t < 0 || (t < S.n_lib && kind_of(t) != K_RUN_SEIZED) ||
            (t >= S.tok_app0 && t < S.tok_app0 + S.n_app)) {
            xls_ledger_reported(S.led, -1, 0, rc);
            continue;
        }
        XLT_ASSERT_MSG(rc == 0, "token %ld completed with rc %d (%s)", t, rc,
                       libxl_strerror(rc));
        check_result(t);
        xls_ledger_reported(S.led, t, S.res[t].status, rc);
        if (t >= S.tok_stop0)
            return NULL;
    }
}

/* -------------------------------------------------- application children */

/* Lets the application's traced child i go on (this thread traces it). */
static void app_cont(long i)
{
    pid_t pid = S.app_pid[i];

    XLT_ASSERT_MSG(ptrace(PTRACE_CONT, pid, NULL, NULL) == 0,
                   "PTRACE_CONT %d: %s", (int)pid, strerror(errno));
    __atomic_add_fetch(&S.conts[S.tok_app0 + i], 1, __ATOMIC_RELEASE);
}

/* M6: the application's own waitpid on its traced child sees the stop
 * and then the exit.  Returns the status; a stop is returned at once when
 * stop_ok, else let go on (this thread is the tracer) and waited past. */
static int app_wait_one(long i, bool stop_ok)
{
    pid_t pid = S.app_pid[i], r;
    int st = 0;

    for (;;) {
        do
            r = waitpid(pid, &st, 0);
        while (r < 0 && errno == EINTR);
        XLT_ASSERT_MSG(r == pid,
                       "waitpid(%d) of the application's own child"
                       " %ld: %s (reaped by the library?)",
                       (int)pid, i, r < 0 ? strerror(errno) : "wrong pid");
        if (!WIFSTOPPED(st) || stop_ok)
            return st;
        app_cont(i);
    }
}

static void *app_forker(void *arg)
{
    long i;

    (void)arg;
    for (i = 0; i < S.n_app; i++) {
        long t = S.tok_app0 + i;
        int want = want_of(t);
        pid_t pid;

        xls_ledger_started(S.led, t, 0, want);
        pid = fork();
        if (pid == 0)
            barrier_child(want, app_traced(i), S.barrier_r);
        XLT_ASSERT_MSG(pid > 0, "fork: %s", strerror(errno));
        __atomic_store_n(&S.led->slot[t].pid, pid, __ATOMIC_RELAXED);
        __atomic_store_n(&S.app_pid[i], pid, __ATOMIC_RELAXED);
        __atomic_store_n(&S.app_forked, i + 1, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&S.app_forked_all, 1, __ATOMIC_RELEASE);
    if (S.conf->app != APP_WAITPID) {
        trace_until_stop(S.tok_app0, S.tok_app0 + S.n_app, 1);
        return NULL;
    }
    /* M6: first each traced child's stop (its own waitpid must see it),
     * let go when the main thread allows; then every child's end. */
    for (i = 0; i < S.n_app; i++)
        if (app_traced(i)) {
            int st = app_wait_one(i, true);
            XLT_ASSERT_MSG(WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP,
                           "the application's waitpid of its traced child"
                           " %ld saw status %#x, not its stop",
                           i, st);
            __atomic_store_n(&S.stopped[S.tok_app0 + i], 1, __ATOMIC_RELEASE);
            __atomic_add_fetch(&S.app_stops_seen, 1, __ATOMIC_RELAXED);
        }
    while (!__atomic_load_n(&S.cont_allowed, __ATOMIC_ACQUIRE))
        xlt_sleep_ms(2);
    for (i = 0; i < S.n_app; i++)
        if (app_traced(i))
            app_cont(i);
    for (i = 0; i < S.n_app; i++) {
        int st = app_wait_one(i, false);
        xls_ledger_reported(S.led, S.tok_app0 + i, st, 0);
        __atomic_add_fetch(&S.app_taken_by_app, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static int app_reaped_cb(pid_t pid, int status, void *user)
{
    (void)user;
    XLT_ASSERT(xlt_in_libxl > 0);
    __atomic_add_fetch(&S.reaped_cb_calls, 1, __ATOMIC_RELAXED);
    if (WIFSTOPPED(status))
        fprintf(stderr,
                "reaped_callback(%d) with a stop status %#x: the"
                " child is alive\n",
                (int)pid, status);
    if (S.conf->app != APP_CALLBACK) {
        fprintf(stderr,
                "reaped_callback(%d, %#x) in a mode where the"
                " application reaps its own children\n",
                (int)pid, status);
        xls_ledger_reported(S.led, -1, status, 0);
        return ERROR_UNKNOWN_CHILD;
    }
    report_app(pid, status, "reaped_callback");
    return app_lookup(pid) < 0 ? ERROR_UNKNOWN_CHILD : 0;
}

/* M4, sigchld_occurred: the application reaps its own by pid; a stop of a
 * traced one is not its end (its tracer lets it go on). */
static long *ml_pending;
static long ml_npending, ml_scanned;

static void ml_reap_own(void)
{
    long n = __atomic_load_n(&S.app_forked, __ATOMIC_ACQUIRE), i, keep = 0;

    for (; ml_scanned < n; ml_scanned++)
        ml_pending[ml_npending++] = ml_scanned;
    for (i = 0; i < ml_npending; i++) {
        long k = ml_pending[i];
        pid_t pid = __atomic_load_n(&S.app_pid[k], __ATOMIC_RELAXED), r;
        int st = 0;

        do
            r = waitpid(pid, &st, WNOHANG);
        while (r < 0 && errno == EINTR);
        XLT_ASSERT_MSG(r >= 0,
                       "waitpid(%d) of the application's own child"
                       " %ld: %s (reaped by the library?)",
                       (int)pid, k, strerror(errno));
        if (r == 0 || WIFSTOPPED(st)) {
            S.stops_skipped_by_app += r != 0;
            ml_pending[keep++] = k;
            continue;
        }
        xls_ledger_reported(S.led, S.tok_app0 + k, st, 0);
        __atomic_add_fetch(&S.app_taken_by_app, 1, __ATOMIC_RELAXED);
    }
    ml_npending = keep;
}

static void ml_dispatch(pid_t pid, int st)
{
    int c;

    for (c = 0; c < NCTX; c++) {
        int rc;

        xlt_in_libxl++;
        rc = libxl_childproc_reaped(S.ctx[(pid + c) % NCTX], pid, st);
        xlt_in_libxl--;
        if (rc == 0) {
            S.ml_claimed++;
            return;
        }
        XLT_ASSERT_RC(rc, ERROR_UNKNOWN_CHILD);
    }
    report_app(pid, st, "waitpid(-1)");
    __atomic_add_fetch(&S.app_taken_by_app, 1, __ATOMIC_RELAXED);
}

static void *ml_thread(void *arg)
{
    sigset_t chld;
    struct timespec tmo = {0, 50 * 1000000L};

    (void)arg;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    while (!__atomic_load_n(&S.ml_stop, __ATOMIC_ACQUIRE)) {
        siginfo_t si;
        int c;

        if (sigtimedwait(&chld, &si, &tmo) < 0) {
            XLT_ASSERT_MSG(errno == EAGAIN || errno == EINTR,
                           "sigtimedwait: %s", strerror(errno));
            continue;
        }
        if (S.conf->app == APP_ML_OCCURRED) {
            ml_reap_own();
            for (c = 0; c < NCTX; c++) {
                xlt_in_libxl++;
                libxl_childproc_sigchld_occurred(S.ctx[c]);
                xlt_in_libxl--;
            }
            continue;
        }
        for (;;) {
            int st = 0;
            pid_t pid = waitpid(-1, &st, WNOHANG);
            if (pid < 0 && errno == EINTR)
                continue;
            XLT_ASSERT_MSG(pid >= 0 || errno == ECHILD, "waitpid(-1): %s",
                           strerror(errno));
            if (pid <= 0)
                break;
            if (WIFSTOPPED(st)) {
                /* A tracee's stop, the application's to ignore: never
                 * handed to the library as a death. */
                S.stops_skipped_by_app++;
                continue;
            }
            ml_dispatch(pid, st);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------ the storm */

static void await(long n, int64_t deadline)
{
    while (xls_ledger_count(S.led) < n && xlt_now_ms() < deadline)
        xlt_sleep_ms(20);
}

/* Tracees not yet seen in a stop (what = S.stopped) or not yet let go
 * (what = S.conts). */
static long tracees_without(int *what)
{
    long t, n = 0;

    for (t = 0; t < S.tok_app0 + S.n_app; t++)
        if (is_traced(t) && __atomic_load_n(&what[t], __ATOMIC_ACQUIRE) == 0)
            n++;
    return n;
}

static void trace_storm(const trace_conf *conf)
{
    pthread_t wt[NWAITERS], st[NCTX], aft, mlt;
    libxl_childproc_hooks h;
    xlt_logger *lg;
    sigset_t chld;
    int p[2], keeper_r = -1, c, i;
    int64_t t0 = xlt_now_ms(), deadline;
    bool ml = conf->app == APP_ML_OCCURRED || conf->app == APP_ML_REAPED;
    long n_expected, t, n_traced = 0, conts = 0, left;

    if (conf->no_pidfd)
        setenv("XLCHILD_NO_PIDFD", "1", 1);
    memset(&S, 0, sizeof S);
    S.conf = conf;
    S.n_lib = xls_scale(4000, 400) / (NCTX * 4) * (NCTX * 4);
    if (S.n_lib < NCTX * 4)
        S.n_lib = NCTX * 4;
    S.n_app = xls_scale(600, 60);
    if (S.n_app < 2)
        S.n_app = 2;
    S.tok_app0 = S.n_lib;
    S.tok_keeper = S.tok_app0 + S.n_app;
    S.tok_stop0 = S.tok_keeper + 1;
    S.n_total = S.tok_stop0 + NWAITERS;
    S.keeper_w = -1;
    S.exec_exit = getenv("XLT_UNDER_VALGRIND") != NULL;
    S.led = xls_ledger_new(S.n_total);
    S.res = calloc((size_t)S.n_total, sizeof *S.res);
    S.app_pid = calloc((size_t)S.n_app, sizeof *S.app_pid);
    S.conts = calloc((size_t)S.n_total, sizeof *S.conts);
    S.stopped = calloc((size_t)S.n_total, sizeof *S.stopped);
    S.traced_done = calloc((size_t)S.n_total, sizeof *S.traced_done);
    ml_pending = calloc((size_t)S.n_app, sizeof *ml_pending);
    ml_npending = ml_scanned = 0;
    XLT_ASSERT(S.res && S.app_pid && S.conts && S.stopped && S.traced_done &&
               ml_pending);
    for (t = 0; t < S.n_lib; t++)
        S.n_early += is_early(t);

    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    XLT_ASSERT(pthread_sigmask(SIG_BLOCK, &chld, NULL) == 0);
    lg = xlt_logger_new();
    for (c = 0; c < NCTX; c++) {
        S.ctx[c] = xlt_ctx_new(&lg->lg);
        memset(&h, 0, sizeof h);
        h.chldowner = conf->mode[c];
        h.reaped_callback = app_reaped_cb;
        libxl_childproc_setmode(S.ctx[c], &h, NULL);
    }
    XLT_ASSERT_MSG(xlt_logger_count(lg, LIBXL_LOG_ERROR, NULL) == 0,
                   "setmode refused: %s", lg->text);
    xlt_pipe(p);
    S.barrier_r = p[0];
    S.barrier_w = p[1];
    xlt_pipe(p);
    S.early_r = p[0];
    S.early_w = p[1];
    if (conf->keeper) {
        xlt_pipe(p);
        keeper_r = p[0];
        S.keeper_w = p[1];
    }
    for (i = 0; i < NWAITERS; i++)
        XLT_ASSERT(pthread_create(&wt[i], NULL, waiter,
                                  S.ctx[i / WAITERS_PER_CTX]) == 0);
    if (ml)
        XLT_ASSERT(pthread_create(&mlt, NULL, ml_thread, NULL) == 0);
    if (conf->keeper) {
        xls_ledger_started(S.led, S.tok_keeper, 0, W_EXITCODE(0, 0));
        start_run(S.ctx[0], S.tok_keeper, W_EXITCODE(0, 0), keeper_r, false,
                  NULL);
        close(keeper_r);
    }
    for (c = 0; c < NCTX; c++)
        XLT_ASSERT(pthread_create(&st[c], NULL, starter, (void *)(intptr_t)c) ==
                   0);
    XLT_ASSERT(pthread_create(&aft, NULL, app_forker, NULL) == 0);

    /* Every child started, every tracee in its stop. */
    deadline = xlt_now_ms() + HANG_MS;
    while ((left = tracees_without(S.stopped)) > 0 && xlt_now_ms() < deadline)
        xlt_sleep_ms(10);
    XLT_ASSERT_MSG(left == 0, "%s: %ld tracees never reached a tracing stop",
                   conf->what, left);
    for (t = 0; t < S.tok_app0 + S.n_app; t++)
        n_traced += is_traced(t);

    /* While they sit in it, the early children exit: the library reaps
     * (and, in M4, the application calls it) with the stops there to be
     * seen. */
    close(S.early_w);
    await(S.n_early, xlt_now_ms() + HANG_MS);
    xlt_sleep_ms(500);
    __atomic_store_n(&S.cont_allowed, 1, __ATOMIC_RELEASE);
    deadline = xlt_now_ms() + HANG_MS;
    while ((left = tracees_without(S.conts)) > 0 && xlt_now_ms() < deadline)
        xlt_sleep_ms(10);
    XLT_ASSERT_MSG(left == 0, "%s: %ld tracees could not be let go", conf->what,
                   left);

    /* The storm. */
    close(S.barrier_w);
    n_expected = S.n_lib + S.n_app;
    deadline = xlt_now_ms() + HANG_MS;
    await(n_expected, deadline);
    if (conf->keeper) {
        close(S.keeper_w);
        await(n_expected + 1, deadline);
    }
    /* A real exit after a stop reported as a death, or a second report,
     * comes now. */
    xlt_sleep_ms(500);
    __atomic_store_n(&S.trace_stop, 1, __ATOMIC_RELEASE);
    for (c = 0; c < NCTX; c++)
        pthread_join(st[c], NULL);
    pthread_join(aft, NULL);

    for (i = 0; i < NWAITERS; i++) {
        char *argv[] = {"/bin/true", NULL};
        t = S.tok_stop0 + i;
        xls_ledger_started(S.led, t, 0, W_EXITCODE(0, 0));
        xlt_start_event_run(S.ctx[i / WAITERS_PER_CTX], argv, (uint64_t)t,
                            &S.res[t]);
    }
    for (i = 0; i < NWAITERS; i++)
        pthread_join(wt[i], NULL);
    if (ml) {
        __atomic_store_n(&S.ml_stop, 1, __ATOMIC_RELEASE);
        pthread_join(mlt, NULL);
    }
    for (t = 0; t < S.n_total; t++)
        conts += S.conts[t];

    xls_ledger_check(S.led, conf->what);
    for (c = 0; c < NCTX; c++)
        XLT_ASSERT_RC(libxl_ctx_free(S.ctx[c]), 0);
    xlt_sleep_ms(100);
    XLT_ASSERT_MSG(xls_assert_no_zombies(conf->what) == 0,
                   "%s: children left after every status was in", conf->what);
    XLT_ASSERT_MSG(xlt_logger_warnings(lg) == 0, "%s: the library logged:\n%s",
                   conf->what, lg->text);
    if (conf->app == APP_CALLBACK)
        XLT_ASSERT_EQ(S.reaped_cb_calls, S.n_app);
    else
        XLT_ASSERT_EQ(S.app_taken_by_app, S.n_app);
    if (conf->app == APP_WAITPID)
        XLT_ASSERT_EQ(S.app_stops_seen, (S.n_app + 1) / 2);

    xls_report(conf->what,
               "lib_children=%ld (traceme=%ld seized=%ld untraced=%ld"
               " early=%ld)"
               " app_children=%ld (traced=%ld) tracees=%ld ptrace_conts=%ld"
               " app_waitpid_saw_stops=%ld stops_skipped_by_app=%ld"
               " reaped_callback=%ld taken_by_app=%ld claimed_by_reaped=%ld"
               " zombies=0 warnings=0 no_pidfd=%d total=%lldms",
               S.n_lib, S.n_lib / 4, S.n_lib / 4, S.n_lib / 2, S.n_early,
               S.n_app, (S.n_app + 1) / 2, n_traced, conts, S.app_stops_seen,
               S.stops_skipped_by_app, S.reaped_cb_calls, S.app_taken_by_app,
               S.ml_claimed, (int)conf->no_pidfd,
               (long long)(xlt_now_ms() - t0));
    close(S.barrier_r);
    close(S.early_r);
    xls_ledger_free(S.led);
    free(S.res);
    free(S.app_pid);
    free(S.conts);
    free(S.stopped);
    free(S.traced_done);
    free(ml_pending);
}

/* ----------------------------------------------------------------- cases */

#define TRACE_TIMEOUT (xls_full() ? 900 : 300)
#define ALL4(m)    \
    {              \
        m, m, m, m \
    }
#define M3 libxl_sigchld_owner_libxl
#define M4 libxl_sigchld_owner_mainloop
#define M5 libxl_sigchld_owner_libxl_always
#define M6 libxl_sigchld_owner_libxl_always_selective_reap

XLT_TEST(test_R2_ptrace_stop_is_no_death_owner_libxl, TRACE_TIMEOUT)
{
    static const trace_conf conf = {
        "ptrace storm M3 x4 + traced app children to reaped_callback",
        ALL4(M3),
        APP_CALLBACK,
        true,
        false,
    };
    trace_storm(&conf);
}

XLT_TEST(test_R2_ptrace_stop_is_no_death_owner_libxl_no_pidfd, TRACE_TIMEOUT)
{
    static const trace_conf conf = {
        "ptrace storm M3 x4 no pidfd + traced app children to"
        " reaped_callback",
        ALL4(M3),
        APP_CALLBACK,
        true,
        true,
    };
    trace_storm(&conf);
}

XLT_TEST(test_R2_ptrace_stop_is_no_death_libxl_always, TRACE_TIMEOUT)
{
    static const trace_conf conf = {
        "ptrace storm M5 x1 + M3 x3 + traced app children to"
        " reaped_callback",
        {M5, M3, M3, M3},
        APP_CALLBACK,
        false,
        false,
    };
    trace_storm(&conf);
}

XLT_TEST(test_R2_ptrace_stop_is_no_death_selective_app_waitpid, TRACE_TIMEOUT)
{
    static const trace_conf conf = {
        "ptrace storm M6 x4 + traced app children by waitpid(pid)",
        ALL4(M6),
        APP_WAITPID,
        false,
        false,
    };
    trace_storm(&conf);
}

XLT_TEST(test_R2_ptrace_stop_is_no_death_selective_no_pidfd, TRACE_TIMEOUT)
{
    static const trace_conf conf = {
        "ptrace storm M6 x4 no pidfd + traced app children by waitpid(pid)",
        ALL4(M6),
        APP_WAITPID,
        false,
        true,
    };
    trace_storm(&conf);
}

XLT_TEST(test_R2_ptrace_stop_is_no_death_mainloop_sigchld_occurred,
         TRACE_TIMEOUT)
{
    static const trace_conf conf = {
        "ptrace storm M4 x4, sigchld_occurred",
        ALL4(M4),
        APP_ML_OCCURRED,
        false,
        false,
    };
    trace_storm(&conf);
}

XLT_TEST(test_R2_ptrace_stop_is_no_death_mainloop_no_pidfd, TRACE_TIMEOUT)
{
    static const trace_conf conf = {
        "ptrace storm M4 x4 no pidfd, sigchld_occurred",
        ALL4(M4),
        APP_ML_OCCURRED,
        false,
        true,
    };
    trace_storm(&conf);
}

XLT_TEST(test_R2_ptrace_stop_is_no_death_mainloop_waitpid_all_reaped,
         TRACE_TIMEOUT)
{
    static const trace_conf conf = {
        "ptrace storm M4 x4, waitpid(-1) + childproc_reaped",
        ALL4(M4),
        APP_ML_REAPED,
        false,
        false,
    };
    trace_storm(&conf);
}

int main(void)
{
    static const xlt_case cases[] = {
        XLT_CASE(test_R2_ptrace_stop_is_no_death_owner_libxl),
        XLT_CASE(test_R2_ptrace_stop_is_no_death_owner_libxl_no_pidfd),
        XLT_CASE(test_R2_ptrace_stop_is_no_death_libxl_always),
        XLT_CASE(test_R2_ptrace_stop_is_no_death_selective_app_waitpid),
        XLT_CASE(test_R2_ptrace_stop_is_no_death_selective_no_pidfd),
        XLT_CASE(test_R2_ptrace_stop_is_no_death_mainloop_sigchld_occurred),
        XLT_CASE(test_R2_ptrace_stop_is_no_death_mainloop_no_pidfd),
        XLT_CASE(test_R2_ptrace_stop_is_no_death_mainloop_waitpid_all_reaped),
    };
    return xlt_main("stress_ptrace", cases, sizeof cases / sizeof cases[0]);
}
