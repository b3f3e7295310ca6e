/*
 * reaper.c - the process-wide reaper thread.
 *
 * The data flow: SIGCHLD -> the reaper collects -> each ctx's inbox
 * (src/inbox.c) -> the application threads inside libxl calls on it.
 *
 *  - One thread per process, started on first need with every signal
 *    blocked, shared by every ctx.  SIGCHLD is blocked in application
 *    threads (ctx_alloc blocks it: M1), so it stays pending until the
 *    reaper takes it, as sigwait would, from a signalfd (G.sfd): the
 *    signalfd sits in one epoll set with the children's pidfds (G.epfd),
 *    which the reaper sleeps on through G.outer_epfd.  While a thread
 *    that waits in a libxl call sleeps on G.epfd in its place (the
 *    leader, threads/leader.c), G.epfd's entry in the reaper's set is
 *    switched off and the reaper is not woken for SIGCHLD at all.
 *  - A SIGCHLD means "at least one child changed", never "this child"
 *    (signals coalesce).  So each wakeup runs a pass (threads/pass.c),
 *    which collects every exited child the library may take.
 *  - It waits at most 1 s while it owns children and sweeps then (M2), so a
 *    SIGCHLD swallowed by some thread delays a status but never loses it.
 *  - It never runs application code except a SIGCHLD handler that was
 *    installed before the library's (chained, as the kernel would have run
 *    it: threads/sigchld.c), and never takes a ctx lock while holding
 *    G.lock: a pass collects its batch under G.lock, then hands it to the
 *    inboxes.
 */
#include "internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static struct timespec sweep_wait(const struct timespec *due);

/* The tags of the reaper's own fds in its epoll sets (a child's tag has its
 * nonzero id in the high half). */
#define TAG_POKE 2
#define TAG_INNER 3 /* G.epfd, in G.outer_epfd */

/*
 * Sleeps until SIGCHLD, a poke or the timeout (NULL: none), and takes what
 * woke it.  Returns whether a signal (or a poke) was taken; false on
 * timeout.
 */
static bool wait_for_sigchld(const struct timespec *ts)
{
    struct epoll_event evs[4];
    int ms = -1, n, i;
    bool woken = false;
    uint64_t v;

    if (ts)
        ms = (int)(ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000);
    n = epoll_wait(G.outer_epfd, evs, 4, ms);
    libxl__sigchld_reinstall_if_asked();
    for (i = 0; i < n; i++) {
        if (evs[i].data.u64 == TAG_POKE &&
            read(G.poke_efd, &v, sizeof v) == sizeof v)
            woken = true;
    }
    /* Whatever woke us in G.epfd: a signal, or a pidfd whose SIGCHLD
     * someone swallowed.  Either way a pass looks. */
    if (libxl__sigchld_take(true) || n > 0)
        woken = true;
    return woken;
}

/* The fallback of wait_for_sigchld, when the epoll sets could not be made:
 * sigtimedwait.  Returns as wait_for_sigchld. */
static bool sigwait_for_sigchld(const struct timespec *ts)
{
    sigset_t set;
    siginfo_t si;
    int r;

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    r = sigtimedwait(&set, &si, ts);
    if (r == SIGCHLD)
        libxl__sigchld_taken(&si);
    return r == SIGCHLD || (r < 0 && errno == EINTR);
}

static void *reaper_main(void *arg)
{
    int idle_sweeps = 0;
    bool timed_out = false;
    struct timespec due; /* the next sweep (CLOCK_MONOTONIC) */

    (void)arg;
    /* Named, so that ps -L, top -H and perf show which thread it is. */
    prctl(PR_SET_NAME, "xlchild-reaper", 0, 0, 0);
    __atomic_store_n(&G.reaper_tid, (pid_t)syscall(__NR_gettid),
                     __ATOMIC_RELEASE);
    libxl__sigchld_warn_unblocked();
    libxl__reap_pass(true); /* whatever exited before we were ready */
    libxl__now(&due);
    due.tv_sec += LIBXL__SWEEP_INTERVAL_S;
    for (;;) {
        struct timespec ts;
        bool untimed, sweep, woken;

        /* Sweep every second while there are children to watch, and once
         * more after the last: an idle process is not woken every second,
         * and a busy one is not poked each time its count passes zero.
         * The deadline is absolute: SIGCHLDs arriving more often than
         * once a second must not put the sweep off for ever (a status
         * stolen from a child without pidfd, in a waitpid(-1) mode, is
         * found by nothing else). */
        pthread_mutex_lock(&G.lock);
        idle_sweeps = timed_out && G.n_watched == 0 ? idle_sweeps + 1 : 0;
        /* Timed while a thread has the role: its sweep is what takes a
         * role kept by a busy thread back (threads/leader.c). */
        untimed = G.reaper_untimed =
            G.n_watched == 0 && idle_sweeps > 0 && !G.leading;
        pthread_mutex_unlock(&G.lock);
        ts = sweep_wait(&due);
        woken = G.outer_epfd >= 0 ? wait_for_sigchld(untimed ? NULL : &ts)
                                  : sigwait_for_sigchld(untimed ? NULL : &ts);
        if (untimed) { /* woken from an untimed wait: sweeps start over */
            libxl__now(&due);
            due.tv_sec += LIBXL__SWEEP_INTERVAL_S;
            sweep = !woken;
        } else {
            ts = sweep_wait(&due);
            sweep = !woken || (ts.tv_sec == 0 && ts.tv_nsec == 0);
        }
        timed_out = sweep;
        if (sweep) {
            /* A role kept by a leader busy with its work comes back here
             * (threads/leader.c) if the leader has not looked at G.epfd
             * lately: it is in a long callback, and the statuses of a
             * thread that checks for events without sleeping in a libxl
             * call would wait for it.  A leader that keeps looking (a
             * chain of callbacks, each starting the next child, looks
             * between them) keeps it: taken back, its SIGCHLDs would wake
             * this thread again, one hop per child.  A role kept by nobody
             * (an epoll_ctl failed: libxl__reaper_wait_set_back_Glocked)
             * is tried again. */
            if (__atomic_load_n(&G.lead_busy, __ATOMIC_RELAXED)) {
                pthread_mutex_lock(&G.lock);
                if (G.leading && G.lead_busy &&
                    (libxl__now_ms() - __atomic_load_n(&G.lead_seen_ms,
                                                       __ATOMIC_RELAXED) >
                         LIBXL__LEAD_STALE_MS ||
                     !G.lead_owner))
                    libxl__reaper_wait_set_back_Glocked();
                pthread_mutex_unlock(&G.lock);
            }
            libxl__now(&due);
            due.tv_sec += LIBXL__SWEEP_INTERVAL_S;
            libxl__sigchld_sweep_checks(libxl__reap_pass(true));
        } else {
            libxl__reap_pass(false);
        }
    }
    return NULL;
}

/*
 * Lending G.epfd to a leader and taking it back (threads/leader.c) switch
 * its entry in the reaper's set off and on with EPOLL_CTL_MOD.  Deleting
 * and adding it again, as this once did, cost twice as much on the path
 * from a child's exit to its consumer: adding one epoll set to another
 * runs the kernel's loop checks and allocates, deleting frees through RCU
 * (about 1.5 us a round against 0.7 us here).  An entry with no event
 * asked for never wakes the reaper: an epoll set only ever reports
 * EPOLLIN, and EPOLLERR and EPOLLHUP, which the kernel adds to every
 * entry, are never raised on one.  Switched back on, the kernel looks at
 * G.epfd at once, so a SIGCHLD that came meanwhile wakes the reaper.  A
 * MOD allocates nothing: it fails only on a bad fd.
 */
static int inner_events_Glocked(uint32_t events)
{
    struct epoll_event ev = {.events = events};

    ev.data.u64 = TAG_INNER;
    return epoll_ctl(G.outer_epfd, EPOLL_CTL_MOD, G.epfd, &ev);
}

bool libxl__reaper_wait_set_lend_Glocked(void)
{
    assert(!G.leading);
    return inner_events_Glocked(0) == 0;
}

/* G.lock held. */
void libxl__reaper_wait_set_back_Glocked(void)
{
    assert(G.leading);
    if (inner_events_Glocked(EPOLLIN)) {
        /* Cannot happen with the set's own fds; should it, the role stays
         * out, kept by nobody, for any sleeper to take and the sweep to
         * try again. */
        LOGE(LIST_FIRST(&G.ctxs), ERROR,
             "epoll_ctl: giving the reaper its wait set back");
        __atomic_store_n(&G.lead_owner, NULL, __ATOMIC_RELAXED);
        __atomic_store_n(&G.lead_busy, true, __ATOMIC_RELAXED);
        return;
    }
    G.leading = false;
    __atomic_store_n(&G.lead_owner, NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&G.lead_busy, false, __ATOMIC_RELAXED);
}

/* The time left until due (0 if past), for sigtimedwait. */
static struct timespec sweep_wait(const struct timespec *due)
{
    struct timespec now, left = {0, 0};

    libxl__now(&now);
    if (now.tv_sec < due->tv_sec ||
        (now.tv_sec == due->tv_sec && now.tv_nsec < due->tv_nsec)) {
        left.tv_sec = due->tv_sec - now.tv_sec;
        left.tv_nsec = due->tv_nsec - now.tv_nsec;
        if (left.tv_nsec < 0) {
            left.tv_sec--;
            left.tv_nsec += 1000000000L;
        }
    }
    return left;
}

/* ------------------------------------------------------------------ */
/* Starting the thread                                                 */

static int epoll_add(int epfd, int fd, uint64_t tag)
{
    struct epoll_event ev = {.events = EPOLLIN};

    ev.data.u64 = tag;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* The signalfd and the eventfds in G.epfd, and G.epfd and the poke in the
 * reaper's own set (see wait_for_sigchld).  On failure, undoes it all and
 * returns -1 (errno set): the reaper then takes SIGCHLD with sigtimedwait. */
static int make_wait_set_Glocked(void)
{
    sigset_t chld;
    int sfd = -1, fwd = -1, poke = -1, outer = -1, saved;

    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if ((sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
        (fwd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
        (poke = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
        (outer = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        epoll_add(G.epfd, sfd, LIBXL__TAG_SIGNALS) ||
        epoll_add(G.epfd, fwd, LIBXL__TAG_FORWARD) ||
        epoll_add(outer, poke, TAG_POKE) || epoll_add(outer, G.epfd, TAG_INNER))
        goto fail;
    G.sfd = sfd;
    __atomic_store_n(&G.fwd_efd, fwd, __ATOMIC_RELAXED);
    __atomic_store_n(&G.poke_efd, poke, __ATOMIC_RELAXED);
    G.outer_epfd = outer;
    return 0;

fail:
    saved = errno;
    if (outer >= 0)
        close(outer);
    if (poke >= 0)
        close(poke);
    if (fwd >= 0) {
        epoll_ctl(G.epfd, EPOLL_CTL_DEL, fwd, NULL);
        close(fwd);
    }
    if (sfd >= 0) {
        epoll_ctl(G.epfd, EPOLL_CTL_DEL, sfd, NULL);
        close(sfd);
    }
    errno = saved;
    return -1;
}

int libxl__reaper_ensure_Glocked(libxl_ctx *ctx)
{
    pthread_attr_t attr;
    pthread_t thread;
    sigset_t all, old;
    int r;

    if (G.reaper_running)
        return 0;
    libxl__inherited_close_Glocked(); /* a fork child's, of its parent */
    if (G.epfd < 0) {
        G.epfd = epoll_create1(EPOLL_CLOEXEC);
        if (G.epfd < 0)
            LOGE(ctx, WARN, "epoll_create1; children will be checked by pid");
        else if (make_wait_set_Glocked())
            LOGE(ctx, WARN, "the reaper's epoll set; it will use sigtimedwait");
    }
    libxl__sigchld_install_Glocked(ctx);

    /* The thread starts with every signal blocked (it inherits our mask). */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    r = pthread_create(&thread, &attr, reaper_main, NULL);
    pthread_attr_destroy(&attr);
    if (!r) /* named before it first runs (it names itself too) */
        pthread_setname_np(thread, "xlchild-reaper");
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r) {
        LOGEV(ctx, ERROR, r, "cannot start the reaper thread");
        errno = r; /* R2: libxl_childproc_fork's caller sees why */
        return ERROR_FAIL;
    }
    __atomic_store_n(&G.reaper_running, true, __ATOMIC_RELEASE);
    return 0;
}

int libxl__reaper_ensure(libxl_ctx *ctx)
{
    int rc;

    bool started;

    if (__atomic_load_n(&G.reaper_running, __ATOMIC_ACQUIRE))
        return 0; /* every spawn asks: keep G.lock out of it */
    pthread_mutex_lock(&G.lock);
    started = !G.reaper_running;
    rc = libxl__reaper_ensure_Glocked(ctx);
    pthread_mutex_unlock(&G.lock);
    /* M1: the threads that have SIGCHLD unblocked are named now, as the
     * reaper starts, not when it first runs: a waiting thread may collect
     * everything before it does (threads/leader.c). */
    if (started && !rc)
        libxl__sigchld_warn_unblocked();
    return rc;
}