/*
 * childproc.c - libxl_childproc_run: starting a child, its timeout and
 * kills, and what happens when a child's status arrives (a run's, or a
 * fork child's: src/fork.c).
 *
 * A run is an ao that owns its child record from spawn to completion.  The
 * timer first fires for the timeout (SIGTERM, to the group if asked), then,
 * re-armed with the grace, for SIGKILL.  All of that happens under
 * ctx->lock; the kill itself is made safe against pid reuse by
 * libxl__child_kill (threads/children.c).
 */
#include "internal.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_KILL_GRACE_MS 2000

static void run_kill_locked(libxl_ctx *ctx, libxl__ao *ao);

static void run_timer_fire(libxl_ctx *ctx, libxl__timeout *t)
{
    libxl__ao *ao = (libxl__ao *)((char *)t - offsetof(libxl__ao, timer));

    if (!ao->term_sent) {
        ao->timed_out = true;
        LOG(ctx, DEBUG, "child %d timed out", (int)ao->pid);
        run_kill_locked(ctx, ao);
    } else if (!ao->kill_sent && ao->child) {
        ao->kill_sent = true;
        LOG(ctx, DEBUG, "child %d still running after its grace: SIGKILL",
            (int)ao->pid);
        libxl__child_kill(ao->child, SIGKILL);
        libxl__group_held_collect_locked(ctx, ao->child);
    }
}

static void run_kill_locked(libxl_ctx *ctx, libxl__ao *ao)
{
    if (!ao->child || ao->term_sent)
        return; /* not started yet (done once it is), or already killing */
    ao->term_sent = true;
    /* S9: a stopped process (or member) would sit on its SIGTERM until
     * the grace's SIGKILL: it is woken to act on it.  SIGCONT goes first:
     * a group whose leader dies of the SIGTERM while a member is still
     * stopped is orphaned with a stopped member, which the kernel then
     * sends SIGHUP, killing it before its SIGTERM handler could run. */
    libxl__child_kill(ao->child, SIGCONT);
    libxl__child_kill(ao->child, SIGTERM);
    if (libxl__timeout_set_locked(ctx, &ao->timer, ao->kill_grace_ms)) {
        LOG(ctx, WARN, "cannot set the kill grace timer: SIGKILL now");
        ao->kill_sent = true;
        libxl__child_kill(ao->child, SIGKILL);
    }
}

/* The §9 part of a 0.2 caller's result (S5: out and err are always
 * written, NULL when not captured). */
static void result_outputs_locked(libxl__ao *ao)
{
    libxl_childproc_result *r = ao->result_out;

    if (ao->result_size < sizeof *r)
        return; /* a 0.1 caller's struct ends before them (S0) */
    r->out = r->err = NULL;
    r->out_len = r->err_len = 0;
    r->out_truncated = r->err_truncated = 0;
    if (ao->cap)
        libxl__capture_result_locked(ao->cap, r);
}

/* The record of a child whose completion's callback made a call that the
 * thread's cancellation undid (E5: a callback may enable it): the thread
 * leaves by cancellation unwinding and never comes back to free it. */
static void child_free_cleanup(void *ch)
{
    libxl__child_free(ch);
}

/* The record goes after the completion: freeing it closes the child's
 * pidfd, which costs more than the rest of the status's way from the
 * kernel to a callback (bench/README.md, W2). */
LIBXL__CANCEL_FRAME
static void complete_then_free_locked(libxl_ctx *ctx, libxl__ao *ao, int rc,
                                      libxl__child *ch)
{
    pthread_cleanup_push(child_free_cleanup, ch);
    libxl__ao_complete_locked(ctx, ao, rc);
    pthread_cleanup_pop(1);
}

/* As complete_then_free_locked, for a fork child's death callback. */
LIBXL__CANCEL_FRAME
static void death_then_free_locked(libxl_ctx *ctx, libxl__child *ch)
{
    libxl_childproc_death_cb *death = ch->death;
    void *user = ch->death_user;
    pid_t pid = ch->pid;
    int status = ch->status;

    pthread_cleanup_push(child_free_cleanup, ch);
    if (death) {
        CTX_UNLOCK(ctx);
        death(ctx, pid, status, user);
        CTX_LOCK(ctx);
    }
    pthread_cleanup_pop(1);
}

void libxl__run_done_locked(libxl_ctx *ctx, libxl__ao *ao, libxl__child *ch)
{
    int rc = 0;

    /* R1: the result is in place before the completion is delivered.
     * It goes straight to the caller's struct (the ao keeps no copy:
     * memory per child in flight, W5). */
    if (ao->result_out) {
        ao->result_out->pid = ch->pid;
        ao->result_out->status = ch->status;
        ao->result_out->exec_errno = ao->exec_errno;
        if (ch->has_rusage)
            ao->result_out->rusage = ch->rusage[0];
        result_outputs_locked(ao);
    }
    libxl__capture_free_locked(ctx, ao->cap);
    ao->cap = NULL;
    if (ao->exec_errno || ch->lost)
        rc = ERROR_FAIL;
    else if (ao->abort_requested)
        rc = ERROR_ABORTED;
    else if (ao->timed_out)
        rc = ERROR_TIMEDOUT;
    complete_then_free_locked(ctx, ao, rc, ch);
}

void libxl__child_done_locked(libxl_ctx *ctx, libxl__child *ch)
{
    libxl__ao *ao = ch->ao;

    if (ao && ao->starting) {
        /* Reaped before run_start has finished with the ao: it completes
         * it when it has (another thread must not free it under it). */
        ao->done_early = ch;
        return;
    }
    if (ao) {
        ao->child = NULL;
        /* S5: not before its captured pipes are at EOF (or lingered). */
        if (ao->cap && !libxl__capture_reaped_locked(ctx, ao->cap, ch))
            return;
        libxl__run_done_locked(ctx, ao, ch);
        return;
    }
    death_then_free_locked(ctx, ch);
}

void libxl__start_begin_locked(libxl_ctx *ctx, libxl__start *st)
{
    st->mode = ctx->mode;
    st->fork_replacement = ctx->have_hooks ? ctx->hooks.fork_replacement : NULL;
    st->hooks_user = ctx->hooks_user;
    ctx->nstarting++;
}

void libxl__start_end(libxl_ctx *ctx)
{
    CTX_LOCK(ctx);
    if (--ctx->nstarting == 0)
        pthread_cond_broadcast(&ctx->started);
    CTX_UNLOCK(ctx);
}

void libxl__starts_wait(libxl_ctx *ctx)
{
    CTX_LOCK(ctx);
    while (ctx->nstarting > 0)
        pthread_cond_wait(&ctx->started, &ctx->lock);
    CTX_UNLOCK(ctx);
}

/* Registers the child just created as ch (spawn_lock held for reading).
 * One that cannot be tracked is killed and reaped here rather than left a
 * zombie: still under spawn_lock, so no waitpid(-1) pass can have reaped
 * it and the pid is still its own. */
int libxl__child_track(libxl_ctx *ctx, const libxl__start *st, libxl__child *ch,
                       pid_t pid)
{
    int rc;

    ch->pid = pid;
    rc = libxl__child_register(ctx, st->mode, ch);
    if (rc) {
        LOG(ctx, ERROR, "cannot track child %d: killing it", (int)pid);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    return rc;
}

/* Starts the child of ao; on return ao has a child, or has completed. */
static void run_start(libxl_ctx *ctx, const libxl__start *st, libxl__ao *ao,
                      const libxl_childproc_args *args)
{
    libxl__child *ch = libxl__child_new(true);
    libxl__spawn_io io = {.stdin_pipe = args->stdin_data != NULL,
                          .capture = args->capture};
    int exec_errno = 0;
    pid_t pid = 0;

    if (!ch) {
        exec_errno = ENOMEM;
        LOGEV(ctx, ERROR, ENOMEM, "cannot allocate a child record");
        goto done;
    }
    ch->ao = ao;
    ch->done = libxl__child_done_locked;
    ch->group = args->new_process_group || args->new_session; /* S7 */

    libxl__spawn_lock();
    ch->spawn_seq = __atomic_load_n(&G.pass_seq, __ATOMIC_ACQUIRE);
    libxl__spawn(ctx, st, args, &io, &pid, &exec_errno);
    if (pid > 0 && libxl__child_track(ctx, st, ch, pid)) {
        exec_errno = ENOMEM;
        pid = 0;
    }
    libxl__spawn_unlock();
done:
    CTX_LOCK(ctx);
    ao->pid = pid;
    ao->exec_errno = exec_errno;
    ao->starting = false;
    if (pid > 0 && ao->cap)
        libxl__capture_start_locked(ctx, ao->cap, pid, io.parent_fd);
    /* S1: the pid is the caller's from the moment the call returns. */
    if (pid > 0 && ao->result_out)
        ao->result_out->pid = pid;
    if (pid > 0 && ao->done_early) {
        /* Reaped and taken by another thread before this start was over.
         * Completed after the start has ended (by this call's processing,
         * the outer call's when nested, or a waiter's), not from in here:
         * its callback may be cancelled in a call of its own (E5) and
         * never come back to end the start, which would leave the ctx
         * starting for ever (setmode refused, owner_mainloop's calls
         * waiting). */
        ch = ao->done_early;
        ao->done_early = NULL;
        LOG(ctx, DEBUG, "child %d: reaped before its start was over", (int)pid);
        STAILQ_INSERT_HEAD(&ctx->reaped, ch, q_entry);
        libxl__ctx_kick_locked(ctx);
    } else if (pid > 0) {
        ao->child = ch;
        /* Aborted, or timed out, while it was being spawned. */
        if (ao->abort_requested || ao->timed_out)
            run_kill_locked(ctx, ao);
    } else {
        libxl__child_free(ch);
        if (ao->result_out) {
            memset(ao->result_out, 0, ao->result_size);
            ao->result_out->exec_errno = exec_errno;
            result_outputs_locked(ao); /* S5: "" for a captured stream */
        }
        libxl__capture_free_locked(ctx, ao->cap);
        ao->cap = NULL;
        libxl__ao_fail_later_locked(ctx, ao, ERROR_FAIL);
    }
    CTX_UNLOCK(ctx);
}

static int run_entered(libxl_ctx *ctx, const libxl_childproc_args *args,
                       libxl_childproc_result *result_out, size_t result_size,
                       const libxl_asyncop_how *ao_how)
{
    libxl__ao *ao;
    libxl__start st;
    const void *lead = NULL; /* the role's owner, if this call took it */
    bool sync = ao_how == NULL, nested;
    int rc;

    if (!libxl__run_args_ok(ctx, args))
        return ERROR_INVAL;

    ao = libxl__ao_new(ctx, ao_how);
    if (!ao) {
        LOGEV(ctx, ERROR, ENOMEM, "cannot allocate the operation");
        return ERROR_NOMEM;
    }
    ao->result_out = result_out;
    ao->abort = run_kill_locked;
    ao->result_size = result_size;
    ao->starting = true;
    ao->kill_grace_ms =
        args->kill_grace_ms > 0 ? args->kill_grace_ms : DEFAULT_KILL_GRACE_MS;
    libxl__timeout_init(&ao->timer, run_timer_fire);

    CTX_LOCK(ctx);
    if ((rc = libxl__osevent_ready_locked(ctx)) ||
        ((args->capture || args->stdin_data) &&
         (rc = libxl__capture_new_locked(ctx, ao, args,
                                         libxl__run_done_locked))) ||
        (args->timeout_ms > 0 &&
         (rc = libxl__timeout_set_locked(ctx, &ao->timer, args->timeout_ms)))) {
        libxl__capture_free_locked(ctx, ao->cap);
        CTX_UNLOCK(ctx);
        libxl__ao_free(ao);
        return rc;
    }
    libxl__start_begin_locked(ctx, &st);
    CTX_UNLOCK(ctx);
    if (st.mode != libxl_sigchld_owner_mainloop &&
        (rc = libxl__reaper_ensure(ctx))) {
        CTX_LOCK(ctx);
        libxl__timeout_cancel_locked(ctx, &ao->timer);
        libxl__capture_free_locked(ctx, ao->cap);
        CTX_UNLOCK(ctx);
        libxl__start_end(ctx);
        libxl__ao_free(ao);
        return rc;
    }
    CTX_LOCK(ctx);
    TAILQ_INSERT_TAIL(&ctx->aos, ao, entry);
    CTX_UNLOCK(ctx);

    /* A synchronous run takes the reaper's role before its child can exit
     * (E2, threads/leader.c): the wait below collects its status, not the
     * reaper.  So does an asynchronous one outside a callback, which runs
     * the pending completions before it returns (src/loop.c); in a
     * callback, the outer call has the role if it could take it. */
    nested = !sync && libxl__ctx_nested(ctx);
    if (st.mode == libxl_sigchld_owner_mainloop || nested)
        ; /* nobody reaps, or the outer call leads if it can */
    else if (sync)
        libxl__lead_take_busy(ao, NULL);
    else if (libxl__lead_take_busy(&st, NULL))
        lead = &st; /* the start's record lives as long as the call */
    /* Spawning can take a while (a big parent with a fork_replacement):
     * other threads keep using the ctx meanwhile.  An asynchronous ao may
     * be complete and freed when this returns. */
    run_start(ctx, &st, ao, args);
    libxl__start_end(ctx);

    CTX_LOCK(ctx);
    if (sync) {
        rc = libxl__ao_wait_locked(ctx, ao);
    } else {
        /* Pending completions are run here, unless this call was made from
         * a callback on this ctx: then the outermost call runs them, and a
         * chain of callbacks starting runs stays flat instead of nesting
         * one stack frame deeper per child. */
        if (!nested)
            libxl__ctx_process_leading_locked(ctx, lead);
        rc = 0;
    }
    CTX_UNLOCK(ctx);
    return rc;
}

static int run_api(libxl_ctx *ctx, const libxl_childproc_args *args,
                   libxl_childproc_result *result_out, size_t result_size,
                   const libxl_asyncop_how *ao_how)
{
    int rc = libxl__ctx_enter(ctx, "libxl_childproc_run");

    if (rc)
        return rc;
    rc = run_entered(ctx, args, result_out, result_size, ao_how);
    libxl__ctx_leave(ctx);
    return rc;
}

/*
 * S0: two entries for one function, told apart by symbol version (see
 * src/libxlchild.map).  Programs built against 0.2 bind to the default
 * libxl_childproc_run@@XLCHILD_0.2; those built against 0.1 (unversioned
 * references, which bind to the first node) to @XLCHILD_0.1, whose structs
 * end where 0.1's did: it copies their args into a zeroed 0.2 struct (a
 * zeroed 0.2 struct behaves as 0.1) and has only the 0.1 part of their
 * result written.
 */
LIBXL_EXPORT __attribute__((symver("libxl_childproc_run@@XLCHILD_0.2"))) int
libxl__childproc_run_v02(libxl_ctx *ctx, const libxl_childproc_args *args,
                         libxl_childproc_result *result_out,
                         const libxl_asyncop_how *ao_how);
LIBXL_EXPORT int libxl__childproc_run_v02(libxl_ctx *ctx,
                                          const libxl_childproc_args *args,
                                          libxl_childproc_result *result_out,
                                          const libxl_asyncop_how *ao_how)
{
    return run_api(ctx, args, result_out, sizeof *result_out, ao_how);
}

LIBXL_EXPORT __attribute__((symver("libxl_childproc_run@XLCHILD_0.1"))) int
libxl__childproc_run_v01(libxl_ctx *ctx, const libxl_childproc_args *args01,
                         libxl_childproc_result *result01,
                         const libxl_asyncop_how *ao_how);
LIBXL_EXPORT int libxl__childproc_run_v01(libxl_ctx *ctx,
                                          const libxl_childproc_args *args01,
                                          libxl_childproc_result *result01,
                                          const libxl_asyncop_how *ao_how)
{
    libxl_childproc_args args;

    if (!args01)
        return run_api(ctx, NULL, result01, LIBXL__RESULT_V01_SIZE, ao_how);
    memset(&args, 0, sizeof args);
    memcpy(&args, args01, LIBXL__ARGS_V01_SIZE);
    return run_api(ctx, &args, result01, LIBXL__RESULT_V01_SIZE, ao_how);
}

LIBXL_EXPORT void libxl_childproc_result_dispose(libxl_childproc_result *r)
{
    if (!r)
        return;
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
    r->out_len = r->err_len = 0;
    r->out_truncated = r->err_truncated = 0;
}
