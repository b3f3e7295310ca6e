/*
 * fork.c - libxl_childproc_fork: a child forked for the application, which
 * the library reaps and reports to its death callback
 * (libxl__child_done_locked, src/childproc.c).
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

/* A fork child's copy of the record its parent made for it.  Not freed
 * there: free() would write two heap pages, each a copy-on-write fault in
 * every fork child, most of which exit or exec soon.  Kept reachable
 * instead, in the library's data page, which the atfork handler writes
 * anyway; a child that forks again frees its own parent's. */
static libxl__child *volatile record_in_child;

/* Returns like libxl_childproc_fork; *in_child set in the child, which
 * must not touch the ctx any more (its copy is stale). */
static pid_t fork_entered(libxl_ctx *ctx, libxl_childproc_death_cb *death,
                          void *user, bool *in_child)
{
    libxl__child *ch;
    libxl__start st;
    pid_t pid;
    unsigned generation;
    int rc, e;

    CTX_LOCK(ctx);
    libxl__start_begin_locked(ctx, &st);
    CTX_UNLOCK(ctx);
    if (st.mode != libxl_sigchld_owner_mainloop &&
        (rc = libxl__reaper_ensure(ctx))) {
        libxl__start_end(ctx);
        return rc;
    }
    ch = libxl__child_new(false); /* its death callback takes no rusage */
    if (!ch) {
        libxl__start_end(ctx);
        LOGEV(ctx, ERROR, ENOMEM, "cannot allocate a child record");
        errno = ENOMEM;
        return ERROR_FAIL;
    }
    ch->done = libxl__child_done_locked;
    ch->death = death;
    ch->death_user = user;

    libxl__spawn_lock();
    ch->spawn_seq = __atomic_load_n(&G.pass_seq, __ATOMIC_ACQUIRE);
    generation = __atomic_load_n(&G.generation, __ATOMIC_RELAXED);
    pid = libxl__start_fork(&st);
    if (pid == 0) {
        /* The child: spawn_lock is reset with the rest (by the atfork
         * handler, or by libxl__child_after_fork if none ran). */
        if (record_in_child)
            free(record_in_child);
        record_in_child = ch;
        libxl__child_after_fork(generation);
        *in_child = true;
        return 0;
    }
    if (pid < 0) {
        e = errno;
        libxl__spawn_unlock();
        libxl__start_end(ctx);
        libxl__child_free(ch);
        LOGEV(ctx, ERROR, e, "fork");
        errno = e;
        return ERROR_FAIL;
    }
    rc = libxl__child_track(ctx, &st, ch, pid);
    if (rc) {
        libxl__child_free(ch);
        pid = ERROR_FAIL;
    }
    libxl__spawn_unlock();
    libxl__start_end(ctx);
    if (rc)
        errno = ENOMEM;
    return pid;
}

LIBXL_EXPORT pid_t libxl_childproc_fork(libxl_ctx *ctx,
                                        libxl_childproc_death_cb *death,
                                        void *user)
{
    bool in_child = false;
    int e;
    pid_t pid = libxl__ctx_enter(ctx, __func__);

    if (pid)
        return pid;
    pid = fork_entered(ctx, death, user, &in_child);
    if (in_child) {
        libxl__ctx_leave_in_child();
    } else {
        e = errno;
        libxl__ctx_leave(ctx);
        errno = e;
    }
    return pid;
}
