/*
 * compat_prog.c - a program written against Xen 4.17's libxl, and nothing
 * else: only names from Xen's <libxl.h>, <libxl_event.h> and
 * <xentoollog.h>.  tests/test_compat.sh compiles it with -fsyntax-only
 * against Xen's real headers, and make check builds it against the drop-in
 * headers (compat/), links it and runs it.
 *
 * Xen's public API has no call that starts a child by itself, so every
 * child here is the program's own; what is checked is how the library
 * shares SIGCHLD, statuses and the main loop with the program, in the
 * patterns of libxl's real callers:
 *   - the Go binding: owner_mainloop, a SIGCHLD handler of the program's
 *     own, libxl_childproc_sigchld_occurred from its loop;
 *   - xl: owner_libxl with a reaped_callback, waitpid for its own children;
 *   - libvirt: owner_libxl_always_selective_reap, the osevent hooks on its
 *     own poll loop (with its own lock), event hooks, synchronous waitpid;
 *   - a daemon that lets libxl reap every child (owner_libxl_always): its
 *     children reach reaped_callback, the one it disowns is logged through
 *     a xentoollog stdio logger;
 *   - a child of the program's own fork that keeps using libxl
 *     (libxl_postfork_child_noexec).
 * Prints one line per check and "N passed, N failed"; exits 1 on failure.
 */
#define LIBXL_API_VERSION 0x040500 /* as libvirt does */

#include <libxl.h>
#include <libxl_event.h>
#include <xentoollog.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Real callers test the feature macros; so does this program. */
#ifndef LIBXL_HAVE_SIGCHLD_OWNER_SELECTIVE_REAP
#error "LIBXL_HAVE_SIGCHLD_OWNER_SELECTIVE_REAP is not defined"
#endif
#ifndef LIBXL_HAVE_SIGCHLD_SHARING
#error "LIBXL_HAVE_SIGCHLD_SHARING is not defined"
#endif
#ifndef LIBXL_HAVE_AO_ABORT
#error "LIBXL_HAVE_AO_ABORT is not defined"
#endif

static int passed, failed;

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (cond) {                                                         \
            passed++;                                                       \
        } else {                                                            \
            failed++;                                                       \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                   \
    } while (0)

static pthread_t main_thread;

static pid_t fork_exit(int code)
{
    pid_t pid;

    fflush(NULL); /* nothing buffered is written twice */
    pid = fork();

    if (pid == 0)
        _exit(code);
    return pid;
}

static int exited_with(int status, int code)
{
    return WIFEXITED(status) && WEXITSTATUS(status) == code;
}

static long long now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* One round of the beforepoll/poll/afterpoll loop of libxl_event.h,
 * growing the array on ERROR_BUFFERFULL as that header describes. */
static struct pollfd *poll_fds;
static int poll_nalloc;

static int poll_round(libxl_ctx *ctx, int timeout_ms)
{
    struct timeval now;
    int nfds = poll_nalloc, timeout = timeout_ms, rc, r;

    gettimeofday(&now, NULL);
    rc = libxl_osevent_beforepoll(ctx, &nfds, poll_fds, &timeout, now);
    if (rc == ERROR_BUFFERFULL) {
        struct pollfd *n = realloc(poll_fds, sizeof *n * (size_t)nfds);
        if (!n)
            return ERROR_NOMEM;
        poll_fds = n;
        poll_nalloc = nfds;
        rc = libxl_osevent_beforepoll(ctx, &nfds, poll_fds, &timeout, now);
    }
    if (rc)
        return rc;
    r = poll(poll_fds, (nfds_t)nfds, timeout);
    if (r < 0 && errno != EINTR)
        return ERROR_FAIL;
    gettimeofday(&now, NULL);
    libxl_osevent_afterpoll(ctx, nfds, poll_fds, now);
    return 0;
}

/* Events: xl and libvirt drain them with libxl_event_check. */
static int for_user_is(const libxl_event *ev, void *user)
{
    return ev->for_user == *(libxl_ev_user *)user;
}

static int drain_events(libxl_ctx *ctx)
{
    libxl_event *ev;
    int n = 0, rc;

    while ((rc = libxl_event_check(ctx, &ev, LIBXL_EVENTMASK_ALL, NULL,
                                   NULL)) == 0) {
        libxl_event_free(ctx, ev);
        n++;
    }
    return rc == ERROR_NOT_READY ? n : rc;
}

/* Waits for the completion of one asynchronous operation, as xl does.
 * (Xen's public API starts no operation here, so nothing calls it at run
 * time unless asked to; it is compiled both ways all the same.) */
static int wait_for_operation(libxl_ctx *ctx, libxl_ev_user which)
{
    libxl_event *ev;
    int rc =
        libxl_event_wait(ctx, &ev, 1ULL << LIBXL_EVENT_TYPE_OPERATION_COMPLETE,
                         for_user_is, &which);

    if (rc)
        return rc;
    rc = ev->u.operation_complete.rc;
    libxl_event_free(ctx, ev);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The Go binding: owner_mainloop; SIGCHLD is the program's.           */

static int sigchld_pipe[2] = {-1, -1};

static void on_sigchld(int sig)
{
    int saved = errno;
    char c = (char)sig;

    if (write(sigchld_pipe[1], &c, 1) < 0) {
        /* full: a wakeup is pending anyway */
    }
    errno = saved;
}

static void test_go_mainloop(xentoollog_logger *lg)
{
    libxl_childproc_hooks hooks = {
        .chldowner = libxl_sigchld_owner_mainloop,
    };
    struct sigaction sa, old;
    sigset_t mask;
    libxl_ctx *ctx = NULL;
    int unblocked_before, status = 0, got_signal = 0;
    long long deadline;
    pid_t pid;

    /* The Go runtime has its SIGCHLD handler before any ctx exists. */
    CHECK(pipe(sigchld_pipe) == 0);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigchld;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGCHLD, &sa, &old) == 0);
    pthread_sigmask(SIG_SETMASK, NULL, &mask);
    unblocked_before = !sigismember(&mask, SIGCHLD);

    CHECK(libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, lg) == 0);
    libxl_childproc_setmode(ctx, &hooks, NULL);
    /* The program owns SIGCHLD: it is deliverable to it again. */
    pthread_sigmask(SIG_SETMASK, NULL, &mask);
    CHECK(!unblocked_before || !sigismember(&mask, SIGCHLD));

    pid = fork_exit(5);
    CHECK(pid > 0);
    deadline = now_ms() + 10000;
    while (!got_signal && now_ms() < deadline) {
        struct pollfd p = {.fd = sigchld_pipe[0], .events = POLLIN};
        char buf[16];

        if (poll(&p, 1, 100) > 0 && read(sigchld_pipe[0], buf, sizeof buf) > 0)
            got_signal = 1;
    }
    CHECK(got_signal);
    /* Not from the handler: from the loop, as the binding's goroutine. */
    libxl_childproc_sigchld_occurred(ctx);
    /* libxl reaps only its own children: this one is still ours. */
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(exited_with(status, 5));
    CHECK(libxl_childproc_reaped(ctx, pid, status) == ERROR_UNKNOWN_CHILD);

    CHECK(libxl_ctx_free(ctx) == 0);
    sigaction(SIGCHLD, &old, NULL);
    close(sigchld_pipe[0]);
    close(sigchld_pipe[1]);
    printf("ok - Go binding: owner_mainloop, sigchld_occurred\n");
}

/* ------------------------------------------------------------------ */
/* xl: owner_libxl with a reaped_callback for its own children.         */

struct xl_child {
    pid_t pid;
    int reaped, status;
};

static int xl_reaped_callback(pid_t got, int status, void *user)
{
    struct xl_child *ch = user;

    if (got != ch->pid)
        return ERROR_UNKNOWN_CHILD;
    ch->reaped = 1;
    ch->status = status;
    return 0;
}

static const libxl_childproc_hooks xl_childproc_hooks = {
    .chldowner = libxl_sigchld_owner_libxl,
    .reaped_callback = xl_reaped_callback,
};

static void test_xl(xentoollog_logger *lg)
{
    struct xl_child ch = {0};
    libxl_asyncop_how how = {.callback = NULL, .u.for_event = 42};
    libxl_ctx *ctx = NULL;
    pid_t got;

    CHECK(libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, lg) == 0);
    libxl_childproc_setmode(ctx, &xl_childproc_hooks, &ch);

    ch.pid = fork_exit(7);
    CHECK(ch.pid > 0);
    CHECK(poll_round(ctx, 0) == 0); /* give libxl every chance to reap */
    /* xl_waitpid: libxl has no child, so it reaps nothing; xl does. */
    if (!ch.reaped) {
        got = waitpid(ch.pid, &ch.status, 0);
        CHECK(got == ch.pid);
    }
    CHECK(!ch.reaped);
    CHECK(exited_with(ch.status, 7));

    CHECK(drain_events(ctx) == 0);
    CHECK(libxl_ao_abort(ctx, &how) == ERROR_NOTFOUND);
    CHECK(libxl_ctx_free(ctx) == 0);
    CHECK(libxl_ctx_free(NULL) == 0);
    printf("ok - xl: owner_libxl, reaped_callback, waitpid of its own\n");
}

/* ------------------------------------------------------------------ */
/* libvirt: selective reap, osevent hooks on its own loop.             */

#define NREG 16

struct loop_fd {
    int live, fd;
    short events;
    void *for_libxl;
};

struct loop_timeout {
    int live;
    struct timeval abs;
    void *for_libxl;
};

struct loop {
    pthread_mutex_t lock; /* never held across a call into libxl */
    struct loop_fd fds[NREG];
    struct loop_timeout timeouts[NREG];
    int fd_registrations, in_hook;
};

static int fd_register(void *user, int fd, void **for_app_registration_out,
                       short events, void *for_libxl)
{
    struct loop *l = user;
    int i, rc = ERROR_OSEVENT_REG_FAIL;

    pthread_mutex_lock(&l->lock);
    for (i = 0; i < NREG; i++) {
        if (!l->fds[i].live) {
            l->fds[i].live = 1;
            l->fds[i].fd = fd;
            l->fds[i].events = events;
            l->fds[i].for_libxl = for_libxl;
            *for_app_registration_out = &l->fds[i];
            l->fd_registrations++;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

static int fd_modify(void *user, int fd, void **for_app_registration_update,
                     short events)
{
    struct loop *l = user;
    struct loop_fd *r = *for_app_registration_update;

    pthread_mutex_lock(&l->lock);
    if (r->fd == fd)
        r->events = events;
    pthread_mutex_unlock(&l->lock);
    return 0;
}

static void fd_deregister(void *user, int fd, void *for_app_registration)
{
    struct loop *l = user;
    struct loop_fd *r = for_app_registration;

    pthread_mutex_lock(&l->lock);
    if (r->fd == fd)
        r->live = 0;
    pthread_mutex_unlock(&l->lock);
}

static int timeout_register(void *user, void **for_app_registration_out,
                            struct timeval abs, void *for_libxl)
{
    struct loop *l = user;
    int i, rc = ERROR_OSEVENT_REG_FAIL;

    pthread_mutex_lock(&l->lock);
    for (i = 0; i < NREG; i++) {
        if (!l->timeouts[i].live) {
            l->timeouts[i].live = 1;
            l->timeouts[i].abs = abs;
            l->timeouts[i].for_libxl = for_libxl;
            *for_app_registration_out = &l->timeouts[i];
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

static int timeout_modify(void *user, void **for_app_registration_update,
                          struct timeval abs)
{
    struct loop *l = user;
    struct loop_timeout *t = *for_app_registration_update;

    pthread_mutex_lock(&l->lock);
    t->abs = abs; /* {0,0}: as soon as possible */
    pthread_mutex_unlock(&l->lock);
    return 0;
}

static const libxl_osevent_hooks libvirt_osevent_hooks = {
    .fd_register = fd_register,
    .fd_modify = fd_modify,
    .fd_deregister = fd_deregister,
    .timeout_register = timeout_register,
    .timeout_modify = timeout_modify,
    .timeout_deregister = NULL, /* libvirt's too: Xen never calls it */
};

/* One turn of the program's loop: poll what libxl registered, then tell
 * libxl, with the loop's lock released.  Returns the number of fds that
 * were ready. */
static int loop_turn(libxl_ctx *ctx, struct loop *l, int timeout_ms)
{
    struct pollfd p[NREG];
    void *who[NREG];
    void *due[NREG];
    int i, n = 0, ndue = 0, ready = 0;
    struct timeval now;

    pthread_mutex_lock(&l->lock);
    for (i = 0; i < NREG; i++) {
        if (l->fds[i].live) {
            p[n].fd = l->fds[i].fd;
            p[n].events = l->fds[i].events;
            p[n].revents = 0;
            who[n++] = l->fds[i].for_libxl;
        }
    }
    pthread_mutex_unlock(&l->lock);
    if (poll(p, (nfds_t)n, timeout_ms) > 0) {
        for (i = 0; i < n; i++) {
            if (p[i].revents) {
                ready++;
                libxl_osevent_occurred_fd(ctx, who[i], p[i].fd, p[i].events,
                                          p[i].revents);
            }
        }
    }
    gettimeofday(&now, NULL);
    pthread_mutex_lock(&l->lock);
    for (i = 0; i < NREG; i++) {
        struct loop_timeout *t = &l->timeouts[i];
        if (t->live && timercmp(&t->abs, &now, <=)) {
            t->live = 0; /* occurred: libxl forgets it too */
            due[ndue++] = t->for_libxl;
        }
    }
    pthread_mutex_unlock(&l->lock);
    for (i = 0; i < ndue; i++)
        libxl_osevent_occurred_timeout(ctx, due[i]);
    return ready;
}

static void libvirt_event_occurs(void *user, libxl_event *ev)
{
    libxl_ctx *ctx = user;

    if (ev->type == LIBXL_EVENT_TYPE_OPERATION_COMPLETE)
        fprintf(stderr, "operation %llu completed: %d\n",
                (unsigned long long)ev->for_user, ev->u.operation_complete.rc);
    libxl_event_free(ctx, ev);
}

static void libvirt_disaster(void *user, libxl_event_type type, const char *msg,
                             int errnoval)
{
    (void)user;
    fprintf(stderr, "libxl disaster (event type %d): %s (errno %d)\n",
            (int)type, msg, errnoval);
    abort();
}

static void test_libvirt(xentoollog_logger *lg)
{
    static const libxl_childproc_hooks hooks = {
#ifdef LIBXL_HAVE_SIGCHLD_OWNER_SELECTIVE_REAP
        .chldowner = libxl_sigchld_owner_libxl_always_selective_reap,
#else
        .chldowner = libxl_sigchld_owner_libxl,
#endif
    };
    libxl_event_hooks ev_hooks = {
        .event_occurs_mask = LIBXL_EVENTMASK_ALL,
        .event_occurs = libvirt_event_occurs,
        .disaster = libvirt_disaster,
    };
    struct loop l;
    libxl_ctx *ctx = NULL;
    int i, status = 0, live, ready = 0;
    pid_t pid;

    memset(&l, 0, sizeof l);
    pthread_mutex_init(&l.lock, NULL);
    CHECK(libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, lg) == 0);
    libxl_osevent_register_hooks(ctx, &libvirt_osevent_hooks, &l);
    libxl_childproc_setmode(ctx, &hooks, NULL);
    libxl_event_register_callbacks(ctx, &ev_hooks, ctx);
    /* The library watches (at least) its wakeup fd on our loop. */
    CHECK(l.fd_registrations >= 1);

    /* virCommandRun: fork, then waitpid synchronously. */
    pid = fork_exit(3);
    CHECK(pid > 0);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(exited_with(status, 3));

    /* Nothing is due for libxl, so nothing is ready on its fds. */
    for (i = 0; i < 3; i++)
        ready += loop_turn(ctx, &l, 30);
    CHECK(ready == 0);

    CHECK(libxl_ctx_free(ctx) == 0);
    /* Nothing of the ctx is left on the program's loop. */
    live = 0;
    for (i = 0; i < NREG; i++)
        live += l.fds[i].live + l.timeouts[i].live;
    CHECK(live == 0);
    pthread_mutex_destroy(&l.lock);
    printf("ok - libvirt: selective reap, osevent hooks, waitpid\n");
}

/* ------------------------------------------------------------------ */
/* owner_libxl_always: libxl reaps every child of the process.         */

struct always {
    pid_t mine, stranger;
    int mine_status, stranger_status, calls, wrong_thread;
};

static int always_reaped_callback(pid_t pid, int status, void *user)
{
    struct always *a = user;

    a->calls++;
    if (!pthread_equal(pthread_self(), main_thread))
        a->wrong_thread++;
    if (pid == a->mine) {
        a->mine_status = status;
        return 0;
    }
    if (pid == a->stranger)
        a->stranger_status = status;
    return ERROR_UNKNOWN_CHILD; /* libxl logs it */
}

static void test_always(void)
{
    struct always a = {0};
    libxl_childproc_hooks hooks = {
        .chldowner = libxl_sigchld_owner_libxl_always,
        .reaped_callback = always_reaped_callback,
    };
    xentoollog_logger_stdiostream *logger;
    libxl_ctx *ctx = NULL;
    FILE *logf = tmpfile();
    char line[512], want[64];
    int found = 0, status;
    long long deadline;

    CHECK(logf != NULL);
    if (!logf)
        return;
    logger = xtl_createlogger_stdiostream(logf, XTL_WARN, 0);
    CHECK(logger != NULL);
    CHECK(libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0,
                          (xentoollog_logger *)logger) == 0);
    /* Children that exist before the mode is set are reaped all the same
     * (and forking before libxl's reaper thread starts keeps the children
     * clear of its start-up under valgrind's leak check). */
    a.mine = fork_exit(9);
    a.stranger = fork_exit(11);
    CHECK(a.mine > 0 && a.stranger > 0);
    libxl_childproc_setmode(ctx, &hooks, &a);
    deadline = now_ms() + 10000;
    while ((!a.mine_status || !a.stranger_status) && now_ms() < deadline)
        CHECK(poll_round(ctx, 100) == 0);
    CHECK(exited_with(a.mine_status, 9));
    CHECK(exited_with(a.stranger_status, 11));
    CHECK(a.calls == 2);
    CHECK(a.wrong_thread == 0); /* from inside our libxl call */
    /* libxl reaped them: nothing is left for waitpid. */
    CHECK(waitpid(a.mine, &status, WNOHANG) < 0 && errno == ECHILD);

    CHECK(libxl_ctx_free(ctx) == 0);

    /* The disowned child was reported through the xentoollog logger. */
    snprintf(want, sizeof want, "%d", (int)a.stranger);
    rewind(logf);
    while (fgets(line, sizeof line, logf))
        if (strstr(line, "warning: ") && strstr(line, want))
            found = 1;
    CHECK(found);
    xtl_logger_destroy((xentoollog_logger *)logger);
    fclose(logf);
    printf("ok - owner_libxl_always: reaped_callback, unknown child logged\n");
}

/* ------------------------------------------------------------------ */
/* A child of the program's own fork that goes on using libxl.         */

static void test_postfork(xentoollog_logger *lg)
{
    libxl_ctx *ctx = NULL;
    int status = 0;
    pid_t pid;

    CHECK(libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, lg) == 0);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        libxl_ctx *fresh = NULL;
        libxl_event *ev;
        int ok;

        alarm(20);
        libxl_postfork_child_noexec(ctx);
        ok = libxl_ctx_alloc(&fresh, LIBXL_VERSION, 0, lg) == 0 &&
             libxl_event_check(fresh, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL) ==
                 ERROR_NOT_READY &&
             libxl_ctx_free(fresh) == 0;
        _exit(ok ? 0 : 1);
    }
    CHECK(pid > 0);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(exited_with(status, 0));
    CHECK(libxl_ctx_free(ctx) == 0);
    printf("ok - postfork_child_noexec in a child of fork\n");
}

int main(int argc, char **argv)
{
    xentoollog_logger_stdiostream *logger;
    libxl_ctx *ctx;

    alarm(120); /* a hang fails the test */
    main_thread = pthread_self();
    logger = xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    if (!logger)
        return 1;

    CHECK(libxl_ctx_alloc(&ctx, LIBXL_VERSION + 1, 0,
                          (xentoollog_logger *)logger) == ERROR_VERSION);

    /* The Go binding's pattern runs first: its SIGCHLD handler is in
     * place before any ctx, as the Go runtime's is. */
    test_go_mainloop((xentoollog_logger *)logger);
    test_xl((xentoollog_logger *)logger);
    test_libvirt((xentoollog_logger *)logger);
    test_always();
    test_postfork((xentoollog_logger *)logger);

    if (argc > 1 && strcmp(argv[1], "--wait-forever") == 0) {
        CHECK(libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0,
                              (xentoollog_logger *)logger) == 0);
        CHECK(wait_for_operation(ctx, 1) == 0);
        libxl_ctx_free(ctx);
    }

    free(poll_fds);
    xtl_logger_destroy((xentoollog_logger *)logger);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
