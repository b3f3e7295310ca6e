/*
 * stress_limits.c - resources exhausted for real, not simulated: the
 * process's fd table (RLIMIT_NOFILE) and its user's process count
 * (RLIMIT_NPROC).
 *
 * What it proves:
 *  - With the fd table full, every call that needs an fd returns its
 *    documented error with a log line (ctx_alloc: ERROR_FAIL for its
 *    eventfd; a run whose stdout must be dup'd: ERROR_FAIL with exec_errno
 *    EMFILE), and children started meanwhile, which get no pidfd, are
 *    still reaped and reported exactly once (the per-pid fallback); with
 *    a few fds free, every mix of runs and forks completes; once the fds
 *    are freed, ctxs and pidfds work again and the library holds no fd it
 *    should not.  Also from a fresh process whose very first ctx_alloc
 *    meets a full table.
 *  - With the user's process count at RLIMIT_NPROC (as an unprivileged
 *    user: root ignores the limit), runs give ERROR_FAIL with exec_errno
 *    EAGAIN (R1), forks a negative ERROR_* with errno EAGAIN (R2), a
 *    process that has no reaper yet cannot start one and says so
 *    (ERROR_FAIL, logged), all logged; a storm of runs and forks while
 *    the pressure comes and goes reports every operation exactly once;
 *    and when the pressure is lifted everything works again, also the
 *    process that could not start its reaper.
 */
#define _GNU_SOURCE
#include "stress.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

/* Whether this kernel (and valgrind, if under it) has pidfd_open. */
static int have_pidfd(void)
{
    int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);

    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

/* pidfds this process holds (the library's, since the test opens none). */
static int count_pidfds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    XLT_ASSERT(d != NULL);
    while ((e = readdir(d)) != NULL) {
        char path[300], target[64];
        ssize_t r;

        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        r = readlink(path, target, sizeof target - 1);
        if (r <= 0)
            continue;
        target[r] = 0;
        n += strcmp(target, "anon_inode:[pidfd]") == 0;
    }
    closedir(d);
    return n;
}

/* Fills the fd table: dups until EMFILE; returns how many. */
static int fill_fds(int *fds, int max)
{
    int n = 0, fd;

    while (n < max && (fd = fcntl(2, F_DUPFD_CLOEXEC, 3)) >= 0)
        fds[n++] = fd;
    XLT_ASSERT_MSG(n < max, "fd table not full after %d dups", n);
    XLT_ASSERT_EQ(errno, EMFILE);
    return n;
}

static void set_nofile(rlim_t soft)
{
    struct rlimit rl;

    XLT_ASSERT(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    rl.rlim_cur = soft;
    XLT_ASSERT(setrlimit(RLIMIT_NOFILE, &rl) == 0);
}

/* An operation of a mix: its token is the event's for_user or the death
 * callback's user pointer. */
typedef struct {
    xls_ledger *ledger;
    libxl_childproc_result *res; /* one per token */
    int *code;                   /* the exit code each was given */
    int *done_rc;
    long ok, failed_eagain, failed_other, not_started;
} mix;

static mix *cur_mix;

static void mix_death(libxl_ctx *ctx, pid_t pid, int status, void *user)
{
    long token = (long)(intptr_t)user;

    (void)ctx;
    (void)pid;
    xls_ledger_reported(cur_mix->ledger, token, status, 0);
}

static mix *mix_new(long n)
{
    mix *x = calloc(1, sizeof *x);

    XLT_ASSERT(x != NULL);
    x->ledger = xls_ledger_new(n);
    x->res = calloc((size_t)n, sizeof *x->res);
    x->code = calloc((size_t)n, sizeof *x->code);
    x->done_rc = calloc((size_t)n, sizeof *x->done_rc);
    XLT_ASSERT(x->res && x->code && x->done_rc);
    return x;
}

static void mix_free(mix *x)
{
    xls_ledger_free(x->ledger);
    free(x->res);
    free(x->code);
    free(x->done_rc);
    free(x);
}

/* Starts n operations (every fourth a fork, the rest runs with event
 * completions) as fast as it can, whatever fails; logged_before is the
 * WARN count before, to prove that failures were logged. */
static void mix_start(libxl_ctx *ctx, mix *x, xlt_logger *lg, long first,
                      long n)
{
    long i;

    cur_mix = x;
    for (i = first; i < first + n; i++) {
        int before = xlt_logger_warnings(lg);

        x->code[i] = (int)(i % 100);
        if (i % 4 == 3) {
            pid_t pid;
            errno = 0;
            pid = libxl_childproc_fork(ctx, mix_death, (void *)(intptr_t)i);
            if (pid == 0)
                xlt_child_exit(x->code[i]);
            if (pid > 0) {
                xls_ledger_started(x->ledger, i, pid,
                                   W_EXITCODE(x->code[i], 0));
                continue;
            }
            XLT_ASSERT_RC(pid, ERROR_FAIL);
            XLT_ASSERT_MSG(errno == EAGAIN || errno == ENOMEM,
                           "fork %ld failed, errno %d", i, errno);
            XLT_ASSERT_MSG(xlt_logger_warnings(lg) > before,
                           "fork %ld failed without a log line", i);
            x->not_started++;
            if (errno == EAGAIN)
                x->failed_eagain++;
            else
                x->failed_other++;
        } else {
            char script[32];
            char *argv[] = {"/bin/sh", "-c", script, NULL};
            libxl_childproc_args a = xlt_args(argv);
            libxl_asyncop_how how;
            int rc;

            snprintf(script, sizeof script, "exit %d", x->code[i]);
            memset(&how, 0, sizeof how);
            how.u.for_event = (uint64_t)i;
            rc = libxl_childproc_run(ctx, &a, &x->res[i], &how);
            XLT_ASSERT_RC(rc, 0); /* a spawn failure comes as completion */
            /* want -2: success or failure is decided by the completion */
            xls_ledger_started(x->ledger, i, 0, -2);
            x->done_rc[i] = before; /* WARN count, until it completes */
        }
    }
}

/* Collects every completion of the mix and checks each. */
static void mix_finish(libxl_ctx *ctx, mix *x, xlt_logger *lg, long n,
                       const char *what)
{
    long i, started = 0, got = 0;
    int64_t deadline = xlt_now_ms() + 60000;

    for (i = 0; i < n; i++)
        started += x->ledger->slot[i].started;
    while (xls_ledger_count(x->ledger) < started) {
        libxl_event *ev = NULL;
        int rc = libxl_event_check(ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL);

        XLT_ASSERT_MSG(xlt_now_ms() < deadline,
                       "%s: %ld of %ld operations reported after 60 s", what,
                       xls_ledger_count(x->ledger), started);
        if (rc == ERROR_NOT_READY) {
            xlt_sleep_ms(2);
            continue;
        }
        XLT_ASSERT_RC(rc, 0);
        i = (long)ev->for_user;
        XLT_ASSERT(i >= 0 && i < n);
        {
            int crc = ev->u.operation_complete.rc;
            libxl_childproc_result *r = &x->res[i];

            xls_ledger_reported(x->ledger, i, r->status, crc);
            if (crc == 0) {
                XLT_ASSERT_EXITED(r->status, x->code[i]);
                x->ok++;
            } else {
                XLT_ASSERT_RC(crc, ERROR_FAIL);
                XLT_ASSERT_MSG(r->exec_errno == EAGAIN ||
                                   r->exec_errno == ENOMEM,
                               "%s: run %ld failed with exec_errno %d", what, i,
                               r->exec_errno);
                XLT_ASSERT_MSG(xlt_logger_warnings(lg) > x->done_rc[i],
                               "%s: run %ld failed without a log line", what,
                               i);
                if (r->exec_errno == EAGAIN)
                    x->failed_eagain++;
                else
                    x->failed_other++;
            }
        }
        got++;
        libxl_event_free(ctx, ev);
    }
    xlt_pump_for(ctx, 20); /* a second report would show here */
    for (i = 0; i < n; i++) {
        xls_slot *s = &x->ledger->slot[i];
        if (s->started && i % 4 == 3 && s->reports == 1)
            x->ok++; /* forks: reported with the wanted status */
    }
    xls_ledger_check(x->ledger, what);
    xls_report(what,
               "operations=%ld ok=%ld failed_eagain=%ld"
               " failed_other=%ld fork_refused=%ld events=%ld",
               n, x->ok, x->failed_eagain, x->failed_other, x->not_started,
               got);
}

static int run_sh(libxl_ctx *ctx, const char *script, libxl_childproc_result *r)
{
    char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
    libxl_childproc_args a = xlt_args(argv);

    memset(r, 0, sizeof *r);
    return libxl_childproc_run(ctx, &a, r, NULL);
}

static int death_count, death_status;
static void count_death(libxl_ctx *ctx, pid_t pid, int status, void *user)
{
    (void)ctx, (void)pid, (void)user;
    death_status = status;
    __atomic_add_fetch(&death_count, 1, __ATOMIC_SEQ_CST);
}

/* A fork that must work: the child exits code, its death is awaited. */
static void fork_ok(libxl_ctx *ctx, int code)
{
    pid_t pid;
    int want = death_count + 1;

    pid = libxl_childproc_fork(ctx, count_death, NULL);
    if (pid == 0)
        xlt_child_exit(code);
    XLT_ASSERT_MSG(pid > 0, "libxl_childproc_fork gave %d (errno %d)", (int)pid,
                   errno);
    xlt_pump_until(ctx, &death_count, want, 20000);
    XLT_ASSERT_EXITED(death_status, code);
}

/* ------------------------------------------------------ RLIMIT_NOFILE */

/* The table fills up under a working ctx: runs without pidfds, errors for
 * what needs an fd, and recovery. */
XLT_TEST(limits_nofile, 300)
{
    xlt_logger *lg = xlt_logger_new();
    libxl_ctx *ctx = xlt_ctx_new(&lg->lg), *c2 = NULL;
    libxl_childproc_hooks h;
    libxl_childproc_result r;
    static int fds[70000];
    int nfill, nfilled, fds_before, before, p[2], gate, i, k;
    long rounds = xls_scale(20, 4), mixes = 0;
    char out[64];

    /* Selective: every child is found by its pidfd, or by pid without. */
    memset(&h, 0, sizeof h);
    h.chldowner = libxl_sigchld_owner_libxl_always_selective_reap;
    libxl_childproc_setmode(ctx, &h, NULL);
    XLT_ASSERT_RC(run_sh(ctx, "exit 0", &r), 0); /* reaper, epoll */
    fds_before = xls_count_fds();
    set_nofile(256);

    nfilled = nfill = fill_fds(fds, (int)(sizeof fds / sizeof fds[0]));

    /* ctx_alloc needs an eventfd. */
    before = xlt_logger_warnings(lg);
    XLT_ASSERT_RC(libxl_ctx_alloc(&c2, LIBXL_VERSION, 0, &lg->lg), ERROR_FAIL);
    XLT_ASSERT(c2 == NULL);
    XLT_ASSERT_MSG(xlt_logger_warnings(lg) > before,
                   "ctx_alloc failure not logged");

    /* A run needs no fd of its own: without a pidfd it is found by pid. */
    XLT_ASSERT_RC(run_sh(ctx, "exit 7", &r), 0);
    XLT_ASSERT_EXITED(r.status, 7);

    /* A run whose stdout must be dup'd cannot start. */
    {
        char *argv[] = {"/bin/sh", "-c", "echo no", NULL};
        libxl_childproc_args a = xlt_args(argv);
        a.stdout_fd = 1;
        memset(&r, 0, sizeof r);
        before = xlt_logger_warnings(lg);
        XLT_ASSERT_RC(libxl_childproc_run(ctx, &a, &r, NULL), ERROR_FAIL);
        XLT_ASSERT_EQ(r.exec_errno, EMFILE);
        XLT_ASSERT_MSG(xlt_logger_warnings(lg) > before, "EMFILE not logged");
    }

    /* Forks, and a child running while the table is full: no pidfd for
     * any of them, all reaped.  (Counting fds needs one: opendir.) */
    fork_ok(ctx, 3);
    {
        char *argv[] = {"/bin/sh", "-c", "sleep 0.3", NULL};
        libxl_childproc_result sr;
        xlt_start_event_run(ctx, argv, 77, &sr);
        close(fds[--nfill]);
        XLT_ASSERT_EQ(count_pidfds(), 0);
        XLT_ASSERT_EQ(xls_count_fds(), fds_before + nfill);
        fds[nfill++] = fcntl(2, F_DUPFD_CLOEXEC, 3);
        XLT_ASSERT(fds[nfill - 1] >= 0);
        XLT_ASSERT_RC(xlt_wait_for(ctx, 77), 0);
        XLT_ASSERT_EXITED(sr.status, 0);
    }

    /* With 0..3 fds free, mixes of runs and forks all complete. */
    for (i = 0; i < rounds; i++) {
        int free_slots = i % 4;
        mix *x = mix_new(8);
        char what[64];

        for (k = 0; k < free_slots; k++)
            close(fds[--nfill]);
        mix_start(ctx, x, lg, 0, 8);
        snprintf(what, sizeof what, "nofile-mix round=%d free=%d", i,
                 free_slots);
        mix_finish(ctx, x, lg, 8, what);
        XLT_ASSERT_EQ(x->failed_other + x->failed_eagain, 0);
        mix_free(x);
        mixes++;
        while (nfill < (int)(sizeof fds / sizeof fds[0])) {
            int fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
            if (fd < 0)
                break;
            fds[nfill++] = fd;
        }
    }
    close(fds[--nfill]); /* the check reads /proc */
    xls_assert_no_zombies("nofile");

    /* Lifted: new ctxs, dup'd stdout, pidfds again; no fd left over. */
    while (nfill > 0)
        close(fds[--nfill]);
    set_nofile(1024);
    XLT_ASSERT_EQ(xls_count_fds(), fds_before);
    c2 = xlt_ctx_new(&lg->lg);
    {
        char *argv[] = {"/bin/sh", "-c", "echo yes", NULL};
        libxl_childproc_args a = xlt_args(argv);
        xlt_pipe(p);
        a.stdout_fd = p[1];
        XLT_ASSERT_RC(libxl_childproc_run(c2, &a, &r, NULL), 0);
        close(p[1]);
        xlt_read_all(p[0], out, sizeof out);
        close(p[0]);
        XLT_ASSERT_STREQ(out, "yes\n");
    }
    {
        libxl_childproc_result gr;
        xlt_start_gated(ctx, 78, &gate, &gr);
        /* (Valgrind 3.19 has no pidfd_open: the library then runs its
         * per-pid fallback, and there is no pidfd to see.) */
        XLT_ASSERT_EQ(count_pidfds(), have_pidfd() ? 1 : 0);
        close(gate);
        XLT_ASSERT_RC(xlt_wait_for(ctx, 78), 0);
    }
    fork_ok(c2, 9);
    XLT_ASSERT_RC(libxl_ctx_free(c2), 0);
    XLT_ASSERT_RC(libxl_ctx_free(ctx), 0);
    xls_assert_no_zombies("nofile after");
    XLT_ASSERT_EQ(count_pidfds(), 0);
    xls_report("nofile",
               "filled=%d fds, ctx_alloc refused, dup refused"
               " (EMFILE), mixes=%ld of 8 ops, recovered",
               nfilled, mixes);
}

/* The very first ctx_alloc of a process meets a full table: the library's
 * one-time set-up (pidfd probe, reaper, epoll) happens short of fds. */
XLT_TEST(limits_nofile_first, 120)
{
    xlt_logger *lg = xlt_logger_new();
    libxl_ctx *ctx = NULL;
    libxl_childproc_result r;
    static int fds[4096];
    int nfill, before;

    set_nofile(128);
    nfill = fill_fds(fds, (int)(sizeof fds / sizeof fds[0]));
    before = xlt_logger_warnings(lg);
    XLT_ASSERT_RC(libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, &lg->lg), ERROR_FAIL);
    XLT_ASSERT_MSG(xlt_logger_warnings(lg) > before,
                   "ctx_alloc failure not logged");
    XLT_ASSERT(ctx == NULL);

    close(fds[--nfill]); /* exactly the eventfd's */
    ctx = xlt_ctx_new(&lg->lg);
    XLT_ASSERT_RC(run_sh(ctx, "exit 5", &r), 0);
    XLT_ASSERT_EXITED(r.status, 5);
    fork_ok(ctx, 6);
    {
        mix *x = mix_new(16);
        mix_start(ctx, x, lg, 0, 16);
        mix_finish(ctx, x, lg, 16, "nofile-first-mix");
        XLT_ASSERT_EQ(x->failed_other + x->failed_eagain, 0);
        mix_free(x);
    }
    while (nfill > 0)
        close(fds[--nfill]);
    XLT_ASSERT_RC(run_sh(ctx, "exit 7", &r), 0);
    XLT_ASSERT_EXITED(r.status, 7);
    XLT_ASSERT_RC(libxl_ctx_free(ctx), 0);
    xls_assert_no_zombies("nofile-first");
    xls_report("nofile-first",
               "first ctx_alloc refused and logged,"
               " then 1 run, 1 fork, 16 mixed ops with no fd to spare");
}

/* ------------------------------------------------------ RLIMIT_NPROC */

/* Becomes an unprivileged user no other process runs as (so that other
 * tests cannot take or free this user's process slots); false if this
 * cannot be done here. */
static bool drop_privileges(void)
{
    uid_t uid = (uid_t)(40000 + getpid() % 20000);

    if (geteuid() != 0)
        return true; /* already unprivileged: the limit applies */
    if (setgroups(0, NULL) != 0 || setgid((gid_t)uid) != 0 ||
        setuid(uid) != 0) {
        fprintf(stderr, "skipped: cannot become uid %d: %s\n", (int)uid,
                strerror(errno));
        return false;
    }
    return getuid() == uid && geteuid() == uid;
}

static void set_nproc(rlim_t n)
{
    struct rlimit rl = {n, n};

    XLT_ASSERT_MSG(setrlimit(RLIMIT_NPROC, &rl) == 0, "setrlimit: %s",
                   strerror(errno));
}

/* Fork fillers (sleeping children) until fork fails with EAGAIN; their
 * pids go to pids[]. */
static int fill_procs(pid_t *pids, int max)
{
    int n = 0;

    for (;;) {
        pid_t pid = fork();
        if (pid == 0) {
            for (;;)
                pause();
        }
        if (pid < 0) {
            XLT_ASSERT_MSG(errno == EAGAIN, "filler fork: %s", strerror(errno));
            return n;
        }
        XLT_ASSERT_MSG(n < max, "more than %d fillers: limit not applied", max);
        pids[n++] = pid;
    }
}

static void kill_procs(pid_t *pids, int *n, int keep)
{
    while (*n > keep) {
        pid_t pid = pids[--*n];
        XLT_ASSERT(kill(pid, SIGKILL) == 0);
        XLT_ASSERT(waitpid(pid, NULL, 0) == pid);
    }
}

/* The helper process that has no reaper when the pressure starts: told
 * "1", it tries a run and a fork (both must fail: no thread can be
 * started) and answers; told "2", it tries again (must work) and exits. */
static void helper_main(int cmd, int ans)
{
    xlt_logger *lg = xlt_logger_new();
    libxl_ctx *ctx;
    libxl_childproc_result r;
    char c;
    int rc, before, res[4];
    pid_t pid;

    struct rlimit rl, lowered;

    XLT_ASSERT(read(cmd, &c, 1) == 1 && c == '1');
    /* Limits are per process: this one was forked before the test lowered
     * its own; its soft limit goes below the user's count now (the hard
     * one stays, so that it can be raised back). */
    XLT_ASSERT(getrlimit(RLIMIT_NPROC, &rl) == 0);
    lowered = rl;
    lowered.rlim_cur = 1;
    XLT_ASSERT(setrlimit(RLIMIT_NPROC, &lowered) == 0);
    ctx = xlt_ctx_new(&lg->lg); /* needs no thread, no process */
    before = xlt_logger_warnings(lg);
    rc = run_sh(ctx, "exit 0", &r);
    res[0] = rc;
    res[1] = xlt_logger_warnings(lg) > before &&
             xlt_logger_count(lg, LIBXL_LOG_ERROR, "reaper") > 0;
    errno = 0;
    pid = libxl_childproc_fork(ctx, count_death, NULL);
    if (pid == 0)
        xlt_child_exit(0);
    res[2] = (int)pid;
    res[3] = errno;
    XLT_ASSERT(write(ans, res, sizeof res) == sizeof res);

    XLT_ASSERT(read(cmd, &c, 1) == 1 && c == '2');
    XLT_ASSERT(setrlimit(RLIMIT_NPROC, &rl) == 0);
    res[0] = run_sh(ctx, "exit 4", &r);
    res[1] = res[0] == 0 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 4;
    pid = libxl_childproc_fork(ctx, count_death, NULL);
    if (pid == 0)
        xlt_child_exit(5);
    res[2] = pid > 0;
    if (pid > 0) {
        xlt_pump_until(ctx, &death_count, 1, 20000);
        res[3] = death_status;
    }
    XLT_ASSERT_RC(libxl_ctx_free(ctx), 0);
    XLT_ASSERT(write(ans, res, sizeof res) == sizeof res);
}

XLT_TEST(limits_nproc, 300)
{
    xlt_logger *lg;
    libxl_ctx *ctx;
    libxl_childproc_hooks h;
    libxl_childproc_result r;
    pid_t fillers[512], helper;
    int nf, cmd[2], ans[2], res[4], before, st, zombies;
    long storm = xls_scale(400, 60), i;
    mix *x;

    if (xlt_skip_under_valgrind("valgrind 3.19 (drd) asserts in its own"
                                " thread bookkeeping when pthread_create"
                                " fails with EAGAIN"))
        return;
    lg = xlt_logger_new();
    if (!drop_privileges())
        return;

    /* The helper, forked before any pressure; it never forks again until
     * it is told to run. */
    xlt_pipe(cmd);
    xlt_pipe(ans);
    helper = fork();
    XLT_ASSERT(helper >= 0);
    if (helper == 0) {
        close(cmd[1]);
        close(ans[0]);
        helper_main(cmd[0], ans[1]);
        _exit(0);
    }
    close(cmd[0]);
    close(ans[1]);

    /* Selective: the fillers and the helper are this test's own children,
     * to waitpid itself. */
    ctx = xlt_ctx_new(&lg->lg);
    memset(&h, 0, sizeof h);
    h.chldowner = libxl_sigchld_owner_libxl_always_selective_reap;
    libxl_childproc_setmode(ctx, &h, NULL);
    XLT_ASSERT_RC(run_sh(ctx, "exit 0", &r), 0); /* the reaper runs */

    /* Our tasks and the helper, plus room for a few fillers. */
    set_nproc((rlim_t)(xlt_count_tasks() + 1 + 8));
    nf = fill_procs(fillers, 512);
    XLT_ASSERT_MSG(nf > 0, "no filler could be forked");

    /* Full pressure: runs and forks fail, documented and logged. */
    before = xlt_logger_warnings(lg);
    XLT_ASSERT_RC(run_sh(ctx, "exit 0", &r), ERROR_FAIL);
    XLT_ASSERT_EQ(r.exec_errno, EAGAIN);
    XLT_ASSERT_MSG(xlt_logger_warnings(lg) > before, "run EAGAIN not logged");
    before = xlt_logger_warnings(lg);
    errno = 0;
    {
        pid_t pid = libxl_childproc_fork(ctx, count_death, NULL);
        if (pid == 0)
            xlt_child_exit(0);
        XLT_ASSERT_RC(pid, ERROR_FAIL);
        XLT_ASSERT_EQ(errno, EAGAIN);
    }
    XLT_ASSERT_MSG(xlt_logger_warnings(lg) > before, "fork EAGAIN not logged");
    {
        char *argv[] = {"/bin/sh", "-c", "exit 0", NULL};
        libxl_childproc_args a = xlt_args(argv);
        memset(&r, 0, sizeof r);
        before = xlt_logger_warnings(lg);
        XLT_ASSERT_RC(libxl_childproc_run(
                          ctx, &a, &r, &(libxl_asyncop_how){.u.for_event = 99}),
                      0);
        XLT_ASSERT_RC(xlt_wait_for(ctx, 99), ERROR_FAIL);
        XLT_ASSERT_EQ(r.exec_errno, EAGAIN);
        XLT_ASSERT_MSG(xlt_logger_warnings(lg) > before,
                       "async EAGAIN not logged");
    }

    /* The helper has no reaper, and no thread can be made for one. */
    XLT_ASSERT(write(cmd[1], "1", 1) == 1);
    XLT_ASSERT(read(ans[0], res, sizeof res) == sizeof res);
    XLT_ASSERT_MSG(res[0] == ERROR_FAIL, "helper: run without a reaper gave %d",
                   res[0]);
    XLT_ASSERT_MSG(res[1], "helper: reaper failure not logged");
    XLT_ASSERT_MSG(res[2] == ERROR_FAIL && res[3] == EAGAIN,
                   "helper: fork gave %d errno %d", res[2], res[3]);

    /* A storm while the pressure comes and goes: every few operations one
     * filler more dies or is born again. */
    x = mix_new(storm);
    for (i = 0; i < storm; i += 10) {
        long n = storm - i < 10 ? storm - i : 10;
        if ((i / 10) % 3 == 0)
            kill_procs(fillers, &nf, nf > 2 ? nf - 2 : 0);
        else if (nf < 512) {
            pid_t pid = fork();
            if (pid == 0)
                for (;;)
                    pause();
            if (pid > 0)
                fillers[nf++] = pid;
        }
        mix_start(ctx, x, lg, i, n);
    }
    mix_finish(ctx, x, lg, storm, "nproc-storm");
    XLT_ASSERT_MSG(x->failed_eagain > 0, "the storm never met the limit");
    XLT_ASSERT_MSG(x->ok > 0, "the storm never got a child through");
    mix_free(x);

    /* Lifted: kill the fillers; everything works again. */
    kill_procs(fillers, &nf, 0);
    XLT_ASSERT_RC(run_sh(ctx, "exit 7", &r), 0);
    XLT_ASSERT_EXITED(r.status, 7);
    fork_ok(ctx, 8);
    XLT_ASSERT(write(cmd[1], "2", 1) == 1);
    XLT_ASSERT(read(ans[0], res, sizeof res) == sizeof res);
    XLT_ASSERT_MSG(res[0] == 0 && res[1], "helper after the lift: run %d",
                   res[0]);
    XLT_ASSERT_MSG(res[2], "helper after the lift: fork failed");
    XLT_ASSERT_EXITED(res[3], 5);
    XLT_ASSERT(waitpid(helper, &st, 0) == helper);
    XLT_ASSERT_EXITED(st, 0);
    XLT_ASSERT_RC(libxl_ctx_free(ctx), 0);
    XLT_ASSERT_EQ(xlt_count_children(&zombies), 0);
    xls_report("nproc",
               "uid=%d sync run, fork, async run refused with"
               " EAGAIN and logged; reaper-less helper refused then"
               " recovered; storm=%ld ops",
               (int)getuid(), storm);
}

int main(void)
{
    static const xlt_case cases[] = {
        XLT_CASE(limits_nofile),
        XLT_CASE(limits_nofile_first),
        XLT_CASE(limits_nproc),
    };
    return xlt_main("stress_limits", cases, sizeof cases / sizeof cases[0]);
}
