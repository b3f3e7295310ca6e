/*
 * spawn.c - creating the child of libxl_childproc_run.
 *
 * Two paths, with the same result for the child:
 *  - posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK)), the default: its
 *    cost does not grow with the parent's memory (R5), and it reports exec
 *    errors itself;
 *  - fork_replacement (R3), then our own child side below, reporting the
 *    exec errno through a close-on-exec pipe.
 * Either way the child gets: an empty signal mask and SIGCHLD at SIG_DFL
 * (R4), its own process group if asked, the cwd, and fds 0-2 dup'd from the
 * caller's fds.  The caller's fds are first dup'd (close-on-exec) to fresh
 * numbers above 2, so that swaps like stdout_fd=2/stderr_fd=1 work and a
 * close-on-exec flag on the caller's fd does not matter (R0).
 */
#include "internal.h"

#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static int spawn_posix(const libxl_childproc_args *args, const int tmpfd[3],
                       pid_t *pid_r)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t empty, dfl;
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    char *const *envp = args->envp ? args->envp : environ;
    int i, r;

    if ((r = posix_spawn_file_actions_init(&fa)))
        return r;
    if ((r = posix_spawnattr_init(&at)))
        goto out_fa;
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCHDIR_NP
    if (args->cwd && (r = posix_spawn_file_actions_addchdir_np(&fa, args->cwd)))
        goto out;
#endif
    for (i = 0; i < 3; i++)
        if (tmpfd[i] >= 0 &&
            (r = posix_spawn_file_actions_adddup2(&fa, tmpfd[i], i)))
            goto out;
    sigemptyset(&empty);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGCHLD);
    posix_spawnattr_setsigmask(&at, &empty);
    posix_spawnattr_setsigdefault(&at, &dfl);
    if (args->new_process_group) {
        flags |= POSIX_SPAWN_SETPGROUP;
        posix_spawnattr_setpgroup(&at, 0);
    }
    posix_spawnattr_setflags(&at, flags);
    if (strchr(args->path, '/'))
        r = posix_spawn(pid_r, args->path, &fa, &at, args->argv, envp);
    else
        r = posix_spawnp(pid_r, args->path, &fa, &at, args->argv, envp);
out:
    posix_spawnattr_destroy(&at);
out_fa:
    posix_spawn_file_actions_destroy(&fa);
    return r;
}

/*
 * The child side of the fork path.  Only async-signal-safe calls: the
 * parent may have had other threads holding any lock at the fork.
 */
static void __attribute__((noreturn))
child_exec(const libxl_childproc_args *args, const int tmpfd[3], int errfd)
{
    struct sigaction sa;
    sigset_t empty;
    char *const *envp = args->envp ? args->envp : environ;
    int i, e;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
    if (args->new_process_group && setpgid(0, 0))
        goto fail;
    if (args->cwd && chdir(args->cwd))
        goto fail;
    for (i = 0; i < 3; i++)
        if (tmpfd[i] >= 0 && dup2(tmpfd[i], i) < 0)
            goto fail;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);
    if (strchr(args->path, '/'))
        execve(args->path, args->argv, envp);
    else
        execvpe(args->path, args->argv, envp);
fail:
    e = errno;
    while (write(errfd, &e, sizeof e) < 0 && errno == EINTR)
        ;
    _exit(127);
}

static int spawn_fork(const libxl__start *st, const libxl_childproc_args *args,
                      const int tmpfd[3], pid_t *pid_r)
{
    int ep[2], e = 0;
    ssize_t n;
    pid_t pid;

    if (pipe2(ep, O_CLOEXEC))
        return errno;
    if (st->fork_replacement)
        pid = st->fork_replacement(st->hooks_user);
    else
        pid = fork();
    if (pid == 0) {
        close(ep[0]);
        child_exec(args, tmpfd, ep[1]);
    }
    e = errno;
    close(ep[1]);
    if (pid < 0) {
        close(ep[0]);
        return e;
    }
    *pid_r = pid;
    /* EOF: exec succeeded (the write end was close-on-exec). */
    e = 0;
    do
        n = read(ep[0], &e, sizeof e);
    while (n < 0 && errno == EINTR);
    close(ep[0]);
    return n == sizeof e ? e : 0;
}

int libxl__spawn(libxl_ctx *ctx, const libxl__start *st,
                 const libxl_childproc_args *args, pid_t *pid_r,
                 int *exec_errno_r)
{
    const int src[3] = {args->stdin_fd, args->stdout_fd, args->stderr_fd};
    int tmpfd[3] = {-1, -1, -1};
    bool use_fork = st->fork_replacement != NULL;
    int i, e = 0;

#ifndef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCHDIR_NP
    use_fork = use_fork || args->cwd;
#endif
    *pid_r = 0;
    for (i = 0; i < 3; i++) {
        if (src[i] <= 0)
            continue;
        tmpfd[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3);
        if (tmpfd[i] < 0) {
            e = errno;
            LOGE(ctx, ERROR, "dup of fd %d for the child", src[i]);
            goto out;
        }
    }
    if (use_fork)
        e = spawn_fork(st, args, tmpfd, pid_r);
    else
        e = spawn_posix(args, tmpfd, pid_r);
    /* The program's own failures (ENOENT, EACCES...) are the caller's to
     * report (exec_errno); a resource the system refused is logged. */
    if (e == EAGAIN || e == ENOMEM || e == EMFILE || e == ENFILE)
        LOGEV(ctx, ERROR, e, "cannot start %s", args->path);
    else if (e)
        LOGEV(ctx, DEBUG, e, "cannot execute %s", args->path);
out:
    for (i = 0; i < 3; i++)
        if (tmpfd[i] >= 0)
            close(tmpfd[i]);
    *exec_errno_r = e;
    return e ? ERROR_FAIL : 0;
}
