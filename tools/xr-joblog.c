/*
 * xr-joblog.c - --joblog in GNU parallel's format, and --resume,
 * --resume-failed from it.
 *
 * One line per job, when it is over (after its last attempt with
 * --retries), tab-separated, under a header:
 *   Seq Host Starttime JobRuntime Send Receive Exitval Signal Command
 * Host is ':' (this machine), Starttime seconds since the epoch with 3
 * decimals, JobRuntime seconds in a 10-wide field, Send 0 (jobs get no
 * input), Receive the bytes the job wrote on its standard output.  A job
 * killed by a signal has Exitval 0 and the signal's number; one that could
 * not start, Exitval 255.  So the files are interchangeable with parallel's:
 * either tool resumes a run logged by the other, by sequence number.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xlchild-run.h"

#define JOBLOG_HEADER                                                          \
    "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tComman" \
    "d\n"

enum { SEQ_UNKNOWN, SEQ_OK, SEQ_FAILED };

struct joblog {
    struct sink s;
    unsigned char *seen; /* --resume: by sequence number, SEQ_* */
    size_t nseen;
};

static void mark(struct joblog *jl, unsigned long seq, unsigned char state)
{
    if (seq >= jl->nseen) {
        size_t n = jl->nseen ? jl->nseen : 1024;
        unsigned char *ns;

        while (n <= seq)
            n *= 2;
        ns = realloc(jl->seen, n);
        if (!ns)
            out_of_memory();
        memset(ns + jl->nseen, SEQ_UNKNOWN, n - jl->nseen);
        jl->seen = ns;
        jl->nseen = n;
    }
    jl->seen[seq] = state; /* the last line of a job wins */
}

/* One line of an existing log: "SEQ\tHOST\tSTART\tRUNTIME\tSEND\tRECV\t
 * EXITVAL\tSIGNAL\tCOMMAND"; anything else (the header, a command's own
 * continuation lines) is passed over. */
static void read_line(struct joblog *jl, char *line)
{
    char *f[8], *end;
    unsigned long seq;
    size_t i;

    for (i = 0; i < 8; i++) {
        f[i] = line;
        line = strchr(line, '\t');
        if (!line)
            return;
        *line++ = '\0';
    }
    errno = 0;
    seq = strtoul(f[0], &end, 10);
    if (*end || errno || !seq || seq > 1UL << 40)
        return;
    mark(jl, seq,
         strcmp(f[6], "0") == 0 && strcmp(f[7], "0") == 0 ? SEQ_OK
                                                          : SEQ_FAILED);
}

static int read_log(struct joblog *jl, const char *path)
{
    FILE *f = fopen(path, "re");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    if (!f)
        return errno == ENOENT ? 0 : -1; /* nothing done yet */
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[n - 1] = '\0';
        read_line(jl, line);
    }
    free(line);
    n = ferror(f) ? -1 : 0;
    fclose(f);
    return (int)n;
}

int joblog_open(struct runner *r)
{
    bool resume = r->o.resume || r->o.resume_failed;
    struct joblog *jl;
    struct stat sb;
    int fd;

    if (!r->o.joblog)
        return 0;
    jl = r->jl = xcalloc(1, sizeof *jl);
    jl->s.fd = -1;
    if (resume && read_log(jl, r->o.joblog)) {
        xr_msg("--joblog %s: %s", r->o.joblog, strerror(errno));
        return -1;
    }
    if (r->o.dry_run)
        return 0; /* read for --resume, but not written (nor emptied) */
    fd = open(r->o.joblog,
              O_WRONLY | O_CREAT | O_CLOEXEC | (resume ? O_APPEND : O_TRUNC),
              0666);
    if (fd < 0 || fstat(fd, &sb)) {
        xr_msg("--joblog %s: %s", r->o.joblog, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    sink_init(&jl->s, fd, r->o.joblog);
    if (!resume || sb.st_size == 0)
        sink_puts(&jl->s, JOBLOG_HEADER);
    return 0;
}

bool joblog_skip(struct runner *r, unsigned long seq)
{
    const struct joblog *jl = r->jl;
    unsigned char state;

    if (!jl || !(r->o.resume || r->o.resume_failed) || seq >= jl->nseen)
        return false;
    state = jl->seen[seq];
    return r->o.resume_failed ? state == SEQ_OK : state != SEQ_UNKNOWN;
}

void joblog_write(struct runner *r, const struct job *j)
{
    struct sink *s;
    int st = j->res.status, exitval = 0, sig = 0;

    if (!r->jl || r->jl->s.fd < 0)
        return;
    s = &r->jl->s;
    if (j->start_err || j->res.pid <= 0 || j->rc == ERROR_FAIL)
        exitval = 255;
    else if (WIFEXITED(st))
        exitval = WEXITSTATUS(st);
    else if (WIFSIGNALED(st))
        sig = WTERMSIG(st);
    sink_printf(s, "%lu\t:\t%ld.%03ld\t%10.3f\t0\t%llu\t%d\t%d\t", j->seq,
                (long)j->t_real.tv_sec, j->t_real.tv_nsec / 1000000,
                j->res.pid > 0 ? ts_diff(&j->t_end, &j->t_start) : 0.0,
                j->out.bytes, exitval, sig);
    sink_puts(s, j->cmd ? j->cmd : "");
    sink_write(s, "\n", 1);
}

int joblog_close(struct runner *r)
{
    struct joblog *jl = r->jl;
    int rc = 0;

    if (!jl)
        return 0;
    if (jl->s.fd >= 0) {
        sink_destroy(&jl->s);
        if (jl->s.err || close(jl->s.fd)) {
            xr_msg("--joblog %s: %s", r->o.joblog,
                   strerror(jl->s.err ? jl->s.err : errno));
            rc = -1;
        }
    }
    free(jl->seen);
    free(jl);
    r->jl = NULL;
    return rc;
}
