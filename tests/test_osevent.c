/*
 * test_osevent.c - main-loop integration (O1-O3), with Xen
 * 4.17's libxl_event.h deciding what §8 leaves open.
 *
 * Two ways of driving a ctx are exercised, single-threaded (but for the
 * lock-hierarchy test) and never calling libxl_event_wait:
 *
 *  - beforepoll / poll(2) / afterpoll, then libxl_event_check;
 *  - libxl_osevent_register_hooks with a small "application event loop"
 *    (struct app below) that keeps a register of the fds and timeouts the
 *    library asked for, polls them and calls libxl_osevent_occurred_fd /
 *    _occurred_timeout.  Its hooks check the rules the library must keep:
 *    they are only ever called from a thread that is inside a libxl call
 *    made by the test (never from the reaper), timeout_modify only with
 *    abs = {0,0} and only on a live registration, nothing touched after it
 *    was reported through occurred_timeout or deregistered, and no hook at
 *    all once libxl_ctx_free has returned.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define OC_BIT (1ULL << LIBXL_EVENT_TYPE_OPERATION_COMPLETE)

static char *argv_true[] = {"/bin/true", NULL};
static char *argv_exit7[] = {"/bin/sh", "-c", "exit 7", NULL};
static char *argv_sleep30[] = {"/bin/sleep", "30", NULL};
static char *argv_sleep_03[] = {"/bin/sleep", "0.3", NULL};
/* A child that ignores SIGTERM (SIG_IGN survives exec): only the SIGKILL
 * after kill_grace_ms ends it.  It says "ready" once it ignores it. */
static char *argv_sleep30_ignoring_term[] = {
    "/bin/sh", "-c", "trap '' TERM; echo ready; exec /bin/sleep 30", NULL};

/* ------------------------------------------------------------------ */
/* Calls into libxl, marked as such for the callbacks' and hooks' checks */

static struct timeval tv_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tv;
}

static int os_beforepoll(libxl_ctx *ctx, int *nfds, struct pollfd *fds,
                         int *timeout)
{
    int rc;
    xlt_in_libxl++;
    rc = libxl_osevent_beforepoll(ctx, nfds, fds, timeout, tv_now());
    xlt_in_libxl--;
    return rc;
}

static void os_afterpoll(libxl_ctx *ctx, int nfds, const struct pollfd *fds)
{
    xlt_in_libxl++;
    libxl_osevent_afterpoll(ctx, nfds, fds, tv_now());
    xlt_in_libxl--;
}

static void os_occurred_fd(libxl_ctx *ctx, void *for_libxl, int fd,
                           short events, short revents)
{
    xlt_in_libxl++;
    libxl_osevent_occurred_fd(ctx, for_libxl, fd, events, revents);
    xlt_in_libxl--;
}

static void os_occurred_timeout(libxl_ctx *ctx, void *for_libxl)
{
    xlt_in_libxl++;
    libxl_osevent_occurred_timeout(ctx, for_libxl);
    xlt_in_libxl--;
}

static void os_register_hooks(libxl_ctx *ctx, const libxl_osevent_hooks *h,
                              void *user)
{
    xlt_in_libxl++;
    libxl_osevent_register_hooks(ctx, h, user);
    xlt_in_libxl--;
}

static void ctx_free(libxl_ctx *ctx)
{
    xlt_in_libxl++;
    XLT_ASSERT_RC(libxl_ctx_free(ctx), 0);
    xlt_in_libxl--;
}

/* ------------------------------------------------------------------ */
/* Runs and their completions                                          */

#define MAXRUNS 1000

static libxl_childproc_result g_res[MAXRUNS];
static int g_rc[MAXRUNS];
static int g_done[MAXRUNS];
static int g_ndone;
static int g_started;

static void note_done(int i, int rc)
{
    XLT_ASSERT_MSG(i >= 0 && i < MAXRUNS, "completion for unknown run %d", i);
    XLT_ASSERT_MSG(i < g_started, "completion for run %d never started", i);
    XLT_ASSERT_MSG(!g_done[i], "run %d completed twice", i);
    g_done[i] = 1;
    g_rc[i] = rc;
    g_ndone++;
}

/* Called back for completions; optionally starts more runs from inside the
 * callback (which is inside a libxl call: the osevent hooks are then called
 * from within occurred_fd / afterpoll). */
static void (*g_refill)(libxl_ctx *ctx);

static void cb_done(libxl_ctx *ctx, int rc, void *for_callback)
{
    XLT_ASSERT_MSG(xlt_in_libxl > 0,
                   "completion callback outside a libxl call of the test");
    note_done((int)(intptr_t)for_callback, rc);
    if (g_refill)
        g_refill(ctx);
}

static libxl_childproc_args args_for(char **argv, int timeout_ms,
                                     int kill_grace_ms)
{
    libxl_childproc_args a = xlt_args(argv);
    a.timeout_ms = timeout_ms;
    a.kill_grace_ms = kill_grace_ms;
    return a;
}

/* How run i completes: as a callback, or as an event whose for_user is i.
 * Counts run i as started. */
static libxl_asyncop_how how_for(int i, int by_callback)
{
    libxl_asyncop_how how;

    XLT_ASSERT(i < MAXRUNS);
    memset(&how, 0, sizeof how);
    if (by_callback) {
        how.callback = cb_done;
        how.u.for_callback = (void *)(intptr_t)i;
    } else {
        how.u.for_event = (libxl_ev_user)i;
    }
    if (i >= g_started)
        g_started = i + 1;
    return how;
}

/* Starts run i; its completion comes as a callback or as an event whose
 * for_user is i.  Returns libxl_childproc_run's rc. */
static int try_start(libxl_ctx *ctx, int i, char **argv, int timeout_ms,
                     int kill_grace_ms, int by_callback)
{
    libxl_childproc_args a = args_for(argv, timeout_ms, kill_grace_ms);
    libxl_asyncop_how how = how_for(i, by_callback);

    return xlt_childproc_run(ctx, &a, &g_res[i], &how);
}

static void start(libxl_ctx *ctx, int i, char **argv, int timeout_ms,
                  int kill_grace_ms, int by_callback)
{
    XLT_ASSERT_RC(
        try_start(ctx, i, argv, timeout_ms, kill_grace_ms, by_callback), 0);
}

/* Starts run i as argv_sleep30_ignoring_term and returns once the child
 * ignores SIGTERM (so that it cannot die of a SIGTERM sent early). */
static void start_ignoring_term(libxl_ctx *ctx, int i, int timeout_ms,
                                int kill_grace_ms, int by_callback)
{
    libxl_childproc_args a =
        args_for(argv_sleep30_ignoring_term, timeout_ms, kill_grace_ms);
    libxl_asyncop_how how = how_for(i, by_callback);
    char line[32];
    int p[2];

    xlt_pipe(p);
    a.stdout_fd = p[1];
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &g_res[i], &how), 0);
    close(p[1]);
    xlt_read_line(p[0], line, sizeof line);
    XLT_ASSERT_STREQ(line, "ready");
    close(p[0]);
}

/* Starts run i as a child that exits 7 once the returned fd is closed:
 * its completion cannot happen inside libxl_childproc_run itself. */
static char *argv_gated_exit7[] = {"/bin/sh", "-c", "read x; exit 7", NULL};

static int start_gated(libxl_ctx *ctx, int i, int timeout_ms, int by_callback)
{
    libxl_childproc_args a = args_for(argv_gated_exit7, timeout_ms, 0);
    libxl_asyncop_how how = how_for(i, by_callback);
    int p[2];

    xlt_pipe(p);
    a.stdin_fd = p[0];
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &g_res[i], &how), 0);
    close(p[0]);
    return p[1];
}

/* Takes every queued completion event with event_check; returns how many. */
static int drain_events(libxl_ctx *ctx)
{
    int n = 0;
    for (;;) {
        libxl_event *ev = NULL;
        int rc = xlt_event_check(ctx, &ev, OC_BIT, NULL, NULL);
        if (rc == ERROR_NOT_READY) {
            XLT_ASSERT(ev == NULL);
            return n;
        }
        XLT_ASSERT_RC(rc, 0);
        XLT_ASSERT(ev != NULL);
        XLT_ASSERT_EQ(ev->type, LIBXL_EVENT_TYPE_OPERATION_COMPLETE);
        note_done((int)ev->for_user, ev->u.operation_complete.rc);
        libxl_event_free(ctx, ev);
        n++;
    }
}

/* ------------------------------------------------------------------ */
/* The beforepoll / afterpoll style                                    */

typedef struct {
    struct pollfd *fds;
    int nalloc; /* entries in fds */
    int n;      /* entries in use, from the last beforepoll */
} pollset;

/* beforepoll, growing the array on ERROR_BUFFERFULL as Xen's header says;
 * returns the poll timeout, starting from `timeout`. */
static int ps_before(libxl_ctx *ctx, pollset *ps, int timeout)
{
    int tries;

    for (tries = 0; tries < 4; tries++) {
        int n = ps->nalloc;
        int rc = os_beforepoll(ctx, &n, ps->fds, &timeout);
        if (rc == 0) {
            XLT_ASSERT_MSG(n >= 1 && n <= ps->nalloc,
                           "beforepoll succeeded with *nfds_io = %d (space %d)",
                           n, ps->nalloc);
            ps->n = n;
            return timeout;
        }
        XLT_ASSERT_RC(rc, ERROR_BUFFERFULL);
        XLT_ASSERT_MSG(n > ps->nalloc,
                       "ERROR_BUFFERFULL did not raise *nfds_io (%d, space %d)",
                       n, ps->nalloc);
        ps->fds = realloc(ps->fds, (size_t)n * sizeof *ps->fds);
        XLT_ASSERT(ps->fds != NULL);
        ps->nalloc = n;
    }
    XLT_FAIL("beforepoll kept returning ERROR_BUFFERFULL");
}

/* poll(2) on the set; returns poll's result. */
static int ps_poll(pollset *ps, int timeout)
{
    int r;
    do
        r = poll(ps->fds, (nfds_t)ps->n, timeout);
    while (r < 0 && errno == EINTR);
    XLT_ASSERT_MSG(r >= 0, "poll: %s", strerror(errno));
    return r;
}

/* One turn of the loop in Xen's header: beforepoll, poll, afterpoll,
 * event_check until ERROR_NOT_READY.  The poll timeout is the library's,
 * capped at cap_ms (a hang bound).  Returns poll's result; *progress_r
 * gets the number of completions (callbacks and events) of this turn. */
static int ps_turn(libxl_ctx *ctx, pollset *ps, int cap_ms, int *timeout_r,
                   int *progress_r)
{
    int timeout = ps_before(ctx, ps, -1);
    int before = g_ndone, r;

    if (timeout_r)
        *timeout_r = timeout;
    r = ps_poll(ps, timeout < 0 || timeout > cap_ms ? cap_ms : timeout);
    os_afterpoll(ctx, ps->n, ps->fds);
    drain_events(ctx);
    if (progress_r)
        *progress_r = g_ndone - before;
    return r;
}

/* Runs the loop until `target` runs have completed; fails after hang_ms. */
static void ps_loop_until(libxl_ctx *ctx, pollset *ps, int target, int hang_ms)
{
    int64_t deadline = xlt_now_ms() + hang_ms;
    while (g_ndone < target) {
        XLT_ASSERT_MSG(xlt_now_ms() < deadline,
                       "only %d of %d runs completed after %d ms", g_ndone,
                       target, hang_ms);
        ps_turn(ctx, ps, 1000, NULL, NULL);
    }
}

static void ps_free(pollset *ps)
{
    free(ps->fds);
    memset(ps, 0, sizeof *ps);
}

/* ------------------------------------------------------------------ */
/* beforepoll: the buffer protocol and the timeout                     */

XLT_TEST(test_beforepoll_bufferfull_reports_needed_count, 30)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    struct pollfd *big;
    int n = 0, n2, timeout = -1, i;

    /* Xen: "The application may call beforepoll with fds==NULL and
     * *nfds_io==0 in order to find out how much space is needed." */
    XLT_ASSERT_RC(os_beforepoll(ctx, &n, NULL, &timeout), ERROR_BUFFERFULL);
    XLT_ASSERT_MSG(n >= 1, "ERROR_BUFFERFULL with *nfds_io = %d", n);

    /* The library's part may be in the middle of the application's array:
     * 3 entries of "its own" before, 2 sentinels after. */
    big = calloc((size_t)n + 5, sizeof *big);
    XLT_ASSERT(big != NULL);
    for (i = 0; i < n + 5; i++) {
        big[i].fd = 1000 + i;
        big[i].events = 0x5a5;
        big[i].revents = 0x77;
    }
    n2 = n;
    timeout = -1;
    XLT_ASSERT_RC(os_beforepoll(ctx, &n2, big + 3, &timeout), 0);
    XLT_ASSERT_EQ(n2, n);
    XLT_ASSERT_EQ(timeout, -1); /* no timeout pending: nothing to reduce */
    for (i = 0; i < 3; i++) {
        XLT_ASSERT_EQ(big[i].fd, 1000 + i);
        XLT_ASSERT_EQ(big[i].events, 0x5a5);
    }
    for (i = n + 3; i < n + 5; i++) {
        XLT_ASSERT_EQ(big[i].fd, 1000 + i);
        XLT_ASSERT_EQ(big[i].events, 0x5a5);
        XLT_ASSERT_EQ(big[i].revents, 0x77);
    }
    for (i = 3; i < n + 3; i++) {
        XLT_ASSERT_MSG(big[i].fd >= 0 && fcntl(big[i].fd, F_GETFD) != -1,
                       "beforepoll reported fd %d, which is not open",
                       big[i].fd);
        XLT_ASSERT_MSG(big[i].events & POLLIN, "fd %d polled without POLLIN",
                       big[i].fd);
    }
    /* Asking again with the right size keeps working. */
    n2 = n + 2;
    XLT_ASSERT_RC(os_beforepoll(ctx, &n2, big + 3, &timeout), 0);
    XLT_ASSERT_EQ(n2, n);
    free(big);
    ctx_free(ctx);
}

XLT_TEST(test_O2_beforepoll_timeout_only_ever_reduced, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    pollset ps = {NULL, 0, 0};
    int t;

    /* Idle: whatever the application asks for stays as it is. */
    XLT_ASSERT_EQ(ps_before(ctx, &ps, -1), -1);
    XLT_ASSERT_EQ(ps_before(ctx, &ps, 50), 50);
    XLT_ASSERT_EQ(ps_before(ctx, &ps, 0), 0);

    /* A timed operation: "infinite" becomes finite and at most its
     * timeout; smaller values are never raised. */
    start(ctx, 0, argv_sleep30, 10000, 0, 0);
    t = ps_before(ctx, &ps, -1);
    XLT_ASSERT_MSG(t >= 0 && t <= 10000,
                   "timeout -1 with a 10 s timeout pending became %d", t);
    XLT_ASSERT_EQ(ps_before(ctx, &ps, 5), 5);
    XLT_ASSERT_EQ(ps_before(ctx, &ps, 0), 0);
    t = ps_before(ctx, &ps, 20000);
    XLT_ASSERT_MSG(t >= 0 && t <= 10000,
                   "timeout 20000 with a 10 s timeout pending became %d", t);
    t = ps_before(ctx, &ps, INT_MAX);
    XLT_ASSERT_MSG(t >= 0 && t <= 10000,
                   "timeout INT_MAX with a 10 s timeout pending became %d", t);

    /* The same through the buffer-size query (fds == NULL). */
    {
        int n = 0;
        t = -1;
        XLT_ASSERT_RC(os_beforepoll(ctx, &n, NULL, &t), ERROR_BUFFERFULL);
        XLT_ASSERT_MSG(t == -1 || (t >= 0 && t <= 10000),
                       "timeout became %d on ERROR_BUFFERFULL", t);
    }

    /* Cut it short; the abort completes in the poll loop. */
    {
        libxl_asyncop_how how;
        memset(&how, 0, sizeof how);
        how.u.for_event = 0;
        XLT_ASSERT_RC(libxl_ao_abort(ctx, &how), 0);
    }
    ps_loop_until(ctx, &ps, 1, 20000);
    XLT_ASSERT_RC(g_rc[0], ERROR_ABORTED);
    XLT_ASSERT_KILLED(g_res[0].status, SIGTERM);
    /* Nothing pending any more: no reduction. */
    XLT_ASSERT_EQ(ps_before(ctx, &ps, -1), -1);
    ps_free(&ps);
    ctx_free(ctx);
}

/* ------------------------------------------------------------------ */
/* O1: the wakeup fd                                                   */

/* Which of the reported fds are readable now (poll with timeout_ms). */
static int ps_readable(pollset *ps, int timeout_ms)
{
    int r = ps_poll(ps, timeout_ms), i, n = 0;
    for (i = 0; i < ps->n; i++) {
        XLT_ASSERT_MSG(!(ps->fds[i].revents & (POLLERR | POLLNVAL)),
                       "fd %d: revents %#x", ps->fds[i].fd, ps->fds[i].revents);
        if (ps->fds[i].revents & POLLIN)
            n++;
    }
    XLT_ASSERT_EQ(r, n);
    return n;
}

XLT_TEST(test_O1_wakeup_fd_readable_only_with_work, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    pollset ps = {NULL, 0, 0};
    int gate;

    XLT_ASSERT_EQ(ps_before(ctx, &ps, -1), -1);
    XLT_ASSERT_EQ(ps_readable(&ps, 200), 0); /* idle: nothing to do */

    /* 1. Completion by event: readable once the status is queued, still
     * readable while the event is queued, clear once it was taken. */
    start(ctx, 0, argv_true, 0, 0, 0);
    XLT_ASSERT_MSG(ps_readable(&ps, 20000) > 0,
                   "no fd readable 20 s after /bin/true was started");
    os_afterpoll(ctx, ps.n, ps.fds);
    XLT_ASSERT_EQ(g_ndone, 0);
    XLT_ASSERT_MSG(ps_readable(&ps, 0) > 0,
                   "not readable while a completion event is queued");
    XLT_ASSERT_EQ(drain_events(ctx), 1);
    XLT_ASSERT_RC(g_rc[0], 0);
    XLT_ASSERT_EXITED(g_res[0].status, 0);
    XLT_ASSERT_EQ(ps_readable(&ps, 0), 0); /* consumed: no busy wakeup */
    XLT_ASSERT_EQ(ps_before(ctx, &ps, -1), -1);
    XLT_ASSERT_EQ(ps_readable(&ps, 200), 0);

    /* 2. Completion by callback, made in afterpoll: clear afterwards. */
    gate = start_gated(ctx, 1, 0, 1);
    XLT_ASSERT_EQ(ps_readable(&ps, 200), 0); /* running: nothing to do */
    close(gate);
    XLT_ASSERT_MSG(ps_readable(&ps, 20000) > 0,
                   "no fd readable 20 s after the child was let go");
    XLT_ASSERT_EQ(g_ndone, 1);
    os_afterpoll(ctx, ps.n, ps.fds);
    XLT_ASSERT_EQ(g_ndone, 2);
    XLT_ASSERT_RC(g_rc[1], 0);
    XLT_ASSERT_EXITED(g_res[1].status, 7);
    XLT_ASSERT_EQ(ps_readable(&ps, 0), 0);
    XLT_ASSERT_EQ(ps_before(ctx, &ps, -1), -1);
    XLT_ASSERT_EQ(ps_readable(&ps, 200), 0);

    /* 3. Consumed by event_check alone (it processes queued statuses). */
    start(ctx, 2, argv_true, 0, 0, 0);
    XLT_ASSERT(ps_readable(&ps, 20000) > 0);
    XLT_ASSERT_EQ(drain_events(ctx), 1);
    XLT_ASSERT_RC(g_rc[2], 0);
    XLT_ASSERT_EQ(ps_readable(&ps, 0), 0);
    XLT_ASSERT_EQ(ps_before(ctx, &ps, -1), -1);
    XLT_ASSERT_EQ(ps_readable(&ps, 200), 0);
    ps_free(&ps);
    ctx_free(ctx);
}

XLT_TEST(test_O1_status_queued_before_first_beforepoll_is_seen, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    pollset ps = {NULL, 0, 0};

    /* The child may well be reaped before anyone asked for the fd. */
    start(ctx, 0, argv_true, 0, 0, 0);
    xlt_sleep_ms(300);
    XLT_ASSERT_EQ(ps_before(ctx, &ps, -1), -1);
    XLT_ASSERT_MSG(ps_readable(&ps, 20000) > 0,
                   "work queued before the first beforepoll never showed");
    os_afterpoll(ctx, ps.n, ps.fds);
    XLT_ASSERT_EQ(drain_events(ctx), 1);
    XLT_ASSERT_RC(g_rc[0], 0);
    XLT_ASSERT_EQ(ps_readable(&ps, 0), 0);
    ps_free(&ps);
    ctx_free(ctx);
}

/* ------------------------------------------------------------------ */
/* The single-threaded poll loop                                       */

#define LOOP_RUNS 1000
#define LOOP_INFLIGHT 50

XLT_TEST(test_poll_loop_1000_async_runs_without_event_wait, 180)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    pollset ps = {NULL, 0, 0};
    int64_t deadline = xlt_now_ms() + 150000;
    int turns = 0, empty_wakeups = 0, i;

    while (g_ndone < LOOP_RUNS) {
        int timeout, progress, r;

        while (g_started < LOOP_RUNS && g_started - g_ndone < LOOP_INFLIGHT)
            start(ctx, g_started, argv_true, 0, 0, g_started % 2);
        XLT_ASSERT_MSG(xlt_now_ms() < deadline, "only %d of %d runs completed",
                       g_ndone, LOOP_RUNS);
        r = ps_turn(ctx, &ps, 30000, &timeout, &progress);
        XLT_ASSERT_EQ(timeout, -1); /* no run has a timeout */
        XLT_ASSERT_MSG(r > 0 || progress > 0,
                       "poll slept 30 s with %d runs in flight",
                       g_started - g_ndone);
        /* The fd was readable, so there was work: a wakeup that finds
         * nothing to complete is a busy wakeup. */
        if (progress == 0)
            empty_wakeups++;
        turns++;
    }
    XLT_ASSERT_MSG(empty_wakeups == 0, "%d of %d poll wakeups found no work",
                   empty_wakeups, turns);
    for (i = 0; i < LOOP_RUNS; i++) {
        XLT_ASSERT_EQ(g_done[i], 1);
        XLT_ASSERT_RC(g_rc[i], 0);
        XLT_ASSERT(g_res[i].pid > 0);
        XLT_ASSERT_EXITED(g_res[i].status, 0);
    }
    /* Idle again: nothing readable, nothing left. */
    XLT_ASSERT_EQ(ps_before(ctx, &ps, -1), -1);
    XLT_ASSERT_EQ(ps_readable(&ps, 100), 0);
    xlt_wait_no_children(10000);
    ps_free(&ps);
    ctx_free(ctx);
}

XLT_TEST(test_O2_timeout_fires_in_afterpoll, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    pollset ps = {NULL, 0, 0};
    int turns = 0;

    start(ctx, 0, argv_sleep30, 200, 0, 0);
    start(ctx, 1, argv_sleep30, 200, 0, 1);
    while (g_ndone < 2) {
        int timeout;
        ps_turn(ctx, &ps, 20000, &timeout, NULL);
        /* While timed runs are pending the poll has a finite timeout. */
        XLT_ASSERT_MSG(g_ndone == 2 || timeout >= 0,
                       "timeout %d with a timed run pending", timeout);
        XLT_ASSERT_MSG(++turns < 200,
                       "%d turns for two 200 ms timeouts: a busy loop", turns);
    }
    XLT_ASSERT_RC(g_rc[0], ERROR_TIMEDOUT);
    XLT_ASSERT_RC(g_rc[1], ERROR_TIMEDOUT);
    XLT_ASSERT_KILLED(g_res[0].status, SIGTERM);
    XLT_ASSERT_KILLED(g_res[1].status, SIGTERM);
    ps_free(&ps);
    ctx_free(ctx);
}

XLT_TEST(test_O2_kill_grace_fires_in_afterpoll, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    pollset ps = {NULL, 0, 0};

    start_ignoring_term(ctx, 0, 1000, 300, 0);
    ps_loop_until(ctx, &ps, 1, 20000);
    XLT_ASSERT_RC(g_rc[0], ERROR_TIMEDOUT);
    XLT_ASSERT_KILLED(g_res[0].status, SIGKILL);
    XLT_ASSERT_EQ(ps_before(ctx, &ps, -1), -1); /* grace timer gone too */
    ps_free(&ps);
    ctx_free(ctx);
}

/* ------------------------------------------------------------------ */
/* The hooks style: a small application event loop                     */

/* T_DUE: taken as due by the application, to be reported; T_REPORTING:
 * inside occurred_timeout for it (in thread `reporter`); T_FIRED: that call
 * has returned.  Xen's header asks the application to cope with a
 * timeout_modify racing with its report (the library then ignores the
 * report): so a modify is fine in T_DUE, and in T_REPORTING from another
 * thread -- but not from inside the occurred_timeout call itself, on entry
 * to which "the timeout has been deregistered", nor after it. */
typedef enum { T_LIVE = 1, T_DUE, T_REPORTING, T_FIRED, T_DEREGISTERED } tstate;

typedef struct {
    int id;
    struct timeval when;
    void *for_libxl;
    tstate state;
    pthread_t reporter; /* in T_REPORTING */
    int modified;       /* timeout_modify calls (abs {0,0}: fire ASAP) */
} app_timeout;

typedef struct {
    int registered;
    int fd;
    short events;
    void *for_libxl;
} app_fd;

#define APP_MAXFD 8
#define APP_MAXT 4096

static struct {
    app_fd fds[APP_MAXFD];
    app_timeout *t[APP_MAXT];
    int nt;
    int fd_register, fd_modify, fd_deregister;
    int timeout_register, timeout_modify, timeout_deregister;
    int fail_fd_register;      /* returned by fd_register when non-zero */
    int fail_timeout_register; /* likewise */
    int closed;                /* libxl_ctx_free returned: no more hooks */
} app;

/* The application's register lock.  Xen's lock hierarchy, rule (a): the
 * hooks take it (perhaps with library locks held), and the application
 * never calls into libxl while holding it.  Error-checking, so that a hook
 * called while this thread holds it -- from inside a libxl call made with
 * it held, which the application never does -- is reported. */
static pthread_mutex_t app_mu;

static void app_lock(void)
{
    int e = pthread_mutex_lock(&app_mu);
    XLT_ASSERT_MSG(e == 0, "application register lock: %s", strerror(e));
}

static void app_unlock(void)
{
    XLT_ASSERT(pthread_mutex_unlock(&app_mu) == 0);
}

/* Checks common to every hook, then takes the register lock. */
static void hook_common(void *user, const char *what)
{
    XLT_ASSERT_MSG(user == &app, "%s: wrong user pointer", what);
    XLT_ASSERT_MSG(!app.closed, "%s called after libxl_ctx_free returned",
                   what);
    XLT_ASSERT_MSG(xlt_in_libxl > 0,
                   "%s called outside a libxl call of the application "
                   "(from a library thread?)",
                   what);
    app_lock();
}

static int hk_fd_register(void *user, int fd, void **for_app_out, short events,
                          void *for_libxl)
{
    int i;

    hook_common(user, "fd_register");
    app.fd_register++;
    XLT_ASSERT_MSG(*for_app_out == NULL,
                   "fd_register: *for_app_registration_out not NULL on entry");
    if (app.fail_fd_register) {
        *for_app_out = (void *)&app; /* ignored by libxl on failure */
        app_unlock();
        return app.fail_fd_register;
    }
    for (i = 0; i < APP_MAXFD; i++)
        XLT_ASSERT_MSG(!app.fds[i].registered || app.fds[i].fd != fd ||
                           ((app.fds[i].events & events) == 0),
                       "fd %d registered twice for the same events", fd);
    for (i = 0; i < APP_MAXFD && app.fds[i].registered; i++)
        ;
    XLT_ASSERT(i < APP_MAXFD);
    app.fds[i].registered = 1;
    app.fds[i].fd = fd;
    app.fds[i].events = events;
    app.fds[i].for_libxl = for_libxl;
    *for_app_out = &app.fds[i];
    app_unlock();
    return 0;
}

static int hk_fd_modify(void *user, int fd, void **for_app_update, short events)
{
    app_fd *f = *for_app_update;

    hook_common(user, "fd_modify");
    app.fd_modify++;
    XLT_ASSERT(f >= app.fds && f < app.fds + APP_MAXFD);
    XLT_ASSERT_MSG(f->registered && f->fd == fd,
                   "fd_modify of an fd that is not registered");
    f->events = events;
    app_unlock();
    return 0;
}

static void hk_fd_deregister(void *user, int fd, void *for_app)
{
    app_fd *f = for_app;

    hook_common(user, "fd_deregister");
    app.fd_deregister++;
    XLT_ASSERT(f >= app.fds && f < app.fds + APP_MAXFD);
    XLT_ASSERT_MSG(f->registered && f->fd == fd,
                   "fd_deregister of an fd that is not registered");
    f->registered = 0;
    app_unlock();
}

static int hk_timeout_register(void *user, void **for_app_out,
                               struct timeval when, void *for_libxl)
{
    app_timeout *t;

    hook_common(user, "timeout_register");
    app.timeout_register++;
    XLT_ASSERT_MSG(*for_app_out == NULL,
                   "timeout_register: *for_app_registration_out not NULL");
    if (app.fail_timeout_register) {
        *for_app_out = (void *)&app; /* ignored by libxl on failure */
        app_unlock();
        return app.fail_timeout_register;
    }
    XLT_ASSERT(app.nt < APP_MAXT);
    t = calloc(1, sizeof *t);
    XLT_ASSERT(t != NULL);
    t->id = app.nt;
    t->when = when;
    t->for_libxl = for_libxl;
    t->state = T_LIVE;
    app.t[app.nt++] = t;
    *for_app_out = t;
    app_unlock();
    return 0;
}

static int hk_timeout_modify(void *user, void **for_app_update,
                             struct timeval when)
{
    app_timeout *t = *for_app_update;

    hook_common(user, "timeout_modify");
    app.timeout_modify++;
    XLT_ASSERT(t != NULL && t->id >= 0 && t->id < app.nt && app.t[t->id] == t);
    XLT_ASSERT_MSG(when.tv_sec == 0 && when.tv_usec == 0,
                   "timeout_modify with abs {%ld,%ld}, not {0,0}",
                   (long)when.tv_sec, (long)when.tv_usec);
    XLT_ASSERT_MSG(t->state == T_LIVE || t->state == T_DUE ||
                       (t->state == T_REPORTING &&
                        !pthread_equal(t->reporter, pthread_self())),
                   "timeout_modify of registration %d %s", t->id,
                   t->state == T_FIRED       ? "after occurred_timeout for it"
                   : t->state == T_REPORTING ? "inside occurred_timeout for it"
                                             : "after it was deregistered");
    t->modified++;
    app_unlock();
    return 0;
}

static void hk_timeout_deregister(void *user, void *for_app)
{
    app_timeout *t = for_app;

    hook_common(user, "timeout_deregister");
    app.timeout_deregister++;
    XLT_ASSERT(t != NULL && t->id >= 0 && t->id < app.nt && app.t[t->id] == t);
    XLT_ASSERT_MSG(
        t->state == T_LIVE, "timeout_deregister of registration %d %s", t->id,
        t->state == T_FIRED          ? "after occurred_timeout for it"
        : t->state == T_DEREGISTERED ? "twice"
                                     : "while occurred_timeout for it runs");
    t->state = T_DEREGISTERED;
    app_unlock();
}

static const libxl_osevent_hooks app_hooks = {
    .fd_register = hk_fd_register,
    .fd_modify = hk_fd_modify,
    .fd_deregister = hk_fd_deregister,
    .timeout_register = hk_timeout_register,
    .timeout_modify = hk_timeout_modify,
    .timeout_deregister = hk_timeout_deregister,
};

static int app_nfds(void)
{
    int i, n = 0;
    for (i = 0; i < APP_MAXFD; i++)
        n += app.fds[i].registered;
    return n;
}

static int app_nlive(void)
{
    int i, n = 0;
    for (i = 0; i < app.nt; i++)
        n += app.t[i]->state == T_LIVE;
    return n;
}

/* Milliseconds from now until the abs t was registered with (0: past). */
static long long app_abs_in(const app_timeout *t)
{
    struct timeval now = tv_now();
    long long us;

    us = (long long)(t->when.tv_sec - now.tv_sec) * 1000000 +
         (t->when.tv_usec - now.tv_usec);
    return us <= 0 ? 0 : (us + 999) / 1000;
}

/* Milliseconds from now until t is due (0: due; ASAP after a modify). */
static long long app_due_in(const app_timeout *t)
{
    return t->modified ? 0 : app_abs_in(t);
}

/* Reports timeout t through occurred_timeout (it is forgotten first, as
 * Xen's header says: "on entry ... the timeout has been deregistered"). */
static void app_report(libxl_ctx *ctx, app_timeout *t)
{
    void *for_libxl;

    app_lock();
    t->state = T_REPORTING;
    t->reporter = pthread_self();
    for_libxl = t->for_libxl;
    app_unlock();
    os_occurred_timeout(ctx, for_libxl);
    app_lock();
    t->state = T_FIRED;
    app_unlock();
}

static void app_fire(libxl_ctx *ctx, app_timeout *t)
{
    app_lock();
    XLT_ASSERT(t->state == T_LIVE);
    t->state = T_DUE;
    app_unlock();
    app_report(ctx, t);
}

/* One turn of the application's loop: poll the registered fds until the
 * first live timeout is due (at most cap_ms), report what happened, then
 * take the queued events.  With fire_timeouts == 0, timeouts are left
 * alone.  Returns the number of fds reported readable. */
static int app_turn(libxl_ctx *ctx, int cap_ms, int fire_timeouts)
{
    struct pollfd pfd[APP_MAXFD];
    app_fd *which[APP_MAXFD];
    app_timeout **due;
    long long wait = cap_ms;
    int i, n = 0, r, ndue = 0, readable = 0;

    app_lock();
    for (i = 0; i < APP_MAXFD; i++) {
        if (!app.fds[i].registered)
            continue;
        pfd[n].fd = app.fds[i].fd;
        pfd[n].events = app.fds[i].events;
        pfd[n].revents = 0;
        which[n++] = &app.fds[i];
    }
    if (fire_timeouts) {
        for (i = 0; i < app.nt; i++) {
            if (app.t[i]->state == T_LIVE) {
                long long d = app_due_in(app.t[i]);
                if (d < wait)
                    wait = d;
            }
        }
    }
    app_unlock();
    do
        r = poll(pfd, (nfds_t)n, (int)wait);
    while (r < 0 && errno == EINTR);
    XLT_ASSERT_MSG(r >= 0, "poll: %s", strerror(errno));
    for (i = 0; i < n; i++) {
        XLT_ASSERT_MSG(!(pfd[i].revents & (POLLERR | POLLNVAL)),
                       "registered fd %d: revents %#x", pfd[i].fd,
                       pfd[i].revents);
        if (!pfd[i].revents)
            continue;
        readable++;
        /* An earlier report in this turn may have changed the register:
         * report only what is still registered (the lock is not held
         * across the call into libxl). */
        {
            void *for_libxl = NULL;
            int still;
            app_lock();
            still = which[i]->registered && which[i]->fd == pfd[i].fd;
            if (still)
                for_libxl = which[i]->for_libxl;
            app_unlock();
            if (still)
                os_occurred_fd(ctx, for_libxl, pfd[i].fd, pfd[i].events,
                               pfd[i].revents);
        }
    }
    if (fire_timeouts) {
        /* Take the due ones (Xen: on entry to occurred_timeout the
         * timeout has been deregistered), then report them one by one; a
         * cancellation (modify) may still come for those not yet
         * reported, and is then ignored by the library. */
        app_lock();
        due = calloc((size_t)app.nt + 1, sizeof *due);
        XLT_ASSERT(due != NULL);
        for (i = 0; i < app.nt; i++) {
            if (app.t[i]->state == T_LIVE && app_due_in(app.t[i]) == 0) {
                app.t[i]->state = T_DUE;
                due[ndue++] = app.t[i];
            }
        }
        app_unlock();
        for (i = 0; i < ndue; i++)
            app_report(ctx, due[i]);
        free(due);
    }
    drain_events(ctx);
    return readable;
}

static void app_loop_until(libxl_ctx *ctx, int target, int hang_ms)
{
    int64_t deadline = xlt_now_ms() + hang_ms;
    while (g_ndone < target) {
        XLT_ASSERT_MSG(xlt_now_ms() < deadline,
                       "only %d of %d runs completed after %d ms", g_ndone,
                       target, hang_ms);
        app_turn(ctx, 1000, 1);
    }
}

/* Fires what the library asked to fire at once (cancelled timeouts). */
static void app_fire_asap(libxl_ctx *ctx)
{
    int i, nt = app.nt;
    for (i = 0; i < nt; i++)
        if (app.t[i]->state == T_LIVE && app.t[i]->modified)
            app_fire(ctx, app.t[i]);
}

static void app_reset(void)
{
    pthread_mutexattr_t ma;
    int i;

    for (i = 0; i < app.nt; i++)
        free(app.t[i]);
    memset(&app, 0, sizeof app);
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
    XLT_ASSERT(pthread_mutex_init(&app_mu, &ma) == 0);
    pthread_mutexattr_destroy(&ma);
}

static libxl_ctx *app_ctx_new_lg(libxl_logger *lg)
{
    libxl_ctx *ctx = xlt_ctx_new(lg);
    app_reset();
    os_register_hooks(ctx, &app_hooks, &app);
    return ctx;
}

static libxl_ctx *app_ctx_new(void)
{
    return app_ctx_new_lg(NULL);
}

/* libxl_ctx_free; afterwards no hook may be called any more. */
static void app_ctx_free(libxl_ctx *ctx)
{
    ctx_free(ctx);
    app.closed = 1;
}

/* The wakeup fd's registration. */
static app_fd *app_wake(void)
{
    int i;
    XLT_ASSERT_MSG(app_nfds() == 1, "%d fds registered, wanted 1 (wakeup)",
                   app_nfds());
    for (i = 0; i < APP_MAXFD; i++)
        if (app.fds[i].registered)
            return &app.fds[i];
    XLT_FAIL("unreachable");
}

XLT_TEST(test_hooks_wakeup_fd_registered_for_reading, 30)
{
    libxl_ctx *ctx = app_ctx_new();
    app_fd *w;

    /* Registered with register_hooks or at the latest with the first
     * operation (Xen: "it will usually call register from
     * register_event_hooks"). */
    start(ctx, 0, argv_true, 0, 0, 1);
    XLT_ASSERT_EQ(app.fd_register, 1);
    w = app_wake();
    XLT_ASSERT_MSG(w->events & POLLIN, "wakeup fd registered for %#x",
                   w->events);
    XLT_ASSERT(fcntl(w->fd, F_GETFD) != -1);
    app_loop_until(ctx, 1, 20000);
    XLT_ASSERT_RC(g_rc[0], 0);
    XLT_ASSERT_EXITED(g_res[0].status, 0);
    /* The fd stays registered (one registration for the ctx's life). */
    start(ctx, 1, argv_true, 0, 0, 0);
    app_loop_until(ctx, 2, 20000);
    XLT_ASSERT_EQ(app.fd_register, 1);
    XLT_ASSERT_EQ(app.fd_deregister, 0);
    XLT_ASSERT_EQ(app.timeout_register, 0); /* no run had a timeout */
    app_ctx_free(ctx);
    XLT_ASSERT_EQ(app.fd_deregister, 1);
    XLT_ASSERT_EQ(app_nfds(), 0);
}

/* The plan of the mixed workloads: what run i is, and what it must give. */
static int plan_kind(int i)
{
    return i % 5;
}

static void plan_start_how(libxl_ctx *ctx, int i, int by_callback)
{
    switch (plan_kind(i)) {
    case 0: /* times out */
        start(ctx, i, argv_sleep30, 200, 0, by_callback);
        break;
    case 1: /* completes before its timeout: cancelled */
        start(ctx, i, argv_exit7, 20000, 0, by_callback);
        break;
    case 2: start(ctx, i, argv_true, 20000, 0, by_callback); break;
    case 3: start(ctx, i, argv_true, 0, 0, by_callback); break;
    default: start(ctx, i, argv_exit7, 0, 0, by_callback); break;
    }
}

static void plan_start(libxl_ctx *ctx, int i)
{
    plan_start_how(ctx, i, i % 2);
}

static void plan_check(int i)
{
    XLT_ASSERT_EQ(g_done[i], 1);
    switch (plan_kind(i)) {
    case 0:
        XLT_ASSERT_RC(g_rc[i], ERROR_TIMEDOUT);
        XLT_ASSERT_KILLED(g_res[i].status, SIGTERM);
        break;
    case 1:
    case 4:
        XLT_ASSERT_RC(g_rc[i], 0);
        XLT_ASSERT_EXITED(g_res[i].status, 7);
        break;
    default:
        XLT_ASSERT_RC(g_rc[i], 0);
        XLT_ASSERT_EXITED(g_res[i].status, 0);
        break;
    }
}

#define HOOK_RUNS 200
#define HOOK_INFLIGHT 25

static void hook_refill(libxl_ctx *ctx)
{
    /* Starting runs from inside a completion callback, itself inside
     * occurred_fd: the hooks get called from there. */
    while (g_started < HOOK_RUNS && g_started - g_ndone < HOOK_INFLIGHT)
        plan_start(ctx, g_started);
}

XLT_TEST(test_hooks_drive_200_runs_with_timeouts_via_occurred_calls, 120)
{
    libxl_ctx *ctx = app_ctx_new();
    int64_t deadline = xlt_now_ms() + 100000;
    int i, cancelled = 0, ntimed = 0;

    g_refill = hook_refill;
    while (g_ndone < HOOK_RUNS) {
        XLT_ASSERT_MSG(xlt_now_ms() < deadline, "only %d of %d runs completed",
                       g_ndone, HOOK_RUNS);
        hook_refill(ctx);
        app_turn(ctx, 1000, 1);
    }
    g_refill = NULL;
    for (i = 0; i < HOOK_RUNS; i++) {
        plan_check(i);
        ntimed += plan_kind(i) <= 2;
    }
    /* Every cancellation asked for is honoured by the loop. */
    app_fire_asap(ctx);
    for (i = 0; i < app.nt; i++) {
        XLT_ASSERT_MSG(app.t[i]->state == T_FIRED,
                       "timeout registration %d in state %d (wanted %d: "
                       "reported by occurred_timeout) with nothing running",
                       i, (int)app.t[i]->state, (int)T_FIRED);
        cancelled += app.t[i]->modified > 0;
    }
    /* Each timed run registered its timeout (the timed-out ones also a
     * grace), and every one that completed first cancelled it. */
    XLT_ASSERT_MSG(app.timeout_register >= ntimed,
                   "%d timeout registrations for %d timed runs",
                   app.timeout_register, ntimed);
    XLT_ASSERT_MSG(cancelled >= ntimed - HOOK_RUNS / 5,
                   "only %d registrations cancelled", cancelled);
    XLT_ASSERT_EQ(app.timeout_modify, cancelled);
    XLT_ASSERT_EQ(app.fd_register, 1);
    XLT_ASSERT_EQ(app.timeout_deregister, 0);
    app_ctx_free(ctx);
    XLT_ASSERT_EQ(app.fd_deregister, 1);
    XLT_ASSERT_EQ(app.timeout_deregister, 0); /* nothing was still live */
    XLT_ASSERT_EQ(app_nfds(), 0);
    xlt_wait_no_children(10000);
}

/* The second thread of the lock-hierarchy test: synchronous timed runs,
 * whose hooks are called from this thread (with the library's locks held)
 * while the main thread reports fds and timeouts through occurred_*. */
static int lh_sync_finished;

static void *lh_sync_runner(void *arg)
{
    libxl_ctx *ctx = arg;
    int k;

    for (k = 0; k < 20; k++) {
        libxl_childproc_args a = k % 2 ? args_for(argv_sleep30, 150, 0)
                                       : args_for(argv_true, 20000, 0);
        libxl_childproc_result res;
        int rc = xlt_childproc_run(ctx, &a, &res, NULL);
        if (k % 2) {
            XLT_ASSERT_RC(rc, ERROR_TIMEDOUT);
            XLT_ASSERT_KILLED(res.status, SIGTERM);
        } else {
            XLT_ASSERT_RC(rc, 0);
            XLT_ASSERT_EXITED(res.status, 0);
        }
    }
    __atomic_store_n(&lh_sync_finished, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

#define LH_RUNS 150

XLT_TEST(test_hooks_lock_hierarchy_rule_a_two_threads_no_deadlock, 120)
{
    libxl_ctx *ctx = app_ctx_new();
    int64_t deadline = xlt_now_ms() + 100000;
    pthread_t th;
    int i;

    /* Hooks take the application's register lock and may be called with
     * library locks held, from either thread; the application takes that
     * lock only around its own bookkeeping, never across a libxl call.
     * Completions of the main thread's runs come as events (a callback
     * could be made in the other thread, inside its synchronous run). */
    XLT_ASSERT(pthread_create(&th, NULL, lh_sync_runner, ctx) == 0);
    while (g_ndone < LH_RUNS ||
           !__atomic_load_n(&lh_sync_finished, __ATOMIC_SEQ_CST)) {
        XLT_ASSERT_MSG(xlt_now_ms() < deadline,
                       "%d of %d runs completed; synchronous thread %s",
                       g_ndone, LH_RUNS,
                       lh_sync_finished ? "finished" : "not finished");
        while (g_started < LH_RUNS && g_started - g_ndone < 20)
            plan_start_how(ctx, g_started, 0);
        app_turn(ctx, 100, 1);
    }
    XLT_ASSERT(pthread_join(th, NULL) == 0);
    for (i = 0; i < LH_RUNS; i++)
        plan_check(i);
    app_fire_asap(ctx);
    XLT_ASSERT_EQ(app_nlive(), 0);
    app_ctx_free(ctx);
    XLT_ASSERT_EQ(app.fd_deregister, 1);
    XLT_ASSERT_EQ(app.timeout_deregister, 0);
}

XLT_TEST(test_O2_timeout_delivered_only_through_occurred_timeout, 60)
{
    libxl_ctx *ctx = app_ctx_new();
    struct timeval before, after;
    app_timeout *t;
    app_fd *w;
    long long lo, hi, at;
    int nreg;

    before = tv_now();
    start(ctx, 0, argv_sleep30, 200, 0, 1);
    after = tv_now();
    XLT_ASSERT_EQ(app.timeout_register, 1);
    t = app.t[0];
    w = app_wake();
    /* abs is wall-clock: about now + 200 ms. */
    lo = (long long)before.tv_sec * 1000000 + before.tv_usec + 150000;
    hi = (long long)after.tv_sec * 1000000 + after.tv_usec + 1200000;
    at = (long long)t->when.tv_sec * 1000000 + t->when.tv_usec;
    XLT_ASSERT_MSG(at >= lo && at <= hi,
                   "timeout registered for %lld us after the call",
                   at - lo + 150000);

    /* Well past the deadline, without reporting the timeout: nothing may
     * happen by itself, neither through the fd nor otherwise. */
    XLT_ASSERT_EQ(app_turn(ctx, (int)app_due_in(t) + 500, 0), 0);
    XLT_ASSERT_EQ(app_due_in(t), 0);
    os_occurred_fd(ctx, w->for_libxl, w->fd, POLLIN, 0);
    XLT_ASSERT_EQ(drain_events(ctx), 0);
    XLT_ASSERT_EQ(g_ndone, 0);
    XLT_ASSERT_EQ(app_turn(ctx, 300, 0), 0);
    XLT_ASSERT_EQ(g_ndone, 0);
    XLT_ASSERT_EQ(t->state, T_LIVE);
    XLT_ASSERT_EQ(t->modified, 0);

    /* Reported: the child is killed and completes through the fd. */
    nreg = app.timeout_register;
    app_fire(ctx, t);
    {
        int64_t deadline = xlt_now_ms() + 20000;
        while (g_ndone < 1) {
            XLT_ASSERT_MSG(xlt_now_ms() < deadline,
                           "no completion 20 s after occurred_timeout");
            app_turn(ctx, 1000, 0);
        }
    }
    XLT_ASSERT_RC(g_rc[0], ERROR_TIMEDOUT);
    XLT_ASSERT_KILLED(g_res[0].status, SIGTERM);
    /* The grace timer (if registered) was cancelled with the completion;
     * the original registration was never touched again (hooks assert). */
    XLT_ASSERT_EQ(t->state, T_FIRED);
    XLT_ASSERT_EQ(app_nlive(), app.timeout_register - nreg);
    app_fire_asap(ctx);
    XLT_ASSERT_EQ(app_nlive(), 0);
    app_ctx_free(ctx);
    XLT_ASSERT_EQ(app.timeout_deregister, 0);
}

XLT_TEST(test_O2_sync_run_with_hooks_times_out_inside_the_call, 60)
{
    libxl_ctx *ctx = app_ctx_new();
    libxl_childproc_args a = args_for(argv_sleep30, 200, 0);
    libxl_childproc_result res;
    int i;

    /* No loop runs at all: the synchronous call fires its own timeout. */
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &res, NULL), ERROR_TIMEDOUT);
    XLT_ASSERT_KILLED(res.status, SIGTERM);
    XLT_ASSERT(app.timeout_register >= 1);
    /* Fired inside the library: the registrations are cancelled the Xen
     * way, by a modify to {0,0}, and stay the application's to report. */
    for (i = 0; i < app.nt; i++) {
        XLT_ASSERT_EQ(app.t[i]->state, T_LIVE);
        XLT_ASSERT_EQ(app.t[i]->modified, 1);
    }
    app_fire_asap(ctx);
    XLT_ASSERT_EQ(drain_events(ctx), 0);
    app_ctx_free(ctx);
    XLT_ASSERT_EQ(app.timeout_deregister, 0);
}

XLT_TEST(test_O3_completion_cancels_timeout_with_modify_asap, 60)
{
    libxl_ctx *ctx = app_ctx_new();
    app_timeout *t;
    int calls;

    start(ctx, 0, argv_true, 30000, 0, 1);
    XLT_ASSERT_EQ(app.timeout_register, 1);
    t = app.t[0];
    XLT_ASSERT_MSG(app_abs_in(t) > 20000,
                   "a 30 s timeout registered for %lld ms from now",
                   app_abs_in(t));
    /* Drive the fd only; the timeout is far away. */
    {
        int64_t deadline = xlt_now_ms() + 20000;
        while (g_ndone < 1) {
            XLT_ASSERT_MSG(xlt_now_ms() < deadline, "/bin/true never done");
            app_turn(ctx, 1000, 0);
        }
    }
    XLT_ASSERT_RC(g_rc[0], 0);
    XLT_ASSERT_EXITED(g_res[0].status, 0);
    /* Cancelled: modified to "now", not deregistered. */
    XLT_ASSERT_EQ(t->modified, 1);
    XLT_ASSERT_EQ(t->state, T_LIVE);
    XLT_ASSERT_EQ(app.timeout_modify, 1);
    XLT_ASSERT_EQ(app.timeout_deregister, 0);
    /* The application reports it: ignored, and nothing is touched. */
    calls = app.timeout_register + app.timeout_modify + app.fd_register +
            app.fd_modify;
    app_fire(ctx, t);
    XLT_ASSERT_EQ(app.timeout_register + app.timeout_modify + app.fd_register +
                      app.fd_modify,
                  calls);
    XLT_ASSERT_EQ(drain_events(ctx), 0);
    XLT_ASSERT_EQ(g_ndone, 1);
    app_ctx_free(ctx);
    XLT_ASSERT_EQ(app.timeout_deregister, 0); /* it was already reported */
    XLT_ASSERT_EQ(app.fd_deregister, 1);
}

XLT_TEST(test_O3_no_modify_or_deregister_after_occurred_timeout, 60)
{
    libxl_ctx *ctx = app_ctx_new();
    app_timeout *t0, *t1;

    /* Ignores SIGTERM: the timeout is followed by a grace timeout. */
    start_ignoring_term(ctx, 0, 100, 400, 0);
    XLT_ASSERT_EQ(app.timeout_register, 1);
    t0 = app.t[0];
    XLT_ASSERT_EQ(app_turn(ctx, (int)app_due_in(t0), 0), 0);
    app_fire(ctx, t0); /* SIGTERM (ignored); the grace is registered */
    XLT_ASSERT_EQ(app.timeout_register, 2);
    t1 = app.t[1];
    XLT_ASSERT_EQ(t1->state, T_LIVE);
    app_loop_until(ctx, 1, 20000); /* grace fires: SIGKILL */
    XLT_ASSERT_RC(g_rc[0], ERROR_TIMEDOUT);
    XLT_ASSERT_KILLED(g_res[0].status, SIGKILL);
    XLT_ASSERT_EQ(t1->state, T_FIRED);
    /* Neither was modified after it was reported (the hooks assert it on
     * the spot); no cancellation was needed. */
    XLT_ASSERT_EQ(t0->modified, 0);
    XLT_ASSERT_EQ(t1->modified, 0);
    XLT_ASSERT_EQ(app.timeout_modify, 0);
    app_ctx_free(ctx);
    XLT_ASSERT_EQ(app.timeout_deregister, 0);
}

/* With glibc, calloc does not take chunks from the per-thread cache but
 * does from the fast bins, where frees go once that cache is full: filling
 * it makes memory the library frees come straight back to its next small
 * calloc -- the way a stale token comes to name a new registration. */
static void fill_malloc_caches(void)
{
    void *p[8][7];
    int s, k;

    for (s = 0; s < 8; s++)
        for (k = 0; k < 7; k++)
            XLT_ASSERT((p[s][k] = malloc((size_t)(16 * s + 8))) != NULL);
    for (s = 0; s < 8; s++)
        for (k = 0; k < 7; k++)
            free(p[s][k]);
}

XLT_TEST(test_O3_stale_occurred_timeout_of_fired_registration_ignored, 60)
{
    libxl_ctx *ctx = app_ctx_new();
    app_timeout *t0, *t1;
    void *stale;

    /* Timeout, then a long grace: only the grace's SIGKILL ends it. */
    start_ignoring_term(ctx, 0, 100, 30000, 1);
    t0 = app.t[0];
    stale = t0->for_libxl;
    XLT_ASSERT_EQ(app_turn(ctx, (int)app_due_in(t0), 0), 0);
    fill_malloc_caches();
    app_fire(ctx, t0);
    XLT_ASSERT_EQ(app.timeout_register, 2);
    t1 = app.t[1];
    /* The library may well reuse the token's memory for the grace
     * registration; a repeated report of the fired one is still ignored. */
    os_occurred_timeout(ctx, stale);
    os_occurred_timeout(ctx, stale);
    XLT_ASSERT_MSG(app_turn(ctx, 500, 0) == 0 && g_ndone == 0,
                   "a repeated occurred_timeout of a fired registration "
                   "(token %p; the grace's is %p) ended the child early",
                   stale, t1->for_libxl);
    XLT_ASSERT_EQ(t1->state, T_LIVE);
    XLT_ASSERT_EQ(t1->modified, 0);
    /* The real report of the grace kills it. */
    app_fire(ctx, t1);
    app_loop_until(ctx, 1, 20000);
    XLT_ASSERT_RC(g_rc[0], ERROR_TIMEDOUT);
    XLT_ASSERT_KILLED(g_res[0].status, SIGKILL);
    app_ctx_free(ctx);
}

XLT_TEST(test_O3_occurred_calls_for_unregistered_things_ignored, 60)
{
    libxl_ctx *ctx = app_ctx_new();
    app_fd *w;
    int bogus = 0, calls, p[2], gate;

    xlt_pipe(p);
    gate = start_gated(ctx, 0, 0, 1);
    w = app_wake();
    close(gate);
    /* Wait until the completion is there to be had. */
    {
        struct pollfd pfd = {w->fd, POLLIN, 0};
        XLT_ASSERT_MSG(poll(&pfd, 1, 20000) == 1, "wakeup fd never readable");
    }
    calls = app.fd_register + app.fd_modify + app.fd_deregister +
            app.timeout_register + app.timeout_modify + app.timeout_deregister;
    /* None of these is a registration the library has: all ignored. */
    os_occurred_timeout(ctx, &bogus);
    os_occurred_timeout(ctx, NULL);
    os_occurred_fd(ctx, &bogus, w->fd, POLLIN, POLLIN);
    os_occurred_fd(ctx, NULL, w->fd, POLLIN, POLLIN);
    os_occurred_fd(ctx, w->for_libxl, p[0], POLLIN, POLLIN);
    XLT_ASSERT_EQ(g_ndone, 0);
    XLT_ASSERT_EQ(app.fd_register + app.fd_modify + app.fd_deregister +
                      app.timeout_register + app.timeout_modify +
                      app.timeout_deregister,
                  calls);
    /* occurred_fd acts on what is ready, whatever revents says. */
    os_occurred_fd(ctx, w->for_libxl, w->fd, POLLIN, 0);
    XLT_ASSERT_EQ(g_ndone, 1);
    XLT_ASSERT_RC(g_rc[0], 0);
    XLT_ASSERT_EXITED(g_res[0].status, 7);
    /* And again with nothing ready: harmless. */
    os_occurred_fd(ctx, w->for_libxl, w->fd, POLLIN, POLLIN);
    XLT_ASSERT_EQ(g_ndone, 1);
    close(p[0]);
    close(p[1]);
    app_ctx_free(ctx);
}

XLT_TEST(test_O3_ctx_free_deregisters_what_is_registered, 60)
{
    libxl_ctx *ctx = app_ctx_new();
    app_timeout *live, *cancelled, *fired;
    app_fd *w;
    int i;

    /* run 0: running, its timeout live. */
    start(ctx, 0, argv_sleep30, 30000, 0, 1);
    live = app.t[0];
    /* run 1: completed first, its timeout cancelled but never reported. */
    start(ctx, 1, argv_true, 30000, 0, 1);
    cancelled = app.t[1];
    while (g_ndone < 1)
        app_turn(ctx, 1000, 0);
    XLT_ASSERT(g_done[1]);
    XLT_ASSERT_EQ(cancelled->modified, 1);
    /* run 2: timed out and reported; the grace is live. */
    start_ignoring_term(ctx, 2, 100, 30000, 1);
    fired = app.t[2];
    XLT_ASSERT_EQ(app_turn(ctx, (int)app_due_in(fired), 0), 0);
    app_fire(ctx, fired);
    XLT_ASSERT_EQ(app.nt, 4);
    /* run 3: still running when the ctx goes, exits a little later: its
     * status must not lead to any hook call. */
    start(ctx, 3, argv_sleep_03, 30000, 0, 1);
    XLT_ASSERT_EQ(app.nt, 5);
    w = app_wake();
    XLT_ASSERT_EQ(app.timeout_deregister, 0);
    XLT_ASSERT_EQ(app.fd_deregister, 0);

    app_ctx_free(ctx);
    /* Everything still registered was deregistered, each exactly once
     * (the hooks fail on a second one); the reported one was not. */
    XLT_ASSERT_EQ(app_nfds(), 0);
    XLT_ASSERT_EQ(app.fd_deregister, 1);
    XLT_ASSERT(!w->registered);
    XLT_ASSERT_EQ(fired->state, T_FIRED);
    XLT_ASSERT_EQ(live->state, T_DEREGISTERED);
    XLT_ASSERT_EQ(cancelled->state, T_DEREGISTERED);
    for (i = 0; i < app.nt; i++)
        XLT_ASSERT_MSG(app.t[i]->state != T_LIVE,
                       "registration %d left registered by ctx_free", i);
    XLT_ASSERT_EQ(app.timeout_deregister, 4);
    /* The sleep 0.3 is reaped meanwhile; no hook is called (app.closed). */
    xlt_sleep_ms(1000);
    XLT_ASSERT_EQ(g_ndone, 1);
}

/* ------------------------------------------------------------------ */
/* Hooks that fail                                                     */

static void check_timeout_register_failure(int fail)
{
    xlt_logger *lg = xlt_logger_new(); /* the failures are logged there */
    libxl_ctx *ctx = app_ctx_new_lg(&lg->lg);
    libxl_childproc_args a = args_for(argv_sleep30, 1000, 0);
    libxl_childproc_result res;
    int z;

    app.fail_timeout_register = fail;
    XLT_ASSERT_RC(try_start(ctx, 0, argv_sleep30, 1000, 0, 1), fail);
    XLT_ASSERT_RC(try_start(ctx, 1, argv_sleep30, 1000, 0, 0), fail);
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &res, NULL), fail);
    XLT_ASSERT_EQ(app.timeout_register, 3);
    XLT_ASSERT_EQ(app.nt, 0);
    /* Nothing was started, and nothing completes. */
    XLT_ASSERT_EQ(xlt_count_children(&z), 0);
    XLT_ASSERT_EQ(app_turn(ctx, 300, 1), 0);
    XLT_ASSERT_EQ(g_ndone, 0);
    /* Runs without a timeout do not need the hook. */
    start(ctx, 2, argv_true, 0, 0, 1);
    app_loop_until(ctx, 1, 20000);
    XLT_ASSERT_RC(g_rc[2], 0);
    /* Once it works again, so do timed runs. */
    app.fail_timeout_register = 0;
    start(ctx, 3, argv_sleep30, 200, 0, 0);
    app_loop_until(ctx, 2, 20000);
    XLT_ASSERT_RC(g_rc[3], ERROR_TIMEDOUT);
    XLT_ASSERT_EQ(g_done[0] + g_done[1], 0);
    app_fire_asap(ctx);
    app_ctx_free(ctx);
}

XLT_TEST(test_hooks_timeout_register_fail_returns_osevent_reg_fail, 60)
{
    check_timeout_register_failure(ERROR_OSEVENT_REG_FAIL);
}

XLT_TEST(test_hooks_timeout_register_positive_value_passed_back, 60)
{
    check_timeout_register_failure(42);
}

XLT_TEST(test_hooks_fd_register_failure_returned_by_next_run, 60)
{
    xlt_logger *lg = xlt_logger_new(); /* the failures are logged there */
    libxl_ctx *ctx = xlt_ctx_new(&lg->lg);
    int z;

    app_reset();
    app.fail_fd_register = 42;
    /* Registered from register_hooks (as Xen usually does) or lazily: either
     * way the failure reaches the application with the next operation. */
    os_register_hooks(ctx, &app_hooks, &app);
    XLT_ASSERT_RC(try_start(ctx, 0, argv_sleep30, 0, 0, 1), 42);
    XLT_ASSERT(app.fd_register >= 1);
    XLT_ASSERT_EQ(app_nfds(), 0);
    XLT_ASSERT_EQ(xlt_count_children(&z), 0);
    XLT_ASSERT_EQ(g_ndone, 0);
    /* A retry once the application can register again works. */
    app.fail_fd_register = 0;
    start(ctx, 1, argv_true, 0, 0, 1);
    XLT_ASSERT_EQ(app_nfds(), 1);
    app_loop_until(ctx, 1, 20000);
    XLT_ASSERT_RC(g_rc[1], 0);
    XLT_ASSERT_EQ(g_done[0], 0);
    app_ctx_free(ctx);
    XLT_ASSERT_EQ(app.fd_deregister, 1);
}

int main(void)
{
    static const xlt_case cases[] = {
        XLT_CASE(test_beforepoll_bufferfull_reports_needed_count),
        XLT_CASE(test_O2_beforepoll_timeout_only_ever_reduced),
        XLT_CASE(test_O1_wakeup_fd_readable_only_with_work),
        XLT_CASE(test_O1_status_queued_before_first_beforepoll_is_seen),
        XLT_CASE(test_poll_loop_1000_async_runs_without_event_wait),
        XLT_CASE(test_O2_timeout_fires_in_afterpoll),
        XLT_CASE(test_O2_kill_grace_fires_in_afterpoll),
        XLT_CASE(test_hooks_wakeup_fd_registered_for_reading),
        XLT_CASE(test_hooks_drive_200_runs_with_timeouts_via_occurred_calls),
        XLT_CASE(test_hooks_lock_hierarchy_rule_a_two_threads_no_deadlock),
        XLT_CASE(test_O2_timeout_delivered_only_through_occurred_timeout),
        XLT_CASE(test_O2_sync_run_with_hooks_times_out_inside_the_call),
        XLT_CASE(test_O3_completion_cancels_timeout_with_modify_asap),
        XLT_CASE(test_O3_no_modify_or_deregister_after_occurred_timeout),
        XLT_CASE(test_O3_stale_occurred_timeout_of_fired_registration_ignored),
        XLT_CASE(test_O3_occurred_calls_for_unregistered_things_ignored),
        XLT_CASE(test_O3_ctx_free_deregisters_what_is_registered),
        XLT_CASE(test_hooks_timeout_register_fail_returns_osevent_reg_fail),
        XLT_CASE(test_hooks_timeout_register_positive_value_passed_back),
        XLT_CASE(test_hooks_fd_register_failure_returned_by_next_run),
    };
    return xlt_main("osevent", cases, sizeof cases / sizeof cases[0]);
}
