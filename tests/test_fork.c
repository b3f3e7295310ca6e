/*
 * test_fork.c - F1-F3 (fork safety), and R2/R4 as the child
 * sees them: a plain fork() in a process whose library is busy, the stale
 * ctxs and a new ctx in the child, libxl_postfork_child_noexec, 300 forks
 * against a busy library, and what a child of libxl_childproc_fork /
 * libxl_childproc_run starts with (signal mask, dispositions, fds),
 * reported by the child itself (tests/proc_report).
 *
 * A fork child checks itself with XLT_ASSERTs (a failure reports through
 * the harness pipe and _exit(1)s only that child) and exits 0 (through
 * xlt_child_exit); the parent asserts that exit status.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#ifdef __SANITIZE_THREAD__
/* ThreadSanitizer by default kills a child of a multi-threaded fork that
 * starts a thread (die_after_fork); starting the child's own reaper there
 * is what F1-F3 test.  (TSAN_OPTIONS from the environment still apply.) */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "die_after_fork=0";
}
#endif

/* Under a sanitizer a child of a busy multi-threaded fork does not use
 * the library (see XLT_UNDER_SANITIZER in harness.h). */
static int skip_under_sanitizer(void)
{
    if (!XLT_UNDER_SANITIZER)
        return 0;
    fprintf(stderr, "skipped under a sanitizer: a child of a busy"
                    " multi-threaded fork cannot use malloc there\n");
    return 1;
}

/* --------------------------------------------------------------- helpers */

static void set_mode(libxl_ctx *ctx, libxl_sigchld_owner mode,
                     int (*cb)(pid_t, int, void *), void *user,
                     pid_t (*fork_replacement)(void *))
{
    libxl_childproc_hooks h;
    memset(&h, 0, sizeof h);
    h.chldowner = mode;
    h.reaped_callback = cb;
    h.fork_replacement = fork_replacement;
    libxl_childproc_setmode(ctx, &h, user);
}

static pid_t plain_fork(void *user)
{
    (void)user;
    return fork();
}

/* ------------------------------------------------ recorded statuses */

#define REC_MAX 1024
typedef struct {
    pthread_mutex_t mu;
    int n;
    pid_t pid[REC_MAX];
    int status[REC_MAX];
} rec;

static void rec_init(rec *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
}

static void rec_add(rec *r, pid_t pid, int status)
{
    pthread_mutex_lock(&r->mu);
    XLT_ASSERT(r->n < REC_MAX);
    r->pid[r->n] = pid;
    r->status[r->n] = status;
    __atomic_store_n(&r->n, r->n + 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&r->mu);
}

/* Takes pid's status out of r: 1 if it was there. */
static int rec_take(rec *r, pid_t pid, int *status)
{
    int i, found = 0;
    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n; i++) {
        if (r->pid[i] == pid) {
            *status = r->status[i];
            r->pid[i] = 0;
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return found;
}

static int rec_reaped_cb(pid_t pid, int status, void *user)
{
    XLT_ASSERT_MSG(xlt_in_libxl > 0,
                   "reaped_callback outside an application libxl call");
    rec_add(user, pid, status);
    return 0;
}

static void rec_death_cb(libxl_ctx *ctx, pid_t pid, int status, void *user)
{
    (void)ctx;
    XLT_ASSERT_MSG(xlt_in_libxl > 0,
                   "death callback outside an application libxl call");
    rec_add(user, pid, status);
}

/*
 * The status of the application's own child pid (made by plain fork()).
 * With a default-mode ctx that has children, the library may reap it and
 * hand it to reaped_callback (recorded in unknowns, which may be NULL when
 * no ctx of the process may reap it: then waitpid must get it).  pump is
 * a ctx to make libxl calls on meanwhile.
 */
static int await_app_child(pid_t pid, rec *unknowns, libxl_ctx *pump)
{
    int64_t deadline = xlt_now_ms() + 60000;
    int st = 0;

    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            return st;
        XLT_ASSERT_MSG(w == 0 || errno == ECHILD || errno == EINTR,
                       "waitpid(%d): %s", (int)pid, strerror(errno));
        if (w < 0 && errno == ECHILD) {
            XLT_ASSERT_MSG(unknowns != NULL,
                           "the application's child %d was"
                           " reaped by someone else",
                           (int)pid);
            if (rec_take(unknowns, pid, &st))
                return st;
        }
        XLT_ASSERT_MSG(xlt_now_ms() < deadline,
                       "fork child %d: no status"
                       " within 60 s",
                       (int)pid);
        if (pump)
            xlt_pump_for(pump, 1);
        else
            xlt_sleep_ms(1);
    }
}

/* ----------------------------------------------- a busy library */

/*
 * A thread that keeps a ctx busy until told to stop: synchronous runs,
 * asynchronous runs completed by callback and by event (event_wait), all
 * of /bin/true; it counts what it started and what completed correctly.
 */
typedef struct {
    libxl_ctx *ctx;
    int stop;
    int started, completed, cb_done;
    int rounds;
    libxl_childproc_result cres[4], eres[4];
} busy;

static void busy_cb(libxl_ctx *ctx, int rc, void *user)
{
    busy *b = user;
    (void)ctx;
    XLT_ASSERT_MSG(xlt_in_libxl > 0, "completion outside a libxl call");
    XLT_ASSERT_RC(rc, 0);
    __atomic_add_fetch(&b->cb_done, 1, __ATOMIC_SEQ_CST);
}

static void *busy_thread(void *arg)
{
    busy *b = arg;
    char *argv[] = {"/bin/true", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    int i;

    while (!__atomic_load_n(&b->stop, __ATOMIC_SEQ_CST)) {
        libxl_asyncop_how how;
        int cb0 = __atomic_load_n(&b->cb_done, __ATOMIC_SEQ_CST);

        b->started++;
        XLT_ASSERT_RC(xlt_childproc_run(b->ctx, &a, &r, NULL), 0);
        XLT_ASSERT_EXITED(r.status, 0);
        b->completed++;

        for (i = 0; i < 4; i++) {
            memset(&how, 0, sizeof how);
            how.callback = busy_cb;
            how.u.for_callback = b;
            b->started++;
            XLT_ASSERT_RC(xlt_childproc_run(b->ctx, &a, &b->cres[i], &how), 0);
        }
        for (i = 0; i < 4; i++) {
            memset(&how, 0, sizeof how);
            how.u.for_event = (uint64_t)(i + 1);
            b->started++;
            XLT_ASSERT_RC(xlt_childproc_run(b->ctx, &a, &b->eres[i], &how), 0);
        }
        for (i = 0; i < 4; i++) {
            XLT_ASSERT_RC(xlt_wait_for(b->ctx, (uint64_t)(i + 1)), 0);
            XLT_ASSERT_EXITED(b->eres[i].status, 0);
            b->completed++;
        }
        xlt_pump_until(b->ctx, &b->cb_done, cb0 + 4, 30000);
        for (i = 0; i < 4; i++)
            XLT_ASSERT_EXITED(b->cres[i].status, 0);
        b->completed += 4;
        __atomic_add_fetch(&b->rounds, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static void busy_start(busy *b, pthread_t *th, libxl_ctx *ctx)
{
    memset(b, 0, sizeof *b);
    b->ctx = ctx;
    XLT_ASSERT(pthread_create(th, NULL, busy_thread, b) == 0);
    /* busy for real before anything forks */
    while (__atomic_load_n(&b->rounds, __ATOMIC_SEQ_CST) < 3)
        xlt_sleep_ms(1);
}

static void busy_stop(busy *b, pthread_t th)
{
    __atomic_store_n(&b->stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
    XLT_ASSERT_EQ(b->completed, b->started); /* lost nothing */
    XLT_ASSERT(b->rounds >= 3);
}

/* ------------------------------------------------ F1/F2 in a child */

/* Every entry point refuses an inherited ctx (or ignores it), makes no
 * child, and neither crashes nor hangs. */
static void check_stale_refused(libxl_ctx *stale)
{
    char *argv[] = {"/bin/true", NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_childproc_result r;
    libxl_asyncop_how how;
    libxl_event *ev = NULL;
    libxl_childproc_hooks h;
    struct pollfd pfd[8];
    int nfds = 8, tmo = -1, rc;
    struct timeval now;
    pid_t pid;

    memset(&how, 0, sizeof how);
    how.u.for_event = 1;
    XLT_ASSERT_RC(xlt_childproc_run(stale, &a, &r, NULL), ERROR_INVAL);
    XLT_ASSERT_RC(xlt_childproc_run(stale, &a, &r, &how), ERROR_INVAL);
    pid = xlt_childproc_fork(stale, NULL, NULL);
    if (pid == 0)
        _exit(99); /* a grandchild must not exist */
    XLT_ASSERT_RC(pid, ERROR_INVAL);
    XLT_ASSERT_RC(xlt_event_check(stale, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL),
                  ERROR_INVAL);
    XLT_ASSERT_RC(xlt_event_wait(stale, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL),
                  ERROR_INVAL);
    XLT_ASSERT_RC(libxl_ao_abort(stale, &how), ERROR_INVAL);
    XLT_ASSERT_RC(libxl_childproc_reaped(stale, getpid(), 0), ERROR_INVAL);
    XLT_ASSERT_RC(libxl_childproc_exited(stale, getpid(), 0), ERROR_INVAL);
    gettimeofday(&now, NULL);
    XLT_ASSERT_RC(libxl_osevent_beforepoll(stale, &nfds, pfd, &tmo, now),
                  ERROR_INVAL);
    /* void ones: ignored */
    memset(&h, 0, sizeof h);
    h.chldowner = libxl_sigchld_owner_libxl_always;
    libxl_childproc_setmode(stale, &h, NULL);
    libxl_childproc_sigchld_occurred(stale);
    libxl_osevent_afterpoll(stale, 0, pfd, now);
    XLT_ASSERT_EQ(xlt_count_children(NULL), 0);
    rc = libxl_ctx_free(stale);
    XLT_ASSERT_MSG(rc == ERROR_INVAL || rc == 0, "ctx_free(stale) = %d", rc);
}

/* A new ctx works fully: synchronous and asynchronous runs, a fork with
 * its death callback, in the mode given; a reaper of the child's own
 * runs them. */
static void check_new_ctx_works(libxl_sigchld_owner mode)
{
    static rec deaths;
    static libxl_childproc_result res[10];
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    libxl_childproc_result r;
    pid_t pid;
    int i, st;

    rec_init(&deaths);
    set_mode(ctx, mode, NULL, NULL, NULL);
    XLT_ASSERT_RC(xlt_run_sh(ctx, "exit 3", &r), 0);
    XLT_ASSERT_EXITED(r.status, 3);
    for (i = 0; i < 10; i++)
        xlt_start_exit(ctx, 10 + i, (uint64_t)i, &res[i]);
    for (i = 0; i < 10; i++) {
        XLT_ASSERT_RC(xlt_wait_for(ctx, (uint64_t)i), 0);
        XLT_ASSERT_EXITED(res[i].status, 10 + i);
    }
    pid = xlt_childproc_fork(ctx, rec_death_cb, &deaths);
    if (pid == 0)
        xlt_child_exit(31);
    XLT_ASSERT(pid > 0);
    xlt_pump_until(ctx, &deaths.n, 1, 30000);
    XLT_ASSERT(rec_take(&deaths, pid, &st));
    XLT_ASSERT_EXITED(st, 31);
    /* this process had one thread at the fork; now it has its reaper */
    XLT_ASSERT_MSG(xlt_count_tasks() == 2, "%d threads in the fork child",
                   xlt_count_tasks());
    XLT_ASSERT_RC(libxl_ctx_free(ctx), 0);
    XLT_ASSERT_EQ(xlt_count_children(NULL), 0);
}

/*
 * The parent: a busy default-mode ctx in another thread, and a ctx of its
 * own with a child running (so the library reaps every child: M3), both
 * handing application children to one reaped_callback.  Forks while all
 * that runs; the child does child_fn with the parent's ctxs.
 */
static void fork_while_busy(void (*child_fn)(libxl_ctx *mine,
                                             libxl_ctx *busy_ctx))
{
    static rec unknowns;
    static busy b;
    libxl_ctx *mine = xlt_ctx_new(NULL), *bctx = xlt_ctx_new(NULL);
    libxl_childproc_result gr;
    pthread_t th;
    int gate, st;
    pid_t pid;

    rec_init(&unknowns);
    set_mode(mine, libxl_sigchld_owner_libxl, rec_reaped_cb, &unknowns, NULL);
    set_mode(bctx, libxl_sigchld_owner_libxl, rec_reaped_cb, &unknowns, NULL);
    xlt_start_gated(mine, 1, &gate, &gr);
    busy_start(&b, &th, bctx);

    pid = fork();
    XLT_ASSERT(pid >= 0);
    if (pid == 0) {
        close(gate);
        child_fn(mine, bctx);
        fflush(NULL);
        xlt_child_exit(0);
    }
    st = await_app_child(pid, &unknowns, mine);
    XLT_ASSERT_EXITED(st, 0);

    busy_stop(&b, th);
    xlt_finish_gated(mine, 1, gate, &gr);
    libxl_ctx_free(bctx);
    libxl_ctx_free(mine);
    xlt_wait_no_children(10000);
}

static void f1_child(libxl_ctx *mine, libxl_ctx *busy_ctx)
{
    /* each refusal is logged on stderr (no ctx, no logger): keep quiet */
    int saved = dup(2), null = open("/dev/null", O_WRONLY | O_CLOEXEC);

    XLT_ASSERT(saved >= 0 && null >= 0);
    dup2(null, 2);
    check_stale_refused(mine);
    check_stale_refused(busy_ctx);
    dup2(saved, 2);
    close(saved);
    close(null);
    check_new_ctx_works(libxl_sigchld_owner_libxl);
}

/* F1: in the child of a plain fork() taken while the library is busy,
 * inherited ctxs are refused (ERROR_INVAL or ignored, nothing started, no
 * hang), and a new ctx works fully -- without libxl_postfork_child_noexec. */
XLT_TEST(test_F1_plain_fork_child_stale_ctx_refused_new_ctx_works, 60)
{
    if (skip_under_sanitizer())
        return;
    fork_while_busy(f1_child);
}

static void f1_child_selective(libxl_ctx *mine, libxl_ctx *busy_ctx)
{
    (void)mine;
    (void)busy_ctx;
    check_new_ctx_works(libxl_sigchld_owner_libxl_always_selective_reap);
}

/* F1: the same with the new ctx in the selective mode (pidfd-based
 * reaping in the child: no reaper state of the parent's may leak). */
XLT_TEST(test_F1_plain_fork_child_new_selective_ctx_works, 60)
{
    if (skip_under_sanitizer())
        return;
    fork_while_busy(f1_child_selective);
}

static void f2_child(libxl_ctx *mine, libxl_ctx *busy_ctx)
{
    (void)busy_ctx;
    libxl_postfork_child_noexec(mine);
    check_new_ctx_works(libxl_sigchld_owner_libxl);
    check_new_ctx_works(libxl_sigchld_owner_libxl_always_selective_reap);
}

/* F2: libxl_postfork_child_noexec(a stale ctx), then new ctxs work fully. */
XLT_TEST(test_F2_postfork_child_noexec_then_new_ctx_works, 60)
{
    if (skip_under_sanitizer())
        return;
    fork_while_busy(f2_child);
}

/* ----------------------------------------------------------------- R2 */

/*
 * R2: in the child of libxl_childproc_fork, SIGCHLD has its default
 * disposition (though the application had its own handler and the
 * library its own) and is unblocked, the rest of the calling thread's
 * mask is kept, and no library lock is held (a new ctx works there).
 */
static void app_sigchld_handler(int sig)
{
    (void)sig;
}

static void r2_check_child(const sigset_t *want_blocked)
{
    struct sigaction sa;
    sigset_t cur;
    int sig;

    XLT_ASSERT(sigaction(SIGCHLD, NULL, &sa) == 0);
    XLT_ASSERT_MSG(!(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL,
                   "SIGCHLD disposition in the fork child is not SIG_DFL");
    XLT_ASSERT(pthread_sigmask(SIG_SETMASK, NULL, &cur) == 0);
    XLT_ASSERT_MSG(!sigismember(&cur, SIGCHLD),
                   "SIGCHLD blocked in the fork child");
    for (sig = 1; sig < 32; sig++) {
        if (sig == SIGCHLD || sig == SIGKILL || sig == SIGSTOP)
            continue;
        XLT_ASSERT_MSG(sigismember(&cur, sig) == sigismember(want_blocked, sig),
                       "signal %d is %sblocked in the fork child", sig,
                       sigismember(&cur, sig) ? "" : "not ");
    }
    check_new_ctx_works(libxl_sigchld_owner_libxl);
}

struct r2 {
    libxl_ctx *ctx;
    sigset_t block; /* added to the mask of the forking thread */
    libxl_sigchld_owner mode;
};

static void *r2_fork(void *arg)
{
    struct r2 *p = arg;
    static rec deaths;
    sigset_t want;
    pid_t pid;
    int st = 0;

    rec_init(&deaths);
    XLT_ASSERT(pthread_sigmask(SIG_BLOCK, &p->block, NULL) == 0);
    XLT_ASSERT(pthread_sigmask(SIG_SETMASK, NULL, &want) == 0);
    pid = xlt_childproc_fork(p->ctx, rec_death_cb, &deaths);
    if (pid == 0) {
        r2_check_child(&want);
        fflush(NULL);
        xlt_child_exit(0);
    }
    XLT_ASSERT(pid > 0);
    if (p->mode == libxl_sigchld_owner_mainloop) {
        int rc;
        XLT_ASSERT_EQ(waitpid(pid, &st, 0), pid);
        xlt_in_libxl++;
        rc = libxl_childproc_reaped(p->ctx, pid, st);
        xlt_in_libxl--;
        XLT_ASSERT_RC(rc, 0);
    }
    xlt_pump_until(p->ctx, &deaths.n, 1, 60000);
    XLT_ASSERT(rec_take(&deaths, pid, &st));
    XLT_ASSERT_EXITED(st, 0);
    return NULL;
}

static void r2_case(libxl_sigchld_owner mode, pid_t (*fr)(void *),
                    int in_other_thread)
{
    struct sigaction sa;
    struct r2 p;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = app_sigchld_handler;
    XLT_ASSERT(sigaction(SIGCHLD, &sa, NULL) == 0);
    memset(&p, 0, sizeof p);
    p.ctx = xlt_ctx_new(NULL);
    p.mode = mode;
    set_mode(p.ctx, mode, NULL, NULL, fr);
    if (mode != libxl_sigchld_owner_mainloop) {
        /* the library set up: reaper running, its handler installed */
        libxl_childproc_result r;
        XLT_ASSERT_RC(xlt_run_sh(p.ctx, "exit 0", &r), 0);
        XLT_ASSERT_EXITED(r.status, 0);
    }
    sigemptyset(&p.block);
    sigaddset(&p.block, SIGUSR1);
    sigaddset(&p.block, SIGHUP);
    if (in_other_thread) {
        pthread_t th;
        sigaddset(&p.block, SIGUSR2);
        sigaddset(&p.block, SIGTERM);
        XLT_ASSERT(pthread_create(&th, NULL, r2_fork, &p) == 0);
        pthread_join(th, NULL);
    } else {
        r2_fork(&p);
    }
    libxl_ctx_free(p.ctx);
}

XLT_TEST(test_R2_fork_child_sigchld_default_unblocked_mask_kept, 60)
{
    r2_case(libxl_sigchld_owner_libxl, NULL, 0);
}

XLT_TEST(test_R2_fork_child_mask_kept_forking_from_other_thread, 60)
{
    r2_case(libxl_sigchld_owner_libxl, NULL, 1);
}

XLT_TEST(test_R2_fork_child_with_fork_replacement_same_state, 60)
{
    r2_case(libxl_sigchld_owner_libxl, plain_fork, 0);
}

XLT_TEST(test_R2_fork_child_selective_and_mainloop_modes_same_state, 60)
{
    r2_case(libxl_sigchld_owner_libxl_always_selective_reap, NULL, 1);
    r2_case(libxl_sigchld_owner_mainloop, NULL, 0);
}

/* ----------------------------------------------------------------- F3 */

/*
 * F3: one thread keeps the library busy (runs, callbacks, event_wait) and
 * another thread sits in event_wait, while a third thread forks 300
 * times; each fork child makes a ctx, runs `sh -c 'exit 3'`, checks the
 * status and exits 0 (1 on failure).  Every fork child exits 0, the busy
 * thread lost nothing, nothing deadlocks (the watchdog).  Under a
 * sanitizer the fork children only exit (see skip_under_sanitizer): the
 * parent's side is checked all the same.
 */
#define F3_FORKS 300
static libxl_ctx *f3_ctx;
static rec f3_unknowns;
static int f3_reap_anywhere;
static int f3_forked;

static void f3_child(void)
{
    libxl_ctx *ctx = NULL;
    libxl_childproc_result r;
    char *argv[] = {"/bin/sh", "-c", "exit 3", NULL};
    libxl_childproc_args a = xlt_args(argv);

    if (XLT_UNDER_SANITIZER)
        xlt_child_exit(0); /* see skip_under_sanitizer: the parent side only */
    if (libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, NULL) != 0)
        _exit(1);
    if (libxl_childproc_run(ctx, &a, &r, NULL) != 0)
        _exit(1);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 3)
        _exit(1);
    if (libxl_ctx_free(ctx) != 0)
        _exit(1);
    xlt_child_exit(0);
}

static void *f3_forker(void *arg)
{
    int i;
    (void)arg;
    for (i = 0; i < F3_FORKS; i++) {
        pid_t pid = fork();
        int st;
        XLT_ASSERT(pid >= 0);
        if (pid == 0)
            f3_child();
        st = await_app_child(pid, f3_reap_anywhere ? &f3_unknowns : NULL,
                             f3_ctx);
        XLT_ASSERT_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                       "fork child %d of %d: wait status %#x", i, F3_FORKS, st);
        __atomic_add_fetch(&f3_forked, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static void *f3_waiter(void *arg)
{
    (void)arg;
    XLT_ASSERT_RC(xlt_wait_for(f3_ctx, 999), 0);
    return NULL;
}

static void f3_case(libxl_sigchld_owner mode)
{
    static busy b;
    libxl_childproc_result r;
    pthread_t bt, ft, wt;

    rec_init(&f3_unknowns);
    f3_reap_anywhere = mode == libxl_sigchld_owner_libxl;
    f3_ctx = xlt_ctx_new(NULL);
    set_mode(f3_ctx, mode, f3_reap_anywhere ? rec_reaped_cb : NULL,
             &f3_unknowns, NULL);
    XLT_ASSERT(pthread_create(&wt, NULL, f3_waiter, NULL) == 0);
    busy_start(&b, &bt, f3_ctx);
    XLT_ASSERT(pthread_create(&ft, NULL, f3_forker, NULL) == 0);
    pthread_join(ft, NULL);
    XLT_ASSERT_EQ(f3_forked, F3_FORKS);
    busy_stop(&b, bt);
    xlt_start_exit(f3_ctx, 0, 999, &r); /* the event the waiter waited for */
    pthread_join(wt, NULL);
    XLT_ASSERT_EXITED(r.status, 0);
    libxl_ctx_free(f3_ctx);
    xlt_wait_no_children(10000);
}

XLT_TEST(test_F3_300_forks_while_default_ctx_busy_no_deadlock, 120)
{
    f3_case(libxl_sigchld_owner_libxl);
}

XLT_TEST(test_F3_300_forks_while_selective_ctx_busy_no_deadlock, 120)
{
    f3_case(libxl_sigchld_owner_libxl_always_selective_reap);
}

/* ------------------------------------------------- R4 (proc_report) */

/* tests/proc_report, next to this program (which libtool may have put in
 * tests/.libs). */
static const char *proc_report_path(void)
{
    static char path[PATH_MAX + 32];
    char exe[PATH_MAX], *slash;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

    XLT_ASSERT(n > 0);
    exe[n] = 0;
    slash = strrchr(exe, '/');
    XLT_ASSERT(slash != NULL);
    *slash = 0;
    snprintf(path, sizeof path, "%s/proc_report", exe);
    if (access(path, X_OK) == 0)
        return path;
    slash = strrchr(exe, '/');
    if (slash && strcmp(slash, "/.libs") == 0) {
        *slash = 0;
        snprintf(path, sizeof path, "%s/proc_report", exe);
        if (access(path, X_OK) == 0)
            return path;
    }
    XLT_FAIL("tests/proc_report not found next to %s", exe);
}

/* fds 0-2 open (a harness run without stdin...), so the child's are. */
static void ensure_std_fds(void)
{
    int fd;
    for (fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) == -1) {
            int n = open("/dev/null", O_RDWR);
            XLT_ASSERT(n == fd);
        }
    }
}

typedef struct {
    unsigned long long sigblk, sigign;
    char fds[256];
} report;

static void parse_report(const char *out, report *rp)
{
    const char *p;

    p = strstr(out, "SigBlk:");
    XLT_ASSERT_MSG(p != NULL, "no SigBlk in:\n%s", out);
    rp->sigblk = strtoull(p + 7, NULL, 16);
    p = strstr(out, "SigIgn:");
    XLT_ASSERT_MSG(p != NULL, "no SigIgn in:\n%s", out);
    rp->sigign = strtoull(p + 7, NULL, 16);
    p = strstr(out, "fds:");
    XLT_ASSERT_MSG(p != NULL, "no fds in:\n%s", out);
    snprintf(rp->fds, sizeof rp->fds, "%s", p + 4);
    rp->fds[strcspn(rp->fds, "\n")] = 0;
}

/* SigIgn of this process, from its own /proc/self/status. */
static unsigned long long own_sigign(void)
{
    char buf[4096];
    const char *p;
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

    XLT_ASSERT(fd >= 0);
    xlt_read_all(fd, buf, sizeof buf);
    close(fd);
    p = strstr(buf, "SigIgn:");
    XLT_ASSERT(p != NULL);
    return strtoull(p + 7, NULL, 16);
}

static void run_report(libxl_ctx *ctx, report *rp)
{
    char *argv[] = {(char *)proc_report_path(), NULL};
    static char out[4096];
    libxl_childproc_result r;

    XLT_ASSERT_RC(xlt_run_capture(ctx, argv, out, sizeof out, &r), 0);
    XLT_ASSERT_EXITED(r.status, 0);
    parse_report(out, rp);
}

/*
 * R4: the exec'd child of libxl_childproc_run starts with an empty signal
 * mask, ignores nothing, and holds fds 0, 1 and 2 only -- though the
 * calling thread blocks SIGUSR1, SIGTERM and (M1) SIGCHLD, and several
 * ctxs (default, selective, owner_mainloop) have children running, so
 * that their wakeup fds, pidfds and the reaper's fds exist.  The test opens
 * no fd of its own without close-on-exec.  Both paths: posix_spawn and a
 * fork_replacement.
 */
static void r4_case(libxl_sigchld_owner mode, pid_t (*fr)(void *))
{
    static const libxl_sigchld_owner others[3] = {
        libxl_sigchld_owner_libxl,
        libxl_sigchld_owner_libxl_always_selective_reap,
        libxl_sigchld_owner_mainloop,
    };
    libxl_ctx *busy_ctx[3], *ctx;
    libxl_childproc_result gr[3];
    int gate[3], i, j;
    sigset_t set;
    report rp;

    ensure_std_fds();
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGTERM);
    XLT_ASSERT(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0);

    for (i = 0; i < 3; i++) {
        busy_ctx[i] = xlt_ctx_new(NULL);
        set_mode(busy_ctx[i], others[i], NULL, NULL, NULL);
    }
    for (i = 0; i < 3; i++)
        xlt_start_gated(busy_ctx[i], 1, &gate[i], &gr[i]);
    ctx = xlt_ctx_new(NULL);
    set_mode(ctx, mode, NULL, NULL, fr);

    for (j = 0; j < 5; j++) {
        unsigned long long ign;

        run_report(ctx, &rp);
        XLT_ASSERT_MSG(rp.sigblk == 0, "exec'd child's mask: %llx", rp.sigblk);
        /* S3 (since 0.2): the exec'd child ignores nothing, not even
         * what the application ignores, nor glibc's internal signals
         * (32 up to SIGRTMIN) that glibc's posix_spawn would leave
         * ignored in it. */
        ign = rp.sigign;
        XLT_ASSERT_MSG(ign == 0,
                       "exec'd child ignores %llx, the"
                       " application %llx",
                       rp.sigign, own_sigign());
        XLT_ASSERT_MSG(strcmp(rp.fds, " 0 1 2") == 0,
                       "exec'd child holds fds:%s", rp.fds);
    }

    for (i = 0; i < 3; i++) {
        if (others[i] == libxl_sigchld_owner_mainloop) {
            /* the application reaps this one */
            int st = 0;
            pid_t pid;
            close(gate[i]);
            do
                pid = waitpid(-1, &st, 0);
            while (pid < 0 && errno == EINTR);
            XLT_ASSERT(pid > 0);
            xlt_in_libxl++;
            XLT_ASSERT_RC(libxl_childproc_reaped(busy_ctx[i], pid, st), 0);
            xlt_in_libxl--;
            XLT_ASSERT_RC(xlt_wait_for(busy_ctx[i], 1), 0);
        } else {
            xlt_finish_gated(busy_ctx[i], 1, gate[i], &gr[i]);
        }
    }
    for (i = 0; i < 3; i++)
        libxl_ctx_free(busy_ctx[i]);
    libxl_ctx_free(ctx);
}

XLT_TEST(test_R4_spawned_child_empty_mask_std_fds_only_posix_spawn_path, 60)
{
    r4_case(libxl_sigchld_owner_libxl, NULL);
}

XLT_TEST(test_R4_spawned_child_empty_mask_std_fds_only_fork_path, 60)
{
    r4_case(libxl_sigchld_owner_libxl, plain_fork);
}

XLT_TEST(test_R4_spawned_child_empty_mask_std_fds_only_selective_mode, 60)
{
    r4_case(libxl_sigchld_owner_libxl_always_selective_reap, NULL);
    r4_case(libxl_sigchld_owner_libxl_always_selective_reap, plain_fork);
}

/*
 * R2+R4: a child of libxl_childproc_fork that execs proc_report itself
 * keeps the forking thread's mask (SIGUSR1, SIGTERM) but not SIGCHLD, and
 * holds no library fd (everything internal is close-on-exec), with ctxs
 * busy around it.
 */
XLT_TEST(test_R4_fork_child_exec_holds_no_library_fd, 60)
{
    static rec deaths;
    libxl_ctx *ctx = xlt_ctx_new(NULL), *other = xlt_ctx_new(NULL);
    libxl_childproc_result gr;
    const char *prog = proc_report_path();
    static char out[4096];
    int gate, p[2], st;
    sigset_t set;
    report rp;
    pid_t pid;

    ensure_std_fds();
    rec_init(&deaths);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGTERM);
    XLT_ASSERT(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0);
    set_mode(other, libxl_sigchld_owner_libxl_always_selective_reap, NULL, NULL,
             NULL);
    xlt_start_gated(other, 1, &gate, &gr);
    xlt_pipe(p);
    pid = xlt_childproc_fork(ctx, rec_death_cb, &deaths);
    if (pid == 0) {
        char *argv[] = {(char *)prog, NULL};
        if (dup2(p[1], 1) != 1) /* dup2's copy is not close-on-exec */
            _exit(120);
        execv(prog, argv);
        _exit(121);
    }
    XLT_ASSERT(pid > 0);
    close(p[1]);
    xlt_read_all(p[0], out, sizeof out);
    close(p[0]);
    xlt_pump_until(ctx, &deaths.n, 1, 30000);
    XLT_ASSERT(rec_take(&deaths, pid, &st));
    XLT_ASSERT_EXITED(st, 0);
    parse_report(out, &rp);
    XLT_ASSERT_MSG(rp.sigblk ==
                       ((1ULL << (SIGUSR1 - 1)) | (1ULL << (SIGTERM - 1))),
                   "fork child's exec'd mask: %llx", rp.sigblk);
    XLT_ASSERT_MSG(strcmp(rp.fds, " 0 1 2") == 0, "fork child holds fds:%s",
                   rp.fds);
    xlt_finish_gated(other, 1, gate, &gr);
    libxl_ctx_free(other);
    libxl_ctx_free(ctx);
}

int main(void)
{
    static const xlt_case cases[] = {
        XLT_CASE(test_F1_plain_fork_child_stale_ctx_refused_new_ctx_works),
        XLT_CASE(test_F1_plain_fork_child_new_selective_ctx_works),
        XLT_CASE(test_F2_postfork_child_noexec_then_new_ctx_works),
        XLT_CASE(test_R2_fork_child_sigchld_default_unblocked_mask_kept),
        XLT_CASE(test_R2_fork_child_mask_kept_forking_from_other_thread),
        XLT_CASE(test_R2_fork_child_with_fork_replacement_same_state),
        XLT_CASE(test_R2_fork_child_selective_and_mainloop_modes_same_state),
        XLT_CASE(test_F3_300_forks_while_default_ctx_busy_no_deadlock),
        XLT_CASE(test_F3_300_forks_while_selective_ctx_busy_no_deadlock),
        XLT_CASE(
            test_R4_spawned_child_empty_mask_std_fds_only_posix_spawn_path),
        XLT_CASE(test_R4_spawned_child_empty_mask_std_fds_only_fork_path),
        XLT_CASE(test_R4_spawned_child_empty_mask_std_fds_only_selective_mode),
        XLT_CASE(test_R4_fork_child_exec_holds_no_library_fd),
    };
    return xlt_main("fork", cases, sizeof cases / sizeof cases[0]);
}
