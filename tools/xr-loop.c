/*
 * xr-loop.c - the poll loop: one poll(2) over the signal pipe, the job
 * list, every running job's pipes and the library's fds, and what to do
 * with what woke it.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "xlchild-run.h"

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

void check_output(struct runner *r)
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

    if (input_idx >= 0 && r->pfd[input_idx].revents)
        input_pump(r, true);
    for (i = 1; i < lib; i++)
        if (r->pst[i] && r->pfd[i].revents)
            stream_read(r->pst[i]);
    /* Collects the statuses (the library's wait set is in the poll set)
     * and delivers the completions: before a fatal signal is acted on, so
     * that a job already over is not aborted. */
    gettimeofday(&tv, NULL);
    libxl_osevent_afterpoll(r->ctx, nlib, r->pfd + lib, tv);
    if (r->pfd[0].revents)
        got_signal(r);
}

static bool all_done(const struct runner *r)
{
    if (r->nrunning)
        return false;
    return r->stopping || (r->input_done && !r->pend_head);
}

void run(struct runner *r)
{
    int timeout = -1, pace_ms;

    for (;;) {
        struct timespec now;

        /* Until no job is over: one that is makes room for the next, and
         * one that cannot start is over at once. */
        do
            pace_ms = start_jobs(r);
        while (finish_ready(r, &timeout));
        if (r->stopping)
            drop_retries(r);
        if (all_done(r))
            break;
        timeout = min_timeout(timeout, pace_ms);
        now_mono(&now);
        timeout = min_timeout(
            timeout, progress_update(&r->c, ts_diff(&now, &r->t0), false));
        wait_and_dispatch(r, timeout);
    }
}
