/*
 * mode.c - who reaps (section 6 of the contract): libxl_childproc_setmode
 * and the entry points of owner_mainloop.
 *
 * The modes, as the reaper applies them (threads/reaper.c, children.c):
 *  M3 owner_libxl (default): while a ctx in this mode has children, the
 *     reaper reaps every child of the process (waitpid(-1)); unknown ones
 *     go to that ctx's reaped_callback.  Unless some ctx is in M6: then it
 *     reaps only the library's own.
 *  M4 owner_mainloop: the library never waits and never touches SIGCHLD;
 *     the application passes statuses in.
 *  M5 owner_libxl_always: every child, at all times; one ctx at most.
 *  M6 owner_libxl_always_selective_reap: only the library's own children,
 *     each found through its pidfd.  Excludes M5.
 * The counts of M5/M6 ctxs live in G and change only here and at ctx_free.
 */
#include "internal.h"

/* The mode as set by setmode, read under the ctx lock. */
static libxl_sigchld_owner ctx_mode(libxl_ctx *ctx)
{
    libxl_sigchld_owner m;

    CTX_LOCK(ctx);
    m = ctx->mode;
    CTX_UNLOCK(ctx);
    return m;
}

static void sigchld_mask(int how)
{
    sigset_t s;

    sigemptyset(&s);
    sigaddset(&s, SIGCHLD);
    pthread_sigmask(how, &s, NULL);
}

/* Is there a ctx other than ctx that makes the library reap?  G.lock. */
static bool other_reaping_ctx_Glocked(libxl_ctx *ctx)
{
    libxl_ctx *c;

    LIST_FOREACH(c, &G.ctxs, g_entry)
        if (c != ctx && c->mode != libxl_sigchld_owner_mainloop)
            return true;
    return false;
}

static const char *refusal_Glocked(libxl_ctx *ctx, libxl_sigchld_owner want)
{
    libxl_sigchld_owner had = ctx->mode;
    int always = G.n_always - (had == libxl_sigchld_owner_libxl_always);
    int selective = G.n_selective -
                    (had == libxl_sigchld_owner_libxl_always_selective_reap);

    if (!LIST_EMPTY(&ctx->children) || ctx->nstarting > 0)
        return "the ctx has children";
    if (want == libxl_sigchld_owner_libxl_always && always > 0)
        return "another ctx is already in owner_libxl_always";
    if (want == libxl_sigchld_owner_libxl_always && selective > 0)
        return "a ctx is in owner_libxl_always_selective_reap";
    if (want == libxl_sigchld_owner_libxl_always_selective_reap && always > 0)
        return "a ctx is in owner_libxl_always";
    return NULL;
}

static void count_mode_Glocked(libxl_sigchld_owner m, int delta)
{
    if (m == libxl_sigchld_owner_libxl_always)
        G.n_always += delta;
    else if (m == libxl_sigchld_owner_libxl_always_selective_reap)
        G.n_selective += delta;
}

static void setmode_entered(libxl_ctx *ctx, const libxl_childproc_hooks *hooks,
                            void *user)
{
    libxl_childproc_hooks h = {0};
    libxl_sigchld_owner had;
    const char *why;
    bool unblock = false;

    if (hooks)
        h = *hooks;
    if ((unsigned)h.chldowner >
        libxl_sigchld_owner_libxl_always_selective_reap) {
        LOG(ctx, ERROR, "setmode: invalid chldowner %d; mode unchanged",
            (int)h.chldowner);
        return;
    }

    CTX_LOCK(ctx);
    pthread_mutex_lock(&G.lock);
    had = ctx->mode;
    why = refusal_Glocked(ctx, h.chldowner);
    if (why) {
        pthread_mutex_unlock(&G.lock);
        CTX_UNLOCK(ctx);
        LOG(ctx, ERROR, "setmode to %d refused: %s; mode unchanged",
            (int)h.chldowner, why);
        return;
    }
    count_mode_Glocked(had, -1);
    count_mode_Glocked(h.chldowner, +1);
    ctx->mode = h.chldowner;
    ctx->hooks = h;
    ctx->have_hooks = hooks != NULL;
    ctx->hooks_user = user;
    libxl__update_reap_all_Glocked();
    if (h.chldowner == libxl_sigchld_owner_libxl_always &&
        libxl__reaper_ensure_Glocked(ctx))
        LOG(ctx, ERROR,
            "owner_libxl_always: no reaper; children will be"
            " reaped only when the library starts its own");
    /* M4: give the allocating thread its SIGCHLD mask back. */
    if (h.chldowner == libxl_sigchld_owner_mainloop &&
        had != libxl_sigchld_owner_mainloop &&
        pthread_equal(pthread_self(), ctx->alloc_thread) &&
        ctx->sigchld_was_unblocked && !other_reaping_ctx_Glocked(ctx))
        unblock = true;
    pthread_mutex_unlock(&G.lock);
    CTX_UNLOCK(ctx);

    if (unblock) {
        sigchld_mask(SIG_UNBLOCK);
        if (ctx->sigchld_was_ignored)
            libxl__sigchld_reignore();
    } else if (had == libxl_sigchld_owner_mainloop &&
               h.chldowner != libxl_sigchld_owner_mainloop)
        sigchld_mask(SIG_BLOCK); /* M1 again */
}

LIBXL_EXPORT void libxl_childproc_setmode(libxl_ctx *ctx,
                                          const libxl_childproc_hooks *hooks,
                                          void *user)
{
    if (libxl__ctx_enter(ctx, __func__))
        return;
    setmode_entered(ctx, hooks, user);
    libxl__ctx_leave(ctx);
}

void libxl__mode_ctx_register(libxl_ctx *ctx)
{
    pthread_mutex_lock(&G.ctxs_lock);
    pthread_mutex_lock(&G.lock);
    ctx->generation = G.generation;
    LIST_INSERT_HEAD(&G.ctxs, ctx, g_entry);
    pthread_mutex_unlock(&G.lock);
    pthread_mutex_unlock(&G.ctxs_lock);
}

int libxl__mode_ctx_unregister(libxl_ctx *ctx)
{
    int running;

    pthread_mutex_lock(&G.ctxs_lock);
    pthread_mutex_lock(&G.lock);
    running = libxl__children_orphan_Glocked(ctx);
    LIST_REMOVE(ctx, g_entry);
    count_mode_Glocked(ctx->mode, -1);
    libxl__update_reap_all_Glocked();
    pthread_mutex_unlock(&G.lock);
    pthread_mutex_unlock(&G.ctxs_lock);
    return running;
}

/* Hands statuses collected in the calling thread to ctx and processes
 * them (callbacks run here). */
static void deliver_and_process(libxl_ctx *ctx, struct libxl__child_q *batch)
{
    if (!STAILQ_EMPTY(batch))
        libxl__inbox_deliver(batch, false);
    CTX_LOCK(ctx);
    libxl__ctx_process_locked(ctx, false);
    CTX_UNLOCK(ctx);
}

static int app_reaped(libxl_ctx *ctx, pid_t pid, int status, int notours,
                      const char *fn)
{
    struct libxl__child_q batch = STAILQ_HEAD_INITIALIZER(batch);
    int rc = libxl__ctx_enter(ctx, fn);

    if (rc)
        return rc;
    if (ctx_mode(ctx) != libxl_sigchld_owner_mainloop) {
        LOG(ctx, ERROR, "%s is only for owner_mainloop", fn);
        rc = ERROR_INVAL;
    } else {
        libxl__starts_wait(ctx);
        if (libxl__child_reaped_by_app(ctx, pid, status, &batch))
            rc = notours; /* silently, as in libxl */
        else
            deliver_and_process(ctx, &batch);
    }
    libxl__ctx_leave(ctx);
    return rc;
}

LIBXL_EXPORT int libxl_childproc_reaped(libxl_ctx *ctx, pid_t pid, int status)
{
    return app_reaped(ctx, pid, status, ERROR_UNKNOWN_CHILD, __func__);
}

LIBXL_EXPORT int libxl_childproc_exited(libxl_ctx *ctx, pid_t pid, int status)
{
    return app_reaped(ctx, pid, status, ERROR_NOT_READY, __func__);
}

LIBXL_EXPORT void libxl_childproc_sigchld_occurred(libxl_ctx *ctx)
{
    struct libxl__child_q batch = STAILQ_HEAD_INITIALIZER(batch);

    if (libxl__ctx_enter(ctx, __func__))
        return;
    if (ctx_mode(ctx) != libxl_sigchld_owner_mainloop) {
        LOG(ctx, ERROR, "sigchld_occurred is only for owner_mainloop");
    } else {
        libxl__starts_wait(ctx);
        libxl__children_reap_own(ctx, &batch);
        deliver_and_process(ctx, &batch);
    }
    libxl__ctx_leave(ctx);
}
