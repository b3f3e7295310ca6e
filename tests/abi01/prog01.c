/*
 * prog01.c - rule S0: a program built against the 0.1 header (the copy in
 * this directory) and linked as 0.1 programs were (unversioned references)
 * runs unchanged against the new library.  Each struct it hands over is
 * followed by guard bytes: after the args, bytes that would be invalid as
 * 0.2 fields (so a library reading them would refuse or misbehave); after
 * the result, a pattern that must be left untouched (a library writing
 * 0.2's fields there would corrupt the caller's memory).
 * Exit status 0 when every check passed; messages on stderr otherwise.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xlchild.h"

#define GUARD 256

static struct {
    libxl_childproc_args a;
    unsigned char guard[GUARD];
} args_g;

static struct {
    libxl_childproc_result r;
    unsigned char guard[GUARD];
} res_g;

static int failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "prog01:%d: check failed: %s\n", __LINE__, #cond); \
            failures++;                                                        \
        }                                                                      \
    } while (0)

static void reset(const char *path, char *const *argv)
{
    memset(&args_g, 0, sizeof args_g.a);
    memset(args_g.guard, 0xff, sizeof args_g.guard);
    memset(&res_g, 0, sizeof res_g.r);
    memset(res_g.guard, 0xa5, sizeof res_g.guard);
    args_g.a.path = path;
    args_g.a.argv = argv;
}

static int guard_intact(void)
{
    int i;

    for (i = 0; i < GUARD; i++)
        if (res_g.guard[i] != 0xa5)
            return 0;
    return 1;
}

static void death(libxl_ctx *ctx, pid_t pid, int status, void *user)
{
    (void)ctx;
    (void)pid;
    *(int *)user = status;
}

int main(void)
{
    char *exit7[] = {"sh", "-c", "exit 7", NULL};
    char *sleep10[] = {"sleep", "10", NULL};
    char *missing[] = {"/nonexistent/prog01", NULL};
    libxl_ctx *ctx = NULL;
    libxl_asyncop_how how;
    libxl_event *ev = NULL;
    int rc, status = -2;
    pid_t pid;

    rc = libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, NULL);
    if (rc) {
        fprintf(stderr, "prog01: ctx_alloc: %s\n", libxl_strerror(rc));
        return 1;
    }

    /* A synchronous run, its status and result. */
    reset("/bin/sh", exit7);
    rc = libxl_childproc_run(ctx, &args_g.a, &res_g.r, NULL);
    CHECK(rc == 0);
    CHECK(res_g.r.pid > 0);
    CHECK(WIFEXITED(res_g.r.status) && WEXITSTATUS(res_g.r.status) == 7);
    CHECK(res_g.r.exec_errno == 0);
    CHECK(guard_intact());

    /* An asynchronous run completing by event. */
    reset("/bin/sh", exit7);
    memset(&how, 0, sizeof how);
    how.u.for_event = 17;
    rc = libxl_childproc_run(ctx, &args_g.a, &res_g.r, &how);
    CHECK(rc == 0);
    rc = libxl_event_wait(ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL);
    CHECK(rc == 0);
    if (!rc) {
        CHECK(ev->for_user == 17);
        CHECK(ev->u.operation_complete.rc == 0);
        libxl_event_free(ctx, ev);
    }
    CHECK(WIFEXITED(res_g.r.status) && WEXITSTATUS(res_g.r.status) == 7);
    CHECK(guard_intact());

    /* A program that cannot be executed: the result is cleared and set,
     * within its 0.1 size. */
    reset("/nonexistent/prog01", missing);
    rc = libxl_childproc_run(ctx, &args_g.a, &res_g.r, NULL);
    CHECK(rc == ERROR_FAIL);
    CHECK(res_g.r.exec_errno == ENOENT);
    CHECK(guard_intact());

    /* A timeout, and its kill. */
    reset("sleep", sleep10);
    args_g.a.timeout_ms = 100;
    args_g.a.kill_grace_ms = 5000;
    rc = libxl_childproc_run(ctx, &args_g.a, &res_g.r, NULL);
    CHECK(rc == ERROR_TIMEDOUT);
    CHECK(WIFSIGNALED(res_g.r.status) && WTERMSIG(res_g.r.status) == SIGTERM);
    CHECK(guard_intact());

    /* An abort of an asynchronous run. */
    reset("sleep", sleep10);
    how.u.for_event = 18;
    rc = libxl_childproc_run(ctx, &args_g.a, &res_g.r, &how);
    CHECK(rc == 0);
    CHECK(libxl_ao_abort(ctx, &how) == 0);
    rc = libxl_event_wait(ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL);
    CHECK(rc == 0);
    if (!rc) {
        CHECK(ev->u.operation_complete.rc == ERROR_ABORTED);
        libxl_event_free(ctx, ev);
    }
    CHECK(guard_intact());

    /* libxl_childproc_fork is unchanged. */
    pid = libxl_childproc_fork(ctx, death, &status);
    if (pid == 0)
        _exit(3);
    CHECK(pid > 0);
    reset("/bin/sh", exit7); /* a run makes the death callback run too */
    rc = libxl_childproc_run(ctx, &args_g.a, &res_g.r, NULL);
    CHECK(rc == 0);
    while (status == -2) {
        reset("/bin/sh", exit7);
        libxl_childproc_run(ctx, &args_g.a, &res_g.r, NULL);
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);

    libxl_ctx_free(ctx);
    if (failures)
        return 1;
    printf("prog01: the 0.1 program passed against this library\n");
    return 0;
}
