/*
 * pass.c - one reaping pass: collect every exited child the library may
 * take, under G.lock, then hand the batch to the ctxs' inboxes.
 *
 * Run by the reaper thread (threads/reaper.c) when SIGCHLD, a poke or its
 * sweep wakes it, and by a leader (threads/leader.c) whose wait set was
 * ready.  A pass collects in three ways:
 *  - waitpid(-1), peeking first, while some ctx must reap every child of
 *    the process (modes M3 with children, M5);
 *  - the children whose pidfds the epoll set G.epfd reports ready;
 *  - the children without a pidfd, found by asking the kernel which child
 *    exited, and checked one by one by pid where that cannot tell.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#define EPOLL_BATCH 256

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
unsigned libxl__reap_pass(bool sweep)
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
     * unless waitpid(-1) just collected whatever had exited (and did not
     * stop half-way, reap_all gone off as the last default child went). */
    all = G.reap_all;
    if (sweep || (forwarded && !all) ||
        ((!all || st.deferred) && !LIST_EMPTY(&G.nopidfd)))
        reap_nopidfd_Glocked(&batch, sweep);
    libxl__rewatch_Glocked(); /* reap_all went off as one was collected */
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

/* What the reaper does when SIGCHLD wakes it, done by a leader
 * (threads/leader.c) whose G.epfd was ready. */
void libxl__reaper_collect(void)
{
    __atomic_store_n(&G.lead_seen_ms, libxl__now_ms(), __ATOMIC_RELAXED);
    libxl__sigchld_take(false);
    libxl__reap_pass(false);
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

/* A walk over the process's children as /proc lists them: the children
 * file of each thread (a child's parent is the thread that forked it). */
typedef struct {
    void (*fn)(pid_t pid, void *arg);
    void *arg;
    bool failed; /* a read failed: the list may be short */
} child_walk;

static void walk_children_file(const char *tid, int fd, void *arg)
{
    child_walk *w = arg;
    char buf[4096];
    size_t have = 0;
    ssize_t n;

    (void)tid;
    while ((n = read(fd, buf + have, sizeof buf - 1 - have)) > 0) {
        char *p = buf, *end;
        have += (size_t)n;
        buf[have] = '\0';
        for (;;) {
            long pid;

            while (*p == ' ' || *p == '\n')
                p++;
            pid = strtol(p, &end, 10);
            if (end == p || *end == '\0')
                break; /* none left, or one the read cut: carried over */
            p = end;
            if (pid > 0)
                w->fn((pid_t)pid, w->arg);
        }
        have = strlen(p);
        memmove(buf, p, have);
    }
    if (n < 0)
        w->failed = true;
}

/* Calls fn for each child of the process.  -1 if the list could not be
 * read whole (no /proc, a kernel without the children files, a thread
 * gone meanwhile): the caller must not conclude from a pid's absence. */
static int each_listed_child(void (*fn)(pid_t pid, void *arg), void *arg)
{
    child_walk w = {fn, arg, false};

    if (libxl__each_task_file("children", walk_children_file, &w) || w.failed)
        return -1;
    return 0;
}

/* Reaps pid if it has exited (reap_all's way past a child it must not
 * take). */
static void reap_if_exited(pid_t pid, void *arg)
{
    siginfo_t si;

    if (!G.reap_all)
        return; /* gone off on the way (the last default child collected) */
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        libxl__si_exited(&si))
        reap_pid_Glocked(pid, arg);
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

        if (libxl__waitid_peek_any(&si))
            break; /* ECHILD: no children at all */
        if (si.si_pid == 0)
            break; /* none exited */
        if (libxl__si_exited(&si))
            r = reap_pid_Glocked(si.si_pid, st);
        if (r < 0)
            break; /* deferred to the starts in flight */
        if (r == 0) {
            each_listed_child(reap_if_exited, st);
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
                if (pid == LIBXL__TAG_FORWARD &&
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

/* The sweep's mark: pid is a child of the process still (G.lock held). */
static void mark_listed(pid_t pid, void *arg)
{
    libxl__child *ch;

    (void)arg;
    for (ch = libxl__child_lookup_Glocked(pid); ch; ch = ch->hash_next)
        if (ch->pid == pid)
            ch->listed = true;
}

/*
 * The children checked by pid.  Their exits are found first by asking the
 * kernel which child has exited (waitid(P_ALL) with WNOWAIT, which takes
 * nothing): one system call per exit, and none at all when nothing has
 * exited, where a check of each would cost one per child and pass (10 000
 * children in flight: 10 000 per SIGCHLD).  That stops at the first exited
 * child that is not one of ours to take (the application's, a leader held
 * in its group's kill grace, a tracee's stop), which hides the ones behind
 * it: then each is checked by pid.
 *
 * The sweep also looks for children whose status was taken behind the
 * library's back, which nothing but their absence shows.  It reads the
 * process's children from /proc, a few system calls for any number of
 * children, and checks by pid only the ones missing there; without that
 * list, each one.
 */
static void reap_nopidfd_Glocked(struct libxl__child_q *batch, bool sweep)
{
    libxl__child *ch, *next, *left = NULL;
    bool hidden = false;      /* behind an exited child not ours to take */
    bool listed = false;      /* the sweep has the list of the children */
    bool none_exited = false; /* the kernel said so */

    if (LIST_EMPTY(&G.nopidfd))
        return; /* every child has a pidfd: /proc is not worth reading */
    if (sweep) {
        LIST_FOREACH(ch, &G.nopidfd, nopidfd_entry)
            ch->listed = false;
        listed = each_listed_child(mark_listed, NULL) == 0;
    }
    while (!LIST_EMPTY(&G.nopidfd)) {
        siginfo_t si;

        if (libxl__waitid_peek_any(&si)) {
            listed = false; /* ECHILD: ours are gone behind our back */
            break;
        }
        if (si.si_pid == 0) {
            if (!sweep)
                return;         /* no child has exited: none of these either */
            none_exited = true; /* the sweep checks the missing ones */
            break;
        }
        ch = libxl__si_exited(&si)
                 ? libxl__child_find_watched_Glocked(si.si_pid)
                 : NULL;
        if (!ch || ch->reaped) {
            /* A pid not in the table while starts are in flight is most
             * likely one of theirs, which its registration collects: not
             * a zombie that will stay. */
            hidden = ch || !libxl__si_exited(&si) ||
                     __atomic_load_n(&G.nstarts, __ATOMIC_SEQ_CST) == 0;
            break;
        }
        if (!libxl__child_collect_Glocked(ch, batch)) {
            left = ch; /* held (S9: its check scans /proc): not twice */
            hidden = true;
            break;
        }
    }
    /* Hidden behind a stranger's zombie, which may stay for long (the
     * application reaps its own when it likes): the ones still running
     * get pidfds, so that the next passes need not check them by pid. */
    for (ch = LIST_FIRST(&G.nopidfd); ch; ch = next) {
        next = LIST_NEXT(ch, nopidfd_entry);
        if (ch == left || (listed && none_exited && ch->listed))
            continue; /* alive, and not exited: the kernel said so */
        if (!libxl__child_collect_Glocked(ch, batch) && hidden)
            libxl__child_watch_late_Glocked(ch);
    }
}
