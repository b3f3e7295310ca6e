/*
 * watch.c - how the reaper watches the library's children.
 *
 *  - Whether every exit of the process is collected by waitpid(-1) (M3
 *    with children, M5: G.reap_all), and the spawners' side of the lock
 *    that keeps such a pass off a child not yet in the table.
 *  - A child's watch: a pidfd in the reaper's epoll set where one is
 *    affordable and wanted, else the list of children checked by pid
 *    (G.nopidfd, threads/pass.c); and the pidfds given late, when
 *    waitpid(-1) stops collecting every exit or an application zombie
 *    hides children from the kernel's "which child exited".
 *
 * Called by the pid table's users (threads/children.c) and the passes;
 * calls nothing of theirs.
 */
#include "internal.h"

#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Reap-everything or not (M3, M5, M6)                                 */

/*
 * Has any child of the process but own exited, unreaped (or stopped, for a
 * tracer)?  A peek, which takes nothing.
 */
bool libxl__something_waitable(pid_t own)
{
    siginfo_t si;

    if (libxl__waitid_peek_any(&si))
        return errno != ECHILD; /* no children: nothing to collect */
    return si.si_pid != 0 && si.si_pid != own;
}

/* Turns reap_all on or off as the modes and counts say; true when it has
 * just been switched on. */
bool libxl__reap_all_update_Glocked(void)
{
    bool all =
        G.n_always > 0 || (G.n_selective == 0 && G.n_default_children > 0);

    if (all && !G.reap_all) {
        __atomic_store_n(&G.reap_all, true, __ATOMIC_RELEASE);
        return true;
    }
    if (!all && G.reap_all) {
        __atomic_store_n(&G.reap_all, false, __ATOMIC_RELEASE);
        /* Its fork children have no pidfd, and from now on the
         * application may reap its own by pid (libxl__child_register). */
        G.rewatch = !LIST_EMPTY(&G.nopidfd);
    }
    return false;
}

void libxl__spawn_lock(void)
{
    pthread_rwlock_rdlock(&G.spawn_lock);
    __atomic_add_fetch(&G.nstarts, 1, __ATOMIC_SEQ_CST);
}

void libxl__spawn_unlock(void)
{
    /* Uncounted, then the flag read: pairs with defer_to_starts_Glocked
     * (threads/reaper.c). */
    __atomic_sub_fetch(&G.nstarts, 1, __ATOMIC_SEQ_CST);
    pthread_rwlock_unlock(&G.spawn_lock);
    if (!__atomic_load_n(&G.reap_deferred, __ATOMIC_SEQ_CST) ||
        !__atomic_exchange_n(&G.reap_deferred, false, __ATOMIC_SEQ_CST))
        return;
    /* A pass left a pid that might have been ours.  If it was, our
     * registration has collected it (or its SIGCHLD is still pending);
     * whatever is still waitable is for a pass now. */
    if (libxl__something_waitable(0))
        libxl__reaper_poke();
}

/* Switched on, reap_all needs a pass now only for a child that has
 * exited already: one that exits later sends a SIGCHLD that the reaper
 * takes with reap_all on. */
void libxl__update_reap_all_Glocked(void)
{
    if (libxl__reap_all_update_Glocked() && libxl__something_waitable(0))
        libxl__reaper_poke(); /* collect what exited before */
    libxl__rewatch_Glocked();
}

/* reap_all has gone off: the children that have no pidfd because
 * waitpid(-1) collected every exit get one now, as they would have had
 * at their start (libxl__child_register).  Done where G.nopidfd is not
 * being walked: at the end of a pass or a registration, or by a mode
 * change. */
void libxl__rewatch_Glocked(void)
{
    libxl__child *ch, *next;

    if (!G.rewatch)
        return;
    G.rewatch = false;
    for (ch = LIST_FIRST(&G.nopidfd); ch; ch = next) {
        next = LIST_NEXT(ch, nopidfd_entry);
        libxl__child_watch_late_Glocked(ch); /* takes ch off the list */
    }
}

/* ------------------------------------------------------------------ */
/* A child's watch: its pidfd in the reaper's set, or G.nopidfd        */

/*
 * Whether the next child may have a pidfd.  Each pidfd is an fd of the
 * application's process: with the usual soft limit of 1024 and a thousand
 * children in flight, they would leave none for the application (nor for
 * the dup of a child's stdin).  And every fork and spawn copies the whole
 * fd table, which every child closes again as it execs or exits: with
 * 10 000 children in flight that made starting them twice as slow (W5).
 * So past half the soft limit, or past PIDFD_MAX, children are checked by
 * pid instead (G.nopidfd): their exits are found by asking the kernel
 * which child exited (threads/reaper.c), one waitid per exit.  The limit
 * is re-read now and then, since the application may raise it.
 */
#define PIDFD_MAX 1024
/* capped: PIDFD_MAX applies.  Not to an owner_mainloop child, whose pidfd
 * is what keeps a kill off a recycled pid (the application reaps it
 * without G.lock: threads/kill.c), nor its group off a recycled group. */
bool libxl__pidfd_affordable(bool capped)
{
    long n = __atomic_load_n(&G.npidfds, __ATOMIC_RELAXED);

    if (__atomic_load_n(&G.nofile_limit, __ATOMIC_RELAXED) == 0 ||
        (__atomic_add_fetch(&G.nofile_checks, 1, __ATOMIC_RELAXED) & 1023) ==
            0) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
            __atomic_store_n(&G.nofile_limit,
                             rl.rlim_cur == RLIM_INFINITY ? (long)1 << 30
                                                          : (long)rl.rlim_cur,
                             __ATOMIC_RELAXED);
    }
    return (!capped || n < PIDFD_MAX) &&
           n < __atomic_load_n(&G.nofile_limit, __ATOMIC_RELAXED) / 2;
}

/* ch's pidfd into the reaper's set, tagged with its id and pid (a pass
 * tells a stale event by them).  0, or -1 (errno set). */
static int epoll_watch_Glocked(libxl__child *ch)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT};

    ev.data.u64 = ((uint64_t)ch->id << 32) | (uint32_t)ch->pid;
    return epoll_ctl(G.epfd, EPOLL_CTL_ADD, ch->pidfd, &ev);
}

void libxl__child_watch_Glocked(libxl__child *ch)
{
    if (ch->pidfd >= 0 && G.epfd >= 0) {
        if (epoll_watch_Glocked(ch) == 0)
            return;
        LOGE(ch->ctx, WARN, "epoll_ctl(pidfd of %d); checking it by pid",
             (int)ch->pid);
    }
    /* Checked by pid on every pass; a pidfd, if any, still serves kills. */
    LIST_INSERT_HEAD(&G.nopidfd, ch, nopidfd_entry);
    ch->on_nopidfd = true;
}

/*
 * A child checked by pid gets a pidfd after all: the kernel's answer to
 * "which child exited" (threads/pass.c) is stuck on a zombie that is not
 * the library's to take, so each pass would check every such child by pid
 * until the application reaps its own.  (Children past the pidfd cap, or
 * from before a pidfd became affordable again.)  Opened late, the pidfd is
 * still the child's: the pid of an unreaped child cannot be recycled, and
 * only the library reaps one of its class.  Not while waitpid(-1) collects
 * every exit anyway, and not for a leader in its group's kill grace, whose
 * pidfd would be ready at once (S9 holds it on the list).  True if ch now
 * has one, watched.  G.lock held.
 */
bool libxl__child_watch_late_Glocked(libxl__child *ch)
{
    if (ch->pidfd >= 0 || ch->reaped || ch->cls == LIBXL__CLASS_APP ||
        ch->kill_group_on_exit || G.reap_all || !G.have_pidfd || G.epfd < 0 ||
        !libxl__pidfd_affordable(true))
        return false;
    ch->pidfd = libxl__pidfd_open(ch->pid);
    if (ch->pidfd < 0)
        return false;
    if (G.have_waitid_pidfd) {
        siginfo_t si;
        /* Not our child any more: its status was taken behind the
         * library's back and the pid is someone else's.  Left to the
         * check by pid, which reports it lost. */
        if (libxl__waitid(P_PIDFD, (id_t)ch->pidfd, &si,
                          WEXITED | WNOHANG | WNOWAIT, NULL) < 0 &&
            errno == ECHILD) {
            close(ch->pidfd);
            ch->pidfd = -1;
            return false;
        }
    }
    __atomic_add_fetch(&G.npidfds, 1, __ATOMIC_RELAXED);
    if (epoll_watch_Glocked(ch))
        return false; /* still checked by pid; the pidfd serves waitid */
    if (ch->on_nopidfd)
        LIST_REMOVE(ch, nopidfd_entry);
    ch->on_nopidfd = false;
    return true;
}
