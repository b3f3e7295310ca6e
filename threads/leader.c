/*
 * leader.c - the reaper's role, lent to a thread that waits (E2).
 *
 * The reaper thread costs each status a hop between threads: the kernel
 * wakes the reaper, which collects and wakes the consumer, often on the
 * other CPU (whose mm then takes TLB-shootdown IPIs at every fork).  While
 * an application thread sleeps in a libxl call anyway, it can sleep on
 * what the reaper sleeps on instead, and collect itself: it leads.
 *
 *  - What the reaper sleeps on is one epoll set, G.epfd: the signalfd of
 *    SIGCHLD, the children's pidfds and the handler's forwarding eventfd.
 *    The reaper reaches it through its own set, G.outer_epfd.
 *  - A thread about to sleep on a ctx (src/loop.c) takes the role if
 *    nobody asleep has it and the process has no other ctx (a leader
 *    collects, and wakes, for every ctx's children): G.epfd's entry in
 *    the reaper's set is switched off (one epoll_ctl) and the thread
 *    polls G.epfd beside its own wakeup eventfd.  The reaper, still
 *    asleep, is no longer woken for SIGCHLD; only pokes and its 1 s
 *    sweep wake it.
 *  - On waking, the leader first runs the pass the reaper would have run
 *    (for every ctx, if G.epfd was ready), then does its own work.  It
 *    keeps the role through that work only if nobody else can be waiting
 *    for a status: no other thread asleep in a libxl call, no ctx whose
 *    wakeup fd an application polls.  Otherwise it gives the role back:
 *    G.epfd's entry is switched on again, which wakes the reaper at once
 *    if a SIGCHLD came meanwhile; if not, nobody is woken.
 *  - On the same terms a thread takes the role as it enters its wait
 *    (libxl__lead_take_busy), before it has slept: one that always finds
 *    work queued (callbacks that start the next child) would otherwise
 *    never sleep, and the reaper would collect everything for it.  So
 *    does an asynchronous libxl_childproc_run made outside a callback,
 *    which runs the pending completions before it returns: it collects
 *    what is ready before it gives the role back (libxl__lead_ready,
 *    src/loop.c), and the SIGCHLDs that come while it spawns wake nobody.
 *  - A role kept by a busy leader is never a wall: the next thread to
 *    sleep takes it over (a callback that makes a synchronous call, or
 *    another thread), beforepoll and the osevent hooks take it back for
 *    the reaper, and so does the reaper's sweep if the leader has not
 *    looked at G.epfd lately (G.lead_seen_ms): a callback that runs for
 *    long delays other statuses by at most that 1 s (M2).  A chain of
 *    short callbacks whose call looks between them keeps it.
 *  - The role ends with the call it was taken in (libxl__lead_end), also
 *    when that call is cancelled (E5).
 *  - A ctx driven by the application's poll loop (beforepoll/afterpoll,
 *    src/osevent.c) leads the same way: beforepoll hands out G.epfd beside
 *    the wakeup fd when the role is free, and afterpoll collects if it was
 *    readable.  Such a role is always up for taking over (the loop may
 *    stop polling at any time): by a thread that sleeps in a libxl call,
 *    and by the reaper's sweep once the loop no longer collects.
 *  - Exactly once holds whoever collects: a pass runs under G.lock, and a
 *    collected child leaves the pid table (threads/children.c).
 */
#include "internal.h"

#include <assert.h>

#include <poll.h>
#include <sys/epoll.h>

/* The role is lent only while the process has one ctx.  A leader collects
 * for every ctx, and is woken by every child's exit: with one ctx all of
 * that is its own (E2: the leader sleeps on that ctx's own readiness); with
 * several, a thread waiting on one would be woken for the others' children,
 * and the reaper keeps the role.  G.lock held. */
static bool one_ctx_Glocked(void)
{
    libxl_ctx *c = LIST_FIRST(&G.ctxs);

    return c && !LIST_NEXT(c, g_entry);
}

/* G.epfd stops waking the reaper: owner has the role.  The reaper sweeps
 * while anyone has it (its sweep takes a kept role back): one idle in an
 * untimed wait is poked into timed ones.  G.lock held. */
static bool take_Glocked(const void *owner, bool busy)
{
    if (!libxl__reaper_wait_set_lend_Glocked())
        return false;
    G.leading = true;
    __atomic_store_n(&G.lead_owner, owner, __ATOMIC_RELAXED);
    __atomic_store_n(&G.lead_busy, busy, __ATOMIC_RELAXED);
    __atomic_store_n(&G.lead_seen_ms, libxl__now_ms(), __ATOMIC_RELAXED);
    if (G.reaper_untimed)
        libxl__reaper_poke();
    return true;
}

int libxl__lead_begin(const void *owner, bool stealable, bool *following)
{
    int fd = -1;

    pthread_mutex_lock(&G.lock);
    if (!G.reaper_running) {
        /* Nobody reaps yet, but a start may start the reaper while this
         * thread sleeps: it is counted, so that no thread keeps the role
         * through its work while this one may wait for a status. */
        if (following && (*following = true))
            __atomic_add_fetch(&G.nfollowers, 1, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&G.lock);
        return -1;
    }
    if (G.outer_epfd < 0) {
        /* no wait set: the reaper uses sigtimedwait */
    } else if (G.leading) {
        /* Kept by a leader busy with its work (maybe this thread, in a
         * callback): this sleeper takes it over. */
        if (G.lead_busy || G.lead_owner == owner) {
            __atomic_store_n(&G.lead_owner, owner, __ATOMIC_RELAXED);
            __atomic_store_n(&G.lead_busy, stealable, __ATOMIC_RELAXED);
            __atomic_store_n(&G.lead_seen_ms, libxl__now_ms(),
                             __ATOMIC_RELAXED);
            fd = G.epfd;
        }
    } else if (one_ctx_Glocked() && take_Glocked(owner, stealable)) {
        fd = G.epfd;
    }
    /* Counted under G.lock, where a leader decides whether to keep the
     * role: it sees this follower, or this one saw it kept and took it. */
    if (following && (*following = fd < 0))
        __atomic_add_fetch(&G.nfollowers, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&G.lock);
    return fd;
}

void libxl__lead_follow(void)
{
    pthread_mutex_lock(&G.lock);
    __atomic_add_fetch(&G.nfollowers, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&G.lock);
}

void libxl__lead_unfollow(void)
{
    __atomic_sub_fetch(&G.nfollowers, 1, __ATOMIC_RELAXED);
}

/* Nobody can be waiting for a status that a leader would collect late:
 * no thread asleep in a libxl call without the role, no ctx whose wakeup
 * fd the application polls.  G.lock held. */
static bool may_keep_Glocked(void)
{
    return __atomic_load_n(&G.nfollowers, __ATOMIC_RELAXED) == 0 &&
           G.n_wake_users == 0;
}

bool libxl__lead_take_busy(const void *owner, const void *from)
{
    bool took = false;

    if (!__atomic_load_n(&G.reaper_running, __ATOMIC_ACQUIRE))
        return false;
    pthread_mutex_lock(&G.lock);
    if (G.leading && from && G.lead_owner == from) {
        /* handed on within one call */
        __atomic_store_n(&G.lead_owner, owner, __ATOMIC_RELAXED);
        took = true;
    } else if (G.outer_epfd >= 0 && !G.leading && may_keep_Glocked() &&
               one_ctx_Glocked()) {
        took = take_Glocked(owner, true);
    }
    pthread_mutex_unlock(&G.lock);
    return took;
}

void libxl__lead_woke(const void *owner, bool ready)
{
    bool keep;

    if (ready)
        libxl__reaper_collect();
    pthread_mutex_lock(&G.lock);
    if (G.leading && G.lead_owner == owner) {
        keep = may_keep_Glocked();
        if (keep) {
            __atomic_store_n(&G.lead_busy, true, __ATOMIC_RELAXED);
            __atomic_store_n(&G.lead_seen_ms, libxl__now_ms(),
                             __ATOMIC_RELAXED);
        } else
            libxl__reaper_wait_set_back_Glocked();
    }
    pthread_mutex_unlock(&G.lock);
}

bool libxl__lead_fd_ready(int nfds, const struct pollfd *fds)
{
    int i, epfd;

    if (!__atomic_load_n(&G.reaper_running, __ATOMIC_ACQUIRE) || !fds)
        return false;
    epfd = G.epfd; /* set before the reaper ran; the acquire orders it */
    for (i = 0; i < nfds; i++)
        if (fds[i].fd == epfd && epfd >= 0 && fds[i].revents)
            return true;
    return false;
}

/* The role's owner this thread works for, if any (libxl__lead_working). */
static __thread const void *working_for;

const void *libxl__lead_working(const void *owner)
{
    const void *prev = working_for;

    working_for = owner;
    return prev;
}

void libxl__lead_heartbeat(void)
{
    const void *o = working_for;

    if (o && __atomic_load_n(&G.lead_owner, __ATOMIC_RELAXED) == o)
        __atomic_store_n(&G.lead_seen_ms, libxl__now_ms(), __ATOMIC_RELAXED);
}

bool libxl__lead_ready(const void *owner)
{
    struct pollfd p;
    bool leads;

    if (!__atomic_load_n(&G.reaper_running, __ATOMIC_ACQUIRE) || G.epfd < 0)
        return false;
    pthread_mutex_lock(&G.lock);
    leads = G.leading && G.lead_owner == owner;
    pthread_mutex_unlock(&G.lock);
    if (!leads)
        return false; /* taken over, or back with the reaper */
    __atomic_store_n(&G.lead_seen_ms, libxl__now_ms(), __ATOMIC_RELAXED);
    p.fd = G.epfd; /* set before the reaper ran; the acquire orders it */
    p.events = POLLIN;
    p.revents = 0;
    return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

void libxl__lead_end(const void *owner)
{
    pthread_mutex_lock(&G.lock);
    if (G.leading && G.lead_owner == owner)
        libxl__reaper_wait_set_back_Glocked();
    pthread_mutex_unlock(&G.lock);
}

void libxl__lead_wake_fd_used(void)
{
    pthread_mutex_lock(&G.lock);
    G.n_wake_users++;
    pthread_mutex_unlock(&G.lock);
    libxl__lead_reclaim();
}

void libxl__lead_wake_fd_unused(void)
{
    pthread_mutex_lock(&G.lock);
    assert(G.n_wake_users > 0);
    if (G.n_wake_users > 0)
        G.n_wake_users--;
    pthread_mutex_unlock(&G.lock);
}

void libxl__lead_reclaim(void)
{
    if (!__atomic_load_n(&G.lead_busy, __ATOMIC_RELAXED))
        return;
    pthread_mutex_lock(&G.lock);
    if (G.leading && G.lead_busy)
        libxl__reaper_wait_set_back_Glocked();
    pthread_mutex_unlock(&G.lock);
}
