/*
 * test_glib_coexist.c - issue 3: xlchild next to GLib's child watching
 * (rules M3, M6).  GLib watches children of its own (g_spawn_async
 * with G_SPAWN_DO_NOT_REAP_CHILD, and plain fork()) with g_child_watch_add
 * in a GMainLoop, while the library runs children of its own from another
 * thread; every status must arrive on both sides, each with its own code.
 *
 * What was found (GLib 2.74.6, Debian, kernel 6.x): g_child_watch_add
 * opens a pidfd for the child (pidfd_open) and polls it in the main
 * context, then collects the status with waitid(P_PIDFD, ...): it installs
 * no SIGCHLD handler, so it works although SIGCHLD is blocked in every
 * thread (M1) and taken by the library's reaper (or a thread in its
 * place).  A GLib that watches children through a SIGCHLD handler instead
 * (older releases, or a kernel without pidfd_open) depends on that handler
 * running: with SIGCHLD blocked everywhere it runs only when the reaper
 * chains it, which it does for a handler installed before the library's
 * own, not for one installed after (that one replaces the library's and is
 * never called).  That is the incompatibility to document, not a library
 * bug.  The tests check that pidfd_open works first and skip, saying why,
 * when it does not (valgrind does not know the call).
 *
 * GLib's own children are safe only from a library that does not reap
 * them: the selective mode (M6) never does; the default mode (M3) does
 * not while it has no children of its own.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* --------------------------------------------------- GLib's side */

#define G_KIDS 60 /* half g_spawn_async, half plain fork */

static struct {
    GMainLoop *loop;
    pid_t pid[G_KIDS];
    int code[G_KIDS];
    int status[G_KIDS];
    int seen[G_KIDS];
    int done;
    int timed_out;
    int unknown;
} gs;

static void gl_child_done(GPid pid, gint status, gpointer user)
{
    int i;
    (void)user;
    for (i = 0; i < G_KIDS; i++) {
        if (gs.pid[i] == pid) {
            gs.seen[i]++;
            gs.status[i] = status;
            gs.done++;
            break;
        }
    }
    if (i == G_KIDS)
        gs.unknown++;
    g_spawn_close_pid(pid);
    if (gs.done == G_KIDS)
        g_main_loop_quit(gs.loop);
}

static gboolean gl_too_late(gpointer user)
{
    (void)user;
    gs.timed_out = 1;
    g_main_loop_quit(gs.loop);
    return G_SOURCE_REMOVE;
}

/* Starts GLib's children, exiting at staggered times, each watched. */
static void gl_start_children(void)
{
    int i;

    memset(&gs, 0, sizeof gs);
    gs.loop = g_main_loop_new(NULL, FALSE);
    for (i = 0; i < G_KIDS; i++) {
        gs.code[i] = 100 + i;
        if (i % 2 == 0) {
            char script[64];
            char *argv[] = {"/bin/sh", "-c", script, NULL};
            GError *err = NULL;
            GPid pid;

            snprintf(script, sizeof script, "sleep 0.0%d; exit %d", i % 10,
                     gs.code[i]);
            XLT_ASSERT_MSG(g_spawn_async(NULL, argv, NULL,
                                         G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                         &pid, &err),
                           "g_spawn_async: %s", err ? err->message : "?");
            gs.pid[i] = pid;
        } else {
            pid_t pid = fork();
            XLT_ASSERT(pid >= 0);
            if (pid == 0) {
                struct timespec ts = {0, (long)(i % 10) * 10000000L};
                nanosleep(&ts, NULL);
                xlt_child_exit(gs.code[i]);
            }
            gs.pid[i] = pid;
        }
        g_child_watch_add(gs.pid[i], gl_child_done, NULL);
    }
}

static void gl_run_and_check(void)
{
    int i;

    g_timeout_add_seconds(60, gl_too_late, NULL);
    g_main_loop_run(gs.loop);
    XLT_ASSERT_MSG(!gs.timed_out, "GLib got %d of %d child statuses in 60 s",
                   gs.done, G_KIDS);
    XLT_ASSERT_EQ(gs.unknown, 0);
    for (i = 0; i < G_KIDS; i++) {
        XLT_ASSERT_EQ(gs.seen[i], 1);
        XLT_ASSERT_EXITED(gs.status[i], gs.code[i]);
    }
    g_main_loop_unref(gs.loop);
}

/* GLib's child watches need pidfd_open here (see the top of this file);
 * without it (an old kernel, or valgrind, which does not know the system
 * call) the combination cannot work and the tests say so and skip. */
static int glib_can_watch_without_sigchld(void)
{
    int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);

    if (fd < 0) {
        fprintf(stderr,
                "skipped: pidfd_open unavailable (%s): GLib would"
                " watch children through SIGCHLD, which every thread blocks"
                " (M1)\n",
                strerror(errno));
        return 0;
    }
    close(fd);
    return 1;
}

/* ------------------------------------------------ the library's side */

static int unexpected_reaped(pid_t pid, int status, void *user)
{
    (void)user;
    XLT_FAIL("the library reaped a child not its own: %d (status %#x)",
             (int)pid, status);
}

static void set_mode(libxl_ctx *ctx, libxl_sigchld_owner mode)
{
    libxl_childproc_hooks h;
    memset(&h, 0, sizeof h);
    h.chldowner = mode;
    h.reaped_callback = unexpected_reaped;
    libxl_childproc_setmode(ctx, &h, NULL);
}

/* Runs n children (`sh -c 'exit code'`, 8 in flight at a time) on ctx and
 * checks each status; with until != NULL, goes on in rounds until *until
 * is set and at least n have run.  Returns how many ran. */
static int lib_run_children(libxl_ctx *ctx, int n, const int *until)
{
    static __thread libxl_childproc_result res[8];
    int ran = 0;

    while (ran < n || (until && !__atomic_load_n(until, __ATOMIC_SEQ_CST))) {
        int j;
        for (j = 0; j < 8; j++)
            xlt_start_exit(ctx, (ran + j) % 200, (uint64_t)j, &res[j]);
        for (j = 0; j < 8; j++) {
            XLT_ASSERT_RC(xlt_wait_for(ctx, (uint64_t)j), 0);
            XLT_ASSERT_EXITED(res[j].status, (ran + j) % 200);
        }
        ran += 8;
    }
    return ran;
}

static libxl_ctx *lib_ctx;
static int glib_done;
static int lib_ran;

static void *lib_thread(void *arg)
{
    (void)arg;
    lib_ran = lib_run_children(lib_ctx, 200, &glib_done);
    return NULL;
}

/* M6: GLib's child watches and the library's children, at the same time,
 * in one process: every status on both sides, right codes; the library
 * never reaps one of GLib's. */
XLT_TEST(test_M6_glib_child_watches_and_library_children_coexist, 120)
{
    pthread_t th;

    if (!glib_can_watch_without_sigchld())
        return;
    lib_ctx = xlt_ctx_new(NULL); /* blocks SIGCHLD here: M1 */
    set_mode(lib_ctx, libxl_sigchld_owner_libxl_always_selective_reap);
    XLT_ASSERT(pthread_create(&th, NULL, lib_thread, NULL) == 0);
    gl_start_children();
    gl_run_and_check();
    __atomic_store_n(&glib_done, 1, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
    XLT_ASSERT(lib_ran >= 200);
    libxl_ctx_free(lib_ctx);
    xlt_wait_no_children(10000);
}

/* M3: a default-mode ctx whose reaper is running but which has no child
 * while GLib's children exit reaps none of them; the library works as
 * before and after. */
XLT_TEST(test_M3_idle_default_ctx_leaves_glib_children_to_glib, 120)
{
    libxl_ctx *ctx;

    if (!glib_can_watch_without_sigchld())
        return;
    ctx = xlt_ctx_new(NULL);
    set_mode(ctx, libxl_sigchld_owner_libxl);
    XLT_ASSERT_EQ(lib_run_children(ctx, 40, NULL), 40); /* reaper up */
    gl_start_children();
    gl_run_and_check();
    XLT_ASSERT_EQ(lib_run_children(ctx, 40, NULL), 40);
    libxl_ctx_free(ctx);
    xlt_wait_no_children(10000);
}

int main(void)
{
    static const xlt_case cases[] = {
        XLT_CASE(test_M6_glib_child_watches_and_library_children_coexist),
        XLT_CASE(test_M3_idle_default_ctx_leaves_glib_children_to_glib),
    };
    return xlt_main("glib_coexist", cases, sizeof cases / sizeof cases[0]);
}
