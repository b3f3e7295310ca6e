/*
 * test_run.c - libxl_childproc_run (R0, R1, R4), timeouts and
 * process groups, libxl_childproc_fork (R2), many children at once, and
 * §2's "libxl_ctx_free never leaves zombies".
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Runs args synchronously with stdout captured; out is NUL-terminated. */
static int run_args_capture(libxl_ctx *ctx, libxl_childproc_args *a, char *out,
                            size_t outsz, libxl_childproc_result *r)
{
    int p[2], rc;
    xlt_pipe(p);
    a->stdout_fd = p[1];
    rc = xlt_childproc_run(ctx, a, r, NULL);
    close(p[1]);
    xlt_read_all(p[0], out, outsz);
    close(p[0]);
    return rc;
}

static void make_tmpdir(char *buf, size_t size)
{
    snprintf(buf, size, "/tmp/xlt-run.XXXXXX");
    XLT_ASSERT(mkdtemp(buf) != NULL);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    XLT_ASSERT(fd >= 0);
    XLT_ASSERT(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    XLT_ASSERT(chmod(path, mode) == 0);
}

/* ------------------------------------------------------------------ R0 */

/* R0: zero-initialised args with path and argv run the program with the
 * caller's environment, cwd and fds 0/1/2 (0 and -1 both inherit). */
static void r0_once(libxl_ctx *ctx, int fdval, const char *dir)
{
    char *argv[] = {
        "/bin/sh", "-c",
        "read l; echo \"$l|$XLT_R0|$(/bin/pwd)\"; echo \"e:$l\" >&2", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    int pin[2], pout[2], perr[2], s0, s1, s2;
    char out[512], err[512], want[512];

    a.stdin_fd = a.stdout_fd = a.stderr_fd = fdval;
    xlt_pipe(pin);
    xlt_pipe(pout);
    xlt_pipe(perr);
    XLT_ASSERT(write(pin[1], "line-in\n", 8) == 8);
    close(pin[1]);
    s0 = dup(0);
    s1 = dup(1);
    s2 = dup(2);
    XLT_ASSERT(s0 >= 0 && s1 >= 0 && s2 >= 0);
    dup2(pin[0], 0);
    dup2(pout[1], 1);
    dup2(perr[1], 2);
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), 0);
    dup2(s0, 0);
    dup2(s1, 1);
    dup2(s2, 2);
    close(s0);
    close(s1);
    close(s2);
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    XLT_ASSERT_EXITED(r.status, 0);
    xlt_read_all(pout[0], out, sizeof out);
    xlt_read_all(perr[0], err, sizeof err);
    close(pout[0]);
    close(perr[0]);
    snprintf(want, sizeof want, "line-in|inherited|%s\n", dir);
    XLT_ASSERT_STREQ(out, want);
    XLT_ASSERT_STREQ(err, "e:line-in\n");
}

XLT_TEST(test_R0_zero_args_inherit_env_cwd_and_fds, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char dir[64], real[PATH_MAX];

    make_tmpdir(dir, sizeof dir);
    XLT_ASSERT(realpath(dir, real) != NULL);
    XLT_ASSERT(chdir(dir) == 0);
    XLT_ASSERT(setenv("XLT_R0", "inherited", 1) == 0);
    r0_once(ctx, 0, real);
    r0_once(ctx, -1, real);
    libxl_ctx_free(ctx);
    rmdir(real);
}

/* ------------------------------------------------------------------ R1 */

/* R1: a normal exit completes with rc 0 (whatever the exit code), the
 * code in WEXITSTATUS, exec_errno 0. */
XLT_TEST(test_R1_exit_code_reported, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    libxl_childproc_result r;

    memset(&r, 0xa5, sizeof r);
    XLT_ASSERT_RC(xlt_run_sh(ctx, "exit 7", &r), 0);
    XLT_ASSERT_EXITED(r.status, 7);
    XLT_ASSERT_EQ(r.exec_errno, 0);
    XLT_ASSERT_RC(xlt_run_sh(ctx, "exit 0", &r), 0);
    XLT_ASSERT_EXITED(r.status, 0);
    XLT_ASSERT_RC(xlt_run_sh(ctx, "exit 255", &r), 0);
    XLT_ASSERT_EXITED(r.status, 255);
    libxl_ctx_free(ctx);
}

/* R1: a child killed by a signal completes with rc 0 and WIFSIGNALED. */
XLT_TEST(test_R1_killed_by_signal_reported, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    libxl_childproc_result r;

    XLT_ASSERT_RC(xlt_run_sh(ctx, "kill -9 $$", &r), 0);
    XLT_ASSERT_KILLED(r.status, SIGKILL);
    XLT_ASSERT_EQ(r.exec_errno, 0);
    XLT_ASSERT_RC(xlt_run_sh(ctx, "kill -USR1 $$", &r), 0);
    XLT_ASSERT_KILLED(r.status, SIGUSR1);
    libxl_ctx_free(ctx);
}

/* §5 result: rusage is the child's own, as wait4 gives it: a child that
 * burns CPU reports CPU time (and a max RSS); /bin/true reports much less,
 * which a cumulative RUSAGE_CHILDREN would not. */
static long cpu_us(const struct rusage *ru)
{
    return ru->ru_utime.tv_sec * 1000000L + ru->ru_utime.tv_usec +
           ru->ru_stime.tv_sec * 1000000L + ru->ru_stime.tv_usec;
}

XLT_TEST(test_R1_rusage_is_the_childs_own, 120)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    libxl_childproc_result burn, quick;
    char *argv_true[] = {"/bin/true", NULL};
    libxl_childproc_args a = xlt_args(argv_true);

    XLT_ASSERT_RC(
        xlt_run_sh(ctx, "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done",
                   &burn),
        0);
    XLT_ASSERT_EXITED(burn.status, 0);
    XLT_ASSERT_MSG(cpu_us(&burn.rusage) > 0, "burner reports no CPU time");
    XLT_ASSERT(burn.rusage.ru_maxrss > 0);
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &quick, NULL), 0);
    XLT_ASSERT_MSG(cpu_us(&quick.rusage) < cpu_us(&burn.rusage) / 2,
                   "/bin/true used %ld us, the burner %ld us",
                   cpu_us(&quick.rusage), cpu_us(&burn.rusage));
    libxl_ctx_free(ctx);
}

/* §5 result: pid is the child's pid (the shell's $$). */
XLT_TEST(test_R1_result_pid_is_the_child, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/sh", "-c", "echo $$", NULL};
    libxl_childproc_result r;
    char out[64];

    XLT_ASSERT_RC(xlt_run_capture(ctx, argv, out, sizeof out, &r), 0);
    XLT_ASSERT(r.pid > 0);
    XLT_ASSERT_EQ(atoi(out), r.pid);
    XLT_ASSERT_RC(xlt_run_capture(ctx, argv, out, sizeof out, NULL), 0);
    XLT_ASSERT(atoi(out) > 0); /* result_out may be NULL */
    libxl_ctx_free(ctx);
}

/* R1: *result_out is filled in before the completion is delivered. */
static int filled_calls;

static void filled_cb(libxl_ctx *ctx, int rc, void *for_callback)
{
    libxl_childproc_result *r = for_callback;
    (void)ctx;
    XLT_ASSERT_RC(rc, 0);
    XLT_ASSERT(r->pid > 0);
    XLT_ASSERT_EXITED(r->status, 9);
    XLT_ASSERT_EQ(r->exec_errno, 0);
    __atomic_add_fetch(&filled_calls, 1, __ATOMIC_SEQ_CST);
}

XLT_TEST(test_R1_result_filled_before_completion, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/sh", "-c", "exit 9", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    libxl_asyncop_how how;

    memset(&r, 0, sizeof r);
    memset(&how, 0, sizeof how);
    how.callback = filled_cb;
    how.u.for_callback = &r;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, &how), 0);
    xlt_pump_until(ctx, &filled_calls, 1, 30000);
    libxl_ctx_free(ctx);
}

/* R1: NULL args/argv/path and fds that are not open give ERROR_INVAL at
 * once and start nothing (synchronously or not): the would-be child would
 * create a marker file; none appears, no child exists, no event comes. */
XLT_TEST(test_R1_bad_arguments_inval_start_nothing, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char dir[64], mark[128], script[200];
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    libxl_childproc_args good = xlt_args(argv), a;
    libxl_childproc_result r;
    libxl_asyncop_how how;
    int closed_fd, pass, i;

    make_tmpdir(dir, sizeof dir);
    snprintf(mark, sizeof mark, "%s/ran", dir);
    snprintf(script, sizeof script, "touch %s", mark);
    closed_fd = dup(2);
    XLT_ASSERT(closed_fd > 2);
    close(closed_fd);

    for (pass = 0; pass < 2; pass++) {
        const libxl_asyncop_how *h = NULL;
        if (pass) {
            memset(&how, 0, sizeof how);
            how.u.for_event = 1;
            h = &how;
        }
        XLT_ASSERT_RC(libxl_childproc_run(ctx, NULL, &r, h), ERROR_INVAL);
        for (i = 0; i < 6; i++) {
            a = good;
            switch (i) {
            case 0: a.argv = NULL; break;
            case 1: a.path = NULL; break;
            case 2: a.stdin_fd = closed_fd; break;
            case 3: a.stdout_fd = closed_fd; break;
            case 4: a.stderr_fd = closed_fd; break;
            case 5: a.stdout_fd = 5000; break; /* never opened */
            }
            XLT_ASSERT_MSG(libxl_childproc_run(ctx, &a, &r, h) == ERROR_INVAL,
                           "bad args case %d (%s) not ERROR_INVAL", i,
                           pass ? "async" : "sync");
        }
    }
    xlt_sleep_ms(300);
    xlt_expect_no_event(ctx);
    XLT_ASSERT_EQ(xlt_count_children(NULL), 0);
    XLT_ASSERT_MSG(access(mark, F_OK) != 0, "a child ran despite ERROR_INVAL");

    /* The same args, fixed, do run (so the marker test can fail). */
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &good, &r, NULL), 0);
    XLT_ASSERT(access(mark, F_OK) == 0);
    unlink(mark);
    rmdir(dir);
    libxl_ctx_free(ctx);
}

/* R1: a program that cannot be executed gives ERROR_FAIL with exec_errno,
 * not rc 0 with the shell-style exit 127; and leaves no zombie.
 * (Skipped under valgrind, which runs glibc's posix_spawn child without
 * CLONE_VM, so the exec error never reaches the parent: a tool limit.) */
#define SKIP_EXEC_ERROR_UNDER_VALGRIND()                                      \
    do {                                                                      \
        if (xlt_skip_under_valgrind("posix_spawn cannot report exec errors")) \
            return;                                                           \
    } while (0)
static void expect_exec_error(libxl_ctx *ctx, libxl_childproc_args *a,
                              int want_errno)
{
    libxl_childproc_result r;
    memset(&r, 0, sizeof r);
    if (getenv("XLT_UNDER_VALGRIND")) {
        /* The child runs and exits 127 there: only check it is reaped. */
        int rc = xlt_childproc_run(ctx, a, &r, NULL);
        XLT_ASSERT(rc == ERROR_FAIL || (rc == 0 && WIFEXITED(r.status) &&
                                        WEXITSTATUS(r.status) == 127));
        xlt_wait_no_children(10000);
        return;
    }
    XLT_ASSERT_RC(xlt_childproc_run(ctx, a, &r, NULL), ERROR_FAIL);
    XLT_ASSERT_MSG(r.exec_errno == want_errno, "exec_errno %d (%s), wanted %s",
                   r.exec_errno, strerror(r.exec_errno), strerror(want_errno));
    xlt_wait_no_children(10000);
}

XLT_TEST(test_R1_exec_enoent_is_error_fail_not_127, 60)
{
    SKIP_EXEC_ERROR_UNDER_VALGRIND();
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/nonexistent/xlt-no-such-prog", NULL};
    libxl_childproc_args a = xlt_args(argv);
    expect_exec_error(ctx, &a, ENOENT);
    libxl_ctx_free(ctx);
}

XLT_TEST(test_R1_exec_non_executable_eacces, 60)
{
    SKIP_EXEC_ERROR_UNDER_VALGRIND();
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char dir[64], prog[128];
    char *argv[] = {prog, NULL};
    libxl_childproc_args a = xlt_args(argv);

    make_tmpdir(dir, sizeof dir);
    snprintf(prog, sizeof prog, "%s/not-exec", dir);
    write_file(prog, "#!/bin/sh\nexit 0\n", 0644);
    expect_exec_error(ctx, &a, EACCES);
    unlink(prog);
    rmdir(dir);
    libxl_ctx_free(ctx);
}

XLT_TEST(test_R1_missing_cwd_enoent, 60)
{
    SKIP_EXEC_ERROR_UNDER_VALGRIND();
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/true", NULL};
    libxl_childproc_args a = xlt_args(argv);

    a.cwd = "/nonexistent/xlt-no-such-dir";
    expect_exec_error(ctx, &a, ENOENT);
    libxl_ctx_free(ctx);
}

/* 16 MiB of argv (or envp) is over the kernel's limit whatever the stack
 * rlimit (at most 6 MiB with an unlimited one). */
#define BIG_N 16384
#define BIG_LEN 1023
static char **big_vector(const char *first)
{
    char **v = calloc(BIG_N + 2, sizeof *v);
    int i;
    XLT_ASSERT(v != NULL);
    v[0] = (char *)first;
    for (i = 1; i <= BIG_N; i++) {
        v[i] = malloc(BIG_LEN + 1);
        XLT_ASSERT(v[i] != NULL);
        memset(v[i], 'x', BIG_LEN);
        v[i][0] = 'X';
        v[i][1] = '=';
        v[i][BIG_LEN] = 0;
    }
    return v;
}

XLT_TEST(test_R1_argv_envp_over_kernel_limit_e2big, 60)
{
    SKIP_EXEC_ERROR_UNDER_VALGRIND();
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char **argv = big_vector("/bin/true");
    char *small_argv[] = {"/bin/true", NULL};
    libxl_childproc_args a = xlt_args(argv);

    expect_exec_error(ctx, &a, E2BIG);
    a = xlt_args(small_argv);
    a.envp = argv + 1;
    expect_exec_error(ctx, &a, E2BIG);
    libxl_ctx_free(ctx);
}

/* R1 + §4: an asynchronous run whose program cannot be executed reports
 * ERROR_FAIL/ENOENT exactly once: either at once (then no completion
 * follows) or as the completion (then the call returned 0). */
XLT_TEST(test_R1_async_exec_failure_reported_once, 60)
{
    SKIP_EXEC_ERROR_UNDER_VALGRIND();
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/nonexistent/xlt-no-such-prog", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    libxl_asyncop_how how;
    int rc;

    memset(&r, 0, sizeof r);
    memset(&how, 0, sizeof how);
    how.u.for_event = 21;
    rc = xlt_childproc_run(ctx, &a, &r, &how);
    if (rc == 0) {
        XLT_ASSERT_RC(xlt_wait_for(ctx, 21), ERROR_FAIL);
    } else {
        XLT_ASSERT_RC(rc, ERROR_FAIL);
    }
    XLT_ASSERT_EQ(r.exec_errno, ENOENT);
    xlt_wait_no_children(10000);
    xlt_sleep_ms(200);
    xlt_expect_no_event(ctx);
    libxl_ctx_free(ctx);
}

/* R0: a path without '/' is searched in PATH (the caller's). */
XLT_TEST(test_R0_path_without_slash_searched_in_PATH, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char dir[64], prog[128], path[256];
    char *argv[] = {"xlt-prog", NULL};
    char *argv_missing[] = {"xlt-no-such-prog", NULL};
    char *argv_true[] = {"true", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;

    make_tmpdir(dir, sizeof dir);
    snprintf(prog, sizeof prog, "%s/xlt-prog", dir);
    write_file(prog, "#!/bin/sh\nexit 42\n", 0755);
    snprintf(path, sizeof path, "/nonexistent/xlt:%s:/usr/bin:/bin", dir);
    XLT_ASSERT(setenv("PATH", path, 1) == 0);

    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), 0);
    XLT_ASSERT_EXITED(r.status, 42);
    a = xlt_args(argv_true);
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), 0);
    XLT_ASSERT_EXITED(r.status, 0);
    a = xlt_args(argv_missing);
    expect_exec_error(ctx, &a, ENOENT);
    unlink(prog);
    rmdir(dir);
    libxl_ctx_free(ctx);
}

/* §5: envp replaces the environment; the caller's is not passed too. */
XLT_TEST(test_R0_envp_replaces_environment, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/sh", "-c", "echo \"$XLT_VAR|${XLT_OTHER-unset}\"",
                    NULL};
    char *envp[] = {"XLT_VAR=fromenvp", "PATH=/usr/bin:/bin", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    char out[256];

    XLT_ASSERT(setenv("XLT_OTHER", "caller", 1) == 0);
    a.envp = envp;
    XLT_ASSERT_RC(run_args_capture(ctx, &a, out, sizeof out, &r), 0);
    XLT_ASSERT_EXITED(r.status, 0);
    XLT_ASSERT_STREQ(out, "fromenvp|unset\n");
    libxl_ctx_free(ctx);
}

/* §5: cwd is applied to the child only; the caller's cwd is unchanged. */
XLT_TEST(test_R0_cwd_applied_to_child_only, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/pwd", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    char dir[64], real[PATH_MAX], want[PATH_MAX + 2], out[PATH_MAX + 2];
    char before[PATH_MAX], after[PATH_MAX];

    make_tmpdir(dir, sizeof dir);
    XLT_ASSERT(realpath(dir, real) != NULL);
    XLT_ASSERT(getcwd(before, sizeof before) != NULL);
    a.cwd = dir;
    XLT_ASSERT_RC(run_args_capture(ctx, &a, out, sizeof out, &r), 0);
    XLT_ASSERT_EXITED(r.status, 0);
    snprintf(want, sizeof want, "%s\n", real);
    XLT_ASSERT_STREQ(out, want);
    XLT_ASSERT(getcwd(after, sizeof after) != NULL);
    XLT_ASSERT_STREQ(after, before);
    rmdir(dir);
    libxl_ctx_free(ctx);
}

/* R0: stdout_fd and stderr_fd name the caller's fds as they were at the
 * call: stdout_fd = 2 with stderr_fd = 1 swaps them. */
XLT_TEST(test_R0_stdout_stderr_swap, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    int pa[2], pb[2], s1, s2, rc;
    char out1[64], out2[64];

    xlt_pipe(pa);
    xlt_pipe(pb);
    s1 = dup(1);
    s2 = dup(2);
    XLT_ASSERT(s1 >= 0 && s2 >= 0);
    dup2(pa[1], 1);
    dup2(pb[1], 2);
    a.stdout_fd = 2;
    a.stderr_fd = 1;
    rc = xlt_childproc_run(ctx, &a, &r, NULL);
    dup2(s1, 1);
    dup2(s2, 2);
    close(s1);
    close(s2);
    close(pa[1]);
    close(pb[1]);
    XLT_ASSERT_RC(rc, 0);
    XLT_ASSERT_EXITED(r.status, 0);
    xlt_read_all(pa[0], out1, sizeof out1);
    xlt_read_all(pb[0], out2, sizeof out2);
    XLT_ASSERT_STREQ(out1, "err\n"); /* the caller's fd 1 got the child's 2 */
    XLT_ASSERT_STREQ(out2, "out\n");
    libxl_ctx_free(ctx);
}

/* R0: a close-on-exec flag on the caller's fd does not matter: a CLOEXEC
 * pipe works as stdin (and, in every capture here, as stdout). */
XLT_TEST(test_R0_cloexec_fd_works_as_stdin, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/sh", "-c", "read l; echo \"got:$l\"", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    int pin[2];
    char out[64];

    xlt_pipe(pin);
    XLT_ASSERT((fcntl(pin[0], F_GETFD) & FD_CLOEXEC) != 0);
    XLT_ASSERT(write(pin[1], "hello\n", 6) == 6);
    close(pin[1]);
    a.stdin_fd = pin[0];
    XLT_ASSERT_RC(run_args_capture(ctx, &a, out, sizeof out, &r), 0);
    XLT_ASSERT_STREQ(out, "got:hello\n");
    close(pin[0]);
    libxl_ctx_free(ctx);
}

/* ------------------------------------------------------------ timeouts */

/* R1: a child still running at timeout_ms gets SIGTERM and the run
 * completes with ERROR_TIMEDOUT.  (The bound only catches a timeout that
 * never fires: sleep would last 30 s.) */
XLT_TEST(test_R1_timeout_sigterm_timedout, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/sleep", "30", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    int64_t t0 = xlt_now_ms();

    a.timeout_ms = 200;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), ERROR_TIMEDOUT);
    XLT_ASSERT_KILLED(r.status, SIGTERM);
    XLT_ASSERT(xlt_now_ms() - t0 < 20000);
    xlt_wait_no_children(10000);
    libxl_ctx_free(ctx);
}

/* R1: a child that ignores SIGTERM gets SIGKILL kill_grace_ms later. */
XLT_TEST(test_R1_timeout_sigkill_after_grace, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/sh", "-c", "trap '' TERM; exec sleep 30", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    int64_t t0 = xlt_now_ms();

    a.timeout_ms = 1000; /* ample for sh to run `trap` first */
    a.kill_grace_ms = 200;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), ERROR_TIMEDOUT);
    XLT_ASSERT_KILLED(r.status, SIGKILL);
    XLT_ASSERT(xlt_now_ms() - t0 < 20000);
    libxl_ctx_free(ctx);
}

/* §5: kill_grace_ms <= 0 means 2000 ms: SIGKILL does not come sooner.
 * (A lower bound: load can only make it later.) */
XLT_TEST(test_R1_default_kill_grace_2000ms, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/sh", "-c", "trap '' TERM; exec sleep 30", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    int64_t t0 = xlt_now_ms(), dt;

    a.timeout_ms = 500;
    a.kill_grace_ms = 0;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), ERROR_TIMEDOUT);
    dt = xlt_now_ms() - t0;
    XLT_ASSERT_KILLED(r.status, SIGKILL);
    XLT_ASSERT_MSG(dt >= 2400, "SIGKILL after %lld ms, before 500 + 2000",
                   (long long)dt);
    XLT_ASSERT(dt < 30000);
    libxl_ctx_free(ctx);
}

/* §5 new_process_group: the child leads its own group and the timeout's
 * kill reaches its grandchild too; without it, only the child is killed.
 * The shell prints its background sleep's pid, its pgrp and its pid. */
static int pid_gone(pid_t pid)
{
    char st;

    if (kill(pid, 0) != 0 && errno == ESRCH)
        return 1;
    st = xlt_proc_state(pid);
    return st == 0 || st == 'Z'; /* Z: dead, awaiting its reaper */
}

static pid_t group_run(libxl_ctx *ctx, int new_group, libxl_childproc_result *r)
{
    char *argv[] = {"/bin/sh", "-c",
                    "sleep 30 & read a b c d g rest < /proc/$$/stat; "
                    "echo $! $g $$; wait",
                    NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_asyncop_how how;
    char line[128];
    int p[2], gpid = 0, pgrp = 0, pid = 0;

    xlt_pipe(p);
    a.stdout_fd = p[1];
    a.timeout_ms = 500;
    a.kill_grace_ms = 200;
    a.new_process_group = new_group;
    memset(&how, 0, sizeof how);
    how.u.for_event = 50;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, r, &how), 0);
    close(p[1]);
    xlt_read_line(p[0], line, sizeof line); /* not to EOF: sleep holds it */
    close(p[0]);
    XLT_ASSERT(sscanf(line, "%d %d %d", &gpid, &pgrp, &pid) == 3);
    XLT_ASSERT(gpid > 0);
    if (new_group)
        XLT_ASSERT_MSG(pgrp == pid, "child %d is in group %d, not its own", pid,
                       pgrp);
    else
        XLT_ASSERT_EQ(pgrp, getpgrp());
    XLT_ASSERT_RC(xlt_wait_for(ctx, 50), ERROR_TIMEDOUT);
    XLT_ASSERT_EQ(r->pid, pid);
    return gpid;
}

XLT_TEST(test_R1_new_process_group_kill_reaches_grandchild, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    libxl_childproc_result r;
    pid_t gpid;
    int64_t deadline;

    gpid = group_run(ctx, 1, &r);
    XLT_ASSERT_KILLED(r.status, SIGTERM);
    deadline = xlt_now_ms() + 10000;
    while (!pid_gone(gpid)) {
        XLT_ASSERT_MSG(xlt_now_ms() < deadline,
                       "grandchild %d survived its group's kill", (int)gpid);
        xlt_sleep_ms(10);
    }

    /* Control: without a group of its own, only the child is killed. */
    gpid = group_run(ctx, 0, &r);
    XLT_ASSERT_KILLED(r.status, SIGTERM);
    xlt_sleep_ms(200);
    XLT_ASSERT_MSG(!pid_gone(gpid), "grandchild killed without a group");
    kill(gpid, SIGKILL);
    libxl_ctx_free(ctx);
}

/* R1: with new_process_group, a member of the group that ignores SIGTERM
 * does not survive when the leader dies of it: what is left of the group
 * gets SIGKILL before the leader is reaped (so the group id cannot have
 * been reused), in the default and the selective modes. */
static void group_survivor_case(libxl_sigchld_owner mode)
{
    char *argv[] = {"/bin/sh", "-c",
                    "(trap '' TERM; exec sleep 30) & echo $!; wait", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_hooks h;
    libxl_childproc_result r;
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    int p[2], gpid = 0;
    int64_t deadline;
    char line[64];

    memset(&h, 0, sizeof h);
    h.chldowner = mode;
    libxl_childproc_setmode(ctx, &h, NULL);
    xlt_pipe(p);
    a.stdout_fd = p[1];
    a.timeout_ms = 300;
    /* S9: the member gets the whole grace (its leader, dead of the
     * SIGTERM, is held unreaped meanwhile), then the group's SIGKILL. */
    a.kill_grace_ms = 1000;
    a.new_process_group = 1;
    {
        libxl_asyncop_how how;
        memset(&how, 0, sizeof how);
        how.u.for_event = 51;
        XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, &how), 0);
    }
    close(p[1]);
    xlt_read_line(p[0], line, sizeof line);
    close(p[0]);
    XLT_ASSERT(sscanf(line, "%d", &gpid) == 1 && gpid > 0);
    XLT_ASSERT_RC(xlt_wait_for(ctx, 51), ERROR_TIMEDOUT);
    XLT_ASSERT_KILLED(r.status, SIGTERM);
    deadline = xlt_now_ms() + 10000;
    while (!pid_gone(gpid)) {
        if (xlt_now_ms() >= deadline) {
            kill(gpid, SIGKILL);
            XLT_FAIL("group member %d survived its leader's timeout",
                     (int)gpid);
        }
        xlt_sleep_ms(10);
    }
    libxl_ctx_free(ctx);
}

XLT_TEST(test_R1_group_member_ignoring_term_dies_with_leader, 60)
{
    group_survivor_case(libxl_sigchld_owner_libxl);
    group_survivor_case(libxl_sigchld_owner_libxl_always_selective_reap);
}

/* R1 under fd pressure: the library's pidfds (one per child) never use up
 * the process's fds.  With a soft limit of 128 and 200 children in flight,
 * each start still dups the caller's stdin_fd and every run completes. */
XLT_TEST(test_R1_children_in_flight_leave_fds_to_the_application, 120)
{
    enum { N = 200 };
    static libxl_childproc_result res[N];
    char *argv[] = {"/bin/sh", "-c", "read x; exit 5", NULL};
    libxl_childproc_args a = xlt_args(argv);
    struct rlimit rl;
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    int gate[2], i;

    xlt_pipe(gate);
    XLT_ASSERT(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    rl.rlim_cur = 128;
    XLT_ASSERT(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    a.stdin_fd = gate[0];
    for (i = 0; i < N; i++) {
        libxl_asyncop_how how;
        memset(&how, 0, sizeof how);
        how.u.for_event = (uint64_t)i;
        XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &res[i], &how), 0);
    }
    close(gate[1]); /* every child reads EOF and exits 5 */
    for (i = 0; i < N; i++) {
        libxl_event *ev = NULL;
        XLT_ASSERT_RC(xlt_event_wait(ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL),
                      0);
        XLT_ASSERT_RC(ev->u.operation_complete.rc, 0);
        XLT_ASSERT_EXITED(res[ev->for_user].status, 5);
        libxl_event_free(ctx, ev);
    }
    close(gate[0]);
    libxl_ctx_free(ctx);
}

/* ------------------------------------------------------------------ R2 */

/* R2: libxl_childproc_fork returns the pid in the parent and 0 in the
 * child; death is called exactly once per child, with its wait status, on
 * an application thread inside a libxl call.  In the child SIGCHLD is
 * unblocked with SIG_DFL and the rest of the caller's mask is kept. */
#define FORK_OK 100
static libxl_ctx *fk_ctx;
static int fk_calls;
static pid_t fk_pid[2];
static int fk_status[2], fk_count[2];

static void fk_death(libxl_ctx *ctx, pid_t pid, int status, void *user)
{
    int i;
    XLT_ASSERT(ctx == fk_ctx);
    XLT_ASSERT(user == &fk_calls);
    XLT_ASSERT_MSG(xlt_in_libxl > 0,
                   "death callback outside an application libxl call");
    for (i = 0; i < 2; i++) {
        if (pid == fk_pid[i]) {
            fk_status[i] = status;
            fk_count[i]++;
        }
    }
    __atomic_add_fetch(&fk_calls, 1, __ATOMIC_SEQ_CST);
}

static void fork_child_checks(void)
{
    sigset_t cur;
    struct sigaction sa;

    pthread_sigmask(SIG_SETMASK, NULL, &cur);
    XLT_ASSERT_MSG(!sigismember(&cur, SIGCHLD), "SIGCHLD blocked in child");
    XLT_ASSERT_MSG(sigismember(&cur, SIGUSR1) && sigismember(&cur, SIGUSR2),
                   "caller's mask not kept in child");
    XLT_ASSERT(sigaction(SIGCHLD, NULL, &sa) == 0);
    XLT_ASSERT_MSG(sa.sa_handler == SIG_DFL && !(sa.sa_flags & SA_SIGINFO),
                   "SIGCHLD not SIG_DFL in child");
    xlt_child_exit(FORK_OK);
}

XLT_TEST(test_R2_fork_parent_child_and_death_once, 60)
{
    sigset_t set;
    pid_t pid;
    int i;

    fk_ctx = xlt_ctx_new(NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    for (i = 0; i < 2; i++) {
        pid = xlt_childproc_fork(fk_ctx, fk_death, &fk_calls);
        if (pid == 0) {
            if (i == 0)
                fork_child_checks();
            raise(SIGKILL);
        }
        XLT_ASSERT_MSG(pid > 0, "libxl_childproc_fork gave %d", (int)pid);
        fk_pid[i] = pid;
    }
    xlt_pump_until(fk_ctx, &fk_calls, 2, 30000);
    xlt_pump_for(fk_ctx, 300); /* a chance for a second call */
    XLT_ASSERT_EQ(fk_calls, 2);
    XLT_ASSERT_EQ(fk_count[0], 1);
    XLT_ASSERT_EQ(fk_count[1], 1);
    XLT_ASSERT_EXITED(fk_status[0], FORK_OK);
    XLT_ASSERT_KILLED(fk_status[1], SIGKILL);
    XLT_ASSERT_EQ(xlt_count_children(NULL), 0);
    libxl_ctx_free(fk_ctx);
}

/* R2: death may be NULL; the child is still reaped (no zombie). */
XLT_TEST(test_R2_fork_without_death_cb_is_reaped, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    int64_t deadline;
    pid_t pid;

    pid = libxl_childproc_fork(ctx, NULL, NULL);
    if (pid == 0)
        xlt_child_exit(3);
    XLT_ASSERT(pid > 0);
    deadline = xlt_now_ms() + 10000;
    while (xlt_count_children(NULL) != 0) {
        xlt_expect_no_event(ctx);
        XLT_ASSERT_MSG(xlt_now_ms() < deadline, "child %d never reaped",
                       (int)pid);
        xlt_sleep_ms(5);
    }
    libxl_ctx_free(ctx);
}

/* ------------------------------------------------------------------ R4 */

/* R4: an exec'd child starts with an empty signal mask and ignores no
 * signal, though the caller blocks SIGUSR1 and (M1) SIGCHLD, and the
 * library has set its SIGCHLD handler; the child's own /proc/self/status
 * says so.  (The harness starts each test with every disposition at
 * SIG_DFL, so any ignored signal came from the library.) */
static unsigned long long status_field(const char *status, const char *name)
{
    const char *p = strstr(status, name);
    XLT_ASSERT_MSG(p != NULL, "no %s in:\n%s", name, status);
    return strtoull(p + strlen(name) + 1, NULL, 16);
}

static void r4_mask_and_dispositions(void)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/cat", "/proc/self/status", NULL};
    libxl_childproc_result r;
    static char out[16384];
    unsigned long long ign;
    sigset_t set;
    int sig;

    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    XLT_ASSERT_RC(xlt_run_capture(ctx, argv, out, sizeof out, &r), 0);
    XLT_ASSERT_EXITED(r.status, 0);
    XLT_ASSERT_MSG(status_field(out, "SigBlk:") == 0, "child's mask: %llx",
                   status_field(out, "SigBlk:"));
    /* glibc's posix_spawn sets its own internal signals (32 up to
     * SIGRTMIN) to SIG_IGN in every child; no program can use them. */
    ign = status_field(out, "SigIgn:");
    for (sig = 32; sig < SIGRTMIN; sig++)
        ign &= ~(1ULL << (sig - 1));
    XLT_ASSERT_MSG(ign == 0, "child ignores signals: %llx (all: %llx)", ign,
                   status_field(out, "SigIgn:"));
    libxl_ctx_free(ctx);
}

XLT_TEST(test_R4_exec_child_empty_mask_default_dispositions, 60)
{
    r4_mask_and_dispositions();
}

/* R4 with M1: SIGCHLD was SIG_IGN when the ctx was made; the exec'd child
 * still gets it at SIG_DFL (SIG_IGN would survive exec). */
XLT_TEST(test_R4_exec_child_sigchld_default_after_app_ignored_it, 60)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    XLT_ASSERT(sigaction(SIGCHLD, &sa, NULL) == 0);
    r4_mask_and_dispositions();
}

/* R4: an exec'd child holds no fd of the library's: only 0, 1 and 2 --
 * while another thread keeps the library busy creating ctxs and children
 * (so internal fds are being opened during our spawns). */
static int fd_busy_stop;

static void *fd_busy(void *arg)
{
    char *argv[] = {"/bin/sleep", "0.05", NULL};
    (void)arg;
    while (!__atomic_load_n(&fd_busy_stop, __ATOMIC_SEQ_CST)) {
        libxl_ctx *c = xlt_ctx_new(NULL);
        libxl_childproc_result r;
        xlt_start_event_run(c, argv, 1, &r);
        XLT_ASSERT_RC(xlt_wait_for(c, 1), 0);
        libxl_ctx_free(c);
    }
    return NULL;
}

XLT_TEST(test_R4_exec_child_has_no_library_fds, 120)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/sh", "-c", "ls -l /proc/$$/fd", NULL};
    char *argv_sleep[] = {"/bin/sleep", "30", NULL};
    libxl_childproc_args sa = xlt_args(argv_sleep);
    libxl_childproc_result r, rs;
    libxl_asyncop_how how;
    static char out[8192];
    pthread_t th;
    int i;

    /* A child in flight, so per-child fds (pidfds...) exist too. */
    memset(&how, 0, sizeof how);
    how.u.for_event = 2;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &sa, &rs, &how), 0);
    XLT_ASSERT(pthread_create(&th, NULL, fd_busy, NULL) == 0);
    for (i = 0; i < 50; i++) {
        char copy[8192], *line, *save = NULL;
        int nfd = 0;

        XLT_ASSERT_RC(xlt_run_capture(ctx, argv, out, sizeof out, &r), 0);
        XLT_ASSERT_EXITED(r.status, 0);
        snprintf(copy, sizeof copy, "%s", out);
        for (line = strtok_r(copy, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            char *arrow = strstr(line, " -> "), *name;
            if (!arrow)
                continue; /* "total 0" */
            *arrow = 0;
            name = strrchr(line, ' ');
            XLT_ASSERT(name != NULL);
            name++;
            XLT_ASSERT_MSG(!strcmp(name, "0") || !strcmp(name, "1") ||
                               !strcmp(name, "2"),
                           "child holds fd %s:\n%s", name, out);
            nfd++;
        }
        XLT_ASSERT_MSG(nfd == 3, "child has %d fds:\n%s", nfd, out);
    }
    __atomic_store_n(&fd_busy_stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
    XLT_ASSERT_RC(libxl_ao_abort(ctx, &how), 0);
    XLT_ASSERT_RC(xlt_wait_for(ctx, 2), ERROR_ABORTED);
    libxl_ctx_free(ctx);
}

/* ------------------------------------------------------- many children */

/* §5: 500 runs in flight at once (all blocked on one pipe until released)
 * all complete, each with its own exit code and event. */
#define FLIGHT_N 500
XLT_TEST(test_S5_500_runs_in_flight_each_own_code, 180)
{
    static libxl_childproc_result res[FLIGHT_N];
    static int seen[FLIGHT_N];
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    int gate[2], i;

    xlt_pipe(gate);
    for (i = 0; i < FLIGHT_N; i++) {
        char script[32];
        char *argv[] = {"/bin/sh", "-c", script, NULL};
        libxl_childproc_args a = xlt_args(argv);
        libxl_asyncop_how how;

        snprintf(script, sizeof script, "read x; exit %d", i % 256);
        a.stdin_fd = gate[0];
        memset(&how, 0, sizeof how);
        how.u.for_event = (uint64_t)i;
        XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &res[i], &how), 0);
    }
    XLT_ASSERT_EQ(xlt_count_children(NULL), FLIGHT_N);
    close(gate[1]); /* EOF for all: they exit together */
    close(gate[0]);
    for (i = 0; i < FLIGHT_N; i++) {
        libxl_event *ev = NULL;
        uint64_t id;
        XLT_ASSERT_RC(xlt_event_wait(ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL),
                      0);
        id = ev->for_user;
        XLT_ASSERT(id < FLIGHT_N);
        XLT_ASSERT_RC(ev->u.operation_complete.rc, 0);
        XLT_ASSERT_EQ(seen[id], 0);
        seen[id] = 1;
        XLT_ASSERT_EXITED(res[id].status, (int)(id % 256));
        libxl_event_free(ctx, ev);
    }
    xlt_wait_no_children(10000);
    libxl_ctx_free(ctx);
}

/* §5: synchronous runs from 8 threads at once on one ctx. */
#define SYNC_THREADS 8
#define SYNC_RUNS 25
static libxl_ctx *sy_ctx;

static void *sync_thread(void *arg)
{
    int t = (int)(intptr_t)arg, j;
    for (j = 0; j < SYNC_RUNS; j++) {
        char script[32];
        libxl_childproc_result r;
        int code = t * SYNC_RUNS + j;
        snprintf(script, sizeof script, "exit %d", code);
        XLT_ASSERT_RC(xlt_run_sh(sy_ctx, script, &r), 0);
        XLT_ASSERT_EXITED(r.status, code);
    }
    return NULL;
}

XLT_TEST(test_S5_sync_runs_from_8_threads, 120)
{
    pthread_t th[SYNC_THREADS];
    int i;

    sy_ctx = xlt_ctx_new(NULL);
    for (i = 0; i < SYNC_THREADS; i++)
        XLT_ASSERT(pthread_create(&th[i], NULL, sync_thread,
                                  (void *)(intptr_t)i) == 0);
    for (i = 0; i < SYNC_THREADS; i++)
        pthread_join(th[i], NULL);
    XLT_ASSERT_EQ(xlt_count_children(NULL), 0);
    libxl_ctx_free(sy_ctx);
}

/* §2: libxl_ctx_free with 20 children running leaves no zombie: the
 * library reaps them later; another ctx meanwhile gets only its own
 * completion. */
XLT_TEST(test_S2_ctx_free_with_running_children_no_zombies, 60)
{
    static libxl_childproc_result res[20], other_res;
    char *argv[] = {"/bin/sleep", "1", NULL};
    libxl_ctx *ctx = xlt_ctx_new(NULL), *other = xlt_ctx_new(NULL);
    int i;

    for (i = 0; i < 20; i++)
        xlt_start_event_run(ctx, argv, (uint64_t)i, &res[i]);
    xlt_start_event_run(other, argv, 99, &other_res);
    XLT_ASSERT_EQ(xlt_count_children(NULL), 21); /* all still running */
    XLT_ASSERT_RC(libxl_ctx_free(ctx), 0);
    XLT_ASSERT_RC(xlt_wait_for(other, 99), 0);
    xlt_wait_no_children(10000);
    XLT_ASSERT(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD);
    xlt_expect_no_event(other);
    libxl_ctx_free(other);
}

/* Same, with no ctx left at all once the children exit. */
XLT_TEST(test_S2_ctx_free_last_ctx_children_still_reaped, 60)
{
    static libxl_childproc_result res[20];
    char *argv[] = {"/bin/sleep", "1", NULL};
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    int i;

    for (i = 0; i < 20; i++)
        xlt_start_event_run(ctx, argv, (uint64_t)i, &res[i]);
    XLT_ASSERT_EQ(xlt_count_children(NULL), 20);
    XLT_ASSERT_RC(libxl_ctx_free(ctx), 0);
    xlt_wait_no_children(10000);
    XLT_ASSERT(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD);
}

/* §2 / header: operations in progress at libxl_ctx_free are dropped
 * without their callbacks, their statuses discarded: no callback runs
 * (another ctx stays busy in libxl calls meanwhile) and the dropped
 * operations' result_out is never written after the free. */
static int dropped_calls;

static void dropped_cb(libxl_ctx *ctx, int rc, void *for_callback)
{
    (void)ctx;
    (void)rc;
    (void)for_callback;
    __atomic_add_fetch(&dropped_calls, 1, __ATOMIC_SEQ_CST);
}

XLT_TEST(test_S2_ctx_free_drops_ops_without_callbacks, 60)
{
    static libxl_childproc_result res[5], pattern;
    char *argv[] = {"/bin/sleep", "0.5", NULL};
    libxl_ctx *ctx = xlt_ctx_new(NULL), *other = xlt_ctx_new(NULL);
    libxl_childproc_args a = xlt_args(argv);
    int i;

    for (i = 0; i < 5; i++) {
        libxl_asyncop_how how;
        memset(&how, 0, sizeof how);
        how.callback = dropped_cb;
        how.u.for_callback = &res[i];
        XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &res[i], &how), 0);
    }
    XLT_ASSERT_EQ(xlt_count_children(NULL), 5);
    XLT_ASSERT_RC(libxl_ctx_free(ctx), 0);
    memset(&pattern, 0x5a, sizeof pattern);
    for (i = 0; i < 5; i++)
        res[i] = pattern;
    xlt_wait_no_children(10000);
    xlt_pump_for(other, 300);
    XLT_ASSERT_EQ(dropped_calls, 0);
    for (i = 0; i < 5; i++)
        XLT_ASSERT_MSG(memcmp(&res[i], &pattern, sizeof pattern) == 0,
                       "result_out %d written after libxl_ctx_free", i);
    libxl_ctx_free(other);
}

int main(void)
{
    static const xlt_case cases[] = {
        XLT_CASE(test_R0_zero_args_inherit_env_cwd_and_fds),
        XLT_CASE(test_R1_exit_code_reported),
        XLT_CASE(test_R1_killed_by_signal_reported),
        XLT_CASE(test_R1_rusage_is_the_childs_own),
        XLT_CASE(test_R1_result_pid_is_the_child),
        XLT_CASE(test_R1_result_filled_before_completion),
        XLT_CASE(test_R1_bad_arguments_inval_start_nothing),
        XLT_CASE(test_R1_exec_enoent_is_error_fail_not_127),
        XLT_CASE(test_R1_exec_non_executable_eacces),
        XLT_CASE(test_R1_missing_cwd_enoent),
        XLT_CASE(test_R1_argv_envp_over_kernel_limit_e2big),
        XLT_CASE(test_R1_async_exec_failure_reported_once),
        XLT_CASE(test_R0_path_without_slash_searched_in_PATH),
        XLT_CASE(test_R0_envp_replaces_environment),
        XLT_CASE(test_R0_cwd_applied_to_child_only),
        XLT_CASE(test_R0_stdout_stderr_swap),
        XLT_CASE(test_R0_cloexec_fd_works_as_stdin),
        XLT_CASE(test_R1_timeout_sigterm_timedout),
        XLT_CASE(test_R1_timeout_sigkill_after_grace),
        XLT_CASE(test_R1_default_kill_grace_2000ms),
        XLT_CASE(test_R1_new_process_group_kill_reaches_grandchild),
        XLT_CASE(test_R1_group_member_ignoring_term_dies_with_leader),
        XLT_CASE(test_R1_children_in_flight_leave_fds_to_the_application),
        XLT_CASE(test_R2_fork_parent_child_and_death_once),
        XLT_CASE(test_R2_fork_without_death_cb_is_reaped),
        XLT_CASE(test_R4_exec_child_empty_mask_default_dispositions),
        XLT_CASE(test_R4_exec_child_sigchld_default_after_app_ignored_it),
        XLT_CASE(test_R4_exec_child_has_no_library_fds),
        XLT_CASE(test_S5_500_runs_in_flight_each_own_code),
        XLT_CASE(test_S5_sync_runs_from_8_threads),
        XLT_CASE(test_S2_ctx_free_with_running_children_no_zombies),
        XLT_CASE(test_S2_ctx_free_last_ctx_children_still_reaped),
        XLT_CASE(test_S2_ctx_free_drops_ops_without_callbacks),
    };
    return xlt_main("run", cases, sizeof cases / sizeof cases[0]);
}
