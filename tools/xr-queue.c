/*
 * xr-queue.c - the jobs still to start: the job list read into a bounded
 * queue (READ_AHEAD), checked line by line, and started as slots free up.
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

bool want_input(const struct runner *r)
{
    return !r->input_done && !r->stopping && r->npend < READ_AHEAD;
}

/* Reads more when it cannot block: from a regular file (reads of which
 * never wait), or after poll said so. */
void input_pump(struct runner *r, bool readable)
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
int input_prescan(struct runner *r)
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

void start_jobs(struct runner *r)
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

