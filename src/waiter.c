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
 * earliest of the ctx's timeouts.  The others sleep untimed.  A timeout
 * that becomes the earliest pokes the timekeeper, which recomputes its
 * deadline.
 */
#include "internal.h"

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

void libxl__waiter_wake_locked(libxl__waiter *w)
{
    w->woken = true;
    pthread_cond_signal(&w->cond);
}

void libxl__waiter_sleep_locked(libxl_ctx *ctx, libxl__waiter *w,
                                const struct timespec *earliest)
{
    w->woken = false;
    TAILQ_INSERT_TAIL(&ctx->waiters, w, entry);
    if (!ctx->timekeeper)
        ctx->timekeeper = w;
    if (ctx->timekeeper == w && earliest)
        pthread_cond_timedwait(&w->cond, &ctx->lock, earliest);
    else
        pthread_cond_wait(&w->cond, &ctx->lock);
    TAILQ_REMOVE(&ctx->waiters, w, entry);
    /* The timekeeper keeps the role while it loops; it passes it on only
     * when it leaves (libxl__waiter_leave_locked), so that two idle
     * waiters do not hand it back and forth. */
}

void libxl__waiter_leave_locked(libxl_ctx *ctx, libxl__waiter *w,
                                bool have_timeouts)
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
            if (have_timeouts)
                libxl__waiter_wake_locked(o);
            return;
        }
    }
}

/* The timekeeper must recompute its deadline (an earlier timeout). */
void libxl__timekeeper_poke_locked(libxl_ctx *ctx)
{
    if (ctx->timekeeper && !ctx->timekeeper->woken)
        libxl__waiter_wake_locked(ctx->timekeeper);
}
