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
    w->in_wait = false;
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
    TAILQ_FOREACH(o, &ctx->waiters, entry)
    {
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
void libxl__waiter_sleep_locked(libxl_ctx *ctx, libxl__waiter *w,
                                const struct timespec *earliest)
{
    bool timed;

    w->woken = false;
    w->in_wait = true;
    TAILQ_INSERT_TAIL(&ctx->waiters, w, entry);
    if (!asleep(ctx->timekeeper))
        ctx->timekeeper = w;
    timed = ctx->timekeeper == w && earliest;
    if (timed)
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
