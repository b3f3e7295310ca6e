/*
 * internal.h - xlchild's internals, shared by src/ and threads/.
 *
 * Locks, in the only order they may be nested (outermost first):
 *
 *   G.ctxs_lock   guards membership of G.ctxs (with G.lock: writers take
 *                 both).  Taken across fork() by the atfork handler, so the
 *                 child sees a whole list; only ctx_alloc/free contend.
 *   G.spawn_lock  rwlock.  Spawners hold it for reading from just before
 *                 the child is created until it is registered, so that a
 *                 reap-everything pass never collects a child whose parent
 *                 has not registered it yet.  Such a pass does not wait for
 *                 them: under G.lock (where no start can register), it
 *                 reaps a pid that is not in the table only if no start
 *                 is in flight (G.nstarts, counted with the lock); else it
 *                 leaves that zombie (which keeps its pid from reuse),
 *                 stops, and sets G.reap_deferred, which the next start to
 *                 release the lock turns into a poke if some child is
 *                 still waitable (threads/reaper.c).  If the pid was the
 *                 start's child, its registration collects it, exactly
 *                 once.  Only the 1 s sweep takes the lock for writing
 *                 (blocking) around its pass, so that starts that never
 *                 stop overlapping cannot put off an unknown child for
 *                 ever.
 *   ctx->lock     one per ctx: its queues, waiters, timeouts, aos.
 *   G.lock        process-wide: the pid table, the ctx registry, mode
 *                 counts, the reaper's state.  The reaper holds it while it
 *                 calls waitpid/waitid, so "not yet reaped" checked under
 *                 G.lock stays true until G.lock is released (kills rely on
 *                 this, rule R6).
 *
 * The reaper never takes a ctx lock while holding G.lock: it collects a
 * batch under G.lock, counts it in each target ctx's inflight, drops G.lock
 * and then hands the batch to each ctx under that ctx's lock, uncounting
 * it there.  libxl_ctx_free, once the ctx's children are orphaned, waits
 * for its own inflight to reach 0, so a batch never reaches a freed ctx
 * and one slow ctx never holds up another's teardown.
 *
 * fork() may be called with spawn_lock held (libxl_childproc_fork); the
 * atfork handler then takes G.ctxs_lock.  Nothing takes spawn_lock with
 * G.ctxs_lock held, so this is not a cycle.
 *
 * Loggers may be called with any of these locks held (also from the
 * reaper thread); osevent hooks with ctx->lock held.
 *
 * Callbacks into the application are always made with no lock held.
 *
 * Names say which lock their caller holds: a function ending in _locked is
 * called with ctx->lock held, one ending in _Glocked with G.lock held (the
 * pid table, the reaper's state, the mode counts: threads/ and
 * src/mode.c).
 */
#ifndef XLCHILD_INTERNAL_H
#define XLCHILD_INTERNAL_H

#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include "xlchild.h"

#define LIBXL_EXPORT __attribute__((visibility("default")))

/*
 * LIBXL__ATOMIC_VAR(v): v is only ever read and written with __atomic
 * builtins (or under a lock on one side and atomically on the other, by
 * design).  drd and helgrind model locks, not atomics, and would report
 * every such access as a race; this tells them not to check v.  Outside
 * valgrind the client requests are a few no-op instructions.
 */
#if defined(HAVE_VALGRIND_DRD_H) && defined(HAVE_VALGRIND_HELGRIND_H)
#include <valgrind/drd.h>
#include <valgrind/helgrind.h>
#define LIBXL__ATOMIC_VAR(v)                           \
    do {                                               \
        DRD_IGNORE_VAR(v);                             \
        VALGRIND_HG_DISABLE_CHECKING(&(v), sizeof(v)); \
    } while (0)
/* In a fork child: the lock at &v starts a new life (it is initialised
 * again, whatever state a vanished thread left it in), so drd and helgrind
 * must forget its past rather than report a re-initialised locked mutex. */
#define LIBXL__LOCK_REBORN(v) ANNOTATE_NEW_MEMORY(&(v), sizeof(v))
#else
#define LIBXL__ATOMIC_VAR(v) ((void)0)
#define LIBXL__LOCK_REBORN(v) ((void)0)
#endif

/*
 * LIBXL__CANCEL_FRAME: a function whose frame a cancelled thread leaves by
 * glibc's cancellation unwinding (a longjmp, in C) rather than by
 * returning (E5: the sleeps).  AddressSanitizer (GCC 12) leaves the
 * redzones of such a frame poisoned and then reports its own writes into
 * them; these frames get none.
 */
#if defined(__SANITIZE_ADDRESS__)
#define LIBXL__CANCEL_FRAME __attribute__((no_sanitize_address, noinline))
#else
#define LIBXL__CANCEL_FRAME
#endif

/* ------------------------------------------------------------------ */
/* Logging (src/log.c)                                                 */

void libxl__log(libxl_ctx *ctx, libxl_log_level level, int errnoval,
                const char *func, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

void libxl__log_lg(libxl_logger *lg, libxl_log_level level, int errnoval,
                   const char *func, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define LOG(ctx, lvl, ...) \
    libxl__log((ctx), LIBXL_LOG_##lvl, -1, __func__, __VA_ARGS__)
#define LOGE(ctx, lvl, ...) \
    libxl__log((ctx), LIBXL_LOG_##lvl, errno, __func__, __VA_ARGS__)
#define LOGEV(ctx, lvl, errnoval, ...) \
    libxl__log((ctx), LIBXL_LOG_##lvl, (errnoval), __func__, __VA_ARGS__)

/* Argument check at the API boundary: logs and returns ERROR_INVAL. */
#define CHECK_ARG(ctx, cond)                                            \
    do {                                                                \
        if (!(cond)) {                                                  \
            LOG((ctx), ERROR, "invalid argument (%s is false)", #cond); \
            return ERROR_INVAL;                                         \
        }                                                               \
    } while (0)

/* ------------------------------------------------------------------ */
/* Types                                                               */

typedef struct libxl__child libxl__child;
typedef struct libxl__ao libxl__ao;
typedef struct libxl__waiter libxl__waiter;
typedef struct libxl__timeout libxl__timeout;
typedef struct libxl__osreg libxl__osreg;
typedef struct libxl__capture libxl__capture;

/* Which reaping rule a child falls under; fixed when it is registered
 * (but for orphans, libxl__children_orphan). */
typedef enum {
    LIBXL__CLASS_DEFAULT, /* ctx in owner_libxl: makes the reaper reap all */
    LIBXL__CLASS_WATCHED, /* owner_libxl_always[_selective_reap] */
    LIBXL__CLASS_APP,     /* owner_mainloop: the application reaps */
    LIBXL__CLASS_UNKNOWN, /* not the library's: a status reaped by a
                             waitpid(-1) pass (M3, M5), for reaped_callback;
                             never in the pid table */
} libxl__child_class;

/*
 * One child the library started.  Lifetime: created by the spawning thread,
 * registered in G's pid table; the reaper (or childproc_reaped) removes it
 * from the table when it collects the status and queues it to ctx->reaped;
 * the ctx thread that processes it frees it.  A child whose ctx was freed is
 * an orphan: the reaper frees it on reap.
 */
struct libxl__child {
    /* constant after registration, except that orphaning (under G.lock,
     * only while the child is unreaped) clears ao and death and turns a
     * DEFAULT cls into WATCHED, and a synchronous run abandoned because
     * its ctx is being freed clears ao (under ctx->lock, before ctx_free
     * orphans the ctx's children: src/ao.c) */
    pid_t pid;
    uint32_t id; /* tags its epoll registration (stale events) */
    int pidfd;   /* -1 without pidfd; closed when freed */
    libxl__child_class cls;
    void (*done)(libxl_ctx *ctx, libxl__child *ch); /* its status reached
                                                       ctx (ctx->lock) */
    libxl__ao *ao;                   /* libxl_childproc_run, or NULL */
    libxl_childproc_death_cb *death; /* libxl_childproc_fork */
    void *death_user;
    bool group; /* kill the process group */
    /* G.lock (here, where they cost no padding) */
    bool listed; /* the sweep found its pid among the process's children */
    bool held;   /* S9: found exited, and left unreaped for its group */

    /* G.lock */
    libxl_ctx *ctx; /* owner; NULL once orphaned */
    libxl__child *hash_next;
    LIST_ENTRY(libxl__child) ctx_entry;     /* ctx->children */
    LIST_ENTRY(libxl__child) nopidfd_entry; /* G.nopidfd (watched only) */
    bool reaped;             /* out of the table; no signal may be sent */
    bool on_nopidfd;         /* in G.nopidfd: checked by pid every pass */
    bool kill_group_on_exit; /* SIGTERM went to its group, whose grace
                                runs: if the leader exits first it is held
                                unreaped (its zombie keeps the group id
                                from being reused) until the group is gone
                                or the grace's SIGKILL (S9) */

    /* set by whoever reaped it; then owned by ctx->lock */
    int status;
    bool lost;          /* reaped behind the library's back: status is
                           LIBXL__STATUS_LOST */
    unsigned spawn_seq; /* G.pass_seq just before it was created */
    STAILQ_ENTRY(libxl__child) q_entry; /* ctx->reaped or a batch */

    /* Only a run's record has room for its rusage (its result carries
     * it): a fork child's death callback takes none, and 144 bytes more
     * per fork child would be more than half its record (W5, and every
     * page of it is copied at each fork). */
    bool has_rusage;
    struct rusage rusage[]; /* [1] when has_rusage */
};

STAILQ_HEAD(libxl__child_q, libxl__child);

/* A ctx timer.  fire() is called with ctx->lock held. */
struct libxl__timeout {
    TAILQ_ENTRY(libxl__timeout) entry; /* ctx->timeouts, sorted */
    bool active;
    struct timespec deadline; /* CLOCK_MONOTONIC */
    void (*fire)(libxl_ctx *ctx, libxl__timeout *t);
    libxl__osreg *osreg; /* registration with the app's hooks */
};

/* A timeout or fd registered through libxl_osevent_hooks. */
struct libxl__osreg {
    LIST_ENTRY(libxl__osreg) entry; /* ctx->osregs */
    uintptr_t token;                /* the for_libxl given to the app:
                                       never reused, unlike addresses */
    void *for_app;                  /* the application's token */
    libxl__timeout *timeout;        /* NULL once cancelled */
    bool is_fd;
};

/* A thread blocked in libxl_event_wait or a synchronous operation. */
struct libxl__waiter {
    TAILQ_ENTRY(libxl__waiter) entry; /* ctx->waiters */
    pthread_cond_t cond;
    bool woken;   /* signalled, not yet running */
    bool in_wait; /* in its condition wait (on ctx->waiters) */
    uint64_t typemask;
    libxl_event_predicate *pred;
    void *pred_user;
    libxl__ao *sync_ao; /* non-NULL: waits for this only */
    int poll_fd;        /* >= 0: asleep in poll(), woken through this
                           eventfd instead of cond (src/capture.c) */
    libxl_ctx *poll_ctx;
    struct pollfd *poll_fds; /* its poll set, while asleep in poll() */
    int lead_fd;     /* >= 0: it has the reaper's role, and polls this */
    bool lead_ready; /* lead_fd was readable when it woke */
    bool following;  /* asleep without the role: counted in G.nfollowers */
    bool leads;      /* it took the reaper's role in this call (it may have
                        been taken over since) */
};

struct libxl__ao {
    libxl_ctx *ctx;
    TAILQ_ENTRY(libxl__ao) entry; /* ctx->aos */
    bool sync;
    libxl_asyncop_how how;
    void (*abort)(libxl_ctx *ctx, libxl__ao *ao); /* libxl_ao_abort */
    bool abort_requested;
    bool complete;
    int rc;
    libxl__waiter *waiter; /* sync: the thread waiting */
    libxl_event *ev;       /* the completion event (how->callback NULL),
                              allocated with the ao so that completing it cannot
                              fail for want of memory and lose it */

    /* libxl_childproc_run */
    bool starting;            /* run_start still filling it in */
    libxl__child *done_early; /* reaped while starting */
    libxl__child *child;      /* NULL until spawned */
    libxl_childproc_result *result_out;
    size_t result_size; /* how much of *result_out the caller has: the
                           0.1 part for 0.1 programs (S0) */
    pid_t pid;          /* 0 until spawned */
    int exec_errno;
    int kill_grace_ms;
    bool timed_out;
    bool term_sent, kill_sent;
    libxl__timeout timer; /* the timeout, then the grace */
    libxl__capture *cap;  /* S5: its pipes, or NULL */
};

struct libxl__ctx {
    pthread_mutex_t lock;   /* guards everything below */
    unsigned generation;    /* G.generation at alloc (F1) */
    int users;              /* threads inside libxl calls on it */
    int nstarting;          /* runs/forks creating a child right now */
    pthread_cond_t started; /* nstarting fell to 0 */
    int inflight; /* statuses collected by the reaper, not yet queued here:
                     incremented under G.lock, decremented under ctx->lock,
                     so accessed atomically */
    bool freeing; /* libxl_ctx_free waits for users */
    pthread_cond_t users_gone;
    libxl_logger *lg;
    pthread_t alloc_thread;
    bool sigchld_was_unblocked; /* in alloc_thread, before alloc */
    bool sigchld_was_ignored;   /* we replaced SIG_IGN at alloc */

    /* mode: written under ctx->lock and G.lock, read under either */
    libxl_sigchld_owner mode;
    libxl_childproc_hooks hooks;
    bool have_hooks;
    void *hooks_user;

    libxl_event_hooks ev_hooks;
    bool have_ev_hooks;
    void *ev_hooks_user;

    /* the inbox (src/inbox.c): statuses queued by the reaper (or by
     * childproc_reaped), the library's children and unknown ones */
    struct libxl__child_q reaped;
    TAILQ_HEAD(, libxl__ao)
    failed; /* aos that failed to start: their
               completion waits for the loop */

    TAILQ_HEAD(, libxl_event) events; /* via the public link fields */
    TAILQ_HEAD(, libxl__waiter) waiters;
    libxl__waiter *timekeeper; /* the waiter sleeping until the
                                  earliest timeout */
    TAILQ_HEAD(libxl__timeout_q, libxl__timeout) timeouts;
    TAILQ_HEAD(, libxl__ao) aos;

    /* wakeup fd (O1): readable while there is queued work or events */
    int wake_fd;
    bool wake_used; /* someone polls it */
    bool wake_armed;

    /* main-loop integration (src/osevent.c) */
    libxl_osevent_hooks os_hooks;
    bool have_os_hooks;
    void *os_hooks_user;
    void *wake_fd_reg; /* app's token for wake_fd */
    bool wake_fd_registered;
    LIST_HEAD(, libxl__osreg) osregs;
    uintptr_t osreg_seq;

    /* S5's pipes (src/capture.c) */
    LIST_HEAD(, libxl__capture) captures;
    int ncapture_fds;      /* open parent ends among them */
    libxl__waiter *poller; /* the waiter asleep in poll() on them */
    int collecting;        /* threads inside a call on the ctx that collect as
                              the reaper would, then do the ctx's work: what
                              they hand in needs no wakeup (threads/leader.c) */
    int poll_efd;          /* wakes the poller; -1 until first needed */

    /* G.lock */
    LIST_ENTRY(libxl__ctx) g_entry; /* G.ctxs */
    LIST_HEAD(, libxl__child) children;
};

#define CTX_LOCK(ctx) pthread_mutex_lock(&(ctx)->lock)
#define CTX_UNLOCK(ctx) pthread_mutex_unlock(&(ctx)->lock)

/* ------------------------------------------------------------------ */
/* Process-wide state (threads/process.c)                               */

typedef struct {
    pthread_mutex_t ctxs_lock;
    pthread_mutex_t lock;
    pthread_rwlock_t spawn_lock;

    unsigned generation; /* bumped in every fork child */
    pid_t self;          /* getpid(), 0 in a fork child until asked for
                            (libxl__self; atomic) */

    LIST_HEAD(, libxl__ctx) ctxs;
    int n_always, n_selective; /* ctxs in M5, M6 */
    int n_default_children;    /* unreaped class DEFAULT children */
    int n_watched;             /* unreaped children the reaper owns */
    int n_group_kills;         /* children with kill_group_on_exit */
    long npidfds;              /* pidfds held (atomic): see pidfd_affordable */
    long nofile_limit;         /* RLIMIT_NOFILE, as last read (atomic) */
    unsigned nofile_checks;    /* pidfd_affordable's calls (atomic) */
    bool reap_all;             /* derived: see update_reap_all */
    int nstarts;        /* starts in flight: spawn_lock's readers (atomic) */
    bool reap_deferred; /* a waitpid(-1) pass left a pid that may be a
                           start's: the next start to end looks (atomic) */

    libxl__child **table; /* pid -> child, chained */
    unsigned table_size, table_count;
    uint32_t next_id;
    LIST_HEAD(, libxl__child) nopidfd;

    /* the reaper thread */
    bool reaper_running;       /* also read unlocked (fast path) */
    volatile pid_t reaper_tid; /* read in the signal handler */
    /* What tells of exited children: G.epfd holds the pidfds, the
     * signalfd of SIGCHLD and the eventfd the library's handler forwards
     * to; whoever holds the reaper's role sleeps on it.  The reaper sleeps
     * on G.outer_epfd, which holds G.epfd (switched off while a leader
     * has the role: threads/leader.c) and G.poke_efd, which wakes the
     * reaper whoever has the role.  outer_epfd < 0: the reaper takes SIGCHLD
     * with sigtimedwait, and nobody leads (they could not be made). */
    int epfd;
    int outer_epfd;
    int sfd;                /* signalfd of SIGCHLD */
    int fwd_efd;            /* written by the library's SIGCHLD handler */
    int poke_efd;           /* libxl__reaper_poke */
    bool leading;           /* an application thread has the reaper's role */
    const void *lead_owner; /* its waiter (written under G.lock, atomically:
                               read without it by libxl__lead_heartbeat) */
    bool lead_busy;         /* it kept the role while it works (atomic) */
    int64_t lead_seen_ms;   /* when a leader last looked at G.epfd (atomic,
                               CLOCK_MONOTONIC): the sweep takes a busy role
                               back from one that has not looked lately */
    int nfollowers;         /* threads asleep in libxl calls without the role:
                               a leader that keeps the role would leave them
                               waiting (atomic) */
    int n_wake_users;       /* ctxs whose wakeup fd the application polls */
    bool reaper_untimed;    /* asleep with no sweep timeout */
    bool sigchld_reinstall; /* atomic: the reaper is to put its SIGCHLD
                               handler back (threads/sigchld.c) */
    unsigned pass_seq;      /* bumped by every reaping pass */
    bool lost_since_sweep;  /* a child was found lost since the last sweep */
    bool rewatch; /* reap_all went off: G.nopidfd's children get pidfds */
    /* collected outside the reaper (lost children found at registration),
     * handed over by the reaper's next pass */
    struct libxl__child_q pending;

    bool have_pidfd;        /* probed once: pidfd_open works */
    bool have_waitid_pidfd; /* waitid(P_PIDFD) works */
    bool have_pidfd_pgrp;   /* pidfd_send_signal's PROCESS_GROUP works */
} libxl__global;

extern libxl__global libxl__G;
#define G libxl__G

#define LIBXL__SWEEP_INTERVAL_S 1 /* M2: the reaper's sweep, at most 1 s */
/* A busy leader that has not looked at G.epfd for this long is inside
 * something long (a callback): the sweep takes the role back from it. */
#define LIBXL__LEAD_STALE_MS 20

/* The status reported for a child whose status was reaped behind the
 * library's back: no wait status is -1 (WIFEXITED, WIFSIGNALED and
 * WIFSTOPPED are all false for it). */
#define LIBXL__STATUS_LOST (-1)

/* This process's pid.  Async-signal-safe. */
static inline pid_t libxl__self(void)
{
    pid_t p = __atomic_load_n(&G.self, __ATOMIC_RELAXED);

    if (!p) {
        p = getpid();
        __atomic_store_n(&G.self, p, __ATOMIC_RELAXED);
    }
    return p;
}

static inline void libxl__now(struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
}

static inline int64_t libxl__now_ms(void)
{
    struct timespec ts;

    libxl__now(&ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* System calls glibc 2.36 has no wrapper for (waitid: none with rusage). */
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
static inline int libxl__pidfd_open(pid_t pid)
{
    return (int)syscall(__NR_pidfd_open, pid, 0);
}
static inline int libxl__pidfd_send_signal(int pidfd, int sig)
{
    return (int)syscall(__NR_pidfd_send_signal, pidfd, sig, NULL, 0);
}
#define LIBXL__PIDFD_SIGNAL_PGRP (1u << 2) /* PIDFD_SIGNAL_PROCESS_GROUP */
static inline int libxl__pidfd_send_signal_flags(int pidfd, int sig,
                                                 unsigned flags)
{
    return (int)syscall(__NR_pidfd_send_signal, pidfd, sig, NULL, flags);
}
static inline int libxl__waitid(idtype_t type, id_t id, siginfo_t *si,
                                int options, struct rusage *ru)
{
    return (int)syscall(__NR_waitid, type, id, si, options, ru);
}

/*
 * The files, in layers: each calls only files of the layers below it, so
 * that no two files call each other.
 *
 *   public calls     src/ctx.c, src/mode.c, src/osevent.c,
 *                    src/fork.c (-> src/childproc.c, whose starts and
 *                    completions it shares), src/childproc.c
 *   the work loop    src/loop.c (event_wait, synchronous waits)
 *   ctx parts        src/spawn.c (-> src/spawn_child.c), src/env.c,
 *                    src/ao.c, src/capture.c,
 *                    src/event.c, src/timeout.c, src/osreg.c, src/enter.c
 *   off the caller's threads/leader.c (the reaper's role, lent to a
 *   thread           waiting thread) -> threads/reaper.c (the thread) ->
 *                    threads/pass.c (one pass) ->
 *                    threads/children.c -> threads/watch.c,
 *                    threads/sigchld.c,
 *                    threads/process.c
 *   the inbox        src/inbox.c -> src/waiter.c: where collected
 *                    statuses arrive, and who is woken for them
 *   logging          src/log.c, src/error.c
 */

/* ------------------------------------------------------------------ */
/* threads/process.c: G, fork safety                                   */

void libxl__global_init(void); /* once; from ctx_alloc */
/* In a fork child: closes the parent's reaper fds it inherited. */
void libxl__inherited_close_Glocked(void);
/* Our own fork paths, in the child; generation: G.generation just before
 * the fork. */
void libxl__child_after_fork(unsigned generation);
/* Calls fn with an open fd of /proc/self/task/<tid>/<file> for each thread
 * of the process; allocates nothing.  -1 if some thread's file could not be
 * opened (no /proc, or a thread gone meanwhile), else 0. */
int libxl__each_task_file(const char *file,
                          void (*fn)(const char *tid, int fd, void *arg),
                          void *arg);

/* ------------------------------------------------------------------ */
/* threads/sigchld.c: SIGCHLD's disposition and delivery (M1, M2)      */

/* M1: if SIGCHLD is SIG_IGN (or has SA_NOCLDWAIT), sets SIG_DFL, warns,
 * and returns true. */
bool libxl__sigchld_unignore(libxl_ctx *ctx);
/* M4: puts SIG_IGN back, unless the library's handler is installed. */
void libxl__sigchld_reignore(void);
/* The reaper starts: the library's handler goes in.  G.lock held. */
void libxl__sigchld_install_Glocked(libxl_ctx *ctx);
/* The reaper took a SIGCHLD (sigtimedwait: without G.sfd). */
void libxl__sigchld_taken(const siginfo_t *si);
/* The reaper, on each wakeup: puts its handler back if asked to. */
void libxl__sigchld_reinstall_if_asked(void);
/* Whoever has the reaper's role takes the pending SIGCHLDs and forwards
 * (G.sfd, G.fwd_efd); returns how many. */
unsigned libxl__sigchld_take(bool by_reaper);
/* After a sweep that collected that many: is the handler still ours? */
void libxl__sigchld_sweep_checks(unsigned collected);
/* Names, once per process, the threads that have SIGCHLD unblocked. */
void libxl__sigchld_warn_unblocked(void);
/* Wakes the reaper for a pass. */
void libxl__reaper_poke(void);

/* ------------------------------------------------------------------ */
/* threads/pidtable.c: pid -> child (G.lock)                           */

/* The oldest entry for pid (then follow hash_next for more of the same
 * pid), or NULL. */
libxl__child *libxl__child_lookup_Glocked(pid_t pid);
/* The entry the reaper collects for pid (not an owner_mainloop one). */
libxl__child *libxl__child_find_watched_Glocked(pid_t pid);
/* A stale entry that a new child of pid replaces, or NULL. */
libxl__child *libxl__table_stale_Glocked(pid_t pid);
/* Room for one more entry: 0 or ERROR_NOMEM. */
int libxl__table_reserve_Glocked(void);
void libxl__table_insert_Glocked(libxl__child *ch);
void libxl__table_remove_Glocked(libxl__child *ch);

/* ------------------------------------------------------------------ */
/* threads/kill.c: signals to children (R6, S2, S9; G.lock)            */

/* Sends sig to ch (its group if ch->group) unless already reaped. */
void libxl__group_held_collect_locked(libxl_ctx *ctx, libxl__child *ch);
int libxl__child_kill(libxl__child *ch, int sig);
/* ch's group no longer waits for its leader's exit to be killed; true if
 * it did. */
bool libxl__group_kill_drop_Glocked(libxl__child *ch);
/* S9: ch, a group leader that has exited in its kill grace, is held
 * unreaped while its group lives (out of the epoll set, checked by pid).
 * True when held. */
bool libxl__group_held_Glocked(libxl__child *ch);
/* ch's leader has exited, unreaped: SIGKILL the rest of its group, if a
 * group kill is pending for it. */
void libxl__group_kill_Glocked(libxl__child *ch);

/* ------------------------------------------------------------------ */
/* threads/watch.c: how the reaper watches each child (G.lock)         */

/* Whether some ctx makes the reaper reap every child (M3, M5, M6); the
 * _Glocked form returns true when it has just gone on, and leaves the
 * pidfds it owes for libxl__rewatch_Glocked. */
void libxl__update_reap_all_Glocked(void);
bool libxl__reap_all_update_Glocked(void);
/* A start takes spawn_lock (read side) and counts itself in G.nstarts;
 * it ends by releasing both, and pokes the reaper if a pass deferred to
 * it (G.reap_deferred) and a child is still waitable. */
void libxl__spawn_lock(void);
void libxl__spawn_unlock(void);
/* Has any child of the process but own exited, unreaped?  (A peek.) */
bool libxl__something_waitable(pid_t own);
/* Whether the next child may have a pidfd (capped: the 1024 cap too). */
bool libxl__pidfd_affordable(bool capped);
/* ch's pidfd into the reaper's set, or ch onto G.nopidfd. */
void libxl__child_watch_Glocked(libxl__child *ch);
/* A child on G.nopidfd gets a pidfd late, where it may; true if it did. */
bool libxl__child_watch_late_Glocked(libxl__child *ch);
/* reap_all went off: G.nopidfd's children get their pidfds (outside any
 * walk of G.nopidfd). */
void libxl__rewatch_Glocked(void);

/* ------------------------------------------------------------------ */
/* threads/children.c: registering and collecting children (G.lock)    */

/* with_rusage: room for the rusage its result will carry (a run). */
libxl__child *libxl__child_new(bool with_rusage);
void libxl__child_free(libxl__child *ch);
/* Registers ch (pid, owner set) with G.  Called with spawn_lock held
 * for reading.  Returns 0 or ERROR_*. */
int libxl__child_register(libxl_ctx *ctx, libxl_sigchld_owner mode,
                          libxl__child *ch);
/* ctx is being freed: moves its children to the orphan state; returns how
 * many were still running.  G.ctxs_lock and G.lock held. */
int libxl__children_orphan_Glocked(libxl_ctx *ctx);
/* M4: reap this ctx's own children now (sigchld_occurred); the statuses
 * go to *batch, for the caller to hand to the ctx. */
void libxl__children_reap_own(libxl_ctx *ctx, struct libxl__child_q *batch);
/* M4: the application reaped pid; 0 if it was ctx's (then in *batch). */
int libxl__child_reaped_by_app(libxl_ctx *ctx, pid_t pid, int status,
                               struct libxl__child_q *batch);
/* Collects ch if it has exited: 1 (into *batch, unless an orphan), or 0. */
int libxl__child_collect_Glocked(libxl__child *ch,
                                 struct libxl__child_q *batch);
/* The same for a child whose pidfd was reported readable (it has exited):
 * no ptrace-stop peek first. */
int libxl__child_collect_exited_Glocked(libxl__child *ch,
                                        struct libxl__child_q *batch);
/* Records the status of a child just collected (or lost), takes it out of
 * the pid table, and returns true if it must now be handed to its ctx
 * (false: it was an orphan and has been freed). */
bool libxl__child_collected_Glocked(libxl__child *ch, int status,
                                    const struct rusage *ru, bool lost);
/* For waitid's siginfo: did that child exit (not a stop or a ptrace
 * trap, which waitid(WEXITED) reports for a tracee), and its wait status. */
/* A waitid result that is an exit (not a stop, a continue or nothing). */
static inline bool libxl__si_exited(const siginfo_t *si)
{
    return si->si_pid != 0 &&
           (si->si_code == CLD_EXITED || si->si_code == CLD_KILLED ||
            si->si_code == CLD_DUMPED);
}

/* Which child of the process has exited (or, for a tracer, stopped), if
 * any: a peek, which takes nothing.  0 (si->si_pid 0: none), or -1 with
 * errno (ECHILD: no children at all). */
static inline int libxl__waitid_peek_any(siginfo_t *si)
{
    int r;

    memset(si, 0, sizeof *si);
    while ((r = waitid(P_ALL, 0, si, WEXITED | WNOHANG | WNOWAIT)) < 0 &&
           errno == EINTR)
        ;
    return r;
}

/* The wait status of an exit that waitid reported. */
static inline int libxl__status_of_siginfo(const siginfo_t *si)
{
    switch (si->si_code) {
    case CLD_EXITED: return (si->si_status & 0xff) << 8;
    case CLD_KILLED: return si->si_status & 0x7f;
    case CLD_DUMPED: return (si->si_status & 0x7f) | 0x80;
    default: return LIBXL__STATUS_LOST; /* never asked: see si_exited */
    }
}

/* ------------------------------------------------------------------ */
/* threads/reaper.c                                                    */

/* Starts the reaper if it is not running.  Returns 0 or ERROR_FAIL. */
int libxl__reaper_ensure(libxl_ctx *ctx);
/* With G.lock held. */
int libxl__reaper_ensure_Glocked(libxl_ctx *ctx);
/* A thread takes the leader's role: G.epfd stops waking the reaper
 * (false: it could not be switched off, and the reaper keeps the role). */
bool libxl__reaper_wait_set_lend_Glocked(void);
/* A leader gives the role back: G.epfd wakes the reaper again. */
void libxl__reaper_wait_set_back_Glocked(void);

/* The tags of the reaper's own fds in G.epfd (a child's tag has its
 * nonzero id in the high half): the set is made by threads/reaper.c and
 * read by every pass. */
#define LIBXL__TAG_SIGNALS 1 /* G.sfd */
#define LIBXL__TAG_FORWARD 4 /* G.fwd_efd */

/* ------------------------------------------------------------------ */
/* threads/pass.c: one reaping pass                                    */

/* Collects every exited child the library may take, then hands them to
 * their ctxs; sweep: the once-a-second pass (M2), which also checks each
 * child without a pidfd by pid.  Returns how many it collected.  No lock
 * held. */
unsigned libxl__reap_pass(bool sweep);
/* A pass as the reaper runs it on SIGCHLD, for a leader.  No lock held. */
void libxl__reaper_collect(void);

/* ------------------------------------------------------------------ */
/* threads/leader.c: the reaper's role lent to a waiting thread (E2)   */

/* owner (a waiter, or a ctx whose poll loop calls beforepoll) is about to
 * sleep: takes the role if nobody asleep has it; returns the fd to poll
 * (G.epfd), or -1.  stealable: another sleeper or the reaper's sweep may
 * take it over at any time.  A ctx lock may be held. */
int libxl__lead_begin(const void *owner, bool stealable, bool *following);
/* *following (if not NULL): it did not get the role and is counted as a
 * thread that sleeps without it, under G.lock, where a leader decides
 * whether it may keep the role; libxl__lead_unfollow once awake.
 * libxl__lead_follow counts one that sleeps without asking. */
void libxl__lead_follow(void);
void libxl__lead_unfollow(void);
/* owner (a waiter) enters its wait loop: takes the role, as if it had
 * woken from a sleep with it and kept it, if it is free and nobody else
 * can be waiting for a status, or if from (non-NULL) has it.  Returns
 * whether it took it.  A ctx lock may be held. */
bool libxl__lead_take_busy(const void *owner, const void *from);
/* afterpoll: whether G.epfd is among fds, readable. */
bool libxl__lead_fd_ready(int nfds, const struct pollfd *fds);
/* owner woke: collects if ready (G.epfd was readable), then keeps the role
 * through its work or gives it back.  No lock held. */
void libxl__lead_woke(const void *owner, bool ready);
/* This thread now works for owner (a waiter, or an asynchronous start),
 * which may have the role: libxl__lead_heartbeat says, between callbacks,
 * that a busy leader is not stuck in a long one (the reaper's sweep takes
 * the role back from one that has not looked for LIBXL__LEAD_STALE_MS).
 * Returns the previous owner, to be put back when the call ends (calls
 * nest in callbacks); NULL: none. */
const void *libxl__lead_working(const void *owner);
void libxl__lead_heartbeat(void);
/* Whether G.epfd has something to collect, without sleeping: a thread
 * that kept the role through its work looks before it gives it back.
 * False unless owner still has the role. */
bool libxl__lead_ready(const void *owner);
/* owner leaves its call: the role, if it still has it, goes back. */
void libxl__lead_end(const void *owner);
/* A role kept by a busy leader goes back to the reaper (beforepoll, the
 * osevent hooks, the reaper's sweep). */
void libxl__lead_reclaim(void);
/* A ctx's wakeup fd is now polled by the application (beforepoll, the
 * osevent hooks): no leader keeps the role while it works from then on.
 * _unused: that ctx is freed. */
void libxl__lead_wake_fd_used(void);
void libxl__lead_wake_fd_unused(void);

/* ------------------------------------------------------------------ */
/* src/inbox.c: where collected statuses arrive                        */

/* The reaper will deliver one more status to ctx (G.lock held). */
void libxl__inbox_expect(libxl_ctx *ctx);
/* Hands collected children to their ctxs and wakes them; expected: each
 * was counted with libxl__inbox_expect.  No lock held. */
void libxl__inbox_deliver(struct libxl__child_q *batch, bool expected);
/* Work arrived for ctx (status, event): arm the wakeup fd and wake one
 * waiter.  ctx->lock held. */
void libxl__ctx_kick_locked(libxl_ctx *ctx);
/* Makes the wakeup fd readable (O1).  ctx->lock held. */
void libxl__wake_fd_arm_locked(libxl_ctx *ctx);
/* Disarm the wakeup fd if nothing is left.  ctx->lock held. */
void libxl__ctx_settle_locked(libxl_ctx *ctx);

/* ------------------------------------------------------------------ */
/* src/enter.c: threads inside calls on a ctx                          */

bool libxl__ctx_stale(libxl_ctx *ctx);
/* enter refuses a NULL, stale (F1) or dying ctx with ERROR_INVAL and a
 * log line. */
int libxl__ctx_enter(libxl_ctx *ctx, const char *func);
void libxl__ctx_leave(libxl_ctx *ctx);
/* Is this thread inside a libxl call on ctx more than once (that is, in a
 * callback made from a call on ctx)? */
bool libxl__ctx_nested(libxl_ctx *ctx);
/* Is this thread inside a libxl call on ctx at all? */
bool libxl__ctx_entered_here(libxl_ctx *ctx);
/* In the child of libxl_childproc_fork: the call is over, ctx untouched. */
void libxl__ctx_leave_in_child(void);
/* E5: this thread's innermost call now waits with w (and for ao, if it is
 * synchronous); NULL, NULL when it stops waiting. */
void libxl__frame_waits(libxl__waiter *w, libxl__ao *ao);
/* Around a sleep: cancellation enabled if the application had it enabled
 * (library code otherwise runs with it disabled). */
bool libxl__cancel_sleep_begin(void);
void libxl__cancel_sleep_end(bool enabled);
/* The thread was cancelled in a sleep: undo every call it is inside,
 * innermost first (locked: the innermost, whose ctx->lock is held), and
 * leave them. */
void libxl__frames_unwind(void (*undo)(libxl_ctx *ctx, libxl__waiter *w,
                                       libxl__ao *ao, bool locked));

/* ------------------------------------------------------------------ */
/* src/waiter.c: sleeping threads (ctx->lock held)                     */

/* Fills up to max pollfds with the fds a sleeper must also watch (the
 * capture pipes, src/capture.c); returns how many there are. */
struct pollfd;
typedef int libxl__pollfds_fn(libxl_ctx *ctx, struct pollfd *fds, int max);

void libxl__waiter_init(libxl__waiter *w);
void libxl__waiter_destroy(libxl__waiter *w);
void libxl__waiter_wake_locked(libxl__waiter *w);
/* Sleeps until w is woken or, as the timekeeper, until earliest (the
 * earliest timeout, or NULL). */
void libxl__waiter_sleep_locked(libxl_ctx *ctx, libxl__waiter *w,
                                libxl__pollfds_fn *pollfds,
                                const struct timespec *earliest);
/* w leaves its wait loop for good: hands the timekeeper role on. */
void libxl__waiter_leave_locked(libxl_ctx *ctx, libxl__waiter *w,
                                bool have_timeouts);
/* The earliest timeout changed: the timekeeper recomputes its deadline. */
void libxl__timekeeper_poke_locked(libxl_ctx *ctx);
/* w's thread was cancelled (E5): w leaves for good.  Returns whether it
 * had been woken (its wakeup must go to someone else). */
bool libxl__waiter_cancelled_locked(libxl_ctx *ctx, libxl__waiter *w,
                                    bool have_timeouts);

/* ------------------------------------------------------------------ */
/* src/event.c: the event queue (ctx->lock held)                       */

/* Takes ownership of ev; may drop the lock to call event_occurs. */
void libxl__event_occurred_locked(libxl_ctx *ctx, libxl_event *ev);
/* The first queued event that matches, taken off the queue, or NULL. */
libxl_event *libxl__event_take_locked(libxl_ctx *ctx, uint64_t typemask,
                                      libxl_event_predicate *pred, void *user);
void libxl__events_free_locked(libxl_ctx *ctx);
/* Wakes, for each queued event, one sleeping waiter that would take it. */
void libxl__event_wake_takers_locked(libxl_ctx *ctx);

/* ------------------------------------------------------------------ */
/* src/loop.c: the work loop                                           */

/* Runs all pending work: reaped statuses, unknown children, failed
 * starts, and (if timeouts) expired timeouts.  ctx->lock held on entry
 * and exit; dropped around callbacks. */
void libxl__ctx_process_locked(libxl_ctx *ctx, bool timeouts);
/* The same, without timeouts, for a call that took the reaper's role as
 * owner (NULL: it did not): it also collects what is ready, until nothing
 * is, then gives the role back. */
void libxl__ctx_process_leading_locked(libxl_ctx *ctx, const void *owner);
/* Logs at CRITICAL and calls the disaster hook, if any, unlocked (xlchild
 * never exits the process).  ctx->lock held. */
void libxl__disaster_locked(libxl_ctx *ctx, libxl_event_type type,
                            const char *msg, int errnoval);
/* Sync aos: wait until complete, return rc and free.  ctx->lock held. */
int libxl__ao_wait_locked(libxl_ctx *ctx, libxl__ao *ao);

/* ------------------------------------------------------------------ */
/* src/ao.c: asynchronous operations                                   */

libxl__ao *libxl__ao_new(libxl_ctx *ctx, const libxl_asyncop_how *how);
/* Frees an ao that will not complete (start failed, ctx_free). */
void libxl__ao_free(libxl__ao *ao);
/* An ao that failed before it had a child: its completion is queued for
 * the work loop rather than made inside the call that started it, so
 * that callbacks starting operations never nest without bound (as libxl
 * defers callbacks to the outermost call).  ctx->lock held. */
void libxl__ao_fail_later_locked(libxl_ctx *ctx, libxl__ao *ao, int rc);
/* rc known: deliver the completion.  ctx->lock held; may drop it. */
void libxl__ao_complete_locked(libxl_ctx *ctx, libxl__ao *ao, int rc);
void libxl__aos_free_locked(libxl_ctx *ctx);

/* ------------------------------------------------------------------ */
/* src/childproc.c: starting children                                  */

/* What a start of a child (run or fork) needs of the ctx's mode, copied
 * under ctx->lock when it begins: setmode is refused while starts are in
 * flight (ctx->nstarting), so the copy stays true until registration. */
typedef struct {
    libxl_sigchld_owner mode;
    pid_t (*fork_replacement)(void *user);
    void *hooks_user;
} libxl__start;

/* Takes the snapshot and counts the start (ctx->lock held). */
void libxl__start_begin_locked(libxl_ctx *ctx, libxl__start *st);
void libxl__start_end(libxl_ctx *ctx);
/* Registers the child just created as ch (spawn_lock held for reading);
 * one that cannot be tracked is killed and reaped there. */
int libxl__child_track(libxl_ctx *ctx, const libxl__start *st, libxl__child *ch,
                       pid_t pid);
/* A run's or fork child's status arrived: completes the run, or calls the
 * fork child's death callback (src/fork.c).  ctx->lock held. */
void libxl__child_done_locked(libxl_ctx *ctx, libxl__child *ch);
/* M4: the application may reap a child before the call that starts it has
 * registered it (as libxl, which holds the ctx lock across fork and
 * registration): its reports wait for starts in flight first. */
void libxl__starts_wait(libxl_ctx *ctx);

/* Spawning (src/spawn.c): creates the child of args, with spawn_lock held
 * for reading.  On success *pid_r > 0; on exec failure known at once,
 * *exec_errno_r is set and, for the fork path, the pid is still returned
 * (it must be reaped).  Returns 0 or ERROR_FAIL (no child). */
typedef struct libxl__spawn_io libxl__spawn_io;
int libxl__spawn(libxl_ctx *ctx, const libxl__start *st,
                 const libxl_childproc_args *args, libxl__spawn_io *io,
                 pid_t *pid_r, int *exec_errno_r);

/* ------------------------------------------------------------------ */
/* src/timeout.c: the ctx's timers (ctx->lock held)                    */

void libxl__timeout_init(libxl__timeout *t,
                         void (*fire)(libxl_ctx *, libxl__timeout *));
/* Returns 0, or what a failing timeout_register hook returned. */
int libxl__timeout_set_locked(libxl_ctx *ctx, libxl__timeout *t, int ms);
void libxl__timeout_cancel_locked(libxl_ctx *ctx, libxl__timeout *t);
/* Fires every expired timeout; returns true if any fired. */
bool libxl__timeouts_run_locked(libxl_ctx *ctx);
/* ms until the earliest timeout, -1 if none. */
int libxl__timeouts_next_ms_locked(libxl_ctx *ctx);
const struct timespec *libxl__timeouts_earliest_locked(libxl_ctx *ctx);
void libxl__timeouts_free_locked(libxl_ctx *ctx);

/* ------------------------------------------------------------------ */
/* src/osreg.c: registrations with the osevent hooks (ctx->lock held)  */

/* Registers the wakeup fd with the hooks if not yet done: 0, or the
 * hook's error, which the operation being started returns. */
int libxl__osevent_ready_locked(libxl_ctx *ctx);
int libxl__osevent_timeout_added_locked(libxl_ctx *ctx, libxl__timeout *t);
void libxl__osevent_timeout_removed_locked(libxl_ctx *ctx, libxl__timeout *t);
void libxl__osevent_free_locked(libxl_ctx *ctx);

/* ------------------------------------------------------------------ */
/* src/mode.c: the ctx registry and the owner modes                    */

/* ctx joins G.ctxs (alloc), or leaves it, its children orphaned and its
 * mode uncounted (free; returns how many children were still running). */
void libxl__mode_ctx_register(libxl_ctx *ctx);
int libxl__mode_ctx_unregister(libxl_ctx *ctx);

/* ------------------------------------------------------------------ */
/* Spawning for toolstacks, rules S0-S10 (src/childproc.c, src/spawn.c) */

/* R0, R1 and S1-S10 on a run's args: false, with the first bad one logged
 * (src/run_args.c). */
bool libxl__run_args_ok(libxl_ctx *ctx, const libxl_childproc_args *args);

/* S0: where the 0.1 structs ended.  The 0.1 entry of libxl_childproc_run
 * reads and writes nothing past these. */
#define LIBXL__ARGS_V01_SIZE offsetof(libxl_childproc_args, fds)
#define LIBXL__RESULT_V01_SIZE offsetof(libxl_childproc_result, out)

/* The pipes of a run (S5): asked for in stdin_pipe and capture, the
 * parent's ends (non-blocking, close-on-exec; -1 when none) returned in
 * parent_fd[0] (stdin's write end), [1] and [2] (read ends). */
struct libxl__spawn_io {
    bool stdin_pipe;
    unsigned capture;
    int parent_fd[3];
};

/* src/spawn.c: creates a child the way the ctx's hooks say (R3):
 * fork_replacement, or fork().  With spawn_lock held for reading. */
pid_t libxl__start_fork(const libxl__start *st);

/* threads/children.c, S2: sends sig to ch (its group if ch->group) unless
 * it has been reaped: 0, ERROR_NOTFOUND (reaped, or a zombie) or
 * ERROR_FAIL (logged).  No G.lock held; ctx->lock may be. */
int libxl__child_signal(libxl_ctx *ctx, libxl__child *ch, int sig);

/* S6 (src/env.c).  Logs and returns false for a malformed entry. */
bool libxl__env_args_ok(libxl_ctx *ctx, const libxl_childproc_args *args);
/* *envp_r: NULL when args edit nothing, else a malloc'd array of pointers
 * to the base's and env_set's strings.  0 or ERROR_NOMEM. */
int libxl__env_build(libxl_ctx *ctx, const libxl_childproc_args *args,
                     char ***envp_r);

/* S5 (src/capture.c), all with ctx->lock held. */
typedef struct {
    int fd;    /* the parent's end, -1 once closed */
    char *buf; /* captured bytes (out/err) */
    size_t len, size;
    bool truncated;
    bool registered; /* with the fd_register hook */
    uintptr_t token; /* its for_libxl */
    void *for_app;
} libxl__capture_stream;

/* What completes the run of a capture (src/childproc.c's): called with
 * the reaped child once the pipes are done. */
typedef void libxl__capture_done(libxl_ctx *ctx, libxl__ao *ao,
                                 libxl__child *ch);

struct libxl__capture {
    LIST_ENTRY(libxl__capture) entry; /* ctx->captures */
    libxl__ao *ao;
    libxl__capture_done *done;
    pid_t pid;
    unsigned captured;          /* LIBXL_CAPTURE_* */
    size_t max;                 /* capture_max */
    libxl__capture_stream s[3]; /* stdin (written), stdout, stderr */
    const char *in;             /* stdin_data still to write */
    char *in_copy;
    size_t in_len, in_off;
    libxl__child *reaped;  /* reaped, waiting for the pipes' EOF */
    libxl__timeout linger; /* 200 ms after the reap */
};

/* Allocates ao->cap for args (capture or stdin_data), on ctx->captures;
 * done completes the run. */
int libxl__capture_new_locked(libxl_ctx *ctx, libxl__ao *ao,
                              const libxl_childproc_args *args,
                              libxl__capture_done *done);
/* The child was started: its pipes' parent ends (libxl__spawn_io) are
 * the ctx's from now on.  Returns 0 or a failing fd_register's error. */
int libxl__capture_start_locked(libxl_ctx *ctx, libxl__capture *cap, pid_t pid,
                                const int parent_fd[3]);
/* The child was reaped: true when its run may complete now; false when
 * it waits for the pipes (cap keeps ch and completes it later through
 * cap->done). */
bool libxl__capture_reaped_locked(libxl_ctx *ctx, libxl__capture *cap,
                                  libxl__child *ch);
/* Moves the captured bytes to the caller's result. */
void libxl__capture_result_locked(libxl__capture *cap,
                                  libxl_childproc_result *r);
void libxl__capture_free_locked(libxl_ctx *ctx, libxl__capture *cap);
/* The work loop's pass over every pipe of the ctx; may complete runs
 * (dropping the lock for their callbacks). */
void libxl__captures_drain_locked(libxl_ctx *ctx);
/* Fills up to max pollfds for the open pipes; returns how many exist. */
libxl__pollfds_fn libxl__capture_pollfds_locked;
/* Is token the for_libxl of one of the ctx's registered pipes? */
bool libxl__capture_token_locked(libxl_ctx *ctx, uintptr_t token);
/* The set of pipes changed: the thread that sleeps for them must look. */
void libxl__capture_poke_locked(libxl_ctx *ctx);
/* childproc.c: completes the run ao with its reaped child ch. */
libxl__capture_done libxl__run_done_locked;

#endif /* XLCHILD_INTERNAL_H */
