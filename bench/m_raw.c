/*
 * m_raw.c - the baseline: the harness's spawn (posix_spawn, or fork) and a
 * blocking waitpid(-1) in the one thread.
 */
#include "config.h"

#include "common.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
    bench_init(argc, argv, "raw",
               KIND_TRUE | KIND_FORK | KIND_STAMP | KIND_FORKEXEC);
    bench_start();
    while (!bench_all_done()) {
        int st;
        pid_t pid;

        while (bench_may_spawn())
            bench_spawn(bench_next());
        bench_w5_point();
        pid = waitpid(-1, &st, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            bench_fail("waitpid: %s", strerror(errno));
        }
        bench_got_pid(pid, st);
    }
    return bench_finish();
}
