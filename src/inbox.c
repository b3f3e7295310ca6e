/*
 * inbox.c - the per-ctx queue that collected statuses arrive in.
 *
 * The data flow of the library is reaper -> inbox -> consumers: whoever
 * collects a status (the reaper thread, or a thread of an owner_mainloop
 * ctx) hands it here; the application threads inside libxl calls on that
 * ctx take it off ctx->reaped in the work loop (src/loop.c).
 *
 * Handing over wakes one waiter and arms the ctx's wakeup fd (O1): an
 * eventfd, written once when work arrives and read back when the queues
 * are empty again; it is only touched once someone has asked for it
 * (beforepoll, osevent hooks).
 *
 * The reaper never takes a ctx lock while holding G.lock: it counts each
 * batch in the target ctx's inflight under G.lock (libxl__inbox_expect),
 * drops G.lock, then hands the batch over here under the ctx's lock,
 * uncounting it.  libxl_ctx_free waits for inflight to fall to 0.
 *
 * This file calls nothing of threads/: it sits below the reaper.
 */
#include "internal.h"

#include <assert.h>

#include <unistd.h>

void libxl__wake_fd_arm_locked(libxl_ctx *ctx)
{
    uint64_t one = 1;

    if (!ctx->wake_used || ctx->wake_armed)
        return;
    if (write(ctx->wake_fd, &one, sizeof one) == sizeof one || errno == EAGAIN)
        ctx->wake_armed = true;
}

void libxl__ctx_kick_locked(libxl_ctx *ctx)
{
    libxl__waiter *w, *tk = NULL;

    /* A thread collecting for ctx (a leader: src/loop.c, src/osevent.c)
     * does the work it hands in itself, and settles the wakeup fd after. */
    if (ctx->collecting)
        return;
    libxl__wake_fd_arm_locked(ctx);
    /* One idle waiter, preferably not the one watching the clock (it would
     * have to hand that role on before it works). */
    TAILQ_FOREACH(w, &ctx->waiters, entry) {
        if (w->woken)
            continue;
        if (w != ctx->timekeeper) {
            libxl__waiter_wake_locked(w);
            return;
        }
        tk = w;
    }
    if (tk)
        libxl__waiter_wake_locked(tk);
}

static bool has_work_locked(libxl_ctx *ctx)
{
    return !STAILQ_EMPTY(&ctx->reaped) || !TAILQ_EMPTY(&ctx->failed) ||
           !TAILQ_EMPTY(&ctx->events);
}

void libxl__ctx_settle_locked(libxl_ctx *ctx)
{
    uint64_t v;

    if (!ctx->wake_used)
        return;
    if (has_work_locked(ctx)) {
        libxl__wake_fd_arm_locked(ctx);
        return;
    }
    if (ctx->wake_armed) {
        if (read(ctx->wake_fd, &v, sizeof v) < 0 && errno != EAGAIN)
            LOGE(ctx, WARN, "read(wakeup eventfd)");
        ctx->wake_armed = false;
    }
}

void libxl__inbox_expect(libxl_ctx *ctx)
{
    __atomic_add_fetch(&ctx->inflight, 1, __ATOMIC_RELAXED);
}

/* n fewer statuses on their way to ctx (ctx->lock held): libxl_ctx_free
 * may be waiting for the last. */
static void inflight_done_locked(libxl_ctx *ctx, int n)
{
    if (__atomic_sub_fetch(&ctx->inflight, n, __ATOMIC_ACQ_REL) == 0 &&
        ctx->freeing)
        pthread_cond_broadcast(&ctx->users_gone);
}

void libxl__inbox_deliver(struct libxl__child_q *batch, bool expected)
{
    libxl__child *ch = STAILQ_FIRST(batch);

    /* One lock and one wakeup per run of entries for the same ctx (a pass
     * usually collects for one ctx). */
    while (ch) {
        libxl_ctx *ctx = ch->ctx;
        int n = 0;

        assert(ctx); /* orphans are freed when collected, never handed on */
        CTX_LOCK(ctx);
        while (ch && ch->ctx == ctx) {
            libxl__child *next = STAILQ_NEXT(ch, q_entry);
            STAILQ_INSERT_TAIL(&ctx->reaped, ch, q_entry);
            ch = next;
            n++;
        }
        libxl__ctx_kick_locked(ctx);
        if (expected)
            inflight_done_locked(ctx, n);
        CTX_UNLOCK(ctx);
    }
    STAILQ_INIT(batch);
}
