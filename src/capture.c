/*
 * capture.c - the pipes of a run (S5): captured stdout/stderr, and the
 * stdin_data fed to the child.
 *
 * The parent's ends are the ctx's fds, like its wakeup fd, and are served
 * the same way: only from inside libxl calls on that ctx, never by the
 * reaper thread.  Every pass of the ctx's work loop (src/loop.c) drains
 * them, non-blocking; what makes the loop run when they become ready is:
 *  - a thread waiting in the ctx (libxl_event_wait, a synchronous run):
 *    one of them at a time, the "poller", sleeps in poll() on the pipes and
 *    the wakeup fd instead of on its condition variable (src/waiter.c);
 *  - beforepoll/afterpoll, which report the pipes beside the wakeup fd;
 *  - the fd_register hooks, through which each pipe is registered, and
 *    libxl_osevent_occurred_fd.
 * So a child never blocks on a full pipe for long while the application is
 * in the library, and a synchronous run can never deadlock on one.
 *
 * A run completes once its child has been reaped and its captured pipes are
 * at EOF; if a background process keeps one open, 200 ms after the reap
 * (LINGER_MS) with what was read.  Until then the reaped child record waits
 * here (cap->reaped).
 *
 * Everything here runs with ctx->lock held.
 */
#include "internal.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINGER_MS 200
#define DEFAULT_CAPTURE_MAX ((size_t)1 << 20)
#define READ_CHUNK 65536

static libxl__capture *cap_of_linger(libxl__timeout *t)
{
    return (libxl__capture *)((char *)t - offsetof(libxl__capture, linger));
}

static void stream_deregister_locked(libxl_ctx *ctx, libxl__capture_stream *s)
{
    if (s->registered && ctx->os_hooks.fd_deregister)
        ctx->os_hooks.fd_deregister(ctx->os_hooks_user, s->fd, s->for_app);
    s->registered = false;
}

static void stream_close_locked(libxl_ctx *ctx, libxl__capture *cap, int i)
{
    libxl__capture_stream *s = &cap->s[i];

    if (s->fd < 0)
        return;
    stream_deregister_locked(ctx, s);
    close(s->fd);
    s->fd = -1;
    ctx->ncapture_fds--;
}

static bool all_closed(const libxl__capture *cap)
{
    return cap->s[0].fd < 0 && cap->s[1].fd < 0 && cap->s[2].fd < 0;
}

/* Appends n bytes to s, up to the limit; past it they are dropped and
 * the stream marked truncated. */
static void stream_keep(libxl__capture_stream *s, size_t max, const char *b,
                        size_t n)
{
    size_t room = max - s->len;

    if (n > room) {
        s->truncated = true;
        n = room;
    }
    if (!n)
        return;
    if (s->len + n + 1 > s->size) {
        size_t size = s->size ? s->size : 4096;
        char *nb;

        while (size < s->len + n + 1)
            size *= 2;
        if (size > max + 1)
            size = max + 1;
        nb = realloc(s->buf, size);
        if (!nb) {
            s->truncated = true; /* what fits is kept */
            return;
        }
        s->buf = nb;
        s->size = size;
    }
    memcpy(s->buf + s->len, b, n);
    s->len += n;
}

static void stream_read_locked(libxl_ctx *ctx, libxl__capture *cap, int i)
{
    libxl__capture_stream *s = &cap->s[i];
    char chunk[READ_CHUNK];
    int rounds;

    /* Bounded per pass, so that a child that writes without end cannot
     * keep a libxl call in here: the next pass goes on. */
    for (rounds = 0; rounds < 64; rounds++) {
        ssize_t n = read(s->fd, chunk, sizeof chunk);

        if (n > 0) {
            stream_keep(s, cap->max, chunk, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0)
            LOGE(ctx, WARN, "libxl_childproc_run: read of child %d's %s",
                 (int)cap->pid, i == 1 ? "stdout" : "stderr");
        stream_close_locked(ctx, cap, i); /* EOF, or unreadable */
        return;
    }
}

/* Writes what it can of stdin_data.  A child that exits (or closes its
 * stdin) without reading it all is not an error (S5): the EPIPE ends the
 * feeding, and the SIGPIPE the write raises is taken back here rather than
 * delivered to the application, as the pipe is the library's. */
static void stdin_write_locked(libxl_ctx *ctx, libxl__capture *cap)
{
    libxl__capture_stream *s = &cap->s[0];
    sigset_t pipe_set, old, pending;
    bool was_pending;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pending);
    was_pending = sigismember(&pending, SIGPIPE);
    while (cap->in_off < cap->in_len) {
        ssize_t n =
            write(s->fd, cap->in + cap->in_off, cap->in_len - cap->in_off);

        if (n > 0) {
            cap->in_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0 && errno == EPIPE && !was_pending) {
            struct timespec zero = {0, 0};

            while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
                ;
        } else if (n < 0 && errno != EPIPE) {
            LOGE(ctx, WARN,
                 "libxl_childproc_run: write of stdin_data to"
                 " child %d",
                 (int)cap->pid);
        }
        cap->in_off = cap->in_len; /* the rest is not wanted */
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (cap->in_off == cap->in_len)
        stream_close_locked(ctx, cap, 0); /* EOF for the child */
}

static void cap_drain_locked(libxl_ctx *ctx, libxl__capture *cap)
{
    if (cap->s[0].fd >= 0)
        stdin_write_locked(ctx, cap);
    if (cap->s[1].fd >= 0)
        stream_read_locked(ctx, cap, 1);
    if (cap->s[2].fd >= 0)
        stream_read_locked(ctx, cap, 2);
}

/* The buffer of a captured stream as the result gets it: NUL-terminated,
 * "" when nothing was read; the stream gives it up. */
static char *stream_take(libxl__capture_stream *s, size_t *len)
{
    char *b = s->buf;

    if (!b)
        b = malloc(1);
    if (b)
        b[s->len] = '\0';
    *len = b ? s->len : 0;
    s->buf = NULL;
    s->len = s->size = 0;
    return b;
}

void libxl__capture_result_locked(libxl__capture *cap,
                                  libxl_childproc_result *r)
{
    if (cap->captured & LIBXL_CAPTURE_STDOUT) {
        r->out = stream_take(&cap->s[1], &r->out_len);
        r->out_truncated = cap->s[1].truncated;
    }
    if (cap->captured & LIBXL_CAPTURE_STDERR) {
        r->err = stream_take(&cap->s[2], &r->err_len);
        r->err_truncated = cap->s[2].truncated;
    }
}

void libxl__capture_free_locked(libxl_ctx *ctx, libxl__capture *cap)
{
    int i;

    if (!cap)
        return;
    for (i = 0; i < 3; i++) {
        stream_close_locked(ctx, cap, i);
        free(cap->s[i].buf);
    }
    libxl__timeout_cancel_locked(ctx, &cap->linger);
    LIST_REMOVE(cap, entry);
    if (cap->reaped)
        libxl__child_free(cap->reaped);
    free(cap->in_copy);
    free(cap);
}

/* The run's child was reaped and its pipes are done (or lingered long
 * enough): the run completes. */
static void cap_finish_locked(libxl_ctx *ctx, libxl__capture *cap)
{
    libxl__child *ch = cap->reaped;
    int i;

    cap->reaped = NULL;
    for (i = 0; i < 3; i++)
        stream_close_locked(ctx, cap, i);
    libxl__timeout_cancel_locked(ctx, &cap->linger);
    cap->done(ctx, cap->ao, ch);
}

static void linger_fire(libxl_ctx *ctx, libxl__timeout *t)
{
    libxl__capture *cap = cap_of_linger(t);

    cap_drain_locked(ctx, cap); /* what is there now is kept */
    if (cap->reaped)
        cap_finish_locked(ctx, cap);
}

/* Registers a pipe with the application's fd hooks, if it has them. */
static int stream_register_locked(libxl_ctx *ctx, libxl__capture_stream *s,
                                  short events)
{
    int rc;

    if (!ctx->have_os_hooks || !ctx->os_hooks.fd_register)
        return 0;
    s->token = ++ctx->osreg_seq;
    s->for_app = NULL;
    rc = ctx->os_hooks.fd_register(ctx->os_hooks_user, s->fd, &s->for_app,
                                   events, (void *)s->token);
    if (rc) {
        LOG(ctx, ERROR,
            "libxl_childproc_run: fd_register of a capture"
            " pipe failed (%d)",
            rc);
        return rc;
    }
    s->registered = true;
    return 0;
}

int libxl__capture_new_locked(libxl_ctx *ctx, libxl__ao *ao,
                              const libxl_childproc_args *args,
                              libxl__capture_done *done)
{
    libxl__capture *cap = calloc(1, sizeof *cap);
    int i;

    if (!cap) {
        LOGEV(ctx, ERROR, ENOMEM, "libxl_childproc_run: capture state");
        return ERROR_NOMEM;
    }
    for (i = 0; i < 3; i++)
        cap->s[i].fd = -1;
    cap->ao = ao;
    cap->done = done;
    cap->captured = args->capture;
    cap->max = args->capture_max ? args->capture_max : DEFAULT_CAPTURE_MAX;
    if (args->stdin_data && args->stdin_len) {
        /* Copied: an asynchronous caller's buffer need not outlive the
         * call. */
        cap->in_copy = malloc(args->stdin_len);
        if (!cap->in_copy) {
            free(cap);
            LOGEV(ctx, ERROR, ENOMEM, "libxl_childproc_run: stdin_data");
            return ERROR_NOMEM;
        }
        memcpy(cap->in_copy, args->stdin_data, args->stdin_len);
        cap->in = cap->in_copy;
        cap->in_len = args->stdin_len;
    }
    libxl__timeout_init(&cap->linger, linger_fire);
    LIST_INSERT_HEAD(&ctx->captures, cap, entry);
    ao->cap = cap;
    return 0;
}

int libxl__capture_start_locked(libxl_ctx *ctx, libxl__capture *cap, pid_t pid,
                                const int parent_fd[3])
{
    int i, rc = 0;

    cap->pid = pid;
    for (i = 0; i < 3; i++) {
        if (parent_fd[i] < 0)
            continue;
        cap->s[i].fd = parent_fd[i];
        ctx->ncapture_fds++;
        if (!rc)
            rc = stream_register_locked(ctx, &cap->s[i],
                                        i == 0 ? POLLOUT : POLLIN);
    }
    if (cap->s[0].fd >= 0 && !cap->in_len)
        stream_close_locked(ctx, cap, 0);
    /* Whoever sleeps in the ctx must now watch these too. */
    libxl__capture_poke_locked(ctx);
    return rc;
}

bool libxl__capture_reaped_locked(libxl_ctx *ctx, libxl__capture *cap,
                                  libxl__child *ch)
{
    cap_drain_locked(ctx, cap);
    if (all_closed(cap))
        return true;
    cap->reaped = ch;
    if (libxl__timeout_set_locked(ctx, &cap->linger, LINGER_MS)) {
        /* Cannot wait: what was read is what the caller gets. */
        cap->reaped = NULL;
        return true;
    }
    return false;
}

void libxl__captures_drain_locked(libxl_ctx *ctx)
{
    libxl__capture *cap;

    /* A completion drops the lock for its callback: start again after
     * one, as the list may have changed meanwhile. */
again:
    LIST_FOREACH(cap, &ctx->captures, entry) {
        cap_drain_locked(ctx, cap);
        if (cap->reaped && all_closed(cap)) {
            cap_finish_locked(ctx, cap);
            goto again;
        }
    }
}

int libxl__capture_pollfds_locked(libxl_ctx *ctx, struct pollfd *fds, int max)
{
    libxl__capture *cap;
    int n = 0, i;

    LIST_FOREACH(cap, &ctx->captures, entry) {
        for (i = 0; i < 3; i++) {
            if (cap->s[i].fd < 0)
                continue;
            if (n < max) {
                fds[n].fd = cap->s[i].fd;
                fds[n].events = i == 0 ? POLLOUT : POLLIN;
                fds[n].revents = 0;
            }
            n++;
        }
    }
    return n;
}

bool libxl__capture_token_locked(libxl_ctx *ctx, uintptr_t token)
{
    libxl__capture *cap;
    int i;

    LIST_FOREACH(cap, &ctx->captures, entry)
        for (i = 0; i < 3; i++)
            if (cap->s[i].registered && cap->s[i].token == token)
                return true;
    return false;
}

void libxl__capture_poke_locked(libxl_ctx *ctx)
{
    libxl__waiter *w;

    if (ctx->poller) {
        /* asleep in poll() with the old set of fds */
        libxl__waiter_wake_locked(ctx->poller);
        return;
    }
    /* No poller: a waiter asleep on its condition variable becomes one. */
    TAILQ_FOREACH(w, &ctx->waiters, entry) {
        if (!w->woken) {
            libxl__waiter_wake_locked(w);
            return;
        }
    }
}
