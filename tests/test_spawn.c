/*
 * test_spawn.c - S0-S10, spawning for toolstacks: the pid at start
 * (S1), libxl_childproc_kill (S2), the child's signal dispositions (S3),
 * fds[] and close_other_fds (S4), env_set/env_unset (S6), new_session
 * (S7), the PATH of the child's environment (S10); and the spawn-side rules
 * of R1 (an empty argv, the exec errno with fds 0-2 closed, a script
 * without "#!").  Most cases run twice: on the posix_spawn path and on the
 * fork path (a fork_replacement, R3), which must give the same child.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static pid_t fork_hook(void *user)
{
    (void)user;
    return fork();
}

/* A ctx on the posix_spawn path (fork_path 0) or the fork path. */
static libxl_ctx *ctx_on_path(int fork_path, libxl_logger *lg)
{
    libxl_ctx *ctx = xlt_ctx_new(lg);

    if (fork_path) {
        libxl_childproc_hooks h;

        memset(&h, 0, sizeof h);
        h.chldowner = libxl_sigchld_owner_libxl;
        h.fork_replacement = fork_hook;
        libxl_childproc_setmode(ctx, &h, NULL);
    }
    return ctx;
}

/* Runs a synchronously with its stdout read into out (NUL-terminated). */
static int run_out(libxl_ctx *ctx, libxl_childproc_args *a, char *out,
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
    snprintf(buf, size, "/tmp/xlt-spawn.XXXXXX");
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

/* ------------------------------------------------------------------ R1 */

/* R1: argv = {NULL} is a bad argument, refused at once. */
XLT_TEST(test_R1_argv_empty_is_inval, 20)
{
    xlt_logger *lg = xlt_logger_new();
    libxl_ctx *ctx = xlt_ctx_new(&lg->lg);
    char *argv[] = {NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;

    a.path = "/bin/true";
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), ERROR_INVAL);
    XLT_ASSERT_EQ(xlt_count_children(NULL), 0);
    XLT_ASSERT(xlt_logger_count(lg, LIBXL_LOG_ERROR,
                                "libxl_childproc_run: argv is empty") == 1);
    libxl_ctx_free(ctx);
}

/* R1/S3: with fds 0-2 closed in the caller, the exec-error pipe of the
 * fork path must not be one of them, where the child's dup2s of its stdio
 * would overwrite it and lose the exec errno. */
static void exec_errno_closed_std(int fork_path)
{
    libxl_ctx *ctx = ctx_on_path(fork_path, NULL);
    char *argv[] = {"/nonexistent/xlt-prog", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    int saved[3], null[3], i, rc;

    for (i = 0; i < 3; i++) {
        saved[i] = fcntl(i, F_DUPFD_CLOEXEC, 10);
        null[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
        XLT_ASSERT(saved[i] >= 0 && null[i] >= 0);
    }
    for (i = 0; i < 3; i++) /* dups at >= 3, then 0-2 closed */
        null[i] = fcntl(null[i], F_DUPFD_CLOEXEC, 20 + i);
    close(0);
    close(1);
    close(2);
    a.stdin_fd = null[0];
    a.stdout_fd = null[1];
    a.stderr_fd = null[2];
    rc = xlt_childproc_run(ctx, &a, &r, NULL);
    for (i = 0; i < 3; i++)
        dup2(saved[i], i);
    XLT_ASSERT_RC(rc, ERROR_FAIL);
    XLT_ASSERT_EQ(r.exec_errno, ENOENT);
    libxl_ctx_free(ctx);
}

/* Under valgrind, posix_spawn's child does not share the parent's memory
 * (valgrind has no CLONE_VM), so exec errors never reach it: a tool limit
 * (as in test_run.c).  The fork path is checked there too. */
static int posix_exec_errors_unseen(void)
{
    return xlt_skip_under_valgrind("posix_spawn cannot report exec errors");
}

XLT_TEST(test_R1_exec_errno_with_std_fds_closed, 20)
{
    exec_errno_closed_std(1);
    if (!posix_exec_errors_unseen())
        exec_errno_closed_std(0);
}

/* R1: a file without "#!" that the kernel will not run is ENOEXEC on both
 * paths (as glibc's posix_spawn), never run through /bin/sh by one of
 * them only; by full path and by PATH search alike. */
XLT_TEST(test_R1_script_without_shebang_is_enoexec_on_both_paths, 20)
{
    char dir[64], prog[128], pathvar[160];
    int fork_path, by_search;

    make_tmpdir(dir, sizeof dir);
    snprintf(prog, sizeof prog, "%s/xlt-noshebang", dir);
    snprintf(pathvar, sizeof pathvar, "PATH=%s", dir);
    write_file(prog, "exit 0\n", 0755);
    for (fork_path = posix_exec_errors_unseen() ? 1 : 0; fork_path < 2;
         fork_path++)
        for (by_search = 0; by_search < 2; by_search++) {
            libxl_ctx *ctx = ctx_on_path(fork_path, NULL);
            char *argv[] = {"xlt-noshebang", NULL};
            char *set[] = {pathvar, NULL};
            libxl_childproc_args a = xlt_args(argv);
            libxl_childproc_result r;

            a.path = by_search ? "xlt-noshebang" : prog;
            a.env_set = set;
            XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), ERROR_FAIL);
            XLT_ASSERT_EQ(r.exec_errno, ENOEXEC);
            libxl_ctx_free(ctx);
        }
    unlink(prog);
    rmdir(dir);
}

/* ------------------------------------------------------------------ S0 */

/* S0: a zero-initialised 0.2 struct runs as in 0.1, and out and err are
 * written (NULL: nothing captured) whatever the caller left there. */
XLT_TEST(test_S0_zeroed_args_run_as_01_and_outputs_written, 20)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/sh", "-c", "exit 4", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;

    memset(&r, 0x5a, sizeof r);
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), 0);
    XLT_ASSERT_EXITED(r.status, 4);
    XLT_ASSERT(r.out == NULL && r.err == NULL);
    XLT_ASSERT(r.out_len == 0 && r.err_len == 0);
    XLT_ASSERT(!r.out_truncated && !r.err_truncated);
    libxl_childproc_result_dispose(&r);
    libxl_childproc_result_dispose(&r); /* disposed: no-op */
    libxl_childproc_result_dispose(NULL);
    libxl_ctx_free(ctx);
}

/* ------------------------------------------------------------- S1, S2 */

/* S1: the pid is known when the asynchronous call returns; S2 signals it,
 * and refuses once it has been reaped. */
static void pid_then_kill(int fork_path)
{
    libxl_ctx *ctx = ctx_on_path(fork_path, NULL);
    char *argv[] = {"/bin/sleep", "30", NULL};
    libxl_childproc_result r;
    libxl_asyncop_how how;

    memset(&how, 0, sizeof how);
    how.u.for_event = 41;
    memset(&r, 0, sizeof r);
    {
        libxl_childproc_args a = xlt_args(argv);
        XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, &how), 0);
    }
    XLT_ASSERT(r.pid > 0);
    XLT_ASSERT(kill(r.pid, 0) == 0);
    XLT_ASSERT_RC(libxl_childproc_kill(ctx, &how, 0), 0);
    XLT_ASSERT_RC(libxl_childproc_kill(ctx, &how, SIGUSR2), 0);
    XLT_ASSERT_RC(xlt_wait_for(ctx, 41), 0);
    XLT_ASSERT_KILLED(r.status, SIGUSR2);
    XLT_ASSERT_RC(libxl_childproc_kill(ctx, &how, SIGKILL), ERROR_NOTFOUND);
    libxl_ctx_free(ctx);
}

XLT_TEST(test_S1_S2_pid_at_start_and_kill, 30)
{
    pid_then_kill(0);
    pid_then_kill(1);
}

/* S2: how == NULL and bad signals are ERROR_INVAL, checked before the
 * search; an unknown how is ERROR_NOTFOUND. */
XLT_TEST(test_S2_kill_bad_arguments, 20)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    libxl_asyncop_how how;

    memset(&how, 0, sizeof how);
    how.u.for_event = 7;
    XLT_ASSERT_RC(libxl_childproc_kill(ctx, NULL, SIGTERM), ERROR_INVAL);
    XLT_ASSERT_RC(libxl_childproc_kill(ctx, &how, -1), ERROR_INVAL);
    XLT_ASSERT_RC(libxl_childproc_kill(ctx, &how, 65), ERROR_INVAL);
    XLT_ASSERT_RC(libxl_childproc_kill(ctx, NULL, 999), ERROR_INVAL);
    XLT_ASSERT_RC(libxl_childproc_kill(ctx, &how, SIGTERM), ERROR_NOTFOUND);
    libxl_ctx_free(ctx);
}

/* S2/S7: a run with its own session is signalled as a group: the
 * grandchild gets the signal too. */
XLT_TEST(test_S7_new_session_kill_reaches_group, 30)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/sh", "-c",
                    "sleep 30 & echo $! $(cut -d' ' -f6 /proc/$$/stat); wait",
                    NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    libxl_asyncop_how how;
    char line[128];
    int p[2];
    long gpid = 0, sid = 0;

    xlt_pipe(p);
    a.stdout_fd = p[1];
    a.new_session = 1;
    memset(&how, 0, sizeof how);
    how.u.for_event = 9;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, &how), 0);
    close(p[1]);
    xlt_read_line(p[0], line, sizeof line);
    XLT_ASSERT(sscanf(line, "%ld %ld", &gpid, &sid) == 2);
    XLT_ASSERT_EQ(sid, r.pid); /* setsid(): its own session */
    XLT_ASSERT_RC(libxl_childproc_kill(ctx, &how, SIGKILL), 0);
    XLT_ASSERT_RC(xlt_wait_for(ctx, 9), 0);
    XLT_ASSERT_KILLED(r.status, SIGKILL);
    /* The grandchild got it too (it is gone or a zombie of init's). */
    {
        int64_t end = xlt_now_ms() + 5000;
        char st;

        while ((st = xlt_proc_state((pid_t)gpid)) != 0 && st != 'Z' &&
               xlt_now_ms() < end)
            xlt_sleep_ms(10);
        XLT_ASSERT(st == 0 || st == 'Z');
    }
    close(p[0]);
    libxl_ctx_free(ctx);
}

/* ------------------------------------------------------------------ S3 */

static int s3_pipe_w = -1;
static pid_t s3_parent;

static void s3_handler(int sig)
{
    char c = getpid() == s3_parent ? 'p' : 'c';

    (void)sig;
    if (write(s3_pipe_w, &c, 1) < 0) {
        /* nothing to do: the test sees the byte missing */
    }
}

/* A fork_replacement that has a signal arrive in the child before the
 * library's child side has run. */
static pid_t fork_and_signal(void *user)
{
    pid_t pid = fork();

    (void)user;
    if (pid == 0)
        kill(getpid(), SIGUSR1);
    return pid;
}

/* S3: what the caller ignores or catches is default in the exec'd child,
 * with an empty mask, on both paths. */
XLT_TEST(test_S3_ignored_and_caught_signals_default_in_child, 20)
{
    struct sigaction sa;
    int fork_path;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    sa.sa_handler = s3_handler;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    for (fork_path = 0; fork_path < 2; fork_path++) {
        libxl_ctx *ctx = ctx_on_path(fork_path, NULL);
        /* cat installs no handler of its own (grep, for one, catches
         * SIGSEGV). */
        char *argv[] = {"/bin/cat", "/proc/self/status", NULL};
        libxl_childproc_args a = xlt_args(argv);
        libxl_childproc_result r;
        char out[4096];

        XLT_ASSERT_RC(run_out(ctx, &a, out, sizeof out, &r), 0);
        XLT_ASSERT_EXITED(r.status, 0);
        XLT_ASSERT_MSG(strstr(out, "SigBlk:\t0000000000000000") &&
                           strstr(out, "SigIgn:\t0000000000000000") &&
                           strstr(out, "SigCgt:\t0000000000000000"),
                       "path %d: child's signal state:\n%s", fork_path, out);
        libxl_ctx_free(ctx);
    }
}

/* S3: the SIGPIPE a daemon ignores does not reach `yes | head -1`. */
XLT_TEST(test_S3_sigpipe_ignored_in_caller_yes_head_ends, 20)
{
    struct sigaction sa;
    int fork_path;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    for (fork_path = 0; fork_path < 2; fork_path++) {
        libxl_ctx *ctx = ctx_on_path(fork_path, NULL);
        char *argv[] = {"/bin/sh", "-c", "yes | head -1", NULL};
        libxl_childproc_args a = xlt_args(argv);
        libxl_childproc_result r;
        char out[64];

        a.timeout_ms = 5000;
        XLT_ASSERT_RC(run_out(ctx, &a, out, sizeof out, &r), 0);
        XLT_ASSERT_STREQ(out, "y\n");
        libxl_ctx_free(ctx);
    }
}

/* S3: on the fork path no handler of the parent runs in the child before
 * its exec, even for a signal that arrives at once. */
XLT_TEST(test_S3_no_parent_handler_runs_in_child_before_exec, 20)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    libxl_childproc_hooks h;
    struct sigaction sa;
    char *argv[] = {"/bin/true", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    char buf[16];
    int p[2];
    ssize_t n;

    xlt_pipe(p);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    s3_pipe_w = p[1];
    s3_parent = getpid();
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s3_handler;
    sigaction(SIGUSR1, &sa, NULL);
    memset(&h, 0, sizeof h);
    h.fork_replacement = fork_and_signal;
    libxl_childproc_setmode(ctx, &h, NULL);
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), 0);
    /* The pending SIGUSR1 met its default action, not the handler. */
    XLT_ASSERT_KILLED(r.status, SIGUSR1);
    n = read(p[0], buf, sizeof buf);
    XLT_ASSERT_MSG(n < 0 && errno == EAGAIN, "a handler ran (%zd bytes: %.*s)",
                   n, (int)(n > 0 ? n : 0), buf);
    libxl_ctx_free(ctx);
}

/* ------------------------------------------------------------------ S4 */

/* S4: fds[] entries land where asked, also when each child_fd is the other
 * entry's parent_fd (a swap), on both paths. */
XLT_TEST(test_S4_fd_mapping_swaps, 20)
{
    int fork_path;

    for (fork_path = 0; fork_path < 2; fork_path++) {
        libxl_ctx *ctx = ctx_on_path(fork_path, NULL);
        char *argv[] = {"/bin/sh", "-c", "echo to-a >&8; echo to-b >&9", NULL};
        libxl_childproc_args a = xlt_args(argv);
        libxl_childproc_result r;
        libxl_childproc_fd fds[2];
        int pa[2], pb[2];
        char out[64];

        xlt_pipe(pa);
        xlt_pipe(pb);
        /* pa's write end at 9, pb's at 8: child 8 <- pa, 9 <- pb.  (dash
         * takes one-digit fds only; the ends are first moved out of the
         * way of 8 and 9.) */
        {
            int *ends[4] = {&pa[0], &pa[1], &pb[0], &pb[1]}, i;

            for (i = 0; i < 4; i++) {
                int fd = fcntl(*ends[i], F_DUPFD_CLOEXEC, 40);

                XLT_ASSERT(fd >= 40);
                close(*ends[i]);
                *ends[i] = fd;
            }
        }
        XLT_ASSERT(dup2(pa[1], 9) == 9 && dup2(pb[1], 8) == 8);
        close(pa[1]);
        close(pb[1]);
        fds[0].child_fd = 8;
        fds[0].parent_fd = 9;
        fds[1].child_fd = 9;
        fds[1].parent_fd = 8;
        a.fds = fds;
        a.nr_fds = 2;
        XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), 0);
        XLT_ASSERT_EXITED(r.status, 0);
        close(8);
        close(9);
        xlt_read_all(pa[0], out, sizeof out);
        XLT_ASSERT_STREQ(out, "to-a\n");
        xlt_read_all(pb[0], out, sizeof out);
        XLT_ASSERT_STREQ(out, "to-b\n");
        close(pa[0]);
        close(pb[0]);
        libxl_ctx_free(ctx);
    }
}

/* S4: a child_fd equal to an fd the library uses (the ctx's wakeup fd)
 * still gets the caller's fd. */
XLT_TEST(test_S4_child_fd_on_a_library_fd, 20)
{
    int fork_path;

    for (fork_path = 0; fork_path < 2; fork_path++) {
        libxl_ctx *ctx = ctx_on_path(fork_path, NULL);
        struct pollfd pfd[8];
        struct timeval now = {0, 0};
        int nfds = 8, tmo = -1, p[2];
        char script[64], out[64];
        char *argv[] = {"/bin/sh", "-c", script, NULL};
        libxl_childproc_args a = xlt_args(argv);
        libxl_childproc_result r;
        libxl_childproc_fd fd;

        XLT_ASSERT_RC(libxl_osevent_beforepoll(ctx, &nfds, pfd, &tmo, now), 0);
        XLT_ASSERT(nfds >= 1 && pfd[0].fd >= 3);
        xlt_pipe(p);
        fd.child_fd = pfd[0].fd;
        fd.parent_fd = p[1];
        snprintf(script, sizeof script, "echo here >&%d", fd.child_fd);
        a.fds = &fd;
        a.nr_fds = 1;
        XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), 0);
        XLT_ASSERT_EXITED(r.status, 0);
        close(p[1]);
        xlt_read_all(p[0], out, sizeof out);
        XLT_ASSERT_STREQ(out, "here\n");
        close(p[0]);
        libxl_ctx_free(ctx);
    }
}

/* S4: with close_other_fds the child holds exactly 0-2 and the targets,
 * even an fd the caller left without close-on-exec. */
XLT_TEST(test_S4_close_other_fds_leaves_only_targets, 20)
{
    int fork_path;

    for (fork_path = 0; fork_path < 2; fork_path++) {
        libxl_ctx *ctx = ctx_on_path(fork_path, NULL);
        /* Probed with stat, which opens nothing (a glob of the fd
         * directory would show the directory's own fd). */
        char *argv[] = {"/bin/sh", "-c",
                        "i=0; while [ $i -lt 256 ]; do"
                        " [ -e /proc/$$/fd/$i ] && printf '%s ' $i;"
                        " i=$((i+1)); done; true",
                        NULL};
        libxl_childproc_args a = xlt_args(argv);
        libxl_childproc_result r;
        libxl_childproc_fd fds[2];
        int leak, extra;
        char out[256];

        leak = open("/dev/null", O_RDONLY); /* no close-on-exec */
        extra = open("/dev/null", O_RDONLY | O_CLOEXEC);
        XLT_ASSERT(leak >= 3 && extra >= 3);
        fds[0].child_fd = 7;
        fds[0].parent_fd = extra;
        fds[1].child_fd = 12;
        fds[1].parent_fd = extra;
        a.fds = fds;
        a.nr_fds = 2;
        a.close_other_fds = 1;
        XLT_ASSERT_RC(run_out(ctx, &a, out, sizeof out, &r), 0);
        XLT_ASSERT_EXITED(r.status, 0);
        XLT_ASSERT_MSG(!strcmp(out, "0 1 2 7 12 "),
                       "path %d: child fds \"%s\" (leaked fd was %d)",
                       fork_path, out, leak);
        /* Without it, the leaked fd is inherited (what the flag is for). */
        a.close_other_fds = 0;
        XLT_ASSERT_RC(run_out(ctx, &a, out, sizeof out, &r), 0);
        {
            char want[16];

            snprintf(want, sizeof want, " %d ", leak);
            XLT_ASSERT_MSG(strstr(out, want) != NULL,
                           "leaked fd %d not in \"%s\"", leak, out);
        }
        close(leak);
        close(extra);
        libxl_ctx_free(ctx);
    }
}

/* S4: bad fds[] are ERROR_INVAL at once, naming the bad value. */
XLT_TEST(test_S4_bad_fds_are_inval, 20)
{
    xlt_logger *lg = xlt_logger_new();
    libxl_ctx *ctx = xlt_ctx_new(&lg->lg);
    char *argv[] = {"/bin/true", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    libxl_childproc_fd fds[2];
    int p[2];

    xlt_pipe(p);
    a.fds = fds;
    fds[0].child_fd = 2; /* below 3 */
    fds[0].parent_fd = p[0];
    a.nr_fds = 1;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), ERROR_INVAL);
    fds[0].child_fd = 5; /* twice */
    fds[1].child_fd = 5;
    fds[1].parent_fd = p[1];
    a.nr_fds = 2;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), ERROR_INVAL);
    fds[1].child_fd = 6; /* parent_fd not open */
    fds[1].parent_fd = 987;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), ERROR_INVAL);
    XLT_ASSERT(xlt_logger_count(lg, LIBXL_LOG_ERROR,
                                "libxl_childproc_run: fds[1].parent_fd 987 "
                                "is not open") == 1);
    a.nr_fds = -1;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), ERROR_INVAL);
    a.fds = NULL;
    a.nr_fds = 1;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), ERROR_INVAL);
    a.nr_fds = 0;
    a.stdout_fd = 987;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), ERROR_INVAL);
    XLT_ASSERT(xlt_logger_count(lg, LIBXL_LOG_ERROR,
                                "libxl_childproc_run: stdout_fd 987 is not "
                                "open") == 1);
    XLT_ASSERT_EQ(xlt_count_children(NULL), 0);
    close(p[0]);
    close(p[1]);
    libxl_ctx_free(ctx);
}

/* ------------------------------------------------------------------ S6 */

/* S6: env_unset first (every entry of the name), then env_set (replacing
 * every entry of its name, the last of a name winning), on a copy of
 * envp. */
XLT_TEST(test_S6_env_edits_on_envp, 20)
{
    int fork_path;

    for (fork_path = 0; fork_path < 2; fork_path++) {
        libxl_ctx *ctx = ctx_on_path(fork_path, NULL);
        char *argv[] = {"/usr/bin/env", NULL};
        char *envp[] = {"A=1", "B=2", "A=3", "C=4", "E=5", NULL};
        char *unset[] = {"C", "A", NULL};
        char *set[] = {"A=9", "D=5", "E=x=y", "D=6", NULL};
        libxl_childproc_args a = xlt_args(argv);
        libxl_childproc_result r;
        char out[256];

        a.envp = envp;
        a.env_unset = unset;
        a.env_set = set;
        XLT_ASSERT_RC(run_out(ctx, &a, out, sizeof out, &r), 0);
        XLT_ASSERT_EXITED(r.status, 0);
        XLT_ASSERT_STREQ(out, "B=2\nA=9\nE=x=y\nD=6\n");
        XLT_ASSERT_STREQ(envp[0], "A=1"); /* the caller's, untouched */
        libxl_ctx_free(ctx);
    }
}

/* S6: with envp NULL the base is the caller's environ, which the library
 * never modifies. */
XLT_TEST(test_S6_env_edits_on_environ_leave_it_alone, 20)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/sh", "-c", "echo \"$XLT_S6|${XLT_S6_GONE-unset}\"",
                    NULL};
    char *set[] = {"XLT_S6=child", NULL};
    char *unset[] = {"XLT_S6_GONE", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    char out[128];

    setenv("XLT_S6", "parent", 1);
    setenv("XLT_S6_GONE", "here", 1);
    a.env_set = set;
    a.env_unset = unset;
    XLT_ASSERT_RC(run_out(ctx, &a, out, sizeof out, &r), 0);
    XLT_ASSERT_STREQ(out, "child|unset\n");
    XLT_ASSERT_STREQ(getenv("XLT_S6"), "parent");
    XLT_ASSERT_STREQ(getenv("XLT_S6_GONE"), "here");
    libxl_ctx_free(ctx);
}

XLT_TEST(test_S6_env_set_without_equals_is_inval, 20)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/true", NULL};
    char *set[] = {"JUSTANAME", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;

    a.env_set = set;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), ERROR_INVAL);
    XLT_ASSERT_EQ(xlt_count_children(NULL), 0);
    libxl_ctx_free(ctx);
}

/* ------------------------------------------------------------------ S5 */

/* S5: a synchronous run of a child writing MiBs on both streams neither
 * deadlocks nor loses a byte. */
XLT_TEST(test_S5_capture_large_outputs_sync, 60)
{
    int fork_path;

    for (fork_path = 0; fork_path < 2; fork_path++) {
        libxl_ctx *ctx = ctx_on_path(fork_path, NULL);
        char *argv[] = {"/bin/sh", "-c",
                        "head -c 3000000 /dev/zero; head -c 200000 /dev/zero"
                        " | tr '\\0' e >&2; echo tail",
                        NULL};
        libxl_childproc_args a = xlt_args(argv);
        libxl_childproc_result r;
        size_t i;

        a.capture = LIBXL_CAPTURE_STDOUT | LIBXL_CAPTURE_STDERR;
        a.capture_max = 8u << 20;
        a.timeout_ms = 30000;
        XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), 0);
        XLT_ASSERT_EXITED(r.status, 0);
        XLT_ASSERT_EQ(r.out_len, 3000005);
        XLT_ASSERT(!memcmp(r.out + 3000000, "tail\n", 6)); /* and the NUL */
        for (i = 0; i < 3000000 && r.out[i] == 0; i++)
            ;
        XLT_ASSERT_EQ(i, 3000000);
        XLT_ASSERT_EQ(r.err_len, 200000);
        XLT_ASSERT(r.err[0] == 'e' && r.err[199999] == 'e' && !r.err[200000]);
        XLT_ASSERT(!r.out_truncated && !r.err_truncated);
        libxl_childproc_result_dispose(&r);
        XLT_ASSERT(r.out == NULL && r.err == NULL && r.out_len == 0);
        libxl_ctx_free(ctx);
    }
}

/* S5: past capture_max the rest is read and dropped (the child is never
 * blocked), and the stream is marked truncated; an uncaptured stream is
 * NULL, a captured empty one "". */
XLT_TEST(test_S5_capture_max_truncates_without_blocking, 30)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/sh", "-c", "head -c 1000000 /dev/zero; exit 3", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;

    a.capture = LIBXL_CAPTURE_STDOUT | LIBXL_CAPTURE_STDERR;
    a.capture_max = 1000;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), 0);
    XLT_ASSERT_EXITED(r.status, 3);
    XLT_ASSERT_EQ(r.out_len, 1000);
    XLT_ASSERT(r.out_truncated);
    XLT_ASSERT_STREQ(r.err, "");
    XLT_ASSERT(!r.err_truncated);
    libxl_childproc_result_dispose(&r);

    a.capture = LIBXL_CAPTURE_STDERR;
    a.stdout_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    XLT_ASSERT(a.stdout_fd > 0);
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), 0);
    close(a.stdout_fd);
    XLT_ASSERT(r.out == NULL);
    XLT_ASSERT_STREQ(r.err, "");
    libxl_childproc_result_dispose(&r);
    libxl_ctx_free(ctx);
}

/* S5: a background process holding the pipe does not hold the run: it
 * completes soon after the reap, with what was read. */
XLT_TEST(test_S5_background_holder_completes_after_reap, 30)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/sh", "-c", "echo hi; sleep 20 & exit 0", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    int64_t t0 = xlt_now_ms();

    a.capture = LIBXL_CAPTURE_STDOUT;
    a.new_process_group = 1;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), 0);
    XLT_ASSERT_MSG(xlt_now_ms() - t0 < 10000, "held by the background process");
    XLT_ASSERT_STREQ(r.out, "hi\n");
    kill(-r.pid, SIGKILL); /* the sleep */
    libxl_childproc_result_dispose(&r);
    libxl_ctx_free(ctx);
}

/* S5: stdin_data is fed, then EOF; a child that does not read it is not
 * an error (and no SIGPIPE reaches the caller). */
XLT_TEST(test_S5_stdin_data_fed_then_eof, 30)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *cat[] = {"/bin/cat", NULL};
    char *tru[] = {"/bin/true", NULL};
    size_t n = 300000, i;
    char *in = malloc(n);
    libxl_childproc_result r;

    XLT_ASSERT(in);
    for (i = 0; i < n; i++)
        in[i] = (char)('a' + i % 26);
    {
        libxl_childproc_args a = xlt_args(cat);
        a.stdin_data = in;
        a.stdin_len = n;
        a.capture = LIBXL_CAPTURE_STDOUT;
        XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), 0);
        XLT_ASSERT_EXITED(r.status, 0);
        XLT_ASSERT_EQ(r.out_len, n);
        XLT_ASSERT(!memcmp(r.out, in, n));
        libxl_childproc_result_dispose(&r);
    }
    {
        libxl_childproc_args a = xlt_args(tru);
        a.stdin_data = in;
        a.stdin_len = n;
        XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), 0);
        XLT_ASSERT_EXITED(r.status, 0);
    }
    free(in);
    libxl_ctx_free(ctx);
}

/* S5: an asynchronous run's pipes are drained by libxl_event_wait. */
XLT_TEST(test_S5_async_capture_drained_by_event_wait, 30)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/sh", "-c", "head -c 500000 /dev/zero; echo done >&2",
                    NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    libxl_asyncop_how how;

    memset(&how, 0, sizeof how);
    how.u.for_event = 5;
    a.capture = LIBXL_CAPTURE_STDOUT | LIBXL_CAPTURE_STDERR;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, &how), 0);
    XLT_ASSERT_RC(xlt_wait_for(ctx, 5), 0);
    XLT_ASSERT_EQ(r.out_len, 500000);
    XLT_ASSERT_STREQ(r.err, "done\n");
    libxl_childproc_result_dispose(&r);
    libxl_ctx_free(ctx);
}

/* S5: a single-threaded main loop on beforepoll/afterpoll drains them. */
XLT_TEST(test_S5_capture_drained_by_afterpoll, 30)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/sh", "-c", "head -c 700000 /dev/zero", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    libxl_asyncop_how how;
    libxl_event *ev = NULL;
    int64_t end = xlt_now_ms() + 20000;

    memset(&how, 0, sizeof how);
    how.u.for_event = 6;
    a.capture = LIBXL_CAPTURE_STDOUT;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, &how), 0);
    while (xlt_event_check(ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL) ==
           ERROR_NOT_READY) {
        struct pollfd fds[8];
        struct timeval now;
        int nfds = 8, tmo = 1000;

        XLT_ASSERT(xlt_now_ms() < end);
        gettimeofday(&now, NULL);
        XLT_ASSERT_RC(libxl_osevent_beforepoll(ctx, &nfds, fds, &tmo, now), 0);
        poll(fds, (nfds_t)nfds, tmo);
        gettimeofday(&now, NULL);
        libxl_osevent_afterpoll(ctx, nfds, fds, now);
    }
    XLT_ASSERT_EQ(ev->for_user, 6);
    XLT_ASSERT_RC(ev->u.operation_complete.rc, 0);
    libxl_event_free(ctx, ev);
    XLT_ASSERT_EQ(r.out_len, 700000);
    libxl_childproc_result_dispose(&r);
    libxl_ctx_free(ctx);
}

/* A minimal application main loop on the osevent hooks: the fds and
 * timeouts the library registers, polled here. */
typedef struct {
    int fd;
    short events;
    void *for_libxl;
    int used;
} hook_fd;

typedef struct {
    struct timeval abs;
    void *for_libxl;
    int used;
} hook_timeout;

typedef struct {
    hook_fd fd[16];
    hook_timeout to[16];
} hook_loop;

static int hl_fd_register(void *user, int fd, void **reg, short events,
                          void *for_libxl)
{
    hook_loop *h = user;
    int i;

    for (i = 0; i < 16 && h->fd[i].used; i++)
        ;
    XLT_ASSERT(i < 16);
    h->fd[i].fd = fd;
    h->fd[i].events = events;
    h->fd[i].for_libxl = for_libxl;
    h->fd[i].used = 1;
    *reg = &h->fd[i];
    return 0;
}

static int hl_fd_modify(void *user, int fd, void **reg, short events)
{
    (void)user;
    (void)fd;
    ((hook_fd *)*reg)->events = events;
    return 0;
}

static void hl_fd_deregister(void *user, int fd, void *reg)
{
    (void)user;
    (void)fd;
    memset(reg, 0, sizeof(hook_fd));
}

static int hl_timeout_register(void *user, void **reg, struct timeval abs,
                               void *for_libxl)
{
    hook_loop *h = user;
    int i;

    for (i = 0; i < 16 && h->to[i].used; i++)
        ;
    XLT_ASSERT(i < 16);
    h->to[i].abs = abs;
    h->to[i].for_libxl = for_libxl;
    h->to[i].used = 1;
    *reg = &h->to[i];
    return 0;
}

static int hl_timeout_modify(void *user, void **reg, struct timeval abs)
{
    (void)user;
    ((hook_timeout *)*reg)->abs = abs;
    return 0;
}

static void hl_timeout_deregister(void *user, void *reg)
{
    (void)user;
    memset(reg, 0, sizeof(hook_timeout));
}

/* One turn of the loop: poll the registered fds until the nearest
 * timeout, then report what is ready and what expired. */
static void hook_loop_turn(libxl_ctx *ctx, hook_loop *h)
{
    struct pollfd pfd[16];
    void *tok[16];
    struct timeval now;
    int n = 0, i, ms = 200;

    gettimeofday(&now, NULL);
    for (i = 0; i < 16; i++) {
        long long d;

        if (!h->to[i].used)
            continue;
        d = (h->to[i].abs.tv_sec - now.tv_sec) * 1000LL +
            (h->to[i].abs.tv_usec - now.tv_usec) / 1000;
        if (d < ms)
            ms = d < 0 ? 0 : (int)d;
    }
    for (i = 0; i < 16; i++) {
        if (!h->fd[i].used)
            continue;
        pfd[n].fd = h->fd[i].fd;
        pfd[n].events = h->fd[i].events;
        tok[n++] = h->fd[i].for_libxl;
    }
    poll(pfd, (nfds_t)n, ms);
    for (i = 0; i < n; i++)
        if (pfd[i].revents) {
            xlt_in_libxl++;
            libxl_osevent_occurred_fd(ctx, tok[i], pfd[i].fd, pfd[i].events,
                                      pfd[i].revents);
            xlt_in_libxl--;
        }
    gettimeofday(&now, NULL);
    for (i = 0; i < 16; i++) {
        if (!h->to[i].used || timercmp(&h->to[i].abs, &now, >))
            continue;
        h->to[i].used = 0; /* forgotten once reported (O3) */
        xlt_in_libxl++;
        libxl_osevent_occurred_timeout(ctx, h->to[i].for_libxl);
        xlt_in_libxl--;
    }
}

static void s5_done(libxl_ctx *ctx, int rc, void *user)
{
    (void)ctx;
    *(int *)user = rc == 0 ? 1 : rc;
}

/* S5: with the osevent hooks, the pipes are registered through
 * fd_register and drained in occurred_fd; the 200 ms linger is a
 * registered timeout. */
XLT_TEST(test_S5_capture_through_osevent_hooks, 30)
{
    static hook_loop h;
    libxl_osevent_hooks oh = {hl_fd_register,    hl_fd_modify,
                              hl_fd_deregister,  hl_timeout_register,
                              hl_timeout_modify, hl_timeout_deregister};
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/sh", "-c",
                    "head -c 600000 /dev/zero; echo e >&2; sleep 20 & exit 0",
                    NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    libxl_asyncop_how how;
    int done = 0, i, regs = 0;
    int64_t end = xlt_now_ms() + 20000;

    libxl_osevent_register_hooks(ctx, &oh, &h);
    memset(&how, 0, sizeof how);
    how.callback = s5_done;
    how.u.for_callback = &done;
    a.capture = LIBXL_CAPTURE_STDOUT | LIBXL_CAPTURE_STDERR;
    a.new_process_group = 1;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, &how), 0);
    for (i = 0; i < 16; i++)
        regs += h.fd[i].used;
    XLT_ASSERT_EQ(regs, 3); /* the wakeup fd and the two pipes */
    while (!done) {
        XLT_ASSERT(xlt_now_ms() < end);
        hook_loop_turn(ctx, &h);
    }
    XLT_ASSERT_EQ(done, 1);
    XLT_ASSERT_EQ(r.out_len, 600000);
    XLT_ASSERT_STREQ(r.err, "e\n");
    for (i = 0, regs = 0; i < 16; i++)
        regs += h.fd[i].used;
    XLT_ASSERT_EQ(regs, 1); /* the pipes were deregistered */
    kill(-r.pid, SIGKILL);
    libxl_childproc_result_dispose(&r);
    libxl_ctx_free(ctx);
}

typedef struct {
    libxl_ctx *ctx;
    int in;
} s5_cancel;

static void *s5_capture_sleep(void *arg)
{
    s5_cancel *c = arg;
    char *argv[] = {"/bin/sh", "-c", "echo x; exec sleep 2", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;

    a.capture = LIBXL_CAPTURE_STDOUT;
    __atomic_store_n(&c->in, 1, __ATOMIC_SEQ_CST);
    libxl_childproc_run(c->ctx, &a, &r, NULL);
    return NULL;
}

/* S5 with E5: a synchronous run cancelled while it sleeps in poll() on its
 * pipes leaves the ctx usable, and another run may capture then. */
XLT_TEST(test_S5_cancelled_capturing_run_leaves_ctx_usable, 30)
{
    s5_cancel c = {xlt_ctx_new(NULL), 0};
    char *argv[] = {"/bin/sh", "-c", "echo again", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    pthread_t th;
    void *ret;

    XLT_ASSERT(pthread_create(&th, NULL, s5_capture_sleep, &c) == 0);
    while (!__atomic_load_n(&c.in, __ATOMIC_SEQ_CST))
        xlt_sleep_ms(1);
    xlt_sleep_ms(200); /* asleep in poll() on its pipe by now */
    XLT_ASSERT(pthread_cancel(th) == 0);
    XLT_ASSERT(pthread_join(th, &ret) == 0);
    XLT_ASSERT(ret == PTHREAD_CANCELED);
    a.capture = LIBXL_CAPTURE_STDOUT;
    XLT_ASSERT_RC(xlt_childproc_run(c.ctx, &a, &r, NULL), 0);
    XLT_ASSERT_STREQ(r.out, "again\n");
    libxl_childproc_result_dispose(&r);
    XLT_ASSERT_RC(libxl_ctx_free(c.ctx), 0);
}

/* S5: what was read is kept when the run times out. */
XLT_TEST(test_S5_timeout_keeps_what_was_read, 30)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/sh", "-c", "echo part; exec sleep 20", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;

    a.capture = LIBXL_CAPTURE_STDOUT;
    a.timeout_ms = 300;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), ERROR_TIMEDOUT);
    XLT_ASSERT_STREQ(r.out, "part\n");
    libxl_childproc_result_dispose(&r);
    libxl_ctx_free(ctx);
}

/* S5: a stream both captured and given an fd, or stdin_data with a
 * stdin_fd, is ERROR_INVAL; a failed start still writes "" for captured
 * streams. */
XLT_TEST(test_S5_capture_conflicts_inval_and_failed_start, 20)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/nonexistent/xlt", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    int p[2];

    xlt_pipe(p);
    a.capture = LIBXL_CAPTURE_STDOUT;
    a.stdout_fd = p[1];
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), ERROR_INVAL);
    a.stdout_fd = 0;
    a.stdin_data = "x";
    a.stdin_len = 1;
    a.stdin_fd = p[0];
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), ERROR_INVAL);
    a.stdin_fd = 0;
    if (!posix_exec_errors_unseen()) {
        XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), ERROR_FAIL);
        XLT_ASSERT_EQ(r.exec_errno, ENOENT);
        XLT_ASSERT_STREQ(r.out, "");
        XLT_ASSERT(r.err == NULL);
        libxl_childproc_result_dispose(&r);
    }
    close(p[0]);
    close(p[1]);
    libxl_ctx_free(ctx);
}

/* ------------------------------------------------------------------ S8 */

/* A fresh cgroup v2 directory for the test, or 0 (after saying why) where
 * there is no writable cgroup v2 hierarchy. */
static int s8_make_cgroup(char *dir, size_t size)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[1024], mnt[512] = "";

    if (f) {
        while (fgets(line, sizeof line, f)) {
            char *sep = strstr(line, " - cgroup2 ");
            char point[512];

            if (sep && sscanf(line, "%*s %*s %*s %*s %511s", point) == 1) {
                snprintf(mnt, sizeof mnt, "%s", point);
                break;
            }
        }
        fclose(f);
    }
    if (!mnt[0]) {
        fprintf(stderr, "S8 skipped: no cgroup v2 hierarchy mounted\n");
        return 0;
    }
    snprintf(dir, size, "%s/xlt-s8-%d", mnt, (int)getpid());
    if (mkdir(dir, 0755) != 0) {
        fprintf(stderr, "S8 skipped: cannot create %s: %s\n", dir,
                strerror(errno));
        return 0;
    }
    return 1;
}

/* S8: the child is in the cgroup (by clone3 on the posix_spawn path, by
 * moving itself on the fork_replacement path). */
XLT_TEST(test_S8_child_starts_in_cgroup, 30)
{
    char dir[600], want[64];
    int fork_path;

    if (!s8_make_cgroup(dir, sizeof dir))
        return;
    snprintf(want, sizeof want, "/xlt-s8-%d\n", (int)getpid());
    for (fork_path = 0; fork_path < 2; fork_path++) {
        libxl_ctx *ctx = ctx_on_path(fork_path, NULL);
        char *argv[] = {"/bin/sh", "-c", "grep '^0::' /proc/self/cgroup", NULL};
        libxl_childproc_args a = xlt_args(argv);
        libxl_childproc_result r;
        char out[600];
        size_t n, w = strlen(want);

        a.cgroup = dir;
        XLT_ASSERT_RC(run_out(ctx, &a, out, sizeof out, &r), 0);
        XLT_ASSERT_EXITED(r.status, 0);
        n = strlen(out);
        XLT_ASSERT_MSG(n >= w && !strcmp(out + n - w, want),
                       "path %d: child's cgroup line \"%s\", wanted ...%s",
                       fork_path, out, want);
        libxl_ctx_free(ctx);
    }
    XLT_ASSERT(rmdir(dir) == 0);
}

/* S8: a directory that cannot be used is ERROR_FAIL with exec_errno set,
 * and no child is left over. */
XLT_TEST(test_S8_bad_cgroup_is_error_fail_no_child, 30)
{
    int fork_path;

    for (fork_path = 0; fork_path < 2; fork_path++) {
        libxl_ctx *ctx = ctx_on_path(fork_path, NULL);
        char *argv[] = {"/bin/true", NULL};
        libxl_childproc_args a = xlt_args(argv);
        libxl_childproc_result r;

        a.cgroup = "/nonexistent/xlt-cgroup";
        XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), ERROR_FAIL);
        XLT_ASSERT_EQ(r.exec_errno, ENOENT);
        a.cgroup = "/tmp"; /* a directory, not a cgroup */
        XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), ERROR_FAIL);
        XLT_ASSERT(r.exec_errno != 0);
        XLT_ASSERT_EQ(xlt_count_children(NULL), 0);
        libxl_ctx_free(ctx);
    }
}

/* ------------------------------------------------------------------ S9 */

/* Runs argv (a group whose member writes its pid to fd 3 once it is
 * ready for the SIGTERM) asynchronously with stdout captured, waits until
 * it is ready (and, if want_state, in that state), aborts it (SIGTERM to
 * the group, then the grace) and waits for the completion. */
static void abort_when_ready(libxl_ctx *ctx, char **argv, char want_state,
                             libxl_childproc_result *r, int64_t *aborted_at)
{
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_fd fd[2];
    libxl_asyncop_how how;
    char line[64];
    int p[2], hold[2], member = 0;
    int64_t end;

    xlt_pipe(p);
    xlt_pipe(hold); /* fd 4: a read that blocks until the run is over */
    fd[0].child_fd = 3;
    fd[0].parent_fd = p[1];
    fd[1].child_fd = 4;
    fd[1].parent_fd = hold[0];
    a.fds = fd;
    a.nr_fds = 2;
    a.new_process_group = 1;
    a.kill_grace_ms = 20000;
    a.capture = LIBXL_CAPTURE_STDOUT;
    memset(&how, 0, sizeof how);
    how.u.for_event = 91;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, r, &how), 0);
    close(p[1]);
    xlt_read_line(p[0], line, sizeof line);
    close(p[0]);
    XLT_ASSERT(sscanf(line, "%d", &member) == 1 && member > 0);
    end = xlt_now_ms() + 10000;
    while (want_state && xlt_proc_state((pid_t)member) != want_state) {
        XLT_ASSERT(xlt_now_ms() < end);
        xlt_sleep_ms(5);
    }
    *aborted_at = xlt_now_ms();
    XLT_ASSERT_RC(libxl_ao_abort(ctx, &how), 0);
    XLT_ASSERT_RC(xlt_wait_for(ctx, 91), ERROR_ABORTED);
    close(hold[0]);
    close(hold[1]);
}

/* S9: after an abort's SIGTERM to the group, a member that cleans up gets
 * its grace although the leader died at once; the run completes when the
 * group is gone, without waiting out the whole grace. */
static void grace_case(libxl_sigchld_owner mode)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    libxl_childproc_hooks h;
    char *argv[] = {"/bin/sh", "-c",
                    /* (the member waits in a read, not in a child: one
                     * caught between fork and exec would lose the SIGTERM
                     * to the shell's handler there, and outlive it) */
                    "(trap 'sleep 0.5; echo cleanup done; exit 0' TERM;"
                    " echo 1 >&3; exec 3>&-; read x <&4) &"
                    " exec 3>&- 4<&-; wait",
                    NULL};
    libxl_childproc_result r;
    int64_t t0;

    memset(&h, 0, sizeof h);
    h.chldowner = mode;
    libxl_childproc_setmode(ctx, &h, NULL);
    abort_when_ready(ctx, argv, 0, &r, &t0);
    XLT_ASSERT_KILLED(r.status, SIGTERM);
    XLT_ASSERT_STREQ(r.out, "cleanup done\n");
    XLT_ASSERT_MSG(xlt_now_ms() - t0 < 15000,
                   "the grace was waited out with the group gone");
    libxl_childproc_result_dispose(&r);
    libxl_ctx_free(ctx);
}

XLT_TEST(test_S9_group_keeps_grace_after_leader_exits, 90)
{
    grace_case(libxl_sigchld_owner_libxl);
    grace_case(libxl_sigchld_owner_libxl_always_selective_reap);
}

/* S9: a stopped member is sent SIGCONT with the SIGTERM, so it acts on it
 * at once rather than waiting, stopped, for the grace's SIGKILL. */
XLT_TEST(test_S9_stopped_member_gets_sigcont, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char *argv[] = {"/bin/sh", "-c",
                    /* (it waits in a read, not in a child: one caught
                     * between fork and exec would lose the SIGTERM) */
                    "sh -c 'trap \"echo got-term; exit 0\" TERM;"
                    " echo $$ >&3; exec 3>&-; kill -STOP $$; read x <&4' &"
                    " exec 3>&- 4<&-; wait",
                    NULL};
    libxl_childproc_result r;
    int64_t t0;

    abort_when_ready(ctx, argv, 'T', &r, &t0);
    XLT_ASSERT_MSG(r.out && !strcmp(r.out, "got-term\n"),
                   "out \"%s\", leader status %#x, %lld ms after the abort",
                   r.out ? r.out : "(null)", r.status,
                   (long long)(xlt_now_ms() - t0));
    XLT_ASSERT_MSG(xlt_now_ms() - t0 < 15000, "it waited for the SIGKILL");
    libxl_childproc_result_dispose(&r);
    libxl_ctx_free(ctx);
}

/* S9: a member that ignores SIGTERM gets the whole grace, then the
 * group's SIGKILL; the leader, dead of the SIGTERM, is held unreaped
 * (a zombie) meanwhile, so the SIGKILL reaches that group only. */
XLT_TEST(test_S9_leader_held_unreaped_until_grace_sigkill, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    /* The member says it is ready once its SIGTERM is ignored. */
    char *argv[] = {"/bin/sh", "-c",
                    "sh -c 'trap \"\" TERM; echo $$ >&3; exec 3>&-;"
                    " exec sleep 30' & exec 3>&-; wait",
                    NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    libxl_asyncop_how how;
    libxl_childproc_fd fd;
    char line[64];
    int p[2], member = 0;
    int64_t t0;

    xlt_pipe(p);
    fd.child_fd = 3;
    fd.parent_fd = p[1];
    a.fds = &fd;
    a.nr_fds = 1;
    a.new_process_group = 1;
    a.kill_grace_ms = 3000;
    memset(&how, 0, sizeof how);
    how.u.for_event = 90;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, &how), 0);
    close(p[1]);
    xlt_read_line(p[0], line, sizeof line);
    close(p[0]);
    XLT_ASSERT(sscanf(line, "%d", &member) == 1 && member > 0);
    t0 = xlt_now_ms();
    XLT_ASSERT_RC(libxl_ao_abort(ctx, &how), 0);
    /* Within the grace: the leader, dead of the SIGTERM, stays a zombie
     * (the reaper passes meanwhile), the member lives. */
    while (xlt_proc_state(r.pid) != 'Z' && xlt_now_ms() - t0 < 2500)
        xlt_sleep_ms(10);
    XLT_ASSERT_EQ(xlt_proc_state(r.pid), 'Z');
    xlt_sleep_ms(300);
    XLT_ASSERT_EQ(xlt_proc_state(r.pid), 'Z');
    XLT_ASSERT(xlt_proc_state((pid_t)member) != 0 &&
               xlt_proc_state((pid_t)member) != 'Z');
    XLT_ASSERT_RC(xlt_wait_for(ctx, 90), ERROR_ABORTED);
    XLT_ASSERT_KILLED(r.status, SIGTERM);
    XLT_ASSERT(xlt_now_ms() - t0 >= 3000); /* not before the grace ended */
    {
        int64_t end = xlt_now_ms() + 5000;
        char st;

        while ((st = xlt_proc_state((pid_t)member)) != 0 && st != 'Z' &&
               xlt_now_ms() < end)
            xlt_sleep_ms(10);
        XLT_ASSERT_MSG(st == 0 || st == 'Z', "member %d survived", member);
    }
    libxl_ctx_free(ctx);
}

/* ----------------------------------------------------------------- S10 */

/* S10: a path without '/' is searched in the child's PATH (from envp or
 * env_set), not the caller's, on both paths. */
XLT_TEST(test_S10_path_searched_in_childs_env, 20)
{
    char dir[64], prog[128], pathvar[160];
    int fork_path, how;

    make_tmpdir(dir, sizeof dir);
    snprintf(prog, sizeof prog, "%s/xlt-s10-prog", dir);
    snprintf(pathvar, sizeof pathvar, "PATH=/nonexistent:%s", dir);
    write_file(prog, "#!/bin/sh\necho found-it\n", 0755);
    for (fork_path = 0; fork_path < 2; fork_path++)
        for (how = 0; how < 2; how++) {
            libxl_ctx *ctx = ctx_on_path(fork_path, NULL);
            char *argv[] = {"xlt-s10-prog", NULL};
            char *env[] = {pathvar, NULL};
            libxl_childproc_args a = xlt_args(argv);
            libxl_childproc_result r;
            char out[64];

            if (how)
                a.env_set = env;
            else
                a.envp = env;
            XLT_ASSERT_RC(run_out(ctx, &a, out, sizeof out, &r), 0);
            XLT_ASSERT_STREQ(out, "found-it\n");
            libxl_ctx_free(ctx);
        }
    /* Not in the child's PATH: ENOENT, though the caller's PATH has it. */
    {
        libxl_ctx *ctx = xlt_ctx_new(NULL);
        char *argv[] = {"sh", "-c", "exit 0", NULL};
        char *env[] = {pathvar, NULL};
        libxl_childproc_args a = xlt_args(argv);
        libxl_childproc_result r;

        a.path = "sh";
        a.envp = env;
        XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), ERROR_FAIL);
        XLT_ASSERT_EQ(r.exec_errno, ENOENT);
        libxl_ctx_free(ctx);
    }
    unlink(prog);
    rmdir(dir);
}

int main(void)
{
    static const xlt_case cases[] = {
        XLT_CASE(test_R1_argv_empty_is_inval),
        XLT_CASE(test_R1_exec_errno_with_std_fds_closed),
        XLT_CASE(test_R1_script_without_shebang_is_enoexec_on_both_paths),
        XLT_CASE(test_S0_zeroed_args_run_as_01_and_outputs_written),
        XLT_CASE(test_S1_S2_pid_at_start_and_kill),
        XLT_CASE(test_S2_kill_bad_arguments),
        XLT_CASE(test_S7_new_session_kill_reaches_group),
        XLT_CASE(test_S3_ignored_and_caught_signals_default_in_child),
        XLT_CASE(test_S3_sigpipe_ignored_in_caller_yes_head_ends),
        XLT_CASE(test_S3_no_parent_handler_runs_in_child_before_exec),
        XLT_CASE(test_S4_fd_mapping_swaps),
        XLT_CASE(test_S4_child_fd_on_a_library_fd),
        XLT_CASE(test_S4_close_other_fds_leaves_only_targets),
        XLT_CASE(test_S4_bad_fds_are_inval),
        XLT_CASE(test_S6_env_edits_on_envp),
        XLT_CASE(test_S6_env_edits_on_environ_leave_it_alone),
        XLT_CASE(test_S6_env_set_without_equals_is_inval),
        XLT_CASE(test_S10_path_searched_in_childs_env),
        XLT_CASE(test_S9_group_keeps_grace_after_leader_exits),
        XLT_CASE(test_S9_stopped_member_gets_sigcont),
        XLT_CASE(test_S9_leader_held_unreaped_until_grace_sigkill),
        XLT_CASE(test_S8_child_starts_in_cgroup),
        XLT_CASE(test_S8_bad_cgroup_is_error_fail_no_child),
        XLT_CASE(test_S5_capture_large_outputs_sync),
        XLT_CASE(test_S5_capture_max_truncates_without_blocking),
        XLT_CASE(test_S5_background_holder_completes_after_reap),
        XLT_CASE(test_S5_stdin_data_fed_then_eof),
        XLT_CASE(test_S5_async_capture_drained_by_event_wait),
        XLT_CASE(test_S5_capture_drained_by_afterpoll),
        XLT_CASE(test_S5_capture_through_osevent_hooks),
        XLT_CASE(test_S5_timeout_keeps_what_was_read),
        XLT_CASE(test_S5_cancelled_capturing_run_leaves_ctx_usable),
        XLT_CASE(test_S5_capture_conflicts_inval_and_failed_start),
    };

    return xlt_main("spawn", cases, sizeof cases / sizeof cases[0]);
}
