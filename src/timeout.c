/*
 * timeout.c - a ctx's timers (libxl_childproc_args.timeout_ms and the kill
 * grace), kept in a list sorted by deadline on CLOCK_MONOTONIC.
 *
 * Timers of one operation are mostly set with equal delays, so a new one
 * nearly always belongs at the tail: insertion searches from there.  With
 * osevent hooks, each timer is also registered with the application
 * (src/osevent.c); whichever fires first wins.
 */
#include "internal.h"

#include <stdlib.h>

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec ||
           (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

void libxl__timeout_init(libxl__timeout *t,
                         void (*fire)(libxl_ctx *, libxl__timeout *))
{
    t->active = false;
    t->fire = fire;
    t->osreg = NULL;
}

int libxl__timeout_set_locked(libxl_ctx *ctx, libxl__timeout *t, int ms)
{
    libxl__timeout *after;
    int rc;

    libxl__timeout_cancel_locked(ctx, t);
    libxl__now(&t->deadline);
    t->deadline.tv_sec += ms / 1000;
    t->deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t->deadline.tv_nsec >= 1000000000L) {
        t->deadline.tv_sec++;
        t->deadline.tv_nsec -= 1000000000L;
    }
    rc = libxl__osevent_timeout_added_locked(ctx, t);
    if (rc)
        return rc;
    TAILQ_FOREACH_REVERSE(after, &ctx->timeouts, libxl__timeout_q, entry)
        if (!ts_before(&t->deadline, &after->deadline))
            break;
    if (after)
        TAILQ_INSERT_AFTER(&ctx->timeouts, after, t, entry);
    else
        TAILQ_INSERT_HEAD(&ctx->timeouts, t, entry);
    t->active = true;
    if (TAILQ_FIRST(&ctx->timeouts) == t)
        libxl__timekeeper_poke_locked(ctx);
    return 0;
}

void libxl__timeout_cancel_locked(libxl_ctx *ctx, libxl__timeout *t)
{
    if (!t->active)
        return;
    TAILQ_REMOVE(&ctx->timeouts, t, entry);
    t->active = false;
    libxl__osevent_timeout_removed_locked(ctx, t);
}

bool libxl__timeouts_run_locked(libxl_ctx *ctx)
{
    struct timespec now;
    libxl__timeout *t;
    bool fired = false;

    if (TAILQ_EMPTY(&ctx->timeouts))
        return false;
    libxl__now(&now);
    while ((t = TAILQ_FIRST(&ctx->timeouts)) &&
           !ts_before(&now, &t->deadline)) {
        libxl__timeout_cancel_locked(ctx, t);
        t->fire(ctx, t);
        fired = true;
    }
    return fired;
}

const struct timespec *libxl__timeouts_earliest_locked(libxl_ctx *ctx)
{
    libxl__timeout *t = TAILQ_FIRST(&ctx->timeouts);

    return t ? &t->deadline : NULL;
}

int libxl__timeouts_next_ms_locked(libxl_ctx *ctx)
{
    const struct timespec *d = libxl__timeouts_earliest_locked(ctx);
    struct timespec now;
    long long ms;

    if (!d)
        return -1;
    libxl__now(&now);
    ms = (long long)(d->tv_sec - now.tv_sec) * 1000 +
         (d->tv_nsec - now.tv_nsec + 999999) / 1000000;
    if (ms < 0)
        return 0;
    return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

void libxl__timeouts_free_locked(libxl_ctx *ctx)
{
    libxl__timeout *t;

    while ((t = TAILQ_FIRST(&ctx->timeouts)))
        libxl__timeout_cancel_locked(ctx, t);
}
