/*
 * atfork.c - fork safety (F1-F3).
 *
 * pthread_atfork handlers, registered once: prepare takes G.ctxs_lock so
 * the child's copy of the ctx list is whole; the parent and the child
 * release it; the child re-initialises every global lock that a vanished
 * thread held, forgets the parent's children
 * and reaper, and bumps G.generation so that every ctx inherited from the
 * parent is stale.  G.lock is deliberately not held across fork(): the
 * reaper takes it for every status, and a fork of a big process takes
 * milliseconds; the child discards everything G.lock guards anyway.  The child
 * handler allocates nothing and joins nothing (it runs in a process with one
 * thread, possibly mid-malloc in another thread of the parent).
 */
#include "internal.h"

#include <unistd.h>

static void atfork_prepare(void)
{
    pthread_mutex_lock(&G.ctxs_lock);
}

static void atfork_parent(void)
{
    pthread_mutex_unlock(&G.ctxs_lock);
}

/* The stale ctxs, as they were at the fork: libxl_postfork_child_noexec
 * closes their wakeup fds. */
static LIST_HEAD(, libxl__ctx) stale_ctxs;

static void child_reset(void)
{
    stale_ctxs.lh_first = G.ctxs.lh_first;
    libxl__global_reset_in_child();
}

static void atfork_child(void)
{
    /* Taken by atfork_prepare in the thread that is now the child's only
     * one: released, not re-initialised. */
    pthread_mutex_unlock(&G.ctxs_lock);
    child_reset();
}

void libxl__atfork_init(void)
{
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* Our own fork paths, in the child.  If a fork_replacement made the child
 * without running the atfork handlers (G.generation is still what it was
 * before the fork: atfork_child bumps it), do their work now. */
void libxl__child_after_fork(unsigned generation)
{
    struct sigaction sa;
    sigset_t s;

    if (G.generation == generation)
        child_reset(); /* no atfork_prepare ran: nothing to release */
    /* R2: SIGCHLD at its default, unblocked; the rest of the mask kept. */
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    libxl__sigchld_handler_forget();
    sigemptyset(&s);
    sigaddset(&s, SIGCHLD);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
}

LIBXL_EXPORT void libxl_postfork_child_noexec(libxl_ctx *ctx)
{
    libxl_ctx *c;

    (void)ctx; /* any stale ctx will do: all of them are handled */
    /* The list was whole at the fork (atfork_prepare held G.ctxs_lock).
     * As in libxl, memory is not reclaimed; nor are the pidfds of the
     * parent's children (close-on-exec, and only reachable through lists
     * another thread may have been changing at the fork). */
    LIST_FOREACH(c, &stale_ctxs, g_entry)
    {
        if (c->wake_fd >= 0)
            close(c->wake_fd);
        c->wake_fd = -1;
    }
    LIST_INIT(&stale_ctxs);
}
