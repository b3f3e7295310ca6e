/*
 * ctx.c - allocating and freeing contexts.
 *
 * A ctx is registered with the process (G.ctxs, src/mode.c) from alloc to
 * free; libxl_ctx_free first lets every thread inside a call on it go,
 * then orphans its children (their statuses are discarded when they come),
 * then frees what is left of it.
 */
#include "internal.h"

#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

LIBXL_EXPORT int libxl_ctx_alloc(libxl_ctx **pctx, int version, unsigned flags,
                                 libxl_logger *lg)
{
    libxl_ctx *ctx;
    sigset_t chld, old;
    int rc;

    CHECK_ARG(NULL, pctx);
    *pctx = NULL;
    if (version != LIBXL_VERSION) {
        LOG(NULL, ERROR, "version %d requested, this is version %d", version,
            LIBXL_VERSION);
        return ERROR_VERSION;
    }
    CHECK_ARG(NULL, flags == 0);
    libxl__global_init();

    ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        libxl__log_lg(lg, LIBXL_LOG_ERROR, errno, __func__,
                      "cannot allocate the ctx");
        return ERROR_NOMEM;
    }
    ctx->lg = lg;
    LIBXL__ATOMIC_VAR(ctx->inflight);
    ctx->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ctx->wake_fd < 0) {
        LOGE(ctx, ERROR, "eventfd");
        rc = ERROR_FAIL;
        goto out_free;
    }
    if ((rc = pthread_mutex_init(&ctx->lock, NULL))) {
        LOGEV(ctx, ERROR, rc, "pthread_mutex_init");
        rc = ERROR_FAIL;
        goto out_close;
    }
    if ((rc = pthread_cond_init(&ctx->users_gone, NULL))) {
        LOGEV(ctx, ERROR, rc, "pthread_cond_init");
        rc = ERROR_FAIL;
        goto out_mutex;
    }
    if ((rc = pthread_cond_init(&ctx->started, NULL))) {
        LOGEV(ctx, ERROR, rc, "pthread_cond_init");
        rc = ERROR_FAIL;
        goto out_cond;
    }
    STAILQ_INIT(&ctx->reaped);
    TAILQ_INIT(&ctx->failed);
    TAILQ_INIT(&ctx->events);
    TAILQ_INIT(&ctx->waiters);
    TAILQ_INIT(&ctx->timeouts);
    TAILQ_INIT(&ctx->aos);
    LIST_INIT(&ctx->osregs);
    LIST_INIT(&ctx->captures);
    /* Wakes a waiter asleep in poll() (src/waiter.c): one that leads, or
     * drains capture pipes.  Made now so that a ctx's fds do not change
     * while it is used; if it cannot be, the first poller tries again. */
    ctx->poll_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    LIST_INIT(&ctx->children);
    ctx->mode = libxl_sigchld_owner_libxl;

    /* M1: the reaper must be the only thread that takes SIGCHLD. */
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &chld, &old);
    ctx->alloc_thread = pthread_self();
    ctx->sigchld_was_unblocked = !sigismember(&old, SIGCHLD);
    ctx->sigchld_was_ignored = libxl__sigchld_unignore(ctx);

    libxl__mode_ctx_register(ctx);

    *pctx = ctx;
    return 0;

out_cond:
    pthread_cond_destroy(&ctx->users_gone);
out_mutex:
    pthread_mutex_destroy(&ctx->lock);
out_close:
    close(ctx->wake_fd);
out_free:
    free(ctx);
    return rc;
}

static int ctx_free(libxl_ctx *ctx)
{
    libxl__child *ch;
    int running;

    if (!ctx)
        return 0;
    if (libxl__ctx_stale(ctx)) {
        LOG(NULL, ERROR, "stale ctx (inherited across fork): not freed");
        return ERROR_INVAL;
    }
    if (libxl__ctx_entered_here(ctx)) {
        LOG(ctx, ERROR, "called from a callback of the same ctx: not freed");
        return ERROR_INVAL;
    }

    /* Threads still inside calls on ctx (callbacks running, waiters) are
     * woken and let go before anything is torn down. */
    CTX_LOCK(ctx);
    if (ctx->freeing) {
        CTX_UNLOCK(ctx);
        LOG(ctx, ERROR, "ctx freed twice at once");
        return ERROR_INVAL;
    }
    ctx->freeing = true;
    {
        libxl__waiter *w;
        TAILQ_FOREACH(w, &ctx->waiters, entry)
            libxl__waiter_wake_locked(w);
    }
    while (ctx->users > 0)
        pthread_cond_wait(&ctx->users_gone, &ctx->lock);
    CTX_UNLOCK(ctx);

    /* After this the reaper no longer knows ctx: children still running
     * are reaped later and their statuses discarded.  What it collected
     * before may still be on its way here: wait for that. */
    running = libxl__mode_ctx_unregister(ctx);
    CTX_LOCK(ctx);
    while (__atomic_load_n(&ctx->inflight, __ATOMIC_ACQUIRE) > 0)
        pthread_cond_wait(&ctx->users_gone, &ctx->lock);
    CTX_UNLOCK(ctx);
    if (running)
        LOG(ctx, DEBUG,
            "%d children still running: they will be reaped and"
            " their statuses discarded",
            running);

    CTX_LOCK(ctx);
    while ((ch = STAILQ_FIRST(&ctx->reaped))) {
        STAILQ_REMOVE_HEAD(&ctx->reaped, q_entry);
        LOG(ctx, DEBUG, "discarding status %#x of child %d", ch->status,
            (int)ch->pid);
        libxl__child_free(ch);
    }
    libxl__aos_free_locked(ctx);
    libxl__timeouts_free_locked(ctx);
    libxl__osevent_free_locked(ctx);
    libxl__events_free_locked(ctx);
    CTX_UNLOCK(ctx);

    if (ctx->wake_used)
        libxl__lead_wake_fd_unused();
    libxl__lead_end(ctx); /* a poll loop of ctx's may have led */
    close(ctx->wake_fd);
    if (ctx->poll_efd >= 0)
        close(ctx->poll_efd);
    pthread_cond_destroy(&ctx->started);
    pthread_cond_destroy(&ctx->users_gone);
    pthread_mutex_destroy(&ctx->lock);
    free(ctx);
    return 0;
}

LIBXL_EXPORT int libxl_ctx_free(libxl_ctx *ctx)
{
    int rc, cs;

    /* Waits for other threads, but is not one of the calls a thread may be
     * cancelled in (E5): a half-freed ctx would help nobody. */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
    rc = ctx_free(ctx);
    pthread_setcancelstate(cs, NULL);
    return rc;
}
