/*
 * xlchild-run - run commands several at once, as GNU parallel and xargs -P
 * do: the lines of a job list, or a COMMAND with the arguments of its
 * input sources put in, quoted; with per-command timeouts, output passed
 * through byte for byte and a result per command.
 *
 * Built only on the public API of xlchild.  The shape of the program:
 *
 *  - One thread of ours, one poll(2).  In the poll set: a self-pipe for
 *    SIGINT, SIGTERM and SIGHUP; the input while more of it is wanted;
 *    both output pipes of every running job; and whatever
 *    libxl_osevent_beforepoll asks for: the ctx's wakeup fd, and the
 *    library's wait set (its children's pidfds).  Nothing ever blocks in
 *    libxl_event_wait while a pipe needs draining.
 *
 *  - The ctx is in selective mode (libxl_sigchld_owner_libxl_always_
 *    selective_reap): the library reaps its children and nothing else.
 *    With its wait set in our poll set, this thread collects each status
 *    itself in libxl_osevent_afterpoll (the library lends it the reaper's
 *    role, rule E2), which delivers the job's completion: no status
 *    travels between threads, and the library's reaper thread sleeps.
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

/* File descriptors per running job (two pipes, the library's pidfd, and
 * its dups while spawning), and a reserve for everything else. */
#define FDS_PER_JOB 4
#define FDS_RESERVE 32

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

/* -j 0: as many as the open-file and process limits allow, within
 * reason. */
#define JOBS_AUTO_MAX 4096UL

static unsigned long jobs_possible(void)
{
    unsigned long n = JOBS_AUTO_MAX;
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
        rl.rlim_max < FDS_RESERVE + n * FDS_PER_JOB)
        n = rl.rlim_max > FDS_RESERVE + FDS_PER_JOB
                ? (unsigned long)(rl.rlim_max - FDS_RESERVE) / FDS_PER_JOB
                : 1;
    if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur / 2 < n)
        n = rl.rlim_cur / 2 ? (unsigned long)rl.rlim_cur / 2 : 1;
    return n;
}

/* What the operands say to run: templates for COMMAND (and --tagstring),
 * --colsep's expression. */
static int commands_init(struct runner *r)
{
    struct strbuf b = {0};
    size_t i;
    int rc = 0;

    r->lines_are_commands = r->o.ncommand == 0;
    for (i = 0; i < r->o.ncommand && !rc; i++) {
        if (i)
            rc = sb_add(&b, " ", 1);
        rc |= sb_puts(&b, r->o.command[i]);
    }
    rc |= sb_add(&b, "", 0);
    if (rc || tmpl_parse(&r->cmd_t, b.p, r->o.replace))
        out_of_memory();
    sb_free(&b);
    if (r->o.no_shell && r->o.ncommand) {
        r->word_t = xcalloc(r->o.ncommand, sizeof *r->word_t);
        for (i = 0; i < r->o.ncommand; i++)
            if (tmpl_parse(&r->word_t[i], r->o.command[i], r->o.replace))
                out_of_memory();
    }
    if (r->o.tagstring && tmpl_parse(&r->tag_t, r->o.tagstring, NULL))
        out_of_memory();
    if (r->o.colsep) {
        char msg[256];

        rc = colsep_compile(&r->colsep, r->o.colsep);
        if (rc) {
            regerror(rc, NULL, msg, sizeof msg);
            xr_msg("--colsep '%s': %s", r->o.colsep, msg);
            return -1;
        }
        r->has_colsep = true;
    }
    return 0;
}

/* One source that is a file or standard input is streamed; anything else
 * is combined in memory. */
static int sources_init(struct runner *r)
{
    const char *path = NULL;

    r->streamed = r->o.nsources == 0 ||
                  (r->o.nsources == 1 && r->o.sources[0].kind == SRC_FILE);
    if (!r->streamed)
        return mem_init(r);
    if (r->o.nsources)
        path = r->o.sources[0].path;
    if (r->stdin_closed && (!path || strcmp(path, "-") == 0)) {
        xr_msg("standard input is closed");
        return -1;
    }
    if (input_open(&r->in, path, r->o.delim) ||
        (r->in.regular && input_prescan(r)))
        return -1;
    return 0;
}

static void slots_init(struct runner *r)
{
    unsigned long i;

    r->running = xcalloc(r->o.jobs, sizeof *r->running);
    r->free_slots = xcalloc(r->o.jobs, sizeof *r->free_slots);
    /* Taken from the end: slot 1 first. */
    for (i = 0; i < r->o.jobs; i++)
        r->free_slots[i] = r->o.jobs - i;
    r->nfree_slots = r->o.jobs;
}

static int setup(struct runner *r)
{
    bool progress;
    int rc;

    std_fds_init(r);
    if (commands_init(r) || sources_init(r))
        return -1;
    if ((r->o.results && results_dir_init(r->o.results)) || sinks_init(r) ||
        joblog_open(r))
        return -1;
    if (!r->o.jobs)
        r->o.jobs = jobs_possible();
    fd_limit_init(r);
    slots_init(r);
    r->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (r->devnull < 0 || signals_init(r) || reaping_prepare()) {
        xr_msg("set-up: %s", strerror(errno));
        return -1;
    }
    rc = libxl_ctx_alloc(&r->ctx, LIBXL_VERSION, 0, NULL);
    if (rc) {
        xr_msg("libxl_ctx_alloc: %s", libxl_strerror(rc));
        return -1;
    }
    reaping_init(r);
    progress = r->o.progress || (isatty(2) && !r->o.quiet && !r->o.no_progress);
    progress_init(progress && !r->o.dry_run, r->o.bar, &r->err);
    now_mono(&r->t0);
    return 0;
}

/*
 * --exit-status=summary (the default): 0, 1 when a job failed (or was
 * aborted, unless a --halt ...,success or done stopped it), 2 on bad input.
 * --exit-status=count, GNU parallel's: the number of failed jobs, 101 for
 * more than 100; after --halt ...,fail=1, that job's exit status; 255 for
 * an error of the tool's own.  A fatal signal: 128 + its number, in both.
 */
static int exit_status(const struct runner *r)
{
    unsigned long n;

    if (r->signo)
        return 128 + r->signo;
    if (r->o.exit_count) {
        if (r->input_error || r->output_error)
            return 255;
        if (r->halted_by_failure || r->halted_ok)
            return r->failed_exit > 255 ? 255 : (int)r->failed_exit;
        n = r->c.failed + r->c.aborted;
        return n > 100 ? 101 : (int)n;
    }
    if (r->input_error)
        return 2;
    if (r->c.failed || (r->c.aborted && !r->halted_ok) || r->output_error)
        return 1;
    return 0;
}

static void teardown(struct runner *r)
{
    struct job *j;
    size_t i;

    while ((j = r->pend_head)) {
        r->pend_head = j->next;
        job_free(j);
    }
    libxl_ctx_free(r->ctx);
    if (r->streamed)
        input_close(&r->in);
    mem_free(r);
    sink_destroy(&r->out);
    sink_destroy(&r->err);
    if (r->logf.fd >= 0) {
        sink_destroy(&r->logf);
        close(r->logf.fd);
    }
    tmpl_free(&r->cmd_t);
    tmpl_free(&r->tag_t);
    for (i = 0; r->word_t && i < r->o.ncommand; i++)
        tmpl_free(&r->word_t[i]);
    free(r->word_t);
    if (r->has_colsep)
        regfree(&r->colsep);
    free(r->running);
    free(r->free_slots);
    free(r->pfd);
    free(r->pst);
    opts_free(&r->o);
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
        joblog_close(&r);
        return r.o.exit_count ? 255 : 2;
    }
    run(&r);

    now_mono(&end);
    /* Jobs read ahead but never started are no jobs of the count unless
     * the whole input was read (or counted before the start). */
    if (!r.c.total_known)
        r.c.total = r.c.started;
    r.c.not_started = r.c.total - r.c.started;
    if (r.o.progress)
        progress_finish(&r.c, ts_diff(&end, &r.t0));
    else
        progress_clear();
    if (!r.o.quiet && !r.o.dry_run)
        report_summary(&r.err, &r.c, ts_diff(&end, &r.t0), r.signo);
    if (joblog_close(&r))
        r.output_error = true;
    sink_flush_all();
    check_output(&r);
    rc = exit_status(&r);
    teardown(&r);
    return rc;
}
