/*
 * harness.c - see harness.h.
 *
 * The CUnit process never calls into xlchild: every test body runs in a
 * forked child that is the leader of its own process group, so that a hung
 * test (and whatever it started) can be killed as a whole, and so that no
 * test sees the signal mask, dispositions, reaper thread or children of
 * another.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <CUnit/Basic.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Write end of the report pipe in an isolated test process, else -1. */
static int report_fd = -1;

__thread int xlt_in_libxl;

/* ------------------------------------------------------------ failures */

void xlt_fail(const char *file, int line, const char *fmt, ...)
{
    char buf[2048];
    int n = snprintf(buf, sizeof buf, "%s:%d: ", file, line);
    va_list al;

    va_start(al, fmt);
    if (n >= 0 && (size_t)n < sizeof buf)
        vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, al);
    va_end(al);
    n = (int)strlen(buf);
    if ((size_t)n < sizeof buf - 1)
        buf[n++] = '\n';
    buf[n] = 0;

    /* write(2) only: another thread may hold stdio locks. */
    if (write(2, buf, (size_t)n) < 0) {
        /* nothing better to do */
    }
    if (report_fd < 0)
        abort(); /* an XLT_ASSERT outside xlt_run_isolated: a harness bug */
    if (write(report_fd, buf, (size_t)n) < 0) {
        /* the parent still sees the exit status */
    }
    _exit(1);
}

/* ---------------------------------------------------------- isolation */

/* Closes every fd >= 3 but keep, so that fd tests see a clean table. */
static void close_other_fds(int keep)
{
    int fds[1024], n = 0, i;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d)) != NULL && n < (int)(sizeof fds / sizeof fds[0])) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        if (fd > 2 && fd != keep && fd != dirfd(d))
            fds[n++] = fd;
    }
    closedir(d);
    for (i = 0; i < n; i++)
        close(fds[i]);
}

static void reset_signals(void)
{
    sigset_t none;
    int sig;

    for (sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL); /* fails harmlessly for reserved ones */
    }
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static size_t drain(int fd, char *buf, size_t len, size_t size)
{
    for (;;) {
        ssize_t r;
        if (len + 1 >= size)
            return len;
        r = read(fd, buf + len, size - 1 - len);
        if (r <= 0)
            return len;
        len += (size_t)r;
        buf[len] = 0;
    }
}

void xlt_run_isolated(const char *name, void (*fn)(void), int timeout_s)
{
    static char msg[8192];
    char report[4096] = "";
    size_t rlen = 0;
    int rep[2], status = 0, timed_out = 0;
    int64_t deadline;
    pid_t pid;

    fflush(NULL);
    if (pipe2(rep, O_CLOEXEC) != 0) {
        CU_FAIL_FATAL("pipe2 for the report pipe failed");
        return;
    }
    pid = fork();
    if (pid < 0) {
        close(rep[0]);
        close(rep[1]);
        CU_FAIL_FATAL("fork of the isolated test process failed");
        return;
    }
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(rep[0]);
        report_fd = rep[1];
        close_other_fds(report_fd);
        reset_signals();
        fn();
        fflush(NULL);
        _exit(0);
    }
    setpgid(pid, pid); /* also done by the child: no window either way */
    close(rep[1]);
    fcntl(rep[0], F_SETFL, O_NONBLOCK);

    deadline = xlt_now_ms() + (int64_t)timeout_s * 1000;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            status = -1;
            break;
        }
        rlen = drain(rep[0], report, rlen, sizeof report);
        if (xlt_now_ms() >= deadline) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            timed_out = 1;
            break;
        }
        xlt_sleep_ms(5);
    }
    rlen = drain(rep[0], report, rlen, sizeof report);
    close(rep[0]);
    kill(-pid, SIGKILL); /* whatever the test left behind in its group */

    if (!timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        CU_assertImplementation(CU_TRUE, 0, name, "isolated", name, CU_FALSE);
        return;
    }
    if (timed_out)
        snprintf(msg, sizeof msg, "%s: HUNG, killed after %d s%s%s", name,
                 timeout_s, rlen ? ": " : "", report);
    else if (status == -1)
        snprintf(msg, sizeof msg, "%s: waitpid failed: %s", name,
                 strerror(errno));
    else if (WIFSIGNALED(status))
        snprintf(msg, sizeof msg,
                 "%s: test process killed by signal %d (%s)%s%s", name,
                 WTERMSIG(status), strsignal(WTERMSIG(status)),
                 rlen ? ": " : "", report);
    else if (rlen)
        snprintf(msg, sizeof msg, "%s: %s", name, report);
    else
        snprintf(msg, sizeof msg,
                 "%s: test process exited %d without a report (see its stderr)",
                 name, WEXITSTATUS(status));
    fprintf(stderr, "FAILED %s\n", msg);
    CU_assertImplementation(CU_FALSE, 0, msg, "isolated", name, CU_FALSE);
}

int xlt_main(const char *suite, const xlt_case *cases, size_t ncases)
{
    const char *only = getenv("XLT_ONLY"); /* run one case, for debugging */
    CU_pSuite s;
    size_t i;
    unsigned failed;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    s = CU_add_suite(suite, NULL, NULL);
    if (!s)
        return 2;
    for (i = 0; i < ncases; i++) {
        if (only && *only && strcmp(only, cases[i].name) != 0)
            continue;
        if (!CU_add_test(s, cases[i].name, cases[i].fn))
            return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

/* -------------------------------------------------------------- helpers */

void xlt_child_exit(int code)
{
    char script[16] = "exit ", digits[4], *p = script + 5;
    int v = code & 0xff, n = 0;

    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    while (n > 0)
        *p++ = digits[--n];
    *p = 0;
    execl("/bin/sh", "sh", "-c", script, (char *)NULL);
    _exit(code);
}

int xlt_skip_under_valgrind(const char *why)
{
    if (!getenv("XLT_UNDER_VALGRIND"))
        return 0;
    fprintf(stderr, "skipped under valgrind: %s\n", why);
    return 1;
}

int64_t xlt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void xlt_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void xlt_pipe(int p[2])
{
    XLT_ASSERT_MSG(pipe2(p, O_CLOEXEC) == 0, "pipe2: %s", strerror(errno));
}

size_t xlt_read_all(int fd, char *buf, size_t size)
{
    size_t len = 0;
    for (;;) {
        ssize_t r;
        if (len + 1 >= size)
            break;
        r = read(fd, buf + len, size - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        XLT_ASSERT_MSG(r >= 0, "read: %s", strerror(errno));
        if (r == 0)
            break;
        len += (size_t)r;
    }
    buf[len] = 0;
    return len;
}

void xlt_read_line(int fd, char *buf, size_t size)
{
    size_t len = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        XLT_ASSERT_MSG(r >= 0, "read: %s", strerror(errno));
        XLT_ASSERT_MSG(r == 1, "EOF before a whole line (got \"%.*s\")",
                       (int)len, buf);
        if (c == '\n')
            break;
        if (len + 1 < size)
            buf[len++] = c;
    }
    buf[len] = 0;
}

int xlt_list_children(pid_t *out, int max, int *zombies_out)
{
    pid_t me = getpid();
    int n = 0, z = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;

    XLT_ASSERT(d != NULL);
    while ((e = readdir(d)) != NULL) {
        char path[300], buf[1024], *p, state;
        int ppid, fd;
        ssize_t r;

        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue; /* gone meanwhile */
        r = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (r <= 0)
            continue;
        buf[r] = 0;
        p = strrchr(buf, ')'); /* comm may hold spaces and parens */
        if (!p || sscanf(p + 1, " %c %d", &state, &ppid) != 2)
            continue;
        if (ppid != me)
            continue;
        if (n < max)
            out[n] = (pid_t)atoi(e->d_name);
        n++;
        if (state == 'Z')
            z++;
    }
    closedir(d);
    if (zombies_out)
        *zombies_out = z;
    return n;
}

int xlt_count_children(int *zombies_out)
{
    return xlt_list_children(NULL, 0, zombies_out);
}

int xlt_count_tasks(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    XLT_ASSERT(d != NULL);
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
            n++;
    closedir(d);
    return n;
}

char xlt_proc_state(pid_t pid)
{
    char path[64], buf[512], *p, st;
    int fd;
    ssize_t r;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0)
        return 0;
    buf[r] = 0;
    p = strrchr(buf, ')'); /* comm may hold spaces and parens */
    if (!p || sscanf(p + 1, " %c", &st) != 1)
        return 0;
    return st;
}

void xlt_wait_no_children(int timeout_ms)
{
    int64_t deadline = xlt_now_ms() + timeout_ms;
    int n, z;
    for (;;) {
        n = xlt_count_children(&z);
        if (n == 0)
            return;
        XLT_ASSERT_MSG(xlt_now_ms() < deadline,
                       "still %d children (%d zombies) after %d ms", n, z,
                       timeout_ms);
        xlt_sleep_ms(10);
    }
}

libxl_ctx *xlt_ctx_new(libxl_logger *lg)
{
    libxl_ctx *ctx = NULL;
    XLT_ASSERT_RC(libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, lg), 0);
    XLT_ASSERT(ctx != NULL);
    return ctx;
}

int xlt_event_wait(libxl_ctx *ctx, libxl_event **ev_r, uint64_t mask,
                   libxl_event_predicate *pred, void *user)
{
    int rc;
    xlt_in_libxl++;
    rc = libxl_event_wait(ctx, ev_r, mask, pred, user);
    xlt_in_libxl--;
    return rc;
}

int xlt_event_check(libxl_ctx *ctx, libxl_event **ev_r, uint64_t mask,
                    libxl_event_predicate *pred, void *user)
{
    int rc;
    xlt_in_libxl++;
    rc = libxl_event_check(ctx, ev_r, mask, pred, user);
    xlt_in_libxl--;
    return rc;
}

int xlt_childproc_run(libxl_ctx *ctx, const libxl_childproc_args *args,
                      libxl_childproc_result *res, const libxl_asyncop_how *how)
{
    int rc;
    xlt_in_libxl++;
    rc = libxl_childproc_run(ctx, args, res, how);
    xlt_in_libxl--;
    return rc;
}

pid_t xlt_childproc_fork(libxl_ctx *ctx, libxl_childproc_death_cb *death,
                         void *user)
{
    pid_t pid;
    xlt_in_libxl++;
    pid = libxl_childproc_fork(ctx, death, user);
    xlt_in_libxl--;
    return pid;
}

libxl_childproc_args xlt_args(char **argv)
{
    libxl_childproc_args a;
    memset(&a, 0, sizeof a);
    a.path = argv[0];
    a.argv = argv;
    return a;
}

int xlt_run_sh(libxl_ctx *ctx, const char *script, libxl_childproc_result *r)
{
    char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
    libxl_childproc_args a = xlt_args(argv);
    return xlt_childproc_run(ctx, &a, r, NULL);
}

void xlt_start_event_run(libxl_ctx *ctx, char **argv, uint64_t id,
                         libxl_childproc_result *res)
{
    libxl_childproc_args a = xlt_args(argv);
    libxl_asyncop_how how;
    memset(&how, 0, sizeof how);
    how.u.for_event = id;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, res, &how), 0);
}

static int pred_for_user(const libxl_event *ev, void *user)
{
    return ev->for_user == *(const uint64_t *)user;
}

int xlt_wait_for(libxl_ctx *ctx, uint64_t id)
{
    libxl_event *ev = NULL;
    int rc;

    XLT_ASSERT_RC(
        xlt_event_wait(ctx, &ev, LIBXL_EVENTMASK_ALL, pred_for_user, &id), 0);
    XLT_ASSERT(ev != NULL);
    XLT_ASSERT_EQ(ev->for_user, id);
    XLT_ASSERT_EQ(ev->type, LIBXL_EVENT_TYPE_OPERATION_COMPLETE);
    rc = ev->u.operation_complete.rc;
    libxl_event_free(ctx, ev);
    return rc;
}

void xlt_expect_no_event(libxl_ctx *ctx)
{
    libxl_event *ev = NULL;
    XLT_ASSERT_RC(xlt_event_check(ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL),
                  ERROR_NOT_READY);
}

static int pred_none(const libxl_event *ev, void *user)
{
    (void)ev;
    (void)user;
    return 0;
}

void xlt_pump_until(libxl_ctx *ctx, const int *counter, int target,
                    int timeout_ms)
{
    int64_t deadline = xlt_now_ms() + timeout_ms;
    while (__atomic_load_n(counter, __ATOMIC_SEQ_CST) < target) {
        libxl_event *ev = NULL;
        XLT_ASSERT_RC(
            xlt_event_check(ctx, &ev, LIBXL_EVENTMASK_ALL, pred_none, NULL),
            ERROR_NOT_READY);
        XLT_ASSERT_MSG(xlt_now_ms() < deadline,
                       "awaited callbacks not made within %d ms (%d of %d)",
                       timeout_ms, __atomic_load_n(counter, __ATOMIC_SEQ_CST),
                       target);
        xlt_sleep_ms(2);
    }
}

void xlt_pump_for(libxl_ctx *ctx, int ms)
{
    int64_t end = xlt_now_ms() + ms;
    while (xlt_now_ms() < end) {
        libxl_event *ev = NULL;
        XLT_ASSERT_RC(
            xlt_event_check(ctx, &ev, LIBXL_EVENTMASK_ALL, pred_none, NULL),
            ERROR_NOT_READY);
        xlt_sleep_ms(2);
    }
}

int xlt_run_capture(libxl_ctx *ctx, char *const argv[], char *out, size_t outsz,
                    libxl_childproc_result *res)
{
    libxl_childproc_args a = xlt_args((char **)argv);
    int p[2], rc;

    xlt_pipe(p);
    a.stdout_fd = p[1];
    rc = xlt_childproc_run(ctx, &a, res, NULL);
    close(p[1]);
    xlt_read_all(p[0], out, outsz); /* small outputs only: read after exit */
    close(p[0]);
    return rc;
}

/* --------------------------------------------------------------- logger */

static void rec_vmessage(libxl_logger *lg, libxl_log_level level, int errnoval,
                         const char *context, const char *format, va_list al)
{
    xlt_logger *l = (xlt_logger *)lg;
    char line[1024];
    int n;

    n = snprintf(line, sizeof line, "L%d %s: ", (int)level,
                 context ? context : "-");
    if (n < 0 || (size_t)n >= sizeof line)
        n = 0;
    vsnprintf(line + n, sizeof line - (size_t)n, format, al);
    n = (int)strlen(line);
    if (errnoval > 0)
        snprintf(line + n, sizeof line - (size_t)n, " [errno %d]", errnoval);

    pthread_mutex_lock(&l->mu);
    if (level >= LIBXL_LOG_DEBUG && level <= LIBXL_LOG_CRITICAL)
        l->count[level]++;
    else
        l->count[0]++; /* out-of-range levels are counted apart */
    n = (int)strlen(line);
    if (l->len + (size_t)n + 2 < sizeof l->text) {
        memcpy(l->text + l->len, line, (size_t)n);
        l->len += (size_t)n;
        l->text[l->len++] = '\n';
        l->text[l->len] = 0;
    }
    pthread_mutex_unlock(&l->mu);
}

static void rec_destroy(libxl_logger *lg)
{
    xlt_logger *l = (xlt_logger *)lg;
    __atomic_add_fetch(&l->destroyed, 1, __ATOMIC_SEQ_CST);
}

/* Recording loggers live as long as the test process (a test may check
 * what arrives even after libxl_ctx_free); kept reachable for valgrind. */
static xlt_logger *volatile loggers[64]; /* write-only: volatile keeps it */
static int nloggers;

xlt_logger *xlt_logger_new(void)
{
    xlt_logger *l = calloc(1, sizeof *l);
    XLT_ASSERT(l != NULL);
    if (nloggers < (int)(sizeof loggers / sizeof loggers[0]))
        loggers[nloggers++] = l;
    l->lg.vmessage = rec_vmessage;
    l->lg.destroy = rec_destroy;
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

int xlt_logger_count(xlt_logger *l, int level, const char *substr)
{
    int n = 0;
    char *line, *save = NULL, *copy;

    pthread_mutex_lock(&l->mu);
    copy = strdup(l->text);
    pthread_mutex_unlock(&l->mu);
    XLT_ASSERT(copy != NULL);
    for (line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        int lv = atoi(line + 1);
        if (level && lv != level)
            continue;
        if (substr && !strstr(line, substr))
            continue;
        n++;
    }
    free(copy);
    return n;
}

int xlt_logger_warnings(xlt_logger *l)
{
    int n;

    pthread_mutex_lock(&l->mu);
    n = l->count[LIBXL_LOG_WARN] + l->count[LIBXL_LOG_ERROR] +
        l->count[LIBXL_LOG_CRITICAL];
    pthread_mutex_unlock(&l->mu);
    return n;
}

void xlt_start_exit(libxl_ctx *ctx, int code, uint64_t id,
                    libxl_childproc_result *r)
{
    char script[32];
    char *argv[] = {"/bin/sh", "-c", script, NULL};

    snprintf(script, sizeof script, "exit %d", code);
    xlt_start_event_run(ctx, argv, id, r);
}

void xlt_start_gated(libxl_ctx *ctx, uint64_t id, int *gate_w,
                     libxl_childproc_result *r)
{
    char *argv[] = {"/bin/sh", "-c", "read x; exit 0", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_asyncop_how how;
    int g[2];

    xlt_pipe(g);
    a.stdin_fd = g[0];
    memset(&how, 0, sizeof how);
    how.u.for_event = id;
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, r, &how), 0);
    close(g[0]);
    *gate_w = g[1];
}

void xlt_finish_gated(libxl_ctx *ctx, uint64_t id, int gate_w,
                      const libxl_childproc_result *r)
{
    close(gate_w);
    XLT_ASSERT_RC(xlt_wait_for(ctx, id), 0);
    XLT_ASSERT_EXITED(r->status, 0);
}

long xlt_voluntary_switches(pid_t tid)
{
    char path[64], line[256];
    long v = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
    f = fopen(path, "re");
    XLT_ASSERT(f != NULL);
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1)
            break;
    fclose(f);
    XLT_ASSERT(v >= 0);
    return v;
}

static void *sleeper_main(void *arg)
{
    xlt_sleeper *s = arg;

    __atomic_store_n(&s->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
    XLT_ASSERT_RC(xlt_wait_for(s->ctx, s->id), 0);
    return NULL;
}

void xlt_sleeper_start(xlt_sleeper *s, libxl_ctx *ctx, uint64_t id,
                       int settle_ms)
{
    s->ctx = ctx;
    s->id = id;
    s->tid = 0;
    XLT_ASSERT(pthread_create(&s->thread, NULL, sleeper_main, s) == 0);
    while (!__atomic_load_n(&s->tid, __ATOMIC_ACQUIRE))
        xlt_sleep_ms(1);
    xlt_sleep_ms(settle_ms);
}

void xlt_sleeper_join(xlt_sleeper *s)
{
    pthread_join(s->thread, NULL);
}
