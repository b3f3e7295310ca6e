/*
 * children.c - the table of the library's children, under G.lock.
 *
 * Every child the library starts is registered here, by pid, until its
 * status is collected: by the reaper (threads/reaper.c), by a thread of an
 * owner_mainloop ctx (libxl_childproc_sigchld_occurred), or reported by the
 * application (libxl_childproc_reaped).  Collected statuses go to their ctx
 * through the inbox (src/inbox.c).  Also here: orphaning when a ctx is
 * freed.  The table itself is threads/pidtable.c; kills are threads/kill.c;
 * how each child is watched (pidfd or by pid), threads/watch.c.
 *
 * A child is "watched" (the reaper collects it) through its pidfd in the
 * reaper's epoll set, or, without one, on G.nopidfd (threads/pass.c finds
 * those exits).  Children of owner_mainloop ctxs (class APP) are never
 * watched: the application reaps them.
 */
#include "internal.h"

#include <assert.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Children                                                            */

libxl__child *libxl__child_new(bool with_rusage)
{
    libxl__child *ch =
        calloc(1, sizeof *ch + (with_rusage ? sizeof ch->rusage[0] : 0));

    if (ch) {
        ch->pidfd = -1;
        ch->has_rusage = with_rusage;
    }
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

/* waitid(WEXITED | WNOHANG | options) on ch alone: through its pidfd
 * where the kernel can, else by pid.  si_pid stays 0 if it has not exited. */
static int child_waitid_Glocked(libxl__child *ch, siginfo_t *si, int options,
                                struct rusage *ru)
{
    memset(si, 0, sizeof *si);
    options |= WEXITED | WNOHANG;
    if (ch->pidfd >= 0 && G.have_waitid_pidfd)
        return libxl__waitid(P_PIDFD, (id_t)ch->pidfd, si, options, ru);
    return libxl__waitid(P_PID, (id_t)ch->pid, si, options, ru);
}

/*
 * A child whose status was taken behind the library's back.  It is reported
 * once, as lost: status LIBXL__STATUS_LOST (-1, which no wait status is),
 * so that nobody mistakes it for an exit code (inventing "exit 255", as
 * some peers do, would be a lie the caller cannot tell from the truth), and
 * runs complete with ERROR_FAIL (src/childproc.c).
 */
static void child_lost_Glocked(libxl__child *ch, int errnoval,
                               struct libxl__child_q *batch)
{
    G.lost_since_sweep = true; /* the sweep looks at SIGCHLD's disposition */
    LOGEV(ch->ctx, ERROR, errnoval,
          "child %d: its status was reaped behind the library's back"
          " (a waitpid(-1) or wait() elsewhere, or SIGCHLD set to SIG_IGN);"
          " reporting it as lost",
          (int)ch->pid);
    if (libxl__child_collected_Glocked(ch, LIBXL__STATUS_LOST, NULL, true))
        STAILQ_INSERT_TAIL(batch, ch, q_entry);
}

/* Collects one child of ours without blocking.  1: collected (or lost),
 * 0: still running.  G.lock held. */
int libxl__child_collect_Glocked(libxl__child *ch, struct libxl__child_q *batch)
{
    siginfo_t si;
    struct rusage ru;
    int r;

    /* Peek first: waitid(WEXITED) also reports the ptrace stops of a child
     * that this process traces, and taking one would steal it from the
     * tracer and make a death of a stop (R2). */
    r = child_waitid_Glocked(ch, &si, WNOWAIT, NULL);
    if (r == 0 && libxl__si_exited(&si)) {
        if (libxl__group_held_Glocked(ch))
            return 0; /* S9: held until the group is gone or the grace ends */
        memset(&ru, 0, sizeof ru);
        r = child_waitid_Glocked(ch, &si, 0, ch->has_rusage ? &ru : NULL);
    }
    if (r < 0 && errno == EINTR)
        return 0; /* next pass */
    if (r < 0) {
        /* ECHILD: somebody else took the status (a waitpid(-1) or wait()
         * elsewhere, or the kernel itself while SIGCHLD was SIG_IGN). */
        child_lost_Glocked(ch, errno, batch);
        return 1;
    }
    if (!libxl__si_exited(&si))
        return 0; /* running, or stopped */
    if (libxl__child_collected_Glocked(ch, libxl__status_of_siginfo(&si), &ru,
                                       false))
        STAILQ_INSERT_TAIL(batch, ch, q_entry);
    return 1;
}

/*
 * As libxl__child_collect_Glocked, for a child whose pidfd epoll reported
 * readable.  A pidfd is readable only once the whole process has exited
 * (its leader a zombie, no thread left), and a process in that state has
 * no ptrace stop left to report: waitid can only report the exit, so the
 * peek is not needed.  Not yet waitable though readable (a tracer in
 * another process has not taken the exit yet): 0.  A leader whose group
 * is being killed (S9) goes the long way, which may hold it.
 */
int libxl__child_collect_exited_Glocked(libxl__child *ch,
                                        struct libxl__child_q *batch)
{
    siginfo_t si;
    struct rusage ru;
    int r;

    if (ch->kill_group_on_exit)
        return libxl__child_collect_Glocked(ch, batch);
    memset(&ru, 0, sizeof ru);
    r = child_waitid_Glocked(ch, &si, 0, ch->has_rusage ? &ru : NULL);
    if (r < 0 && errno == EINTR)
        return 0;
    if (r < 0) {
        child_lost_Glocked(ch, errno, batch);
        return 1;
    }
    if (!libxl__si_exited(&si))
        return 0;
    if (libxl__child_collected_Glocked(ch, libxl__status_of_siginfo(&si), &ru,
                                       false))
        STAILQ_INSERT_TAIL(batch, ch, q_entry);
    return 1;
}

int libxl__child_register(libxl_ctx *ctx, libxl_sigchld_owner mode,
                          libxl__child *ch)
{
    struct libxl__child_q batch = STAILQ_HEAD_INITIALIZER(batch);
    bool all_on = false;
    int rc = 0;

    /* Opened before anything can reap the pid: only the reaper reaps our
     * children, and it cannot collect this one until it is in the table
     * (or, reaping everything, until we drop spawn_lock).  Not for a fork
     * child the library reaps while every exit is collected anyway
     * (waitpid(-1), M3 and M5): the library never signals one, so its
     * pidfd would only cost three system calls, and an fd that every later
     * fork copies and every child closes.  Should the mode change, it is
     * found as the children without one are (threads/pass.c).  Where the
     * application reaps its own children by pid (M6, and M3 beside an M6
     * ctx: see below), a fork child has a pidfd: found by pid only, one
     * whose status was taken behind the library's back could, until the
     * next sweep, be taken for the application's child that got its pid.  An
     * owner_mainloop child keeps its pidfd too:
     * libxl_childproc_sigchld_occurred collects it through it, and the pid
     * of a stale entry may be anybody's (pidtable.c). */
    if (G.have_pidfd &&
        (ch->ao || mode == libxl_sigchld_owner_mainloop ||
         mode == libxl_sigchld_owner_libxl_always_selective_reap) &&
        libxl__pidfd_affordable(mode != libxl_sigchld_owner_mainloop)) {
        ch->pidfd = libxl__pidfd_open(ch->pid);
        if (ch->pidfd >= 0)
            __atomic_add_fetch(&G.npidfds, 1, __ATOMIC_RELAXED);
        else
            LOGE(ctx, DEBUG, "pidfd_open(%d)", (int)ch->pid);
    }

    pthread_mutex_lock(&G.lock);
    if ((rc = libxl__table_reserve_Glocked()))
        goto out;
    ch->cls = mode == libxl_sigchld_owner_libxl      ? LIBXL__CLASS_DEFAULT
              : mode == libxl_sigchld_owner_mainloop ? LIBXL__CLASS_APP
                                                     : LIBXL__CLASS_WATCHED;
    ch->ctx = ctx;
    ch->id = G.next_id++;
    if (G.next_id == 0)
        G.next_id = 1; /* 0 tags the reaper's own fds in G.epfd */
    {
        /* An entry the reaper collects for this pid is stale: the pid was
         * recycled, so its status was taken by someone (pidtable.c). */
        libxl__child *old;
        bool lost = false;

        while ((old = libxl__table_stale_Glocked(ch->pid))) {
            child_lost_Glocked(old, -1, &G.pending); /* out of the table */
            lost = true;
        }
        if (lost)
            libxl__reaper_poke(); /* to hand over the lost ones */
    }
    libxl__table_insert_Glocked(ch);
    LIST_INSERT_HEAD(&ctx->children, ch, ctx_entry);
    if (ch->cls == LIBXL__CLASS_APP)
        goto out;
    if (G.n_watched++ == 0 && G.reaper_untimed)
        libxl__reaper_poke(); /* from an untimed wait to 1 s sweeps */
    if (ch->cls == LIBXL__CLASS_DEFAULT) {
        G.n_default_children++;
        all_on = libxl__reap_all_update_Glocked();
    }
    /*
     * A reaping pass that began after the child was created may have taken
     * its SIGCHLD before we could watch it.  Then it has exited already:
     * collect it here rather than wake the reaper for another pass (fork
     * children that exit at once make this the common case).  Passes that
     * begin later see it in the epoll set (or the nopidfd list).
     */
    if (G.pass_seq == ch->spawn_seq ||
        !libxl__child_collect_Glocked(ch, &batch)) {
        libxl__child_watch_Glocked(ch);
        /* A fork child of a default-mode ctx beside a selective one: not
         * every exit is collected after all, so it gets its pidfd now. */
        if (!G.reap_all && ch->pidfd < 0)
            libxl__child_watch_late_Glocked(ch);
    }
    /*
     * reap_all has just gone on: a child that exited before, whose SIGCHLD
     * a pass without reap_all took, needs a pass now (M3).  Ours does not,
     * if still unreaped here: no pass has taken G.lock since its creation
     * (pass_seq), or it had not exited when looked at above, so the pass
     * that takes its SIGCHLD takes G.lock after us, finds reap_all on and
     * reaps everything.  Fork children that exit at once turn reap_all on
     * and off at every other refill: a poke each time would wake the
     * reaper for nothing.
     */
    if (all_on && G.reap_all &&
        libxl__something_waitable(ch->reaped ? 0 : ch->pid))
        libxl__reaper_poke();
out:
    libxl__rewatch_Glocked();
    pthread_mutex_unlock(&G.lock);
    if (!STAILQ_EMPTY(&batch))
        libxl__inbox_deliver(&batch, false);
    return rc;
}

bool libxl__child_collected_Glocked(libxl__child *ch, int status,
                                    const struct rusage *ru, bool lost)
{
    assert(!ch->reaped && ch->cls != LIBXL__CLASS_UNKNOWN); /* once only */
    /* A group kill still pending: the leader was reaped before we could
     * see it exit (waitpid(-1) pass: see reap_all_Glocked), or lost. */
    libxl__group_kill_drop_Glocked(ch);
    ch->status = status;
    if (ru && ch->has_rusage)
        ch->rusage[0] = *ru;
    ch->lost = lost;
    ch->reaped = true;
    libxl__table_remove_Glocked(ch);
    if (ch->on_nopidfd)
        LIST_REMOVE(ch, nopidfd_entry);
    ch->on_nopidfd = false;
    if (ch->cls != LIBXL__CLASS_APP) {
        G.n_watched--;
        if (ch->cls == LIBXL__CLASS_DEFAULT) {
            G.n_default_children--;
            libxl__reap_all_update_Glocked(); /* the walk of G.nopidfd that
                                          collected ch may go on */
        }
    }
    if (!ch->ctx) {
        libxl__child_free(ch); /* orphan of a freed ctx: status discarded */
        return false;
    }
    LIST_REMOVE(ch, ctx_entry);
    return true;
}

int libxl__children_orphan_Glocked(libxl_ctx *ctx)
{
    libxl__child *ch, *next;
    int running = 0;

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
        /* Its grace timer goes with the ctx: the group is killed now,
         * while its leader is still unreaped (S9). */
        if (ch->cls != LIBXL__CLASS_APP && ch->kill_group_on_exit) {
            libxl__group_kill_Glocked(ch);
            if (ch->on_nopidfd)
                libxl__reaper_poke();
        }
        if (ch->cls == LIBXL__CLASS_APP) {
            /* The application reaps these; nothing is left to tell. */
            libxl__group_kill_drop_Glocked(ch);
            ch->reaped = true;
            libxl__table_remove_Glocked(ch);
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
    return running;
}

void libxl__children_reap_own(libxl_ctx *ctx, struct libxl__child_q *batch)
{
    libxl__child *ch, *next;

    pthread_mutex_lock(&G.lock);
    for (ch = LIST_FIRST(&ctx->children); ch; ch = next) {
        next = LIST_NEXT(ch, ctx_entry);
        libxl__child_collect_Glocked(ch, batch);
    }
    pthread_mutex_unlock(&G.lock);
}

/*
 * S9 in owner_mainloop, the grace's SIGKILL just sent: a leader that
 * libxl_childproc_sigchld_occurred found exited and held for its group is
 * collected now, into ctx's queue.  Nothing else would: the group's other
 * members are the application's grandchildren, whose exits send it no
 * SIGCHLD, so it may never call sigchld_occurred again.  A leader the
 * application reaps itself was never held, and is left to it.  ctx->lock
 * held (G.lock is taken inside it, never the other way round).
 */
void libxl__group_held_collect_locked(libxl_ctx *ctx, libxl__child *ch)
{
    struct libxl__child_q batch = STAILQ_HEAD_INITIALIZER(batch);

    pthread_mutex_lock(&G.lock);
    if (ch->cls == LIBXL__CLASS_APP && ch->held && !ch->reaped &&
        ch->ctx == ctx)
        libxl__child_collect_Glocked(ch, &batch);
    pthread_mutex_unlock(&G.lock);
    if (STAILQ_EMPTY(&batch))
        return;
    STAILQ_CONCAT(&ctx->reaped, &batch);
    libxl__ctx_kick_locked(ctx);
}

int libxl__child_reaped_by_app(libxl_ctx *ctx, pid_t pid, int status,
                               struct libxl__child_q *batch)
{
    libxl__child *ch;
    int rc = ERROR_UNKNOWN_CHILD;

    pthread_mutex_lock(&G.lock);
    for (ch = libxl__child_lookup_Glocked(pid); ch; ch = ch->hash_next)
        if (ch->pid == pid && ch->ctx == ctx && !ch->reaped)
            break; /* the oldest: same-pid entries are kept in order */
    if (ch && (WIFSTOPPED(status) || WIFCONTINUED(status))) {
        /* A stop (of a tracee, say) passed on by an application that
         * waits with WUNTRACED or traces: the child lives on. */
        LOG(ctx, DEBUG, "child %d stopped or continued (%#x): not a death",
            (int)pid, status);
        rc = 0;
    } else if (ch) {
        /* The application has reaped the leader, so its group id may be
         * anybody's by now: what is left of a group we are killing gets
         * its SIGKILL only through the leader's pidfd (which names the
         * group the leader made, never a new one of the same number);
         * without that, the grace ends here with no signal (S9). */
        if (libxl__group_kill_drop_Glocked(ch) && ch->pidfd >= 0 &&
            G.have_pidfd_pgrp)
            libxl__pidfd_send_signal_flags(ch->pidfd, SIGKILL,
                                           LIBXL__PIDFD_SIGNAL_PGRP);
        if (libxl__child_collected_Glocked(ch, status, NULL, false))
            STAILQ_INSERT_TAIL(batch, ch, q_entry);
        rc = 0;
    }
    pthread_mutex_unlock(&G.lock);
    return rc;
}
