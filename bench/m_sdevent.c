/*
 * m_sdevent.c - systemd's sd-event: sd_event_add_child(WEXITED) for each
 * child made by the harness (SIGCHLD blocked first, as sd-event requires);
 * the handler starts the next child.
 */
#include "config.h"

#include "common.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <systemd/sd-event.h>

static sd_event *ev;

static void start_one(long i);

static int status_of(const siginfo_t *si)
{
    switch (si->si_code) {
    case CLD_EXITED: return (si->si_status & 0xff) << 8;
    case CLD_KILLED: return si->si_status & 0x7f;
    case CLD_DUMPED: return (si->si_status & 0x7f) | 0x80;
    default: return 0xffff;
    }
}

static int child_cb(sd_event_source *s, const siginfo_t *si, void *user)
{
    bench_got((long)(intptr_t)user, si->si_pid, status_of(si));
    sd_event_source_unref(s);
    while (bench_may_spawn())
        start_one(bench_next());
    if (bench_all_done())
        sd_event_exit(ev, 0);
    return 0;
}

static void start_one(long i)
{
    pid_t pid = bench_spawn(i);
    sd_event_source *s;
    int r =
        sd_event_add_child(ev, &s, pid, WEXITED, child_cb, (void *)(intptr_t)i);

    if (r < 0)
        bench_fail("sd_event_add_child: %s", strerror(-r));
    /* the reference is dropped by the handler */
}

int main(int argc, char **argv)
{
    sigset_t chld;
    int r;

    bench_init(argc, argv, "sdevent", KIND_TRUE | KIND_FORK | KIND_STAMP);
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    r = sd_event_default(&ev);
    if (r < 0)
        bench_fail("sd_event_default: %s", strerror(-r));
    bench_start();
    while (bench_may_spawn())
        start_one(bench_next());
    bench_w5_point();
    if (!bench_all_done()) {
        r = sd_event_loop(ev);
        if (r < 0)
            bench_fail("sd_event_loop: %s", strerror(-r));
    }
    sd_event_unref(ev);
    return bench_finish();
}
