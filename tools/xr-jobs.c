/*
 * xr-jobs.c - one job's life: started in a slot, completed by the library,
 * finished once its output is taken, then counted, reported and freed;
 * the --keep-order queue and --halt.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xlchild-run.h"

/* ------------------------------------------------------------------ */
/* Jobs                                                                */

void job_free(struct job *j)
{
    stream_free(&j->out);
    stream_free(&j->err);
    free(j->cmd);
    free(j->argv);
    free(j->argv_store);
    free(j);
}

/* The completion, from inside libxl_osevent_afterpoll (or another libxl
 * call): record it, nothing more. */
static void job_completed(libxl_ctx *ctx, int rc, void *for_callback)
{
    struct job *j = for_callback;

    (void)ctx;
    now_mono(&j->t_end);
    if (j->res.pid > 0)
        stash_take(j->res.pid, &j->res.rusage);
    j->rc = rc;
    j->completed = true;
    j->linger_until = j->t_end;
    ts_add_ms(&j->linger_until, LINGER_MS);
}

/* --no-shell: the line's words, split at blanks, as argv. */
static int job_split(struct job *j)
{
    return split_words(j->cmd, &j->argv, &j->argv_store);
}

static int open_result_file(struct runner *r, const struct job *j,
                            const char *ext)
{
    char path[4096];

    if (snprintf(path, sizeof path, "%s/%lu.%s", r->o.results, j->seq, ext) >=
        (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
}

/*
 * Where the child's stdout and stderr go: pipes to us, or its files
 * under --results (then we never see its output at all).  w[] are the
 * child's ends, rd[] ours.
 */
static int open_outputs(struct runner *r, const struct job *j, int w[2],
                        int rd[2])
{
    int p[2];
    int i;

    for (i = 0; i < 2; i++) {
        if (r->o.results) {
            w[i] = open_result_file(r, j, i == 0 ? "out" : "err");
            if (w[i] < 0)
                return -1;
            continue;
        }
        if (pipe2(p, O_CLOEXEC))
            return -1;
        rd[i] = p[0];
        w[i] = p[1];
    }
    return 0;
}

static void close_fds(int fd[2])
{
    int i;

    for (i = 0; i < 2; i++)
        if (fd[i] >= 0)
            close(fd[i]);
}

/* A job that could not even be handed to the library: it completes here. */
static void job_not_started(struct job *j, int rc, int err)
{
    j->rc = rc;
    j->res.exec_errno = err;
    j->completed = true;
    j->t_end = j->t_start;
    j->linger_until = j->t_end;
}

void job_start(struct runner *r, struct job *j)
{
    char *sh_argv[] = {"sh", "-c", j->cmd, NULL};
    libxl_childproc_args a;
    int w[2] = {-1, -1}, rd[2] = {-1, -1};
    bool held;
    int rc;

    j->slot = r->nrunning;
    r->running[r->nrunning++] = j;
    r->c.started++;
    if (r->o.keep_order) {
        if (r->ord_tail)
            r->ord_tail->next = j;
        else
            r->ord_head = j;
        r->ord_tail = j;
    }
    held = r->o.keep_order && r->ord_head != j;
    j->how.callback = job_completed;
    j->how.u.for_callback = j;
    now_mono(&j->t_start);

    errno = 0;
    if ((r->o.no_shell && job_split(j)) || open_outputs(r, j, w, rd)) {
        int e = errno ? errno : ENOMEM;

        close_fds(w);
        close_fds(rd);
        job_not_started(j, ERROR_FAIL, e);
        return;
    }
    stream_init(&j->out, rd[0], &r->out, r->o.tag ? j->tag : NULL, j->taglen,
                held);
    stream_init(&j->err, rd[1], &r->err, r->o.tag ? j->tag : NULL, j->taglen,
                held);

    memset(&a, 0, sizeof a);
    a.path = r->o.no_shell ? j->argv[0] : "/bin/sh";
    a.argv = r->o.no_shell ? j->argv : sh_argv;
    a.stdin_fd = r->devnull;
    a.stdout_fd = w[0];
    a.stderr_fd = w[1];
    a.timeout_ms = r->o.timeout_ms;
    a.kill_grace_ms = r->o.kill_grace_ms;
    a.new_process_group = 1;
    rc = libxl_childproc_run(r->ctx, &a, &j->res, &j->how);
    close_fds(w); /* the child has its own copies now */
    if (rc) {
        stream_close(&j->out);
        stream_close(&j->err);
        job_not_started(j, ERROR_FAIL, 0);
        j->start_err = rc;
    }
}

static void running_remove(struct runner *r, struct job *j)
{
    struct job *last = r->running[--r->nrunning];

    r->running[j->slot] = last;
    last->slot = j->slot;
}

static void report(struct runner *r, const struct job *j)
{
    if (!r->res)
        return;
    if (r->o.json)
        report_json(r->res, j);
    else
        report_text(r->res, j);
}

static void abort_all(struct runner *r)
{
    size_t i;

    for (i = 0; i < r->nrunning; i++) {
        struct job *j = r->running[i];

        /* ERROR_NOTFOUND: it completed meanwhile; ERROR_ABORTED: asked
         * already.  Either way it is on its way out. */
        if (!j->completed)
            libxl_ao_abort(r->ctx, &j->how);
    }
}

void stop(struct runner *r, bool kill_running)
{
    r->stopping = true;
    if (kill_running)
        abort_all(r);
}

static void halt_on_failure(struct runner *r, const struct job *j)
{
    if (r->o.halt == HALT_NEVER || r->stopping)
        return;
    if (r->o.halt == HALT_NOW && r->nrunning)
        xr_msg("job %lu failed: killing the %zu running (--halt now)", j->seq,
               r->nrunning);
    else
        xr_msg("job %lu failed: starting no more (--halt %s)", j->seq,
               r->o.halt == HALT_NOW ? "now" : "soon");
    stop(r, r->o.halt == HALT_NOW);
}

static void count(struct runner *r, const struct job *j)
{
    switch (job_outcome(j)) {
    case OUT_OK: r->c.ok++; break;
    case OUT_ABORTED: r->c.aborted++; break;
    case OUT_FAILED:
        r->c.failed++;
        if (j->rc == ERROR_TIMEDOUT)
            r->c.timed_out++;
        break;
    }
}

/* --keep-order: report every finished job at the front of the queue; the
 * first one still running then streams its output from now on. */
static void order_advance(struct runner *r)
{
    struct job *j;

    while ((j = r->ord_head)) {
        stream_release(&j->out);
        stream_release(&j->err);
        if (!j->finished)
            break;
        report(r, j);
        r->ord_head = j->next;
        if (!r->ord_head)
            r->ord_tail = NULL;
        job_free(j);
    }
}

static void job_finish(struct runner *r, struct job *j)
{
    /* Normally both are at EOF already.  If the linger ran out instead,
     * take what the job itself wrote; what comes later is lost. */
    stream_drain(&j->out);
    stream_drain(&j->err);
    stream_close(&j->out);
    stream_close(&j->err);
    j->finished = true;
    running_remove(r, j);
    count(r, j);
    if (job_outcome(j) == OUT_FAILED)
        halt_on_failure(r, j);
    if (r->o.keep_order) {
        order_advance(r);
    } else {
        report(r, j);
        job_free(j);
    }
}

static bool streams_open(const struct job *j)
{
    return j->out.fd >= 0 || j->err.fd >= 0;
}

/* Finishes the jobs that are over, and says how many; *timeout is set to
 * the ms until the next linger deadline, or -1. */
size_t finish_ready(struct runner *r, int *timeout)
{
    struct timespec now;
    size_t i = 0, n = 0;

    *timeout = -1;
    now_mono(&now);
    while (i < r->nrunning) {
        struct job *j = r->running[i];

        if (j->completed && streams_open(j) &&
            ts_diff(&j->linger_until, &now) > 0) {
            *timeout = min_timeout(*timeout, ms_until(&j->linger_until, &now));
            i++;
        } else if (j->completed) {
            job_finish(r, j); /* moves another job into slot i */
            n++;
        } else {
            i++;
        }
    }
    return n;
}

