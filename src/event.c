/*
 * event.c - the ctx's event queue (section 3): events are queued in the
 * order they were generated (E3), each is taken by exactly one thread
 * (E2), and event_occurs hooks are called instead of queuing where the
 * application asked for them (E4).
 *
 * Taking events while waiting for them is the work loop's (src/loop.c).
 */
#include "internal.h"

#include <stdlib.h>

static bool event_matches(const libxl_event *ev, uint64_t typemask,
                          libxl_event_predicate *pred, void *pred_user)
{
    if ((unsigned)ev->type >= 64 || !(typemask & (1ULL << ev->type)))
        return false;
    return !pred || pred(ev, pred_user);
}

/* Wakes one sleeping waiter that would take ev, if there is one. */
static void wake_taker_locked(libxl_ctx *ctx, const libxl_event *ev)
{
    libxl__waiter *w;

    TAILQ_FOREACH(w, &ctx->waiters, entry) {
        if (!w->woken && !w->sync_ao &&
            event_matches(ev, w->typemask, w->pred, w->pred_user)) {
            libxl__waiter_wake_locked(w);
            return;
        }
    }
}

/* Wakes, for each queued event, one sleeping waiter that would take it. */
void libxl__event_wake_takers_locked(libxl_ctx *ctx)
{
    libxl_event *ev;

    if (TAILQ_EMPTY(&ctx->waiters))
        return;
    TAILQ_FOREACH(ev, &ctx->events, link)
        wake_taker_locked(ctx, ev);
}

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
    libxl__wake_fd_arm_locked(ctx);
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

libxl_event *libxl__event_take_locked(libxl_ctx *ctx, uint64_t typemask,
                                      libxl_event_predicate *pred, void *user)
{
    libxl_event *ev;

    TAILQ_FOREACH(ev, &ctx->events, link) {
        if (event_matches(ev, typemask, pred, user)) {
            TAILQ_REMOVE(&ctx->events, ev, link);
            /* Another waiter may have been woken for the event we took
             * (it matched both): make sure what is left has a taker. */
            if (!TAILQ_EMPTY(&ctx->events))
                libxl__event_wake_takers_locked(ctx);
            return ev;
        }
    }
    return NULL;
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
