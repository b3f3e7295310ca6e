/*
 * xr-signals.c - signals.
 *
 * Signals reach the loop through a self-pipe, so that a signal only wakes
 * the poll and nothing else happens in the handler; they stop the run.
 * SIGCHLD is the library's (xr-reap.c).
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
 * pipe never fills. */
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
    return 0;
}

/* Each byte is cleared from sig_queued before it is acted on, so a signal
 * that comes after the clear writes a new byte, and one that came before
 * it is covered by the action.  The loop calls this after
 * libxl_osevent_afterpoll, so that a job already over is not aborted. */
void got_signal(struct runner *r)
{
    unsigned char b[16];
    int fatal = 0;
    ssize_t n, i;

    while ((n = read(r->sig_r, b, sizeof b)) > 0) {
        for (i = 0; i < n; i++) {
            sig_queued[b[i]] = 0;
            if (b[i] != SIGPIPE && !fatal) /* EPIPE tells us more */
                fatal = b[i];
        }
    }
    if (fatal && !r->signo) { /* a second signal: nothing */
        r->signo = fatal;
        stop(r, true);
    }
}
