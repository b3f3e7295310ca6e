/*
 * test_leader.c - E2's leader/follower hand-off: a thread that waits in a
 * libxl call collects statuses itself instead of the reaper thread, and
 * the reaper takes SIGCHLD again whenever no such thread can.
 *
 * What must hold, and what each case shows with real children:
 *  - while a thread waits, the reaper stays asleep: its wakeups do not
 *    grow with the children it would have collected;
 *  - a thread waiting on one ctx is not woken for another ctx's children
 *    (with several ctxs the reaper keeps its role);
 *  - a waiter cancelled while it leads (E5) gives the role back: a status
 *    pending then still reaches the ctx's wakeup fd without any thread in
 *    the library;
 *  - a leader that runs a long callback never holds up other threads: a
 *    thread that sleeps in a synchronous run takes the role over, and a
 *    ctx driven by a poll loop is served by the reaper;
 *  - a process forked while another thread leads starts afresh.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static char *argv_true[] = {"/bin/true", NULL};

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

/* The reaper thread's tid (it names itself), or 0. */
static pid_t reaper_tid(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    pid_t tid = 0;

    XLT_ASSERT(d != NULL);
    while (!tid && (e = readdir(d))) {
        char path[320], comm[32] = "";
        FILE *f;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        if (!(f = fopen(path, "re")))
            continue;
        if (fgets(comm, sizeof comm, f) && !strcmp(comm, "xlchild-reaper\n"))
            tid = (pid_t)atoi(e->d_name);
        fclose(f);
    }
    closedir(d);
    return tid;
}

static void run_true(libxl_ctx *ctx)
{
    libxl_childproc_args a = xlt_args(argv_true);
    libxl_childproc_result r;

    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), 0);
    XLT_ASSERT_EXITED(r.status, 0);
}

static void set_selective(libxl_ctx *ctx)
{
    libxl_childproc_hooks h;

    memset(&h, 0, sizeof h);
    h.chldowner = libxl_sigchld_owner_libxl_always_selective_reap;
    libxl_childproc_setmode(ctx, &h, NULL);
}

/* ------------------------------------------------------------------ */
/* The reaper stays asleep while a thread waits                        */

#define QUIET_RUNS 200

/* A ctx (selective or default) whose reaper runs, and the reaper's tid,
 * for a count of its wakeups; NULL under valgrind, which takes the
 * signals itself and wakes every thread for them. */
static libxl_ctx *counted_ctx_new(int selective, pid_t *tid)
{
    libxl_ctx *ctx;

    if (xlt_skip_under_valgrind("valgrind takes the signals itself and"
                                " wakes every thread for them"))
        return NULL;
    ctx = xlt_ctx_new(NULL);
    if (selective)
        set_selective(ctx);
    run_true(ctx); /* the reaper runs */
    *tid = reaper_tid();
    XLT_ASSERT_MSG(*tid > 0, "no thread named xlchild-reaper");
    return ctx;
}

/* 200 synchronous runs of /bin/true, one at a time: each status is
 * collected by the thread waiting for it.  The reaper sleeps through them:
 * it wakes for its 1 s sweep and the odd poke, never once per child (as
 * it did when it collected every status itself). */
static void reaper_sleeps_through(int selective)
{
    libxl_ctx *ctx;
    long before, after;
    pid_t tid;
    int i;

    if (!(ctx = counted_ctx_new(selective, &tid)))
        return;
    before = xlt_voluntary_switches(tid);
    for (i = 0; i < QUIET_RUNS; i++)
        run_true(ctx);
    after = xlt_voluntary_switches(tid);
    XLT_ASSERT_MSG(after - before < QUIET_RUNS / 4,
                   "the reaper woke %ld times for %d children that a"
                   " waiting thread collected",
                   after - before, QUIET_RUNS);
    XLT_ASSERT_RC(libxl_ctx_free(ctx), 0);
}

XLT_TEST(test_E2_reaper_sleeps_while_a_thread_waits_default, 120)
{
    reaper_sleeps_through(0);
}

XLT_TEST(test_E2_reaper_sleeps_while_a_thread_waits_selective, 120)
{
    reaper_sleeps_through(1);
}

/* ------------------------------------------------------------------ */
/* The reaper stays asleep while a thread starts children              */

#define CHAIN_RUNS 400
#define CHAIN_WIDTH 16

static struct {
    libxl_ctx *ctx;
    libxl_childproc_result res[CHAIN_RUNS], last;
    int started, done, failed;
} ch;

#define CHAIN_LAST 999 /* the event that says the chain is over */

static void chain_start(void);

/* Each completion starts the next child from its callback, as GLib and
 * libuv programs do, until CHAIN_RUNS have run. */
static void chain_cb(libxl_ctx *ctx, int rc, void *for_callback)
{
    libxl_childproc_result *r = for_callback;

    (void)ctx;
    if (rc || !WIFEXITED(r->status) || WEXITSTATUS(r->status) != 0)
        ch.failed++;
    if (++ch.done == CHAIN_RUNS)
        xlt_start_event_run(ch.ctx, argv_true, CHAIN_LAST, &ch.last);
    chain_start();
}

static void chain_start(void)
{
    libxl_childproc_args a = xlt_args(argv_true);
    libxl_asyncop_how how;

    if (ch.started == CHAIN_RUNS)
        return;
    memset(&how, 0, sizeof how);
    how.callback = chain_cb;
    how.u.for_callback = &ch.res[ch.started];
    XLT_ASSERT_RC(xlt_childproc_run(ch.ctx, &a, &ch.res[ch.started++], &how),
                  0);
}

/* CHAIN_WIDTH chains of callbacks, each starting the next child, begun
 * outside any wait: the asynchronous runs that begin them collect what
 * is ready before they return (src/loop.c), and the waits in between
 * lead.  The reaper, which once carried every status of such a chain to
 * the calling thread (one wakeup per child), sleeps through it.  Then the
 * same with events, one child started each time one is taken. */
static void reaper_sleeps_through_starts(int selective)
{
    long before, after;
    pid_t tid;
    int i;

    memset(&ch, 0, sizeof ch);
    if (!(ch.ctx = counted_ctx_new(selective, &tid)))
        return;

    before = xlt_voluntary_switches(tid);
    for (i = 0; i < CHAIN_WIDTH; i++)
        chain_start();
    XLT_ASSERT_RC(xlt_wait_for(ch.ctx, CHAIN_LAST), 0);
    after = xlt_voluntary_switches(tid);
    XLT_ASSERT_EQ(ch.failed, 0);
    XLT_ASSERT_MSG(after - before < CHAIN_RUNS / 4,
                   "the reaper woke %ld times for a chain of %d children"
                   " started by callbacks",
                   after - before, CHAIN_RUNS);

    before = xlt_voluntary_switches(tid);
    for (i = 0; i < CHAIN_RUNS; i++) {
        if (i >= CHAIN_WIDTH)
            XLT_ASSERT_RC(xlt_wait_for(ch.ctx, (uint64_t)(i - CHAIN_WIDTH)), 0);
        xlt_start_event_run(ch.ctx, argv_true, (uint64_t)i, &ch.res[i]);
    }
    for (i = CHAIN_RUNS - CHAIN_WIDTH; i < CHAIN_RUNS; i++)
        XLT_ASSERT_RC(xlt_wait_for(ch.ctx, (uint64_t)i), 0);
    after = xlt_voluntary_switches(tid);
    for (i = 0; i < CHAIN_RUNS; i++)
        XLT_ASSERT_EXITED(ch.res[i].status, 0);
    XLT_ASSERT_MSG(after - before < CHAIN_RUNS / 4,
                   "the reaper woke %ld times for %d children, each"
                   " started as an event was taken",
                   after - before, CHAIN_RUNS);
    XLT_ASSERT_RC(libxl_ctx_free(ch.ctx), 0);
}

XLT_TEST(test_E2_reaper_sleeps_while_a_thread_starts_default, 120)
{
    reaper_sleeps_through_starts(0);
}

XLT_TEST(test_E2_reaper_sleeps_while_a_thread_starts_selective, 120)
{
    reaper_sleeps_through_starts(1);
}

/* ------------------------------------------------------------------ */
/* A leading start still serves the capture pipes (S5)                 */

#define BUSY_CHAIN 60
#define BUSY_CB_MS 12

static struct {
    libxl_ctx *ctx;
    libxl_childproc_result res, cap;
    int started, done, cap_done, done_at_cap;
} bc;

static void busy_chain_cb(libxl_ctx *ctx, int rc, void *for_callback);

static void busy_chain_start(void)
{
    libxl_childproc_args a = xlt_args(argv_true);
    libxl_asyncop_how how;

    memset(&how, 0, sizeof how);
    how.callback = busy_chain_cb;
    bc.started++;
    XLT_ASSERT_RC(xlt_childproc_run(bc.ctx, &a, &bc.res, &how), 0);
}

/* Starts the next child, then works for longer than /bin/true lives: the
 * starting call finds a status ready at every look. */
static void busy_chain_cb(libxl_ctx *ctx, int rc, void *for_callback)
{
    int64_t t0 = xlt_now_ms();

    (void)ctx;
    (void)for_callback;
    XLT_ASSERT_RC(rc, 0);
    bc.done++;
    if (bc.started < BUSY_CHAIN)
        busy_chain_start();
    while (xlt_now_ms() - t0 < BUSY_CB_MS)
        ;
}

static void busy_cap_cb(libxl_ctx *ctx, int rc, void *for_callback)
{
    (void)ctx;
    (void)for_callback;
    XLT_ASSERT_RC(rc, 0);
    bc.cap_done = 1;
    bc.done_at_cap = bc.done;
}

/* A captured run whose child writes 256 KiB (four pipe buffers) and a
 * chain of callbacks started by one call, which leads through the chain
 * (src/loop.c), or by the test's libxl_event_check calls.  The pipe is
 * drained while the chain runs: the captured run completes long before
 * the chain's end.  Both ways once drained the pipes only when nothing
 * was queued, which such a chain never lets happen: the child sat blocked
 * on a full pipe for the whole chain (60 of 60, before). */
XLT_TEST(test_S5_leading_start_drains_captures, 120)
{
    char *argv_big[] = {"/bin/sh", "-c", "head -c 262144 /dev/zero", NULL};
    libxl_childproc_args a = xlt_args(argv_big);
    libxl_asyncop_how how;

    memset(&bc, 0, sizeof bc);
    bc.ctx = xlt_ctx_new(NULL);
    run_true(bc.ctx); /* the reaper runs */
    a.capture = LIBXL_CAPTURE_STDOUT;
    memset(&how, 0, sizeof how);
    how.callback = busy_cap_cb;
    XLT_ASSERT_RC(xlt_childproc_run(bc.ctx, &a, &bc.cap, &how), 0);
    busy_chain_start();
    xlt_pump_until(bc.ctx, &bc.done, BUSY_CHAIN, 60000);
    xlt_pump_until(bc.ctx, &bc.cap_done, 1, 60000);
    XLT_ASSERT_EQ(bc.cap.out_len, (size_t)262144);
    XLT_ASSERT_EXITED(bc.cap.status, 0);
    XLT_ASSERT_MSG(bc.done_at_cap < BUSY_CHAIN / 2,
                   "the captured run completed after %d of the chain's %d"
                   " children: its pipe was not drained while the chain ran",
                   bc.done_at_cap, BUSY_CHAIN);
    libxl_childproc_result_dispose(&bc.cap);
    XLT_ASSERT_RC(libxl_ctx_free(bc.ctx), 0);
}

/* ------------------------------------------------------------------ */
/* A waiter is not woken for another ctx's children (E2)               */

/* A thread waits on ctx A, which has a child running (so it has something
 * to wait for); 100 children of ctx B come and go.  A waiter that took
 * the reaper's role would be woken for each of them: it sleeps through. */
XLT_TEST(test_E2_waiter_sleeps_through_another_ctxs_children, 120)
{
    libxl_ctx *ow_ctx, *other;
    libxl_childproc_result r_gated, r_stop;
    long before, after;
    xlt_sleeper w;
    int gate, i;

    if (xlt_skip_under_valgrind("valgrind takes the signals itself and"
                                " wakes every thread for them"))
        return;
    ow_ctx = xlt_ctx_new(NULL);
    other = xlt_ctx_new(NULL);
    xlt_start_gated(ow_ctx, 1, &gate, &r_gated);
    xlt_sleeper_start(&w, ow_ctx, 9, 200); /* asleep in event_wait by then */
    before = xlt_voluntary_switches(w.tid);
    for (i = 0; i < QUIET_RUNS / 2; i++)
        run_true(other);
    after = xlt_voluntary_switches(w.tid);
    XLT_ASSERT_MSG(after - before < QUIET_RUNS / 8,
                   "a thread waiting on one ctx woke %ld times for %d"
                   " children of another",
                   after - before, QUIET_RUNS / 2);
    xlt_start_exit(ow_ctx, 0, 9, &r_stop);
    xlt_sleeper_join(&w);
    xlt_finish_gated(ow_ctx, 1, gate, &r_gated);
    XLT_ASSERT_RC(libxl_ctx_free(other), 0);
    XLT_ASSERT_RC(libxl_ctx_free(ow_ctx), 0);
}

/* ------------------------------------------------------------------ */
/* A leader cancelled (E5)                                             */

static libxl_ctx *cx_ctx;
static int cx_inside;

static void *cx_waiter(void *arg)
{
    libxl_event *ev = NULL;

    (void)arg;
    __atomic_store_n(&cx_inside, 1, __ATOMIC_RELEASE);
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
    libxl_event_wait(cx_ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL);
    return NULL; /* not reached: cancelled */
}

/* The only thread inside the library waits for a gated child (it leads)
 * and is cancelled; then the child exits with no thread in the library.
 * The role went back to the reaper: the status is collected and the ctx's
 * wakeup fd becomes readable (O1), then event_check takes the event. */
XLT_TEST(test_E5_cancelled_leader_gives_the_reaper_its_role_back, 60)
{
    libxl_childproc_result r;
    struct pollfd fds[8];
    struct timeval now;
    libxl_event *ev = NULL;
    pthread_t th;
    void *ret;
    int gate, nfds = 8, timeout = -1, rc;

    cx_ctx = xlt_ctx_new(NULL);
    xlt_start_gated(cx_ctx, 5, &gate, &r);
    gettimeofday(&now, NULL);
    XLT_ASSERT_RC(libxl_osevent_beforepoll(cx_ctx, &nfds, fds, &timeout, now),
                  0);
    XLT_ASSERT(pthread_create(&th, NULL, cx_waiter, NULL) == 0);
    while (!__atomic_load_n(&cx_inside, __ATOMIC_ACQUIRE))
        xlt_sleep_ms(1);
    xlt_sleep_ms(200); /* asleep in event_wait by now */
    XLT_ASSERT(pthread_cancel(th) == 0);
    XLT_ASSERT(pthread_join(th, &ret) == 0);
    XLT_ASSERT(ret == PTHREAD_CANCELED);

    close(gate); /* the child exits now */
    fds[0].revents = 0;
    rc = poll(fds, 1, 20000);
    XLT_ASSERT_MSG(rc == 1 && (fds[0].revents & POLLIN),
                   "the wakeup fd never became readable (poll: %d)", rc);
    XLT_ASSERT_RC(xlt_event_check(cx_ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL),
                  0);
    XLT_ASSERT_EQ(ev->for_user, 5);
    XLT_ASSERT_RC(ev->u.operation_complete.rc, 0);
    XLT_ASSERT_EXITED(r.status, 0);
    libxl_event_free(cx_ctx, ev);
    XLT_ASSERT_RC(libxl_ctx_free(cx_ctx), 0);
}

/* ------------------------------------------------------------------ */
/* A leader busy in a long callback holds nobody up                    */

/* Children that another thread waits for in turn, while the leader is
 * busy (60 s: a bound that only catches a hang; the reaper's sweep would
 * take the role back within 1 s if nothing else did). */
#define BUSY_RUNS 25

static libxl_ctx *bl_ctx;
static int bl_done, bl_in_callback;

static void bl_callback(libxl_ctx *ctx, int rc, void *user)
{
    int64_t t0 = xlt_now_ms();

    (void)ctx;
    (void)rc;
    (void)user;
    __atomic_store_n(&bl_in_callback, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&bl_done, __ATOMIC_ACQUIRE)) {
        XLT_ASSERT_MSG(xlt_now_ms() - t0 < 60000,
                       "the other thread's %d runs did not finish while a"
                       " callback ran",
                       BUSY_RUNS);
        xlt_sleep_ms(2);
    }
}

/* Thread A starts a run on ctx 1 and sleeps in event_wait (it leads),
 * wakes for the run's status and runs its callback, which returns only
 * once the other side is done.  A is the only thread that calls into
 * ctx 1 until then, so the callback runs in A. */
static void *bl_waiter_thread(void *arg)
{
    libxl_childproc_args a = xlt_args(argv_true);
    libxl_asyncop_how how;
    static libxl_childproc_result r;

    (void)arg;
    memset(&how, 0, sizeof how);
    how.callback = bl_callback;
    XLT_ASSERT_RC(xlt_childproc_run(bl_ctx, &a, &r, &how), 0);
    /* The callback may also have run inside that call, if the child was
     * quick: either way this thread then waits for event 7, which the
     * test makes once it is done (bl_finish). */
    XLT_ASSERT_RC(xlt_wait_for(bl_ctx, 7), 0);
    return NULL;
}

/* Lets thread A go: its callback returns, and the event it waits for
 * comes; then its ctx goes. */
static void bl_finish(pthread_t th)
{
    static libxl_childproc_result r;

    __atomic_store_n(&bl_done, 1, __ATOMIC_RELEASE);
    xlt_start_event_run(bl_ctx, argv_true, 7, &r);
    pthread_join(th, NULL);
    XLT_ASSERT_RC(libxl_ctx_free(bl_ctx), 0);
}

XLT_TEST(test_E2_busy_leader_holds_up_no_synchronous_run, 120)
{
    libxl_ctx *other = xlt_ctx_new(NULL);
    pthread_t th;
    int i;

    bl_ctx = xlt_ctx_new(NULL);
    run_true(other); /* the reaper runs */
    XLT_ASSERT(pthread_create(&th, NULL, bl_waiter_thread, NULL) == 0);
    while (!__atomic_load_n(&bl_in_callback, __ATOMIC_ACQUIRE))
        xlt_sleep_ms(1);
    /* Thread A is in bl_callback now, maybe keeping the role. */
    for (i = 0; i < BUSY_RUNS; i++)
        run_true(other);
    bl_finish(th);
    XLT_ASSERT_RC(libxl_ctx_free(other), 0);
}

/* The same, with the other ctx driven by a poll loop on its wakeup fd
 * (beforepoll/afterpoll), where no thread of it is inside the library
 * while it waits: the reaper must collect for it. */
XLT_TEST(test_E2_busy_leader_holds_up_no_poll_loop, 120)
{
    libxl_ctx *other = xlt_ctx_new(NULL);
    pthread_t th;
    int i;

    bl_ctx = xlt_ctx_new(NULL);
    run_true(other);
    XLT_ASSERT(pthread_create(&th, NULL, bl_waiter_thread, NULL) == 0);
    while (!__atomic_load_n(&bl_in_callback, __ATOMIC_ACQUIRE))
        xlt_sleep_ms(1);
    for (i = 0; i < BUSY_RUNS; i++) {
        libxl_childproc_result rr;
        libxl_event *ev = NULL;

        xlt_start_event_run(other, argv_true, 100 + i, &rr);
        for (;;) {
            struct pollfd fds[8];
            struct timeval now;
            int nfds = 8, timeout = -1;

            gettimeofday(&now, NULL);
            XLT_ASSERT_RC(
                libxl_osevent_beforepoll(other, &nfds, fds, &timeout, now), 0);
            XLT_ASSERT(poll(fds, (nfds_t)nfds, 20000) > 0);
            gettimeofday(&now, NULL);
            libxl_osevent_afterpoll(other, nfds, fds, now);
            if (xlt_event_check(other, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL) ==
                0)
                break;
        }
        XLT_ASSERT_EQ(ev->for_user, (uint64_t)(100 + i));
        XLT_ASSERT_RC(ev->u.operation_complete.rc, 0);
        libxl_event_free(other, ev);
    }
    bl_finish(th);
    XLT_ASSERT_RC(libxl_ctx_free(other), 0);
}

/* ------------------------------------------------------------------ */
/* fork while a thread leads                                           */

static libxl_ctx *fk_ctx;

static void *fk_waiter(void *arg)
{
    libxl_event *ev = NULL;

    (void)arg;
    XLT_ASSERT_RC(
        libxl_event_wait(fk_ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL),
        ERROR_INVAL); /* let go by ctx_free */
    return NULL;
}

/* F1: the fork child has no leader (that thread is the parent's): a new
 * ctx there runs children, whose statuses its own reaper or its own
 * waiting thread collects; the parent's leader is unaffected. */
XLT_TEST(test_F1_fork_while_a_thread_leads, 60)
{
    pthread_t th;
    pid_t pid;
    int st;

    fk_ctx = xlt_ctx_new(NULL);
    run_true(fk_ctx);
    XLT_ASSERT(pthread_create(&th, NULL, fk_waiter, NULL) == 0);
    xlt_sleep_ms(200); /* it leads now */
    pid = fork();
    XLT_ASSERT(pid >= 0);
    if (pid == 0 && XLT_UNDER_SANITIZER)
        /* A child of a multi-threaded fork cannot use malloc under a
         * sanitizer (harness.h): checked in the plain and valgrind runs. */
        xlt_child_exit(0);
    if (pid == 0) {
        libxl_ctx *c = NULL;
        libxl_childproc_args a = xlt_args(argv_true);
        libxl_childproc_result r;
        int i;

        if (libxl_ctx_alloc(&c, LIBXL_VERSION, 0, NULL))
            xlt_child_exit(3);
        for (i = 0; i < 20; i++)
            if (libxl_childproc_run(c, &a, &r, NULL) || r.status != 0)
                xlt_child_exit(4);
        xlt_child_exit(libxl_ctx_free(c) ? 5 : 0);
    }
    XLT_ASSERT(waitpid(pid, &st, 0) == pid);
    XLT_ASSERT_EXITED(st, 0);
    run_true(fk_ctx); /* the parent's ctx still runs children */
    XLT_ASSERT_RC(libxl_ctx_free(fk_ctx), 0);
    pthread_join(th, NULL);
}

int main(void)
{
    static const xlt_case cases[] = {
        XLT_CASE(test_E2_reaper_sleeps_while_a_thread_waits_default),
        XLT_CASE(test_E2_reaper_sleeps_while_a_thread_waits_selective),
        XLT_CASE(test_E2_reaper_sleeps_while_a_thread_starts_default),
        XLT_CASE(test_E2_reaper_sleeps_while_a_thread_starts_selective),
        XLT_CASE(test_S5_leading_start_drains_captures),
        XLT_CASE(test_E2_waiter_sleeps_through_another_ctxs_children),
        XLT_CASE(test_E5_cancelled_leader_gives_the_reaper_its_role_back),
        XLT_CASE(test_E2_busy_leader_holds_up_no_synchronous_run),
        XLT_CASE(test_E2_busy_leader_holds_up_no_poll_loop),
        XLT_CASE(test_F1_fork_while_a_thread_leads),
    };
    return xlt_main("leader", cases, sizeof cases / sizeof cases[0]);
}
