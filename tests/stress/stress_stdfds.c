/*
 * stress_stdfds.c - the library in a process whose fds 0, 1 or 2 are closed
 * (R1, S3, R0).  A daemon may run with its std fds closed; then every fd
 * the library opens (its wakeup fd, epoll set, pipes, pidfds, the exec
 * error pipe) lands on 0, 1 or 2, where a child's stdio dup2 can overwrite
 * it.  What must still hold: a program that cannot be executed completes
 * with ERROR_FAIL and exec_errno ENOENT (never rc 0 with status 127), and
 * writes nothing into the child's stdout or stderr; a program that runs
 * reports its real exit status, and its stdin/stdout/stderr are the fds
 * the caller named; a fork child's death is reported with its status.
 *
 * Each scenario runs in a process of its own, forked from the
 * single-threaded test process before any library call: it closes its set
 * of std fds, either before libxl_ctx_alloc (the library's own fds take the
 * low numbers) or after a warm-up (the per-run dups, pipes and pidfds take
 * them), and does the
 * checks on the posix_spawn path and on the fork_replacement path.  It
 * writes nothing to stdout/stderr (whatever sits on 1 and 2 is not
 * theirs); its counts come back through a pipe, and a failed check is
 * reported by the harness's report pipe as in any test.
 */
#define _GNU_SOURCE
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* What a scenario did, sent back to the test process. */
typedef struct {
    long enoent, runs, forks, low_fds;
} fd_counts;

static pid_t fork_hook(void *user)
{
    (void)user;
    return fork();
}

/* An fd at 10 or above, so that 0-2 stay free (a pipe made while 0-2
 * are closed would land there, and 0 means "inherit" in the args). */
static int high(int fd)
{
    int h = fcntl(fd, F_DUPFD_CLOEXEC, 10);

    XLT_ASSERT_MSG(h >= 10, "F_DUPFD: %s", strerror(errno));
    close(fd);
    return h;
}

static void high_pipe(int p[2])
{
    xlt_pipe(p);
    p[0] = high(p[0]);
    p[1] = high(p[1]);
}

/* Reads what the (ended) child left in the pipe whose write end the
 * caller has closed. */
static size_t drain(int rfd, char *buf, size_t size)
{
    size_t n = xlt_read_all(rfd, buf, size);

    close(rfd);
    return n;
}

/* A program that is not there, with the child's stdout and stderr on
 * pipes (the dup2s that would overwrite an exec-error pipe sitting on 1 or
 * 2), by path and by PATH search: ERROR_FAIL, exec_errno ENOENT, nothing
 * written into either pipe. */
static void check_enoent(libxl_ctx *ctx, const char *path, bool posix_spawn,
                         const char *how)
{
    char *argv[] = {(char *)path, NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    char out[256], err[256];
    int po[2], pe[2], rc;
    size_t nout, nerr;

    high_pipe(po);
    high_pipe(pe);
    a.stdout_fd = po[1];
    a.stderr_fd = pe[1];
    memset(&r, 0, sizeof r);
    rc = xlt_childproc_run(ctx, &a, &r, NULL);
    close(po[1]);
    close(pe[1]);
    nout = drain(po[0], out, sizeof out);
    nerr = drain(pe[0], err, sizeof err);
    if (posix_spawn && getenv("XLT_UNDER_VALGRIND")) {
        /* Valgrind runs glibc's posix_spawn child without CLONE_VM, so the
         * exec error never reaches the parent (a tool limit, as in
         * test_run): the child exits with a failure code instead (127
         * from glibc; 1 was seen under drd with fds 0-2 closed).  The
         * fork_replacement path is checked in full. */
        XLT_ASSERT_MSG(
            (rc == ERROR_FAIL && r.exec_errno == ENOENT) ||
                (rc == 0 && WIFEXITED(r.status) && WEXITSTATUS(r.status) != 0),
            "%s: run of missing %s gave rc %d exec_errno %d"
            " status %#x",
            how, path, rc, r.exec_errno, r.status);
    } else {
        XLT_ASSERT_MSG(rc == ERROR_FAIL && r.exec_errno == ENOENT,
                       "%s: run of missing %s gave rc %d (%s) exec_errno %d"
                       " status %#x, wanted ERROR_FAIL with ENOENT",
                       how, path, rc, libxl_strerror(rc), r.exec_errno,
                       r.status);
    }
    XLT_ASSERT_MSG(nout == 0 && nerr == 0,
                   "%s: run of missing %s wrote %zu bytes to the child's"
                   " stdout and %zu to its stderr (the exec error went to"
                   " the child's stdio)",
                   how, path, nout, nerr);
}

/* A program that runs: stdin from a pipe ("<code>\n"), echoes it to
 * stdout and "e<code>" to stderr, exits with it. */
static void check_run(libxl_ctx *ctx, int code, const char *how)
{
    char *argv[] = {"/bin/sh", "-c",
                    "read x; echo \"o$x\"; echo \"e$x\" >&2;"
                    " exit $x",
                    NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    char in[16], out[64], err[64], want[32];
    int pi[2], po[2], pe[2], rc, n;

    high_pipe(pi);
    high_pipe(po);
    high_pipe(pe);
    n = snprintf(in, sizeof in, "%d\n", code);
    XLT_ASSERT_EQ(write(pi[1], in, (size_t)n), n);
    close(pi[1]);
    a.stdin_fd = pi[0];
    a.stdout_fd = po[1];
    a.stderr_fd = pe[1];
    rc = xlt_childproc_run(ctx, &a, &r, NULL);
    close(pi[0]);
    close(po[1]);
    close(pe[1]);
    drain(po[0], out, sizeof out);
    drain(pe[0], err, sizeof err);
    XLT_ASSERT_MSG(rc == 0 && r.exec_errno == 0 && WIFEXITED(r.status) &&
                       WEXITSTATUS(r.status) == code,
                   "%s: run exiting %d gave rc %d (%s) exec_errno %d status"
                   " %#x",
                   how, code, rc, libxl_strerror(rc), r.exec_errno, r.status);
    snprintf(want, sizeof want, "o%d\n", code);
    XLT_ASSERT_MSG(strcmp(out, want) == 0, "%s: child's stdout \"%s\"", how,
                   out);
    snprintf(want, sizeof want, "e%d\n", code);
    XLT_ASSERT_MSG(strcmp(err, want) == 0, "%s: child's stderr \"%s\"", how,
                   err);
}

static int deaths, death_status;

static void death_cb(libxl_ctx *ctx, pid_t pid, int status, void *user)
{
    (void)ctx;
    (void)pid;
    (void)user;
    death_status = status;
    __atomic_add_fetch(&deaths, 1, __ATOMIC_SEQ_CST);
}

static void check_fork(libxl_ctx *ctx, int code, const char *how)
{
    pid_t pid;

    deaths = 0;
    pid = xlt_childproc_fork(ctx, death_cb, NULL);
    XLT_ASSERT_MSG(pid >= 0, "%s: libxl_childproc_fork gave %d", how, (int)pid);
    if (pid == 0)
        xlt_child_exit(code);
    xlt_pump_until(ctx, &deaths, 1, 30000);
    xlt_pump_for(ctx, 20);
    XLT_ASSERT_EQ(deaths, 1);
    XLT_ASSERT_MSG(WIFEXITED(death_status) && WEXITSTATUS(death_status) == code,
                   "%s: fork child exiting %d reported %#x", how, code,
                   death_status);
}

/* The library's fds that sit on 0-2 (for the COUNTS line: proves the
 * scenario put something of the library's there). */
static long low_fds_taken(void)
{
    long n = 0;
    int fd;

    for (fd = 0; fd < 3; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

static void scenario(unsigned closed, bool before_alloc, int rounds,
                     fd_counts *c)
{
    libxl_childproc_hooks h;
    xlt_logger *lg = xlt_logger_new();
    libxl_ctx *ctx[2];
    int fd, i, k;

    if (before_alloc)
        for (fd = 0; fd < 3; fd++)
            if (closed & (1u << fd))
                close(fd);
    ctx[0] = xlt_ctx_new(&lg->lg); /* posix_spawn */
    ctx[1] = xlt_ctx_new(&lg->lg); /* fork_replacement */
    memset(&h, 0, sizeof h);
    h.chldowner = libxl_sigchld_owner_libxl;
    h.fork_replacement = fork_hook;
    libxl_childproc_setmode(ctx[1], &h, NULL);
    if (!before_alloc) {
        /* Warm up with the std fds open, so that what the library keeps
         * (its reaper's fds) is above 2, and what it opens per run (dups,
         * the exec error pipe, pidfds) lands on the closed numbers. */
        for (k = 0; k < 2; k++) {
            check_run(ctx[k], 1, "warm-up");
            check_fork(ctx[k], 2, "warm-up");
        }
        for (fd = 0; fd < 3; fd++)
            if (closed & (1u << fd))
                close(fd);
    }

    for (i = 0; i < rounds; i++) {
        for (k = 0; k < 2; k++) {
            char how[96];
            snprintf(how, sizeof how, "fds%s%s%s closed %s ctx_alloc, %s path",
                     closed & 1 ? " 0" : "", closed & 2 ? " 1" : "",
                     closed & 4 ? " 2" : "", before_alloc ? "before" : "after",
                     k ? "fork_replacement" : "posix_spawn");
            check_enoent(ctx[k], "/nonexistent/xlchild-no-such-program", k == 0,
                         how);
            check_enoent(ctx[k], "xlchild-no-such-program", k == 0, how);
            c->enoent += 2;
            check_run(ctx[k], (i * 2 + k) % 100 + 1, how);
            c->runs++;
            check_fork(ctx[k], (i + k) % 50 + 3, how);
            c->forks++;
        }
    }
    c->low_fds = low_fds_taken();
    XLT_ASSERT_RC(libxl_ctx_free(ctx[1]), 0);
    XLT_ASSERT_RC(libxl_ctx_free(ctx[0]), 0);
    XLT_ASSERT_MSG(xlt_logger_count(lg, LIBXL_LOG_ERROR, NULL) == 0 &&
                       xlt_logger_count(lg, LIBXL_LOG_CRITICAL, NULL) == 0,
                   "the library logged errors:\n%s", lg->text);
    xls_assert_no_zombies("std fds closed");
}

XLT_TEST(test_S3_R1_std_fds_closed_exec_errno_and_statuses, 300)
{
    /* Every nonempty subset of {0, 1, 2}. */
    int rounds = (int)xls_scale(20, 3);
    fd_counts total = {0, 0, 0, 0};
    unsigned closed;
    int before, nscen = 0;

    for (closed = 1; closed < 8; closed++) {
        for (before = 1; before >= 0; before--) {
            fd_counts c = {0, 0, 0, 0};
            int p[2], st = 0;
            pid_t pid;

            xlt_pipe(p);
            fflush(NULL);
            pid = fork();
            XLT_ASSERT(pid >= 0);
            if (pid == 0) {
                int w = high(p[1]);
                close(p[0]);
                scenario(closed, before, rounds, &c);
                XLT_ASSERT_EQ(write(w, &c, sizeof c), (ssize_t)sizeof c);
                _exit(0);
            }
            close(p[1]);
            /* The scenario first, then what it wrote (not "until EOF": a
             * child it left behind may hold the pipe open). */
            XLT_ASSERT_EQ(waitpid(pid, &st, 0), pid);
            XLT_ASSERT_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                           "scenario (closed mask %u, %s ctx_alloc) ended"
                           " with status %#x",
                           closed, before ? "before" : "after", st);
            fcntl(p[0], F_SETFL, O_NONBLOCK);
            XLT_ASSERT_EQ(read(p[0], &c, sizeof c), (ssize_t)sizeof c);
            close(p[0]);
            xls_report("std fds closed",
                       "closed=%s%s%s %s_alloc enoent_checked=%ld runs=%ld"
                       " forks=%ld library_fds_on_0_2=%ld",
                       closed & 1 ? "0" : "", closed & 2 ? "1" : "",
                       closed & 4 ? "2" : "", before ? "before" : "after",
                       c.enoent, c.runs, c.forks, c.low_fds);
            total.enoent += c.enoent;
            total.runs += c.runs;
            total.forks += c.forks;
            nscen++;
        }
    }
    xls_report("std fds closed total",
               "scenarios=%d enoent_checked=%ld runs=%ld forks=%ld wrong=0",
               nscen, total.enoent, total.runs, total.forks);
}

int main(void)
{
    static const xlt_case cases[] = {
        XLT_CASE(test_S3_R1_std_fds_closed_exec_errno_and_statuses),
    };
    return xlt_main("stress_stdfds", cases, sizeof cases / sizeof cases[0]);
}
