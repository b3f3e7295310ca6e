/*
 * enter.c - threads inside libxl calls on a ctx.
 *
 * Every public call on a ctx is bracketed by libxl__ctx_enter and
 * libxl__ctx_leave: the ctx counts its users, so that libxl_ctx_free can
 * wait for callbacks still running on other threads, and each thread keeps
 * the list of ctxs it is inside (callbacks nest), so that a call made from
 * a callback can tell (libxl__ctx_nested) and ctx_free from a callback of
 * its own ctx is refused instead of waiting for itself.
 *
 * A ctx belongs to the process image that allocated it: after a fork, the
 * child's copy is stale (F1) and every entry point refuses it.
 */
#include "internal.h"

#include <assert.h>

bool libxl__ctx_stale(libxl_ctx *ctx)
{
    return ctx->generation != __atomic_load_n(&G.generation, __ATOMIC_RELAXED);
}

/*
 * The calls this thread is inside, outermost first (callbacks nest): the
 * ctx of each, and what it waits with, if it waits (src/loop.c), so that a
 * thread cancelled where it sleeps can undo them all (E5).
 */
#define MAX_NESTED 16
typedef struct {
    libxl_ctx *ctx;
    libxl__waiter *w;
    libxl__ao *ao;
    int cancel_state; /* the caller's: library code runs with cancellation
                         disabled, but where this call sleeps
                         (libxl__cancel_sleep_begin) */
} frame;
static __thread frame frames[MAX_NESTED];
static __thread int nentered;

int libxl__ctx_enter(libxl_ctx *ctx, const char *func)
{
    if (!ctx || libxl__ctx_stale(ctx)) {
        libxl__log(NULL, LIBXL_LOG_ERROR, -1, func, "%s",
                   ctx ? "stale ctx (inherited across fork)" : "NULL ctx");
        return ERROR_INVAL;
    }
    CTX_LOCK(ctx);
    if (ctx->freeing) {
        CTX_UNLOCK(ctx);
        libxl__log(ctx, LIBXL_LOG_ERROR, -1, func, "ctx is being freed");
        return ERROR_INVAL;
    }
    ctx->users++;
    CTX_UNLOCK(ctx);
    /* A callback runs with cancellation disabled too, as the library code
     * around it: a call it makes is cancellable where it sleeps only if the
     * callback enabled cancellation itself. */
    if (nentered < MAX_NESTED) {
        frames[nentered] = (frame){.ctx = ctx};
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE,
                               &frames[nentered].cancel_state);
    }
    nentered++;
    return 0;
}

static void frame_pop(void)
{
    assert(nentered > 0);
    if (--nentered < MAX_NESTED)
        pthread_setcancelstate(frames[nentered].cancel_state, NULL);
}

void libxl__ctx_leave(libxl_ctx *ctx)
{
    frame_pop();
    CTX_LOCK(ctx);
    if (--ctx->users == 0 && ctx->freeing)
        pthread_cond_broadcast(&ctx->users_gone);
    CTX_UNLOCK(ctx);
}

bool libxl__ctx_nested(libxl_ctx *ctx)
{
    int i, n = 0;

    for (i = 0; i < nentered && i < MAX_NESTED; i++)
        n += frames[i].ctx == ctx;
    return n > 1 || nentered > MAX_NESTED;
}

void libxl__ctx_leave_in_child(void)
{
    frame_pop();
}

bool libxl__ctx_entered_here(libxl_ctx *ctx)
{
    int i;

    for (i = 0; i < nentered && i < MAX_NESTED; i++)
        if (frames[i].ctx == ctx)
            return true;
    return false;
}

void libxl__frame_waits(libxl__waiter *w, libxl__ao *ao)
{
    if (nentered > 0 && nentered <= MAX_NESTED) {
        frames[nentered - 1].w = w;
        frames[nentered - 1].ao = ao;
    }
}

bool libxl__cancel_sleep_begin(void)
{
    if (nentered < 1 || nentered > MAX_NESTED ||
        frames[nentered - 1].cancel_state != PTHREAD_CANCEL_ENABLE)
        return false; /* deeper, the outer calls could not be undone */
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
    return true;
}

void libxl__cancel_sleep_end(bool enabled)
{
    if (enabled)
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
}

void libxl__frames_unwind(void (*undo)(libxl_ctx *ctx, libxl__waiter *w,
                                       libxl__ao *ao, bool locked))
{
    bool innermost = true;

    while (nentered > 0) {
        frame f = frames[nentered - 1];

        /* Only the innermost call sleeps, holding its ctx's lock; the
         * outer ones are in callbacks, which run unlocked. */
        undo(f.ctx, f.w, f.ao, innermost);
        innermost = false;
        libxl__ctx_leave(f.ctx);
    }
}
