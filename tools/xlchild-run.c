/*
 * xlchild-run - run the commands of a job list, several at once, with
 * per-command timeouts, whole-line output and a result per command.
 *
 * Built only on the public API of xlchild.  The shape of the program:
 *
 *  - One thread, one poll(2).  In the poll set: a self-pipe for SIGCHLD,
 *    SIGINT, SIGTERM and SIGHUP; the job list while more of it is wanted;
 *    both output pipes of every running job; and whatever
 *    libxl_osevent_beforepoll asks for (the ctx's wakeup fd, which the
 *    library's timeouts need).  Nothing ever blocks in libxl_event_wait
 *    while a pipe needs draining.
 *
 *  - The ctx is in libxl_sigchld_owner_mainloop mode: the tool reaps its
 *    children itself, from the poll loop, and hands each status to
 *    libxl_childproc_reaped, which delivers the job's completion.  Every
 *    child of the process is one of the library's, so this costs one
 *    wait4 per child and no thread: in the default mode each status would
 *    travel from the library's reaper thread to this one through the
 *    wakeup fd, two more context switches per job, which at -j 1 on
 *    /bin/true makes the difference between slower and faster than
 *    xargs -P.
 *
 *  - A job is started with libxl_childproc_run (asynchronous, callback
 *    completion) in a new process group, so its timeout, its kill grace and
 *    an abort (halt, signal) reach everything it started.  The library
 *    times the kills: SIGTERM to the group, SIGKILL after --kill-after
 *    (but see BUGS in xlchild-run(1): not once it has reaped the leader).
 *
 *  - A job is over when both its completion and EOF on its pipes have
 *    happened, in either order.  Processes it left in the background can
 *    hold its pipes open for ever, so after the completion EOF is waited
 *    for only LINGER_MS.
 *
 *  - Callbacks only record; everything else (reporting, starting the next
 *    job, halting) happens in the main loop.  The library may deliver a
 *    completion from inside libxl_childproc_run, and starting jobs from
 *    there would recurse.
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

#define LINGER_MS 250
/* Jobs read ahead of the ones running: enough to start the next ones at
 * once, few enough that an endless producer costs no memory. */
#define READ_AHEAD 256
/* File descriptors per running job (two pipes, the library's pidfd, and
 * its dups while spawning), and a reserve for everything else. */
#define FDS_PER_JOB 4
#define FDS_RESERVE 32

struct runner {
    struct options o;
    libxl_ctx *ctx;
    struct input in;
    bool input_done;   /* EOF, or a bad line: nothing more to read */
    bool input_error;  /* exit status 2 */
    bool stdin_closed; /* we found fd 0 closed at start-up */
    unsigned long next_seq;
    struct job *pend_head, *pend_tail; /* read, not started */
    size_t npend;
    struct job **running;
    size_t nrunning;
    struct job *ord_head, *ord_tail; /* --keep-order: not yet reported */
    int devnull;
    int sig_r;     /* self-pipe, read end */
    int signo;     /* the first fatal signal received */
    bool stopping; /* start nothing more */
    bool output_error;
    struct counts c;
    struct timespec t0;
    struct sink out, err, logf;
    struct sink *res; /* where results go; NULL with --quiet */
    struct pollfd *pfd;
    struct stream **pst; /* the stream polled in pfd[i], or NULL */
    size_t pcap;
};

static int sig_w = -1;
/* Set by the handler as it writes the signal's byte, cleared by the loop as
 * it reads it: a signal whose byte is on its way writes no other, so the
 * pipe never fills (a full pipe would drop a SIGTERM behind SIGCHLDs). */
static volatile sig_atomic_t sig_queued[NSIG];

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static void now_mono(struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
}

static void ts_add_ms(struct timespec *ts, long ms)
{
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Milliseconds from now until ts, rounded up, at least 0. */
static int ms_until(const struct timespec *ts, const struct timespec *now)
{
    double ms = ts_diff(ts, now) * 1000;

    if (ms <= 0)
        return 0;
    return ms > 1e9 ? 1000000000 : (int)ms + 1;
}

static int min_timeout(int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

static void __attribute__((noreturn)) out_of_memory(void)
{
    fputs(PROG ": out of memory\n", stderr);
    exit(2);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);

    if (!p)
        out_of_memory();
    return p;
}

/* ------------------------------------------------------------------ */
/* Signals: a self-pipe, so a signal wakes the poll and nothing else    */
/* happens in the handler.                                              */

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;

    if (sig_queued[sig])
        return;
    sig_queued[sig] = 1;
    if (write(sig_w, &b, 1) < 0) {
        /* Cannot fill: it holds a byte or so per kind of signal. */
    }
    errno = saved;
}

static int signals_init(struct runner *r)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    struct sigaction sa, old;
    int p[2];
    size_t i;

    if (pipe2(p, O_CLOEXEC | O_NONBLOCK))
        return -1;
    r->sig_r = p[0];
    sig_w = p[1];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigfillset(&sa.sa_mask);
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        /* A signal ignored by whoever started us (nohup, a shell's
         * background job) stays ignored, as make and the shells do.
         * SIGPIPE gets a handler rather than SIG_IGN so that our writes
         * fail with EPIPE while the children still get SIG_DFL on exec. */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        if (sigaction(sigs[i], &sa, NULL))
            return -1;
    }
    /* SIGCHLD is ours whatever it was (SIG_IGN would make the kernel
     * discard the statuses).  Installed before libxl_ctx_alloc, which then
     * finds nothing to warn about. */
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    return sigaction(SIGCHLD, &sa, NULL);
}

/*
 * Makes the tool the reaper (M4).  Must come before the first child.
 * From now on the library neither blocks nor unblocks SIGCHLD for this
 * ctx, and our thread must see it: whoever started us may have left it
 * blocked, and libxl_ctx_alloc blocked it.
 */
static int reaping_init(struct runner *r)
{
    libxl_childproc_hooks hooks;
    sigset_t chld;

    memset(&hooks, 0, sizeof hooks);
    hooks.chldowner = libxl_sigchld_owner_mainloop;
    libxl_childproc_setmode(r->ctx, &hooks, NULL);
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    return sigprocmask(SIG_UNBLOCK, &chld, NULL);
}

/*
 * The library learns only (pid, status) from libxl_childproc_reaped; the
 * rusage wait4 gave us waits here for the job's completion to pick it up.
 * Today the completion comes from inside libxl_childproc_reaped, so this
 * holds one entry at most; nothing depends on that.
 */
static struct reaped {
    pid_t pid;
    struct rusage ru;
} * stash;
static size_t nstash, stash_cap;

static void stash_put(pid_t pid, const struct rusage *ru)
{
    if (nstash == stash_cap) {
        size_t cap = stash_cap ? 2 * stash_cap : 8;
        struct reaped *ns = realloc(stash, cap * sizeof *ns);

        if (!ns)
            return; /* its user_s and sys_s will read 0 */
        stash = ns;
        stash_cap = cap;
    }
    stash[nstash].pid = pid;
    stash[nstash].ru = *ru;
    nstash++;
}

static bool stash_take(pid_t pid, struct rusage *ru)
{
    size_t i;

    for (i = nstash; i-- > 0;) {
        if (stash[i].pid == pid) {
            if (ru)
                *ru = stash[i].ru;
            stash[i] = stash[--nstash];
            return true;
        }
    }
    return false;
}

/* After a SIGCHLD: every exited child, to the library. */
static void reap_children(struct runner *r)
{
    struct rusage ru;
    pid_t pid;
    int status;

    while ((pid = wait4(-1, &status, WNOHANG, &ru)) > 0 ||
           (pid < 0 && errno == EINTR)) {
        if (pid < 0)
            continue;
        stash_put(pid, &ru);
        if (libxl_childproc_reaped(r->ctx, pid, status)) {
            /* Not the library's: nothing of ours forks, so this is an
             * inherited child (we were exec'd by a parent's fork with
             * children of its own).  Nothing to do but not leak it. */
            stash_take(pid, NULL);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Jobs                                                                */

static void job_free(struct job *j)
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

static void job_start(struct runner *r, struct job *j)
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

static void stop(struct runner *r, bool kill_running)
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
static size_t finish_ready(struct runner *r, int *timeout)
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

/* ------------------------------------------------------------------ */
/* The job list                                                        */

/* 1: run it, 0: skip it, -1: bad input (message printed). */
static int check_line(struct runner *r, const char *line, unsigned long lineno)
{
    if (!line_is_blank(line))
        return 1;
    if (r->o.skip_empty)
        return 0;
    xr_msg("%s:%lu: empty command (--skip-empty skips blank lines)", r->in.name,
           lineno);
    return -1;
}

static void queue_job(struct runner *r, const char *line, unsigned long lineno)
{
    struct job *j = xcalloc(1, sizeof *j);

    j->seq = ++r->next_seq;
    j->lineno = lineno;
    j->cmd = strdup(line);
    if (!j->cmd)
        out_of_memory();
    j->taglen = (size_t)snprintf(j->tag, sizeof j->tag, "[%lu] ", j->seq);
    stream_init(&j->out, -1, NULL, NULL, 0, false);
    stream_init(&j->err, -1, NULL, NULL, 0, false);
    if (r->pend_tail)
        r->pend_tail->next = j;
    else
        r->pend_head = j;
    r->pend_tail = j;
    r->npend++;
    if (!r->c.total_known)
        r->c.total++;
}

static void input_failed(struct runner *r)
{
    r->input_done = true;
    r->input_error = true;
    stop(r, false); /* what runs, runs to its end */
}

/* Takes the whole lines already read, up to the read-ahead. */
static void input_parse(struct runner *r)
{
    char *line;
    unsigned long lineno;
    int rc;

    while (!r->input_done && r->npend < READ_AHEAD) {
        rc = input_next(&r->in, &line, &lineno);
        if (rc == 0)
            break;
        if (rc == -1) {
            r->input_done = true;
            r->c.total_known = true;
        } else if (rc == -2) {
            input_failed(r);
        } else if ((rc = check_line(r, line, lineno)) < 0) {
            input_failed(r);
        } else if (rc) {
            queue_job(r, line, lineno);
        }
    }
}

static bool want_input(const struct runner *r)
{
    return !r->input_done && !r->stopping && r->npend < READ_AHEAD;
}

/* Reads more when it cannot block: from a regular file (reads of which
 * never wait), or after poll said so. */
static void input_pump(struct runner *r, bool readable)
{
    input_parse(r);
    while (want_input(r) && (readable || r->in.regular)) {
        readable = false;
        if (input_fill(&r->in) < 0)
            input_failed(r);
        input_parse(r);
    }
}

/*
 * A regular file is checked whole before anything runs, so that a bad
 * line 4000 does not stop a run half way, and so that the progress line
 * knows the total.  Then it is read again from the start, lazily.
 */
static int input_prescan(struct runner *r)
{
    unsigned long n = 0, lineno;
    off_t origin = lseek(r->in.fd, 0, SEEK_CUR); /* stdin may be part-read */
    char *line;
    int rc;

    for (;;) {
        rc = input_next(&r->in, &line, &lineno);
        if (rc == 0) {
            if (input_fill(&r->in) < 0)
                return -1;
            continue;
        }
        if (rc == -1)
            break;
        if (rc == -2 || (rc = check_line(r, line, lineno)) < 0)
            return -1;
        n += (unsigned long)rc;
    }
    if (origin < 0 || lseek(r->in.fd, origin, SEEK_SET) < 0) {
        xr_msg("cannot rewind %s: %s", r->in.name, strerror(errno));
        return -1;
    }
    r->in.eof = false;
    r->in.start = r->in.len = 0;
    r->in.lineno = 0;
    r->c.total = n;
    r->c.total_known = true;
    return 0;
}

static void start_jobs(struct runner *r)
{
    while (!r->stopping && r->nrunning < r->o.jobs) {
        struct job *j = r->pend_head;

        if (!j) {
            input_pump(r, false);
            if (!(j = r->pend_head))
                break;
        }
        r->pend_head = j->next;
        if (!r->pend_head)
            r->pend_tail = NULL;
        r->npend--;
        j->next = NULL;
        job_start(r, j);
    }
}

/* ------------------------------------------------------------------ */
/* The loop                                                            */

static void pfd_reserve(struct runner *r, size_t n)
{
    if (n <= r->pcap)
        return;
    r->pfd = realloc(r->pfd, n * sizeof *r->pfd);
    r->pst = realloc(r->pst, n * sizeof *r->pst);
    if (!r->pfd || !r->pst)
        out_of_memory();
    r->pcap = n;
}

static void pfd_add(struct runner *r, size_t *n, int fd, struct stream *st)
{
    r->pfd[*n].fd = fd;
    r->pfd[*n].events = POLLIN;
    r->pfd[*n].revents = 0;
    r->pst[*n] = st;
    (*n)++;
}

/* Each byte is cleared from sig_queued before it is acted on, so a signal
 * that comes after the clear writes a new byte, and one that came before
 * it is covered by the action.  Children are reaped first, one wait4 loop
 * for all the SIGCHLDs, so that a job already over is not aborted. */
static void got_signal(struct runner *r)
{
    unsigned char b[16];
    bool chld = false;
    int fatal = 0;
    ssize_t n, i;

    while ((n = read(r->sig_r, b, sizeof b)) > 0) {
        for (i = 0; i < n; i++) {
            sig_queued[b[i]] = 0;
            if (b[i] == SIGCHLD)
                chld = true;
            else if (b[i] != SIGPIPE && !fatal) /* EPIPE tells us more */
                fatal = b[i];
        }
    }
    if (chld)
        reap_children(r);
    if (fatal && !r->signo) { /* a second signal: nothing */
        r->signo = fatal;
        stop(r, true);
    }
}

static void check_output(struct runner *r)
{
    struct sink *s[] = {&r->out, &r->err, &r->logf};
    size_t i;

    if (r->output_error)
        return;
    for (i = 0; i < sizeof s / sizeof s[0]; i++) {
        if (s[i]->fd >= 0 && s[i]->err) {
            r->output_error = true;
            xr_msg("cannot write to %s: %s", s[i]->name, strerror(s[i]->err));
            stop(r, true); /* output has nowhere to go: stop */
            return;
        }
    }
}

/* Builds the poll set, sleeps, and hands out what woke us. */
static void wait_and_dispatch(struct runner *r, int timeout)
{
    size_t n = 0, i, lib;
    int nlib, rc, input_idx = -1;
    struct timeval tv;

    pfd_reserve(r, 2 + 2 * r->nrunning + 4);
    pfd_add(r, &n, r->sig_r, NULL);
    if (want_input(r) && !r->in.regular) {
        input_idx = (int)n;
        pfd_add(r, &n, r->in.fd, NULL);
    }
    for (i = 0; i < r->nrunning; i++) {
        struct job *j = r->running[i];

        if (j->out.fd >= 0)
            pfd_add(r, &n, j->out.fd, &j->out);
        if (j->err.fd >= 0)
            pfd_add(r, &n, j->err.fd, &j->err);
    }
    lib = n;
    for (;;) {
        nlib = (int)(r->pcap - lib);
        gettimeofday(&tv, NULL);
        rc =
            libxl_osevent_beforepoll(r->ctx, &nlib, r->pfd + lib, &timeout, tv);
        if (rc != ERROR_BUFFERFULL)
            break;
        pfd_reserve(r, lib + (size_t)nlib);
    }
    if (rc) {
        xr_msg("libxl_osevent_beforepoll: %s", libxl_strerror(rc));
        sink_flush_all();
        exit(2);
    }
    for (i = lib; i < lib + (size_t)nlib; i++)
        r->pst[i] = NULL;
    n += (size_t)nlib;

    sink_flush_all();
    check_output(r);
    if (poll(r->pfd, n, timeout) < 0 && errno != EINTR) {
        xr_msg("poll: %s", strerror(errno));
        sink_flush_all();
        exit(2);
    }

    if (r->pfd[0].revents)
        got_signal(r);
    if (input_idx >= 0 && r->pfd[input_idx].revents)
        input_pump(r, true);
    for (i = 1; i < lib; i++)
        if (r->pst[i] && r->pfd[i].revents)
            stream_read(r->pst[i]);
    gettimeofday(&tv, NULL);
    libxl_osevent_afterpoll(r->ctx, nlib, r->pfd + lib, tv);
}

static bool all_done(const struct runner *r)
{
    if (r->nrunning)
        return false;
    return r->stopping || (r->input_done && !r->pend_head);
}

static void run(struct runner *r)
{
    int timeout = -1;

    for (;;) {
        struct timespec now;

        /* Until no job is over: one that is makes room for the next, and
         * one that cannot start is over at once. */
        do
            start_jobs(r);
        while (finish_ready(r, &timeout));
        if (all_done(r))
            break;
        now_mono(&now);
        timeout = min_timeout(
            timeout, progress_update(&r->c, ts_diff(&now, &r->t0), false));
        wait_and_dispatch(r, timeout);
    }
}

/* ------------------------------------------------------------------ */
/* Set-up                                                              */

/* Fds 0-2 closed at start-up would be reused by the first open(); fill
 * them with /dev/null, and remember a closed stdin. */
static void std_fds_init(struct runner *r)
{
    int fd;

    for (fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        if (fd == 0)
            r->stdin_closed = true;
        if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
            exit(2);
    }
}

/* Each running job holds a few fds: raise the soft limit if -j needs it,
 * or lower -j to what the hard limit allows. */
static void fd_limit_init(struct runner *r)
{
    unsigned long need = r->o.jobs * FDS_PER_JOB + FDS_RESERVE;
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur >= need)
        return;
    if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need)
        rl.rlim_cur = need;
    else
        rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < need) {
        unsigned long j = rl.rlim_cur > FDS_RESERVE + FDS_PER_JOB
                              ? (rl.rlim_cur - FDS_RESERVE) / FDS_PER_JOB
                              : 1;

        xr_msg("-j %lu lowered to %lu: the open-file limit is %lu", r->o.jobs,
               j, (unsigned long)rl.rlim_cur);
        r->o.jobs = j;
    }
}

static int results_dir_init(const char *dir)
{
    struct stat sb;

    if (mkdir(dir, 0777) == 0 ||
        (errno == EEXIST && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)))
        return 0;
    if (errno == EEXIST)
        errno = ENOTDIR;
    xr_msg("--results %s: %s", dir, strerror(errno));
    return -1;
}

static int sinks_init(struct runner *r)
{
    sink_init(&r->out, 1, "standard output");
    sink_init(&r->err, 2, "standard error");
    msg_init(&r->err);
    r->logf.fd = -1;
    r->res = r->o.quiet ? NULL : &r->out;
    if (r->o.log) { /* written even with --quiet: asked for by name */
        int fd = open(r->o.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);

        if (fd < 0) {
            xr_msg("--log %s: %s", r->o.log, strerror(errno));
            return -1;
        }
        sink_init(&r->logf, fd, r->o.log);
        r->res = &r->logf;
    }
    return 0;
}

static int setup(struct runner *r)
{
    int rc;

    std_fds_init(r);
    if (r->stdin_closed && (!r->o.input || strcmp(r->o.input, "-") == 0)) {
        xr_msg("standard input is closed");
        return -1;
    }
    if (input_open(&r->in, r->o.input, r->o.delim) ||
        (r->in.regular && input_prescan(r)))
        return -1;
    if ((r->o.results && results_dir_init(r->o.results)) || sinks_init(r))
        return -1;
    fd_limit_init(r);
    r->running = xcalloc(r->o.jobs, sizeof *r->running);
    r->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (r->devnull < 0 || signals_init(r)) {
        xr_msg("set-up: %s", strerror(errno));
        return -1;
    }
    rc = libxl_ctx_alloc(&r->ctx, LIBXL_VERSION, 0, NULL);
    if (rc) {
        xr_msg("libxl_ctx_alloc: %s", libxl_strerror(rc));
        return -1;
    }
    if (reaping_init(r)) {
        xr_msg("set-up: %s", strerror(errno));
        return -1;
    }
    progress_init(isatty(2) && !r->o.quiet && !r->o.no_progress, &r->err);
    now_mono(&r->t0);
    return 0;
}

static int exit_status(const struct runner *r)
{
    if (r->signo)
        return 128 + r->signo;
    if (r->input_error)
        return 2;
    if (r->c.failed || r->c.aborted || r->output_error)
        return 1;
    return 0;
}

static void teardown(struct runner *r)
{
    struct job *j;

    while ((j = r->pend_head)) {
        r->pend_head = j->next;
        job_free(j);
    }
    libxl_ctx_free(r->ctx);
    input_close(&r->in);
    sink_destroy(&r->out);
    sink_destroy(&r->err);
    if (r->logf.fd >= 0) {
        sink_destroy(&r->logf);
        close(r->logf.fd);
    }
    free(r->running);
    free(r->pfd);
    free(r->pst);
    free(stash);
}

int main(int argc, char **argv)
{
    static struct runner r;
    struct timespec end;
    int rc;

    rc = opts_parse(argc, argv, &r.o);
    if (rc != OPTS_RUN)
        return rc;
    if (setup(&r)) {
        sink_flush_all();
        return 2;
    }
    run(&r);

    now_mono(&end);
    r.c.not_started = r.c.total - r.c.started;
    progress_clear();
    if (!r.o.quiet)
        report_summary(&r.err, &r.c, ts_diff(&end, &r.t0), r.signo);
    sink_flush_all();
    check_output(&r);
    rc = exit_status(&r);
    teardown(&r);
    return rc;
}
