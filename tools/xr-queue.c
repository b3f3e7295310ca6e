/*
 * xr-queue.c - the jobs still to start: their arguments, from the input
 * sources, into a bounded queue, started as slots free up.
 *
 * One source that is a file or standard input (the job list, or the
 * arguments of a COMMAND) is streamed: read as poll allows, READ_AHEAD
 * jobs ahead at most, so an endless producer costs no memory.  Several
 * sources, or ::: arguments, are combined (every combination, first source
 * slowest, or side by side with --link, the shorter ones starting over),
 * which needs them whole: those files are read into memory at start-up.
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xlchild-run.h"

/* A line's fate under --blank-lines: 1 use it, 0 skip it, -1 bad input
 * (message printed). */
static int check_line(struct runner *r, const char *name, const char *line,
                      unsigned long lineno)
{
    if (!line_is_blank(line) || r->o.blank == BLANK_KEEP)
        return 1;
    if (r->o.blank == BLANK_SKIP)
        return 0;
    xr_msg("%s:%lu: blank line (--blank-lines=error)", name, lineno);
    return -1;
}

/* The job for one row of values (one from each source), each value split
 * into columns with --colsep; NULL when --resume skips it. */
static struct job *job_new(struct runner *r, char *const *vals, size_t nvals,
                           unsigned long lineno)
{
    struct strbuf store = {0}, cols = {0};
    struct job *j;
    size_t i, k, n = 0, ncols;
    char *p;
    unsigned long seq = ++r->next_seq;

    if (joblog_skip(r, seq))
        return NULL;
    j = xcalloc(1, sizeof *j);
    j->seq = seq;
    j->lineno = lineno;
    for (i = 0; i < nvals; i++) {
        if (!r->o.colsep) {
            if (sb_add(&store, vals[i], strlen(vals[i]) + 1))
                out_of_memory();
            n++;
            continue;
        }
        if (colsep_split(&r->colsep, vals[i], &cols, &ncols) ||
            sb_add(&store, cols.p, cols.len))
            out_of_memory();
        n += ncols;
    }
    sb_free(&cols);
    j->argstore = store.p;
    j->args = xcalloc(n + 1, sizeof *j->args);
    for (k = 0, p = store.p; k < n; k++, p += strlen(p) + 1)
        j->args[k] = p;
    j->nargs = n;
    stream_init(&j->out, -1, NULL, NULL, 0, false);
    stream_init(&j->err, -1, NULL, NULL, 0, false);
    return j;
}

static void queue_push(struct runner *r, struct job *j)
{
    if (r->pend_tail)
        r->pend_tail->next = j;
    else
        r->pend_head = j;
    r->pend_tail = j;
    r->npend++;
}

static void input_failed(struct runner *r)
{
    r->input_done = true;
    r->input_error = true;
    r->stopping = true; /* nothing more starts; what runs, runs to its end */
}

/* The input is over: the total is what was started and is waiting. */
static void input_ended(struct runner *r)
{
    r->input_done = true;
    if (!r->c.total_known) {
        r->c.total = r->c.started + r->npend;
        r->c.total_known = true;
    }
}

/* ------------------------------------------------------------------ */
/* A streamed source                                                   */

/* Takes the whole lines already read, up to the read-ahead. */
static void input_parse(struct runner *r)
{
    char *line;
    unsigned long lineno;
    struct job *j;
    int rc;

    while (!r->input_done && r->npend < READ_AHEAD) {
        rc = input_next(&r->in, &line, &lineno);
        if (rc == 0)
            break;
        if (rc == -1) {
            input_ended(r);
        } else if (rc == -2) {
            input_failed(r);
        } else if ((rc = check_line(r, r->in.name, line, lineno)) < 0) {
            input_failed(r);
        } else if (rc && (j = job_new(r, &line, 1, lineno))) {
            queue_push(r, j);
        }
    }
}

bool want_input(const struct runner *r)
{
    return r->streamed && !r->input_done && !r->stopping &&
           r->npend < READ_AHEAD;
}

void input_pump(struct runner *r, bool readable)
{
    if (!r->streamed) {
        mem_pump(r);
        return;
    }
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
        if (rc == -2 || (rc = check_line(r, r->in.name, line, lineno)) < 0)
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

/* ------------------------------------------------------------------ */
/* Sources combined in memory                                          */

/* A whole file as a source: its lines (or -0 items). */
static int mem_load_file(struct runner *r, struct memsrc *m, const char *path)
{
    struct input in;
    char *line;
    unsigned long lineno;
    int rc;

    if (input_open(&in, path, r->o.delim))
        return -1;
    for (;;) {
        rc = input_next(&in, &line, &lineno);
        if (rc == 0) {
            if (input_fill(&in) < 0)
                break;
            continue;
        }
        if (rc < 0)
            break;
        rc = check_line(r, in.name, line, lineno);
        if (rc < 0) {
            rc = -2;
            break;
        }
        if (!rc)
            continue;
        if (sb_add(&m->store, line, strlen(line) + 1))
            out_of_memory();
        m->n++;
    }
    input_close(&in);
    return rc == -1 ? 0 : -1;
}

int mem_init(struct runner *r)
{
    size_t i, k;

    r->mem = xcalloc(r->o.nsources, sizeof *r->mem);
    r->nmem = r->o.nsources;
    r->grpidx = xcalloc(r->nmem, sizeof *r->grpidx);
    r->grplen = xcalloc(r->nmem, sizeof *r->grplen);
    r->memrow = xcalloc(r->nmem + 1, sizeof *r->memrow);
    for (i = 0; i < r->nmem; i++) {
        struct memsrc *m = &r->mem[i];
        const struct source *s = &r->o.sources[i];
        char *p;

        if (s->kind == SRC_ARGS) {
            m->vals = s->words;
            m->n = s->nwords;
            continue;
        }
        if (mem_load_file(r, m, s->path))
            return -1;
        m->vals = m->own = xcalloc(m->n + 1, sizeof *m->vals);
        for (k = 0, p = m->store.p; k < m->n; k++, p += strlen(p) + 1)
            m->vals[k] = p;
    }
    /* A source with nothing, beside others, is one empty argument (as in
     * GNU parallel); alone, it means no jobs. */
    for (i = 0; r->nmem > 1 && i < r->nmem; i++) {
        if (!r->mem[i].n) {
            static char *empty[] = {"", NULL};

            r->mem[i].vals = empty;
            r->mem[i].n = 1;
        }
    }
    /*
     * Groups: a source tied to the one before by :::+ or ::::+ goes side
     * by side with it, as far as the shorter goes; --link ties them all,
     * the shorter ones starting over.  Every combination of the groups is
     * run, the last group turning fastest.
     */
    r->ngrp = 0;
    for (i = 0; i < r->nmem; i++) {
        unsigned long n = r->mem[i].n, *len;

        if (i == 0 || !(r->o.link || r->o.sources[i].tied)) {
            r->grplen[r->ngrp++] = n;
        } else {
            len = &r->grplen[r->ngrp - 1];
            if (r->o.link ? n > *len : n < *len)
                *len = n;
        }
        r->mem[i].group = r->ngrp - 1;
    }
    r->memtotal = r->ngrp ? 1 : 0;
    for (i = 0; i < r->ngrp; i++) {
        unsigned long n = r->grplen[i];

        if (n && r->memtotal > ULONG_MAX / n)
            r->memtotal = ULONG_MAX;
        else
            r->memtotal *= n;
    }
    r->c.total = r->memtotal;
    r->c.total_known = true;
    return 0;
}

/* The next row of values into queued jobs, up to the read-ahead. */
void mem_pump(struct runner *r)
{
    size_t i;

    while (!r->input_done && r->npend < READ_AHEAD) {
        struct job *j;

        if (r->memnext >= r->memtotal) {
            input_ended(r);
            break;
        }
        for (i = 0; i < r->nmem; i++) {
            const struct memsrc *m = &r->mem[i];

            r->memrow[i] = m->vals[r->grpidx[m->group] % m->n];
        }
        r->memnext++;
        /* The odometer: the last group turns fastest. */
        for (i = r->ngrp; i-- > 0;) {
            if (++r->grpidx[i] < r->grplen[i])
                break;
            r->grpidx[i] = 0;
        }
        if ((j = job_new(r, r->memrow, r->nmem, r->memnext)))
            queue_push(r, j);
    }
}

void mem_free(struct runner *r)
{
    size_t i;

    for (i = 0; i < r->nmem; i++) {
        sb_free(&r->mem[i].store);
        free(r->mem[i].own);
    }
    free(r->mem);
    free(r->grpidx);
    free(r->grplen);
    free(r->memrow);
}

/* ------------------------------------------------------------------ */
/* Starting                                                            */

/* Why no job may start now (--delay, --load, --memfree): the ms until it
 * is worth asking again, or 0 when one may.  With nothing running, --load
 * and --memfree do not hold back: one job always runs, as in GNU
 * parallel, or a machine busy with something else would stall the run. */
static int pace(struct runner *r)
{
    struct timespec now;

    if (!r->o.delay_ms && !r->o.load_max && !r->o.memfree)
        return 0;
    now_mono(&now);
    if (r->o.delay_ms && r->c.started && ts_diff(&r->next_start, &now) > 0)
        return ms_until(&r->next_start, &now);
    if (r->nrunning && (r->o.load_max || r->o.memfree) &&
        !resources_ok(&r->o, &now))
        return 250;
    return 0;
}

int start_jobs(struct runner *r)
{
    int wait_ms;

    while (!r->stopping && r->nrunning < r->o.jobs) {
        struct job *j = r->pend_head;

        if (!j) {
            input_pump(r, false);
            if (!(j = r->pend_head))
                break;
        }
        if ((wait_ms = pace(r)))
            return wait_ms;
        r->pend_head = j->next;
        if (!r->pend_head)
            r->pend_tail = NULL;
        r->npend--;
        j->next = NULL;
        job_start(r, j);
        if (r->o.delay_ms) {
            now_mono(&r->next_start);
            ts_add_ms(&r->next_start, r->o.delay_ms);
        }
    }
    return -1;
}
