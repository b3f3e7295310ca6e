/*
 * xr-reap.c - who reaps: the library, in selective mode
 * (libxl_sigchld_owner_libxl_always_selective_reap, M6).
 *
 * The library reaps the jobs it started and nothing else.  The loop's poll
 * sleeps on the library's wait set beside everything else
 * (libxl_osevent_beforepoll hands it out: the process has one ctx), so the
 * thread that polls collects each status itself, in
 * libxl_osevent_afterpoll, and no status travels between threads.  The
 * library's reaper thread stays asleep; it is there for the moments the
 * loop is not polling.  Selective rather than the default mode: a child
 * we inherited (exec'd by a parent that had forked others) stays its
 * parent's business, not reported as an unknown child of ours.
 */
#include <config.h>

#include <signal.h>
#include <string.h>

#include "xlchild-run.h"

/* SIGCHLD ignored by whoever started us (SIG_IGN or SA_NOCLDWAIT are
 * inherited through exec) would have the kernel discard the statuses; the
 * library warns about it and takes SIGCHLD back.  Quietly, here: the
 * tool's children are all the tool's business. */
int reaping_prepare(void)
{
    struct sigaction old, sa;

    if (sigaction(SIGCHLD, NULL, &old))
        return -1;
    if (old.sa_handler != SIG_IGN && !(old.sa_flags & SA_NOCLDWAIT))
        return 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGCHLD, &sa, NULL);
}

/* Before the first child. */
void reaping_init(struct runner *r)
{
    libxl_childproc_hooks hooks;

    memset(&hooks, 0, sizeof hooks);
    hooks.chldowner = libxl_sigchld_owner_libxl_always_selective_reap;
    libxl_childproc_setmode(r->ctx, &hooks, NULL);
}
