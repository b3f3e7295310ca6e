/*
 * xr-reap.c - the tool reaps its children itself (owner_mainloop, M4):
 * after each SIGCHLD, every exited child goes to the library, and its
 * rusage, which the library does not carry, waits for the job's completion.
 */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "xlchild-run.h"

/*
 * Makes the tool the reaper (M4).  Must come before the first child.
 * From now on the library neither blocks nor unblocks SIGCHLD for this
 * ctx, and our thread must see it: whoever started us may have left it
 * blocked, and libxl_ctx_alloc blocked it.
 */
int reaping_init(struct runner *r)
{
    libxl_childproc_hooks hooks;
    sigset_t chld;

    memset(&hooks, 0, sizeof hooks);
    hooks.chldowner = libxl_sigchld_owner_mainloop;
    libxl_childproc_setmode(r->ctx, &hooks, NULL);
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    return sigprocmask(SIG_UNBLOCK, &chld, NULL);
}

/*
 * The library learns only (pid, status) from libxl_childproc_reaped; the
 * rusage wait4 gave us waits here for the job's completion to pick it up.
 * Today the completion comes from inside libxl_childproc_reaped, so this
 * holds one entry at most; nothing depends on that.
 */
static struct reaped {
    pid_t pid;
    struct rusage ru;
} * stash;
static size_t nstash, stash_cap;

static void stash_put(pid_t pid, const struct rusage *ru)
{
    if (nstash == stash_cap) {
        size_t cap = stash_cap ? 2 * stash_cap : 8;
        struct reaped *ns = realloc(stash, cap * sizeof *ns);

        if (!ns)
            return; /* its user_s and sys_s will read 0 */
        stash = ns;
        stash_cap = cap;
    }
    stash[nstash].pid = pid;
    stash[nstash].ru = *ru;
    nstash++;
}

bool stash_take(pid_t pid, struct rusage *ru)
{
    size_t i;

    for (i = nstash; i-- > 0;) {
        if (stash[i].pid == pid) {
            if (ru)
                *ru = stash[i].ru;
            stash[i] = stash[--nstash];
            return true;
        }
    }
    return false;
}

/* After a SIGCHLD: every exited child, to the library. */
void reap_children(struct runner *r)
{
    struct rusage ru;
    pid_t pid;
    int status;

    while ((pid = wait4(-1, &status, WNOHANG, &ru)) > 0 ||
           (pid < 0 && errno == EINTR)) {
        if (pid < 0)
            continue;
        stash_put(pid, &ru);
        if (libxl_childproc_reaped(r->ctx, pid, status)) {
            /* Not the library's: nothing of ours forks, so this is an
             * inherited child (we were exec'd by a parent's fork with
             * children of its own).  Nothing to do but not leak it. */
            stash_take(pid, NULL);
        }
    }
}

void stash_free(void)
{
    free(stash);
    stash = NULL;
    nstash = stash_cap = 0;
}
