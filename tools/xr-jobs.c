/*
 * xr-jobs.c - one job's life: started in a slot, completed by the library,
 * finished once its output is taken, then counted, reported and freed;
 * the --keep-order queue and --halt.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xlchild-run.h"

/* ------------------------------------------------------------------ */
/* Jobs                                                                */

static void job_clear_command(struct job *j)
{
    free(j->cmd);
    free(j->argv);
    free(j->argv_store);
    free(j->tag);
    j->cmd = j->argv_store = j->tag = NULL;
    j->argv = NULL;
}

void job_free(struct job *j)
{
    stream_free(&j->out);
    stream_free(&j->err);
    job_clear_command(j);
    free(j->args);
    free(j->argstore);
    free(j);
}

/* The completion, from inside libxl_osevent_afterpoll (or another libxl
 * call): record it, nothing more. */
static void job_completed(libxl_ctx *ctx, int rc, void *for_callback)
{
    struct job *j = for_callback;

    (void)ctx;
    now_mono(&j->t_end);
    j->rc = rc;
    j->completed = true;
    j->linger_until = j->t_end;
    ts_add_ms(&j->linger_until, LINGER_MS);
}

/* The arguments, unquoted, separated by spaces. */
static int join_args(const struct job *j, struct strbuf *b)
{
    size_t k;
    int rc = 0;

    for (k = 0; k < j->nargs && !rc; k++) {
        if (k)
            rc = sb_add(b, " ", 1);
        rc |= sb_puts(b, j->args[k]);
    }
    return rc;
}

/* --no-shell with a COMMAND: each of its words expanded on its own, the
 * arguments appended as words of their own; nothing is ever split. */
static int build_argv(const struct runner *r, struct job *j)
{
    struct strbuf b = {0};
    size_t i, n = 0, k;
    bool has_repl = false;
    char *p;
    int rc = 0;

    for (i = 0; i < r->o.ncommand && !rc; i++) {
        rc = tmpl_expand(&r->word_t[i], j->args, j->nargs, j->seq, j->slot,
                         false, &b);
        rc |= sb_add(&b, "", 1);
        has_repl |= r->word_t[i].has_repl;
        n++;
    }
    for (k = 0; !has_repl && k < j->nargs && !rc; k++, n++)
        rc = sb_add(&b, j->args[k], strlen(j->args[k]) + 1);
    j->argv = calloc(n + 1, sizeof *j->argv);
    if (rc || !j->argv) {
        sb_free(&b);
        return -1;
    }
    for (k = 0, p = b.p; k < n; k++, p += strlen(p) + 1)
        j->argv[k] = p;
    j->argv_store = b.p;
    return 0;
}

/* The command line from the template and the arguments, each quoted;
 * --no-shell's argv; the tag.  -1: no memory, or nothing to run. */
static int build_command(struct runner *r, struct job *j)
{
    struct strbuf b = {0}, tag = {0};
    int rc;

    job_clear_command(j);
    if (r->lines_are_commands) {
        rc = join_args(j, &b);
    } else {
        rc = tmpl_expand(&r->cmd_t, j->args, j->nargs, j->seq, j->slot, true,
                         &b);
        if (!r->cmd_t.has_repl)
            rc |= args_append(j->args, j->nargs, true, &b);
    }
    rc |= sb_add(&b, "", 0);
    j->cmd = b.p;
    if (rc)
        return -1;
    if (r->o.no_shell &&
        (r->lines_are_commands ? split_words(j->cmd, &j->argv, &j->argv_store)
                               : build_argv(r, j)))
        return -1;
    if (r->o.no_shell && !j->argv[0]) {
        errno = EINVAL; /* nothing to run */
        return -1;
    }
    if (r->o.tagstring)
        rc = tmpl_expand(&r->tag_t, j->args, j->nargs, j->seq, j->slot, false,
                         &tag);
    else if (r->o.tag)
        rc = join_args(j, &tag);
    if (r->o.tagstring || r->o.tag) {
        rc |= sb_add(&tag, "\t", 1);
        j->tag = tag.p;
    }
    return rc;
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

/* --dry-run: the command, on standard output, instead of running it. */
static void job_dry_run(struct runner *r, struct job *j)
{
    sink_write(&r->out, j->cmd, strlen(j->cmd));
    sink_write(&r->out, "\n", 1);
    j->completed = true;
    j->t_end = j->t_start;
    j->linger_until = j->t_end;
}

void job_start(struct runner *r, struct job *j)
{
    char *sh_argv[] = {"sh", "-c", NULL, NULL};
    libxl_childproc_args a;
    int w[2] = {-1, -1}, rd[2] = {-1, -1};
    bool held;
    int rc;

    if (j->attempt) { /* --retries: a new attempt */
        memset(&j->res, 0, sizeof j->res);
        memset(&j->how, 0, sizeof j->how);
        j->rc = j->start_err = 0;
        j->completed = false;
        j->out.bytes = 0;
    }
    j->index = r->nrunning;
    r->running[r->nrunning++] = j;
    j->slot = r->free_slots[--r->nfree_slots];
    if (j->attempt++ == 0) {
        r->c.started++;
        if (r->o.keep_order) {
            if (r->ord_tail)
                r->ord_tail->ord_next = j;
            else
                r->ord_head = j;
            r->ord_tail = j;
        }
    }
    held = r->o.output == OUTPUT_GROUP || (r->o.keep_order && r->ord_head != j);
    j->how.callback = job_completed;
    j->how.u.for_callback = j;
    now_mono(&j->t_start);
    clock_gettime(CLOCK_REALTIME, &j->t_real);

    errno = 0;
    if (build_command(r, j)) {
        job_not_started(j, ERROR_FAIL, errno ? errno : ENOMEM);
        return;
    }
    if (r->o.dry_run) {
        job_dry_run(r, j);
        return;
    }
    if (open_outputs(r, j, w, rd)) {
        int e = errno ? errno : ENOMEM;

        close_fds(w);
        close_fds(rd);
        job_not_started(j, ERROR_FAIL, e);
        return;
    }
    stream_init(&j->out, rd[0], &r->out, j->tag, j->tag ? strlen(j->tag) : 0,
                held);
    stream_init(&j->err, rd[1], &r->err, j->tag, j->tag ? strlen(j->tag) : 0,
                held);
    j->out.raw = j->err.raw = r->o.output == OUTPUT_UNGROUP;
    if (r->o.verbose) {
        stream_put(&j->out, j->cmd, strlen(j->cmd));
        stream_put(&j->out, "\n", 1);
    }

    memset(&a, 0, sizeof a);
    sh_argv[2] = j->cmd;
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

    r->running[j->index] = last;
    last->index = j->index;
    r->free_slots[r->nfree_slots++] = j->slot;
}

static void report(struct runner *r, const struct job *j)
{
    if (!r->res || r->o.dry_run)
        return;
    if (r->o.json)
        report_json(r->res, j);
    else if (r->o.csv)
        report_csv(r->res, j);
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

/* The exit status GNU parallel gives for a job that halts the run. */
static unsigned long job_exit_value(const struct job *j)
{
    int st = j->res.status;

    if (j->start_err || j->rc == ERROR_FAIL)
        return 255;
    if (WIFEXITED(st))
        return (unsigned long)WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + (unsigned long)WTERMSIG(st);
    return 1;
}

/* --halt: has this job's outcome reached the limit? */
static void halt_check(struct runner *r, const struct job *j, enum outcome out)
{
    static const char *const what[] = {"fail", "success", "done"};
    const struct halt *h = &r->o.halt;
    unsigned long n;
    double base;

    if (h->when == HALT_NEVER || r->stopping || out == OUT_ABORTED)
        return;
    switch (h->what) {
    case HALT_FAIL:
        if (out != OUT_FAILED)
            return;
        n = r->c.failed;
        break;
    case HALT_SUCCESS:
        if (out != OUT_OK)
            return;
        n = r->c.ok;
        break;
    default: n = r->c.ok + r->c.failed; break;
    }
    if (h->percent) {
        base = r->c.total_known ? (double)r->c.total
                                : (double)(r->c.ok + r->c.failed);
        if ((double)n * 100 < h->n * base)
            return;
    } else if ((double)n < h->n) {
        return;
    }
    if (h->what == HALT_FAIL) {
        r->halted_by_failure = true;
        r->failed_exit = h->n == 1 && !h->percent ? job_exit_value(j) : n;
    } else {
        r->halted_ok = true;
        r->failed_exit = h->what == HALT_SUCCESS ? 0 : r->c.failed;
    }
    if (h->when == HALT_NOW && r->nrunning)
        xr_msg("job %lu: %s=%g%s reached: killing the %zu running "
               "(--halt now)",
               j->seq, what[h->what], h->n, h->percent ? "%" : "", r->nrunning);
    else
        xr_msg("job %lu: %s=%g%s reached: starting no more (--halt %s)", j->seq,
               what[h->what], h->n, h->percent ? "%" : "",
               h->when == HALT_NOW ? "now" : "soon");
    stop(r, h->when == HALT_NOW);
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
 * first one still running then streams its output from now on (with
 * --group: once it has finished). */
static void order_advance(struct runner *r)
{
    struct job *j;

    while ((j = r->ord_head)) {
        if (r->o.output == OUTPUT_GROUP && !j->finished)
            break;
        stream_release(&j->out);
        stream_release(&j->err);
        if (!j->finished)
            break;
        report(r, j);
        r->ord_head = j->ord_next;
        if (!r->ord_head)
            r->ord_tail = NULL;
        job_free(j);
    }
}

/* The job's last attempt decides: counted, logged, reported. */
static void job_done(struct runner *r, struct job *j, enum outcome out)
{
    j->finished = true;
    count(r, j);
    if (!r->o.dry_run)
        joblog_write(r, j);
    halt_check(r, j, out);
    if (r->o.keep_order) {
        order_advance(r);
    } else {
        stream_release(&j->out);
        stream_release(&j->err);
        report(r, j);
        job_free(j);
    }
}

/* --retries: a failed attempt's held-back output is forgotten, and the
 * job goes to the front of the queue, keeping its result until it starts
 * again (in case the run stops first: see drop_retries). */
static void job_retry(struct runner *r, struct job *j)
{
    unsigned long long bytes = j->out.bytes;

    stream_free(&j->out);
    stream_free(&j->err);
    stream_init(&j->out, -1, NULL, NULL, 0, false);
    stream_init(&j->err, -1, NULL, NULL, 0, false);
    j->out.bytes = bytes;
    /* the front of the queue of jobs to start (xr-queue.c) */
    j->next = r->pend_head;
    r->pend_head = j;
    if (!r->pend_tail)
        r->pend_tail = j;
    r->npend++;
}

static void job_finish(struct runner *r, struct job *j)
{
    enum outcome out;

    /* Normally both are at EOF already.  If the linger ran out instead,
     * take what the job itself wrote; what comes later is lost. */
    stream_drain(&j->out);
    stream_drain(&j->err);
    stream_close(&j->out);
    stream_close(&j->err);
    running_remove(r, j);
    out = job_outcome(j);
    if (out == OUT_FAILED && j->attempt < r->o.retries && !r->stopping) {
        job_retry(r, j);
        return;
    }
    job_done(r, j, out);
}

void drop_retries(struct runner *r)
{
    struct job **pp = &r->pend_head, *j;

    r->pend_tail = NULL;
    while ((j = *pp)) {
        if (!j->attempt) {
            r->pend_tail = j;
            pp = &j->next;
            continue;
        }
        *pp = j->next;
        r->npend--;
        j->next = NULL;
        job_done(r, j, job_outcome(j));
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
