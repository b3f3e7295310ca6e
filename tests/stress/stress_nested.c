/*
 * stress_nested.c - synchronous runs with timeouts made from inside the
 * library's callbacks (§4 allows any libxl call there; O2: a timeout fires
 * inside the synchronous call that waits for it), while several threads
 * wait on the same ctx.
 *
 *  - Chains: a completion callback (or a death callback) runs
 *    `sleep 30` synchronously with a 200 ms timeout, after starting the
 *    next link of its chain, whose callback does the same, to depth 3: the
 *    next link's callback is delivered while the thread sits in the nested
 *    synchronous run (to it or to another waiter).  Every synchronous run
 *    must return ERROR_TIMEDOUT with the child killed by SIGTERM, within a
 *    hang bound (10 s for a 200 ms timeout; `sleep 30` ending by itself
 *    means the timeout never fired).
 *  - Across threads: while one thread sits in a slow completion callback
 *    (it waits there until the other thread's run is over, at most 10 s),
 *    another thread's synchronous run (and an event-completed run it waits
 *    for in libxl_event_wait) with a 300 ms timeout must time out: one
 *    thread's callback must not keep the others' timeouts from firing.
 *
 * The timed runs are accounted in the ledger (stress.h); the chains run in
 * M3, M5 and M6.
 */
#define _GNU_SOURCE
#include "stress.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEPTH 3
#define NWAITERS 4
#define TIMEOUT_MS 200
#define HANG_MS 10000

static struct {
    libxl_ctx *ctx;
    xls_ledger *led;
    long nchains;
    long tok_stop0;
    int max_nesting;      /* deepest xlt_in_libxl seen in a timed run */
    long max_elapsed;     /* ms, of a timed run */
    long in_other_thread; /* links whose callback ran in another thread */
} S;

/* A link of a chain: its token is (chain * DEPTH + level). */
typedef struct {
    long chain;
    int level; /* 0-based */
    pthread_t starter;
    libxl_childproc_result res; /* of the quick run that triggers it */
} link_t;

static link_t *links;

static void start_link(long chain, int level);

/* The nested synchronous run with a timeout: sleep 30 killed after
 * 200 ms. */
static void timed_run(long token)
{
    char *argv[] = {"/bin/sleep", "30", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    int64_t t0;
    long el;
    int rc, depth = xlt_in_libxl + 1;

    a.timeout_ms = TIMEOUT_MS;
    a.kill_grace_ms = 2000;
    memset(&r, 0, sizeof r);
    xls_ledger_started(S.led, token, 0, SIGTERM);
    t0 = xlt_now_ms();
    rc = xlt_childproc_run(S.ctx, &a, &r, NULL);
    el = (long)(xlt_now_ms() - t0);
    __atomic_store_n(&S.led->slot[token].pid, r.pid, __ATOMIC_RELAXED);
    xls_ledger_reported(S.led, token, r.status, rc);
    XLT_ASSERT_MSG(rc == ERROR_TIMEDOUT && el < HANG_MS,
                   "synchronous run with a %d ms timeout at nesting depth %d"
                   " (token %ld) gave rc %d (%s), status %#x, after %ld ms",
                   TIMEOUT_MS, depth, token, rc, libxl_strerror(rc), r.status,
                   el);
    XLT_ASSERT_KILLED(r.status, SIGTERM);
    for (;;) {
        int m = __atomic_load_n(&S.max_nesting, __ATOMIC_RELAXED);
        if (depth <= m ||
            __atomic_compare_exchange_n(&S.max_nesting, &m, depth, false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            break;
    }
    for (;;) {
        long m = __atomic_load_n(&S.max_elapsed, __ATOMIC_RELAXED);
        if (el <= m ||
            __atomic_compare_exchange_n(&S.max_elapsed, &m, el, false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            break;
    }
}

/* A link's callback: starts the next link first (so that its callback is
 * due while this one is inside the timed run), then the timed run. */
static void link_fired(link_t *l)
{
    XLT_ASSERT_MSG(xlt_in_libxl > 0, "callback outside a libxl call");
    if (!pthread_equal(l->starter, pthread_self()))
        __atomic_add_fetch(&S.in_other_thread, 1, __ATOMIC_RELAXED);
    if (l->level + 1 < DEPTH)
        start_link(l->chain, l->level + 1);
    timed_run(l->chain * DEPTH + l->level);
}

static void link_run_cb(libxl_ctx *ctx, int rc, void *user)
{
    link_t *l = user;

    (void)ctx;
    XLT_ASSERT_RC(rc, 0);
    XLT_ASSERT_EXITED(l->res.status, 0);
    link_fired(l);
}

static void link_death_cb(libxl_ctx *ctx, pid_t pid, int status, void *user)
{
    (void)ctx;
    (void)pid;
    XLT_ASSERT_EXITED(status, 0);
    link_fired(user);
}

/* Even chains go by a run's completion callback, odd ones by a fork
 * child's death callback. */
static void start_link(long chain, int level)
{
    link_t *l = &links[chain * DEPTH + level];

    l->chain = chain;
    l->level = level;
    l->starter = pthread_self();
    if (chain % 2 == 0) {
        char *argv[] = {"/bin/true", NULL};
        libxl_childproc_args a = xlt_args(argv);
        libxl_asyncop_how how;

        memset(&how, 0, sizeof how);
        how.callback = link_run_cb;
        how.u.for_callback = l;
        XLT_ASSERT_RC(xlt_childproc_run(S.ctx, &a, &l->res, &how), 0);
    } else {
        pid_t pid = xlt_childproc_fork(S.ctx, link_death_cb, l);
        XLT_ASSERT_MSG(pid >= 0, "libxl_childproc_fork: %d", (int)pid);
        if (pid == 0)
            xlt_child_exit(0);
    }
}

static void *waiter(void *arg)
{
    (void)arg;
    for (;;) {
        libxl_event *ev = NULL;
        long t;

        XLT_ASSERT_RC(
            xlt_event_wait(S.ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL), 0);
        t = (long)ev->for_user;
        libxl_event_free(S.ctx, ev);
        XLT_ASSERT_MSG(t >= S.tok_stop0 && t < S.tok_stop0 + NWAITERS,
                       "unexpected event %ld", t);
        xls_ledger_reported(S.led, t, W_EXITCODE(0, 0), 0);
        return NULL;
    }
}

static void chains(libxl_sigchld_owner mode, const char *what)
{
    pthread_t w[NWAITERS];
    libxl_childproc_result stop_res[NWAITERS];
    libxl_childproc_hooks h;
    xlt_logger *lg = xlt_logger_new();
    int64_t t0 = xlt_now_ms(), deadline;
    long c, n;
    int i;

    memset(&S, 0, sizeof S);
    S.nchains = xls_scale(24, 4);
    S.tok_stop0 = S.nchains * DEPTH;
    S.led = xls_ledger_new(S.tok_stop0 + NWAITERS);
    links = calloc((size_t)S.tok_stop0, sizeof *links);
    XLT_ASSERT(links != NULL);
    S.ctx = xlt_ctx_new(&lg->lg);
    memset(&h, 0, sizeof h);
    h.chldowner = mode;
    libxl_childproc_setmode(S.ctx, &h, NULL);

    for (i = 0; i < NWAITERS; i++)
        XLT_ASSERT(pthread_create(&w[i], NULL, waiter, NULL) == 0);
    for (c = 0; c < S.nchains; c++)
        start_link(c, 0);

    /* The waiters run the callbacks; wait for the last timed run. */
    n = S.tok_stop0;
    deadline = xlt_now_ms() + HANG_MS + (int64_t)S.nchains * DEPTH * 1000;
    while (xls_ledger_count(S.led) < n && xlt_now_ms() < deadline)
        xlt_sleep_ms(10);
    for (i = 0; i < NWAITERS; i++) {
        char *argv[] = {"/bin/true", NULL};
        xls_ledger_started(S.led, S.tok_stop0 + i, 0, W_EXITCODE(0, 0));
        xlt_start_event_run(S.ctx, argv, (uint64_t)(S.tok_stop0 + i),
                            &stop_res[i]);
    }
    for (i = 0; i < NWAITERS; i++)
        pthread_join(w[i], NULL);
    xls_ledger_check(S.led, what);
    XLT_ASSERT_RC(libxl_ctx_free(S.ctx), 0);
    xlt_wait_no_children(HANG_MS);
    XLT_ASSERT_MSG(xlt_logger_count(lg, LIBXL_LOG_ERROR, NULL) == 0,
                   "%s: the library logged:\n%s", what, lg->text);
    xls_report(what,
               "chains=%ld depth=%d timed_runs=%ld timeout=%dms"
               " max_elapsed=%ldms hang_bound=%dms max_nesting=%d"
               " callbacks_in_other_thread=%ld waiters=%d total=%lldms",
               S.nchains, DEPTH, S.tok_stop0, TIMEOUT_MS, S.max_elapsed,
               HANG_MS, S.max_nesting, S.in_other_thread, NWAITERS,
               (long long)(xlt_now_ms() - t0));
    xls_ledger_free(S.led);
    free(links);
}

XLT_TEST(test_O2_nested_sync_timeouts_from_callbacks_default, 180)
{
    chains(libxl_sigchld_owner_libxl, "nested timeouts M3");
}

XLT_TEST(test_O2_nested_sync_timeouts_from_callbacks_libxl_always, 180)
{
    chains(libxl_sigchld_owner_libxl_always, "nested timeouts M5");
}

XLT_TEST(test_O2_nested_sync_timeouts_from_callbacks_selective, 180)
{
    chains(libxl_sigchld_owner_libxl_always_selective_reap,
           "nested timeouts M6");
}

/* ------------------------------------------------------- across threads */

static struct {
    libxl_ctx *ctx;
    int in_callback; /* the slow callback has begun */
    int other_done;  /* the other thread's timed waits are over */
    long sync_ms, event_ms;
    int sync_rc, event_rc;
    libxl_childproc_result sync_res, event_res, slow_res;
} X;

/* Holds its thread until the other thread is done (at most HANG_MS). */
static void slow_cb(libxl_ctx *ctx, int rc, void *user)
{
    int64_t end = xlt_now_ms() + HANG_MS;

    (void)ctx;
    (void)rc;
    (void)user;
    __atomic_store_n(&X.in_callback, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&X.other_done, __ATOMIC_ACQUIRE) &&
           xlt_now_ms() < end)
        xlt_sleep_ms(5);
}

static int pred_id(const libxl_event *ev, void *user)
{
    return ev->for_user == (uint64_t)(uintptr_t)user;
}

static void *slow_waiter(void *arg)
{
    libxl_event *ev = NULL;

    (void)arg;
    /* Takes the stop event at the end (only that one: should the other
     * thread's timeout be held up past slow_cb's limit, its event stays
     * for it); runs slow_cb meanwhile. */
    XLT_ASSERT_RC(xlt_event_wait(X.ctx, &ev, LIBXL_EVENTMASK_ALL, pred_id,
                                 (void *)(uintptr_t)999),
                  0);
    XLT_ASSERT_EQ(ev->for_user, 999);
    libxl_event_free(X.ctx, ev);
    return NULL;
}

static void *other_thread(void *arg)
{
    char *argv[] = {"/bin/sleep", "30", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_asyncop_how how;
    libxl_event *ev = NULL;
    int64_t t0;

    (void)arg;
    a.timeout_ms = 300;
    t0 = xlt_now_ms();
    X.sync_rc = xlt_childproc_run(X.ctx, &a, &X.sync_res, NULL);
    X.sync_ms = (long)(xlt_now_ms() - t0);

    memset(&how, 0, sizeof how);
    how.u.for_event = 7;
    t0 = xlt_now_ms();
    XLT_ASSERT_RC(xlt_childproc_run(X.ctx, &a, &X.event_res, &how), 0);
    XLT_ASSERT_RC(xlt_event_wait(X.ctx, &ev, LIBXL_EVENTMASK_ALL, pred_id,
                                 (void *)(uintptr_t)7),
                  0);
    X.event_rc = ev->u.operation_complete.rc;
    X.event_ms = (long)(xlt_now_ms() - t0);
    libxl_event_free(X.ctx, ev);
    __atomic_store_n(&X.other_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void across(libxl_sigchld_owner mode, const char *what)
{
    char *argv[] = {"/bin/true", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result stop;
    libxl_childproc_hooks h;
    libxl_asyncop_how how;
    pthread_t sw, ot;
    int rounds = (int)xls_scale(10, 2), i;
    long worst = 0;

    memset(&X, 0, sizeof X);
    X.ctx = xlt_ctx_new(NULL);
    memset(&h, 0, sizeof h);
    h.chldowner = mode;
    libxl_childproc_setmode(X.ctx, &h, NULL);
    for (i = 0; i < rounds; i++) {
        X.in_callback = X.other_done = 0;
        XLT_ASSERT(pthread_create(&sw, NULL, slow_waiter, NULL) == 0);
        memset(&how, 0, sizeof how);
        how.callback = slow_cb;
        XLT_ASSERT_RC(xlt_childproc_run(X.ctx, &a, &X.slow_res, &how), 0);
        while (!__atomic_load_n(&X.in_callback, __ATOMIC_ACQUIRE))
            xlt_sleep_ms(1);
        XLT_ASSERT(pthread_create(&ot, NULL, other_thread, NULL) == 0);
        pthread_join(ot, NULL);
        XLT_ASSERT_MSG(X.sync_rc == ERROR_TIMEDOUT && X.sync_ms < HANG_MS,
                       "%s: a synchronous run with a 300 ms timeout, while"
                       " another thread was in a callback, gave rc %d (%s)"
                       " after %ld ms",
                       what, X.sync_rc, libxl_strerror(X.sync_rc), X.sync_ms);
        XLT_ASSERT_KILLED(X.sync_res.status, SIGTERM);
        XLT_ASSERT_MSG(X.event_rc == ERROR_TIMEDOUT && X.event_ms < HANG_MS,
                       "%s: a run with a 300 ms timeout awaited in"
                       " libxl_event_wait, while another thread was in a"
                       " callback, gave rc %d (%s) after %ld ms",
                       what, X.event_rc, libxl_strerror(X.event_rc),
                       X.event_ms);
        XLT_ASSERT_KILLED(X.event_res.status, SIGTERM);
        if (X.sync_ms > worst)
            worst = X.sync_ms;
        if (X.event_ms > worst)
            worst = X.event_ms;
        xlt_start_event_run(X.ctx, argv, 999, &stop);
        pthread_join(sw, NULL);
    }
    XLT_ASSERT_RC(libxl_ctx_free(X.ctx), 0);
    xlt_wait_no_children(HANG_MS);
    xls_report(what, "rounds=%d timeout=300ms worst=%ldms hang_bound=%dms",
               rounds, worst, HANG_MS);
}

XLT_TEST(test_O2_timeout_fires_while_another_thread_is_in_a_callback, 180)
{
    across(libxl_sigchld_owner_libxl, "timeout beside a slow callback M3");
    across(libxl_sigchld_owner_libxl_always_selective_reap,
           "timeout beside a slow callback M6");
}

int main(void)
{
    static const xlt_case cases[] = {
        XLT_CASE(test_O2_nested_sync_timeouts_from_callbacks_default),
        XLT_CASE(test_O2_nested_sync_timeouts_from_callbacks_libxl_always),
        XLT_CASE(test_O2_nested_sync_timeouts_from_callbacks_selective),
        XLT_CASE(test_O2_timeout_fires_while_another_thread_is_in_a_callback),
    };
    return xlt_main("stress_nested", cases, sizeof cases / sizeof cases[0]);
}
