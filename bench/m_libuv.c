/*
 * m_libuv.c - libuv: uv_spawn (libuv's own spawning: it cannot watch pids
 * it did not start, so kind fork is not possible) with an exit_cb that
 * starts the next child.  stdio 0-2 inherited, like the other mechanisms.
 */
#include "config.h"

#include "common.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <uv.h>

static uv_loop_t *loop;
static uv_process_t *procs; /* one per child */

static void start_one(long i);

static void exit_cb(uv_process_t *p, int64_t exit_status, int term_signal)
{
    long i = (long)(intptr_t)p->data;
    int status =
        term_signal ? (term_signal & 0x7f) : (int)((exit_status & 0xff) << 8);

    bench_got(i, 0, status);
    uv_close((uv_handle_t *)p, NULL);
    while (bench_may_spawn())
        start_one(bench_next());
}

static void start_one(long i)
{
    uv_process_options_t o = {0};
    uv_stdio_container_t stdio[3];
    char *argv[6], buf[64];
    int r, j;

    o.file = bench_exec_argv(i, argv, buf);
    o.args = argv;
    o.exit_cb = exit_cb;
    for (j = 0; j < 3; j++) {
        stdio[j].flags = UV_INHERIT_FD;
        stdio[j].data.fd = j;
    }
    o.stdio = stdio;
    o.stdio_count = 3;
    procs[i].data = (void *)(intptr_t)i;
    r = uv_spawn(loop, &procs[i], &o);
    if (r)
        bench_fail("uv_spawn: %s", uv_strerror(r));
    bench_record(i, procs[i].pid);
}

int main(int argc, char **argv)
{
    bench_init(argc, argv, "libuv", KIND_TRUE | KIND_STAMP);
    procs = calloc((size_t)bench_opt.n, sizeof *procs);
    if (!procs)
        bench_fail("out of memory");
    loop = uv_default_loop();
    bench_start();
    while (bench_may_spawn())
        start_one(bench_next());
    bench_w5_point();
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    free(procs);
    return bench_finish();
}
