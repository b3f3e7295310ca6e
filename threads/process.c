/*
 * process.c - the library's process-wide state, and fork safety (F1-F3).
 *
 * G (src/internal.h) is everything the library keeps per process: the
 * locks, the ctx registry, the pid table (threads/children.c), the reaper's
 * state (threads/reaper.c).  It is initialised once, by the first
 * libxl_ctx_alloc, and reset in every fork child.
 *
 * pthread_atfork handlers, registered once: prepare takes G.ctxs_lock so
 * the child's copy of the ctx list is whole; the parent and the child
 * release it; the child re-initialises every global lock that a vanished
 * thread held, forgets the parent's children and reaper, and bumps
 * G.generation so that every ctx inherited from the parent is stale.
 * G.lock is deliberately not held across fork(): the reaper takes it for
 * every status, and a fork of a big process takes milliseconds; the child
 * discards everything G.lock guards anyway.  The child handler allocates
 * nothing and joins nothing (it runs in a process with one thread, possibly
 * mid-malloc in another thread of the parent).
 */
#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

libxl__global libxl__G = {
    .ctxs_lock = PTHREAD_MUTEX_INITIALIZER,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .spawn_lock = PTHREAD_RWLOCK_INITIALIZER,
    .epfd = -1,
    .outer_epfd = -1,
    .sfd = -1,
    .fwd_efd = -1,
    .poke_efd = -1,
};

static void atfork_prepare(void);
static void atfork_parent(void);
static void atfork_child(void);

/* ------------------------------------------------------------------ */
/* One-time set-up                                                     */

static void probe_pidfd(void)
{
    const char *env = getenv("XLCHILD_NO_PIDFD");
    int fd;

    if (env && *env && strcmp(env, "0") != 0)
        return; /* benchmarks and tests of the fallback */
    fd = libxl__pidfd_open(getpid());
    if (fd < 0)
        return;
    G.have_pidfd = true;
    {
        siginfo_t si;
        /* Ourselves is never our child: ECHILD means P_PIDFD is known. */
        if (libxl__waitid(P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG, NULL) <
                0 &&
            errno == ECHILD)
            G.have_waitid_pidfd = true;
    }
    /* Signal 0 to the group our pid names: EINVAL if the flag is unknown,
     * else 0, or ESRCH when we lead no group. */
    if (libxl__pidfd_send_signal_flags(fd, 0, LIBXL__PIDFD_SIGNAL_PGRP) == 0 ||
        errno != EINVAL)
        G.have_pidfd_pgrp = true;
    close(fd);
}

/* The reaper's sweep takes spawn_lock for writing; with glibc's
 * default (readers first), threads spawning back to back would starve it
 * for ever.  No thread takes the read side twice, so preferring writers
 * cannot deadlock. */
static void spawn_lock_init(void)
{
    pthread_rwlockattr_t a;

    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&G.spawn_lock, &a);
    pthread_rwlockattr_destroy(&a);
}

static void global_init_once(void)
{
    LIBXL__ATOMIC_VAR(G.generation);
    LIBXL__ATOMIC_VAR(G.npidfds);
    LIBXL__ATOMIC_VAR(G.pass_seq);
    LIBXL__ATOMIC_VAR(G.reap_all);
    LIBXL__ATOMIC_VAR(G.reap_deferred);
    LIBXL__ATOMIC_VAR(G.nstarts);
    LIBXL__ATOMIC_VAR(G.reaper_running);
    LIBXL__ATOMIC_VAR(G.reaper_tid);
    LIBXL__ATOMIC_VAR(G.fwd_efd);
    LIBXL__ATOMIC_VAR(G.poke_efd);
    LIBXL__ATOMIC_VAR(G.lead_busy);
    LIBXL__ATOMIC_VAR(G.lead_owner);
    LIBXL__ATOMIC_VAR(G.lead_seen_ms);
    LIBXL__ATOMIC_VAR(G.nfollowers);
    LIBXL__ATOMIC_VAR(G.sigchld_reinstall);
    LIBXL__ATOMIC_VAR(G.nofile_limit);
    LIBXL__ATOMIC_VAR(G.nofile_checks);
    spawn_lock_init();
    G.self = getpid();
    LIBXL__ATOMIC_VAR(G.self);
    G.next_id = 1;
    LIST_INIT(&G.ctxs);
    LIST_INIT(&G.nopidfd);
    STAILQ_INIT(&G.pending);
    probe_pidfd();
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

void libxl__global_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, global_init_once);
}

/* The parent's pid table, as inherited by a fork child: not ours to free
 * (stale ctxs point into it), but kept reachable rather than lost.  Only
 * ever written: volatile keeps the optimiser from dropping the store. */
static libxl__child **volatile stale_table;

/* A lock that a thread of the parent held at the fork stays locked for
 * ever in the child, where that thread does not exist: it must be made
 * anew.  One that was free is kept as it is (checkers such as drd rightly
 * frown on re-initialising a lock they know). */
static void mutex_reset_in_child(pthread_mutex_t *m)
{
    if (pthread_mutex_trylock(m) == 0) {
        pthread_mutex_unlock(m);
        return;
    }
    LIBXL__LOCK_REBORN(*m);
    pthread_mutex_init(m, NULL);
}

/* The parent's reaper fds, as a fork child inherits them: closed once the
 * child uses the library (libxl__inherited_close_Glocked, when its own
 * reaper starts) or calls libxl_postfork_child_noexec, not in every fork
 * child: one that execs (they are close-on-exec) or exits soon would pay
 * five system calls for nothing.  Nothing here touches them: epoll sets
 * are shared with the parent, the others would only mislead. */
static int inherited[16];
static int ninherited;

static void stash_in_child(int *fd)
{
    if (*fd >= 0) {
        if (ninherited < (int)(sizeof inherited / sizeof inherited[0]))
            inherited[ninherited++] = *fd;
        else
            close(*fd);
    }
    *fd = -1;
}

void libxl__inherited_close_Glocked(void)
{
    while (ninherited > 0)
        close(inherited[--ninherited]);
}

/* Runs in the child of every fork, with only the forking thread alive.
 * Nothing of the parent's children is ours here: forget it all. */
static void global_reset_in_child(void)
{
    mutex_reset_in_child(&G.ctxs_lock);
    mutex_reset_in_child(&G.lock);
    if (pthread_rwlock_trywrlock(&G.spawn_lock) == 0) {
        pthread_rwlock_unlock(&G.spawn_lock);
    } else {
        LIBXL__LOCK_REBORN(G.spawn_lock);
        spawn_lock_init();
    }
    G.generation++;
    G.self = 0; /* libxl__self() asks when needed: a system call less per
                   fork child, most of which never need it */
    LIST_INIT(&G.ctxs);
    LIST_INIT(&G.nopidfd);
    STAILQ_INIT(&G.pending);
    G.n_always = G.n_selective = 0;
    G.n_default_children = G.n_watched = 0;
    G.n_group_kills = 0; /* npidfds stays: the inherited pidfds are still
                            open in this process */
    G.reap_all = false;
    G.reap_deferred = false;
    G.lost_since_sweep = false;
    G.rewatch = false;
    G.nstarts = 0; /* the starts in flight were the parent's threads' */
    if (G.table)
        stale_table = G.table;
    G.table = NULL;
    G.table_size = G.table_count = 0;
    __atomic_store_n(&G.reaper_running, false, __ATOMIC_RELAXED);
    G.reaper_tid = 0;
    G.sigchld_reinstall = false; /* the next reaper installs anyway */
    stash_in_child(&G.epfd);
    stash_in_child(&G.outer_epfd);
    stash_in_child(&G.sfd);
    stash_in_child(&G.fwd_efd);
    stash_in_child(&G.poke_efd);
    G.leading = false; /* the leader was a thread of the parent */
    G.lead_owner = NULL;
    G.lead_busy = false;
    G.lead_seen_ms = 0;
    libxl__lead_working(NULL); /* this thread's calls are the parent's */
    G.nfollowers = 0;
    G.n_wake_users = 0; /* the stale ctxs never count */
}
/* ------------------------------------------------------------------ */
/* Fork (F1-F3)                                                        */

static void atfork_prepare(void)
{
    pthread_mutex_lock(&G.ctxs_lock);
}

static void atfork_parent(void)
{
    pthread_mutex_unlock(&G.ctxs_lock);
}

/* The stale ctxs, as they were at the fork: libxl_postfork_child_noexec
 * closes their wakeup fds. */
static LIST_HEAD(, libxl__ctx) stale_ctxs;

static void child_reset(void)
{
    stale_ctxs.lh_first = G.ctxs.lh_first;
    global_reset_in_child();
}

static void atfork_child(void)
{
    /* Taken by atfork_prepare in the thread that is now the child's only
     * one: released, not re-initialised. */
    pthread_mutex_unlock(&G.ctxs_lock);
    child_reset();
}

/* Our own fork paths, in the child.  If a fork_replacement made the child
 * without running the atfork handlers (G.generation is still what it was
 * before the fork: atfork_child bumps it), do their work now. */
void libxl__child_after_fork(unsigned generation)
{
    struct sigaction sa;
    sigset_t s;

    if (G.generation == generation)
        child_reset(); /* no atfork_prepare ran: nothing to release */
    /* R2: SIGCHLD at its default, unblocked; the rest of the mask kept. */
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    sigemptyset(&s);
    sigaddset(&s, SIGCHLD);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
}

LIBXL_EXPORT void libxl_postfork_child_noexec(libxl_ctx *ctx)
{
    libxl_ctx *c;

    (void)ctx; /* any stale ctx will do: all of them are handled */
    pthread_mutex_lock(&G.lock);
    libxl__inherited_close_Glocked();
    pthread_mutex_unlock(&G.lock);
    /* The list was whole at the fork (atfork_prepare held G.ctxs_lock).
     * As in libxl, memory is not reclaimed; nor are the pidfds of the
     * parent's children (close-on-exec, and only reachable through lists
     * another thread may have been changing at the fork). */
    LIST_FOREACH(c, &stale_ctxs, g_entry) {
        if (c->wake_fd >= 0)
            close(c->wake_fd);
        c->wake_fd = -1;
        if (c->poll_efd >= 0)
            close(c->poll_efd);
        c->poll_efd = -1;
    }
    LIST_INIT(&stale_ctxs);
}

/* ------------------------------------------------------------------ */
/* The process's threads                                               */

int libxl__each_task_file(const char *file,
                          void (*fn)(const char *tid, int fd, void *arg),
                          void *arg)
{
    char dents[4096], path[64];
    long n;
    int dfd, rc = 0;

    /* No opendir: nothing is allocated here, so a fork taken in the middle
     * of this leaves no heap block behind in the child. */
    dfd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    while ((n = syscall(__NR_getdents64, dfd, dents, sizeof dents)) > 0) {
        long off;
        for (off = 0; off < n;) {
            struct {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *de = (void *)(dents + off);
            int fd;

            off += de->reclen;
            if (de->name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%.20s/%.32s", de->name, file);
            fd = openat(dfd, path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                rc = -1;
                continue;
            }
            fn(de->name, fd, arg);
            close(fd);
        }
    }
    if (n < 0)
        rc = -1;
    close(dfd);
    return rc;
}
