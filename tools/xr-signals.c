/*
 * xr-signals.c - signals and reaping.
 *
 * Signals reach the loop through a self-pipe, so that a signal only wakes
 * the poll and nothing else happens in the handler.  The tool is the
 * reaper of its children (libxl_sigchld_owner_mainloop): after a SIGCHLD it
 * wait4s every exited child and hands the status to the library.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xlchild-run.h"

static int sig_w = -1;
/* Set by the handler as it writes the signal's byte, cleared by the loop as
 * it reads it: a signal whose byte is on its way writes no other, so the
 * pipe never fills (a full pipe would drop a SIGTERM behind SIGCHLDs). */
static volatile sig_atomic_t sig_queued[NSIG];

/* ------------------------------------------------------------------ */
/* Signals: a self-pipe, so a signal wakes the poll and nothing else    */
/* happens in the handler.                                              */

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;

    if (sig_queued[sig])
        return;
    sig_queued[sig] = 1;
    if (write(sig_w, &b, 1) < 0) {
        /* Cannot fill: it holds a byte or so per kind of signal. */
    }
    errno = saved;
}

int signals_init(struct runner *r)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    struct sigaction sa, old;
    int p[2];
    size_t i;

    if (pipe2(p, O_CLOEXEC | O_NONBLOCK))
        return -1;
    r->sig_r = p[0];
    sig_w = p[1];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigfillset(&sa.sa_mask);
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        /* A signal ignored by whoever started us (nohup, a shell's
         * background job) stays ignored, as make and the shells do.
         * SIGPIPE gets a handler rather than SIG_IGN so that our writes
         * fail with EPIPE while the children still get SIG_DFL on exec. */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        if (sigaction(sigs[i], &sa, NULL))
            return -1;
    }
    /* SIGCHLD is ours whatever it was (SIG_IGN would make the kernel
     * discard the statuses).  Installed before libxl_ctx_alloc, which then
     * finds nothing to warn about. */
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    return sigaction(SIGCHLD, &sa, NULL);
}

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

/* Each byte is cleared from sig_queued before it is acted on, so a signal
 * that comes after the clear writes a new byte, and one that came before
 * it is covered by the action.  Children are reaped first, one wait4 loop
 * for all the SIGCHLDs, so that a job already over is not aborted. */
void got_signal(struct runner *r)
{
    unsigned char b[16];
    bool chld = false;
    int fatal = 0;
    ssize_t n, i;

    while ((n = read(r->sig_r, b, sizeof b)) > 0) {
        for (i = 0; i < n; i++) {
            sig_queued[b[i]] = 0;
            if (b[i] == SIGCHLD)
                chld = true;
            else if (b[i] != SIGPIPE && !fatal) /* EPIPE tells us more */
                fatal = b[i];
        }
    }
    if (chld)
        reap_children(r);
    if (fatal && !r->signo) { /* a second signal: nothing */
        r->signo = fatal;
        stop(r, true);
    }
}

void stash_free(void)
{
    free(stash);
    stash = NULL;
    nstash = stash_cap = 0;
}
