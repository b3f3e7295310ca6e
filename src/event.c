/*
 * event.c - the event queue, waiting threads, and the ctx's work loop.
 *
 * Work reaches a ctx from the reaper (statuses, unknown children) and from
 * its own timeouts.  Any application thread inside a libxl call on the ctx
 * may do that work (libxl__ctx_process_locked); each item is taken off its
 * queue under ctx->lock, so each is done exactly once.
 *
 * Waiting threads (event_wait, synchronous operations) each sleep on their
 * own condition variable, so that a wakeup goes to one thread that can use
 * it: a new status wakes one idle waiter, a new event wakes one waiter
 * whose typemask and predicate accept it, a completed synchronous
 * operation wakes its own thread.  One waiter at a time (the timekeeper)
 * sleeps with a deadline, the earliest timeout; the others sleep untimed.
 *
 * The wakeup fd (O1) is an eventfd, written once when work arrives and read
 * back when the queues are empty again; it is only touched once someone
 * has asked for it (beforepoll, osevent hooks).
 */
#include "internal.h"

#include <stdlib.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Wakeups                                                             */

static void wake_fd_arm_locked(libxl_ctx *ctx)
{
    uint64_t one = 1;

    if (!ctx->wake_used || ctx->wake_armed)
        return;
    if (write(ctx->wake_fd, &one, sizeof one) == sizeof one || errno == EAGAIN)
        ctx->wake_armed = true;
}

static void waiter_wake_locked(libxl__waiter *w)
{
    w->woken = true;
    pthread_cond_signal(&w->cond);
}

void libxl__ctx_kick_locked(libxl_ctx *ctx)
{
    libxl__waiter *w;

    wake_fd_arm_locked(ctx);
    TAILQ_FOREACH(w, &ctx->waiters, entry)
    {
        if (!w->woken) {
            waiter_wake_locked(w);
            return;
        }
    }
}

static bool has_work_locked(libxl_ctx *ctx)
{
    return !STAILQ_EMPTY(&ctx->reaped) || !STAILQ_EMPTY(&ctx->unknowns) ||
           !TAILQ_EMPTY(&ctx->failed) || !TAILQ_EMPTY(&ctx->events);
}

void libxl__ctx_settle_locked(libxl_ctx *ctx)
{
    uint64_t v;

    if (!ctx->wake_used)
        return;
    if (has_work_locked(ctx)) {
        wake_fd_arm_locked(ctx);
        return;
    }
    if (ctx->wake_armed) {
        if (read(ctx->wake_fd, &v, sizeof v) < 0 && errno != EAGAIN)
            LOGE(ctx, WARN, "read(wakeup eventfd)");
        ctx->wake_armed = false;
    }
}

/* ------------------------------------------------------------------ */
/* Waiters                                                             */

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
}

void libxl__waiter_destroy(libxl__waiter *w)
{
    pthread_cond_destroy(&w->cond);
}

static bool event_matches(const libxl_event *ev, uint64_t typemask,
                          libxl_event_predicate *pred, void *pred_user)
{
    if ((unsigned)ev->type >= 64 || !(typemask & (1ULL << ev->type)))
        return false;
    return !pred || pred(ev, pred_user);
}

void libxl__waiter_sleep_locked(libxl_ctx *ctx, libxl__waiter *w)
{
    const struct timespec *deadline;

    w->woken = false;
    TAILQ_INSERT_TAIL(&ctx->waiters, w, entry);
    if (!ctx->timekeeper)
        ctx->timekeeper = w;
    deadline =
        ctx->timekeeper == w ? libxl__timeouts_earliest_locked(ctx) : NULL;
    if (deadline)
        pthread_cond_timedwait(&w->cond, &ctx->lock, deadline);
    else
        pthread_cond_wait(&w->cond, &ctx->lock);
    TAILQ_REMOVE(&ctx->waiters, w, entry);
    /* The timekeeper keeps the role while it loops; it passes it on only
     * when it leaves (libxl__waiter_leave_locked), so that two idle
     * waiters do not hand it back and forth. */
}

void libxl__waiter_leave_locked(libxl_ctx *ctx, libxl__waiter *w)
{
    libxl__waiter *o;

    if (ctx->timekeeper != w)
        return;
    ctx->timekeeper = NULL;
    /* The role goes to a waiter asleep now, if any, even with no timeout
     * yet: a timeout set later pokes the timekeeper, and would find none
     * while the sleepers sleep untimed.  Otherwise the next sleeper takes
     * it. */
    TAILQ_FOREACH(o, &ctx->waiters, entry) {
        if (!o->woken) {
            ctx->timekeeper = o;
            /* sleeping untimed: it must now watch the clock */
            if (libxl__timeouts_earliest_locked(ctx))
                waiter_wake_locked(o);
            return;
        }
    }
}

/* The timekeeper must recompute its deadline (an earlier timeout). */
void libxl__timekeeper_poke_locked(libxl_ctx *ctx)
{
    if (ctx->timekeeper && !ctx->timekeeper->woken)
        waiter_wake_locked(ctx->timekeeper);
}

/* Wakes one sleeping waiter that would take ev, if there is one. */
static void wake_taker_locked(libxl_ctx *ctx, const libxl_event *ev)
{
    libxl__waiter *w;

    TAILQ_FOREACH(w, &ctx->waiters, entry)
    {
        if (!w->woken && !w->sync_ao &&
            event_matches(ev, w->typemask, w->pred, w->pred_user)) {
            waiter_wake_locked(w);
            return;
        }
    }
}

/* Wakes, for each queued event, one sleeping waiter that would take it. */
static void wake_for_events_locked(libxl_ctx *ctx)
{
    libxl_event *ev;

    if (TAILQ_EMPTY(&ctx->waiters))
        return;
    TAILQ_FOREACH(ev, &ctx->events, link)
        wake_taker_locked(ctx, ev);
}

/* ------------------------------------------------------------------ */
/* The work loop                                                       */

void libxl__disaster_locked(libxl_ctx *ctx, libxl_event_type type,
                            const char *msg, int errnoval)
{
    void (*d)(void *, libxl_event_type, const char *, int) =
        ctx->have_ev_hooks ? ctx->ev_hooks.disaster : NULL;
    void *user = ctx->ev_hooks_user;

    LOGEV(ctx, CRITICAL, errnoval, "%s", msg);
    if (d) {
        CTX_UNLOCK(ctx);
        d(user, type, msg, errnoval);
        CTX_LOCK(ctx);
    }
}

static void unknown_done_locked(libxl_ctx *ctx, libxl__unknown *u)
{
    int (*cb)(pid_t, int, void *) = NULL;
    void *user = ctx->hooks_user;
    pid_t pid = u->pid;
    int status = u->status;
    int r = ERROR_UNKNOWN_CHILD;

    free(u);
    if (ctx->have_hooks && ctx->mode != libxl_sigchld_owner_mainloop)
        cb = ctx->hooks.reaped_callback;
    if (cb) {
        CTX_UNLOCK(ctx);
        r = cb(pid, status, user);
        CTX_LOCK(ctx);
    }
    if (r == ERROR_UNKNOWN_CHILD || r == ERROR_NOT_READY)
        LOG(ctx, WARN, "reaped unknown child %d (wait status %#x)", (int)pid,
            status);
    else if (r)
        /* As in libxl: any other error from the hook is a disaster. */
        libxl__disaster_locked(ctx, 0, "reaped_callback failed", -1);
}

void libxl__ctx_process_locked(libxl_ctx *ctx, bool timeouts)
{
    for (;;) {
        libxl__child *ch = STAILQ_FIRST(&ctx->reaped);
        libxl__unknown *u;
        libxl__ao *ao;

        if (ch) {
            STAILQ_REMOVE_HEAD(&ctx->reaped, q_entry);
            libxl__child_done_locked(ctx, ch);
            continue;
        }
        u = STAILQ_FIRST(&ctx->unknowns);
        if (u) {
            STAILQ_REMOVE_HEAD(&ctx->unknowns, entry);
            unknown_done_locked(ctx, u);
            continue;
        }
        ao = TAILQ_FIRST(&ctx->failed);
        if (ao) {
            /* back on ctx->aos, which complete_locked takes it off */
            TAILQ_REMOVE(&ctx->failed, ao, entry);
            TAILQ_INSERT_HEAD(&ctx->aos, ao, entry);
            libxl__ao_complete_locked(ctx, ao, ao->rc);
            continue;
        }
        if (timeouts && libxl__timeouts_run_locked(ctx))
            continue;
        break;
    }
    libxl__ctx_settle_locked(ctx);
}

/* ------------------------------------------------------------------ */
/* Events                                                              */

void libxl__event_occurred_locked(libxl_ctx *ctx, libxl_event *ev)
{
    if (ctx->have_ev_hooks && ctx->ev_hooks.event_occurs &&
        (unsigned)ev->type < 64 &&
        (ctx->ev_hooks.event_occurs_mask & (1ULL << ev->type))) {
        void (*fn)(void *, libxl_event *) = ctx->ev_hooks.event_occurs;
        void *user = ctx->ev_hooks_user;
        CTX_UNLOCK(ctx);
        fn(user, ev);
        CTX_LOCK(ctx);
        return;
    }
    TAILQ_INSERT_TAIL(&ctx->events, ev, link);
    wake_fd_arm_locked(ctx);
    /* Only ev needs a taker: a waiter asleep took none of the others when
     * it went to sleep, and taking one rescans (take_event_locked). */
    wake_taker_locked(ctx, ev);
}

void libxl__events_free_locked(libxl_ctx *ctx)
{
    libxl_event *ev;

    while ((ev = TAILQ_FIRST(&ctx->events))) {
        TAILQ_REMOVE(&ctx->events, ev, link);
        free(ev);
    }
}

static libxl_event *take_event_locked(libxl_ctx *ctx, uint64_t typemask,
                                      libxl_event_predicate *pred, void *user)
{
    libxl_event *ev;

    TAILQ_FOREACH(ev, &ctx->events, link)
    {
        if (event_matches(ev, typemask, pred, user)) {
            TAILQ_REMOVE(&ctx->events, ev, link);
            /* Another waiter may have been woken for the event we took
             * (it matched both): make sure what is left has a taker. */
            if (!TAILQ_EMPTY(&ctx->events))
                wake_for_events_locked(ctx);
            return ev;
        }
    }
    return NULL;
}

static int event_check_entered(libxl_ctx *ctx, libxl_event **event_r,
                               uint64_t typemask, libxl_event_predicate *pred,
                               void *user)
{
    libxl_event *ev;

    CHECK_ARG(ctx, event_r);
    CTX_LOCK(ctx);
    libxl__ctx_process_locked(ctx, false);
    ev = take_event_locked(ctx, typemask, pred, user);
    libxl__ctx_settle_locked(ctx);
    CTX_UNLOCK(ctx);
    *event_r = ev;
    return ev ? 0 : ERROR_NOT_READY;
}

static int event_wait_entered(libxl_ctx *ctx, libxl_event **event_r,
                              uint64_t typemask, libxl_event_predicate *pred,
                              void *user)
{
    libxl__waiter w;
    libxl_event *ev = NULL;
    int rc = 0;

    CHECK_ARG(ctx, event_r);
    libxl__waiter_init(&w);
    w.typemask = typemask;
    w.pred = pred;
    w.pred_user = user;
    CTX_LOCK(ctx);
    for (;;) {
        libxl__ctx_process_locked(ctx, true);
        ev = take_event_locked(ctx, typemask, pred, user);
        if (ev)
            break;
        if (ctx->freeing) {
            LOG(ctx, ERROR, "ctx freed while waiting for an event");
            rc = ERROR_INVAL;
            break;
        }
        libxl__waiter_sleep_locked(ctx, &w);
    }
    libxl__waiter_leave_locked(ctx, &w);
    libxl__ctx_settle_locked(ctx);
    CTX_UNLOCK(ctx);
    libxl__waiter_destroy(&w);
    *event_r = ev;
    return rc;
}

LIBXL_EXPORT int libxl_event_check(libxl_ctx *ctx, libxl_event **event_r,
                                   uint64_t typemask,
                                   libxl_event_predicate *pred, void *user)
{
    int rc = libxl__ctx_enter(ctx, __func__);

    if (rc)
        return rc;
    rc = event_check_entered(ctx, event_r, typemask, pred, user);
    libxl__ctx_leave(ctx);
    return rc;
}

LIBXL_EXPORT int libxl_event_wait(libxl_ctx *ctx, libxl_event **event_r,
                                  uint64_t typemask,
                                  libxl_event_predicate *pred, void *user)
{
    int rc = libxl__ctx_enter(ctx, __func__);

    if (rc)
        return rc;
    rc = event_wait_entered(ctx, event_r, typemask, pred, user);
    libxl__ctx_leave(ctx);
    return rc;
}

LIBXL_EXPORT void libxl_event_free(libxl_ctx *ctx, libxl_event *event)
{
    (void)ctx;
    free(event);
}

LIBXL_EXPORT void libxl_event_register_callbacks(libxl_ctx *ctx,
                                                 const libxl_event_hooks *hooks,
                                                 void *user)
{
    if (libxl__ctx_enter(ctx, __func__))
        return;
    CTX_LOCK(ctx);
    if (hooks) {
        ctx->ev_hooks = *hooks;
        ctx->have_ev_hooks = true;
    } else {
        ctx->have_ev_hooks = false;
    }
    ctx->ev_hooks_user = user;
    CTX_UNLOCK(ctx);
    libxl__ctx_leave(ctx);
}
