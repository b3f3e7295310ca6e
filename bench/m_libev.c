/*
 * m_libev.c - libev child watchers (ev_child on EV_DEFAULT, which reaps
 * with a SIGCHLD handler and waitpid(-1)); the callback starts the next
 * child.
 */
#include "config.h"

#include "common.h"

#include <ev.h>
#include <stdint.h>
#include <stdlib.h>

static struct ev_loop *loop;
static ev_child *watchers; /* one per child */

static void start_one(long i);

static void child_cb(struct ev_loop *l, ev_child *w, int revents)
{
    (void)revents;
    ev_child_stop(l, w);
    bench_got((long)(intptr_t)w->data, w->rpid, w->rstatus);
    while (bench_may_spawn())
        start_one(bench_next());
    if (bench_all_done())
        ev_break(l, EVBREAK_ALL);
}

static void start_one(long i)
{
    /* Started before the loop runs again: libev drops statuses of pids
     * nobody watches, so the watcher must exist when it reaps. */
    pid_t pid = bench_spawn(i);
    ev_child *w = &watchers[i];

    ev_child_init(w, child_cb, pid, 0);
    w->data = (void *)(intptr_t)i;
    ev_child_start(loop, w);
}

int main(int argc, char **argv)
{
    bench_init(argc, argv, "libev", KIND_TRUE | KIND_FORK | KIND_STAMP);
    watchers = calloc((size_t)bench_opt.n, sizeof *watchers);
    if (!watchers)
        bench_fail("out of memory");
    loop = EV_DEFAULT;
    if (!loop)
        bench_fail("ev_default_loop failed");
    bench_start();
    while (bench_may_spawn())
        start_one(bench_next());
    bench_w5_point();
    if (!bench_all_done())
        ev_run(loop, 0);
    free(watchers);
    return bench_finish();
}
