/*
 * m_xlchild.c - xlchild, in each way an application drives it.
 *
 *   -d wait   libxl_childproc_run completing as events; the main thread
 *             loops on libxl_event_wait and starts the next child
 *             (kinds true, stamp: fork children produce no event).
 *   -d cb     completions as callbacks (death callbacks for
 *             libxl_childproc_fork); each callback starts the next child
 *             from inside the callback.  The callbacks run inside a
 *             libxl_event_wait in the main thread, which returns on the
 *             completion event of one last sentinel /bin/true that the
 *             N-th callback starts (outside the timing).
 *   -d poll   callbacks, driven by a poll loop around
 *             libxl_osevent_beforepoll/afterpoll; the loop refills.
 *   -d main   owner_mainloop: the loop reaps with a blocking waitpid(-1)
 *             and hands each status to libxl_childproc_reaped, which runs
 *             the callback.
 *   -m default|selective  owner_libxl (default) or
 *             owner_libxl_always_selective_reap (not with -d main).
 *
 * Kind fork uses libxl_childproc_fork; the exec kinds libxl_childproc_run.
 */
#include "config.h"

#include "common.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <xlchild.h>

enum drive { D_WAIT, D_CB, D_POLL, D_MAIN };

#define SENTINEL UINT64_MAX

static libxl_ctx *ctx;
static enum drive drive;
static libxl_childproc_result *res;
static libxl_childproc_result sentinel_res;
static int cb_depth, cb_depth_max; /* callbacks nested in callbacks */

static void start_one(long i);

static void refill(void)
{
    while (bench_may_spawn())
        start_one(bench_next());
}

static void start_sentinel(void)
{
    static char *const argv[] = {"true", NULL};
    libxl_childproc_args a;
    libxl_asyncop_how how;
    int rc;

    memset(&a, 0, sizeof a);
    memset(&how, 0, sizeof how);
    a.path = "/bin/true";
    a.argv = argv;
    how.u.for_event = SENTINEL;
    rc = libxl_childproc_run(ctx, &a, &sentinel_res, &how);
    if (rc)
        bench_fail("sentinel childproc_run: %s", libxl_strerror(rc));
}

/* After a status: the cb drive starts the next child from the callback.
 * The refill may itself run callbacks (libxl_childproc_run processes what
 * is pending before it returns), so the last status can be seen in a
 * nested call: the sentinel is started once, by whoever sees done first. */
static void after_status(void)
{
    static bool sentinel_started;

    if (drive != D_CB)
        return;
    refill();
    if (bench_all_done() && !sentinel_started) {
        sentinel_started = true;
        start_sentinel();
    }
}

static void run_cb(libxl_ctx *c, int rc, void *for_callback)
{
    long i = (long)(intptr_t)for_callback;

    (void)c;
    if (rc)
        bench_fail("child %ld completed with %s", i, libxl_strerror(rc));
    if (++cb_depth > cb_depth_max)
        cb_depth_max = cb_depth;
    bench_got(i, res[i].pid, res[i].status);
    after_status();
    cb_depth--;
}

static void death_cb(libxl_ctx *c, pid_t pid, int status, void *user)
{
    (void)c;
    if (++cb_depth > cb_depth_max)
        cb_depth_max = cb_depth;
    bench_got((long)(intptr_t)user, pid, status);
    after_status();
    cb_depth--;
}

static void start_one(long i)
{
    libxl_childproc_args a;
    libxl_asyncop_how how;
    char *argv[6], buf[64];
    int rc;

    if (bench_opt.kind == KIND_FORK) {
        pid_t pid = libxl_childproc_fork(ctx, death_cb, (void *)(intptr_t)i);
        if (pid == 0)
            bench_child(i);
        if (pid < 0)
            bench_fail("libxl_childproc_fork: %s", libxl_strerror(pid));
        bench_record(i, pid);
        return;
    }
    memset(&a, 0, sizeof a);
    memset(&how, 0, sizeof how);
    a.path = bench_exec_argv(i, argv, buf);
    a.argv = argv;
    if (drive == D_WAIT) {
        how.u.for_event = (libxl_ev_user)i;
    } else {
        how.callback = run_cb;
        how.u.for_callback = (void *)(intptr_t)i;
    }
    rc = libxl_childproc_run(ctx, &a, &res[i], &how);
    if (rc)
        bench_fail("libxl_childproc_run: %s", libxl_strerror(rc));
}

static void loop_wait(void)
{
    while (!bench_all_done()) {
        libxl_event *ev;
        long i;

        refill();
        bench_w5_point();
        if (libxl_event_wait(ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL))
            bench_fail("libxl_event_wait failed");
        i = (long)ev->for_user;
        if (ev->type != LIBXL_EVENT_TYPE_OPERATION_COMPLETE ||
            ev->u.operation_complete.rc)
            bench_fail("event type %d rc %d for child %ld", (int)ev->type,
                       ev->u.operation_complete.rc, i);
        bench_got(i, res[i].pid, res[i].status);
        libxl_event_free(ctx, ev);
    }
}

static void loop_cb(void)
{
    libxl_event *ev;

    refill();
    bench_w5_point();
    if (libxl_event_wait(ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL))
        bench_fail("libxl_event_wait failed");
    if (ev->for_user != SENTINEL || ev->u.operation_complete.rc ||
        sentinel_res.status != 0)
        bench_fail("unexpected event (for_user %llu, rc %d)",
                   (unsigned long long)ev->for_user,
                   ev->u.operation_complete.rc);
    libxl_event_free(ctx, ev);
    if (getenv("XLBENCH_DEBUG"))
        fprintf(stderr, "sentinel pid %d status %#x\n", (int)sentinel_res.pid,
                sentinel_res.status);
}

static void loop_poll(void)
{
    while (!bench_all_done()) {
        struct pollfd fds[8];
        struct timeval now;
        int nfds = 8, timeout = -1, rc;

        refill();
        bench_w5_point();
        if (bench_all_done())
            break; /* everything completed inside the refill */
        gettimeofday(&now, NULL);
        rc = libxl_osevent_beforepoll(ctx, &nfds, fds, &timeout, now);
        if (rc)
            bench_fail("beforepoll: %s", libxl_strerror(rc));
        if (poll(fds, (nfds_t)nfds, timeout) < 0 && errno != EINTR)
            bench_fail("poll: %s", strerror(errno));
        gettimeofday(&now, NULL);
        libxl_osevent_afterpoll(ctx, nfds, fds, now);
    }
}

static void loop_main(void)
{
    while (!bench_all_done()) {
        int st, rc;
        pid_t pid;

        refill();
        bench_w5_point();
        if (bench_all_done())
            break;
        pid = waitpid(-1, &st, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            bench_fail("waitpid: %s", strerror(errno));
        }
        rc = libxl_childproc_reaped(ctx, pid, st);
        if (rc)
            bench_fail("libxl_childproc_reaped(%d): %s", (int)pid,
                       libxl_strerror(rc));
    }
}

int main(int argc, char **argv)
{
    static char name[64];
    libxl_childproc_hooks hooks;
    bool selective;
    int rc;

    bench_init(argc, argv, "xlchild", KIND_TRUE | KIND_FORK | KIND_STAMP);
    if (!bench_opt.drive || !strcmp(bench_opt.drive, "wait"))
        drive = D_WAIT;
    else if (!strcmp(bench_opt.drive, "cb"))
        drive = D_CB;
    else if (!strcmp(bench_opt.drive, "poll"))
        drive = D_POLL;
    else if (!strcmp(bench_opt.drive, "main"))
        drive = D_MAIN;
    else
        bench_fail("unknown drive %s", bench_opt.drive);
    selective = bench_opt.mode && !strcmp(bench_opt.mode, "selective");
    if (bench_opt.mode && !selective && strcmp(bench_opt.mode, "default"))
        bench_fail("unknown mode %s", bench_opt.mode);
    if (drive == D_WAIT && bench_opt.kind == KIND_FORK) {
        fprintf(stderr, "xl-wait: fork children complete with death"
                        " callbacks only, never events\n");
        return 1;
    }
    if (drive == D_MAIN && selective)
        bench_fail("-d main is owner_mainloop: no -m selective");
    if (!strcmp(bench_opt.mech, "xlchild")) {
        snprintf(name, sizeof name, "xl-%s%s",
                 drive == D_WAIT   ? "wait"
                 : drive == D_CB   ? "cb"
                 : drive == D_POLL ? "poll"
                                   : "main",
                 selective ? "-sel" : "");
        bench_opt.mech = name;
    }

    /* The application's own result records, for the runs (fork children
     * report through the death callback: the peers' harnesses keep no
     * such array, and every page of it would be copied at each fork):
     * allocated (and touched) before timing, so W5 counts only the
     * library's bookkeeping. */
    if (bench_opt.kind != KIND_FORK) {
        res = calloc((size_t)bench_opt.n, sizeof *res);
        if (!res)
            bench_fail("out of memory");
        memset(res, 0xff, (size_t)bench_opt.n * sizeof *res);
    }

    rc = libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, NULL);
    if (rc)
        bench_fail("libxl_ctx_alloc: %s", libxl_strerror(rc));
    memset(&hooks, 0, sizeof hooks);
    if (drive == D_MAIN) {
        hooks.chldowner = libxl_sigchld_owner_mainloop;
        libxl_childproc_setmode(ctx, &hooks, NULL);
    } else if (selective) {
        hooks.chldowner = libxl_sigchld_owner_libxl_always_selective_reap;
        libxl_childproc_setmode(ctx, &hooks, NULL);
    }

    bench_start();
    switch (drive) {
    case D_WAIT: loop_wait(); break;
    case D_CB: loop_cb(); break;
    case D_POLL: loop_poll(); break;
    case D_MAIN: loop_main(); break;
    }
    libxl_ctx_free(ctx);
    free(res);
    if (drive != D_WAIT)
        bench_note("cb_depth_max=%d", cb_depth_max);
    return bench_finish();
}
