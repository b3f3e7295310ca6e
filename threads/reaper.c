/*
 * reaper.c - the process-wide reaper thread and the pid table.
 *
 * The reaper's contract:
 *  - One thread per process, started on first need with every signal
 *    blocked, shared by every ctx.  SIGCHLD is blocked in application
 *    threads (ctx_alloc blocks it), so it stays pending until the reaper
 *    takes it with sigtimedwait.
 *  - A SIGCHLD means "at least one child changed", never "this child"
 *    (signals coalesce).  The reaper therefore collects every exited child
 *    it owns, without scanning: ready pidfds come from an epoll set
 *    (EPOLLONESHOT, polled with timeout 0 after each signal), and
 *    waitpid(-1) is used only while some ctx must reap every child of the
 *    process (modes M3 with children, M5).  Children without a pidfd (old
 *    kernels, fd exhaustion) are checked one waitpid(pid) each.
 *  - It waits at most 1 s while it owns children and sweeps then (M2), so a
 *    SIGCHLD swallowed by some thread delays a status but never loses it.
 *  - It never runs application code except a SIGCHLD handler that was
 *    installed before the library's (chained, as the kernel would have run
 *    it), and never takes a ctx lock while holding G.lock: statuses are
 *    handed over in batches, one lock and one wakeup per run of statuses
 *    for the same ctx.
 */
#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

libxl__global libxl__G = {
    .ctxs_lock = PTHREAD_MUTEX_INITIALIZER,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .spawn_lock = PTHREAD_RWLOCK_INITIALIZER,
    .epfd = -1,
};

/* The SIGCHLD disposition found when the library installed its handler
 * (again, if sweep_checks had to put it back).  Written under G.lock before
 * the handler is installed; survives fork (the handler does too). */
static struct sigaction prev_action;
static bool handler_installed;

/* pidfd_affordable's cache of RLIMIT_NOFILE (a stale value is harmless)
 * and its call count, both atomic. */
static long limit;
static unsigned calls;

#define SWEEP_INTERVAL_S 1
#define EPOLL_BATCH 256

static int sys_pidfd_open(pid_t pid)
{
    return (int)syscall(__NR_pidfd_open, pid, 0);
}

static int sys_pidfd_send_signal(int pidfd, int sig)
{
    return (int)syscall(__NR_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* glibc's waitid has no rusage argument; the system call has. */
static int sys_waitid(idtype_t type, id_t id, siginfo_t *si, int options,
                      struct rusage *ru)
{
    return (int)syscall(__NR_waitid, type, id, si, options, ru);
}

static int status_of_siginfo(const siginfo_t *si)
{
    switch (si->si_code) {
    case CLD_EXITED: return (si->si_status & 0xff) << 8;
    case CLD_KILLED: return si->si_status & 0x7f;
    case CLD_DUMPED: return (si->si_status & 0x7f) | 0x80;
    default: return 0;
    }
}

/* ------------------------------------------------------------------ */
/* One-time set-up                                                     */

static void probe_pidfd(void)
{
    const char *env = getenv("XLCHILD_NO_PIDFD");
    int fd;

    if (env && *env && strcmp(env, "0") != 0)
        return; /* benchmarks and tests of the fallback */
    fd = sys_pidfd_open(getpid());
    if (fd < 0)
        return;
    G.have_pidfd = true;
    {
        siginfo_t si;
        /* Ourselves is never our child: ECHILD means P_PIDFD is known. */
        if (sys_waitid(P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG, NULL) < 0 &&
            errno == ECHILD)
            G.have_waitid_pidfd = true;
    }
    close(fd);
}

/* The reaper's waitpid(-1) pass takes spawn_lock for writing; with glibc's
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
    LIBXL__ATOMIC_VAR(G.reaper_running);
    LIBXL__ATOMIC_VAR(G.reaper_tid);
    LIBXL__ATOMIC_VAR(limit);
    LIBXL__ATOMIC_VAR(calls);
    spawn_lock_init();
    G.self = getpid();
    G.next_id = 1;
    LIST_INIT(&G.ctxs);
    LIST_INIT(&G.nopidfd);
    STAILQ_INIT(&G.pending);
    probe_pidfd();
    libxl__atfork_init();
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

/* Runs in the child of every fork, with only the forking thread alive.
 * Nothing of the parent's children is ours here: forget it all. */
void libxl__global_reset_in_child(void)
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
    G.self = getpid();
    LIST_INIT(&G.ctxs);
    LIST_INIT(&G.nopidfd);
    STAILQ_INIT(&G.pending);
    G.n_always = G.n_selective = 0;
    G.n_default_children = G.n_watched = 0;
    G.n_group_kills = 0; /* npidfds stays: the inherited pidfds are still
                            open in this process */
    G.reap_all = false;
    if (G.table)
        stale_table = G.table;
    G.table = NULL;
    G.table_size = G.table_count = 0;
    __atomic_store_n(&G.reaper_running, false, __ATOMIC_RELAXED);
    G.reaper_tid = 0;
    if (G.epfd >= 0)
        close(G.epfd); /* shared with the parent: never touch it here */
    G.epfd = -1;
}

/* ------------------------------------------------------------------ */
/* The pid table: chained hash, grown when the load exceeds 1.         */

static unsigned hash_pid(pid_t pid, unsigned size)
{
    return ((uint32_t)pid * 2654435761u) & (size - 1);
}

static int table_grow_locked(void)
{
    unsigned nsize = G.table_size ? G.table_size * 2 : 64;
    libxl__child **nt = calloc(nsize, sizeof *nt);
    unsigned i;

    if (!nt)
        return ERROR_NOMEM;
    for (i = 0; i < G.table_size; i++) {
        libxl__child *ch = G.table[i], *next;
        for (; ch; ch = next) {
            unsigned h = hash_pid(ch->pid, nsize);
            next = ch->hash_next;
            ch->hash_next = nt[h];
            nt[h] = ch;
        }
    }
    free(G.table);
    G.table = nt;
    G.table_size = nsize;
    return 0;
}

static libxl__child *child_lookup_locked(pid_t pid)
{
    libxl__child *ch;

    if (!G.table_size)
        return NULL;
    for (ch = G.table[hash_pid(pid, G.table_size)]; ch; ch = ch->hash_next)
        if (ch->pid == pid)
            return ch;
    return NULL;
}

static void child_unhash_locked(libxl__child *ch)
{
    libxl__child **pp = &G.table[hash_pid(ch->pid, G.table_size)];

    for (; *pp; pp = &(*pp)->hash_next) {
        if (*pp == ch) {
            *pp = ch->hash_next;
            G.table_count--;
            return;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Reap-everything or not (M3, M5, M6)                                 */

void libxl__update_reap_all_locked(void)
{
    bool all =
        G.n_always > 0 || (G.n_selective == 0 && G.n_default_children > 0);

    if (all && !G.reap_all) {
        __atomic_store_n(&G.reap_all, true, __ATOMIC_RELEASE);
        libxl__reaper_poke(); /* collect what exited before */
    } else if (!all) {
        __atomic_store_n(&G.reap_all, false, __ATOMIC_RELEASE);
    }
}

/* ------------------------------------------------------------------ */
/* Children                                                            */

libxl__child *libxl__child_new(void)
{
    libxl__child *ch = calloc(1, sizeof *ch);

    if (ch)
        ch->pidfd = -1;
    return ch;
}

void libxl__child_free(libxl__child *ch)
{
    if (!ch)
        return;
    if (ch->pidfd >= 0) {
        close(ch->pidfd);
        __atomic_sub_fetch(&G.npidfds, 1, __ATOMIC_RELAXED);
    }
    free(ch);
}

/*
 * Whether the next child may have a pidfd.  Each pidfd is an fd of the
 * application's process: with the usual soft limit of 1024 and a thousand
 * children in flight, they would leave none for the application (nor for
 * the dup of a child's stdin).  Past half the soft limit, children are
 * checked by pid instead (threads/reaper.c's nopidfd list), which costs
 * one waitid per such child and pass.  The limit is re-read now and then,
 * since the application may raise it.
 */
static bool pidfd_affordable(void)
{
    long n = __atomic_load_n(&G.npidfds, __ATOMIC_RELAXED);

    if (__atomic_load_n(&limit, __ATOMIC_RELAXED) == 0 ||
        (__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED) & 1023) == 0) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
            __atomic_store_n(&limit,
                             rl.rlim_cur == RLIM_INFINITY ? (long)1 << 30
                                                          : (long)rl.rlim_cur,
                             __ATOMIC_RELAXED);
    }
    return n < __atomic_load_n(&limit, __ATOMIC_RELAXED) / 2;
}

static void watch_add_locked(libxl__child *ch)
{
    if (ch->pidfd >= 0 && G.epfd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT};
        ev.data.u64 = ((uint64_t)ch->id << 32) | (uint32_t)ch->pid;
        if (epoll_ctl(G.epfd, EPOLL_CTL_ADD, ch->pidfd, &ev) == 0)
            return;
        LOGE(ch->ctx, WARN, "epoll_ctl(pidfd of %d); checking it by pid",
             (int)ch->pid);
    }
    /* Checked by pid on every pass; a pidfd, if any, still serves kills. */
    LIST_INSERT_HEAD(&G.nopidfd, ch, nopidfd_entry);
    ch->on_nopidfd = true;
}

/* ch's group no longer waits for its leader's exit to be killed (killed,
 * or ch leaves the table): G.n_group_kills counts the ones that do. */
static bool group_kill_drop_locked(libxl__child *ch)
{
    if (!ch->kill_group_on_exit)
        return false;
    ch->kill_group_on_exit = false;
    G.n_group_kills--;
    return true;
}

/* The group of a leader that has exited but is not reaped yet: SIGKILL
 * whatever is left of it (a member that ignored the SIGTERM). */
static void group_kill_locked(libxl__child *ch)
{
    if (group_kill_drop_locked(ch))
        kill(-ch->pid, SIGKILL);
}

/* waitid(WEXITED | WNOHANG | options) on ch alone: through its pidfd
 * where the kernel can, else by pid.  si_pid stays 0 if it has not exited. */
static int child_waitid_locked(libxl__child *ch, siginfo_t *si, int options,
                               struct rusage *ru)
{
    memset(si, 0, sizeof *si);
    options |= WEXITED | WNOHANG;
    if (ch->pidfd >= 0 && G.have_waitid_pidfd)
        return sys_waitid(P_PIDFD, (id_t)ch->pidfd, si, options, ru);
    return sys_waitid(P_PID, (id_t)ch->pid, si, options, ru);
}

/* Has ch exited (not yet reaped)?  For group kills only. */
static bool exited_unreaped_locked(libxl__child *ch)
{
    siginfo_t si;

    child_waitid_locked(ch, &si, WNOWAIT, NULL);
    return si.si_pid != 0;
}

/*
 * A child whose status was taken behind the library's back.  It is reported
 * once, as lost: status LIBXL__STATUS_LOST (-1, which no wait status is),
 * so that nobody mistakes it for an exit code (inventing "exit 255", as
 * some peers do, would be a lie the caller cannot tell from the truth), and
 * runs complete with ERROR_FAIL (src/childproc.c).
 */
static void child_lost_locked(libxl__child *ch, int errnoval,
                              struct libxl__child_q *batch)
{
    LOGEV(ch->ctx, ERROR, errnoval,
          "child %d: its status was reaped behind the library's back"
          " (a waitpid(-1) or wait() elsewhere, or SIGCHLD set to SIG_IGN);"
          " reporting it as lost",
          (int)ch->pid);
    if (libxl__child_collected_locked(ch, LIBXL__STATUS_LOST, NULL, true))
        STAILQ_INSERT_TAIL(batch, ch, q_entry);
}

/* Collects one child of ours without blocking.  1: collected (or lost),
 * 0: still running.  G.lock held. */
static int collect_one_locked(libxl__child *ch, struct libxl__child_q *batch)
{
    siginfo_t si;
    struct rusage ru;
    int r;

    if (ch->kill_group_on_exit && exited_unreaped_locked(ch))
        group_kill_locked(ch);
    memset(&ru, 0, sizeof ru);
    r = child_waitid_locked(ch, &si, 0, &ru);
    if (r < 0 && errno == EINTR)
        return 0; /* next pass */
    if (r < 0) {
        /* ECHILD: somebody else took the status (a waitpid(-1) or wait()
         * elsewhere, or the kernel itself while SIGCHLD was SIG_IGN). */
        child_lost_locked(ch, errno, batch);
        return 1;
    }
    if (si.si_pid == 0)
        return 0;
    if (libxl__child_collected_locked(ch, status_of_siginfo(&si), &ru, false))
        STAILQ_INSERT_TAIL(batch, ch, q_entry);
    return 1;
}

int libxl__child_register(libxl_ctx *ctx, libxl_sigchld_owner mode,
                          libxl__child *ch)
{
    struct libxl__child_q batch = STAILQ_HEAD_INITIALIZER(batch);
    int rc = 0;

    /* Opened before anything can reap the pid: only the reaper reaps our
     * children, and it cannot collect this one until it is in the table
     * (or, reaping everything, until we drop spawn_lock). */
    if (G.have_pidfd && pidfd_affordable()) {
        ch->pidfd = sys_pidfd_open(ch->pid);
        if (ch->pidfd >= 0)
            __atomic_add_fetch(&G.npidfds, 1, __ATOMIC_RELAXED);
        else
            LOGE(ctx, DEBUG, "pidfd_open(%d)", (int)ch->pid);
    }

    pthread_mutex_lock(&G.lock);
    if (G.table_count >= G.table_size && (rc = table_grow_locked()))
        goto out;
    ch->cls = mode == libxl_sigchld_owner_libxl      ? LIBXL__CLASS_DEFAULT
              : mode == libxl_sigchld_owner_mainloop ? LIBXL__CLASS_APP
                                                     : LIBXL__CLASS_WATCHED;
    ch->ctx = ctx;
    ch->id = G.next_id++;
    {
        /* A stale entry for this pid means its status was taken behind the
         * library's back and the pid recycled: report it lost.  Except in
         * owner_mainloop, where the application reaps and may not have told
         * us yet: both entries stay, the older found first by
         * libxl_childproc_reaped. */
        libxl__child *old = child_lookup_locked(ch->pid);
        if (old && old->cls == LIBXL__CLASS_APP &&
            ch->cls == LIBXL__CLASS_APP) {
            libxl__child **pp = &G.table[hash_pid(ch->pid, G.table_size)];
            while (*pp)
                pp = &(*pp)->hash_next;
            ch->hash_next = NULL;
            *pp = ch;
            G.table_count++;
            goto hashed;
        }
        if (old) {
            child_lost_locked(old, -1, &G.pending);
            libxl__reaper_poke();
        }
    }
    {
        unsigned h = hash_pid(ch->pid, G.table_size);
        ch->hash_next = G.table[h];
        G.table[h] = ch;
        G.table_count++;
    }
hashed:
    LIST_INSERT_HEAD(&ctx->children, ch, ctx_entry);
    if (ch->cls == LIBXL__CLASS_APP)
        goto out;
    if (G.n_watched++ == 0 && G.reaper_untimed)
        libxl__reaper_poke(); /* from an untimed wait to 1 s sweeps */
    if (ch->cls == LIBXL__CLASS_DEFAULT) {
        G.n_default_children++;
        libxl__update_reap_all_locked();
    }
    /*
     * A reaping pass that began after the child was created may have taken
     * its SIGCHLD before we could watch it.  Then it has exited already:
     * collect it here rather than wake the reaper for another pass (fork
     * children that exit at once make this the common case).  Passes that
     * begin later see it in the epoll set (or the nopidfd list).
     */
    if (G.pass_seq != ch->spawn_seq && collect_one_locked(ch, &batch))
        goto out;
    watch_add_locked(ch);
out:
    pthread_mutex_unlock(&G.lock);
    if (!STAILQ_EMPTY(&batch))
        libxl__children_deliver(&batch);
    return rc;
}

bool libxl__child_collected_locked(libxl__child *ch, int status,
                                   const struct rusage *ru, bool lost)
{
    /* A group kill still pending: the leader was reaped before we could
     * see it exit (waitpid(-1) pass: see reap_all_locked), or lost. */
    group_kill_drop_locked(ch);
    ch->status = status;
    if (ru)
        ch->rusage = *ru;
    ch->lost = lost;
    ch->reaped = true;
    child_unhash_locked(ch);
    if (ch->cls != LIBXL__CLASS_APP) {
        G.n_watched--;
        if (ch->on_nopidfd)
            LIST_REMOVE(ch, nopidfd_entry);
        ch->on_nopidfd = false;
        if (ch->cls == LIBXL__CLASS_DEFAULT) {
            G.n_default_children--;
            libxl__update_reap_all_locked();
        }
    }
    if (!ch->ctx) {
        libxl__child_free(ch); /* orphan of a freed ctx: status discarded */
        return false;
    }
    LIST_REMOVE(ch, ctx_entry);
    return true;
}

/*
 * R6.  With a pidfd the signal can only reach this process.  Without one
 * (old kernel, or fd exhaustion), and for process groups, a recycled pid is
 * avoided by sending only while the child is unreaped: G.lock is held from
 * the check to the kill, and the reaper holds G.lock while it collects, so
 * the pid (and the group, which its unreaped leader keeps alive) cannot be
 * freed in between.  In mode M4 the application reaps without that lock,
 * so there the group kill is preceded by a pidfd probe of the leader.
 */
int libxl__child_kill(libxl__child *ch, int sig)
{
    libxl_ctx *ctx;
    int r = 0, e = 0;

    pthread_mutex_lock(&G.lock);
    ctx = ch->ctx;
    if (ch->reaped)
        goto out;
    if (ch->pidfd >= 0) {
        r = sys_pidfd_send_signal(ch->pidfd, ch->group ? 0 : sig);
        if (r || !ch->group)
            goto out;
    }
    if (ch->group) {
        r = kill(-ch->pid, sig);
        if (r && errno == ESRCH)
            r = kill(ch->pid, sig); /* not yet a group leader */
        if (!r && !ch->kill_group_on_exit) {
            ch->kill_group_on_exit = true;
            G.n_group_kills++;
        }
    } else {
        r = kill(ch->pid, sig);
    }
out:
    e = r ? errno : 0;
    pthread_mutex_unlock(&G.lock);
    if (r && e != ESRCH) /* ESRCH: it has just exited; EPERM: setuid... */
        LOGEV(ctx, WARN, e, "cannot send signal %d to child %d", sig,
              (int)ch->pid);
    errno = e;
    return r;
}

int libxl__children_orphan(libxl_ctx *ctx)
{
    libxl__child *ch, *next;
    int running = 0;

    pthread_mutex_lock(&G.ctxs_lock);
    pthread_mutex_lock(&G.lock);
    for (ch = LIST_FIRST(&ctx->children); ch; ch = next) {
        next = LIST_NEXT(ch, ctx_entry);
        running++;
        ch->ctx = NULL;
        ch->ao = NULL;
        ch->death = NULL;
        if (ch->cls == LIBXL__CLASS_DEFAULT) {
            /* An orphan no longer makes the library reap every child of
             * the process (M3 is about the ctx's own children): it is
             * collected through its pidfd, or checked by pid. */
            ch->cls = LIBXL__CLASS_WATCHED;
            G.n_default_children--;
        }
        if (ch->cls == LIBXL__CLASS_APP) {
            /* The application reaps these; nothing is left to tell. */
            group_kill_drop_locked(ch);
            ch->reaped = true;
            child_unhash_locked(ch);
            libxl__child_free(ch);
        }
    }
    LIST_INIT(&ctx->children);
    {
        /* drop lost children queued for this ctx */
        libxl__child *p, *pn;
        struct libxl__child_q keep = STAILQ_HEAD_INITIALIZER(keep);
        for (p = STAILQ_FIRST(&G.pending); p; p = pn) {
            pn = STAILQ_NEXT(p, q_entry);
            if (p->ctx == ctx)
                libxl__child_free(p);
            else
                STAILQ_INSERT_TAIL(&keep, p, q_entry);
        }
        STAILQ_INIT(&G.pending);
        STAILQ_CONCAT(&G.pending, &keep);
    }
    LIST_REMOVE(ctx, g_entry);
    libxl__mode_ctx_freed_locked(ctx); /* updates reap_all too */
    pthread_mutex_unlock(&G.lock);
    pthread_mutex_unlock(&G.ctxs_lock);
    return running;
}

void libxl__children_reap_own(libxl_ctx *ctx, struct libxl__child_q *batch)
{
    libxl__child *ch, *next;

    pthread_mutex_lock(&G.lock);
    for (ch = LIST_FIRST(&ctx->children); ch; ch = next) {
        next = LIST_NEXT(ch, ctx_entry);
        collect_one_locked(ch, batch);
    }
    pthread_mutex_unlock(&G.lock);
}

int libxl__child_reaped_by_app(libxl_ctx *ctx, pid_t pid, int status,
                               struct libxl__child_q *batch)
{
    libxl__child *ch;
    int rc = ERROR_UNKNOWN_CHILD;

    pthread_mutex_lock(&G.lock);
    for (ch = child_lookup_locked(pid); ch; ch = ch->hash_next)
        if (ch->pid == pid && ch->ctx == ctx && !ch->reaped)
            break; /* the oldest: same-pid entries are kept in order */
    if (ch) {
        /* Already reaped by the application: the group id is still in use
         * if a member is left, which is when this kill matters (owner
         * mainloop only has the weaker R6, see libxl__child_kill). */
        group_kill_locked(ch);
        if (libxl__child_collected_locked(ch, status, NULL, false))
            STAILQ_INSERT_TAIL(batch, ch, q_entry);
        rc = 0;
    }
    pthread_mutex_unlock(&G.lock);
    return rc;
}

/* One fewer status on its way to ctx (ctx->lock held): libxl_ctx_free may
 * be waiting for the last. */
static void inflight_done_locked(libxl_ctx *ctx, int n)
{
    if (__atomic_sub_fetch(&ctx->inflight, n, __ATOMIC_ACQ_REL) == 0 &&
        ctx->freeing)
        pthread_cond_broadcast(&ctx->users_gone);
}

/* Hands a batch to its ctxs: one lock and one wakeup per run of entries
 * for the same ctx (a pass usually collects for one ctx).  counted: the
 * entries were counted in ctx->inflight by the reaper. */
static void deliver(struct libxl__child_q *batch, bool counted)
{
    libxl__child *ch = STAILQ_FIRST(batch);

    while (ch) {
        libxl_ctx *ctx = ch->ctx;
        int n = 0;

        CTX_LOCK(ctx);
        while (ch && ch->ctx == ctx) {
            libxl__child *next = STAILQ_NEXT(ch, q_entry);
            STAILQ_INSERT_TAIL(&ctx->reaped, ch, q_entry);
            ch = next;
            n++;
        }
        libxl__ctx_kick_locked(ctx);
        if (counted)
            inflight_done_locked(ctx, n);
        CTX_UNLOCK(ctx);
    }
    STAILQ_INIT(batch);
}

void libxl__children_deliver(struct libxl__child_q *batch)
{
    deliver(batch, false);
}

static void unknowns_deliver(struct libxl__unknown_q *batch)
{
    libxl__unknown *u = STAILQ_FIRST(batch);

    while (u) {
        libxl_ctx *ctx = u->ctx;
        int n = 0;

        CTX_LOCK(ctx);
        while (u && u->ctx == ctx) {
            libxl__unknown *next = STAILQ_NEXT(u, entry);
            STAILQ_INSERT_TAIL(&ctx->unknowns, u, entry);
            u = next;
            n++;
        }
        libxl__ctx_kick_locked(ctx);
        inflight_done_locked(ctx, n);
        CTX_UNLOCK(ctx);
    }
    STAILQ_INIT(batch);
}

/* ------------------------------------------------------------------ */
/* The reaping pass                                                    */

/* Who gets a child that is not the library's (M3, M5): the ctx in M5, else
 * a default-mode ctx, preferring one with a reaped_callback. */
static libxl_ctx *unknown_target_locked(void)
{
    libxl_ctx *c, *best = NULL;

    LIST_FOREACH(c, &G.ctxs, g_entry)
    {
        if (c->mode == libxl_sigchld_owner_libxl_always)
            return c;
        if (c->mode != libxl_sigchld_owner_libxl)
            continue;
        if (!best || (c->hooks.reaped_callback && !best->hooks.reaped_callback))
            best = c;
    }
    return best;
}

static void reap_all_locked(struct libxl__child_q *batch,
                            struct libxl__unknown_q *ubatch)
{
    while (G.reap_all) {
        struct rusage ru;
        int status;
        pid_t pid;
        libxl__child *ch;

        if (G.n_group_kills > 0) {
            /* Peek first: a leader whose group we are killing is reaped
             * only after the rest of its group got its SIGKILL. */
            siginfo_t si;
            memset(&si, 0, sizeof si);
            if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                si.si_pid > 0 && (ch = child_lookup_locked(si.si_pid)))
                group_kill_locked(ch);
        }
        pid = wait4(-1, &status, WNOHANG, &ru);

        if (pid < 0 && errno == EINTR)
            continue;
        if (pid <= 0)
            break; /* 0: none exited; ECHILD: no children at all */
        ch = child_lookup_locked(pid);
        if (ch) {
            if (libxl__child_collected_locked(ch, status, &ru, false))
                STAILQ_INSERT_TAIL(batch, ch, q_entry);
            continue;
        }
        {
            libxl_ctx *target = unknown_target_locked();
            libxl__unknown *u = target ? malloc(sizeof *u) : NULL;
            if (!u) {
                LOG(target, WARN, "reaped unknown child %d (status %#x)",
                    (int)pid, status);
                continue;
            }
            u->pid = pid;
            u->status = status;
            u->ctx = target;
            STAILQ_INSERT_TAIL(ubatch, u, entry);
        }
    }
}

static void reap_ready_pidfds_locked(struct libxl__child_q *batch)
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
            libxl__child *ch = child_lookup_locked(pid);

            while (ch && !(ch->pid == pid && ch->id == id))
                ch = ch->hash_next;
            if (!ch || ch->reaped)
                continue; /* stale: collected by another path */
            if (!collect_one_locked(ch, batch)) {
                /* Readable but not yet waitable (seen under ptrace): the
                 * readiness was a hint; re-arm the one-shot watch. */
                struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT};
                ev.data.u64 = evs[i].data.u64;
                epoll_ctl(G.epfd, EPOLL_CTL_MOD, ch->pidfd, &ev);
            }
        }
    } while (n == EPOLL_BATCH);
}

static void reap_nopidfd_locked(struct libxl__child_q *batch)
{
    libxl__child *ch, *next;

    for (ch = LIST_FIRST(&G.nopidfd); ch; ch = next) {
        next = LIST_NEXT(ch, nopidfd_entry);
        collect_one_locked(ch, batch);
    }
}

/* Returns how many children (ours or not) it collected. */
static unsigned reap_pass(bool sweep)
{
    struct libxl__child_q batch = STAILQ_HEAD_INITIALIZER(batch);
    struct libxl__unknown_q ubatch = STAILQ_HEAD_INITIALIZER(ubatch);
    unsigned n = 0;
    bool all;

again:
    all = __atomic_load_n(&G.reap_all, __ATOMIC_ACQUIRE);
    if (all)
        pthread_rwlock_wrlock(&G.spawn_lock);
    pthread_mutex_lock(&G.lock);
    __atomic_add_fetch(&G.pass_seq, 1,
                       __ATOMIC_RELEASE); /* read unlocked by spawners */
    if (all)
        reap_all_locked(&batch, &ubatch);
    reap_ready_pidfds_locked(&batch);
    /* Without pidfds nothing says which child exited: check each one,
     * unless waitpid(-1) just collected whatever had exited. */
    if (sweep || (!all && !LIST_EMPTY(&G.nopidfd)))
        reap_nopidfd_locked(&batch);
    STAILQ_CONCAT(&batch, &G.pending);
    if (STAILQ_EMPTY(&batch) && STAILQ_EMPTY(&ubatch)) {
        bool redo = !all && G.reap_all;
        pthread_mutex_unlock(&G.lock);
        if (all)
            pthread_rwlock_unlock(&G.spawn_lock);
        if (redo)
            goto again;
        return 0;
    }
    {
        /* Counted while G.lock still says these ctxs are alive. */
        libxl__child *ch;
        libxl__unknown *u;
        STAILQ_FOREACH(ch, &batch, q_entry)
        {
            __atomic_add_fetch(&ch->ctx->inflight, 1, __ATOMIC_RELAXED);
            n++;
        }
        STAILQ_FOREACH(u, &ubatch, entry)
        {
            __atomic_add_fetch(&u->ctx->inflight, 1, __ATOMIC_RELAXED);
            n++;
        }
    }
    pthread_mutex_unlock(&G.lock);
    if (all)
        pthread_rwlock_unlock(&G.spawn_lock);

    deliver(&batch, true);
    unknowns_deliver(&ubatch);
    return n;
}

/* ------------------------------------------------------------------ */
/* The signal side                                                     */

static void chain_prev_handler(int sig, siginfo_t *si, void *uc)
{
    if (prev_action.sa_flags & SA_SIGINFO) {
        if (prev_action.sa_sigaction)
            prev_action.sa_sigaction(sig, si, uc);
    } else if (prev_action.sa_handler != SIG_DFL &&
               prev_action.sa_handler != SIG_IGN) {
        prev_action.sa_handler(sig);
    }
}

/* Marks a SIGCHLD that the library's handler forwarded to the reaper. */
#define FORWARD_MAGIC 0x786c6368 /* "xlch" */

/*
 * Runs only in a thread that has SIGCHLD unblocked (one older than the
 * first ctx, or one that unblocked it: M1).  Chains the handler that was
 * there before, then forwards the signal to the reaper, which has it
 * blocked and takes it in sigtimedwait.  Async-signal-safe: one system
 * call.  The forward is queued with a marker, so the reaper can tell it
 * from a poke and from the kernel's own SIGCHLD.
 */
static void sigchld_handler(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    pid_t tid = __atomic_load_n(&G.reaper_tid, __ATOMIC_RELAXED);

    chain_prev_handler(sig, si, uc);
    if (tid > 0) {
        siginfo_t fwd;
        memset(&fwd, 0, sizeof fwd);
        fwd.si_signo = SIGCHLD;
        fwd.si_code = SI_QUEUE;
        fwd.si_pid = G.self;
        fwd.si_uid = getuid();
        fwd.si_value.sival_int = FORWARD_MAGIC;
        if (syscall(__NR_rt_tgsigqueueinfo, G.self, tid, SIGCHLD, &fwd))
            syscall(__NR_tgkill, G.self, tid, SIGCHLD);
    }
    errno = saved;
}

/*
 * M1 diagnostic: name the threads that have SIGCHLD unblocked.  Their
 * signals still reach the reaper (the handler forwards them), but each
 * costs a detour, and a handler installed behind the library's back would
 * swallow them (M2).  Logged once per process.
 */
static void warn_unblocked_threads(void)
{
    static bool warned;
    char dents[4096], path[64], status[2048], tids[192] = "";
    size_t used = 0;
    libxl_ctx *ctx;
    long n;
    int dfd;

    /* No opendir/fopen: nothing is allocated here, so a fork taken in the
     * middle of this leaves no heap block behind in the child. */
    if (warned || (dfd = open("/proc/self/task",
                              O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return;
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
            const char *blk;
            ssize_t len;
            int fd;

            off += de->reclen;
            if (de->name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%.20s/status", de->name);
            fd = openat(dfd, path, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                continue;
            len = read(fd, status, sizeof status - 1);
            close(fd);
            if (len <= 0)
                continue;
            status[len] = '\0';
            blk = strstr(status, "\nSigBlk:");
            if (blk && !(strtoull(blk + 8, NULL, 16) & (1ULL << (SIGCHLD - 1))) &&
                used < sizeof tids - 24)
                used += (size_t)snprintf(tids + used, sizeof tids - used,
                                         "%s%.20s", used ? " " : "", de->name);
        }
    }
    close(dfd);
    if (!used)
        return;
    warned = true;
    pthread_mutex_lock(&G.lock);
    ctx = LIST_FIRST(&G.ctxs);
    LOG(ctx, WARN,
        "SIGCHLD is unblocked in thread(s) %s: block it before"
        " creating threads (libxl_ctx_alloc does, in its caller), or child"
        " statuses may be late",
        tids);
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

bool libxl__sigchld_unignore(libxl_ctx *ctx)
{
    struct sigaction cur, dfl;
    bool ign;

    pthread_mutex_lock(&G.lock);
    sigaction(SIGCHLD, NULL, &cur);
    ign = is_sig_ign(&cur);
    dfl = cur;
    if (!handler_installed && sigchld_keep_statuses(&dfl)) {
        LOG(ctx, WARN,
            "SIGCHLD was %s, which makes the kernel discard child"
            " statuses; setting it to SIG_DFL",
            ign ? "set to SIG_IGN" : "given SA_NOCLDWAIT");
        sigaction(SIGCHLD, &dfl, NULL);
    }
    pthread_mutex_unlock(&G.lock);
    return ign;
}

void libxl__sigchld_reignore(void)
{
    struct sigaction ign;

    pthread_mutex_lock(&G.lock);
    if (!handler_installed) {
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        sigaction(SIGCHLD, &ign, NULL);
    }
    pthread_mutex_unlock(&G.lock);
}

static void install_handler_locked(libxl_ctx *ctx)
{
    struct sigaction sa;

    if (handler_installed)
        return; /* also true in a fork child: the handler is inherited */
    sigaction(SIGCHLD, NULL, &prev_action);
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
    if (sigaction(SIGCHLD, &sa, NULL) == 0)
        handler_installed = true;
    else
        LOGE(ctx, ERROR, "sigaction(SIGCHLD)");
}

void libxl__sigchld_handler_forget(void)
{
    handler_installed = false;
}

void libxl__reaper_poke(void)
{
    pid_t tid = __atomic_load_n(&G.reaper_tid, __ATOMIC_RELAXED);

    if (tid > 0)
        syscall(__NR_tgkill, G.self, tid, SIGCHLD);
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
static void sweep_checks(unsigned collected)
{
    static bool warned_foreign;
    struct sigaction cur, fixed;
    bool ours;

    pthread_mutex_lock(&G.lock);
    if (!handler_installed || (G.n_watched == 0 && !collected)) {
        /* Not reaping (owner_mainloop only): SIGCHLD is not ours.  A sweep
         * that has just collected the last children (typically the ones
         * lost to SIG_IGN) was reaping: it must still look, or the reaper
         * goes idle with SIG_IGN in place and the next children are lost
         * too. */
        pthread_mutex_unlock(&G.lock);
        return;
    }
    sigaction(SIGCHLD, NULL, &cur);
    ours = (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == sigchld_handler;
    fixed = cur;
    if (sigchld_keep_statuses(&fixed)) {
        LOG(LIST_FIRST(&G.ctxs), WARN,
            "SIGCHLD was set to %s behind the library's back, which makes"
            " the kernel discard child statuses; putting the library's"
            " handler back",
            cur.sa_flags & SA_NOCLDWAIT ? "SA_NOCLDWAIT" : "SIG_IGN");
        /* What the application asked for, minus the discarding, becomes
         * the handler ours chains (install_handler_locked reads it). */
        sigaction(SIGCHLD, &fixed, NULL);
        handler_installed = false;
        install_handler_locked(LIST_FIRST(&G.ctxs));
    } else if (!ours && !warned_foreign) {
        warned_foreign = true;
        LOG(LIST_FIRST(&G.ctxs), WARN,
            "the library's SIGCHLD handler was replaced behind its back:"
            " child statuses may wait up to %d s for the reaper's sweep",
            SWEEP_INTERVAL_S);
    }
    pthread_mutex_unlock(&G.lock);
    if (collected)
        warn_unblocked_threads();
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

static void *reaper_main(void *arg)
{
    sigset_t set;
    int idle_sweeps = 0;
    bool timed_out = false;
    struct timespec due; /* the next sweep (CLOCK_MONOTONIC) */

    (void)arg;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    __atomic_store_n(&G.reaper_tid, (pid_t)syscall(__NR_gettid),
                     __ATOMIC_RELEASE);
    warn_unblocked_threads();
    reap_pass(true); /* whatever exited before we were ready */
    libxl__now(&due);
    due.tv_sec += SWEEP_INTERVAL_S;
    for (;;) {
        struct timespec ts;
        siginfo_t si;
        bool untimed, sweep;
        int r;

        /* Sweep every second while there are children to watch, and once
         * more after the last: an idle process is not woken every second,
         * and a busy one is not poked each time its count passes zero.
         * The deadline is absolute: SIGCHLDs arriving more often than
         * once a second must not put the sweep off for ever (a status
         * stolen from a child without pidfd, in a waitpid(-1) mode, is
         * found by nothing else). */
        pthread_mutex_lock(&G.lock);
        idle_sweeps = timed_out && G.n_watched == 0 ? idle_sweeps + 1 : 0;
        untimed = G.reaper_untimed = G.n_watched == 0 && idle_sweeps > 0;
        pthread_mutex_unlock(&G.lock);
        ts = sweep_wait(&due);
        r = sigtimedwait(&set, &si, untimed ? NULL : &ts);
        if (untimed) { /* woken from an untimed wait: sweeps start over */
            libxl__now(&due);
            due.tv_sec += SWEEP_INTERVAL_S;
            sweep = r < 0;
        } else {
            ts = sweep_wait(&due);
            sweep = r < 0 || (ts.tv_sec == 0 && ts.tv_nsec == 0);
        }
        timed_out = sweep && !(r < 0 && errno == EINTR);
        if (r == SIGCHLD && si.si_pid == G.self &&
            (si.si_code == SI_TKILL || si.si_code == SI_QUEUE)) {
            /* a poke, or forwarded by our handler (which chained) */
            if (si.si_code == SI_QUEUE &&
                si.si_value.sival_int == FORWARD_MAGIC)
                warn_unblocked_threads();
        } else if (r == SIGCHLD) {
            chain_prev_handler(SIGCHLD, &si, NULL); /* as the kernel would */
        }
        if (sweep) {
            libxl__now(&due);
            due.tv_sec += SWEEP_INTERVAL_S;
            sweep_checks(reap_pass(true));
        } else {
            reap_pass(false);
        }
    }
    return NULL;
}

int libxl__reaper_ensure_locked(libxl_ctx *ctx)
{
    pthread_attr_t attr;
    pthread_t thread;
    sigset_t all, old;
    int r;

    if (G.reaper_running)
        return 0;
    if (G.epfd < 0 && G.have_pidfd) {
        G.epfd = epoll_create1(EPOLL_CLOEXEC);
        if (G.epfd < 0)
            LOGE(ctx, WARN, "epoll_create1; children will be checked by pid");
    }
    install_handler_locked(ctx);

    /* The thread starts with every signal blocked (it inherits our mask). */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    r = pthread_create(&thread, &attr, reaper_main, NULL);
    pthread_attr_destroy(&attr);
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

    if (__atomic_load_n(&G.reaper_running, __ATOMIC_ACQUIRE))
        return 0; /* every spawn asks: keep G.lock out of it */
    pthread_mutex_lock(&G.lock);
    rc = libxl__reaper_ensure_locked(ctx);
    pthread_mutex_unlock(&G.lock);
    return rc;
}
