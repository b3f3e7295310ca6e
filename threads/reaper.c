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
 *    leader, threads/leader.c), G.epfd is out of the reaper's set and the
 *    reaper is not woken for SIGCHLD at all.
 *  - A SIGCHLD means "at least one child changed", never "this child"
 *    (signals coalesce).  A pass therefore collects every exited child the
 *    reaper owns, without scanning: ready pidfds come from an epoll set
 *    (EPOLLONESHOT, polled with timeout 0 after each signal), and
 *    waitpid(-1) is used only while some ctx must reap every child of the
 *    process (modes M3 with children, M5).  Children without a pidfd (old
 *    kernels, fd exhaustion) are checked one waitid(pid) each.
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

#define EPOLL_BATCH 256

static unsigned reap_pass(bool sweep);
static struct timespec sweep_wait(const struct timespec *due);

/* The tags of the reaper's own fds in its epoll sets (a child's tag has its
 * nonzero id in the high half). */
#define TAG_SIGNALS 1 /* G.sfd */
#define TAG_POKE 2
#define TAG_INNER 3   /* G.epfd, in G.outer_epfd */
#define TAG_FORWARD 4 /* G.fwd_efd */

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
    reap_pass(true); /* whatever exited before we were ready */
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
            /* A leader busy with long work has kept the role for up to a
             * sweep interval: it comes back here (threads/leader.c). */
            if (__atomic_load_n(&G.lead_busy, __ATOMIC_RELAXED)) {
                pthread_mutex_lock(&G.lock);
                if (G.leading && G.lead_busy)
                    libxl__reaper_wait_set_back_Glocked();
                pthread_mutex_unlock(&G.lock);
            }
            libxl__now(&due);
            due.tv_sec += LIBXL__SWEEP_INTERVAL_S;
            libxl__sigchld_sweep_checks(reap_pass(true));
        } else {
            reap_pass(false);
        }
    }
    return NULL;
}

/* A waitpid(-1) pass in progress. */
typedef struct {
    struct libxl__child_q *batch;
    bool spawn_locked; /* holds spawn_lock for writing: no start in flight */
    bool deferred;     /* left a pid that may be a start's (see below) */
} reap_all_state;

static void reap_all_Glocked(reap_all_state *st);
static void reap_ready_pidfds_Glocked(struct libxl__child_q *batch,
                                      bool *forwarded);
static void reap_nopidfd_Glocked(struct libxl__child_q *batch, bool sweep);

/* One pass: collects under G.lock, then hands the batch to the ctxs'
 * inboxes.  Returns how many children (ours or not) it collected.  A
 * waitpid(-1) pass waits for the spawners (spawn_lock for writing) only in
 * the sweep; otherwise it never reaps a pid that is not in the table while
 * a start is in flight (src/internal.h). */
static unsigned reap_pass(bool sweep)
{
    struct libxl__child_q batch = STAILQ_HEAD_INITIALIZER(batch);
    reap_all_state st = {&batch, false, false};
    libxl__child *ch;
    unsigned n = 0;
    bool all, forwarded = false;

    all = __atomic_load_n(&G.reap_all, __ATOMIC_ACQUIRE);
    st.spawn_locked = all && sweep;
    if (st.spawn_locked)
        pthread_rwlock_wrlock(&G.spawn_lock);
    pthread_mutex_lock(&G.lock);
    __atomic_add_fetch(&G.pass_seq, 1,
                       __ATOMIC_RELEASE); /* read unlocked by spawners */
    /* Switched on since we looked: a pass that takes G.lock after reap_all
     * went on always reaps everything (registration counts on it: see
     * libxl__child_register). */
    all = G.reap_all;
    if (all)
        reap_all_Glocked(&st);
    reap_ready_pidfds_Glocked(&batch, &forwarded);
    /* A forward just read may be for a child that exited after the
     * waitpid(-1) loop: it looks once more. */
    if (forwarded && all && !st.deferred)
        reap_all_Glocked(&st);
    /* Without pidfds nothing says which child exited: check each one,
     * unless waitpid(-1) just collected whatever had exited. */
    if (sweep || (forwarded && !all) ||
        ((!all || st.deferred) && !LIST_EMPTY(&G.nopidfd)))
        reap_nopidfd_Glocked(&batch, sweep);
    STAILQ_CONCAT(&batch, &G.pending);
    if (STAILQ_EMPTY(&batch)) {
        pthread_mutex_unlock(&G.lock);
        if (st.spawn_locked)
            pthread_rwlock_unlock(&G.spawn_lock);
        if (forwarded)
            libxl__sigchld_warn_unblocked();
        return 0;
    }
    /* Counted while G.lock still says these ctxs are alive. */
    STAILQ_FOREACH(ch, &batch, q_entry) {
        libxl__inbox_expect(ch->ctx);
        n++;
    }
    pthread_mutex_unlock(&G.lock);
    if (st.spawn_locked)
        pthread_rwlock_unlock(&G.spawn_lock);

    libxl__inbox_deliver(&batch, true);
    if (forwarded)
        libxl__sigchld_warn_unblocked();
    return n;
}

/* G.epfd back into the reaper's set, from a leader (threads/leader.c).
 * G.lock held. */
void libxl__reaper_wait_set_back_Glocked(void)
{
    struct epoll_event ev = {.events = EPOLLIN};

    assert(G.leading);
    ev.data.u64 = TAG_INNER;
    if (epoll_ctl(G.outer_epfd, EPOLL_CTL_ADD, G.epfd, &ev) &&
        errno != EEXIST) {
        /* ENOMEM, for a set that was in before: the role stays out, kept
         * by nobody, for any sleeper to take and the sweep to try again. */
        LOGE(LIST_FIRST(&G.ctxs), ERROR,
             "epoll_ctl: giving the reaper its wait set back");
        G.lead_owner = NULL;
        __atomic_store_n(&G.lead_busy, true, __ATOMIC_RELAXED);
        return;
    }
    G.leading = false;
    G.lead_owner = NULL;
    __atomic_store_n(&G.lead_busy, false, __ATOMIC_RELAXED);
}

/* What the reaper does when SIGCHLD wakes it, done by a leader
 * (threads/leader.c) whose G.epfd was ready. */
void libxl__reaper_collect(void)
{
    libxl__sigchld_take(false);
    reap_pass(false);
}

/* ------------------------------------------------------------------ */
/* The three ways a pass collects                                      */

/* Who gets a child that is not the library's (M3, M5): the ctx in M5, else
 * a default-mode ctx, preferring one with a reaped_callback. */
static libxl_ctx *unknown_target_Glocked(void)
{
    libxl_ctx *c, *best = NULL;

    LIST_FOREACH(c, &G.ctxs, g_entry) {
        if (c->mode == libxl_sigchld_owner_libxl_always)
            return c;
        if (c->mode != libxl_sigchld_owner_libxl)
            continue;
        if (!best || (c->hooks.reaped_callback && !best->hooks.reaped_callback))
            best = c;
    }
    return best;
}

/*
 * A pid not in the table has exited: if a start is in flight (between the
 * creation of its child and the child's registration, G.nstarts), it may
 * be that start's child, not an unknown one.  Then it is left unreaped
 * (its zombie keeps the pid from being reused, so it cannot be mistaken
 * for a later child) and the pass defers the rest of its waitpid(-1) work
 * to the end of the starts: G.reap_deferred asks the start that ends to
 * poke the reaper if a child is still waitable (libxl__spawn_unlock).  If
 * it was the start's child, its registration collects it.  A start that
 * created the pid counted itself before, and cannot uncount itself before
 * it registers, which needs G.lock, ours.  The reaper sets the flag, then
 * reads the count; a start drops the count, then reads the flag (all
 * sequentially consistent): one of the two sees the other.  Starts that
 * go on and on still yield to the sweep, which waits for spawners.
 */
static bool defer_to_starts_Glocked(void)
{
    if (__atomic_load_n(&G.nstarts, __ATOMIC_SEQ_CST) == 0)
        return false;
    __atomic_store_n(&G.reap_deferred, true, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&G.nstarts, __ATOMIC_SEQ_CST) > 0)
        return true;
    __atomic_store_n(&G.reap_deferred, false, __ATOMIC_SEQ_CST);
    return false; /* they have all ended meanwhile */
}

/* Reaps pid, which has exited: the library's child, or not (then its status
 * goes to reaped_callback).  1: reaped.  0: left for now, a leader held in
 * its group's kill grace (S9), or taken by someone else.  -1: left because
 * it may be the child of a start in flight (the pass stops there). */
static int reap_pid_Glocked(pid_t pid, reap_all_state *st)
{
    struct libxl__child_q *batch = st->batch;
    libxl__child *ch = libxl__child_find_watched_Glocked(pid);
    struct rusage ru;
    int status;

    /* An owner_mainloop ctx's child, reaped by a ctx that reaps all: its
     * status goes to its ctx, since the application's waitpid cannot get
     * it any more. */
    if (!ch)
        ch = libxl__child_lookup_Glocked(pid);

    if (!ch && !st->spawn_locked && defer_to_starts_Glocked()) {
        st->deferred = true;
        return -1;
    }
    if (ch && libxl__group_held_Glocked(ch))
        return 0; /* S9: its group is in its kill grace */
    memset(&ru, 0, sizeof ru);
    if (wait4(pid, &status, WNOHANG, &ru) != pid)
        return 0; /* taken by someone else: found lost later */
    if (ch) {
        if (libxl__child_collected_Glocked(ch, status, &ru, false))
            STAILQ_INSERT_TAIL(batch, ch, q_entry);
        return 1;
    }
    {
        libxl_ctx *target = unknown_target_Glocked();
        libxl__child *u = target ? libxl__child_new(false) : NULL;
        if (!u) {
            LOG(target, WARN, "reaped unknown child %d (status %#x)", (int)pid,
                status);
            return 1;
        }
        u->cls = LIBXL__CLASS_UNKNOWN;
        u->pid = pid;
        u->status = status;
        u->ctx = target;
        STAILQ_INSERT_TAIL(batch, u, q_entry);
    }
    return 1;
}

/* Parses a /proc/self/task/<tid>/children file and reaps each child in it
 * that has exited. */
static void reap_listed_children(const char *tid, int fd, void *arg)
{
    reap_all_state *st = arg;
    char buf[4096];
    size_t have = 0;
    ssize_t n;

    (void)tid;
    while ((n = read(fd, buf + have, sizeof buf - 1 - have)) > 0) {
        char *p = buf, *end;
        have += (size_t)n;
        buf[have] = '\0';
        for (;;) {
            siginfo_t si;
            long pid;

            while (*p == ' ' || *p == '\n')
                p++;
            pid = strtol(p, &end, 10);
            if (end == p || *end == '\0')
                break; /* none left, or one the read cut: carried over */
            p = end;
            memset(&si, 0, sizeof si);
            if (pid > 0 &&
                waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) ==
                    0 &&
                libxl__si_exited(&si))
                reap_pid_Glocked((pid_t)pid, st);
        }
        have = strlen(p);
        memmove(buf, p, have);
    }
}

/*
 * waitpid(-1) until nothing is left (modes M3 with children, M5), one
 * child at a time: each is peeked at first, since the ptrace stops of a
 * child this process traces are reported to any waitid, and are its
 * tracer's to take.  A stopped tracee (or a leader held in its group's
 * kill grace, S9) at the head of the kernel's list hides every child
 * behind it from waitid(P_ALL): those are then found in /proc (the
 * children of each thread), one waitid(P_PID) each.
 */
static void reap_all_Glocked(reap_all_state *st)
{
    while (G.reap_all) {
        siginfo_t si;
        int r = 0;

        memset(&si, 0, sizeof si);
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
            if (errno == EINTR)
                continue;
            break; /* ECHILD: no children at all */
        }
        if (si.si_pid == 0)
            break; /* none exited */
        if (libxl__si_exited(&si))
            r = reap_pid_Glocked(si.si_pid, st);
        if (r < 0)
            break; /* deferred to the starts in flight */
        if (r == 0) {
            libxl__each_task_file("children", reap_listed_children, st);
            break;
        }
    }
}

/* Collects the children whose pidfds are ready; *forwarded: the library's
 * handler forwarded a SIGCHLD meanwhile. */
static void reap_ready_pidfds_Glocked(struct libxl__child_q *batch,
                                      bool *forwarded)
{
    struct epoll_event evs[EPOLL_BATCH];
    int n, i;

    if (G.epfd < 0)
        return;
    do {
        n = epoll_wait(G.epfd, evs, EPOLL_BATCH, 0);
        for (i = 0; i < n; i++) {
            pid_t pid = (pid_t)(uint32_t)evs[i].data.u64;
            uint32_t id = (uint32_t)(evs[i].data.u64 >> 32);
            libxl__child *ch;

            if (id == 0) {
                /* G.sfd: taken before the pass.  G.fwd_efd: read here,
                 * whoever wrote it (a fork child made without the atfork
                 * handlers shares it), so that it never stays ready. */
                uint64_t v;
                if (pid == TAG_FORWARD &&
                    read(G.fwd_efd, &v, sizeof v) == sizeof v)
                    *forwarded = true;
                continue;
            }
            ch = libxl__child_lookup_Glocked(pid);

            while (ch && !(ch->pid == pid && ch->id == id))
                ch = ch->hash_next;
            if (!ch || ch->reaped)
                continue; /* stale: collected by another path */
            if (!libxl__child_collect_exited_Glocked(ch, batch) &&
                !ch->on_nopidfd) {
                /* Readable but not yet waitable (seen under ptrace): from
                 * now on it is checked by pid on each pass.  Re-armed, the
                 * pidfd would be ready again at once, and whoever sleeps
                 * on G.epfd would spin. */
                LIST_INSERT_HEAD(&G.nopidfd, ch, nopidfd_entry);
                ch->on_nopidfd = true;
            }
        }
    } while (n == EPOLL_BATCH);
}

/*
 * The children checked by pid.  Their exits are found first by asking the
 * kernel which child has exited (waitid(P_ALL) with WNOWAIT, which takes
 * nothing): one system call per exit, and none at all when nothing has
 * exited, where a check of each would cost one per child and pass (10 000
 * children in flight: 10 000 per SIGCHLD).  That stops at the first exited
 * child that is not one of ours to take (the application's, a leader held
 * in its group's kill grace, a tracee's stop), which hides the ones behind
 * it: then, and in the sweep (which also finds the children whose status
 * was taken behind the library's back), each is checked by pid.
 */
static void reap_nopidfd_Glocked(struct libxl__child_q *batch, bool sweep)
{
    libxl__child *ch, *next, *left = NULL;

    while (!sweep && !LIST_EMPTY(&G.nopidfd)) {
        siginfo_t si;

        memset(&si, 0, sizeof si);
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
            if (errno == EINTR)
                continue;
            break; /* ECHILD: ours are gone behind our back: check each */
        }
        if (si.si_pid == 0)
            return; /* no child has exited: none of these either */
        ch = libxl__si_exited(&si)
                 ? libxl__child_find_watched_Glocked(si.si_pid)
                 : NULL;
        if (!ch || ch->reaped)
            break;
        if (!libxl__child_collect_Glocked(ch, batch)) {
            left = ch; /* held (S9: its check scans /proc): not twice */
            break;
        }
    }
    for (ch = LIST_FIRST(&G.nopidfd); ch; ch = next) {
        next = LIST_NEXT(ch, nopidfd_entry);
        if (ch != left)
            libxl__child_collect_Glocked(ch, batch);
    }
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
        epoll_add(G.epfd, sfd, TAG_SIGNALS) ||
        epoll_add(G.epfd, fwd, TAG_FORWARD) ||
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