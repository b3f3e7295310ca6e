/*
 * waiter.c - threads asleep in a libxl call on a ctx (E2).
 *
 * Each waiting thread (libxl_event_wait, a synchronous operation) sleeps on
 * its own condition variable, so that a wakeup goes to one thread that can
 * use it: new work wakes one idle waiter (src/inbox.c), a new event one
 * waiter whose typemask and predicate accept it (src/event.c), a completed
 * synchronous operation its own thread (src/ao.c).
 *
 * One waiter at a time, the timekeeper, sleeps with a deadline: the
 * earliest of the ctx's timeouts (O2).  The others sleep untimed.  A
 * timeout that becomes the earliest pokes the timekeeper, which recomputes
 * its deadline.
 *
 * While the ctx has capture pipes (src/capture.c), or while a waiter has
 * the reaper's role (it leads: threads/leader.c), one waiter at a time,
 * the poller, sleeps in poll() on them instead, with the ctx's poll eventfd
 * standing in for its condition variable; it drains the pipes in the work
 * loop when it wakes, and collects as the reaper would (src/loop.c).  The
 * others sleep as usual.
 */
#include "internal.h"

#include <assert.h>

#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

void libxl__waiter_init(libxl__waiter *w)
{
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    w->woken = false;
    w->typemask = 0;
    w->pred = NULL;
    w->pred_user = NULL;
    w->sync_ao = NULL;
    w->in_wait = false;
    w->poll_fd = -1;
    w->poll_fds = NULL;
    w->lead_fd = -1;
    w->lead_ready = false;
    w->following = false;
    w->leads = false;
}

void libxl__waiter_destroy(libxl__waiter *w)
{
    pthread_cond_destroy(&w->cond);
}

void libxl__waiter_wake_locked(libxl__waiter *w)
{
    uint64_t one = 1;

    w->woken = true;
    if (w->poll_fd >= 0) {
        /* An eventfd of ours: only EAGAIN (already readable) can fail. */
        ssize_t r = write(w->poll_fd, &one, sizeof one);
        (void)r;
        return;
    }
    pthread_cond_signal(&w->cond);
}

/* A poller cancelled in poll() (E5) holds ctx->lock again when it goes, as
 * it would coming out of pthread_cond_wait. */
static void poll_cancelled(void *arg)
{
    libxl__waiter *w = arg;
    libxl_ctx *ctx = w->poll_ctx;

    free(w->poll_fds);
    w->poll_fds = NULL;
    CTX_LOCK(ctx);
    w->poll_fd = -1;
    ctx->poller = NULL;
}

/* poll() as a cancellation point, like pthread_cond_wait.  (glibc's own
 * poll, not a bare system call with asynchronous cancellation around it:
 * glibc waits there for a cancellation signal already on its way, which
 * would otherwise arrive later, in some other system call of the library
 * that glibc makes asynchronously cancellable for its duration, and end
 * the thread in the middle of it, with nothing undone.) */
LIBXL__CANCEL_FRAME
static void poll_cancellable(libxl__waiter *w, struct pollfd *fds, int n,
                             int ms)
{
    pthread_cleanup_push(poll_cancelled, w);
    while (poll(fds, (nfds_t)n, ms) < 0 && errno == EINTR)
        ;
    pthread_cleanup_pop(0);
}

/* Sleeps in poll() on the ctx's capture pipes, the reaper's wait set if w
 * leads (w->lead_fd) and the ctx's poll eventfd until a pipe is ready, w
 * is woken, or *earliest.  ctx->lock held, dropped while asleep.  The poll
 * set is on the heap: a cancelled poller (E5) frees it in its cleanup. */
LIBXL__CANCEL_FRAME
static void poll_sleep_locked(libxl_ctx *ctx, libxl__waiter *w,
                              libxl__pollfds_fn *pollfds,
                              const struct timespec *earliest)
{
    struct pollfd *fds;
    int lead = w->lead_fd >= 0, n = 1 + lead + pollfds(ctx, NULL, 0), ms = -1;
    uint64_t v;

    w->lead_ready = false;
    if (ctx->poll_efd < 0) {
        ctx->poll_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (ctx->poll_efd < 0) {
            LOGE(ctx, ERROR, "eventfd for the capture pipes' poller");
            goto fallback;
        }
    }
    if (!(fds = malloc((size_t)n * sizeof *fds))) {
        LOGEV(ctx, ERROR, ENOMEM, "poll set of the capture pipes");
        goto fallback;
    }
    fds[0].fd = ctx->poll_efd;
    fds[0].events = POLLIN;
    fds[0].revents = 0;
    if (lead) {
        fds[1].fd = w->lead_fd;
        fds[1].events = POLLIN;
        fds[1].revents = 0;
    }
    pollfds(ctx, fds + 1 + lead, n - 1 - lead);
    if (earliest) {
        struct timespec now;
        long long ns;

        libxl__now(&now);
        ns = (long long)(earliest->tv_sec - now.tv_sec) * 1000000000 +
             (earliest->tv_nsec - now.tv_nsec);
        ms = ns <= 0 ? 0 : (int)((ns + 999999) / 1000000);
    }
    ctx->poller = w;
    w->poll_ctx = ctx;
    w->poll_fd = ctx->poll_efd;
    w->poll_fds = fds; /* freed by poll_cancelled if cancelled */
    CTX_UNLOCK(ctx);
    poll_cancellable(w, fds, n, ms);
    CTX_LOCK(ctx);
    w->poll_fd = -1;
    ctx->poller = NULL;
    w->lead_ready = lead && fds[1].revents;
    /* Freed before the read below, which is a cancellation point: a thread
     * cancelled there is undone by its frames (src/loop.c), which know
     * nothing of this set. */
    w->poll_fds = NULL;
    free(fds);
    /* Whoever woke w wrote the eventfd (before or after poll returned:
     * ctx->lock orders it); drained now, it cannot wake the next poller
     * for nothing. */
    if (w->woken && read(ctx->poll_efd, &v, sizeof v) < 0 && errno != EAGAIN)
        LOGE(ctx, WARN, "read(poll eventfd)");
    if (w->lead_ready)
        w->woken = true; /* for work: someone else watches the clock */
    return;

fallback:
    /* Poll the pipes every 10 ms rather than not at all; a leader collects
     * as often (its role is not polled meanwhile). */
    w->lead_ready = lead;
    {
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_nsec += 10000000;
        if (t.tv_nsec >= 1000000000) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&w->cond, &ctx->lock, &t);
    }
}

/* Asleep now, in its condition variable (not woken, not busy with work). */
static bool asleep(const libxl__waiter *w)
{
    return w && w->in_wait && !w->woken;
}

/* The timekeeper's role goes to a waiter asleep now, woken if there is a
 * clock to watch, so that it goes back to sleep with the deadline. */
static void timekeeper_pass_locked(libxl_ctx *ctx, libxl__waiter *from,
                                   bool have_timeouts)
{
    libxl__waiter *o;

    ctx->timekeeper = NULL;
    TAILQ_FOREACH(o, &ctx->waiters, entry) {
        if (o != from && asleep(o)) {
            ctx->timekeeper = o;
            if (have_timeouts)
                libxl__waiter_wake_locked(o);
            return;
        }
    }
}

/*
 * The timekeeper is whoever sleeps: a waiter that is awake, busy with
 * work (a callback that runs for long, or one that makes a synchronous
 * call: the nested call's waiter sleeps while the outer one is busy) holds
 * the role only until someone else falls asleep.  A waiter woken for work
 * while a clock is to be watched hands the role to one that sleeps on.
 */
LIBXL__CANCEL_FRAME
void libxl__waiter_sleep_locked(libxl_ctx *ctx, libxl__waiter *w,
                                libxl__pollfds_fn *pollfds,
                                const struct timespec *earliest)
{
    struct timespec deadline;
    bool timed;

    /* A copy: the timeout it points into may be freed by another thread
     * while this one sleeps (the kernel reads it at each futex wait). */
    if (earliest) {
        deadline = *earliest;
        earliest = &deadline;
    }
    w->woken = false;
    assert(!w->in_wait); /* a waiter sleeps in one place at a time */
    w->in_wait = true;
    TAILQ_INSERT_TAIL(&ctx->waiters, w, entry);
    if (!asleep(ctx->timekeeper))
        ctx->timekeeper = w;
    timed = ctx->timekeeper == w && earliest;
    if (pollfds && (ctx->ncapture_fds > 0 || w->lead_fd >= 0) && !ctx->poller)
        poll_sleep_locked(ctx, w, pollfds, timed ? earliest : NULL);
    else if (timed)
        pthread_cond_timedwait(&w->cond, &ctx->lock, earliest);
    else
        pthread_cond_wait(&w->cond, &ctx->lock);
    TAILQ_REMOVE(&ctx->waiters, w, entry);
    w->in_wait = false;
    /* Woken, but not by its own clock: whatever it is woken for may take
     * long (callbacks), so someone asleep watches the clock meanwhile. */
    if (timed && w->woken && ctx->timekeeper == w)
        timekeeper_pass_locked(ctx, w, true);
}

void libxl__waiter_leave_locked(libxl_ctx *ctx, libxl__waiter *w,
                                bool have_timeouts)
{
    if (ctx->timekeeper == w)
        timekeeper_pass_locked(ctx, w, have_timeouts);
}

/* The earliest timeout changed: whoever watches the clock recomputes its
 * deadline.  A timekeeper busy with work cannot: the role goes to a waiter
 * asleep, if any (else the next to fall asleep takes it). */
void libxl__timekeeper_poke_locked(libxl_ctx *ctx)
{
    libxl__waiter *tk = ctx->timekeeper;

    if (asleep(tk))
        libxl__waiter_wake_locked(tk);
    else
        timekeeper_pass_locked(ctx, tk, true);
}

bool libxl__waiter_cancelled_locked(libxl_ctx *ctx, libxl__waiter *w,
                                    bool have_timeouts)
{
    bool woken = w->woken;

    if (w->in_wait) {
        TAILQ_REMOVE(&ctx->waiters, w, entry);
        w->in_wait = false;
    }
    libxl__waiter_leave_locked(ctx, w, have_timeouts);
    return woken;
}
