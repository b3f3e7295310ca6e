/*
 * loop.c - the ctx's work loop, and the threads that wait in it.
 *
 * Work reaches a ctx through its inbox (src/inbox.c: statuses collected by
 * the reaper or a mainloop thread), as operations that failed to start
 * (ctx->failed), and from its own timeouts.  Any application thread inside
 * a libxl call on the ctx may do that work (libxl__ctx_process_locked);
 * each item is taken off its queue under ctx->lock, so each is done exactly
 * once, and the callbacks it makes run with no lock held (section 4).
 *
 * libxl_event_wait (E1, E2) and synchronous operations loop here: do the
 * work, look for what they wait for, sleep (src/waiter.c) until woken or
 * the earliest timeout.
 */
#include "internal.h"

#include <stdlib.h>

void libxl__disaster_locked(libxl_ctx *ctx, libxl_event_type type,
                            const char *msg, int errnoval)
{
    void (*d)(void *, libxl_event_type, const char *, int) =
        ctx->have_ev_hooks ? ctx->ev_hooks.disaster : NULL;
    void *user = ctx->ev_hooks_user;

    LOGEV(ctx, CRITICAL, errnoval, "%s", msg);
    if (d) {
        CTX_UNLOCK(ctx);
        d(user, type, msg, errnoval);
        CTX_LOCK(ctx);
    }
}

static void unknown_done_locked(libxl_ctx *ctx, libxl__child *u)
{
    int (*cb)(pid_t, int, void *) = NULL;
    void *user = ctx->hooks_user;
    pid_t pid = u->pid;
    int status = u->status;
    int r = ERROR_UNKNOWN_CHILD;

    libxl__child_free(u);
    if (ctx->have_hooks && ctx->mode != libxl_sigchld_owner_mainloop)
        cb = ctx->hooks.reaped_callback;
    if (cb) {
        CTX_UNLOCK(ctx);
        r = cb(pid, status, user);
        CTX_LOCK(ctx);
    }
    if (r == ERROR_UNKNOWN_CHILD || r == ERROR_NOT_READY)
        LOG(ctx, WARN, "reaped unknown child %d (wait status %#x)", (int)pid,
            status);
    else if (r)
        /* As in libxl: any other error from the hook is a disaster. */
        libxl__disaster_locked(ctx, 0, "reaped_callback failed", -1);
}

/* One queued status or failed start of ctx, done (a callback at most);
 * false if there was none.  Then the capture pipes (S5): callbacks that
 * start the next child, which exits while they work, keep the queue full,
 * and a pipe served only once it is empty would hold its run up, and the
 * child blocked on it, for as long as such a chain goes on. */
static bool process_one_locked(libxl_ctx *ctx)
{
    libxl__child *ch = STAILQ_FIRST(&ctx->reaped);
    libxl__ao *ao;

    libxl__lead_heartbeat(); /* between callbacks, if it leads */
    if (ch) {
        STAILQ_REMOVE_HEAD(&ctx->reaped, q_entry);
        if (ch->cls == LIBXL__CLASS_UNKNOWN)
            unknown_done_locked(ctx, ch);
        else
            ch->done(ctx, ch);
    } else if ((ao = TAILQ_FIRST(&ctx->failed))) {
        /* back on ctx->aos, which complete_locked takes it off */
        TAILQ_REMOVE(&ctx->failed, ao, entry);
        TAILQ_INSERT_HEAD(&ctx->aos, ao, entry);
        libxl__ao_complete_locked(ctx, ao, ao->rc);
    } else {
        return false;
    }
    if (!LIST_EMPTY(&ctx->captures))
        libxl__captures_drain_locked(ctx);
    return true;
}

/* The statuses, failed starts and due timeouts queued on ctx, until none
 * is left (each may queue more: callbacks start runs). */
static void process_queues_locked(libxl_ctx *ctx, bool timeouts)
{
    while (process_one_locked(ctx) ||
           (timeouts && libxl__timeouts_run_locked(ctx)))
        ;
}

void libxl__ctx_process_locked(libxl_ctx *ctx, bool timeouts)
{
    do {
        process_queues_locked(ctx, timeouts);
        /* S5: the runs' pipes are the ctx's fds, served in its calls. */
        if (!LIST_EMPTY(&ctx->captures))
            libxl__captures_drain_locked(ctx);
        /* The drain's completions run callbacks, which may have queued
         * more (a run they started that failed, or was reaped before its
         * start was over: src/childproc.c). */
    } while (!STAILQ_EMPTY(&ctx->reaped) || !TAILQ_EMPTY(&ctx->failed));
    libxl__ctx_settle_locked(ctx);
}

/*
 * What an asynchronous start made outside a callback does before it
 * returns (src/childproc.c): the pending completions run.  If the call
 * took the reaper's role before it started its child (owner non-NULL,
 * threads/leader.c), it collects for itself meanwhile: the SIGCHLDs that
 * came while it spawned (posix_spawn waits for the child's exec) woke
 * nobody, and a chain of callbacks that start the next child keeps this
 * call here until the last one.  It looks between callbacks: a status
 * waits for one callback at most, and the reaper's sweep sees a leader
 * that keeps looking (threads/reaper.c).  It gives the role back only
 * when nothing more is ready or queued; a SIGCHLD after that look wakes
 * the reaper as the role goes back.  Without it, a callback-driven
 * program had every status of that chain carried to it by the reaper: a
 * hop between threads per child (bench/README.md, W1 at C=256).
 */
static void lead_end_cleanup(void *owner)
{
    libxl__lead_end(owner);
}

LIBXL__CANCEL_FRAME
void libxl__ctx_process_leading_locked(libxl_ctx *ctx, const void *owner)
{
    const void *prev;

    if (!owner) {
        libxl__ctx_process_locked(ctx, false);
        return;
    }
    /* A callback cancelled in a nested call (E5) leaves this call without
     * returning: the role goes back then too. */
    prev = libxl__lead_working(owner);
    pthread_cleanup_push(lead_end_cleanup, (void *)owner);
    for (;;) {
        if (libxl__lead_ready(owner)) {
            ctx->collecting++; /* what it collects for ctx needs no wakeup */
            CTX_UNLOCK(ctx);
            libxl__reaper_collect();
            CTX_LOCK(ctx);
            ctx->collecting--;
        } else if (!process_one_locked(ctx)) {
            /* Nothing ready, nothing queued: the rest (the capture pipes,
             * what their callbacks queue) as any call does it. */
            libxl__ctx_process_locked(ctx, false);
            if (!libxl__lead_ready(owner))
                break;
        }
    }
    pthread_cleanup_pop(0);
    libxl__lead_working(prev);
    libxl__lead_end(owner);
}

/*
 * E5.  A thread may be cancelled only where it sleeps (library code runs
 * with cancellation disabled: src/enter.c), and then every call it is
 * inside is undone, innermost first: its waiter leaves (a wakeup it had
 * taken goes to another waiter), a synchronous operation it waited for is
 * abandoned as if its ctx were freed (its child is reaped, its status
 * discarded), and the call is left, so that no lock stays held and
 * libxl_ctx_free does not wait for it.
 */
static void ao_abandon_locked(libxl_ctx *ctx, libxl__ao *ao)
{
    if (!ao->complete) {
        if (ao->child)
            ao->child->ao = NULL;
        TAILQ_REMOVE(&ctx->aos, ao, entry);
        libxl__timeout_cancel_locked(ctx, &ao->timer);
        libxl__capture_free_locked(ctx, ao->cap); /* its pipes (S5) */
    }
    free(ao);
}

static void frame_undo(libxl_ctx *ctx, libxl__waiter *w, libxl__ao *ao,
                       bool locked)
{
    if (w && w->following) { /* cancelled while it followed */
        libxl__lead_unfollow();
        w->following = false;
    }
    if (w && w->leads) { /* cancelled while it may lead */
        w->lead_fd = -1;
        libxl__lead_end(w);
    }
    if (!locked)
        CTX_LOCK(ctx);
    if (w && libxl__waiter_cancelled_locked(
                 ctx, w, libxl__timeouts_earliest_locked(ctx) != NULL)) {
        libxl__ctx_kick_locked(ctx);
        libxl__event_wake_takers_locked(ctx);
    }
    if (ao)
        ao_abandon_locked(ctx, ao);
    CTX_UNLOCK(ctx);
    if (w)
        libxl__waiter_destroy(w);
}

static void cancelled(void *arg)
{
    (void)arg;
    libxl__frames_unwind(frame_undo);
}

/*
 * Sleeps as libxl__waiter_sleep_locked, the one place where a thread in a
 * libxl call may be cancelled.  If nobody else polls for the ctx, it
 * sleeps with the reaper's role (E2, threads/leader.c): on waking it
 * collects as the reaper would, for every ctx.  For its own ctx that saves
 * the reaper's wakeup and the hop between threads; the statuses it
 * collects need no wakeup (ctx->collecting).
 */
static void sleep_locked(libxl_ctx *ctx, libxl__waiter *w)
{
    bool cancellable;

    /* The role is taken (and given back) while cancellation is still
     * disabled: that takes G.lock, and may log. */
    if (ctx->mode == libxl_sigchld_owner_mainloop) {
        /* its statuses come from the application */
    } else if (!ctx->poller) {
        w->lead_fd = libxl__lead_begin(w, false, &w->following);
        w->leads |= w->lead_fd >= 0;
    } else {
        if (w->leads) {
            /* It cannot poll here, so it must not keep the role asleep. */
            libxl__lead_end(w);
            w->leads = false;
        }
        libxl__lead_follow();
        w->following = true;
    }
    cancellable = libxl__cancel_sleep_begin();
    pthread_cleanup_push(cancelled, NULL);
    libxl__waiter_sleep_locked(ctx, w, libxl__capture_pollfds_locked,
                               libxl__timeouts_earliest_locked(ctx));
    pthread_cleanup_pop(0);
    libxl__cancel_sleep_end(cancellable);
    if (w->following) {
        libxl__lead_unfollow();
        w->following = false;
    }
    if (w->lead_fd < 0)
        return;
    w->lead_fd = -1;
    ctx->collecting += w->lead_ready;
    CTX_UNLOCK(ctx);
    libxl__lead_woke(w, w->lead_ready);
    CTX_LOCK(ctx);
    ctx->collecting -= w->lead_ready;
}

int libxl__ao_wait_locked(libxl_ctx *ctx, libxl__ao *ao)
{
    libxl__waiter w;
    const void *prev;
    int rc;

    libxl__waiter_init(&w);
    w.sync_ao = ao;
    ao->waiter = &w;
    libxl__frame_waits(&w, ao);
    prev = libxl__lead_working(&w);
    /* The role, if the synchronous run took it before it started the
     * child (src/childproc.c), passes to this waiter. */
    if (ctx->mode != libxl_sigchld_owner_mainloop)
        w.leads = libxl__lead_take_busy(&w, ao);
    for (;;) {
        libxl__ctx_process_locked(ctx, true);
        if (ao->complete) {
            rc = ao->rc;
            break;
        }
        if (ctx->freeing) {
            /* Nobody will take this completion: the ao goes now.  Another
             * thread still inside a call may yet process its child's
             * status; detached, the child is then freed like any other
             * without an ao or death callback, and its status is not
             * written to *result_out, the caller's. */
            LOG(ctx, ERROR, "ctx freed during a synchronous operation");
            if (ao->child)
                ao->child->ao = NULL;
            TAILQ_REMOVE(&ctx->aos, ao, entry);
            libxl__timeout_cancel_locked(ctx, &ao->timer);
            libxl__capture_free_locked(ctx, ao->cap);
            rc = ERROR_FAIL;
            break;
        }
        sleep_locked(ctx, &w);
    }
    libxl__frame_waits(NULL, NULL);
    libxl__lead_working(prev);
    if (w.leads)
        libxl__lead_end(&w);
    libxl__waiter_leave_locked(ctx, &w,
                               libxl__timeouts_earliest_locked(ctx) != NULL);
    free(ao);
    libxl__waiter_destroy(&w);
    return rc;
}

static int event_check_entered(libxl_ctx *ctx, libxl_event **event_r,
                               uint64_t typemask, libxl_event_predicate *pred,
                               void *user)
{
    libxl_event *ev;

    CHECK_ARG(ctx, event_r);
    CTX_LOCK(ctx);
    libxl__ctx_process_locked(ctx, false);
    ev = libxl__event_take_locked(ctx, typemask, pred, user);
    libxl__ctx_settle_locked(ctx);
    CTX_UNLOCK(ctx);
    *event_r = ev;
    return ev ? 0 : ERROR_NOT_READY;
}

static int event_wait_entered(libxl_ctx *ctx, libxl_event **event_r,
                              uint64_t typemask, libxl_event_predicate *pred,
                              void *user)
{
    libxl__waiter w;
    libxl_event *ev = NULL;
    const void *prev;
    int rc = 0;

    CHECK_ARG(ctx, event_r);
    libxl__waiter_init(&w);
    w.typemask = typemask;
    w.pred = pred;
    w.pred_user = user;
    libxl__frame_waits(&w, NULL);
    prev = libxl__lead_working(&w);
    CTX_LOCK(ctx);
    if (ctx->mode != libxl_sigchld_owner_mainloop)
        w.leads = libxl__lead_take_busy(&w, NULL);
    for (;;) {
        libxl__ctx_process_locked(ctx, true);
        ev = libxl__event_take_locked(ctx, typemask, pred, user);
        if (ev)
            break;
        if (ctx->freeing) {
            LOG(ctx, ERROR, "ctx freed while waiting for an event");
            rc = ERROR_INVAL;
            break;
        }
        sleep_locked(ctx, &w);
    }
    libxl__frame_waits(NULL, NULL);
    libxl__lead_working(prev);
    if (w.leads)
        libxl__lead_end(&w);
    libxl__waiter_leave_locked(ctx, &w,
                               libxl__timeouts_earliest_locked(ctx) != NULL);
    libxl__ctx_settle_locked(ctx);
    CTX_UNLOCK(ctx);
    libxl__waiter_destroy(&w);
    *event_r = ev;
    return rc;
}

LIBXL_EXPORT int libxl_event_check(libxl_ctx *ctx, libxl_event **event_r,
                                   uint64_t typemask,
                                   libxl_event_predicate *pred, void *user)
{
    int rc = libxl__ctx_enter(ctx, __func__);

    if (rc)
        return rc;
    rc = event_check_entered(ctx, event_r, typemask, pred, user);
    libxl__ctx_leave(ctx);
    return rc;
}

LIBXL_EXPORT int libxl_event_wait(libxl_ctx *ctx, libxl_event **event_r,
                                  uint64_t typemask,
                                  libxl_event_predicate *pred, void *user)
{
    int rc = libxl__ctx_enter(ctx, __func__);

    if (rc)
        return rc;
    rc = event_wait_entered(ctx, event_r, typemask, pred, user);
    libxl__ctx_leave(ctx);
    return rc;
}
