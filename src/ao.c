/*
 * ao.c - asynchronous operations: creation, completion, abort.
 *
 * An ao is on ctx->aos from creation to completion (so libxl_ao_abort can
 * find it).  Completion is delivered as libxl does: a synchronous ao wakes
 * the thread that waits for it (which frees it); otherwise the callback is
 * called, or an OPERATION_COMPLETE event queued, and the ao freed.
 */
#include "internal.h"

#include <assert.h>

#include <stdlib.h>

libxl__ao *libxl__ao_new(libxl_ctx *ctx, const libxl_asyncop_how *how)
{
    libxl__ao *ao = calloc(1, sizeof *ao);

    if (!ao)
        return NULL;
    ao->ctx = ctx;
    if (how)
        ao->how = *how;
    else
        ao->sync = true;
    if (how && !how->callback && !(ao->ev = calloc(1, sizeof *ao->ev))) {
        free(ao);
        return NULL;
    }
    return ao;
}

void libxl__ao_free(libxl__ao *ao)
{
    free(ao->ev);
    free(ao);
}

void libxl__ao_fail_later_locked(libxl_ctx *ctx, libxl__ao *ao, int rc)
{
    if (ao->sync) {
        libxl__ao_complete_locked(ctx, ao, rc); /* only wakes its thread */
        return;
    }
    ao->rc = rc;
    TAILQ_REMOVE(&ctx->aos, ao, entry);
    TAILQ_INSERT_TAIL(&ctx->failed, ao, entry);
    libxl__ctx_kick_locked(ctx);
}

void libxl__ao_complete_locked(libxl_ctx *ctx, libxl__ao *ao, int rc)
{
    assert(!ao->complete); /* each operation completes once */
    ao->rc = rc;
    ao->complete = true;
    TAILQ_REMOVE(&ctx->aos, ao, entry);
    libxl__timeout_cancel_locked(ctx, &ao->timer);

    if (ao->sync) {
        if (ao->waiter && !ao->waiter->woken)
            libxl__waiter_wake_locked(ao->waiter);
        return; /* the waiting thread frees it */
    }
    if (ao->how.callback) {
        void (*cb)(libxl_ctx *, int, void *) = ao->how.callback;
        void *for_callback = ao->how.u.for_callback;
        free(ao);
        CTX_UNLOCK(ctx);
        cb(ctx, rc, for_callback);
        CTX_LOCK(ctx);
        return;
    }
    {
        libxl_event *ev = ao->ev;
        uint64_t for_user = ao->how.u.for_event;
        free(ao);
        ev->type = LIBXL_EVENT_TYPE_OPERATION_COMPLETE;
        ev->for_user = for_user;
        ev->u.operation_complete.rc = rc;
        libxl__event_occurred_locked(ctx, ev);
    }
}

/* ctx_free: operations in progress are dropped without their callbacks. */
void libxl__aos_free_locked(libxl_ctx *ctx)
{
    libxl__ao *ao;

    TAILQ_CONCAT(&ctx->aos, &ctx->failed, entry);
    while ((ao = TAILQ_FIRST(&ctx->aos))) {
        TAILQ_REMOVE(&ctx->aos, ao, entry);
        libxl__timeout_cancel_locked(ctx, &ao->timer);
        libxl__capture_free_locked(ctx, ao->cap);
        libxl__ao_free(ao); /* asynchronous: a synchronous one is its
                               thread's, which has left with it */
    }
}

static bool how_equal(const libxl__ao *ao, const libxl_asyncop_how *how)
{
    if (!how)
        return ao->sync;
    if (ao->sync || ao->how.callback != how->callback)
        return false;
    return how->callback ? ao->how.u.for_callback == how->u.for_callback
                         : ao->how.u.for_event == how->u.for_event;
}

/* The operation in progress that how names (as libxl_ao_abort and
 * libxl_childproc_kill take it), or NULL. */
static libxl__ao *ao_find_locked(libxl_ctx *ctx, const libxl_asyncop_how *how)
{
    libxl__ao *ao;

    TAILQ_FOREACH(ao, &ctx->aos, entry) {
        if (how_equal(ao, how))
            return ao;
    }
    return NULL;
}

LIBXL_EXPORT int libxl_ao_abort(libxl_ctx *ctx, const libxl_asyncop_how *how)
{
    libxl__ao *ao;
    int rc = libxl__ctx_enter(ctx, __func__);

    if (rc)
        return rc;
    CTX_LOCK(ctx);
    ao = ao_find_locked(ctx, how);
    if (!ao) {
        rc = ERROR_NOTFOUND;
    } else if (ao->abort_requested) {
        rc = ERROR_ABORTED;
    } else {
        ao->abort_requested = true;
        if (ao->abort)
            ao->abort(ctx, ao);
    }
    CTX_UNLOCK(ctx);
    libxl__ctx_leave(ctx);
    return rc;
}

/* S2: like libxl_ao_abort's search, but for a signal of the caller's
 * choosing, and only for asynchronous runs (how == NULL would name a
 * synchronous run, whose own thread is blocked in it). */
LIBXL_EXPORT int libxl_childproc_kill(libxl_ctx *ctx,
                                      const libxl_asyncop_how *how, int sig)
{
    libxl__ao *ao;
    int rc;

    if (!how) {
        libxl__log(ctx, LIBXL_LOG_ERROR, -1, __func__, "how is NULL");
        return ERROR_INVAL;
    }
    if (sig < 0 || sig >= NSIG) {
        libxl__log(ctx, LIBXL_LOG_ERROR, -1, __func__,
                   "sig %d is not a signal number", sig);
        return ERROR_INVAL;
    }
    rc = libxl__ctx_enter(ctx, __func__);
    if (rc)
        return rc;
    CTX_LOCK(ctx);
    ao = ao_find_locked(ctx, how);
    rc = ao && ao->child ? libxl__child_signal(ctx, ao->child, sig)
                         : ERROR_NOTFOUND;
    CTX_UNLOCK(ctx);
    libxl__ctx_leave(ctx);
    return rc;
}
