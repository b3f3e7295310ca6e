/*
 * stress_storm.c - storms (reliability suite): N children (10 000 in the
 * full form, xls_scale) that all exit at the same instant, spread over 8
 * ctxs and 16 waiter threads (2 per ctx), in every owner mode that reaps,
 * and with the application reaping children of its own beside the library.
 *
 * The barrier: every child (libxl_childproc_run of `sh -c 'read x; ...'`
 * with stdin_fd = the read end of one pipe, completed by callback or by
 * event; libxl_childproc_fork children and the application's own fork()
 * children blocked in read() on it) is started first; only when all of them
 * exist is the write end closed, and they all exit at once.  Exit codes
 * vary per child and some die by a signal, so a status handed to the wrong
 * child shows.
 *
 * Each case proves, by the ledger (stress.h): every child reported exactly
 * once (0 lost, 0 twice), each with its own wait status, no report of a
 * child that was not started; then no zombie left (/proc scan), nothing
 * logged at WARN or above, and every ctx freed.  The cases:
 *  - owner_libxl on all 8 ctxs, application children reaped by the library
 *    and handed to reaped_callback (M3; a "keeper" child keeps the library
 *    reaping until the application's last status is in);
 *  - owner_libxl_always on one ctx (M5 allows one), owner_libxl on 7,
 *    application children to reaped_callback;
 *  - owner_libxl_always_selective_reap on 8 ctxs, and on 4 beside 4
 *    owner_libxl ones (M6): the application reaps its own children with
 *    waitpid(pid) from a thread of its own, never finding one taken;
 *  - owner_mainloop on 8 ctxs (M4), the application taking SIGCHLD in a
 *    sigtimedwait thread (blocked everywhere else): either reaping its own
 *    children by pid and calling libxl_childproc_sigchld_occurred for every
 *    ctx, or reaping everything with waitpid(-1) and handing each status to
 *    libxl_childproc_reaped/_exited on each ctx until one claims it.
 */
#define _GNU_SOURCE
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NCTX 8
#define WAITERS_PER_CTX 2
#define NWAITERS (NCTX * WAITERS_PER_CTX)

/* How the application's own children are reaped. */
typedef enum {
    APP_CALLBACK, /* by the library (M3 while it reaps, M5): reaped_callback */
    APP_WAITPID,  /* M6: a thread of the application, waitpid(pid) */
    APP_ML_OCCURRED, /* M4: own ones by pid, then sigchld_occurred on each ctx
                      */
    APP_ML_REAPED,   /* M4: waitpid(-1), then childproc_reaped on each ctx */
} app_style;

typedef struct {
    const char *what;
    libxl_sigchld_owner mode[NCTX];
    app_style app;
    bool keeper; /* M3: keep the library reaping until the tail is in */
} storm_conf;

/* Kinds of library children, by token. */
enum { K_RUN_CB, K_RUN_EV, K_FORK };

/*
 * One storm per test process.  Tokens (ledger slots):
 *   [0, n_lib)                 library children, ctx = token % NCTX
 *   [tok_app0, +n_app)         the application's own fork() children
 *   tok_keeper                 the keeper (M3 case only)
 *   [tok_stop0, +NWAITERS)     /bin/true runs that end the waiter threads
 */
static struct {
    const storm_conf *conf;
    libxl_ctx *ctx[NCTX];
    xls_ledger *led;
    long n_lib, n_app, n_total;
    long tok_app0, tok_keeper, tok_stop0;
    libxl_childproc_result *res; /* per token, for runs */
    pid_t *app_pid;              /* atomic: read by reaping threads */
    long app_forked;             /* atomic: app_pid[0..app_forked) set */
    int barrier_r, barrier_w;
    int keeper_w;
    bool exec_exit; /* under valgrind: xlt_child_exit */
    int ml_stop;    /* atomic */
    long ml_rounds, ml_claimed, app_taken_by_app;
    long reaped_cb_calls; /* atomic */
} S;

/* --------------------------------------------------------------- helpers */

static int kind_of(long t)
{
    return (int)((t / NCTX) % 3);
}

/* The wait status library child t must report: an exit code that varies
 * with t, or (one in 13) death by a signal. */
static int lib_want(long t)
{
    if (t % 13 == 7)
        return kind_of(t) == K_FORK ? SIGKILL : SIGTERM;
    return W_EXITCODE((int)(t % 250), 0);
}

static int app_want(long i)
{
    if (i % 11 == 5)
        return SIGKILL;
    return W_EXITCODE((int)((i * 7 + 1) % 256), 0);
}

static void in_libxl_check(const char *what)
{
    XLT_ASSERT_MSG(xlt_in_libxl > 0,
                   "%s outside an application libxl call (reaper thread?)",
                   what);
}

static void child_exit(int code) __attribute__((noreturn));
static void child_exit(int code)
{
    /* _exit is cheaper than an exec of sh per child; valgrind needs the
     * exec (see xlt_child_exit). */
    if (S.exec_exit)
        xlt_child_exit(code);
    _exit(code);
}

/* A fork child (the library's or the application's): waits at the barrier,
 * then ends with wait status want.  No malloc, no stdio: the parent is
 * multi-threaded. */
static void barrier_child(int want) __attribute__((noreturn));
static void barrier_child(int want)
{
    char c;
    ssize_t r;

    /* Copies of the write ends would hold every barrier shut. */
    close(S.barrier_w);
    if (S.keeper_w >= 0)
        close(S.keeper_w);
    do
        r = read(S.barrier_r, &c, 1);
    while (r < 0 && errno == EINTR);
    if (WIFSIGNALED(want) && r == 0) {
        /* Under valgrind, a signal to itself ends the copy through its
         * exit path (a leak check of the parent's other threads' memory):
         * the shell kills itself instead, with the same status. */
        if (S.exec_exit)
            execl("/bin/sh", "sh", "-c", "kill -9 $$", (char *)NULL);
        kill(getpid(), WTERMSIG(want));
    }
    child_exit(r == 0 ? WEXITSTATUS(want) : 254);
}

/* Index of the application child pid, -1 if it is none of ours. */
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

static long read_long(const char *path)
{
    FILE *f = fopen(path, "re");
    long v = -1;

    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

/* Scheduling entities in the whole system (they all hold pids). */
static long system_tasks(void)
{
    FILE *f = fopen("/proc/loadavg", "re");
    double a, b, c;
    long run = 0, total = -1;

    if (f) {
        if (fscanf(f, "%lf %lf %lf %ld/%ld", &a, &b, &c, &run, &total) != 5)
            total = -1;
        fclose(f);
    }
    return total;
}

static long mem_available_kib(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    char line[256];
    long v = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %ld kB", &v) == 1)
            break;
    fclose(f);
    return v;
}

/*
 * Can this machine hold nproc more processes at once?  Raises the soft
 * RLIMIT_NOFILE to the hard one first (the library holds a pidfd per child
 * up to half of it, then checks the rest by pid: both paths run here).
 * Says why not on stdout and in the COUNTS line when it cannot: a storm
 * that cannot be made is reported as skipped, never as passed.
 */
static bool storm_fits(const char *what, long nproc)
{
    long pid_max = read_long("/proc/sys/kernel/pid_max");
    long threads_max = read_long("/proc/sys/kernel/threads-max");
    long tasks = system_tasks(), mem = mem_available_kib();
    long need = nproc + 1000; /* threads, shells, other work */
    struct rlimit rl;
    char why[256] = "";

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (pid_max > 0 && tasks > 0 && pid_max - tasks < need)
        snprintf(why, sizeof why, "pid_max %ld with %ld tasks running", pid_max,
                 tasks);
    else if (threads_max > 0 && tasks > 0 && threads_max - tasks < need)
        snprintf(why, sizeof why, "threads-max %ld with %ld tasks running",
                 threads_max, tasks);
    else if (getuid() != 0 && getrlimit(RLIMIT_NPROC, &rl) == 0 &&
             rl.rlim_cur != RLIM_INFINITY && tasks > 0 &&
             (long)rl.rlim_cur - tasks < need)
        snprintf(why, sizeof why, "RLIMIT_NPROC %ld", (long)rl.rlim_cur);
    else if (mem > 0 && mem < nproc * 400) /* ~400 KiB a child, generously */
        snprintf(why, sizeof why, "MemAvailable %ld KiB", mem);
    if (!why[0])
        return true;
    printf("SKIPPED %s: cannot hold %ld children at once (%s)\n", what, nproc,
           why);
    xls_report(what, "SKIPPED: cannot hold %ld children at once (%s)", nproc,
               why);
    return false;
}

/* ------------------------------------------------------ library children */

/* A run's result is sane; its pid goes to the ledger (for messages). */
static void check_result(long t)
{
    const libxl_childproc_result *r = &S.res[t];

    XLT_ASSERT_MSG(r->pid > 0 && r->exec_errno == 0,
                   "token %ld: result pid %d exec_errno %d", t, (int)r->pid,
                   r->exec_errno);
    __atomic_store_n(&S.led->slot[t].pid, r->pid, __ATOMIC_RELAXED);
}

static void run_cb(libxl_ctx *ctx, int rc, void *user)
{
    long t = (long)(intptr_t)user;

    (void)ctx;
    in_libxl_check("completion callback");
    XLT_ASSERT_MSG(t >= 0 && t < S.n_lib && kind_of(t) == K_RUN_CB,
                   "completion callback for token %ld", t);
    XLT_ASSERT_MSG(rc == 0, "token %ld completed with rc %d (%s)", t, rc,
                   libxl_strerror(rc));
    check_result(t);
    xls_ledger_reported(S.led, t, S.res[t].status, rc);
}

static void death_cb(libxl_ctx *ctx, pid_t pid, int status, void *user)
{
    long t = (long)(intptr_t)user;

    (void)ctx;
    in_libxl_check("death callback");
    XLT_ASSERT_MSG(t >= 0 && t < S.n_lib && kind_of(t) == K_FORK &&
                       __atomic_load_n(&S.led->slot[t].pid, __ATOMIC_RELAXED) ==
                           pid,
                   "death callback for token %ld with pid %d", t, (int)pid);
    xls_ledger_reported(S.led, t, status, 0);
}

/* Starts a run of `sh -c 'read x; <end with want>'` on the barrier (or the
 * keeper's pipe), completed as an event (how == NULL) or by run_cb. */
static void start_run(libxl_ctx *ctx, long t, int want, int stdin_fd,
                      bool callback)
{
    char script[64];
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_asyncop_how how;

    if (WIFSIGNALED(want))
        snprintf(script, sizeof script, "read x; kill -%d $$", WTERMSIG(want));
    else
        snprintf(script, sizeof script, "read x; exit %d", WEXITSTATUS(want));
    a.stdin_fd = stdin_fd;
    memset(&how, 0, sizeof how);
    if (callback) {
        how.callback = run_cb;
        how.u.for_callback = (void *)(intptr_t)t;
    } else {
        how.u.for_event = (uint64_t)t;
    }
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &S.res[t], &how), 0);
}

static void start_lib(libxl_ctx *ctx, long t)
{
    int want = lib_want(t);

    xls_ledger_started(S.led, t, 0, want);
    if (kind_of(t) == K_FORK) {
        pid_t pid;

        pid = xlt_childproc_fork(ctx, death_cb, (void *)(intptr_t)t);
        if (pid == 0)
            barrier_child(want);
        XLT_ASSERT_MSG(pid > 0,
                       "libxl_childproc_fork of token %ld: %d (%s): %s", t,
                       (int)pid, libxl_strerror(pid), strerror(errno));
        __atomic_store_n(&S.led->slot[t].pid, pid, __ATOMIC_RELAXED);
    } else {
        start_run(ctx, t, want, S.barrier_r, kind_of(t) == K_RUN_CB);
    }
}

static void *starter(void *arg)
{
    int c = (int)(intptr_t)arg;
    long t;

    for (t = c; t < S.n_lib; t += NCTX)
        start_lib(S.ctx[c], t);
    return NULL;
}

/* Sits in libxl_event_wait on its ctx: completions by event land here,
 * and callbacks run here.  Ends with a stop token's event. */
static void *waiter(void *arg)
{
    libxl_ctx *ctx = arg;

    for (;;) {
        libxl_event *ev = NULL;
        long t;
        int rc;

        XLT_ASSERT_RC(xlt_event_wait(ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL),
                      0);
        XLT_ASSERT(ev != NULL);
        XLT_ASSERT_EQ(ev->type, LIBXL_EVENT_TYPE_OPERATION_COMPLETE);
        t = ev->for_user < (uint64_t)S.n_total ? (long)ev->for_user : -1;
        rc = ev->u.operation_complete.rc;
        libxl_event_free(ctx, ev);
        if (t < 0 || (t < S.n_lib && kind_of(t) != K_RUN_EV) ||
            (t >= S.tok_app0 && t < S.tok_app0 + S.n_app)) {
            xls_ledger_reported(S.led, -1, 0, rc); /* no event was asked */
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

static void *app_forker(void *arg)
{
    long i;

    (void)arg;
    for (i = 0; i < S.n_app; i++) {
        long t = S.tok_app0 + i;
        int want = app_want(i);
        pid_t pid;

        xls_ledger_started(S.led, t, 0, want);
        pid = fork();
        if (pid == 0)
            barrier_child(want);
        XLT_ASSERT_MSG(pid > 0, "fork of application child %ld: %s", i,
                       strerror(errno));
        __atomic_store_n(&S.led->slot[t].pid, pid, __ATOMIC_RELAXED);
        __atomic_store_n(&S.app_pid[i], pid, __ATOMIC_RELAXED);
        __atomic_store_n(&S.app_forked, i + 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

/* M3/M5: the library reaped a child that is not its own. */
static int app_reaped_cb(pid_t pid, int status, void *user)
{
    (void)user;
    in_libxl_check("reaped_callback");
    __atomic_add_fetch(&S.reaped_cb_calls, 1, __ATOMIC_RELAXED);
    if (S.conf->app != APP_CALLBACK) {
        fprintf(stderr,
                "reaped_callback(%d, %#x) in a mode where the"
                " application reaps its own children\n",
                (int)pid, status);
        xls_ledger_reported(S.led, -1, status, 0);
        return ERROR_UNKNOWN_CHILD;
    }
    if (app_lookup(pid) < 0) {
        report_app(pid, status, "reaped_callback");
        return ERROR_UNKNOWN_CHILD;
    }
    report_app(pid, status, "reaped_callback");
    return 0;
}

/* M6: the application waits for each of its children by pid, blocking,
 * while the library reaps its own around it. */
static void *app_waitpid_thread(void *arg)
{
    long i;

    (void)arg;
    for (i = 0; i < S.n_app; i++) {
        pid_t pid = __atomic_load_n(&S.app_pid[i], __ATOMIC_RELAXED), r;
        int st = 0;

        do
            r = waitpid(pid, &st, 0);
        while (r < 0 && errno == EINTR);
        XLT_ASSERT_MSG(r == pid,
                       "waitpid(%d) of the application's own child"
                       " %ld: %s (reaped by the library?)",
                       (int)pid, i, r < 0 ? strerror(errno) : "wrong pid");
        xls_ledger_reported(S.led, S.tok_app0 + i, st, 0);
        __atomic_add_fetch(&S.app_taken_by_app, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

/* M4, sigchld_occurred flavour: the application's own children by pid.
 * pending[] holds the indices not yet reaped (this thread only). */
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
        if (r == 0) {
            ml_pending[keep++] = k;
            continue;
        }
        xls_ledger_reported(S.led, S.tok_app0 + k, st, 0);
        __atomic_add_fetch(&S.app_taken_by_app, 1, __ATOMIC_RELAXED);
    }
    ml_npending = keep;
}

/* M4, waitpid(-1) flavour: offers the status to each ctx until one claims
 * it, alternating Xen 4.17's name and the seed's (whose "not mine" is
 * ERROR_NOT_READY). */
static void ml_dispatch(pid_t pid, int st)
{
    int c, first = (int)(pid % NCTX);
    bool seed = pid % 2;

    for (c = 0; c < NCTX; c++) {
        libxl_ctx *ctx = S.ctx[(first + c) % NCTX];
        int rc;

        xlt_in_libxl++;
        rc = seed ? libxl_childproc_exited(ctx, pid, st)
                  : libxl_childproc_reaped(ctx, pid, st);
        xlt_in_libxl--;
        if (rc == 0) {
            S.ml_claimed++;
            return;
        }
        XLT_ASSERT_MSG(rc == (seed ? ERROR_NOT_READY : ERROR_UNKNOWN_CHILD),
                       "libxl_childproc_%s(%d) gave %d (%s)",
                       seed ? "exited" : "reaped", (int)pid, rc,
                       libxl_strerror(rc));
    }
    report_app(pid, st, "waitpid(-1)");
    __atomic_add_fetch(&S.app_taken_by_app, 1, __ATOMIC_RELAXED);
}

/* M4: the application's SIGCHLD thread.  SIGCHLD is blocked in every
 * thread, so it stays pending until taken here; one signal may stand for
 * many children (they coalesce), and a child that exits while a round
 * runs makes it pending again.  The timeout only lets the thread see
 * ml_stop: it reaps nothing on a timeout, so a lost wakeup would show. */
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
        S.ml_rounds++;
        if (S.conf->app == APP_ML_OCCURRED) {
            ml_reap_own();
            for (c = 0; c < NCTX; c++) {
                xlt_in_libxl++;
                libxl_childproc_sigchld_occurred(S.ctx[c]);
                xlt_in_libxl--;
            }
        } else {
            for (;;) {
                int st = 0;
                pid_t pid = waitpid(-1, &st, WNOHANG);
                if (pid < 0 && errno == EINTR)
                    continue;
                XLT_ASSERT_MSG(pid >= 0 || errno == ECHILD, "waitpid(-1): %s",
                               strerror(errno));
                if (pid <= 0)
                    break;
                ml_dispatch(pid, st);
            }
        }
    }
    return NULL;
}

/* ------------------------------------------------------------- the storm */

static void set_mode(libxl_ctx *ctx, libxl_sigchld_owner mode)
{
    libxl_childproc_hooks h;

    memset(&h, 0, sizeof h);
    h.chldowner = mode;
    h.reaped_callback = app_reaped_cb;
    libxl_childproc_setmode(ctx, &h, NULL);
}

/* Polls (it only has to catch a hang) until n statuses are in. */
static void await_reports(long n, int64_t deadline, const char *phase)
{
    while (xls_ledger_count(S.led) < n) {
        if (xlt_now_ms() >= deadline) {
            fprintf(stderr, "%s: only %ld of %ld statuses after the deadline\n",
                    phase, xls_ledger_count(S.led), n);
            return; /* xls_ledger_check names what is missing */
        }
        xlt_sleep_ms(20);
    }
}

static void storm(const storm_conf *conf)
{
    pthread_t wt[NWAITERS], st[NCTX], aft, awt, mlt;
    xlt_logger *lg;
    sigset_t chld;
    int p[2], keeper_r = -1, c, i, fds, nchildren, zombies;
    int64_t t_case = xlt_now_ms(), t_begin, t_started, t_release, t_drained;
    int64_t deadline;
    bool ml = conf->app == APP_ML_OCCURRED || conf->app == APP_ML_REAPED;
    long n_expected, counted, t, nkind[3] = {0, 0, 0};

    memset(&S, 0, sizeof S);
    S.conf = conf;
    S.n_lib = xls_scale(10000, 1000);
    S.n_app = xls_scale(2000, 200);
    S.tok_app0 = S.n_lib;
    S.tok_keeper = S.tok_app0 + S.n_app;
    S.tok_stop0 = S.tok_keeper + 1;
    S.n_total = S.tok_stop0 + NWAITERS;
    S.keeper_w = -1;
    S.exec_exit = getenv("XLT_UNDER_VALGRIND") != NULL;
    if (!storm_fits(conf->what, S.n_lib + S.n_app + 1))
        return;

    S.led = xls_ledger_new(S.n_total);
    S.res = calloc((size_t)S.n_total, sizeof *S.res);
    S.app_pid = calloc((size_t)S.n_app, sizeof *S.app_pid);
    ml_pending = calloc((size_t)S.n_app, sizeof *ml_pending);
    XLT_ASSERT(S.res && S.app_pid && ml_pending);

    /* M4 (and M1 everywhere): SIGCHLD blocked in every thread, inherited
     * from here; in M4 the application takes it in ml_thread. */
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    XLT_ASSERT(pthread_sigmask(SIG_BLOCK, &chld, NULL) == 0);

    lg = xlt_logger_new();
    for (c = 0; c < NCTX; c++) {
        S.ctx[c] = xlt_ctx_new(&lg->lg);
        set_mode(S.ctx[c], conf->mode[c]);
    }
    XLT_ASSERT_MSG(xlt_logger_count(lg, LIBXL_LOG_ERROR, NULL) == 0,
                   "setmode refused: %s", lg->text);

    xlt_pipe(p);
    S.barrier_r = p[0];
    S.barrier_w = p[1];
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
        start_run(S.ctx[0], S.tok_keeper, W_EXITCODE(0, 0), keeper_r, false);
        close(keeper_r);
    }

    /* Everything starts at once: 8 starters (one per ctx) and the
     * application's forker. */
    t_begin = xlt_now_ms();
    for (c = 0; c < NCTX; c++)
        XLT_ASSERT(pthread_create(&st[c], NULL, starter, (void *)(intptr_t)c) ==
                   0);
    XLT_ASSERT(pthread_create(&aft, NULL, app_forker, NULL) == 0);
    for (c = 0; c < NCTX; c++)
        pthread_join(st[c], NULL);
    pthread_join(aft, NULL);
    t_started = xlt_now_ms();
    if (conf->app == APP_WAITPID)
        XLT_ASSERT(pthread_create(&awt, NULL, app_waitpid_thread, NULL) == 0);

    /* All of them exist and wait at the barrier; none has been reported. */
    n_expected = S.n_lib + S.n_app;
    nchildren = xlt_count_children(&zombies);
    XLT_ASSERT_MSG(nchildren == n_expected + conf->keeper && zombies == 0,
                   "before the barrier: %d children (%d zombies), wanted %ld",
                   nchildren, zombies, n_expected + conf->keeper);
    XLT_ASSERT_EQ(xls_ledger_count(S.led), 0);
    fds = xls_count_fds();

    /* The storm. */
    t_release = xlt_now_ms();
    close(S.barrier_w);
    deadline = t_release + (xls_full() ? 240000 : 120000);
    await_reports(n_expected, deadline, conf->what);
    t_drained = xlt_now_ms();
    if (conf->keeper) {
        close(S.keeper_w);
        await_reports(n_expected + 1, deadline, conf->what);
    }
    if (conf->app == APP_WAITPID)
        pthread_join(awt, NULL);

    /* A second report of anything would come now. */
    xlt_sleep_ms(500);
    counted = xls_ledger_count(S.led);
    nchildren = xls_assert_no_zombies(conf->what);
    XLT_ASSERT_MSG(nchildren == 0,
                   "%s: %d children still running after every"
                   " status was reported",
                   conf->what, nchildren);

    /* End the waiters: each takes one stop event and returns. */
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

    xls_ledger_check(S.led, conf->what);
    for (c = 0; c < NCTX; c++)
        XLT_ASSERT_RC(libxl_ctx_free(S.ctx[c]), 0);
    XLT_ASSERT_MSG(xls_assert_no_zombies(conf->what) == 0,
                   "children left after ctx_free");
    XLT_ASSERT_MSG(xlt_logger_count(lg, LIBXL_LOG_WARN, NULL) == 0 &&
                       xlt_logger_count(lg, LIBXL_LOG_ERROR, NULL) == 0 &&
                       xlt_logger_count(lg, LIBXL_LOG_CRITICAL, NULL) == 0,
                   "%s: the library logged:\n%s", conf->what, lg->text);
    if (conf->app == APP_CALLBACK)
        XLT_ASSERT_EQ(S.reaped_cb_calls, S.n_app);
    else
        XLT_ASSERT_EQ(S.app_taken_by_app, S.n_app);

    for (t = 0; t < S.n_lib; t++)
        nkind[kind_of(t)]++;
    xls_report(conf->what,
               "children=%ld (run+callback=%ld run+event=%ld fork=%ld) app=%ld"
               " keeper=%d ctxs=%d waiters=%d start=%lldms"
               " release_to_all=%lldms fds_at_release=%d reaped_callback=%ld"
               " taken_by_app=%ld mainloop_rounds=%ld claimed_by_reaped=%ld"
               " duplicates_window=500ms reports=%ld zombies=0 warnings=0"
               " case_total=%lldms",
               S.n_lib, nkind[K_RUN_CB], nkind[K_RUN_EV], nkind[K_FORK],
               S.n_app, (int)conf->keeper, NCTX, NWAITERS,
               (long long)(t_started - t_begin),
               (long long)(t_drained - t_release), fds, S.reaped_cb_calls,
               S.app_taken_by_app, S.ml_rounds, S.ml_claimed, counted,
               (long long)(xlt_now_ms() - t_case));

    close(S.barrier_r);
    xls_ledger_free(S.led);
    free(S.res);
    free(S.app_pid);
    free(ml_pending);
}

/* ------------------------------------------------------------------ cases */

/* The watchdog: generous, it only catches hangs (the full form makes
 * 12 000 processes on a shared 2-core machine). */
#define STORM_TIMEOUT (xls_full() ? 900 : 300)

#define ALL8(m)                \
    {                          \
        m, m, m, m, m, m, m, m \
    }

XLT_TEST(test_storm_owner_libxl, STORM_TIMEOUT)
{
    static const storm_conf conf = {
        "storm owner_libxl x8 + app children to reaped_callback",
        ALL8(libxl_sigchld_owner_libxl),
        APP_CALLBACK,
        true,
    };
    storm(&conf);
}

XLT_TEST(test_storm_libxl_always, STORM_TIMEOUT)
{
    static const storm_conf conf = {
        "storm libxl_always x1 + owner_libxl x7 + app children to"
        " reaped_callback",
        {libxl_sigchld_owner_libxl_always, libxl_sigchld_owner_libxl,
         libxl_sigchld_owner_libxl, libxl_sigchld_owner_libxl,
         libxl_sigchld_owner_libxl, libxl_sigchld_owner_libxl,
         libxl_sigchld_owner_libxl, libxl_sigchld_owner_libxl},
        APP_CALLBACK,
        false,
    };
    storm(&conf);
}

XLT_TEST(test_storm_selective_reap_app_waitpid, STORM_TIMEOUT)
{
    static const storm_conf conf = {
        "storm selective_reap x8 + app children by waitpid(pid)",
        ALL8(libxl_sigchld_owner_libxl_always_selective_reap),
        APP_WAITPID,
        false,
    };
    storm(&conf);
}

XLT_TEST(test_storm_selective_beside_default_app_waitpid, STORM_TIMEOUT)
{
    static const storm_conf conf = {
        "storm selective_reap x4 + owner_libxl x4 + app children by"
        " waitpid(pid)",
        {libxl_sigchld_owner_libxl_always_selective_reap,
         libxl_sigchld_owner_libxl,
         libxl_sigchld_owner_libxl_always_selective_reap,
         libxl_sigchld_owner_libxl,
         libxl_sigchld_owner_libxl_always_selective_reap,
         libxl_sigchld_owner_libxl,
         libxl_sigchld_owner_libxl_always_selective_reap,
         libxl_sigchld_owner_libxl},
        APP_WAITPID,
        false,
    };
    storm(&conf);
}

XLT_TEST(test_storm_mainloop_sigchld_occurred, STORM_TIMEOUT)
{
    static const storm_conf conf = {
        "storm mainloop x8, app reaps own by pid + sigchld_occurred",
        ALL8(libxl_sigchld_owner_mainloop),
        APP_ML_OCCURRED,
        false,
    };
    storm(&conf);
}

XLT_TEST(test_storm_mainloop_waitpid_all_reaped, STORM_TIMEOUT)
{
    static const storm_conf conf = {
        "storm mainloop x8, app waitpid(-1) + childproc_reaped/_exited",
        ALL8(libxl_sigchld_owner_mainloop),
        APP_ML_REAPED,
        false,
    };
    storm(&conf);
}

int main(void)
{
    static const xlt_case cases[] = {
        XLT_CASE(test_storm_owner_libxl),
        XLT_CASE(test_storm_libxl_always),
        XLT_CASE(test_storm_selective_reap_app_waitpid),
        XLT_CASE(test_storm_selective_beside_default_app_waitpid),
        XLT_CASE(test_storm_mainloop_sigchld_occurred),
        XLT_CASE(test_storm_mainloop_waitpid_all_reaped),
    };
    return xlt_main("stress_storm", cases, sizeof cases / sizeof cases[0]);
}
