/*
 * osreg.c - what a ctx registers with the application's osevent hooks
 * (section 8): its wakeup fd, once, and each of its timeouts.
 *
 * A timeout registered through timeout_register has a record (libxl__osreg)
 * whose for_libxl token is a sequence number, not the record's address
 * (which malloc reuses), so a late or repeated occurred_timeout finds
 * nothing and is ignored.  The record lives until the application reports
 * the timeout or libxl_ctx_free deregisters it: a cancelled timeout is
 * "modified to fire now" ({0,0}), as Xen does (O3).
 *
 * Hooks are called with ctx->lock held: an application lock taken inside a
 * hook must be ordered after the library's (Xen's lock hierarchy (a)).
 */
#include "internal.h"

#include <poll.h>
#include <stdlib.h>
#include <sys/time.h>

static struct timeval wallclock_of(const struct timespec *mono)
{
    struct timespec now;
    struct timeval tv;
    long long us;

    libxl__now(&now);
    gettimeofday(&tv, NULL);
    us = (long long)(mono->tv_sec - now.tv_sec) * 1000000 +
         (mono->tv_nsec - now.tv_nsec) / 1000;
    us += (long long)tv.tv_sec * 1000000 + tv.tv_usec;
    tv.tv_sec = us / 1000000;
    tv.tv_usec = us % 1000000;
    return tv;
}

/* Registers the wakeup fd with the application, once.  ctx->lock held. */
static int wake_fd_register_locked(libxl_ctx *ctx)
{
    int rc;

    if (!ctx->have_os_hooks || ctx->wake_fd_registered ||
        !ctx->os_hooks.fd_register)
        return 0;
    ctx->wake_fd_reg = NULL;
    rc = ctx->os_hooks.fd_register(ctx->os_hooks_user, ctx->wake_fd,
                                   &ctx->wake_fd_reg, POLLIN, ctx);
    if (rc) {
        LOG(ctx, ERROR, "fd_register of the wakeup fd failed (%d)", rc);
        return rc;
    }
    ctx->wake_fd_registered = true;
    if (!ctx->wake_used) {
        ctx->wake_used = true;
        libxl__lead_wake_fd_used();
    }
    libxl__ctx_settle_locked(ctx); /* readable now if work is pending */
    return 0;
}

int libxl__osevent_timeout_added_locked(libxl_ctx *ctx, libxl__timeout *t)
{
    libxl__osreg *reg;
    int rc;

    if (!ctx->have_os_hooks || !ctx->os_hooks.timeout_register)
        return 0;
    if ((rc = wake_fd_register_locked(ctx)))
        return rc;
    reg = calloc(1, sizeof *reg);
    if (!reg) {
        LOGEV(ctx, ERROR, ENOMEM, "cannot register a timeout");
        return ERROR_NOMEM;
    }
    reg->token = ++ctx->osreg_seq;
    rc = ctx->os_hooks.timeout_register(ctx->os_hooks_user, &reg->for_app,
                                        wallclock_of(&t->deadline),
                                        (void *)reg->token);
    if (rc) {
        LOG(ctx, ERROR, "timeout_register failed (%d)", rc);
        free(reg);
        return rc;
    }
    reg->timeout = t;
    t->osreg = reg;
    LIST_INSERT_HEAD(&ctx->osregs, reg, entry);
    return 0;
}

void libxl__osevent_timeout_removed_locked(libxl_ctx *ctx, libxl__timeout *t)
{
    libxl__osreg *reg = t->osreg;
    struct timeval asap = {0, 0};

    if (!reg)
        return;
    t->osreg = NULL;
    reg->timeout = NULL;
    /* Stays registered until the application reports it (O3). */
    if (ctx->os_hooks.timeout_modify &&
        ctx->os_hooks.timeout_modify(ctx->os_hooks_user, &reg->for_app, asap))
        LOG(ctx, WARN,
            "timeout_modify failed; the timeout will fire late"
            " and be ignored");
}

void libxl__osevent_free_locked(libxl_ctx *ctx)
{
    libxl__osreg *reg;

    while ((reg = LIST_FIRST(&ctx->osregs))) {
        LIST_REMOVE(reg, entry);
        if (reg->timeout)
            reg->timeout->osreg = NULL;
        if (ctx->os_hooks.timeout_deregister)
            ctx->os_hooks.timeout_deregister(ctx->os_hooks_user, reg->for_app);
        free(reg);
    }
    if (ctx->wake_fd_registered && ctx->os_hooks.fd_deregister)
        ctx->os_hooks.fd_deregister(ctx->os_hooks_user, ctx->wake_fd,
                                    ctx->wake_fd_reg);
    ctx->wake_fd_registered = false;
}

int libxl__osevent_ready_locked(libxl_ctx *ctx)
{
    return wake_fd_register_locked(ctx);
}
