/*
 * spawn_child.c - the child of the fork path (src/spawn.c), between fork
 * and exec: only async-signal-safe calls, nothing allocated, every step's
 * failure reported to the parent through the exec-error pipe.
 */
#include "spawn_plan.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* close_range(2) where the kernel has it (5.9), else one close per fd. */
static void close_fds(unsigned lo, unsigned hi)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, lo, hi, 0) == 0)
        return;
#endif
    {
        struct rlimit rl;
        unsigned fd;

        if (hi == ~0u) {
            hi = 65535;
            if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
                rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < hi)
                hi = (unsigned)rl.rlim_cur;
        }
        for (fd = lo; fd <= hi && fd >= lo; fd++)
            close((int)fd);
    }
}

/* execvpe without its ENOEXEC retry through /bin/sh, searching
 * p->search (the child's PATH, S10).  Returns the errno to report. */
static int exec_search(const plan *p)
{
    const char *dir = p->search, *end;
    size_t flen = strlen(p->prog);
    char buf[PATH_MAX];
    int e = ENOENT;
    bool eacces = false;

    if (!p->search) {
        execve(p->prog, p->args->argv, p->envp);
        return errno;
    }
    for (;; dir = end + 1) {
        size_t dlen;

        end = strchr(dir, ':');
        if (!end)
            end = dir + strlen(dir);
        dlen = (size_t)(end - dir);
        if (dlen + 1 + flen + 1 <= sizeof buf) {
            /* An empty entry is the current directory, as in execvp. */
            memcpy(buf, dir, dlen);
            if (dlen)
                buf[dlen++] = '/';
            memcpy(buf + dlen, p->prog, flen + 1);
            execve(buf, p->args->argv, p->envp);
            e = errno;
            switch (e) {
            case EACCES: eacces = true; break;
            case ENOENT:
            case ENOTDIR:
            case ESTALE:
            case ENODEV:
            case ETIMEDOUT:
            case ENAMETOOLONG: break;
            default: return e; /* ENOEXEC, E2BIG, ENOMEM...: stop here */
            }
        }
        if (!*end)
            break;
    }
    return eacces ? EACCES : ENOENT;
}

/*
 * The child side of the fork path.  Only async-signal-safe calls: the
 * parent may have had other threads holding any lock at the fork.  Every
 * signal is blocked on entry (spawn_fork), so no handler of the parent can
 * run here before the dispositions are reset.
 */
void libxl__spawn_child_exec(const plan *p)
{
    const libxl_childproc_args *args = p->args;
    struct sigaction sa;
    sigset_t empty;
    int i, sig, step, rep[2];

    step = STEP_SIGNALS;
    memset(&sa, 0, sizeof sa);
    for (sig = 1; sig < NSIG; sig++) {
        struct sigaction old;

        if (sig == SIGKILL || sig == SIGSTOP ||
            sigaction(sig, NULL, &old) != 0 || old.sa_handler == SIG_DFL)
            continue;
        sa.sa_handler = SIG_DFL;
        sigaction(sig, &sa, NULL);
    }
#ifdef SYS_rt_sigaction
    /* glibc's sigaction refuses its internal signals (32 and 33), which a
     * caller started by glibc's posix_spawn has ignored: the kernel's call
     * with an all-zero struct sigaction (SIG_DFL, whatever the
     * architecture's field order) resets them. */
    for (sig = 32; sig < SIGRTMIN; sig++) {
        unsigned long ksa[4] = {0, 0, 0, 0};

        syscall(SYS_rt_sigaction, sig, ksa, NULL, (size_t)(NSIG / 8));
    }
#endif
    step = STEP_CGROUP;
    if (p->cg_move) {
        int fd = openat(p->cgfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);

        if (fd < 0 || write(fd, "0", 1) != 1)
            goto fail;
        close(fd);
    }
    step = STEP_SETSID;
    if (args->new_session && setsid() < 0)
        goto fail;
    step = STEP_SETPGID;
    if (args->new_process_group && !args->new_session && setpgid(0, 0))
        goto fail;
    step = STEP_CHDIR;
    if (args->cwd && chdir(args->cwd))
        goto fail;
    step = STEP_FDS;
    for (i = 0; i < p->nmoves; i++)
        if (dup2(p->moves[i].src, p->moves[i].target) < 0)
            goto fail;
    if (args->close_other_fds) {
        /* Keep 0-2, the targets and the error pipe (above them all). */
        for (i = 3; i <= p->max_target; i++) {
            int j;

            for (j = 0; j < p->nmoves && p->moves[j].target != i; j++)
                ;
            if (j == p->nmoves)
                close(i);
        }
        close_fds((unsigned)p->max_target + 1, (unsigned)p->errfd - 1);
        close_fds((unsigned)p->errfd + 1, ~0u);
    }
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);
    step = STEP_EXEC;
    errno = exec_search(p);
fail:
    rep[0] = step;
    rep[1] = errno;
    while (write(p->errfd, rep, sizeof rep) < 0 && errno == EINTR)
        ;
    _exit(127);
}
