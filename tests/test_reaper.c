/*
 * test_reaper.c - M1-M3: the process-wide reaper against
 * applications that get SIGCHLD wrong (SIG_IGN, threads that leave it
 * unblocked, handlers that swallow it), the default mode's handling of the
 * application's own children, and several ctxs sharing the reaper.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A thread that leaves SIGCHLD unblocked and sleeps in pause(). */
static void *unblocked_sleeper(void *arg)
{
    sigset_t set;
    (void)arg;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    for (;;)
        pause();
    return NULL;
}

static void start_sleepers(int n)
{
    int i;
    for (i = 0; i < n; i++) {
        pthread_t th;
        XLT_ASSERT(pthread_create(&th, NULL, unblocked_sleeper, NULL) == 0);
        pthread_detach(th);
    }
}

/* M1: SIGCHLD at SIG_IGN when the ctx is made: the library sets it to
 * SIG_DFL (or its own handler), logs a warning, and statuses are right
 * (with SIG_IGN the kernel would reap the children itself). */
XLT_TEST(test_M1_sigchld_ignored_is_reset_and_warned, 60)
{
    xlt_logger *l = xlt_logger_new();
    struct sigaction sa;
    libxl_childproc_result r;
    libxl_ctx *ctx;
    int i;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    XLT_ASSERT(sigaction(SIGCHLD, &sa, NULL) == 0);
    ctx = xlt_ctx_new(&l->lg);
    for (i = 0; i < 20; i++) {
        char script[32];
        snprintf(script, sizeof script, "exit %d", i + 1);
        XLT_ASSERT_RC(xlt_run_sh(ctx, script, &r), 0);
        XLT_ASSERT_EXITED(r.status, i + 1);
    }
    XLT_ASSERT(sigaction(SIGCHLD, NULL, &sa) == 0);
    XLT_ASSERT_MSG(sa.sa_handler != SIG_IGN, "SIGCHLD still SIG_IGN");
    XLT_ASSERT_MSG(!(sa.sa_flags & SA_NOCLDWAIT), "SA_NOCLDWAIT set");
    XLT_ASSERT_MSG(xlt_logger_count(l, LIBXL_LOG_WARN, NULL) >= 1,
                   "no warning logged; log:\n%s", l->text);
    libxl_ctx_free(ctx);
}

/* M1: threads older than the first ctx, with SIGCHLD unblocked (as in
 * libvirtd), make no status late or lost: the kernel may deliver SIGCHLD
 * to them, and the library's handler must forward it to the reaper.  Of
 * 100 sequential runs of /bin/true, at most 5 may take over 500 ms --
 * relying on the M2 sweep (up to 1 s) instead would make far more of them
 * that slow.  The 500 ms is 100 times what a run normally takes. */
XLT_TEST(test_M1_old_unblocked_threads_do_not_delay_statuses, 120)
{
    char *argv[] = {"/bin/true", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    libxl_ctx *ctx;
    int i, slow = 0;
    int64_t worst = 0;

    start_sleepers(4);
    xlt_sleep_ms(50); /* they have unblocked SIGCHLD */
    ctx = xlt_ctx_new(NULL);
    for (i = 0; i < 100; i++) {
        int64_t t0 = xlt_now_ms(), dt;
        XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), 0);
        XLT_ASSERT_EXITED(r.status, 0);
        dt = xlt_now_ms() - t0;
        if (dt > 500)
            slow++;
        if (dt > worst)
            worst = dt;
    }
    XLT_ASSERT_MSG(slow <= 5, "%d of 100 runs took over 500 ms (worst %lld ms)",
                   slow, (long long)worst);
    libxl_ctx_free(ctx);
}

/* M1: the library's SIGCHLD handler chains a handler the application
 * installed before the first ctx: with threads that leave SIGCHLD
 * unblocked, some of 50 children's SIGCHLDs reach such a thread, and the
 * application's handler sees them (while statuses stay right). */
static int app_handler_calls;

static void app_handler(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    if (sig == SIGCHLD)
        __atomic_add_fetch(&app_handler_calls, 1, __ATOMIC_SEQ_CST);
}

XLT_TEST(test_M1_handler_installed_before_is_chained, 60)
{
    struct sigaction sa;
    libxl_childproc_result r;
    libxl_ctx *ctx;
    int i;

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = app_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    XLT_ASSERT(sigaction(SIGCHLD, &sa, NULL) == 0);
    start_sleepers(4);
    xlt_sleep_ms(50);
    ctx = xlt_ctx_new(NULL);
    for (i = 0; i < 50; i++) {
        char script[32];
        snprintf(script, sizeof script, "exit %d", i);
        XLT_ASSERT_RC(xlt_run_sh(ctx, script, &r), 0);
        XLT_ASSERT_EXITED(r.status, i);
    }
    XLT_ASSERT_MSG(__atomic_load_n(&app_handler_calls, __ATOMIC_SEQ_CST) > 0,
                   "the application's earlier SIGCHLD handler never ran");
    libxl_ctx_free(ctx);
}

/* M2: a thread that unblocks SIGCHLD, with a handler installed behind the
 * library's back that swallows the signal: every status still arrives
 * (late at worst; only the watchdog bounds it). */
static void swallow(int sig)
{
    (void)sig;
}

XLT_TEST(test_M2_swallowed_sigchld_statuses_still_arrive, 120)
{
    static libxl_childproc_result res[50];
    static int seen[50];
    libxl_childproc_result r;
    struct sigaction sa;
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    int i;

    XLT_ASSERT_RC(xlt_run_sh(ctx, "exit 1", &r), 0); /* the library is set up */
    XLT_ASSERT_EXITED(r.status, 1);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = swallow;
    XLT_ASSERT(sigaction(SIGCHLD, &sa, NULL) == 0);
    start_sleepers(2);
    xlt_sleep_ms(50);

    for (i = 0; i < 50; i++)
        xlt_start_exit(ctx, i, (uint64_t)i, &res[i]);
    for (i = 0; i < 50; i++) {
        libxl_event *ev = NULL;
        XLT_ASSERT_RC(xlt_event_wait(ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL),
                      0);
        XLT_ASSERT(ev->for_user < 50);
        XLT_ASSERT_EQ(seen[ev->for_user], 0);
        seen[ev->for_user] = 1;
        XLT_ASSERT_RC(ev->u.operation_complete.rc, 0);
        XLT_ASSERT_EXITED(res[ev->for_user].status, (int)ev->for_user);
        libxl_event_free(ctx, ev);
    }
    for (i = 0; i < 5; i++) {
        char script[32];
        snprintf(script, sizeof script, "exit %d", 60 + i);
        XLT_ASSERT_RC(xlt_run_sh(ctx, script, &r), 0);
        XLT_ASSERT_EXITED(r.status, 60 + i);
    }
    xlt_wait_no_children(10000);
    libxl_ctx_free(ctx);
}

/* ------------------------------------------------------------------ M3 */

static struct {
    int calls;
    pid_t pid;
    int status;
    int ret; /* what the callback returns */
    void *user;
    libxl_ctx *start_on; /* if set, the callback starts run 777 on it */
} rc_state;

static int reaped_cb(pid_t pid, int status, void *user)
{
    XLT_ASSERT_MSG(xlt_in_libxl > 0,
                   "reaped_callback outside an application libxl call");
    rc_state.pid = pid;
    rc_state.status = status;
    rc_state.user = user;
    if (rc_state.start_on) {
        static char *argv_true[] = {"/bin/true", NULL};
        static libxl_childproc_result r;
        xlt_start_event_run(rc_state.start_on, argv_true, 777, &r);
    }
    __atomic_add_fetch(&rc_state.calls, 1, __ATOMIC_SEQ_CST);
    return rc_state.ret;
}

static libxl_ctx *ctx_with_reaped_cb(libxl_logger *lg)
{
    libxl_ctx *ctx = xlt_ctx_new(lg);
    libxl_childproc_hooks h;

    memset(&h, 0, sizeof h);
    h.chldowner = libxl_sigchld_owner_libxl;
    h.reaped_callback = reaped_cb;
    libxl_childproc_setmode(ctx, &h, &rc_state);
    return ctx;
}

static pid_t app_fork_exit(int code)
{
    pid_t pid = fork();
    XLT_ASSERT(pid >= 0);
    if (pid == 0)
        xlt_child_exit(code);
    return pid;
}

/* M3: in the default mode, while the library has a child, an application
 * child made with plain fork() is reaped by the library and handed to
 * reaped_callback (with the setmode user) on an application thread inside
 * a libxl call -- here libxl_event_wait, for an event that the callback
 * itself starts (§4: it may start operations on the same ctx); the
 * library's own child is unaffected. */
XLT_TEST(test_M3_app_child_goes_to_reaped_callback, 60)
{
    libxl_ctx *ctx = ctx_with_reaped_cb(NULL);
    libxl_childproc_result lr;
    int gate, st;
    pid_t app;

    xlt_start_gated(ctx, 1, &gate, &lr);
    rc_state.start_on = ctx;
    app = app_fork_exit(9);
    XLT_ASSERT_RC(xlt_wait_for(ctx, 777), 0);
    XLT_ASSERT_EQ(rc_state.calls, 1);
    XLT_ASSERT_EQ(rc_state.pid, app);
    XLT_ASSERT_EXITED(rc_state.status, 9);
    XLT_ASSERT(rc_state.user == &rc_state);
    XLT_ASSERT(waitpid(app, &st, WNOHANG) == -1 && errno == ECHILD);

    xlt_finish_gated(ctx, 1, gate, &lr);
    XLT_ASSERT_EQ(rc_state.calls, 1);
    libxl_ctx_free(ctx);
}

/* M3: an application child that reaped_callback does not claim (it
 * returns ERROR_UNKNOWN_CHILD or ERROR_NOT_READY) is logged at WARN; one
 * it claims (0) is not. */
static void reap_one_app_child(libxl_ctx *ctx, int code)
{
    int before = rc_state.calls;
    pid_t app = app_fork_exit(code);
    xlt_pump_until(ctx, &rc_state.calls, before + 1, 30000);
    XLT_ASSERT_EQ(rc_state.pid, app);
    XLT_ASSERT_EXITED(rc_state.status, code);
}

static void await_warns(xlt_logger *l, int n)
{
    int64_t deadline = xlt_now_ms() + 5000;
    while (xlt_logger_count(l, LIBXL_LOG_WARN, NULL) < n &&
           xlt_now_ms() < deadline)
        xlt_sleep_ms(5);
}

XLT_TEST(test_M3_unclaimed_app_child_logged_at_warn, 60)
{
    xlt_logger *l = xlt_logger_new();
    libxl_ctx *ctx = ctx_with_reaped_cb(&l->lg);
    libxl_childproc_result lr;
    int gate, warns;

    xlt_start_gated(ctx, 1, &gate, &lr);
    warns = xlt_logger_count(l, LIBXL_LOG_WARN, NULL);

    rc_state.ret = 0;
    reap_one_app_child(ctx, 11);
    xlt_pump_for(ctx, 200);
    XLT_ASSERT_MSG(xlt_logger_count(l, LIBXL_LOG_WARN, NULL) == warns,
                   "a claimed child was logged at WARN:\n%s", l->text);

    rc_state.ret = ERROR_UNKNOWN_CHILD;
    reap_one_app_child(ctx, 12);
    await_warns(l, warns + 1);
    XLT_ASSERT_MSG(xlt_logger_count(l, LIBXL_LOG_WARN, NULL) == warns + 1,
                   "ERROR_UNKNOWN_CHILD: not one WARN:\n%s", l->text);

    rc_state.ret = ERROR_NOT_READY;
    reap_one_app_child(ctx, 13);
    await_warns(l, warns + 2);
    XLT_ASSERT_MSG(xlt_logger_count(l, LIBXL_LOG_WARN, NULL) == warns + 2,
                   "ERROR_NOT_READY: not one WARN:\n%s", l->text);

    close(gate);
    XLT_ASSERT_RC(xlt_wait_for(ctx, 1), 0);
    libxl_ctx_free(ctx);
}

/* M3: with no reaped_callback, a reaped application child is logged at
 * WARN. */
static int proc_exists(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    return access(path, F_OK) == 0;
}

XLT_TEST(test_M3_no_reaped_callback_logs_warn, 60)
{
    xlt_logger *l = xlt_logger_new();
    libxl_ctx *ctx = xlt_ctx_new(&l->lg);
    libxl_childproc_result lr;
    int64_t deadline;
    int gate, warns;
    pid_t app;

    libxl_childproc_setmode(ctx, NULL, NULL);
    xlt_start_gated(ctx, 1, &gate, &lr);
    warns = xlt_logger_count(l, LIBXL_LOG_WARN, NULL);
    app = app_fork_exit(14);
    deadline = xlt_now_ms() + 30000;
    while (proc_exists(app) ||
           xlt_logger_count(l, LIBXL_LOG_WARN, NULL) <= warns) {
        XLT_ASSERT_MSG(xlt_now_ms() < deadline,
                       "app child %d: reaped %s, WARNs %d -> %d", (int)app,
                       proc_exists(app) ? "no" : "yes", warns,
                       xlt_logger_count(l, LIBXL_LOG_WARN, NULL));
        xlt_pump_for(ctx, 5);
    }
    close(gate);
    XLT_ASSERT_RC(xlt_wait_for(ctx, 1), 0);
    libxl_ctx_free(ctx);
}

/* M3: while the library has no child, it reaps nothing: an application
 * child that exits while the library is idle (its reaper already started
 * by an earlier run) stays for the application's waitpid. */
XLT_TEST(test_M3_idle_library_reaps_nothing, 60)
{
    libxl_ctx *ctx = ctx_with_reaped_cb(NULL);
    libxl_childproc_result r;
    int st = 0;
    pid_t app;

    XLT_ASSERT_RC(xlt_run_sh(ctx, "exit 2", &r), 0);
    XLT_ASSERT_EXITED(r.status, 2);
    app = app_fork_exit(4);
    xlt_sleep_ms(300);      /* room for a reaper that would reap */
    xlt_pump_for(ctx, 100); /* and for an app thread in a libxl call */
    XLT_ASSERT_EQ(rc_state.calls, 0);
    XLT_ASSERT_EQ(waitpid(app, &st, 0), app);
    XLT_ASSERT_EXITED(st, 4);

    /* And again after the library had a child of its own meanwhile. */
    XLT_ASSERT_RC(xlt_run_sh(ctx, "exit 3", &r), 0);
    app = app_fork_exit(5);
    xlt_sleep_ms(300);
    XLT_ASSERT_EQ(waitpid(app, &st, 0), app);
    XLT_ASSERT_EXITED(st, 5);
    XLT_ASSERT_EQ(rc_state.calls, 0);
    libxl_ctx_free(ctx);
}

/* M3/§2: several ctxs in one process, in several threads, each get
 * exactly their own children's completions and death callbacks.  (The
 * main thread never makes a ctx, so it keeps SIGCHLD unblocked: the M1
 * situation of a thread that does not use libxl.) */
#define MC_CTXS 4
#define MC_RUNS 50
#define MC_FORKS 10
struct mc {
    int t;
    libxl_ctx *ctx;
    int deaths;
    libxl_childproc_result res[MC_RUNS];
    pid_t fpid[MC_FORKS];
    int fseen[MC_FORKS];
};
static struct mc mcs[MC_CTXS];

static void mc_death(libxl_ctx *ctx, pid_t pid, int status, void *user)
{
    struct mc *m = user;
    int i, found = 0;

    XLT_ASSERT(xlt_in_libxl > 0);
    XLT_ASSERT_MSG(ctx == m->ctx, "death callback for ctx %d on another ctx",
                   m->t);
    for (i = 0; i < MC_FORKS; i++) {
        if (m->fpid[i] == pid) {
            XLT_ASSERT_EQ(m->fseen[i], 0);
            m->fseen[i] = 1;
            XLT_ASSERT_EXITED(status, m->t * 10 + i);
            found = 1;
        }
    }
    XLT_ASSERT_MSG(found, "ctx %d: death callback for pid %d not its own", m->t,
                   (int)pid);
    __atomic_add_fetch(&m->deaths, 1, __ATOMIC_SEQ_CST);
}

static void *mc_thread(void *arg)
{
    struct mc *m = arg;
    int seen[MC_RUNS] = {0};
    int i, gate[2];

    m->ctx = xlt_ctx_new(NULL);
    for (i = 0; i < MC_RUNS; i++)
        xlt_start_exit(m->ctx, (m->t * MC_RUNS + i) % 256,
                       ((uint64_t)m->t << 16) | (uint64_t)i, &m->res[i]);
    /* The forked children wait for EOF on a gate, so that none can die
     * before its pid is recorded here. */
    xlt_pipe(gate);
    for (i = 0; i < MC_FORKS; i++) {
        pid_t pid;
        pid = xlt_childproc_fork(m->ctx, mc_death, m);
        if (pid == 0) {
            char c;
            /* Other threads' gates are inherited too: keep only ours. */
            close_range(3, (unsigned)gate[0] - 1, 0);
            close_range((unsigned)gate[0] + 1, ~0U, 0);
            while (read(gate[0], &c, 1) < 0 && errno == EINTR)
                ;
            xlt_child_exit(m->t * 10 + i);
        }
        XLT_ASSERT(pid > 0);
        m->fpid[i] = pid;
    }
    close(gate[1]);
    close(gate[0]);
    for (i = 0; i < MC_RUNS; i++) {
        libxl_event *ev = NULL;
        uint64_t id;
        XLT_ASSERT_RC(
            xlt_event_wait(m->ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL), 0);
        id = ev->for_user;
        XLT_ASSERT_MSG((int)(id >> 16) == m->t,
                       "ctx %d got the event of ctx %d", m->t, (int)(id >> 16));
        id &= 0xffff;
        XLT_ASSERT(id < MC_RUNS);
        XLT_ASSERT_EQ(seen[id], 0);
        seen[id] = 1;
        XLT_ASSERT_RC(ev->u.operation_complete.rc, 0);
        XLT_ASSERT_EXITED(m->res[id].status, (m->t * MC_RUNS + (int)id) % 256);
        libxl_event_free(m->ctx, ev);
    }
    xlt_pump_until(m->ctx, &m->deaths, MC_FORKS, 30000);
    xlt_pump_for(m->ctx, 100);
    XLT_ASSERT_EQ(m->deaths, MC_FORKS);
    return NULL;
}

XLT_TEST(test_M3_several_ctxs_each_get_only_their_own, 120)
{
    pthread_t th[MC_CTXS];
    int i;

    for (i = 0; i < MC_CTXS; i++) {
        mcs[i].t = i;
        XLT_ASSERT(pthread_create(&th[i], NULL, mc_thread, &mcs[i]) == 0);
    }
    for (i = 0; i < MC_CTXS; i++)
        pthread_join(th[i], NULL);
    for (i = 0; i < MC_CTXS; i++) {
        xlt_expect_no_event(mcs[i].ctx);
        libxl_ctx_free(mcs[i].ctx);
    }
    xlt_wait_no_children(10000);
}

int main(void)
{
    static const xlt_case cases[] = {
        XLT_CASE(test_M1_sigchld_ignored_is_reset_and_warned),
        XLT_CASE(test_M1_old_unblocked_threads_do_not_delay_statuses),
        XLT_CASE(test_M1_handler_installed_before_is_chained),
        XLT_CASE(test_M2_swallowed_sigchld_statuses_still_arrive),
        XLT_CASE(test_M3_app_child_goes_to_reaped_callback),
        XLT_CASE(test_M3_unclaimed_app_child_logged_at_warn),
        XLT_CASE(test_M3_no_reaped_callback_logs_warn),
        XLT_CASE(test_M3_idle_library_reaps_nothing),
        XLT_CASE(test_M3_several_ctxs_each_get_only_their_own),
    };
    return xlt_main("reaper", cases, sizeof cases / sizeof cases[0]);
}
