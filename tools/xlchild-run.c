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
    stash_free();
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
