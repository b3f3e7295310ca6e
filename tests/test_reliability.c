/*
 * test_reliability.c - statuses that must not be lost, doubled or hung by
 * what the process around the library does: ptrace stops, synchronous
 * calls with timeouts made from callbacks, SIGCHLD set to SIG_IGN between
 * two ctxs, pids recycled across modes, group kills after the application
 * reaped the leader, handlers installed after the library's, and
 * cancelled waiters.  Each case is named after the rule it checks.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static void set_mode(libxl_ctx *ctx, libxl_sigchld_owner mode)
{
    libxl_childproc_hooks h;

    memset(&h, 0, sizeof h);
    h.chldowner = mode;
    libxl_childproc_setmode(ctx, &h, NULL);
}

typedef struct {
    int deaths;
    int status;
    pid_t pid;
} death_rec;

static void on_death(libxl_ctx *ctx, pid_t pid, int status, void *user)
{
    death_rec *d = user;

    (void)ctx;
    d->pid = pid;
    d->status = status;
    __atomic_add_fetch(&d->deaths, 1, __ATOMIC_SEQ_CST);
}

/* The child side of a traced child: asks to be traced, stops itself, then
 * ends with exit code `code` through an exec (which is another ptrace stop,
 * a SIGTRAP). */
static void traced_child(int code)
{
    char script[64];

    snprintf(script, sizeof script, "kill -STOP $$; exit %d", code);
    ptrace(PTRACE_TRACEME, 0, NULL, NULL);
    raise(SIGSTOP);
    execl("/bin/sh", "sh", "-c", script, (char *)NULL);
    _exit(127);
}

/* The tracer's side: lets pid go on from each stop (suppressing the
 * signal), taking only stops (WSTOPPED without WEXITED never takes its
 * exit), until *done or the deadline.  Returns how many stops it saw.
 * pump: a ctx to give a thread inside a libxl call (NULL: none);
 * mainloop: that ctx is in owner_mainloop and reaps on sigchld_occurred. */
static int trace_until(pid_t pid, const int *done, libxl_ctx *pump,
                       bool mainloop)
{
    int64_t deadline = xlt_now_ms() + 20000;
    int stops = 0;

    while (!__atomic_load_n(done, __ATOMIC_SEQ_CST)) {
        siginfo_t si;

        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)pid, &si, WSTOPPED | WNOHANG | WNOWAIT) == 0 &&
            si.si_pid == pid) {
            /* A stop: a tracer takes its time (the library must leave the
             * stop to it meanwhile), then takes it and lets the child go. */
            stops++;
            if (pump && mainloop) {
                libxl_childproc_sigchld_occurred(pump);
            } else if (pump) {
                /* another child's end makes the reaper look meanwhile */
                libxl_childproc_result r;
                XLT_ASSERT_RC(xlt_run_sh(pump, "exit 0", &r), 0);
            }
            if (pump)
                xlt_pump_for(pump, 30);
            waitid(P_PID, (id_t)pid, &si, WSTOPPED | WNOHANG);
            ptrace(PTRACE_CONT, pid, NULL, NULL);
        }
        if (pump && mainloop)
            libxl_childproc_sigchld_occurred(pump);
        if (pump) {
            libxl_event *ev = NULL;
            libxl_event_check(pump, &ev, 0, NULL, NULL);
        }
        XLT_ASSERT_MSG(xlt_now_ms() < deadline,
                       "traced child %d: no death after %d stops", (int)pid,
                       stops);
        xlt_sleep_ms(1);
    }
    return stops;
}

/* R2, M3-M6: a library child that this process traces is reported once,
 * with its exit, never with a ptrace stop. */
static void traced_library_child(libxl_sigchld_owner mode, bool no_pidfd)
{
    death_rec d = {0, 0, 0};
    libxl_ctx *ctx;
    pid_t pid;
    int stops;

    if (no_pidfd)
        setenv("XLCHILD_NO_PIDFD", "1", 1);
    ctx = xlt_ctx_new(NULL);
    set_mode(ctx, mode);
    pid = xlt_childproc_fork(ctx, on_death, &d);
    if (pid == 0)
        traced_child(7);
    XLT_ASSERT(pid > 0);
    stops =
        trace_until(pid, &d.deaths, ctx, mode == libxl_sigchld_owner_mainloop);
    xlt_pump_for(ctx, 50);
    XLT_ASSERT_EQ(d.deaths, 1);
    XLT_ASSERT_MSG(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 7,
                   "death reported with status %#x, not exit 7", d.status);
    XLT_ASSERT_MSG(stops >= 2, "the tracer saw %d stops, not its own 2+",
                   stops);
    libxl_ctx_free(ctx);
    xlt_wait_no_children(10000);
}

XLT_TEST(test_R2_traced_child_stop_is_not_death_default, 60)
{
    traced_library_child(libxl_sigchld_owner_libxl, false);
}

XLT_TEST(test_R2_traced_child_stop_is_not_death_always, 60)
{
    traced_library_child(libxl_sigchld_owner_libxl_always, false);
}

XLT_TEST(test_R2_traced_child_stop_is_not_death_selective, 60)
{
    traced_library_child(libxl_sigchld_owner_libxl_always_selective_reap,
                         false);
}

XLT_TEST(test_R2_traced_child_stop_is_not_death_mainloop, 60)
{
    traced_library_child(libxl_sigchld_owner_mainloop, false);
}

XLT_TEST(test_R2_traced_child_stop_is_not_death_default_no_pidfd, 60)
{
    traced_library_child(libxl_sigchld_owner_libxl, true);
}

XLT_TEST(test_R2_traced_child_stop_is_not_death_selective_no_pidfd, 60)
{
    traced_library_child(libxl_sigchld_owner_libxl_always_selective_reap, true);
}

XLT_TEST(test_R2_traced_child_stop_is_not_death_mainloop_no_pidfd, 60)
{
    traced_library_child(libxl_sigchld_owner_mainloop, true);
}

/* M5: the application's own traced child reaches reaped_callback once,
 * with its exit, and its stops stay the tracer's. */
static int app_reaped_count, app_reaped_status;

static int on_app_reaped(pid_t pid, int status, void *user)
{
    (void)pid;
    (void)user;
    app_reaped_status = status;
    __atomic_add_fetch(&app_reaped_count, 1, __ATOMIC_SEQ_CST);
    return 0;
}

XLT_TEST(test_M5_app_traced_child_reaped_once_with_its_exit, 60)
{
    libxl_childproc_hooks h;
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    pid_t pid;
    int stops;

    memset(&h, 0, sizeof h);
    h.chldowner = libxl_sigchld_owner_libxl_always;
    h.reaped_callback = on_app_reaped;
    libxl_childproc_setmode(ctx, &h, NULL);
    pid = fork();
    if (pid == 0)
        traced_child(4);
    XLT_ASSERT(pid > 0);
    stops = trace_until(pid, &app_reaped_count, ctx, false);
    xlt_pump_for(ctx, 50);
    XLT_ASSERT_EQ(app_reaped_count, 1);
    XLT_ASSERT_MSG(WIFEXITED(app_reaped_status) &&
                       WEXITSTATUS(app_reaped_status) == 4,
                   "reaped_callback got %#x, not exit 4", app_reaped_status);
    XLT_ASSERT(stops >= 2);
    libxl_ctx_free(ctx);
}

/* ------------------------------------------------------------------ */
/* O2: timeouts fire inside synchronous calls made from callbacks      */

typedef struct {
    int rc;
    int64_t ms;
    int done;
} nested_rec;

static void nested_sync_run(libxl_ctx *ctx, int rc, void *user)
{
    nested_rec *n = user;
    char *argv[] = {"/bin/sleep", "30", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    int64_t t0 = xlt_now_ms();

    XLT_ASSERT_RC(rc, 0);
    a.timeout_ms = 200;
    a.kill_grace_ms = 200;
    n->rc = libxl_childproc_run(ctx, &a, &r, NULL);
    n->ms = xlt_now_ms() - t0;
    __atomic_store_n(&n->done, 1, __ATOMIC_SEQ_CST);
}

XLT_TEST(test_O2_sync_run_timeout_fires_in_a_callback, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/true", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    libxl_asyncop_how how;
    nested_rec n = {0, 0, 0};

    memset(&how, 0, sizeof how);
    how.callback = nested_sync_run;
    how.u.for_callback = &n;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, &how), 0);
    /* A thread inside a call, which runs the callback: 25 s only catches
     * the hang of a timeout nobody watches (sleep 30). */
    xlt_pump_until(ctx, &n.done, 1, 25000);
    XLT_ASSERT_RC(n.rc, ERROR_TIMEDOUT);
    libxl_ctx_free(ctx);
    xlt_wait_no_children(10000);
}

/* O2, E2: a callback that runs for long in the thread that watched the
 * clock (the first to sleep in event_wait) does not hold up the timeout of
 * another thread's synchronous run. */
typedef struct {
    libxl_ctx *ctx;
    int gate_w;
    int callback_in, callback_over;
    int rc, done;
    int callback_over_at_done;
    libxl_childproc_result r2; /* written when the main thread has it */
} slow_rec;

static void slow_callback(libxl_ctx *ctx, int rc, void *user)
{
    slow_rec *s = user;
    int i;

    (void)ctx;
    (void)rc;
    __atomic_store_n(&s->callback_in, 1, __ATOMIC_SEQ_CST);
    for (i = 0; i < 1000 && !__atomic_load_n(&s->done, __ATOMIC_SEQ_CST); i++)
        xlt_sleep_ms(10);
    __atomic_store_n(&s->callback_over, 1, __ATOMIC_SEQ_CST);
}

static void *sync_timeout_thread(void *arg)
{
    slow_rec *s = arg;
    char *argv[] = {"/bin/sleep", "30", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;

    xlt_sleep_ms(100); /* the main thread is asleep in event_wait */
    close(s->gate_w);  /* its child ends: it runs the slow callback */
    while (!__atomic_load_n(&s->callback_in, __ATOMIC_SEQ_CST))
        xlt_sleep_ms(1);
    a.timeout_ms = 300;
    a.kill_grace_ms = 200;
    s->rc = xlt_childproc_run(s->ctx, &a, &r, NULL);
    s->callback_over_at_done =
        __atomic_load_n(&s->callback_over, __ATOMIC_SEQ_CST);
    __atomic_store_n(&s->done, 1, __ATOMIC_SEQ_CST);
    xlt_start_exit(s->ctx, 0, 77, &s->r2); /* what the main thread waits for */
    return NULL;
}

XLT_TEST(test_O2_slow_callback_does_not_delay_other_threads_timeout, 60)
{
    slow_rec s;
    char *argv[] = {"/bin/sh", "-c", "read x", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    libxl_asyncop_how how;
    pthread_t th;
    int gate[2];

    memset(&s, 0, sizeof s);
    s.ctx = xlt_ctx_new(NULL);
    xlt_pipe(gate);
    s.gate_w = gate[1];
    a.stdin_fd = gate[0];
    memset(&how, 0, sizeof how);
    how.callback = slow_callback;
    how.u.for_callback = &s;
    XLT_ASSERT_RC(xlt_childproc_run(s.ctx, &a, &r, &how), 0);
    close(gate[0]);
    XLT_ASSERT(pthread_create(&th, NULL, sync_timeout_thread, &s) == 0);
    XLT_ASSERT_RC(xlt_wait_for(s.ctx, 77), 0);
    pthread_join(th, NULL);
    XLT_ASSERT_RC(s.rc, ERROR_TIMEDOUT);
    XLT_ASSERT_MSG(!s.callback_over_at_done,
                   "the 300 ms timeout waited for another thread's callback");
    libxl_ctx_free(s.ctx);
    xlt_wait_no_children(10000);
}

/* ------------------------------------------------------------------ */
/* M1: SIG_IGN set between two ctxs                                    */

static void ignore_sigchld(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    XLT_ASSERT(sigaction(SIGCHLD, &sa, NULL) == 0);
}

static void run_exit_3_after_sig_ign(void)
{
    xlt_logger *l = xlt_logger_new();
    libxl_childproc_result r;
    libxl_ctx *ctx;

    ignore_sigchld();
    ctx = xlt_ctx_new(&l->lg);
    XLT_ASSERT_MSG(xlt_logger_count(l, LIBXL_LOG_WARN, "SIG_IGN") == 1,
                   "no warning for SIG_IGN; log:\n%s", l->text);
    XLT_ASSERT_RC(xlt_run_sh(ctx, "exit 3", &r), 0);
    XLT_ASSERT_EXITED(r.status, 3);
    libxl_ctx_free(ctx);
}

XLT_TEST(test_M1_sig_ign_set_between_two_ctxs_is_reset, 60)
{
    libxl_childproc_result r;
    libxl_ctx *ctx = xlt_ctx_new(NULL);

    XLT_ASSERT_RC(xlt_run_sh(ctx, "exit 2", &r), 0); /* the reaper starts */
    libxl_ctx_free(ctx);
    run_exit_3_after_sig_ign();
}

XLT_TEST(test_M1_sig_ign_in_fork_child_of_a_library_user_is_reset, 60)
{
    libxl_childproc_result r;
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    pid_t pid;
    int st;

    XLT_ASSERT_RC(xlt_run_sh(ctx, "exit 2", &r), 0);
    set_mode(ctx, libxl_sigchld_owner_mainloop); /* we reap the fork */
    pid = fork();
    if (pid == 0) {
        /* Under a sanitizer, a fork child of a threaded process must not
         * use malloc (XLT_UNDER_SANITIZER, harness.h): there, only the
         * parent side runs. */
        if (!XLT_UNDER_SANITIZER)
            run_exit_3_after_sig_ign(); /* fails the test if it fails */
        xlt_child_exit(0);
    }
    XLT_ASSERT(waitpid(pid, &st, 0) == pid);
    XLT_ASSERT_EXITED(st, 0);
    libxl_ctx_free(ctx);
}

/* M1: a SIGCHLD handler installed after the library's is still called (by
 * the reaper, which takes every SIGCHLD), and that is said once. */
static int late_calls;

static void late_handler(int sig)
{
    (void)sig;
    __atomic_add_fetch(&late_calls, 1, __ATOMIC_SEQ_CST);
}

XLT_TEST(test_M1_handler_installed_after_the_librarys_is_called, 60)
{
    xlt_logger *l = xlt_logger_new();
    libxl_ctx *ctx = xlt_ctx_new(&l->lg);
    libxl_childproc_result r;
    struct sigaction sa;
    int i;

    XLT_ASSERT_RC(xlt_run_sh(ctx, "exit 0", &r), 0); /* handler goes in */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = late_handler;
    sa.sa_flags = SA_RESTART;
    XLT_ASSERT(sigaction(SIGCHLD, &sa, NULL) == 0);
    for (i = 0; i < 5; i++) {
        XLT_ASSERT_RC(xlt_run_sh(ctx, "exit 6", &r), 0);
        XLT_ASSERT_EXITED(r.status, 6);
    }
    XLT_ASSERT_MSG(__atomic_load_n(&late_calls, __ATOMIC_SEQ_CST) >= 1,
                   "the handler installed after the library's never ran");
    XLT_ASSERT_MSG(xlt_logger_count(l, LIBXL_LOG_WARN, "installed after") == 1,
                   "not said once; log:\n%s", l->text);
    libxl_ctx_free(ctx);
}

/* ------------------------------------------------------------------ */
/* pid reuse across modes (R6, M4)                                     */

/* A child made with a chosen pid (clone3's set_tid: root, Linux 5.5), as
 * the kernel would make it after the pid wrapped around. */
static pid_t fork_with_pid(pid_t want)
{
    struct clone_args ca;

    memset(&ca, 0, sizeof ca);
    ca.exit_signal = SIGCHLD;
    ca.set_tid = (uint64_t)(uintptr_t)&want;
    ca.set_tid_size = 1;
    return (pid_t)syscall(SYS_clone3, &ca, sizeof ca);
}

static pid_t reuse_pid; /* for the fork_replacement below */

static pid_t fork_as_reused_pid(void *user)
{
    (void)user;
    return fork_with_pid(reuse_pid);
}

static bool can_choose_pids(void)
{
    pid_t want = getpid();
    int i;

    for (i = 0; i < 200; i++) {
        pid_t p;
        want = want + 1 < 32000 ? want + 1 : 400; /* under any pid_max */
        p = fork_with_pid(want);
        if (p == 0)
            _exit(0);
        if (p > 0) {
            waitpid(p, NULL, 0);
            return true;
        }
        if (errno != EEXIST)
            return false; /* EPERM: not root; ENOSYS: before Linux 5.5 */
    }
    return false;
}

/* An owner_mainloop ctx's child that the application has reaped but not
 * yet reported keeps its status when another ctx's child gets its pid. */
XLT_TEST(test_M4_status_kept_when_pid_reused_by_another_mode, 60)
{
    libxl_ctx *a, *b;
    libxl_childproc_hooks h;
    libxl_childproc_result ra, rb;
    char *argv5[] = {"/bin/sh", "-c", "exit 5", NULL};
    char *argv9[] = {"/bin/sh", "-c", "exit 9", NULL};
    libxl_childproc_args args9 = xlt_args(argv9);
    int st;

    if (!can_choose_pids()) {
        printf("SKIP: clone3 with set_tid is not allowed here (needs root)\n");
        return;
    }
    a = xlt_ctx_new(NULL);
    b = xlt_ctx_new(NULL);
    set_mode(a, libxl_sigchld_owner_mainloop);
    memset(&h, 0, sizeof h);
    h.chldowner = libxl_sigchld_owner_libxl_always_selective_reap;
    h.fork_replacement = fork_as_reused_pid;
    libxl_childproc_setmode(b, &h, NULL);

    xlt_start_event_run(a, argv5, 1, &ra);
    reuse_pid = waitpid(-1, &st, 0); /* the application reaps: a's child */
    XLT_ASSERT(reuse_pid > 0);
    XLT_ASSERT_EXITED(st, 5);
    /* b's child gets the same pid, before a heard of the exit. */
    XLT_ASSERT_RC(xlt_childproc_run(b, &args9, &rb, NULL), 0);
    XLT_ASSERT_EQ(rb.pid, reuse_pid);
    XLT_ASSERT_EXITED(rb.status, 9);
    XLT_ASSERT_RC(libxl_childproc_reaped(a, reuse_pid, st), 0);
    XLT_ASSERT_RC(xlt_wait_for(a, 1), 0);
    XLT_ASSERT_EXITED(ra.status, 5);
    libxl_ctx_free(b);
    libxl_ctx_free(a);
}

/* R6, S9: in owner_mainloop, the group of a timed-out run whose leader the
 * application has reaped is never signalled again: its number may be a
 * new group's by the time the report comes. */
XLT_TEST(test_R6_mainloop_report_never_kills_a_recycled_group, 60)
{
    libxl_ctx *ctx;
    char *argv[] = {"/bin/sh", "-c", "exec sleep 30", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    libxl_asyncop_how how;
    pid_t leader = -1, imposter;
    int st, gate[2];
    int64_t deadline;

    if (!can_choose_pids()) {
        printf("SKIP: clone3 with set_tid is not allowed here (needs root)\n");
        return;
    }
    ctx = xlt_ctx_new(NULL);
    set_mode(ctx, libxl_sigchld_owner_mainloop);
    a.new_process_group = 1;
    a.timeout_ms = 100;
    a.kill_grace_ms = 60000;
    memset(&how, 0, sizeof how);
    how.u.for_event = 1;
    memset(&r, 0, sizeof r);
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, &how), 0);
    /* The timeout's SIGTERM ends the leader; the application reaps it. */
    deadline = xlt_now_ms() + 20000;
    while (leader <= 0) {
        struct timeval now;
        gettimeofday(&now, NULL);
        libxl_osevent_afterpoll(ctx, 0, NULL, now); /* timeouts fire here */
        leader = waitpid(-1, &st, WNOHANG);
        XLT_ASSERT(xlt_now_ms() < deadline);
        xlt_sleep_ms(2);
    }
    XLT_ASSERT_KILLED(st, SIGTERM);
    /* A new process takes the pid, and makes the group of that number. */
    xlt_pipe(gate);
    imposter = fork_with_pid(leader);
    if (imposter == 0) {
        char c;
        setpgid(0, 0);
        close(gate[1]);
        while (read(gate[0], &c, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    XLT_ASSERT_EQ(imposter, leader);
    close(gate[0]);
    xlt_sleep_ms(20); /* its setpgid */
    XLT_ASSERT_RC(libxl_childproc_reaped(ctx, leader, st), 0);
    XLT_ASSERT_RC(xlt_wait_for(ctx, 1), ERROR_TIMEDOUT);
    xlt_sleep_ms(50);
    XLT_ASSERT_MSG(waitpid(imposter, &st, WNOHANG) == 0,
                   "the new group of the recycled number was killed"
                   " (status %#x)",
                   st);
    close(gate[1]);
    XLT_ASSERT(waitpid(imposter, &st, 0) == imposter);
    XLT_ASSERT_EXITED(st, 0);
    libxl_ctx_free(ctx);
}

/* S9, M4: a timed-out group run in owner_mainloop whose leader dies of
 * the SIGTERM while a member ignores it, in an application that calls
 * libxl_childproc_sigchld_occurred as each SIGCHLD comes, and only then.
 * The call finds the leader held for the grace.  No SIGCHLD comes after
 * the grace's SIGKILL (the member is the application's grandchild), so
 * the library collects the leader then by itself, and its record leaves
 * every list with it: the held leader was once put on the reaper's list
 * of children checked by pid and stayed there once freed (the second run
 * wrote into the first's freed record: AddressSanitizer), and once left
 * uncollected after the grace (the run never completed). */
static void mainloop_held_leader_run(libxl_ctx *ctx, uint64_t id)
{
    char *argv[] = {"/bin/sh", "-c",
                    "(trap '' TERM; exec sleep 5) & exec sleep 30", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    libxl_asyncop_how how;
    libxl_event *ev = NULL;
    int64_t deadline = xlt_now_ms() + 20000;
    sigset_t chld;
    int nsig = 0;

    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    XLT_ASSERT(pthread_sigmask(SIG_BLOCK, &chld, NULL) == 0);
    a.new_process_group = 1;
    a.timeout_ms = 200;
    a.kill_grace_ms = 300;
    memset(&how, 0, sizeof how);
    how.u.for_event = id;
    memset(&r, 0, sizeof r);
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, &how), 0);
    for (;;) {
        struct timespec ts = {0, 5 * 1000000L};
        struct timeval now;
        int rc, got = sigtimedwait(&chld, NULL, &ts) == SIGCHLD;

        xlt_in_libxl++;
        gettimeofday(&now, NULL);
        libxl_osevent_afterpoll(ctx, 0, NULL, now); /* timers fire here */
        if (got) {
            nsig++;
            libxl_childproc_sigchld_occurred(ctx);
        }
        rc = libxl_event_check(ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL);
        xlt_in_libxl--;
        if (rc == 0)
            break;
        XLT_ASSERT_MSG(xlt_now_ms() < deadline,
                       "run %d never completed (%d SIGCHLDs)", (int)id, nsig);
    }
    XLT_ASSERT_EQ(ev->for_user, id);
    XLT_ASSERT_RC(ev->u.operation_complete.rc, ERROR_TIMEDOUT);
    XLT_ASSERT_KILLED(r.status, SIGTERM);
    libxl_event_free(ctx, ev);
}

XLT_TEST(test_S9_mainloop_held_leader_leaves_no_trace, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);

    set_mode(ctx, libxl_sigchld_owner_mainloop);
    mainloop_held_leader_run(ctx, 1);
    mainloop_held_leader_run(ctx, 2);
    libxl_ctx_free(ctx);
    XLT_ASSERT_EQ(xlt_count_children(NULL), 0);
}

/* ------------------------------------------------------------------ */
/* E5: cancelled waiters                                               */

typedef struct {
    libxl_ctx *ctx;
    int in;
} cancel_rec;

static void *wait_forever(void *arg)
{
    cancel_rec *c = arg;
    libxl_event *ev = NULL;

    __atomic_store_n(&c->in, 1, __ATOMIC_SEQ_CST);
    libxl_event_wait(c->ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL);
    return ev;
}

static void *sync_sleep(void *arg)
{
    cancel_rec *c = arg;
    char *argv[] = {"/bin/sleep", "2", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;

    __atomic_store_n(&c->in, 1, __ATOMIC_SEQ_CST);
    libxl_childproc_run(c->ctx, &a, &r, NULL);
    return NULL;
}

static void cancel_in(void *(*fn)(void *))
{
    cancel_rec c = {xlt_ctx_new(NULL), 0};
    libxl_childproc_result r;
    pthread_t th;
    void *ret;

    XLT_ASSERT(pthread_create(&th, NULL, fn, &c) == 0);
    while (!__atomic_load_n(&c.in, __ATOMIC_SEQ_CST))
        xlt_sleep_ms(1);
    xlt_sleep_ms(100); /* asleep inside the library by now */
    XLT_ASSERT(pthread_cancel(th) == 0);
    XLT_ASSERT(pthread_join(th, &ret) == 0);
    XLT_ASSERT(ret == PTHREAD_CANCELED);
    /* The ctx is fully usable: an event goes to this thread, a synchronous
     * run completes, and ctx_free does not wait for the cancelled call. */
    xlt_start_exit(c.ctx, 4, 9, &r);
    XLT_ASSERT_RC(xlt_wait_for(c.ctx, 9), 0);
    XLT_ASSERT_EXITED(r.status, 4);
    XLT_ASSERT_RC(xlt_run_sh(c.ctx, "exit 8", &r), 0);
    XLT_ASSERT_EXITED(r.status, 8);
    XLT_ASSERT_RC(libxl_ctx_free(c.ctx), 0);
}

XLT_TEST(test_E5_cancelled_event_wait_leaves_ctx_usable, 60)
{
    cancel_in(wait_forever);
}

XLT_TEST(test_E5_cancelled_sync_run_leaves_ctx_usable, 60)
{
    cancel_in(sync_sleep);
    /* The abandoned run's child is still reaped, by the library. */
    xlt_wait_no_children(10000);
}

int main(void)
{
    static const xlt_case cases[] = {
        XLT_CASE(test_R2_traced_child_stop_is_not_death_default),
        XLT_CASE(test_R2_traced_child_stop_is_not_death_always),
        XLT_CASE(test_R2_traced_child_stop_is_not_death_selective),
        XLT_CASE(test_R2_traced_child_stop_is_not_death_mainloop),
        XLT_CASE(test_R2_traced_child_stop_is_not_death_default_no_pidfd),
        XLT_CASE(test_R2_traced_child_stop_is_not_death_selective_no_pidfd),
        XLT_CASE(test_R2_traced_child_stop_is_not_death_mainloop_no_pidfd),
        XLT_CASE(test_M5_app_traced_child_reaped_once_with_its_exit),
        XLT_CASE(test_O2_sync_run_timeout_fires_in_a_callback),
        XLT_CASE(test_O2_slow_callback_does_not_delay_other_threads_timeout),
        XLT_CASE(test_M1_sig_ign_set_between_two_ctxs_is_reset),
        XLT_CASE(test_M1_sig_ign_in_fork_child_of_a_library_user_is_reset),
        XLT_CASE(test_M1_handler_installed_after_the_librarys_is_called),
        XLT_CASE(test_M4_status_kept_when_pid_reused_by_another_mode),
        XLT_CASE(test_R6_mainloop_report_never_kills_a_recycled_group),
        XLT_CASE(test_S9_mainloop_held_leader_leaves_no_trace),
        XLT_CASE(test_E5_cancelled_event_wait_leaves_ctx_usable),
        XLT_CASE(test_E5_cancelled_sync_run_leaves_ctx_usable),
    };
    return xlt_main("reliability", cases, sizeof cases / sizeof cases[0]);
}
