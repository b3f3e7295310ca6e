/*
 * test_modes.c - M3-M7 and R3: who reaps.  The hooks of
 * libxl_childproc_setmode (both names of the reaped hook, the user
 * pointer, fork_replacement), owner_mainloop (the application reaps),
 * owner_libxl_always (every child, always), the selective mode (only the
 * library's own), several ctxs in mixed modes, and refused setmodes.
 *
 * A mode is never checked by asking the library what it thinks it is in:
 * each test proves it by what happens to real children (who reaps them,
 * who is told, what stays waitable for the application).
 */
#define _GNU_SOURCE
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* --------------------------------------------------------------- helpers */

/* An application child made with plain fork(), exiting with code after
 * delay_ms. */
static pid_t app_fork_exit_after(int code, int delay_ms)
{
    pid_t pid = fork();
    XLT_ASSERT(pid >= 0);
    if (pid == 0) {
        if (delay_ms > 0) {
            struct timespec ts = {0, (long)delay_ms * 1000000L};
            nanosleep(&ts, NULL);
        }
        xlt_child_exit(code);
    }
    return pid;
}

static pid_t app_fork_exit(int code)
{
    return app_fork_exit_after(code, 0);
}

static void await_zombie(pid_t pid, int timeout_ms)
{
    int64_t deadline = xlt_now_ms() + timeout_ms;
    char st;
    while ((st = xlt_proc_state(pid)) != 'Z') {
        XLT_ASSERT_MSG(st != 0,
                       "child %d vanished before it was waited for "
                       "(someone reaped it)",
                       (int)pid);
        XLT_ASSERT_MSG(xlt_now_ms() < deadline,
                       "child %d not a zombie within %d ms (state %c)",
                       (int)pid, timeout_ms, st);
        xlt_sleep_ms(2);
    }
}

/* The one child of this process not in known[0..nknown). */
static pid_t new_child(const pid_t *known, int nknown)
{
    pid_t kids[64];
    pid_t found = 0;
    int n = xlt_list_children(kids, 64, NULL), i, j;

    XLT_ASSERT(n <= 64);
    for (i = 0; i < n; i++) {
        int old = 0;
        for (j = 0; j < nknown; j++)
            if (kids[i] == known[j])
                old = 1;
        if (old)
            continue;
        XLT_ASSERT_MSG(found == 0, "two new children: %d and %d", (int)found,
                       (int)kids[i]);
        found = kids[i];
    }
    XLT_ASSERT_MSG(found != 0, "no new child among %d", n);
    return found;
}

/* M1, as an application that makes threads before its first ctx does:
 * SIGCHLD blocked first, so every thread inherits it blocked. */
static void block_sigchld_here(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    XLT_ASSERT(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0);
}

static int sigchld_blocked(void)
{
    sigset_t cur;
    XLT_ASSERT(pthread_sigmask(SIG_SETMASK, NULL, &cur) == 0);
    return sigismember(&cur, SIGCHLD);
}

/* Waits for the application's own child and returns its status; fails
 * (ECHILD) if someone else reaped it. */
static int app_waitpid(pid_t pid)
{
    int st = 0;
    pid_t r;
    do
        r = waitpid(pid, &st, 0);
    while (r < 0 && errno == EINTR);
    XLT_ASSERT_MSG(r == pid,
                   "waitpid(%d) = %d (%s): the application's child"
                   " was taken from it",
                   (int)pid, (int)r, r < 0 ? strerror(errno) : "?");
    return st;
}

/* The owner_mainloop entry points, marked as libxl calls of the test. */
static int app_reaped(libxl_ctx *ctx, pid_t pid, int status)
{
    int rc;
    xlt_in_libxl++;
    rc = libxl_childproc_reaped(ctx, pid, status);
    xlt_in_libxl--;
    return rc;
}

static int app_exited(libxl_ctx *ctx, pid_t pid, int status)
{
    int rc;
    xlt_in_libxl++;
    rc = libxl_childproc_exited(ctx, pid, status);
    xlt_in_libxl--;
    return rc;
}

static void app_sigchld_occurred(libxl_ctx *ctx)
{
    xlt_in_libxl++;
    libxl_childproc_sigchld_occurred(ctx);
    xlt_in_libxl--;
}

/* ----------------------------------------------- recording callbacks */

#define REC_MAGIC 0x5245434fu
#define REC_MAX 2048

/* What a reaped_callback (or death callback) was told. */
typedef struct {
    unsigned magic;
    pthread_mutex_t mu;
    int n;   /* read atomically by xlt_pump_until */
    int ret; /* what reaped_callback returns */
    pid_t pid[REC_MAX];
    int status[REC_MAX];
} rec;

static void rec_init(rec *r)
{
    memset(r, 0, sizeof *r);
    r->magic = REC_MAGIC;
    pthread_mutex_init(&r->mu, NULL);
}

static void rec_add(rec *r, pid_t pid, int status)
{
    pthread_mutex_lock(&r->mu);
    XLT_ASSERT(r->n < REC_MAX);
    r->pid[r->n] = pid;
    r->status[r->n] = status;
    __atomic_store_n(&r->n, r->n + 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&r->mu);
}

static int rec_count(rec *r)
{
    return __atomic_load_n(&r->n, __ATOMIC_SEQ_CST);
}

/* How many times pid was recorded; its last status in *status. */
static int rec_find(rec *r, pid_t pid, int *status)
{
    int i, n = 0;
    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n; i++) {
        if (r->pid[i] == pid) {
            n++;
            if (status)
                *status = r->status[i];
        }
    }
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* reaped_callback: the user must be the setmode user, a rec. */
static int rec_reaped_cb(pid_t pid, int status, void *user)
{
    rec *r = user;
    XLT_ASSERT_MSG(xlt_in_libxl > 0,
                   "reaped_callback outside an application libxl call");
    XLT_ASSERT_MSG(r && r->magic == REC_MAGIC,
                   "reaped_callback got user %p, not the setmode user", user);
    rec_add(r, pid, status);
    return r->ret;
}

static void rec_death_cb(libxl_ctx *ctx, pid_t pid, int status, void *user)
{
    rec *r = user;
    (void)ctx;
    XLT_ASSERT_MSG(xlt_in_libxl > 0,
                   "death callback outside an application libxl call");
    XLT_ASSERT_MSG(r && r->magic == REC_MAGIC, "death callback user %p", user);
    rec_add(r, pid, status);
}

static void set_mode(libxl_ctx *ctx, libxl_sigchld_owner mode, rec *r)
{
    libxl_childproc_hooks h;
    memset(&h, 0, sizeof h);
    h.chldowner = mode;
    if (r)
        h.reaped_callback = rec_reaped_cb;
    libxl_childproc_setmode(ctx, &h, r);
}

static int errors(xlt_logger *l)
{
    return xlt_logger_count(l, LIBXL_LOG_ERROR, NULL);
}

/* The ctx reaps an application child and tells r (proof of a reaping mode
 * with children, or of M5). */
static void expect_app_child_to_callback(libxl_ctx *ctx, rec *r, int code)
{
    int before = rec_count(r), st = 0, wst;
    pid_t app = app_fork_exit(code);

    xlt_pump_until(ctx, &r->n, before + 1, 30000);
    XLT_ASSERT_EQ(rec_find(r, app, &st), 1);
    XLT_ASSERT_EXITED(st, code);
    XLT_ASSERT_MSG(waitpid(app, &wst, WNOHANG) == -1 && errno == ECHILD,
                   "child %d reported to reaped_callback but still waitable",
                   (int)app);
}

/* Nothing reaps an application child: it stays for the application's
 * waitpid, and r is not told (pumping ctx meanwhile). */
static void expect_app_child_left_alone(libxl_ctx *ctx, rec *r, int code)
{
    int before = r ? rec_count(r) : 0;
    pid_t app = app_fork_exit(code);

    await_zombie(app, 10000);
    xlt_pump_for(ctx, 300); /* room for a reaper and a callback that would */
    XLT_ASSERT_MSG(xlt_proc_state(app) == 'Z',
                   "application child %d was reaped", (int)app);
    XLT_ASSERT_EXITED(app_waitpid(app), code);
    if (r)
        XLT_ASSERT_EQ(rec_count(r), before);
}

/* ---------------------------------------------------------- the hooks */

/* §6: the hook's seed name, childproc_exited_callback, is the same hook as
 * reaped_callback: set under that name it is called, with the setmode
 * user, for an application child the default mode reaps. */
XLT_TEST(test_M3_hook_under_seed_name_childproc_exited_callback_is_called, 60)
{
    static rec r;
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    libxl_childproc_hooks h;
    libxl_childproc_result lr;
    int gate;

    rec_init(&r);
    memset(&h, 0, sizeof h);
    h.chldowner = libxl_sigchld_owner_libxl;
    h.childproc_exited_callback = rec_reaped_cb;
    libxl_childproc_setmode(ctx, &h, &r);
    XLT_ASSERT(h.reaped_callback == rec_reaped_cb); /* one hook, two names */

    xlt_start_gated(ctx, 1, &gate, &lr);
    expect_app_child_to_callback(ctx, &r, 9);
    expect_app_child_to_callback(ctx, &r, 10);
    xlt_finish_gated(ctx, 1, gate, &lr);
    XLT_ASSERT_EQ(rec_count(&r), 2);
    libxl_ctx_free(ctx);
}

/* R3: with a fork_replacement, every child of libxl_childproc_run (the
 * exec failure included) and of libxl_childproc_fork is made through it,
 * with the setmode user; the replacement here calls fork() and records
 * the pids, and each child the library reports is one of those. */
#define FR_MAX 64
static struct {
    int calls;
    int bad_user;
    pid_t pids[FR_MAX];
} fr;

static pid_t counting_fork(void *user)
{
    pid_t p;
    if (user != (void *)&fr)
        __atomic_add_fetch(&fr.bad_user, 1, __ATOMIC_SEQ_CST);
    p = fork();
    if (p > 0) {
        int i = __atomic_fetch_add(&fr.calls, 1, __ATOMIC_SEQ_CST);
        if (i < FR_MAX)
            fr.pids[i] = p;
    }
    return p;
}

static int fr_made(pid_t pid)
{
    int i, n = __atomic_load_n(&fr.calls, __ATOMIC_SEQ_CST);
    for (i = 0; i < n && i < FR_MAX; i++)
        if (fr.pids[i] == pid)
            return 1;
    return 0;
}

static void r3_round(libxl_ctx *ctx, libxl_sigchld_owner mode)
{
    static rec deaths;
    libxl_childproc_hooks h;
    libxl_childproc_result r, ar[2];
    char *noexec[] = {"/nonexistent/xlchild-test", NULL};
    libxl_childproc_args bad = xlt_args(noexec);
    pid_t fpid[3];
    int calls0, i, st;

    rec_init(&deaths);
    memset(&h, 0, sizeof h);
    h.chldowner = mode;
    h.fork_replacement = counting_fork;
    libxl_childproc_setmode(ctx, &h, &fr);
    calls0 = __atomic_load_n(&fr.calls, __ATOMIC_SEQ_CST);

    for (i = 0; i < 3; i++) { /* synchronous runs */
        char script[32];
        snprintf(script, sizeof script, "exit %d", 40 + i);
        XLT_ASSERT_RC(xlt_run_sh(ctx, script, &r), 0);
        XLT_ASSERT_EXITED(r.status, 40 + i);
        XLT_ASSERT_MSG(fr_made(r.pid),
                       "run child %d not made by the"
                       " fork_replacement",
                       (int)r.pid);
    }
    for (i = 0; i < 2; i++) /* asynchronous runs */
        xlt_start_exit(ctx, 50 + i, (uint64_t)(100 + i), &ar[i]);
    for (i = 0; i < 2; i++) {
        XLT_ASSERT_RC(xlt_wait_for(ctx, (uint64_t)(100 + i)), 0);
        XLT_ASSERT_EXITED(ar[i].status, 50 + i);
        XLT_ASSERT(fr_made(ar[i].pid));
    }
    /* an exec failure is reported from a child made the same way */
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &bad, &r, NULL), ERROR_FAIL);
    XLT_ASSERT_EQ(r.exec_errno, ENOENT);

    for (i = 0; i < 3; i++) {
        fpid[i] = xlt_childproc_fork(ctx, rec_death_cb, &deaths);
        if (fpid[i] == 0)
            xlt_child_exit(60 + i);
        XLT_ASSERT(fpid[i] > 0);
        XLT_ASSERT_MSG(fr_made(fpid[i]),
                       "libxl_childproc_fork child %d not"
                       " made by the fork_replacement",
                       (int)fpid[i]);
    }
    xlt_pump_until(ctx, &deaths.n, 3, 30000);
    for (i = 0; i < 3; i++) {
        XLT_ASSERT_EQ(rec_find(&deaths, fpid[i], &st), 1);
        XLT_ASSERT_EXITED(st, 60 + i);
    }
    XLT_ASSERT_EQ(__atomic_load_n(&fr.calls, __ATOMIC_SEQ_CST) - calls0,
                  3 + 2 + 1 + 3);
    XLT_ASSERT_EQ(fr.bad_user, 0);
}

XLT_TEST(test_R3_fork_replacement_makes_every_child_of_run_and_fork, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);

    r3_round(ctx, libxl_sigchld_owner_libxl);
    r3_round(ctx, libxl_sigchld_owner_libxl_always_selective_reap);
    XLT_ASSERT(fr.calls <= FR_MAX);
    libxl_ctx_free(ctx);
    xlt_wait_no_children(10000);
}

/* ------------------------------------------------- M4 owner_mainloop */

/* M4: the library never reaps: the child of libxl_childproc_run stays a
 * zombie (well past the M2 sweep interval) with its operation pending,
 * until the application waitpid()s it and reports it with
 * libxl_childproc_reaped; the operation then completes with that status.
 * The same for libxl_childproc_fork, reported with _exited. */
static void m4_never_reaps(int reaper_busy)
{
    static rec deaths;
    libxl_ctx *ctx, *sel = NULL;
    libxl_childproc_result r, gr;
    pid_t known[1];
    int nknown = 0, gate = -1;
    pid_t pid;
    int st;

    rec_init(&deaths);
    if (reaper_busy) {
        /* Another ctx keeps the reaper up and sweeping (it has a child);
         * selective, so that it reaps nothing but its own either. */
        sel = xlt_ctx_new(NULL);
        set_mode(sel, libxl_sigchld_owner_libxl_always_selective_reap, NULL);
        XLT_ASSERT_RC(xlt_run_sh(sel, "exit 0", &r), 0);
        xlt_start_gated(sel, 1, &gate, &gr);
        known[nknown++] = new_child(NULL, 0);
    }
    ctx = xlt_ctx_new(NULL);
    set_mode(ctx, libxl_sigchld_owner_mainloop, NULL);

    xlt_start_exit(ctx, 7, 1, &r);
    pid = new_child(known, nknown);
    await_zombie(pid, 10000);
    xlt_sleep_ms(1500); /* over the 1 s sweep interval of M2 */
    xlt_expect_no_event(ctx);
    XLT_ASSERT_MSG(xlt_proc_state(pid) == 'Z',
                   "library child %d was reaped in"
                   " owner_mainloop",
                   (int)pid);
    st = app_waitpid(pid);
    XLT_ASSERT_EXITED(st, 7);
    XLT_ASSERT_RC(app_reaped(ctx, pid, st), 0);
    XLT_ASSERT_RC(xlt_wait_for(ctx, 1), 0);
    XLT_ASSERT_EQ(r.pid, pid);
    XLT_ASSERT_EXITED(r.status, 7);

    pid = xlt_childproc_fork(ctx, rec_death_cb, &deaths);
    if (pid == 0)
        xlt_child_exit(8);
    XLT_ASSERT(pid > 0);
    await_zombie(pid, 10000);
    xlt_pump_for(ctx, 1200);
    XLT_ASSERT_EQ(rec_count(&deaths), 0);
    XLT_ASSERT(xlt_proc_state(pid) == 'Z');
    st = app_waitpid(pid);
    XLT_ASSERT_RC(app_exited(ctx, pid, st), 0);
    xlt_pump_until(ctx, &deaths.n, 1, 10000);
    XLT_ASSERT_EQ(deaths.pid[0], pid);
    XLT_ASSERT_EXITED(deaths.status[0], 8);
    xlt_pump_for(ctx, 100);
    XLT_ASSERT_EQ(rec_count(&deaths), 1);
    libxl_ctx_free(ctx);
    if (sel) {
        xlt_finish_gated(sel, 1, gate, &gr);
        libxl_ctx_free(sel);
    }
    XLT_ASSERT_EQ(xlt_count_children(NULL), 0);
}

XLT_TEST(test_M4_child_stays_zombie_until_app_reaps_and_reports, 60)
{
    m4_never_reaps(0);
}

/* M4: the same while the process-wide reaper is up and sweeping for
 * another ctx: it must not take this ctx's children either. */
XLT_TEST(test_M4_child_stays_zombie_while_reaper_serves_other_ctx, 60)
{
    m4_never_reaps(1);
}

/* M4: a synchronous run in one thread completes when the application's
 * "main loop" (another thread, reaping with waitpid(-1)) reports the
 * status. */
static libxl_ctx *m4_sync_ctx;
static libxl_childproc_result m4_sync_res;
static int m4_sync_rc = 1, m4_sync_done;

static void *m4_sync_runner(void *arg)
{
    (void)arg;
    m4_sync_rc = xlt_run_sh(m4_sync_ctx, "exit 23", &m4_sync_res);
    __atomic_store_n(&m4_sync_done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

XLT_TEST(test_M4_sync_run_completes_when_app_loop_reports_status, 60)
{
    pthread_t th;
    pid_t pid;
    int st = 0;

    m4_sync_ctx = xlt_ctx_new(NULL);
    set_mode(m4_sync_ctx, libxl_sigchld_owner_mainloop, NULL);
    XLT_ASSERT(pthread_create(&th, NULL, m4_sync_runner, NULL) == 0);
    for (;;) { /* ECHILD until the runner has made its child */
        pid = waitpid(-1, &st, 0);
        if (pid > 0)
            break;
        XLT_ASSERT_MSG(errno == EINTR || errno == ECHILD, "waitpid: %s",
                       strerror(errno));
        XLT_ASSERT(!__atomic_load_n(&m4_sync_done, __ATOMIC_SEQ_CST));
        xlt_sleep_ms(1);
    }
    XLT_ASSERT_EXITED(st, 23);
    XLT_ASSERT_EQ(__atomic_load_n(&m4_sync_done, __ATOMIC_SEQ_CST), 0);
    XLT_ASSERT_RC(app_reaped(m4_sync_ctx, pid, st), 0);
    pthread_join(th, NULL);
    XLT_ASSERT_RC(m4_sync_rc, 0);
    XLT_ASSERT_EQ(m4_sync_res.pid, pid);
    XLT_ASSERT_EXITED(m4_sync_res.status, 23);
    libxl_ctx_free(m4_sync_ctx);
}

/* M4: the application's loop may reap a child of the library before the
 * call that made it has returned -- here the fork_replacement dawdles in
 * the parent while the child exits at once -- and report it at once: the
 * pid is this ctx's child all the same (0), and its operation completes
 * with that status (libxl makes the report wait for the fork to be
 * recorded, under the ctx lock). */
static libxl_ctx *early_ctx;
static pid_t early_pid;
static int early_status, early_rc = 1;

static pid_t dawdling_fork(void *user)
{
    pid_t p = fork();
    (void)user;
    if (p > 0)
        xlt_sleep_ms(300); /* the child exits meanwhile */
    return p;
}

static void *early_app_loop(void *arg)
{
    int st = 0;
    pid_t pid;

    (void)arg;
    for (;;) { /* ECHILD until the child exists */
        pid = waitpid(-1, &st, 0);
        if (pid > 0)
            break;
        XLT_ASSERT(errno == EINTR || errno == ECHILD);
        xlt_sleep_ms(1);
    }
    early_pid = pid;
    early_status = st;
    early_rc = app_reaped(early_ctx, pid, st);
    return NULL;
}

XLT_TEST(test_M4_child_reaped_before_its_call_returned_is_still_ours, 60)
{
    static rec deaths;
    libxl_childproc_hooks h;
    libxl_childproc_result r;
    pthread_t th;
    pid_t pid;

    rec_init(&deaths);
    early_ctx = xlt_ctx_new(NULL);
    memset(&h, 0, sizeof h);
    h.chldowner = libxl_sigchld_owner_mainloop;
    h.fork_replacement = dawdling_fork;
    libxl_childproc_setmode(early_ctx, &h, NULL);

    XLT_ASSERT(pthread_create(&th, NULL, early_app_loop, NULL) == 0);
    xlt_start_exit(early_ctx, 12, 1, &r);
    pthread_join(th, NULL);
    XLT_ASSERT_EXITED(early_status, 12);
    XLT_ASSERT_MSG(early_rc == 0,
                   "libxl_childproc_reaped(its own run child"
                   " %d, reaped before libxl_childproc_run returned) gave %d"
                   " (%s)",
                   (int)early_pid, early_rc, libxl_strerror(early_rc));
    XLT_ASSERT_RC(xlt_wait_for(early_ctx, 1), 0);
    XLT_ASSERT_EQ(r.pid, early_pid);
    XLT_ASSERT_EXITED(r.status, 12);

    early_rc = 1;
    XLT_ASSERT(pthread_create(&th, NULL, early_app_loop, NULL) == 0);
    pid = xlt_childproc_fork(early_ctx, rec_death_cb, &deaths);
    if (pid == 0)
        xlt_child_exit(13);
    XLT_ASSERT(pid > 0);
    pthread_join(th, NULL);
    XLT_ASSERT_EQ(early_pid, pid);
    XLT_ASSERT_MSG(early_rc == 0,
                   "libxl_childproc_reaped(its own fork child"
                   " %d, reaped before libxl_childproc_fork returned) gave %d"
                   " (%s)",
                   (int)pid, early_rc, libxl_strerror(early_rc));
    xlt_pump_until(early_ctx, &deaths.n, 1, 10000);
    XLT_ASSERT_EXITED(deaths.status[0], 13);
    libxl_ctx_free(early_ctx);
}

/* M4: likewise, the application's one libxl_childproc_sigchld_occurred
 * for a SIGCHLD that came before the call that made the child returned
 * reaps that child: the operation completes without a second call. */
static void *early_sigchld_loop(void *arg)
{
    siginfo_t si;

    (void)arg;
    for (;;) { /* the "SIGCHLD": a child exited (left unreaped) */
        memset(&si, 0, sizeof si);
        if (waitid(P_ALL, 0, &si, WEXITED | WNOWAIT) == 0 && si.si_pid > 0)
            break;
        XLT_ASSERT(errno == EINTR || errno == ECHILD);
        xlt_sleep_ms(1);
    }
    early_pid = si.si_pid;
    app_sigchld_occurred(early_ctx);
    return NULL;
}

XLT_TEST(test_M4_sigchld_occurred_before_its_call_returned_reaps_it, 60)
{
    libxl_childproc_hooks h;
    libxl_childproc_result r;
    libxl_event *ev = NULL;
    pthread_t th;
    int64_t deadline;
    int rc;

    early_ctx = xlt_ctx_new(NULL);
    memset(&h, 0, sizeof h);
    h.chldowner = libxl_sigchld_owner_mainloop;
    h.fork_replacement = dawdling_fork;
    libxl_childproc_setmode(early_ctx, &h, NULL);

    XLT_ASSERT(pthread_create(&th, NULL, early_sigchld_loop, NULL) == 0);
    xlt_start_exit(early_ctx, 14, 1, &r);
    pthread_join(th, NULL);
    deadline = xlt_now_ms() + 5000; /* a hang bound only */
    while ((rc = xlt_event_check(early_ctx, &ev, LIBXL_EVENTMASK_ALL, NULL,
                                 NULL)) == ERROR_NOT_READY) {
        XLT_ASSERT_MSG(xlt_now_ms() < deadline,
                       "run child %d: exited and"
                       " signalled before libxl_childproc_run returned; the"
                       " one sigchld_occurred did not reap it (state %c)",
                       (int)early_pid, xlt_proc_state(early_pid));
        xlt_sleep_ms(5);
    }
    XLT_ASSERT_RC(rc, 0);
    XLT_ASSERT_RC(ev->u.operation_complete.rc, 0);
    libxl_event_free(early_ctx, ev);
    XLT_ASSERT_EQ(r.pid, early_pid);
    XLT_ASSERT_EXITED(r.status, 14);
    libxl_ctx_free(early_ctx);
}

/* M4: a pid that is not this ctx's child -- the application's own, or
 * another M4 ctx's, or one already reported -- gives ERROR_UNKNOWN_CHILD
 * from _reaped and ERROR_NOT_READY from _exited, and completes nothing. */
XLT_TEST(test_M4_pid_not_ours_unknown_child_and_not_ready, 60)
{
    libxl_ctx *a = xlt_ctx_new(NULL), *b = xlt_ctx_new(NULL);
    libxl_childproc_result ra;
    pid_t app, pa;
    int st;

    set_mode(a, libxl_sigchld_owner_mainloop, NULL);
    set_mode(b, libxl_sigchld_owner_mainloop, NULL);

    app = app_fork_exit(3);
    st = app_waitpid(app);
    XLT_ASSERT_RC(app_reaped(a, app, st), ERROR_UNKNOWN_CHILD);
    XLT_ASSERT_RC(app_exited(a, app, st), ERROR_NOT_READY);

    xlt_start_exit(a, 4, 1, &ra);
    pa = new_child(NULL, 0);
    st = app_waitpid(pa);
    /* a's child reported to b: not b's */
    XLT_ASSERT_RC(app_reaped(b, pa, st), ERROR_UNKNOWN_CHILD);
    XLT_ASSERT_RC(app_exited(b, pa, st), ERROR_NOT_READY);
    xlt_expect_no_event(b);
    xlt_expect_no_event(a);
    /* to a: its own */
    XLT_ASSERT_RC(app_reaped(a, pa, st), 0);
    XLT_ASSERT_RC(xlt_wait_for(a, 1), 0);
    XLT_ASSERT_EXITED(ra.status, 4);
    /* reported again: no longer a child of a */
    XLT_ASSERT_RC(app_reaped(a, pa, st), ERROR_UNKNOWN_CHILD);
    XLT_ASSERT_RC(app_exited(a, pa, st), ERROR_NOT_READY);
    xlt_expect_no_event(a);
    libxl_ctx_free(a);
    libxl_ctx_free(b);
}

/* M4: libxl_childproc_sigchld_occurred reaps this ctx's own exited
 * children only: the application's child and another M4 ctx's child stay
 * zombies, waitable by their owners. */
XLT_TEST(test_M4_sigchld_occurred_reaps_only_this_ctxs_children, 60)
{
    libxl_ctx *a = xlt_ctx_new(NULL), *b = xlt_ctx_new(NULL);
    libxl_childproc_result ra, rb;
    pid_t known[2], pa, pb, app;

    set_mode(a, libxl_sigchld_owner_mainloop, NULL);
    set_mode(b, libxl_sigchld_owner_mainloop, NULL);

    xlt_start_exit(a, 7, 1, &ra);
    pa = new_child(NULL, 0);
    known[0] = pa;
    xlt_start_exit(b, 8, 2, &rb);
    pb = new_child(known, 1);
    known[1] = pb;
    app = app_fork_exit(5);
    await_zombie(pa, 10000);
    await_zombie(pb, 10000);
    await_zombie(app, 10000);

    app_sigchld_occurred(a);
    XLT_ASSERT_RC(xlt_wait_for(a, 1), 0);
    XLT_ASSERT_EQ(ra.pid, pa);
    XLT_ASSERT_EXITED(ra.status, 7);
    XLT_ASSERT_MSG(xlt_proc_state(app) == 'Z', "the application's child was"
                                               " reaped by sigchld_occurred");
    XLT_ASSERT_MSG(xlt_proc_state(pb) == 'Z', "another ctx's child was reaped"
                                              " by sigchld_occurred");
    xlt_expect_no_event(b);
    XLT_ASSERT_EXITED(app_waitpid(app), 5);

    app_sigchld_occurred(b);
    XLT_ASSERT_RC(xlt_wait_for(b, 2), 0);
    XLT_ASSERT_EXITED(rb.status, 8);
    /* nothing exited: a no-op */
    app_sigchld_occurred(a);
    xlt_expect_no_event(a);
    XLT_ASSERT_EQ(xlt_count_children(NULL), 0);
    libxl_ctx_free(a);
    libxl_ctx_free(b);
}

/* M4: _reaped, _exited and sigchld_occurred called on a ctx in any other
 * mode return ERROR_INVAL (the last returns nothing) and log an ERROR
 * each; they do not touch the ctx's children: a status made up and passed
 * in for a running child is ignored, its real one arrives later. */
static void m4_calls_refused_in(libxl_sigchld_owner mode)
{
    xlt_logger *l = xlt_logger_new();
    libxl_ctx *ctx = xlt_ctx_new(&l->lg);
    libxl_childproc_result r;
    pid_t pid;
    int gate, e0;

    set_mode(ctx, mode, NULL);
    xlt_start_gated(ctx, 1, &gate, &r);
    pid = new_child(NULL, 0);
    e0 = errors(l);
    XLT_ASSERT_RC(app_reaped(ctx, pid, W_EXITCODE(99, 0)), ERROR_INVAL);
    XLT_ASSERT_RC(app_exited(ctx, pid, W_EXITCODE(98, 0)), ERROR_INVAL);
    app_sigchld_occurred(ctx);
    XLT_ASSERT_MSG(errors(l) == e0 + 3,
                   "mode %d: %d ERROR lines for 3"
                   " refused calls:\n%s",
                   (int)mode, errors(l) - e0, l->text);
    XLT_ASSERT(xlt_proc_state(pid) != 0 && xlt_proc_state(pid) != 'Z');
    xlt_finish_gated(ctx, 1, gate, &r); /* exit 0, not 99 or 98 */
    XLT_ASSERT_EQ(r.pid, pid);
    libxl_ctx_free(ctx);
    free(l); /* its ctxs are gone */
}

XLT_TEST(test_M4_entry_points_in_other_modes_inval_and_logged, 60)
{
    m4_calls_refused_in(libxl_sigchld_owner_libxl);
    m4_calls_refused_in(libxl_sigchld_owner_libxl_always);
    m4_calls_refused_in(libxl_sigchld_owner_libxl_always_selective_reap);
}

/* M4: setmode to owner_mainloop in the thread that allocated the ctx
 * gives SIGCHLD in that thread's mask back its state before ctx_alloc
 * when no other ctx reaps: unblocked if it was, and the library then
 * leaves it alone while the ctx runs and forks children; blocked if it
 * was blocked. */
XLT_TEST(test_M4_setmode_restores_sigchld_mask_of_alloc_thread, 60)
{
    static rec deaths;
    libxl_ctx *ctx;
    libxl_childproc_result r;
    sigset_t set;
    pid_t pid;

    rec_init(&deaths);
    XLT_ASSERT(!sigchld_blocked()); /* the harness starts us so */
    ctx = xlt_ctx_new(NULL);
    XLT_ASSERT(sigchld_blocked()); /* M1 */
    set_mode(ctx, libxl_sigchld_owner_mainloop, NULL);
    XLT_ASSERT_MSG(!sigchld_blocked(), "SIGCHLD still blocked after setmode"
                                       " to owner_mainloop");

    xlt_start_exit(ctx, 6, 1, &r);
    XLT_ASSERT(!sigchld_blocked());
    pid = new_child(NULL, 0);
    XLT_ASSERT_RC(app_reaped(ctx, pid, app_waitpid(pid)), 0);
    XLT_ASSERT_RC(xlt_wait_for(ctx, 1), 0);
    XLT_ASSERT_EXITED(r.status, 6);
    pid = xlt_childproc_fork(ctx, rec_death_cb, &deaths);
    if (pid == 0)
        xlt_child_exit(0);
    XLT_ASSERT(pid > 0);
    XLT_ASSERT(!sigchld_blocked());
    XLT_ASSERT_RC(app_reaped(ctx, pid, app_waitpid(pid)), 0);
    xlt_pump_until(ctx, &deaths.n, 1, 10000);
    XLT_ASSERT(!sigchld_blocked());
    libxl_ctx_free(ctx);

    /* blocked before ctx_alloc: it stays blocked */
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    ctx = xlt_ctx_new(NULL);
    set_mode(ctx, libxl_sigchld_owner_mainloop, NULL);
    XLT_ASSERT_MSG(sigchld_blocked(),
                   "setmode unblocked SIGCHLD that the"
                   " application had blocked before ctx_alloc");
    libxl_ctx_free(ctx);
}

/* M4: ... unless another ctx of the process reaps (default mode): then
 * SIGCHLD stays blocked.  A ctx in owner_mainloop elsewhere does not
 * count (it does not reap). */
static libxl_ctx *other_ctx;
static libxl_sigchld_owner other_mode;

static void *alloc_other(void *arg)
{
    (void)arg;
    other_ctx = xlt_ctx_new(NULL);
    set_mode(other_ctx, other_mode, NULL);
    return NULL;
}

static int mainloop_unblocks_with_other(libxl_sigchld_owner mode)
{
    pthread_t th;
    libxl_ctx *ctx;
    int blocked;

    other_mode = mode;
    XLT_ASSERT(pthread_create(&th, NULL, alloc_other, NULL) == 0);
    pthread_join(th, NULL);
    XLT_ASSERT(!sigchld_blocked()); /* another thread's alloc */
    ctx = xlt_ctx_new(NULL);
    XLT_ASSERT(sigchld_blocked());
    set_mode(ctx, libxl_sigchld_owner_mainloop, NULL);
    blocked = sigchld_blocked();
    libxl_ctx_free(ctx);
    libxl_ctx_free(other_ctx);
    return !blocked;
}

XLT_TEST(test_M4_setmode_keeps_sigchld_blocked_while_another_ctx_reaps, 60)
{
    sigset_t none;

    XLT_ASSERT_MSG(!mainloop_unblocks_with_other(libxl_sigchld_owner_libxl),
                   "SIGCHLD unblocked though a default-mode ctx reaps");
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    XLT_ASSERT_MSG(mainloop_unblocks_with_other(libxl_sigchld_owner_mainloop),
                   "SIGCHLD kept blocked though the other ctx does not reap");
}

/* -------------------------------------------- M5 owner_libxl_always */

/* M5: application children made with plain fork() are reaped at all
 * times -- before the library ever had a child, while it has some, and
 * after -- and handed to reaped_callback with the setmode user, on an
 * application thread inside a libxl call; the library's own children go
 * to their completions only. */
XLT_TEST(test_M5_app_children_reaped_at_all_times_to_reaped_callback, 60)
{
    static rec r;
    static libxl_childproc_result res[10];
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    pid_t app[5];
    int i, st;

    rec_init(&r);
    set_mode(ctx, libxl_sigchld_owner_libxl_always, &r);
    for (i = 0; i < 3; i++) /* the library never had a child */
        expect_app_child_to_callback(ctx, &r, 20 + i);

    for (i = 0; i < 10; i++)
        xlt_start_exit(ctx, 30 + i, (uint64_t)i, &res[i]);
    for (i = 0; i < 5; i++)
        app[i] = app_fork_exit_after(70 + i, i * 3);
    for (i = 0; i < 10; i++) {
        XLT_ASSERT_RC(xlt_wait_for(ctx, (uint64_t)i), 0);
        XLT_ASSERT_EXITED(res[i].status, 30 + i);
        XLT_ASSERT_EQ(rec_find(&r, res[i].pid, NULL), 0);
    }
    xlt_pump_until(ctx, &r.n, 3 + 5, 30000);
    for (i = 0; i < 5; i++) {
        XLT_ASSERT_EQ(rec_find(&r, app[i], &st), 1);
        XLT_ASSERT_EXITED(st, 70 + i);
    }

    expect_app_child_to_callback(ctx, &r, 80); /* idle again */
    xlt_pump_for(ctx, 100);
    XLT_ASSERT_EQ(rec_count(&r), 3 + 5 + 1);
    libxl_ctx_free(ctx);
}

/* M5/M7: a second ctx's setmode to owner_libxl_always is refused with an
 * ERROR, and its mode and hooks stay what they were (default mode with
 * its own reaped_callback): once the first ctx is gone, the second reaps
 * nothing while idle (M5 would), and while it has a child it hands an
 * application child to its old callback. */
XLT_TEST(test_M5_second_ctx_always_refused_stays_default, 60)
{
    static rec r1, r2old, r2new;
    xlt_logger *l = xlt_logger_new();
    libxl_ctx *c1 = xlt_ctx_new(NULL), *c2 = xlt_ctx_new(&l->lg);
    libxl_childproc_result lr;
    int e0, gate;

    rec_init(&r1);
    rec_init(&r2old);
    rec_init(&r2new);
    set_mode(c1, libxl_sigchld_owner_libxl_always, &r1);
    set_mode(c2, libxl_sigchld_owner_libxl, &r2old);
    e0 = errors(l);
    set_mode(c2, libxl_sigchld_owner_libxl_always, &r2new);
    XLT_ASSERT_MSG(errors(l) == e0 + 1, "refused setmode: %d ERROR lines:\n%s",
                   errors(l) - e0, l->text);

    expect_app_child_to_callback(c1, &r1, 11); /* c1 is still the one */
    libxl_ctx_free(c1);

    expect_app_child_left_alone(c2, &r2new, 12);
    XLT_ASSERT_EQ(rec_count(&r2old), 0);
    xlt_start_gated(c2, 1, &gate, &lr);
    expect_app_child_to_callback(c2, &r2old, 13);
    XLT_ASSERT_EQ(rec_count(&r2new), 0);
    xlt_finish_gated(c2, 1, gate, &lr);
    libxl_ctx_free(c2);
    free(l); /* its ctxs are gone */
}

/* ------------------------------------ M6 selective reap (several) */

/* M6: the application forks its own children and waitpid(pid)s them
 * synchronously while the library runs 200 children alongside: every
 * waitpid gets its child (never ECHILD), every run its status, and the
 * ctx's reaped_callback is never called. */
#define SEL_LIB 200
static libxl_ctx *sel_ctx;
static libxl_childproc_result sel_res[SEL_LIB];
static int sel_lib_done;

static void *sel_lib_thread(void *arg)
{
    int seen[SEL_LIB] = {0};
    int i;

    (void)arg;
    for (i = 0; i < SEL_LIB; i++) {
        xlt_start_exit(sel_ctx, i % 256, (uint64_t)i, &sel_res[i]);
        if (i % 20 == 19) { /* let some finish while more start */
            libxl_event *ev = NULL;
            XLT_ASSERT_RC(
                xlt_event_wait(sel_ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL),
                0);
            XLT_ASSERT(ev->for_user < SEL_LIB);
            XLT_ASSERT_EQ(seen[ev->for_user], 0);
            seen[ev->for_user] = 1;
            XLT_ASSERT_RC(ev->u.operation_complete.rc, 0);
            libxl_event_free(sel_ctx, ev);
        }
    }
    for (;;) {
        libxl_event *ev = NULL;
        int left = 0;
        for (i = 0; i < SEL_LIB; i++)
            left += !seen[i];
        if (!left)
            break;
        XLT_ASSERT_RC(
            xlt_event_wait(sel_ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL), 0);
        XLT_ASSERT(ev->for_user < SEL_LIB);
        XLT_ASSERT_EQ(seen[ev->for_user], 0);
        seen[ev->for_user] = 1;
        XLT_ASSERT_RC(ev->u.operation_complete.rc, 0);
        libxl_event_free(sel_ctx, ev);
    }
    for (i = 0; i < SEL_LIB; i++)
        XLT_ASSERT_EXITED(sel_res[i].status, i % 256);
    __atomic_store_n(&sel_lib_done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* no_pidfd: the library checks its children by pid, and finds their exits
 * by asking the kernel which child exited (threads/reaper.c), which the
 * application's zombies get in the way of: it must take none of them. */
static void never_steals(int no_pidfd)
{
    static rec r;
    pthread_t th;
    int napp = 0;

    if (no_pidfd)
        setenv("XLCHILD_NO_PIDFD", "1", 1);
    rec_init(&r);
    sel_ctx = xlt_ctx_new(NULL);
    set_mode(sel_ctx, libxl_sigchld_owner_libxl_always_selective_reap, &r);
    XLT_ASSERT(pthread_create(&th, NULL, sel_lib_thread, NULL) == 0);
    while (napp < 100 || !__atomic_load_n(&sel_lib_done, __ATOMIC_SEQ_CST)) {
        pid_t app[5];
        int i;
        for (i = 0; i < 5; i++)
            app[i] = app_fork_exit_after((napp + i) % 256, i * 2);
        for (i = 4; i >= 0; i--)
            XLT_ASSERT_EXITED(app_waitpid(app[i]), (napp + i) % 256);
        napp += 5;
        XLT_ASSERT(napp < 100000);
    }
    pthread_join(th, NULL);
    XLT_ASSERT_EQ(rec_count(&r), 0);
    libxl_ctx_free(sel_ctx);
    XLT_ASSERT_EQ(xlt_count_children(NULL), 0);
}

XLT_TEST(test_M6_selective_never_steals_app_child, 120)
{
    never_steals(0);
}

XLT_TEST(test_M6_selective_never_steals_app_child_no_pidfd, 120)
{
    never_steals(1);
}

/* How many pidfds this process has open (anon inodes named so). */
static int count_pidfds(void)
{
    char path[64], target[64];
    int fd, n = 0;

    for (fd = 0; fd < 4096; fd++) {
        ssize_t len;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        len = readlink(path, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = 0;
        if (strstr(target, "pidfd"))
            n++;
    }
    return n;
}

/* M3 then M6: a default-mode ctx's fork children have no pidfds while the
 * library collects every exit of the process (waitpid(-1)).  Once a ctx
 * goes selective, the application may reap its own children by pid, so
 * they get pidfds then (a stolen status could otherwise be taken for the
 * application's child that got the pid).  An application zombie left
 * unreaped meanwhile stays the application's, and each fork child is
 * reported once with its own status.  no_pidfd: the same with every
 * child checked by pid, the zombie in the way of the kernel's answer to
 * "which child exited". */
#define HZ_FORKS 20
static void fork_children_when_selective_comes(int no_pidfd)
{
    static rec deaths;
    libxl_ctx *dflt, *sel;
    pid_t pid[HZ_FORKS], zombie;
    int gate[2], i, st, fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    int have_pidfd = fd >= 0 && !no_pidfd;

    if (fd >= 0)
        close(fd);
    if (no_pidfd)
        setenv("XLCHILD_NO_PIDFD", "1", 1);
    rec_init(&deaths);
    dflt = xlt_ctx_new(NULL);
    XLT_ASSERT(pipe(gate) == 0);
    for (i = 0; i < HZ_FORKS; i++) {
        pid[i] = xlt_childproc_fork(dflt, rec_death_cb, &deaths);
        if (pid[i] == 0) {
            char c;
            close(gate[1]);
            while (read(gate[0], &c, 1) < 0 && errno == EINTR)
                ;
            xlt_child_exit(100 + i);
        }
        XLT_ASSERT(pid[i] > 0);
    }
    close(gate[0]);
    XLT_ASSERT_EQ(count_pidfds(), 0); /* every exit is collected anyway */
    sel = xlt_ctx_new(NULL);
    set_mode(sel, libxl_sigchld_owner_libxl_always_selective_reap, NULL);
    XLT_ASSERT_EQ(count_pidfds(), have_pidfd ? HZ_FORKS : 0);
    zombie = app_fork_exit(7);
    await_zombie(zombie, 10000);
    xlt_sleep_ms(50); /* its SIGCHLD's pass has found it in the way */
    close(gate[1]);   /* all of them exit now */
    xlt_pump_until(dflt, &deaths.n, HZ_FORKS, 60000);
    xlt_pump_for(dflt, 200); /* a duplicate would show now */
    XLT_ASSERT_EQ(rec_count(&deaths), HZ_FORKS);
    for (i = 0; i < HZ_FORKS; i++) {
        XLT_ASSERT_EQ(rec_find(&deaths, pid[i], &st), 1);
        XLT_ASSERT_EXITED(st, 100 + i);
    }
    XLT_ASSERT_EQ(count_pidfds(), 0); /* closed as each was collected */
    XLT_ASSERT_EXITED(app_waitpid(zombie), 7);
    libxl_ctx_free(sel);
    libxl_ctx_free(dflt);
    XLT_ASSERT_EQ(xlt_count_children(NULL), 0);
}

XLT_TEST(test_M6_default_ctx_fork_children_watched_once_selective_comes, 120)
{
    fork_children_when_selective_comes(0);
}

XLT_TEST(test_M6_default_ctx_fork_children_behind_app_zombie_no_pidfd, 120)
{
    fork_children_when_selective_comes(1);
}

/* M6: several ctxs in the selective mode, in their own threads, share the
 * one reaper thread (while all have children, the process has one thread
 * more than before the first ctx) and each gets exactly its own
 * children. */
#define SH_CTXS 3
#define SH_RUNS 40
static pthread_barrier_t sh_bar;
struct sh {
    int t;
    libxl_ctx *ctx;
    libxl_childproc_result res[SH_RUNS];
    int gate;
    libxl_childproc_result gres;
};
static struct sh shs[SH_CTXS];

static void *sh_thread(void *arg)
{
    struct sh *s = arg;
    int seen[SH_RUNS] = {0}, i;

    pthread_barrier_wait(&sh_bar); /* threads counted before any ctx */
    pthread_barrier_wait(&sh_bar);
    s->ctx = xlt_ctx_new(NULL);
    set_mode(s->ctx, libxl_sigchld_owner_libxl_always_selective_reap, NULL);
    xlt_start_gated(s->ctx, 1000, &s->gate, &s->gres);
    pthread_barrier_wait(&sh_bar); /* all have a child: threads counted */
    pthread_barrier_wait(&sh_bar);
    for (i = 0; i < SH_RUNS; i++)
        xlt_start_exit(s->ctx, s->t * SH_RUNS + i, (uint64_t)i, &s->res[i]);
    close(s->gate);
    for (i = 0; i <= SH_RUNS; i++) {
        libxl_event *ev = NULL;
        XLT_ASSERT_RC(
            xlt_event_wait(s->ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL), 0);
        XLT_ASSERT_RC(ev->u.operation_complete.rc, 0);
        if (ev->for_user == 1000) {
            XLT_ASSERT_EXITED(s->gres.status, 0);
        } else {
            XLT_ASSERT(ev->for_user < SH_RUNS);
            XLT_ASSERT_EQ(seen[ev->for_user], 0);
            seen[ev->for_user] = 1;
            XLT_ASSERT_EXITED(s->res[ev->for_user].status,
                              s->t * SH_RUNS + (int)ev->for_user);
        }
        libxl_event_free(s->ctx, ev);
    }
    return NULL;
}

XLT_TEST(test_M6_several_selective_ctxs_share_one_reaper, 120)
{
    pthread_t th[SH_CTXS];
    int i, tasks, base;

    pthread_barrier_init(&sh_bar, NULL, SH_CTXS + 1);
    block_sigchld_here();
    for (i = 0; i < SH_CTXS; i++) {
        shs[i].t = i;
        XLT_ASSERT(pthread_create(&th[i], NULL, sh_thread, &shs[i]) == 0);
    }
    /* Counted relative to the threads before any ctx, so that a
     * sanitizer's own threads do not count. */
    pthread_barrier_wait(&sh_bar);
    base = xlt_count_tasks();
    pthread_barrier_wait(&sh_bar);
    XLT_ASSERT(base >= 1 + SH_CTXS);
    pthread_barrier_wait(&sh_bar);
    tasks = xlt_count_tasks();
    pthread_barrier_wait(&sh_bar);
    XLT_ASSERT_MSG(tasks == base + 1,
                   "%d threads with %d ctxs with children,"
                   " %d before: wanted one reaper more",
                   tasks, SH_CTXS, base);
    for (i = 0; i < SH_CTXS; i++)
        pthread_join(th[i], NULL);
    for (i = 0; i < SH_CTXS; i++)
        libxl_ctx_free(shs[i].ctx);
    xlt_wait_no_children(10000);
}

/* M6/M7: setmode to the selective mode while another ctx is in
 * owner_libxl_always is refused (ERROR, mode unchanged): the refused ctx
 * is still in the default mode, which -- once the M5 ctx is gone -- reaps
 * an application child while it has a child of its own. */
XLT_TEST(test_M6_setmode_refused_while_another_ctx_in_M5, 60)
{
    static rec r1, r2;
    xlt_logger *l = xlt_logger_new();
    libxl_ctx *c1 = xlt_ctx_new(NULL), *c2 = xlt_ctx_new(&l->lg);
    libxl_childproc_result lr;
    int e0, gate;

    rec_init(&r1);
    rec_init(&r2);
    set_mode(c1, libxl_sigchld_owner_libxl_always, &r1);
    e0 = errors(l);
    set_mode(c2, libxl_sigchld_owner_libxl_always_selective_reap, &r2);
    XLT_ASSERT_MSG(errors(l) == e0 + 1, "refused setmode: %d ERROR lines:\n%s",
                   errors(l) - e0, l->text);
    expect_app_child_to_callback(c1, &r1, 31); /* M5 still in force */
    libxl_ctx_free(c1);

    xlt_start_gated(c2, 1, &gate, &lr);
    /* selective would leave it to us; default with a child reaps it (and
     * its hooks were not taken either: no callback, a WARN) */
    {
        pid_t app = app_fork_exit(32);
        int64_t deadline = xlt_now_ms() + 30000;
        while (xlt_proc_state(app) != 0) {
            XLT_ASSERT_MSG(xlt_now_ms() < deadline,
                           "application child not"
                           " reaped by the default-mode ctx");
            xlt_pump_for(c2, 5);
        }
    }
    XLT_ASSERT_EQ(rec_count(&r2), 0);
    xlt_finish_gated(c2, 1, gate, &lr);
    libxl_ctx_free(c2);
    free(l); /* its ctxs are gone */
}

/* M5/M7: setmode to owner_libxl_always while another ctx is in the
 * selective mode is refused (ERROR, mode unchanged): the refused ctx,
 * idle, reaps nothing (M5 would), even once the selective ctx is gone. */
XLT_TEST(test_M5_setmode_refused_while_another_ctx_in_M6, 60)
{
    static rec r2;
    xlt_logger *l = xlt_logger_new();
    libxl_ctx *c1 = xlt_ctx_new(NULL), *c2 = xlt_ctx_new(&l->lg);
    libxl_childproc_result r;
    int e0;

    rec_init(&r2);
    set_mode(c1, libxl_sigchld_owner_libxl_always_selective_reap, NULL);
    e0 = errors(l);
    set_mode(c2, libxl_sigchld_owner_libxl_always, &r2);
    XLT_ASSERT_MSG(errors(l) == e0 + 1, "refused setmode: %d ERROR lines:\n%s",
                   errors(l) - e0, l->text);
    XLT_ASSERT_RC(xlt_run_sh(c1, "exit 5", &r), 0); /* c1 works, reaper up */
    XLT_ASSERT_EXITED(r.status, 5);
    expect_app_child_left_alone(c2, &r2, 33);
    libxl_ctx_free(c1);
    expect_app_child_left_alone(c2, &r2, 34);
    /* and c2 can now take M5, proving the refusal was only M5-vs-M6 */
    e0 = errors(l);
    set_mode(c2, libxl_sigchld_owner_libxl_always, &r2);
    XLT_ASSERT_EQ(errors(l), e0);
    expect_app_child_to_callback(c2, &r2, 35);
    libxl_ctx_free(c2);
    free(l); /* its ctxs are gone */
}

/* M6: a default-mode ctx alongside a selective one reaps only its own
 * children, even while it has many: application children stay waitable
 * and its reaped_callback is not called.  Once the selective ctx is gone,
 * the default ctx reaps every child again (M3). */
XLT_TEST(test_M6_default_ctx_alongside_selective_reaps_only_its_own, 120)
{
    static rec rb;
    static libxl_childproc_result res[30];
    libxl_ctx *a = xlt_ctx_new(NULL), *b = xlt_ctx_new(NULL);
    libxl_childproc_result ga, gb;
    int gate_a, gate_b, i;

    rec_init(&rb);
    set_mode(a, libxl_sigchld_owner_libxl_always_selective_reap, NULL);
    set_mode(b, libxl_sigchld_owner_libxl, &rb);
    xlt_start_gated(a, 1, &gate_a, &ga);
    xlt_start_gated(b, 1, &gate_b, &gb);
    for (i = 0; i < 30; i++)
        xlt_start_exit(b, 100 + i, (uint64_t)(10 + i), &res[i]);
    for (i = 0; i < 20; i++) {
        pid_t app = app_fork_exit_after(i, i % 4);
        XLT_ASSERT_EXITED(app_waitpid(app), i);
    }
    for (i = 0; i < 5; i++)
        expect_app_child_left_alone(b, &rb, 40 + i);
    for (i = 0; i < 30; i++) {
        XLT_ASSERT_RC(xlt_wait_for(b, (uint64_t)(10 + i)), 0);
        XLT_ASSERT_EXITED(res[i].status, 100 + i);
    }
    XLT_ASSERT_EQ(rec_count(&rb), 0);

    xlt_finish_gated(a, 1, gate_a, &ga);
    libxl_ctx_free(a);
    expect_app_child_to_callback(b, &rb, 50); /* b still has a child */
    xlt_finish_gated(b, 1, gate_b, &gb);
    libxl_ctx_free(b);
}

/* ------------------------------------------- several ctxs, mixed modes */

/* §6: four ctxs in modes that reap, each in its own thread, with 1000
 * children between them (runs and libxl_childproc_fork, started
 * interleaved): each ctx gets exactly its own, each child's status exactly
 * once, and no child is taken for an unknown one. */
#define MX_CTXS 4
#define MX_RUNS 200
#define MX_FORKS 50
struct mx {
    int t;
    libxl_sigchld_owner mode;
    libxl_ctx *ctx;
    libxl_childproc_result res[MX_RUNS];
    pid_t fpid[MX_FORKS];
    rec deaths;
    rec unknowns;
};
static struct mx mxs[MX_CTXS];
static pthread_barrier_t mx_bar;

static int mx_code(int t, int i)
{
    return (t * 61 + i) % 256;
}

static void *mx_thread(void *arg)
{
    struct mx *m = arg;
    int seen[MX_RUNS] = {0}, i, nf = 0, st;

    rec_init(&m->deaths);
    rec_init(&m->unknowns);
    m->ctx = xlt_ctx_new(NULL);
    set_mode(m->ctx, m->mode, &m->unknowns);
    pthread_barrier_wait(&mx_bar); /* every mode set before any child */
    for (i = 0; i < MX_RUNS; i++) {
        xlt_start_exit(m->ctx, mx_code(m->t, i),
                       ((uint64_t)m->t << 16) | (uint64_t)i, &m->res[i]);
        if (i % 4 == 3) {
            pid_t pid = xlt_childproc_fork(m->ctx, rec_death_cb, &m->deaths);
            if (pid == 0) {
                struct timespec ts = {0, (long)(nf % 5) * 1000000L};
                nanosleep(&ts, NULL);
                xlt_child_exit(mx_code(m->t, 1000 + nf));
            }
            XLT_ASSERT(pid > 0);
            m->fpid[nf++] = pid;
        }
    }
    XLT_ASSERT_EQ(nf, MX_FORKS);
    for (i = 0; i < MX_RUNS; i++) {
        libxl_event *ev = NULL;
        uint64_t id;
        XLT_ASSERT_RC(
            xlt_event_wait(m->ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL), 0);
        id = ev->for_user;
        XLT_ASSERT_MSG((int)(id >> 16) == m->t,
                       "ctx %d got an event of ctx"
                       " %d",
                       m->t, (int)(id >> 16));
        id &= 0xffff;
        XLT_ASSERT(id < MX_RUNS);
        XLT_ASSERT_EQ(seen[id], 0);
        seen[id] = 1;
        XLT_ASSERT_RC(ev->u.operation_complete.rc, 0);
        XLT_ASSERT_EXITED(m->res[id].status, mx_code(m->t, (int)id));
        libxl_event_free(m->ctx, ev);
    }
    xlt_pump_until(m->ctx, &m->deaths.n, MX_FORKS, 60000);
    xlt_pump_for(m->ctx, 200); /* a duplicate would show now */
    XLT_ASSERT_EQ(rec_count(&m->deaths), MX_FORKS);
    for (i = 0; i < MX_FORKS; i++) {
        XLT_ASSERT_MSG(rec_find(&m->deaths, m->fpid[i], &st) == 1,
                       "ctx %d: fork child %d reported %d times", m->t,
                       (int)m->fpid[i], rec_find(&m->deaths, m->fpid[i], NULL));
        XLT_ASSERT_EXITED(st, mx_code(m->t, 1000 + i));
    }
    XLT_ASSERT_MSG(rec_count(&m->unknowns) == 0,
                   "ctx %d (mode %d): %d of the"
                   " library's children reported as unknown",
                   m->t, (int)m->mode, rec_count(&m->unknowns));
    return NULL;
}

static void mixed_modes(const libxl_sigchld_owner modes[MX_CTXS])
{
    pthread_t th[MX_CTXS];
    int i;

    pthread_barrier_init(&mx_bar, NULL, MX_CTXS);
    block_sigchld_here();
    for (i = 0; i < MX_CTXS; i++) {
        mxs[i].t = i;
        mxs[i].mode = modes[i];
        XLT_ASSERT(pthread_create(&th[i], NULL, mx_thread, &mxs[i]) == 0);
    }
    for (i = 0; i < MX_CTXS; i++)
        pthread_join(th[i], NULL);
    for (i = 0; i < MX_CTXS; i++) {
        xlt_expect_no_event(mxs[i].ctx);
        libxl_ctx_free(mxs[i].ctx);
    }
    xlt_wait_no_children(10000);
}

XLT_TEST(test_M3_M6_four_ctxs_exactly_their_own_of_1000_children, 180)
{
    static const libxl_sigchld_owner modes[MX_CTXS] = {
        libxl_sigchld_owner_libxl,
        libxl_sigchld_owner_libxl_always_selective_reap,
        libxl_sigchld_owner_libxl,
        libxl_sigchld_owner_libxl_always_selective_reap,
    };
    mixed_modes(modes);
}

XLT_TEST(test_M3_M5_four_ctxs_exactly_their_own_of_1000_children, 180)
{
    static const libxl_sigchld_owner modes[MX_CTXS] = {
        libxl_sigchld_owner_libxl_always,
        libxl_sigchld_owner_libxl,
        libxl_sigchld_owner_libxl,
        libxl_sigchld_owner_libxl,
    };
    mixed_modes(modes);
}

/* M3 while starts are always in flight: a waitpid(-1) pass that meets an
 * exited child missing from the table during a start leaves it (it may be
 * that start's child) to the start's end or a later pass.  Two threads
 * start fork children back to back while the main thread makes children
 * of its own: each library child reaches its death callback once, with
 * its status, each application child reaped_callback once, and none is
 * taken for the other or left behind. */
#define DF_THREADS 2
#define DF_FORKS 150
#define DF_APP 60
static rec df_deaths, df_unknowns;
static libxl_ctx *df_ctx;
static pid_t df_pids[DF_THREADS][DF_FORKS];

static int df_code(int t, int i)
{
    return 100 + (t * DF_FORKS + i) % 100;
}

static void *df_thread(void *arg)
{
    int t = (int)(intptr_t)arg, i;

    for (i = 0; i < DF_FORKS; i++) {
        pid_t pid = xlt_childproc_fork(df_ctx, rec_death_cb, &df_deaths);
        if (pid == 0)
            xlt_child_exit(df_code(t, i));
        XLT_ASSERT(pid > 0);
        df_pids[t][i] = pid;
    }
    return NULL;
}

XLT_TEST(test_M3_app_children_while_starts_in_flight_each_reported_once, 120)
{
    pthread_t th[DF_THREADS];
    pid_t app[DF_APP];
    libxl_childproc_result lr;
    int gate, i, t, st = 0;

    rec_init(&df_deaths);
    rec_init(&df_unknowns);
    block_sigchld_here();
    df_ctx = xlt_ctx_new(NULL);
    set_mode(df_ctx, libxl_sigchld_owner_libxl, &df_unknowns);
    xlt_start_gated(df_ctx, 1, &gate, &lr); /* the library has children */
    for (t = 0; t < DF_THREADS; t++)
        XLT_ASSERT(
            pthread_create(&th[t], NULL, df_thread, (void *)(intptr_t)t) == 0);
    for (i = 0; i < DF_APP; i++)
        app[i] = app_fork_exit(1 + i);
    for (t = 0; t < DF_THREADS; t++)
        pthread_join(th[t], NULL);
    xlt_pump_until(df_ctx, &df_deaths.n, DF_THREADS * DF_FORKS, 60000);
    xlt_pump_until(df_ctx, &df_unknowns.n, DF_APP, 60000);
    xlt_pump_for(df_ctx, 200); /* a duplicate would show now */
    XLT_ASSERT_EQ(rec_count(&df_deaths), DF_THREADS * DF_FORKS);
    XLT_ASSERT_EQ(rec_count(&df_unknowns), DF_APP);
    for (t = 0; t < DF_THREADS; t++) {
        for (i = 0; i < DF_FORKS; i++) {
            XLT_ASSERT_MSG(rec_find(&df_deaths, df_pids[t][i], &st) == 1,
                           "library child %d reported %d times",
                           (int)df_pids[t][i],
                           rec_find(&df_deaths, df_pids[t][i], NULL));
            XLT_ASSERT_EXITED(st, df_code(t, i));
        }
    }
    for (i = 0; i < DF_APP; i++) {
        XLT_ASSERT_MSG(rec_find(&df_unknowns, app[i], &st) == 1,
                       "application child %d reported %d times", (int)app[i],
                       rec_find(&df_unknowns, app[i], NULL));
        XLT_ASSERT_EXITED(st, 1 + i);
    }
    xlt_finish_gated(df_ctx, 1, gate, &lr);
    libxl_ctx_free(df_ctx);
    xlt_wait_no_children(10000);
}

/* §2/§6: ctxs created, given a mode, used and freed (some with a child
 * still running) in two threads, while two other threads run children on
 * long-lived ctxs (default and selective): the runners lose nothing, and
 * in the end no child is left, zombie or not. */
#define CH_RUNS 150
static int ch_stop;
static int ch_cycles;

static void *ch_runner(void *arg)
{
    libxl_sigchld_owner mode = (libxl_sigchld_owner)(intptr_t)arg;
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    static __thread libxl_childproc_result res[8];
    int i, j;

    set_mode(ctx, mode, NULL);
    for (i = 0; i < CH_RUNS; i += 8) {
        for (j = 0; j < 8; j++)
            xlt_start_exit(ctx, (i + j) % 256, (uint64_t)j, &res[j]);
        for (j = 0; j < 8; j++) {
            XLT_ASSERT_RC(xlt_wait_for(ctx, (uint64_t)j), 0);
            XLT_ASSERT_EXITED(res[j].status, (i + j) % 256);
        }
    }
    libxl_ctx_free(ctx);
    return NULL;
}

static void *ch_churn(void *arg)
{
    int k = (int)(intptr_t)arg;

    while (!__atomic_load_n(&ch_stop, __ATOMIC_SEQ_CST)) {
        libxl_ctx *ctx = xlt_ctx_new(NULL);
        libxl_childproc_result r;
        char *argv[] = {"/bin/sleep", "0.2", NULL};

        set_mode(ctx,
                 (k++ % 2) ? libxl_sigchld_owner_libxl_always_selective_reap
                           : libxl_sigchld_owner_libxl,
                 NULL);
        XLT_ASSERT_RC(xlt_run_sh(ctx, "exit 9", &r), 0);
        XLT_ASSERT_EXITED(r.status, 9);
        xlt_start_event_run(ctx, argv, 1, &r);
        libxl_ctx_free(ctx); /* its sleep is reaped later, discarded */
        __atomic_add_fetch(&ch_cycles, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

XLT_TEST(test_S2_ctxs_made_and_freed_in_threads_while_others_run_children, 120)
{
    pthread_t run[2], churn[2];
    int i;
    block_sigchld_here();

    XLT_ASSERT(pthread_create(&churn[0], NULL, ch_churn, (void *)0) == 0);
    XLT_ASSERT(pthread_create(&churn[1], NULL, ch_churn, (void *)1) == 0);
    XLT_ASSERT(pthread_create(&run[0], NULL, ch_runner,
                              (void *)(intptr_t)libxl_sigchld_owner_libxl) ==
               0);
    XLT_ASSERT(pthread_create(
                   &run[1], NULL, ch_runner,
                   (void *)(intptr_t)
                       libxl_sigchld_owner_libxl_always_selective_reap) == 0);
    for (i = 0; i < 2; i++)
        pthread_join(run[i], NULL);
    __atomic_store_n(&ch_stop, 1, __ATOMIC_SEQ_CST);
    for (i = 0; i < 2; i++)
        pthread_join(churn[i], NULL);
    XLT_ASSERT_MSG(ch_cycles >= 4, "only %d ctx cycles ran alongside",
                   ch_cycles);
    xlt_wait_no_children(10000);
}

/* ------------------------------------------------------------------ M7 */

/* M7: an invalid chldowner (7, -1, 4) logs an ERROR and leaves the mode
 * and hooks unchanged: an owner_mainloop ctx still answers _reaped for a
 * pid not its own with ERROR_UNKNOWN_CHILD (other modes: ERROR_INVAL); a
 * default ctx still hands application children to its old callback. */
XLT_TEST(test_M7_invalid_chldowner_logged_mode_unchanged, 60)
{
    static const int bad[] = {7, -1, 4};
    static rec rold, rnew;
    xlt_logger *l = xlt_logger_new();
    libxl_ctx *m4 = xlt_ctx_new(&l->lg), *def = xlt_ctx_new(&l->lg);
    libxl_childproc_hooks h;
    libxl_childproc_result lr;
    pid_t app;
    int i, e0, gate;

    rec_init(&rold);
    rec_init(&rnew);
    set_mode(m4, libxl_sigchld_owner_mainloop, NULL);
    set_mode(def, libxl_sigchld_owner_libxl, &rold);
    app = app_fork_exit(1);
    XLT_ASSERT_EXITED(app_waitpid(app), 1);
    for (i = 0; i < 3; i++) {
        memset(&h, 0, sizeof h);
        h.chldowner = (libxl_sigchld_owner)bad[i];
        h.reaped_callback = rec_reaped_cb;

        e0 = errors(l);
        libxl_childproc_setmode(m4, &h, &rnew);
        XLT_ASSERT_MSG(errors(l) == e0 + 1, "chldowner %d: %d ERROR lines:\n%s",
                       bad[i], errors(l) - e0, l->text);
        XLT_ASSERT_RC(app_reaped(m4, app, 0), ERROR_UNKNOWN_CHILD);

        e0 = errors(l);
        libxl_childproc_setmode(def, &h, &rnew);
        XLT_ASSERT_MSG(errors(l) == e0 + 1, "chldowner %d: %d ERROR lines:\n%s",
                       bad[i], errors(l) - e0, l->text);
    }
    /* m4 still M4: its child is left for us */
    {
        libxl_childproc_result r;
        pid_t pid;
        xlt_start_exit(m4, 2, 1, &r);
        pid = new_child(NULL, 0);
        await_zombie(pid, 10000);
        xlt_sleep_ms(300);
        XLT_ASSERT(xlt_proc_state(pid) == 'Z');
        XLT_ASSERT_RC(app_reaped(m4, pid, app_waitpid(pid)), 0);
        XLT_ASSERT_RC(xlt_wait_for(m4, 1), 0);
        XLT_ASSERT_EXITED(r.status, 2);
    }
    /* def still default, with its old hook */
    xlt_start_gated(def, 1, &gate, &lr);
    expect_app_child_to_callback(def, &rold, 3);
    XLT_ASSERT_EQ(rec_count(&rnew), 0);
    xlt_finish_gated(def, 1, gate, &lr);
    libxl_ctx_free(m4);
    libxl_ctx_free(def);
    free(l); /* its ctxs are gone */
}

/* M7: setmode while the ctx has a child is refused (ERROR, mode
 * unchanged), whichever way the child was made: a default ctx asked for
 * owner_mainloop still reaps its run child itself (M4 would leave it a
 * zombie forever), and asked for the selective mode while a
 * libxl_childproc_fork child lives still reaps application children.
 * Once it has no child, the same setmode is accepted. */
XLT_TEST(test_M7_setmode_while_ctx_has_children_refused, 60)
{
    static rec r, deaths;
    xlt_logger *l = xlt_logger_new();
    libxl_ctx *ctx = xlt_ctx_new(&l->lg);
    libxl_childproc_result lr;
    int e0, gate, g[2];
    pid_t fk, pid;

    rec_init(&r);
    rec_init(&deaths);
    set_mode(ctx, libxl_sigchld_owner_libxl, &r);

    xlt_start_gated(ctx, 1, &gate, &lr);
    pid = new_child(NULL, 0);
    e0 = errors(l);
    set_mode(ctx, libxl_sigchld_owner_mainloop, NULL);
    XLT_ASSERT_MSG(errors(l) == e0 + 1, "%d ERROR lines:\n%s", errors(l) - e0,
                   l->text);
    XLT_ASSERT_RC(app_reaped(ctx, pid, 0), ERROR_INVAL); /* not M4 */
    xlt_finish_gated(ctx, 1, gate, &lr); /* reaped by the library itself */
    XLT_ASSERT_EQ(lr.pid, pid);

    xlt_pipe(g);
    fk = xlt_childproc_fork(ctx, rec_death_cb, &deaths);
    if (fk == 0) {
        char c;
        close(g[1]);
        while (read(g[0], &c, 1) < 0 && errno == EINTR)
            ;
        xlt_child_exit(4);
    }
    XLT_ASSERT(fk > 0);
    close(g[0]);
    e0 = errors(l);
    set_mode(ctx, libxl_sigchld_owner_libxl_always_selective_reap, &r);
    XLT_ASSERT_MSG(errors(l) == e0 + 1, "%d ERROR lines:\n%s", errors(l) - e0,
                   l->text);
    expect_app_child_to_callback(ctx, &r, 5); /* still M3 with a child */
    close(g[1]);
    xlt_pump_until(ctx, &deaths.n, 1, 30000);
    XLT_ASSERT_EQ(deaths.pid[0], fk);
    XLT_ASSERT_EXITED(deaths.status[0], 4);

    e0 = errors(l);
    set_mode(ctx, libxl_sigchld_owner_libxl_always_selective_reap, &r);
    XLT_ASSERT_EQ(errors(l), e0); /* no child now: accepted */
    xlt_start_gated(ctx, 1, &gate, &lr);
    expect_app_child_left_alone(ctx, &r, 6);
    xlt_finish_gated(ctx, 1, gate, &lr);
    libxl_ctx_free(ctx);
    free(l); /* its ctxs are gone */
}

int main(void)
{
    static const xlt_case cases[] = {
        XLT_CASE(
            test_M3_hook_under_seed_name_childproc_exited_callback_is_called),
        XLT_CASE(test_R3_fork_replacement_makes_every_child_of_run_and_fork),
        XLT_CASE(test_M4_child_stays_zombie_until_app_reaps_and_reports),
        XLT_CASE(test_M4_child_stays_zombie_while_reaper_serves_other_ctx),
        XLT_CASE(test_M4_sync_run_completes_when_app_loop_reports_status),
        XLT_CASE(test_M4_child_reaped_before_its_call_returned_is_still_ours),
        XLT_CASE(test_M4_sigchld_occurred_before_its_call_returned_reaps_it),
        XLT_CASE(test_M4_pid_not_ours_unknown_child_and_not_ready),
        XLT_CASE(test_M4_sigchld_occurred_reaps_only_this_ctxs_children),
        XLT_CASE(test_M4_entry_points_in_other_modes_inval_and_logged),
        XLT_CASE(test_M4_setmode_restores_sigchld_mask_of_alloc_thread),
        XLT_CASE(test_M4_setmode_keeps_sigchld_blocked_while_another_ctx_reaps),
        XLT_CASE(test_M5_app_children_reaped_at_all_times_to_reaped_callback),
        XLT_CASE(test_M5_second_ctx_always_refused_stays_default),
        XLT_CASE(test_M6_selective_never_steals_app_child),
        XLT_CASE(test_M6_selective_never_steals_app_child_no_pidfd),
        XLT_CASE(
            test_M6_default_ctx_fork_children_watched_once_selective_comes),
        XLT_CASE(test_M6_default_ctx_fork_children_behind_app_zombie_no_pidfd),
        XLT_CASE(test_M6_several_selective_ctxs_share_one_reaper),
        XLT_CASE(test_M6_setmode_refused_while_another_ctx_in_M5),
        XLT_CASE(test_M5_setmode_refused_while_another_ctx_in_M6),
        XLT_CASE(test_M6_default_ctx_alongside_selective_reaps_only_its_own),
        XLT_CASE(test_M3_M6_four_ctxs_exactly_their_own_of_1000_children),
        XLT_CASE(test_M3_M5_four_ctxs_exactly_their_own_of_1000_children),
        XLT_CASE(
            test_M3_app_children_while_starts_in_flight_each_reported_once),
        XLT_CASE(
            test_S2_ctxs_made_and_freed_in_threads_while_others_run_children),
        XLT_CASE(test_M7_invalid_chldowner_logged_mode_unchanged),
        XLT_CASE(test_M7_setmode_while_ctx_has_children_refused),
    };
    return xlt_main("modes", cases, sizeof cases / sizeof cases[0]);
}
