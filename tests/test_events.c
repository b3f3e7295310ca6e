/*
 * test_events.c - events (E1-E4) and asynchronous operations (callbacks,
 * libxl_ao_abort).
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define OC_BIT (1ULL << LIBXL_EVENT_TYPE_OPERATION_COMPLETE)

static char *argv_true[] = {"/bin/true", NULL};
static char *argv_sleep30[] = {"/bin/sleep", "30", NULL};

/* Predicate that takes nothing but notes whether `want` is queued: used to
 * learn that an event was generated without consuming it. */
struct peek {
    uint64_t want;
    int seen;
};

static int pred_peek(const libxl_event *ev, void *user)
{
    struct peek *p = user;
    if (ev->for_user == p->want)
        p->seen = 1;
    return 0;
}

/* Returns once the event `id` is queued (it stays queued). */
static void await_queued(libxl_ctx *ctx, uint64_t id)
{
    struct peek pk = {id, 0};
    int64_t deadline = xlt_now_ms() + 30000;
    while (!pk.seen) {
        libxl_event *ev = NULL;
        XLT_ASSERT_RC(
            xlt_event_check(ctx, &ev, LIBXL_EVENTMASK_ALL, pred_peek, &pk),
            ERROR_NOT_READY);
        XLT_ASSERT_MSG(xlt_now_ms() < deadline, "event %llu never queued",
                       (unsigned long long)id);
        if (!pk.seen)
            xlt_sleep_ms(1);
    }
}

/* Takes the next event matching (mask, pred) with event_check; asserts
 * there is one and that it is an OPERATION_COMPLETE for `want`. */
static void take_expect(libxl_ctx *ctx, uint64_t mask,
                        libxl_event_predicate *pred, void *u, uint64_t want)
{
    libxl_event *ev = NULL;
    XLT_ASSERT_RC(xlt_event_check(ctx, &ev, mask, pred, u), 0);
    XLT_ASSERT(ev != NULL);
    XLT_ASSERT_EQ(ev->type, LIBXL_EVENT_TYPE_OPERATION_COMPLETE);
    XLT_ASSERT_EQ(ev->for_user, want);
    XLT_ASSERT_RC(ev->u.operation_complete.rc, 0);
    libxl_event_free(ctx, ev);
}

/* E1: event_check on a fresh ctx, and again once the only event was taken,
 * gives ERROR_NOT_READY. */
XLT_TEST(test_E1_check_on_empty_queue_not_ready, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    libxl_childproc_result r;

    xlt_expect_no_event(ctx);
    xlt_start_event_run(ctx, argv_true, 7, &r);
    await_queued(ctx, 7);
    take_expect(ctx, LIBXL_EVENTMASK_ALL, NULL, NULL, 7);
    xlt_expect_no_event(ctx);
    libxl_event_free(ctx, NULL);
    libxl_ctx_free(ctx);
}

/* §4: callback == NULL queues an OPERATION_COMPLETE whose for_user is
 * u.for_event and whose rc is the operation's (0 for any exit status,
 * ERROR_TIMEDOUT for a timed-out child); the result is filled in. */
XLT_TEST(test_S4_async_run_queues_operation_complete, 60)
{
    char *argv_exit3[] = {"/bin/sh", "-c", "exit 3", NULL};
    const uint64_t id1 = 0xdeadbeef12345678ULL, id2 = 0xfffffffffffffff0ULL;
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    libxl_childproc_result r1, r2;
    libxl_childproc_args a = xlt_args(argv_sleep30);
    libxl_asyncop_how how;

    xlt_start_event_run(ctx, argv_exit3, id1, &r1);
    memset(&how, 0, sizeof how);
    how.u.for_event = id2;
    a.timeout_ms = 100;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r2, &how), 0);

    XLT_ASSERT_RC(xlt_wait_for(ctx, id1), 0);
    XLT_ASSERT_EXITED(r1.status, 3);
    XLT_ASSERT(r1.pid > 0);
    XLT_ASSERT_RC(xlt_wait_for(ctx, id2), ERROR_TIMEDOUT);
    XLT_ASSERT_KILLED(r2.status, SIGTERM);
    xlt_expect_no_event(ctx);
    libxl_ctx_free(ctx);
}

/* E3: events come out in the order they were generated.  Each run is
 * started only once the previous one's event is known to be queued. */
#define ORDER_N 20
static void queue_in_order(libxl_ctx *ctx, libxl_childproc_result *res)
{
    int i;
    for (i = 0; i < ORDER_N; i++) {
        xlt_start_event_run(ctx, argv_true, 100 + (uint64_t)i, &res[i]);
        await_queued(ctx, 100 + (uint64_t)i);
    }
}

XLT_TEST(test_E3_events_in_generation_order, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    libxl_childproc_result res[ORDER_N];
    int i;

    queue_in_order(ctx, res);
    for (i = 0; i < ORDER_N; i++)
        take_expect(ctx, LIBXL_EVENTMASK_ALL, NULL, NULL, 100 + (uint64_t)i);
    xlt_expect_no_event(ctx);
    libxl_ctx_free(ctx);
}

/* E3 among matching events, and E1's filter: a predicate picking the even
 * ids returns them in order, the odd ones stay queued, in order. */
static int pred_even(const libxl_event *ev, void *user)
{
    (void)user;
    return ev->for_user % 2 == 0;
}

XLT_TEST(test_E3_order_among_matching_events, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    libxl_childproc_result res[ORDER_N];
    libxl_event *ev = NULL;
    int i;

    queue_in_order(ctx, res);
    for (i = 0; i < ORDER_N; i += 2)
        take_expect(ctx, LIBXL_EVENTMASK_ALL, pred_even, NULL,
                    100 + (uint64_t)i);
    XLT_ASSERT_RC(
        xlt_event_check(ctx, &ev, LIBXL_EVENTMASK_ALL, pred_even, NULL),
        ERROR_NOT_READY);
    for (i = 1; i < ORDER_N; i += 2)
        take_expect(ctx, LIBXL_EVENTMASK_ALL, NULL, NULL, 100 + (uint64_t)i);
    xlt_expect_no_event(ctx);
    libxl_ctx_free(ctx);
}

/* E1 + §3: bit 1 << type of typemask selects; a predicate filters; an
 * event neither selects stays queued for a later check or wait. */
static int pred_false(const libxl_event *ev, void *user)
{
    (void)ev;
    (void)user;
    return 0;
}

static int pred_true(const libxl_event *ev, void *user)
{
    (void)ev;
    (void)user;
    return 1;
}

XLT_TEST(test_E1_typemask_and_predicate_filter, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    libxl_childproc_result r;
    libxl_event *ev = NULL;

    xlt_start_event_run(ctx, argv_true, 5, &r);
    await_queued(ctx, 5);
    XLT_ASSERT_RC(xlt_event_check(ctx, &ev, 0, NULL, NULL), ERROR_NOT_READY);
    XLT_ASSERT_RC(xlt_event_check(ctx, &ev, ~OC_BIT, NULL, NULL),
                  ERROR_NOT_READY);
    XLT_ASSERT_RC(xlt_event_check(ctx, &ev, OC_BIT, pred_false, NULL),
                  ERROR_NOT_READY);
    take_expect(ctx, OC_BIT, pred_true, NULL, 5);
    xlt_expect_no_event(ctx);

    /* The same event left queued is still there for event_wait. */
    xlt_start_event_run(ctx, argv_true, 6, &r);
    await_queued(ctx, 6);
    XLT_ASSERT_RC(xlt_event_check(ctx, &ev, ~OC_BIT, pred_true, NULL),
                  ERROR_NOT_READY);
    XLT_ASSERT_RC(xlt_wait_for(ctx, 6), 0);
    xlt_expect_no_event(ctx);
    libxl_ctx_free(ctx);
}

/* E2: 2000 asynchronous runs, 8 threads in libxl_event_wait on one ctx:
 * every event is returned exactly once, with its own result.  Eight
 * sentinel events, started once all 2000 are in, release the waiters (a
 * waiter leaves at its first sentinel, so each takes exactly one). */
#define E2_RUNS 2000
#define E2_WAITERS 8
#define E2_SENTINEL 1000000
static libxl_ctx *e2_ctx;
static int e2_count[E2_RUNS];
static int e2_done;
static libxl_childproc_result e2_res[E2_RUNS + E2_WAITERS];

static void *e2_waiter(void *arg)
{
    (void)arg;
    for (;;) {
        libxl_event *ev = NULL;
        uint64_t id;

        XLT_ASSERT_RC(
            xlt_event_wait(e2_ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL), 0);
        XLT_ASSERT(ev != NULL);
        XLT_ASSERT_EQ(ev->type, LIBXL_EVENT_TYPE_OPERATION_COMPLETE);
        XLT_ASSERT_RC(ev->u.operation_complete.rc, 0);
        id = ev->for_user;
        libxl_event_free(e2_ctx, ev);
        if (id >= E2_SENTINEL)
            return NULL;
        XLT_ASSERT_MSG(id < E2_RUNS, "event for unknown id %llu",
                       (unsigned long long)id);
        XLT_ASSERT_EXITED(e2_res[id].status, 0);
        XLT_ASSERT_MSG(e2_res[id].pid > 0,
                       "run %llu completed before its result had the pid",
                       (unsigned long long)id);
        __atomic_add_fetch(&e2_count[id], 1, __ATOMIC_SEQ_CST);
        __atomic_add_fetch(&e2_done, 1, __ATOMIC_SEQ_CST);
    }
}

XLT_TEST(test_E2_each_event_exactly_once_8_waiters, 300)
{
    pthread_t th[E2_WAITERS];
    int i;

    e2_ctx = xlt_ctx_new(NULL);
    for (i = 0; i < E2_WAITERS; i++)
        XLT_ASSERT(pthread_create(&th[i], NULL, e2_waiter, NULL) == 0);
    for (i = 0; i < E2_RUNS; i++)
        xlt_start_event_run(e2_ctx, argv_true, (uint64_t)i, &e2_res[i]);
    while (__atomic_load_n(&e2_done, __ATOMIC_SEQ_CST) < E2_RUNS)
        xlt_sleep_ms(10); /* a lost event hangs here: the watchdog reports */
    for (i = 0; i < E2_WAITERS; i++)
        xlt_start_event_run(e2_ctx, argv_true, E2_SENTINEL + (uint64_t)i,
                            &e2_res[E2_RUNS + i]);
    for (i = 0; i < E2_WAITERS; i++)
        pthread_join(th[i], NULL);
    for (i = 0; i < E2_RUNS; i++)
        XLT_ASSERT_MSG(e2_count[i] == 1, "event %d returned %d times", i,
                       e2_count[i]);
    xlt_expect_no_event(e2_ctx);
    libxl_ctx_free(e2_ctx);
    xlt_wait_no_children(10000);
}

/* E2: a thread waiting with nothing to do sleeps: over 2 s in which the
 * ctx has a running child (so the reaper and its M2 sweep are active) but
 * no status, the waiter does (almost) no context switches.  A sleep-poll
 * at any period up to 500 ms, or a sweep that woke waiters, would. */
XLT_TEST(test_E2_idle_waiter_is_not_woken, 60)
{
    libxl_childproc_result r_sleep, r_true;
    libxl_asyncop_how how;
    libxl_ctx *idle_ctx;
    xlt_sleeper w;
    long before, after;

    idle_ctx = xlt_ctx_new(NULL);
    xlt_start_event_run(idle_ctx, argv_sleep30, 1, &r_sleep);
    xlt_sleeper_start(&w, idle_ctx, 77, 500); /* well inside event_wait */
    before = xlt_voluntary_switches(w.tid);
    xlt_sleep_ms(2000);
    after = xlt_voluntary_switches(w.tid);
    XLT_ASSERT_MSG(after - before <= 2, "idle waiter woke %ld times in 2 s",
                   after - before);

    xlt_start_event_run(idle_ctx, argv_true, 77, &r_true);
    xlt_sleeper_join(&w);
    memset(&how, 0, sizeof how);
    how.u.for_event = 1;
    XLT_ASSERT_RC(libxl_ao_abort(idle_ctx, &how), 0);
    XLT_ASSERT_RC(xlt_wait_for(idle_ctx, 1), ERROR_ABORTED);
    libxl_ctx_free(idle_ctx);
}

/* E2/O2: a thread in event_wait, waiting for something else, fires the
 * timeouts of the ctx's other operations: the only thread inside libxl
 * waits for event 61 (not started yet) while run 60 (`sleep 30`,
 * timeout 200 ms) times out -- its child dies while main stays out of
 * libxl -- and its completion is then queued with ERROR_TIMEDOUT. */
static libxl_ctx *to_ctx;

static void *to_waiter(void *arg)
{
    (void)arg;
    XLT_ASSERT_RC(xlt_wait_for(to_ctx, 61), 0);
    return NULL;
}

XLT_TEST(test_E2_waiter_fires_timeouts_of_other_ops, 60)
{
    char *argv[] = {"/bin/sh", "-c", "echo $$; exec sleep 30", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r60, r61;
    libxl_asyncop_how how;
    char line[32], path[64];
    pthread_t th;
    int p[2];
    int64_t deadline;

    to_ctx = xlt_ctx_new(NULL);
    xlt_pipe(p);
    a.stdout_fd = p[1];
    a.timeout_ms = 200;
    memset(&how, 0, sizeof how);
    how.u.for_event = 60;
    XLT_ASSERT_RC(xlt_childproc_run(to_ctx, &a, &r60, &how), 0);
    close(p[1]);
    xlt_read_line(p[0], line, sizeof line);
    close(p[0]);
    snprintf(path, sizeof path, "/proc/%d", atoi(line));

    XLT_ASSERT(pthread_create(&th, NULL, to_waiter, NULL) == 0);
    deadline = xlt_now_ms() + 30000;
    while (access(path, F_OK) == 0) {
        XLT_ASSERT_MSG(xlt_now_ms() < deadline,
                       "timeout never fired while a thread was in event_wait");
        xlt_sleep_ms(10);
    }
    xlt_start_event_run(to_ctx, argv_true, 61, &r61);
    pthread_join(th, NULL);
    XLT_ASSERT_RC(xlt_wait_for(to_ctx, 60), ERROR_TIMEDOUT);
    XLT_ASSERT_KILLED(r60.status, SIGTERM);
    libxl_ctx_free(to_ctx);
}

/* §4: completion callbacks run on an application thread that is inside a
 * libxl call on that ctx (never on the reaper), with the result already
 * filled in; here 5 threads sit in event_wait while 200 callback-mode runs
 * complete.  The last callback starts an event-mode run for main. */
#define CB_RUNS 200
#define CB_HELPERS 4
static libxl_ctx *cb_ctx;
static int cb_count;
static libxl_childproc_result cb_res[CB_RUNS], cb_sentinel_res[1 + CB_HELPERS];
static pthread_t cb_app_threads[1 + CB_HELPERS];

static void cb_done(libxl_ctx *ctx, int rc, void *for_callback)
{
    libxl_childproc_result *r = for_callback;
    pthread_t me = pthread_self();
    int i, known = 0;

    XLT_ASSERT(ctx == cb_ctx);
    XLT_ASSERT_MSG(xlt_in_libxl > 0,
                   "completion callback outside an application libxl call");
    for (i = 0; i < 1 + CB_HELPERS; i++)
        known |= pthread_equal(me, cb_app_threads[i]);
    XLT_ASSERT_MSG(known, "completion callback on a non-application thread");
    XLT_ASSERT_RC(rc, 0);
    XLT_ASSERT(r >= cb_res && r < cb_res + CB_RUNS);
    XLT_ASSERT_EXITED(r->status, (int)(r - cb_res) % 100);
    XLT_ASSERT(r->pid > 0);
    if (__atomic_add_fetch(&cb_count, 1, __ATOMIC_SEQ_CST) == CB_RUNS)
        xlt_start_event_run(ctx, argv_true, 999, &cb_sentinel_res[0]);
}

static void *cb_helper(void *arg)
{
    XLT_ASSERT_RC(xlt_wait_for(cb_ctx, 1000 + (uint64_t)(intptr_t)arg), 0);
    return NULL;
}

XLT_TEST(test_S4_callbacks_on_app_thread_inside_libxl_call, 120)
{
    int i;

    cb_ctx = xlt_ctx_new(NULL);
    cb_app_threads[0] = pthread_self();
    for (i = 1; i <= CB_HELPERS; i++)
        XLT_ASSERT(pthread_create(&cb_app_threads[i], NULL, cb_helper,
                                  (void *)(intptr_t)i) == 0);
    for (i = 0; i < CB_RUNS; i++) {
        char script[32];
        char *argv[] = {"/bin/sh", "-c", script, NULL};
        libxl_childproc_args a = xlt_args(argv);
        libxl_asyncop_how how;

        snprintf(script, sizeof script, "exit %d", i % 100);
        memset(&how, 0, sizeof how);
        how.callback = cb_done;
        how.u.for_callback = &cb_res[i];
        XLT_ASSERT_RC(xlt_childproc_run(cb_ctx, &a, &cb_res[i], &how), 0);
    }
    XLT_ASSERT_RC(xlt_wait_for(cb_ctx, 999), 0);
    XLT_ASSERT_EQ(cb_count, CB_RUNS);
    for (i = 1; i <= CB_HELPERS; i++)
        xlt_start_event_run(cb_ctx, argv_true, 1000 + (uint64_t)i,
                            &cb_sentinel_res[i]);
    for (i = 1; i <= CB_HELPERS; i++)
        pthread_join(cb_app_threads[i], NULL);
    XLT_ASSERT_EQ(cb_count, CB_RUNS);
    xlt_expect_no_event(cb_ctx);
    libxl_ctx_free(cb_ctx);
}

/* §4: callbacks hold no library lock and may start new operations on the
 * same ctx: a chain of 100 runs, each started from the previous one's
 * callback; every 10th callback also runs a child synchronously. */
#define CHAIN_N 100
static int chain_count;
static libxl_childproc_result chain_res[CHAIN_N + 1];

static void chain_start(libxl_ctx *ctx, int i);

static void chain_cb(libxl_ctx *ctx, int rc, void *for_callback)
{
    int i = (int)(intptr_t)for_callback;

    XLT_ASSERT(xlt_in_libxl > 0);
    XLT_ASSERT_RC(rc, 0);
    XLT_ASSERT_EQ(i, chain_count);
    XLT_ASSERT_EXITED(chain_res[i].status, i);
    chain_count++;
    if (i % 10 == 0) {
        char *argv[] = {"/bin/sh", "-c", "exit 5", NULL};
        libxl_childproc_args a = xlt_args(argv);
        libxl_childproc_result r;
        XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), 0);
        XLT_ASSERT_EXITED(r.status, 5);
    }
    if (i + 1 < CHAIN_N)
        chain_start(ctx, i + 1);
    else
        xlt_start_event_run(ctx, argv_true, 4242, &chain_res[CHAIN_N]);
}

static void chain_start(libxl_ctx *ctx, int i)
{
    char script[32];
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_asyncop_how how;

    snprintf(script, sizeof script, "exit %d", i);
    memset(&how, 0, sizeof how);
    how.callback = chain_cb;
    how.u.for_callback = (void *)(intptr_t)i;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &chain_res[i], &how), 0);
}

XLT_TEST(test_S4_callbacks_chain_100_runs_on_same_ctx, 120)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);

    chain_start(ctx, 0);
    XLT_ASSERT_RC(xlt_wait_for(ctx, 4242), 0);
    XLT_ASSERT_EQ(chain_count, CHAIN_N);
    xlt_expect_no_event(ctx);
    libxl_ctx_free(ctx);
    xlt_wait_no_children(10000);
}

/* S4: a completion callback that starts the next run (GLib/libuv style)
 * does not nest: the chain runs flat inside the outermost libxl call, on a
 * thread with a small stack, for real children and for runs that fail at
 * once (exec error, completed through the loop, never inside the call that
 * started them). */
#define FLAT_STACK (256 * 1024)
struct flat_chain {
    libxl_ctx *ctx;
    const char *prog;
    int left, done, want_rc;
};

static void flat_start(struct flat_chain *fc);

static void flat_cb(libxl_ctx *ctx, int rc, void *user)
{
    struct flat_chain *fc = user;

    XLT_ASSERT_MSG(xlt_in_libxl > 0, "callback outside a libxl call");
    XLT_ASSERT_RC(rc, fc->want_rc);
    fc->done++;
    if (--fc->left > 0) {
        flat_start(fc);
    } else {
        xlt_start_exit(ctx, 0, 77, NULL); /* wakes the event_wait */
    }
}

static void flat_start(struct flat_chain *fc)
{
    char *argv[] = {(char *)fc->prog, NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_asyncop_how how;

    memset(&how, 0, sizeof how);
    how.callback = flat_cb;
    how.u.for_callback = fc;
    XLT_ASSERT_RC(xlt_childproc_run(fc->ctx, &a, NULL, &how), 0);
}

static void *flat_drive(void *arg)
{
    struct flat_chain *fc = arg;

    flat_start(fc);
    XLT_ASSERT_RC(xlt_wait_for(fc->ctx, 77), 0);
    return NULL;
}

static void flat_chain_run(const char *prog, int n, int want_rc)
{
    struct flat_chain fc = {xlt_ctx_new(NULL), prog, n, 0, want_rc};
    pthread_attr_t at;
    pthread_t t;

    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, FLAT_STACK);
    XLT_ASSERT(pthread_create(&t, &at, flat_drive, &fc) == 0);
    pthread_join(t, NULL);
    pthread_attr_destroy(&at);
    XLT_ASSERT_EQ(fc.done, n);
    libxl_ctx_free(fc.ctx);
}

XLT_TEST(test_S4_callback_chain_of_runs_does_not_nest, 300)
{
    flat_chain_run("/bin/true", 2000, 0);
}

XLT_TEST(test_S4_callback_chain_of_failing_runs_does_not_nest, 300)
{
    if (xlt_skip_under_valgrind("posix_spawn cannot report exec errors"))
        return;
    flat_chain_run("/nonexistent/xlt-no-such-prog", 20000, ERROR_FAIL);
}

/* E4: with event_occurs_mask holding the type's bit, events go to
 * event_occurs (which owns them), called inside an application libxl call;
 * with the bit clear, events are queued as usual and the hook is never
 * called. */
#define EO_RUNS 20
struct eo_state {
    libxl_ctx *ctx;
    int calls;
    int seen[EO_RUNS];
};

static void eo_hook(void *user, libxl_event *ev)
{
    struct eo_state *s = user;

    XLT_ASSERT_MSG(xlt_in_libxl > 0,
                   "event_occurs outside an application libxl call");
    XLT_ASSERT_EQ(ev->type, LIBXL_EVENT_TYPE_OPERATION_COMPLETE);
    XLT_ASSERT_RC(ev->u.operation_complete.rc, 0);
    XLT_ASSERT(ev->for_user < EO_RUNS);
    s->seen[ev->for_user]++;
    libxl_event_free(s->ctx, ev);
    __atomic_add_fetch(&s->calls, 1, __ATOMIC_SEQ_CST);
}

static void eo_run(uint64_t mask, int want_hook)
{
    static libxl_childproc_result res[EO_RUNS];
    struct eo_state s;
    libxl_event_hooks hooks;
    int i;

    memset(&s, 0, sizeof s);
    s.ctx = xlt_ctx_new(NULL);
    memset(&hooks, 0, sizeof hooks);
    hooks.event_occurs_mask = mask;
    hooks.event_occurs = eo_hook;
    libxl_event_register_callbacks(s.ctx, &hooks, &s);
    memset(&hooks, 0xff, sizeof hooks); /* hooks is copied */

    for (i = 0; i < EO_RUNS; i++)
        xlt_start_event_run(s.ctx, argv_true, (uint64_t)i, &res[i]);
    if (want_hook) {
        /* xlt_pump_until also asserts nothing was queued meanwhile. */
        xlt_pump_until(s.ctx, &s.calls, EO_RUNS, 30000);
        for (i = 0; i < EO_RUNS; i++)
            XLT_ASSERT_EQ(s.seen[i], 1);
        xlt_expect_no_event(s.ctx);
    } else {
        for (i = 0; i < EO_RUNS; i++)
            XLT_ASSERT_RC(xlt_wait_for(s.ctx, (uint64_t)i), 0);
        XLT_ASSERT_EQ(s.calls, 0);
    }
    libxl_ctx_free(s.ctx);
}

XLT_TEST(test_E4_event_occurs_gets_events_in_mask, 60)
{
    eo_run(OC_BIT, 1);
    eo_run(LIBXL_EVENTMASK_ALL, 1);
}

XLT_TEST(test_E4_events_outside_mask_are_queued, 60)
{
    eo_run(0, 0);
    eo_run(~OC_BIT, 0);
}

/* §4 libxl_ao_abort: 0 for a running op, which then completes with
 * ERROR_ABORTED (the child got SIGTERM); afterwards the op is gone:
 * ERROR_NOTFOUND. */
XLT_TEST(test_S4_ao_abort_running_op_completes_aborted, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    libxl_childproc_result r;
    libxl_asyncop_how how;

    xlt_start_event_run(ctx, argv_sleep30, 31, &r);
    memset(&how, 0, sizeof how);
    how.u.for_event = 31;
    XLT_ASSERT_RC(libxl_ao_abort(ctx, &how), 0);
    XLT_ASSERT_RC(xlt_wait_for(ctx, 31), ERROR_ABORTED);
    XLT_ASSERT_KILLED(r.status, SIGTERM);
    XLT_ASSERT_RC(libxl_ao_abort(ctx, &how), ERROR_NOTFOUND);
    xlt_expect_no_event(ctx);
    libxl_ctx_free(ctx);
}

/* §4: a second abort of the same op gives ERROR_ABORTED.  The child
 * ignores SIGTERM (and says so before we abort), so the op certainly is
 * still in progress at the second call; it dies of SIGKILL after the
 * grace period and completes with ERROR_ABORTED. */
XLT_TEST(test_S4_ao_abort_twice_gives_aborted, 60)
{
    char *argv[] = {"/bin/sh", "-c", "trap '' TERM; echo ready; exec sleep 30",
                    NULL};
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    libxl_asyncop_how how;
    char line[64];
    int p[2];

    xlt_pipe(p);
    a.stdout_fd = p[1];
    a.kill_grace_ms = 1000;
    memset(&how, 0, sizeof how);
    how.u.for_event = 32;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, &how), 0);
    close(p[1]);
    xlt_read_line(p[0], line, sizeof line);
    XLT_ASSERT_STREQ(line, "ready");

    XLT_ASSERT_RC(libxl_ao_abort(ctx, &how), 0);
    XLT_ASSERT_RC(libxl_ao_abort(ctx, &how), ERROR_ABORTED);
    XLT_ASSERT_RC(xlt_wait_for(ctx, 32), ERROR_ABORTED);
    XLT_ASSERT_KILLED(r.status, SIGKILL);
    close(p[0]);
    libxl_ctx_free(ctx);
}

/* §4: an ao_how that matches no operation gives ERROR_NOTFOUND, and so
 * does how == NULL when no synchronous operation is running; the running
 * op is not disturbed. */
XLT_TEST(test_S4_ao_abort_unknown_how_notfound, 60)
{
    char *argv[] = {"/bin/sh", "-c", "sleep 0.3; exit 4", NULL};
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    libxl_childproc_result r;
    libxl_asyncop_how how;

    xlt_start_event_run(ctx, argv, 33, &r);
    memset(&how, 0, sizeof how);
    how.u.for_event = 12345;
    XLT_ASSERT_RC(libxl_ao_abort(ctx, &how), ERROR_NOTFOUND);
    XLT_ASSERT_RC(libxl_ao_abort(ctx, NULL), ERROR_NOTFOUND);
    XLT_ASSERT_RC(xlt_wait_for(ctx, 33), 0);
    XLT_ASSERT_EXITED(r.status, 4);
    libxl_ctx_free(ctx);
}

/* §4: the op is found by the value of *how (callback and u), not by the
 * address of the caller's struct; the callback then gets ERROR_ABORTED. */
static int ab_cb_rc = 1, ab_cb_calls;

static void ab_cb(libxl_ctx *ctx, int rc, void *for_callback)
{
    (void)ctx;
    XLT_ASSERT(xlt_in_libxl > 0);
    XLT_ASSERT(for_callback == &ab_cb_rc);
    ab_cb_rc = rc;
    __atomic_add_fetch(&ab_cb_calls, 1, __ATOMIC_SEQ_CST);
}

XLT_TEST(test_S4_ao_abort_matches_how_by_value, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    libxl_childproc_args a = xlt_args(argv_sleep30);
    libxl_childproc_result r;
    libxl_asyncop_how how, copy, other;

    memset(&how, 0, sizeof how);
    how.callback = ab_cb;
    how.u.for_callback = &ab_cb_rc;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, &how), 0);
    other = copy = how;
    memset(&how, 0xa5, sizeof how);      /* as libxl, the how is the caller's */
    other.u.for_callback = &ab_cb_calls; /* same callback, other user */
    XLT_ASSERT_RC(libxl_ao_abort(ctx, &other), ERROR_NOTFOUND);
    XLT_ASSERT_RC(libxl_ao_abort(ctx, &copy), 0);
    xlt_pump_until(ctx, &ab_cb_calls, 1, 30000);
    XLT_ASSERT_RC(ab_cb_rc, ERROR_ABORTED);
    XLT_ASSERT_KILLED(r.status, SIGTERM);
    xlt_pump_for(ctx, 300); /* a chance for a second call */
    XLT_ASSERT_EQ(ab_cb_calls, 1);
    libxl_ctx_free(ctx);
}

/* §4: libxl_ao_abort(ctx, NULL) from another thread cuts short the
 * synchronous run in progress, which returns ERROR_ABORTED. */
static libxl_ctx *sync_ctx;
static libxl_childproc_result sync_res;
static int sync_rc = 1;

static void *sync_runner(void *arg)
{
    libxl_childproc_args a = xlt_args(argv_sleep30);
    (void)arg;
    sync_rc = xlt_childproc_run(sync_ctx, &a, &sync_res, NULL);
    return NULL;
}

XLT_TEST(test_S4_ao_abort_sync_run_from_other_thread, 60)
{
    pthread_t th;
    int64_t deadline;
    int rc;

    sync_ctx = xlt_ctx_new(NULL);
    XLT_ASSERT(pthread_create(&th, NULL, sync_runner, NULL) == 0);
    deadline = xlt_now_ms() + 20000;
    while ((rc = libxl_ao_abort(sync_ctx, NULL)) == ERROR_NOTFOUND) {
        XLT_ASSERT_MSG(xlt_now_ms() < deadline,
                       "synchronous run never became abortable");
        xlt_sleep_ms(1);
    }
    XLT_ASSERT_RC(rc, 0);
    pthread_join(th, NULL);
    XLT_ASSERT_RC(sync_rc, ERROR_ABORTED);
    XLT_ASSERT_KILLED(sync_res.status, SIGTERM);
    XLT_ASSERT_RC(libxl_ao_abort(sync_ctx, NULL), ERROR_NOTFOUND);
    libxl_ctx_free(sync_ctx);
}

int main(void)
{
    static const xlt_case cases[] = {
        XLT_CASE(test_E1_check_on_empty_queue_not_ready),
        XLT_CASE(test_S4_async_run_queues_operation_complete),
        XLT_CASE(test_E3_events_in_generation_order),
        XLT_CASE(test_E3_order_among_matching_events),
        XLT_CASE(test_E1_typemask_and_predicate_filter),
        XLT_CASE(test_E2_each_event_exactly_once_8_waiters),
        XLT_CASE(test_E2_idle_waiter_is_not_woken),
        XLT_CASE(test_E2_waiter_fires_timeouts_of_other_ops),
        XLT_CASE(test_S4_callbacks_on_app_thread_inside_libxl_call),
        XLT_CASE(test_S4_callbacks_chain_100_runs_on_same_ctx),
        XLT_CASE(test_S4_callback_chain_of_runs_does_not_nest),
        XLT_CASE(test_S4_callback_chain_of_failing_runs_does_not_nest),
        XLT_CASE(test_E4_event_occurs_gets_events_in_mask),
        XLT_CASE(test_E4_events_outside_mask_are_queued),
        XLT_CASE(test_S4_ao_abort_running_op_completes_aborted),
        XLT_CASE(test_S4_ao_abort_twice_gives_aborted),
        XLT_CASE(test_S4_ao_abort_unknown_how_notfound),
        XLT_CASE(test_S4_ao_abort_matches_how_by_value),
        XLT_CASE(test_S4_ao_abort_sync_run_from_other_thread),
    };
    return xlt_main("events", cases, sizeof cases / sizeof cases[0]);
}
