/*
 * sigchld.c - SIGCHLD's disposition and delivery (rules M1, M2): every
 * place where the library looks at or changes what SIGCHLD does.
 *
 *  - ctx_alloc un-ignores it: SIG_IGN or SA_NOCLDWAIT would make the kernel
 *    discard the statuses the library waits for (libxl__sigchld_unignore).
 *  - When the reaper starts, the library's handler is installed, chaining
 *    whatever handler was there before.  It only ever runs in a thread that
 *    has SIGCHLD unblocked (M1 asks that none has), and forwards the signal
 *    to whoever has the reaper's role (G.fwd_efd).
 *  - Everywhere else SIGCHLD is blocked, so it stays pending until taken
 *    from G.sfd, a signalfd, as sigwait would take it: by the reaper, or
 *    by a waiting thread that has the reaper's role (threads/leader.c).
 *    Taking it runs the handler that was installed before the library's,
 *    as the kernel would have (libxl__sigchld_take).
 *  - The reaper's timed sweep checks that the handler is still in place,
 *    and puts it back if SIG_IGN was set behind the library's back.
 *  - The application's threads that have SIGCHLD unblocked are named in a
 *    warning, once per process.
 *  - libxl__reaper_poke is the one way to wake the reaper.
 */
#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The SIGCHLD disposition found when the library installed its handler
 * (again, if the sweep or a ctx_alloc had it put back: the reaper thread
 * does that, so that only it writes this once it runs).  Written under
 * G.lock before
 * the handler is installed; survives fork (the handler does too).  Whether
 * the handler is installed is always asked of the kernel, never
 * remembered: the application may change the disposition at any time, and
 * a fork child inherits it. */
static struct sigaction prev_action;

/* ------------------------------------------------------------------ */
/* The signal side                                                     */

/* Runs the handler of action as the kernel would have. */
static void run_handler(const struct sigaction *action, int sig, siginfo_t *si,
                        void *uc)
{
    if (action->sa_flags & SA_SIGINFO) {
        if (action->sa_sigaction)
            action->sa_sigaction(sig, si, uc);
    } else if (action->sa_handler != SIG_DFL && action->sa_handler != SIG_IGN) {
        action->sa_handler(sig);
    }
}

/* In the signal handler: prev_action is read as it is (a handler cannot
 * lock); it changes only when the library's handler is put back. */
static void chain_prev_handler(int sig, siginfo_t *si, void *uc)
{
    run_handler(&prev_action, sig, si, uc);
}

/* Marks a SIGCHLD that the library's handler forwarded to the reaper. */
#define FORWARD_MAGIC 0x786c6368 /* "xlch" */

/* The thread taking SIGCHLD now (libxl__sigchld_take), which may run an
 * application handler that calls ours in turn: ours must not forward then.
 * 0: none (no thread is 0 in glibc: pthread_self is an address). */
static pthread_t taker;

/*
 * Runs only in a thread that has SIGCHLD unblocked (one older than the
 * first ctx, or one that unblocked it: M1).  Chains the handler that was
 * there before, then forwards the signal to whoever has the reaper's role:
 * an eventfd in the set it sleeps on.  Async-signal-safe: one system call.
 * Without that set (it could not be made), the forward goes to the reaper
 * thread, queued with a marker, so that it can tell it from a poke and
 * from the kernel's own SIGCHLD.
 */
static void sigchld_handler(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    pid_t tid = __atomic_load_n(&G.reaper_tid, __ATOMIC_RELAXED);
    int efd = __atomic_load_n(&G.fwd_efd, __ATOMIC_RELAXED);

    chain_prev_handler(sig, si, uc);
    /* Not from the thread taking SIGCHLD: there it is called by an
     * application handler installed after ours, which that thread runs. */
    if (pthread_equal(pthread_self(),
                      __atomic_load_n(&taker, __ATOMIC_RELAXED)))
        tid = 0;
    /* Not in a child made without the atfork handlers (a raw clone, glibc's
     * _Fork), which still has our handler and our state: the eventfd is
     * its parent's. */
    if (tid > 0 && efd >= 0 && getpid() == libxl__self()) {
        uint64_t one = 1;
        ssize_t r = write(efd, &one, sizeof one); /* EAGAIN: already set */
        (void)r;
    } else if (tid > 0 && tid != (pid_t)syscall(__NR_gettid)) {
        siginfo_t fwd;
        memset(&fwd, 0, sizeof fwd);
        fwd.si_signo = SIGCHLD;
        fwd.si_code = SI_QUEUE;
        fwd.si_pid = libxl__self();
        fwd.si_uid = getuid();
        fwd.si_value.sival_int = FORWARD_MAGIC;
        if (syscall(__NR_rt_tgsigqueueinfo, libxl__self(), tid, SIGCHLD, &fwd))
            syscall(__NR_tgkill, libxl__self(), tid, SIGCHLD);
    }
    errno = saved;
}

/*
 * M1 diagnostic: name the threads that have SIGCHLD unblocked.  Their
 * signals still reach the reaper (the handler forwards them), but each
 * costs a detour, and a handler installed behind the library's back would
 * swallow them (M2).  Logged once per process.
 */
typedef struct {
    char tids[192];
    size_t used;
} unblocked_threads;

static void note_if_unblocked(const char *tid, int fd, void *arg)
{
    unblocked_threads *u = arg;
    char status[2048];
    const char *blk;
    ssize_t len = read(fd, status, sizeof status - 1);

    if (len <= 0)
        return;
    status[len] = '\0';
    blk = strstr(status, "\nSigBlk:");
    if (blk && !(strtoull(blk + 8, NULL, 16) & (1ULL << (SIGCHLD - 1))) &&
        u->used < sizeof u->tids - 24)
        u->used += (size_t)snprintf(u->tids + u->used, sizeof u->tids - u->used,
                                    "%s%.20s", u->used ? " " : "", tid);
}

void libxl__sigchld_warn_unblocked(void)
{
    static bool warned;
    unblocked_threads u = {.used = 0};
    libxl_ctx *ctx;

    /* Called by whoever takes SIGCHLD: the reaper, or a leader. */
    if (__atomic_load_n(&warned, __ATOMIC_RELAXED))
        return;
    libxl__each_task_file("status", note_if_unblocked, &u);
    if (!u.used || __atomic_exchange_n(&warned, true, __ATOMIC_RELAXED))
        return;
    pthread_mutex_lock(&G.lock);
    ctx = LIST_FIRST(&G.ctxs);
    LOG(ctx, WARN,
        "SIGCHLD is unblocked in thread(s) %s: block it before"
        " creating threads (libxl_ctx_alloc does, in its caller), or child"
        " statuses may be late",
        u.tids);
    pthread_mutex_unlock(&G.lock);
}

static bool is_sig_ign(const struct sigaction *sa)
{
    return !(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == SIG_IGN;
}

/*
 * M1: SIG_IGN and SA_NOCLDWAIT both make the kernel discard child statuses.
 * Returns whether sa does, and takes that out of it: SIG_IGN becomes a plain
 * SIG_DFL (its flags meant nothing), a handler loses SA_NOCLDWAIT.
 */
static bool sigchld_keep_statuses(struct sigaction *sa)
{
    if (is_sig_ign(sa)) {
        memset(sa, 0, sizeof *sa);
        sa->sa_handler = SIG_DFL;
        return true;
    }
    if (sa->sa_flags & SA_NOCLDWAIT) {
        sa->sa_flags &= ~SA_NOCLDWAIT;
        return true;
    }
    return false;
}

static bool handler_is_ours(const struct sigaction *sa)
{
    return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == sigchld_handler;
}

bool libxl__sigchld_unignore(libxl_ctx *ctx)
{
    struct sigaction cur, dfl;
    bool ign;

    pthread_mutex_lock(&G.lock);
    sigaction(SIGCHLD, NULL, &cur);
    ign = is_sig_ign(&cur);
    dfl = cur;
    if (sigchld_keep_statuses(&dfl)) {
        LOG(ctx, WARN,
            "SIGCHLD was %s, which makes the kernel discard child"
            " statuses; setting it to %s",
            ign ? "set to SIG_IGN" : "given SA_NOCLDWAIT",
            G.reaper_running ? "the library's handler" : "SIG_DFL");
        sigaction(SIGCHLD, &dfl, NULL);
        /* The reaper runs (an earlier ctx started it): it puts the
         * library's handler back, chaining what the application asked for
         * (only the reaper writes prev_action once it runs). */
        if (G.reaper_running) {
            __atomic_store_n(&G.sigchld_reinstall, true, __ATOMIC_RELEASE);
            libxl__reaper_poke();
        }
    }
    pthread_mutex_unlock(&G.lock);
    return ign;
}

void libxl__sigchld_reignore(void)
{
    struct sigaction ign;

    pthread_mutex_lock(&G.lock);
    sigaction(SIGCHLD, NULL, &ign);
    if (!handler_is_ours(&ign)) {
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        sigaction(SIGCHLD, &ign, NULL);
    }
    pthread_mutex_unlock(&G.lock);
}

void libxl__sigchld_install_Glocked(libxl_ctx *ctx)
{
    struct sigaction sa, cur;

    LIBXL__ATOMIC_VAR(taker);

    sigaction(SIGCHLD, NULL, &cur);
    if (handler_is_ours(&cur))
        return; /* also in a fork child: the handler is inherited */
    prev_action = cur;
    if (sigchld_keep_statuses(&prev_action))
        /* Set back to SIG_IGN behind our back since ctx_alloc (M1). */
        LOG(ctx, WARN,
            "SIGCHLD was set to SIG_IGN or SA_NOCLDWAIT, which"
            " makes the kernel discard child statuses; replacing it");
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = sigchld_handler;
    sigfillset(&sa.sa_mask);
    sa.sa_flags =
        SA_SIGINFO | SA_RESTART | (prev_action.sa_flags & SA_NOCLDSTOP);
    if (prev_action.sa_handler == SIG_DFL &&
        !(prev_action.sa_flags & SA_SIGINFO))
        sa.sa_flags |= SA_NOCLDSTOP;
    if (sigaction(SIGCHLD, &sa, NULL))
        LOGE(ctx, ERROR, "sigaction(SIGCHLD)");
}

void libxl__reaper_poke(void)
{
    pid_t tid = __atomic_load_n(&G.reaper_tid, __ATOMIC_RELAXED);
    int efd = __atomic_load_n(&G.poke_efd, __ATOMIC_RELAXED);
    uint64_t one = 1;

    if (tid <= 0)
        return;
    if (efd < 0) {
        syscall(__NR_tgkill, libxl__self(), tid, SIGCHLD);
    } else {
        /* An eventfd of ours: only EAGAIN (already readable) can fail. */
        ssize_t r = write(efd, &one, sizeof one);
        (void)r;
    }
}

/*
 * After a timed sweep (M1, M2): has SIGCHLD's disposition been changed
 * behind the library's back while it reaps?  SIG_IGN (or SA_NOCLDWAIT)
 * makes the kernel discard statuses: the children that exited meanwhile are
 * reported lost, and the library's handler is put back, as ctx_alloc would
 * have done, so that the next ones are not.  Another handler is the
 * application's choice: it costs latency (statuses wait for this sweep),
 * which is said once.  collected: statuses this sweep found that no signal
 * had announced, a sign that some thread swallows SIGCHLD.
 */
/* Said once: the application replaced the library's handler. */
static void warn_replaced_Glocked(void)
{
    static bool warned;

    if (warned)
        return;
    warned = true;
    LOG(LIST_FIRST(&G.ctxs), WARN,
        "a SIGCHLD handler was installed after the library's: the reaper"
        " thread calls it for each SIGCHLD it takes, but threads that have"
        " SIGCHLD unblocked no longer forward it, so statuses may wait up to"
        " %d s for the reaper's sweep",
        LIBXL__SWEEP_INTERVAL_S);
}

void libxl__sigchld_sweep_checks(unsigned collected)
{
    struct sigaction cur, fixed;
    bool ours, lost;

    pthread_mutex_lock(&G.lock);
    lost = G.lost_since_sweep;
    G.lost_since_sweep = false;
    if (G.n_watched == 0 && !G.reap_all && !collected && !lost) {
        /* Not reaping (owner_mainloop only): SIGCHLD is not ours.  A pass
         * that has just found the last children lost (typically to
         * SIG_IGN) was reaping: the sweep must still look, or the reaper
         * goes idle with SIG_IGN in place and the next children are lost
         * too. */
        pthread_mutex_unlock(&G.lock);
        return;
    }
    sigaction(SIGCHLD, NULL, &cur);
    ours = handler_is_ours(&cur);
    fixed = cur;
    if (sigchld_keep_statuses(&fixed)) {
        LOG(LIST_FIRST(&G.ctxs), WARN,
            "SIGCHLD was set to %s behind the library's back, which makes"
            " the kernel discard child statuses; putting the library's"
            " handler back",
            cur.sa_flags & SA_NOCLDWAIT ? "SA_NOCLDWAIT" : "SIG_IGN");
        /* What the application asked for, minus the discarding, becomes
         * the handler ours chains (libxl__sigchld_install_Glocked reads it). */
        sigaction(SIGCHLD, &fixed, NULL);
        libxl__sigchld_install_Glocked(LIST_FIRST(&G.ctxs));
    } else if (!ours) {
        warn_replaced_Glocked();
    }
    pthread_mutex_unlock(&G.lock);
    if (collected)
        libxl__sigchld_warn_unblocked();
}

/* The reaper is to put its handler back (a ctx_alloc found SIG_IGN).  Only
 * the reaper thread calls this, on each wakeup. */
void libxl__sigchld_reinstall_if_asked(void)
{
    if (__atomic_exchange_n(&G.sigchld_reinstall, false, __ATOMIC_ACQ_REL)) {
        pthread_mutex_lock(&G.lock);
        libxl__sigchld_install_Glocked(LIST_FIRST(&G.ctxs));
        pthread_mutex_unlock(&G.lock);
    }
}

/* A SIGCHLD was taken: a poke or a signal forwarded by the library's
 * handler (which has chained), or the kernel's own, for which the
 * application's earlier handler is run as the kernel would have run it.
 * by_reaper: the caller is the reaper thread, the only writer of
 * prev_action once it runs; anyone else reads it under G.lock. */
static void taken(const siginfo_t *si, bool by_reaper)
{
    struct sigaction cur, prev;

    if (si->si_pid == libxl__self() &&
        (si->si_code == SI_TKILL || si->si_code == SI_QUEUE)) {
        if (si->si_code == SI_QUEUE && si->si_value.sival_int == FORWARD_MAGIC)
            libxl__sigchld_warn_unblocked();
        return;
    }
    sigaction(SIGCHLD, NULL, &cur);
    if (handler_is_ours(&cur)) {
        if (by_reaper) {
            prev = prev_action;
        } else {
            pthread_mutex_lock(&G.lock);
            prev = prev_action;
            pthread_mutex_unlock(&G.lock);
        }
        run_handler(&prev, SIGCHLD, (siginfo_t *)si, NULL);
        return;
    }
    /* A handler installed after the library's: SIGCHLD is blocked in
     * every thread but the reaper, so the kernel would never run it.  The
     * reaper does, as it runs the one installed before (if it calls ours
     * in turn, ours does not forward from the taking thread). */
    if (!(cur.sa_flags & SA_SIGINFO) &&
        (cur.sa_handler == SIG_DFL || cur.sa_handler == SIG_IGN))
        return;
    run_handler(&cur, SIGCHLD, (siginfo_t *)si, NULL);
    pthread_mutex_lock(&G.lock);
    warn_replaced_Glocked();
    pthread_mutex_unlock(&G.lock);
}

/* The reaper took a SIGCHLD in sigtimedwait (without G.sfd only). */
void libxl__sigchld_taken(const siginfo_t *si)
{
    libxl__sigchld_reinstall_if_asked();
    taken(si, true);
}

/* signalfd's record as the siginfo_t a handler expects. */
static void siginfo_of_signalfd(siginfo_t *si, const struct signalfd_siginfo *f)
{
    memset(si, 0, sizeof *si);
    si->si_signo = (int)f->ssi_signo;
    si->si_errno = f->ssi_errno;
    si->si_code = f->ssi_code;
    si->si_pid = (pid_t)f->ssi_pid;
    si->si_uid = (uid_t)f->ssi_uid;
    if (f->ssi_code == SI_QUEUE) {
        si->si_value.sival_int = f->ssi_int;
    } else {
        si->si_status = f->ssi_status;
        si->si_utime = (clock_t)f->ssi_utime;
        si->si_stime = (clock_t)f->ssi_stime;
    }
}

/*
 * Takes every SIGCHLD pending for the process (and for the calling
 * thread) from G.sfd.  Returns how many it took: 0 means the wakeup was
 * for something else (a pidfd, a forward).  Called by whoever has the
 * reaper's role, before its pass.
 */
unsigned libxl__sigchld_take(bool by_reaper)
{
    struct signalfd_siginfo fs[8];
    unsigned n = 0;
    ssize_t r;
    int i;

    __atomic_store_n(&taker, pthread_self(), __ATOMIC_RELAXED);
    do { /* one read, unless the buffer came back full */
        r = read(G.sfd, fs, sizeof fs);
        for (i = 0; r > 0 && i < (int)((size_t)r / sizeof fs[0]); i++) {
            siginfo_t si;
            siginfo_of_signalfd(&si, &fs[i]);
            taken(&si, by_reaper);
            n++;
        }
    } while (r == (ssize_t)sizeof fs);
    __atomic_store_n(&taker, 0, __ATOMIC_RELAXED);
    return n; /* forwards are read by the pass (threads/reaper.c) */
}
