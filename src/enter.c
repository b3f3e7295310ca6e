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

bool libxl__ctx_stale(libxl_ctx *ctx)
{
    return ctx->generation != __atomic_load_n(&G.generation, __ATOMIC_RELAXED);
}

/* The ctxs this thread is inside (callbacks nest), so that ctx_free from a
 * callback of its own ctx is refused instead of waiting for itself. */
#define MAX_NESTED 16
static __thread libxl_ctx *entered[MAX_NESTED];
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
    if (nentered < MAX_NESTED)
        entered[nentered] = ctx;
    nentered++;
    return 0;
}

void libxl__ctx_leave(libxl_ctx *ctx)
{
    nentered--;
    CTX_LOCK(ctx);
    if (--ctx->users == 0 && ctx->freeing)
        pthread_cond_broadcast(&ctx->users_gone);
    CTX_UNLOCK(ctx);
}

bool libxl__ctx_nested(libxl_ctx *ctx)
{
    int i, n = 0;

    for (i = 0; i < nentered && i < MAX_NESTED; i++)
        n += entered[i] == ctx;
    return n > 1 || nentered > MAX_NESTED;
}

void libxl__ctx_leave_in_child(void)
{
    nentered--;
}

bool libxl__ctx_entered_here(libxl_ctx *ctx)
{
    int i;

    for (i = 0; i < nentered && i < MAX_NESTED; i++)
        if (entered[i] == ctx)
            return true;
    return false;
}

