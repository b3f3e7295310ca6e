/*
 * atfork.c - fork safety (F1-F3).
 *
 * pthread_atfork handlers, registered once: prepare takes G.lock so the
 * child's copy of everything it guards is consistent; the parent releases
 * it; the child re-initialises every global lock, forgets the parent's
 * children and reaper, and bumps G.generation so that every ctx inherited
 * from the parent is stale.  The child handler allocates nothing and joins
 * nothing (it runs in a process with one thread, possibly mid-malloc in
 * another thread of the parent).
 */
#include "internal.h"

#include <unistd.h>

static void atfork_prepare(void)
{
    pthread_mutex_lock(&G.lock);
}

static void atfork_parent(void)
{
    pthread_mutex_unlock(&G.lock);
}

/* Closed in the child by libxl_postfork_child_noexec: the stale ctxs and
 * their children's pidfds, as they were at the fork. */
static LIST_HEAD(, libxl__ctx) stale_ctxs;

static void atfork_child(void)
{
    stale_ctxs.lh_first = G.ctxs.lh_first;
    libxl__global_reset_in_child();
}

void libxl__atfork_init(void)
{
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* Our own fork paths, in the child.  If a fork_replacement made the child
 * without running the atfork handlers, do their work now. */
void libxl__child_after_fork(void)
{
    struct sigaction sa;
    sigset_t s;

    if (G.self != getpid())
        atfork_child();
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
    libxl__child *ch;

    (void)ctx; /* any stale ctx will do: all of them are handled */
    /* The lists were consistent at the fork (atfork_prepare held G.lock);
     * only their fds are released, the memory is not ours to free. */
    LIST_FOREACH(c, &stale_ctxs, g_entry) {
        close(c->wake_fd);
        c->wake_fd = -1;
        LIST_FOREACH(ch, &c->children, ctx_entry) {
            if (ch->pidfd >= 0)
                close(ch->pidfd);
            ch->pidfd = -1;
        }
    }
    LIST_INIT(&stale_ctxs);
}
