/*
 * osevent.c - main-loop integration (section 8): beforepoll/afterpoll and
 * the application's osevent hooks.
 *
 * The ctx has exactly one fd of its own, the wakeup eventfd, readable while
 * it has queued work (O1).  Its timers are the ctx's own (src/timeout.c):
 * beforepoll reduces the poll timeout to the earliest; with hooks, each
 * timer is also registered through timeout_register (src/osreg.c).  Each
 * entry point here runs the ctx's work loop (src/loop.c).
 */
#include "internal.h"

#include <poll.h>
#include <stdlib.h>
#include <sys/time.h>

LIBXL_EXPORT void libxl_osevent_register_hooks(libxl_ctx *ctx,
                                               const libxl_osevent_hooks *hooks,
                                               void *user)
{
    if (libxl__ctx_enter(ctx, __func__))
        return;
    CTX_LOCK(ctx);
    if (!hooks) {
        LOG(ctx, ERROR, "register_hooks: NULL hooks");
    } else if (ctx->have_os_hooks) {
        LOG(ctx, ERROR, "osevent hooks may be registered only once per ctx");
    } else {
        ctx->os_hooks = *hooks;
        ctx->os_hooks_user = user;
        ctx->have_os_hooks = true;
        /* A failure is logged and retried by the next operation, which
         * then returns the hook's error to its caller. */
        libxl__osevent_ready_locked(ctx);
    }
    CTX_UNLOCK(ctx);
    libxl__ctx_leave(ctx);
}

LIBXL_EXPORT void libxl_osevent_occurred_fd(libxl_ctx *ctx, void *for_libxl,
                                            int fd, short events, short revents)
{
    (void)events;
    (void)revents;
    if (libxl__ctx_enter(ctx, __func__))
        return;
    CTX_LOCK(ctx);
    /* Whatever events/revents say, look at what is actually queued.  With
     * timeout hooks, timeouts fire through occurred_timeout only (O2). */
    if ((for_libxl == ctx && fd == ctx->wake_fd && ctx->wake_fd_registered) ||
        (!LIST_EMPTY(&ctx->captures) &&
         libxl__capture_token_locked(ctx, (uintptr_t)for_libxl)))
        libxl__ctx_process_locked(ctx, !ctx->os_hooks.timeout_register);
    CTX_UNLOCK(ctx);
    libxl__ctx_leave(ctx);
}

LIBXL_EXPORT void libxl_osevent_occurred_timeout(libxl_ctx *ctx,
                                                 void *for_libxl)
{
    libxl__osreg *reg;
    libxl__timeout *t = NULL;

    if (libxl__ctx_enter(ctx, __func__))
        return;
    CTX_LOCK(ctx);
    LIST_FOREACH(reg, &ctx->osregs, entry)
        if (reg->token == (uintptr_t)for_libxl)
            break;
    if (!reg) {
        CTX_UNLOCK(ctx); /* not ours (any more): ignored */
        libxl__ctx_leave(ctx);
        return;
    }
    /* The application has forgotten it: never modified or deregistered. */
    LIST_REMOVE(reg, entry);
    t = reg->timeout;
    free(reg);
    if (t) {
        t->osreg = NULL;
        libxl__timeout_cancel_locked(ctx, t);
        t->fire(ctx, t);
    }
    libxl__ctx_process_locked(ctx, true);
    CTX_UNLOCK(ctx);
    libxl__ctx_leave(ctx);
}

LIBXL_EXPORT int libxl_osevent_beforepoll(libxl_ctx *ctx, int *nfds_io,
                                          struct pollfd *fds, int *timeout_upd,
                                          struct timeval now)
{
    int needed = 1, rc = 0, ms, lead_fd;

    (void)now; /* deadlines are kept on CLOCK_MONOTONIC */
    if (!nfds_io || !timeout_upd || (!fds && *nfds_io > 0)) {
        LOG(ctx, ERROR, "beforepoll: invalid argument");
        return ERROR_INVAL;
    }
    if ((rc = libxl__ctx_enter(ctx, __func__)))
        return rc;
    CTX_LOCK(ctx);
    if (!ctx->wake_used) {
        ctx->wake_used = true;
        libxl__lead_wake_fd_used();
    }
    libxl__ctx_settle_locked(ctx);
    /* S5: the runs' pipes are polled beside the wakeup fd. */
    if (!LIST_EMPTY(&ctx->captures))
        needed += libxl__capture_pollfds_locked(
            ctx, *nfds_io > 1 ? fds + 1 : NULL, *nfds_io - 1);
    if (*nfds_io < needed) {
        rc = ERROR_BUFFERFULL;
    } else {
        fds[0].fd = ctx->wake_fd;
        fds[0].events = POLLIN;
        fds[0].revents = 0;
        /* Where there is room (it is never asked for), the loop sleeps on
         * the reaper's wait set too, and afterpoll collects (E2,
         * threads/leader.c). */
        if (*nfds_io > needed && ctx->mode != libxl_sigchld_owner_mainloop &&
            (lead_fd = libxl__lead_begin(ctx, true, NULL)) >= 0) {
            fds[needed].fd = lead_fd;
            fds[needed].events = POLLIN;
            fds[needed].revents = 0;
            needed++;
        }
    }
    *nfds_io = needed;
    ms = libxl__timeouts_next_ms_locked(ctx);
    if (ms >= 0 && (*timeout_upd < 0 || ms < *timeout_upd))
        *timeout_upd = ms;
    CTX_UNLOCK(ctx);
    libxl__ctx_leave(ctx);
    return rc;
}

LIBXL_EXPORT void libxl_osevent_afterpoll(libxl_ctx *ctx, int nfds,
                                          const struct pollfd *fds,
                                          struct timeval now)
{
    bool ready = libxl__lead_fd_ready(nfds, fds);

    (void)now;
    if (libxl__ctx_enter(ctx, __func__))
        return;
    /* Stale or partial revents are harmless: process what is queued. */
    CTX_LOCK(ctx);
    if (ready) { /* the reaper's wait set, handed out by beforepoll */
        ctx->collecting++;
        CTX_UNLOCK(ctx);
        libxl__reaper_collect();
        CTX_LOCK(ctx);
        ctx->collecting--;
    }
    libxl__ctx_process_locked(ctx, true);
    CTX_UNLOCK(ctx);
    libxl__ctx_leave(ctx);
}
