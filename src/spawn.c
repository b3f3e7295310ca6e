/*
 * spawn.c - creating the child of libxl_childproc_run.
 *
 * Everything the child needs is prepared here in the parent, where
 * allocating is allowed: the environment (S6, src/env.c), the program's
 * path (S10), and every fd the child gets.  Each source fd (the caller's
 * stdio fds, the capture and stdin_data pipes, fds[]) is first dup'd,
 * close-on-exec, to a number above every target, so the child's dup2s can
 * never overwrite a source that another dup2 still needs: swaps such as
 * stdout_fd=2/stderr_fd=1 (R0), a child_fd equal to another entry's
 * parent_fd or to a library fd (S4) all work, and the caller's
 * close-on-exec flags do not matter.
 *
 * Then two paths, with the same result for the child:
 *  - posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK)), the default: its
 *    cost does not grow with the parent's memory (R5), it reports exec
 *    errors itself, and POSIX_SPAWN_SETSIGDEF with every signal gives the
 *    child default dispositions (S3);
 *  - fork_replacement (R3), or fork() where posix_spawn lacks an action we
 *    need, then the child side (src/spawn_child.c), which reports the failing
 * step and its errno through a close-on-exec pipe. With a cgroup (S8) the fork
 * path is taken, through clone3 where it can be (see create_child). A script
 * without "#!" fails with ENOEXEC on both (glibc's and musl's posix_spawn do
 * not retry it through /bin/sh, so child_exec does not either).
 */
#include "internal.h"
#include "spawn_plan.h"

#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The one place that chooses how a child is made: the application's
 * fork_replacement (R3), or fork(). */
pid_t libxl__start_fork(const libxl__start *st)
{
    return st->fork_replacement ? st->fork_replacement(st->hooks_user) : fork();
}

extern char **environ;

/* Log lines name the public function the caller called. */
#define RUN_LOG(ctx, lvl, errnoval, ...)                                  \
    libxl__log((ctx), LIBXL_LOG_##lvl, (errnoval), "libxl_childproc_run", \
               __VA_ARGS__)

#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
#define HAVE_ADDCLOSEFROM 1
#endif

static const char *const step_names[] = {
    [STEP_EXEC] = "exec",
    [STEP_SIGNALS] = "resetting the signal dispositions",
    [STEP_SETSID] = "setsid",
    [STEP_SETPGID] = "setpgid",
    [STEP_CHDIR] = "chdir to the cwd",
    [STEP_FDS] = "setting up the fds",
    [STEP_CGROUP] = "entering the cgroup",
};

/* clone3's arguments, as far as CLONE_INTO_CGROUP (Linux 5.7), declared
 * here: <linux/sched.h> clashes with glibc's <sched.h>. */
struct clone3_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
        stack_size, tls, set_tid, set_tid_size, cgroup;
};
#define XL_CLONE_INTO_CGROUP 0x200000000ULL

/* --------------------------------------------------------- parent side */

/* Creates the child of the fork path.  S8: straight into its cgroup with
 * clone3(CLONE_INTO_CGROUP) where the kernel has it (and no
 * fork_replacement must be used, R3); else the child moves itself. */
static pid_t create_child(const libxl__start *st, plan *p)
{
#ifdef SYS_clone3
    if (p->cgfd >= 0 && !st->fork_replacement) {
        struct clone3_args ca;
        long pid;

        memset(&ca, 0, sizeof ca);
        ca.flags = CLONE_VFORK | XL_CLONE_INTO_CGROUP;
        ca.exit_signal = SIGCHLD;
        ca.cgroup = (uint64_t)p->cgfd;
        pid = syscall(SYS_clone3, &ca, sizeof ca);
        if (pid >= 0 || (errno != ENOSYS && errno != E2BIG && errno != EINVAL))
            return (pid_t)pid; /* a cgroup that cannot be used: no child */
    }
#endif
    p->cg_move = p->cgfd >= 0;
    return libxl__start_fork(st);
}

static int spawn_fork(libxl_ctx *ctx, const libxl__start *st, plan *p,
                      pid_t *pid_r, int *step_r)
{
    sigset_t all, old;
    int ep[2], e = 0, rep[2];
    ssize_t n;
    pid_t pid;

    if (pipe2(ep, O_CLOEXEC))
        return errno;
    /* Above every fd the child sets up, and so never at 0-2 (the caller
     * may have them closed) nor overwritten by the child's dup2s (S3). */
    p->errfd = fcntl(ep[1], F_DUPFD_CLOEXEC, p->max_target + 1);
    e = errno;
    close(ep[1]);
    if (p->errfd < 0) {
        close(ep[0]);
        return e;
    }
    /* All signals blocked across the fork: a signal arriving in the child
     * before child_exec has reset the dispositions must not run one of the
     * parent's handlers there (S3). */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid = create_child(st, p);
    if (pid == 0) {
        close(ep[0]);
        libxl__spawn_child_exec(p);
    }
    e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(p->errfd);
    if (pid < 0) {
        close(ep[0]);
        if (p->cgfd >= 0 && !p->cg_move) {
            *step_r = STEP_CGROUP; /* clone3 refused the cgroup */
        } else {
            RUN_LOG(ctx, ERROR, e, "cannot fork");
        }
        return e;
    }
    *pid_r = pid;
    /* EOF: exec succeeded (the write end was close-on-exec). */
    do
        n = read(ep[0], rep, sizeof rep);
    while (n < 0 && errno == EINTR);
    close(ep[0]);
    if (n != sizeof rep)
        return 0;
    *step_r = rep[0];
    return rep[1] ? rep[1] : EIO;
}

/* Every signal, for POSIX_SPAWN_SETSIGDEF.  glibc's sigfillset leaves out
 * its two internal signals (32 and 33, below SIGRTMIN), which its
 * posix_spawn then sets to SIG_IGN in the child, where they would stay
 * ignored across the exec, in a program that may use them (S3): their
 * bits are set by hand, glibc's posix_spawn reads the set bit by bit. */
static void sigdefault_all(sigset_t *set)
{
    sigfillset(set);
#ifdef __GLIBC__
    {
        unsigned long *w = (unsigned long *)(void *)set;
        const unsigned bits = 8 * sizeof *w;
        int sig;

        for (sig = 32; sig < SIGRTMIN; sig++)
            w[(unsigned)(sig - 1) / bits] |= 1ul
                                             << ((unsigned)(sig - 1) % bits);
    }
#endif
}

static int spawn_posix(const plan *p, pid_t *pid_r)
{
    const libxl_childproc_args *args = p->args;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t empty, dfl;
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    int i, r;

    if ((r = posix_spawn_file_actions_init(&fa)))
        return r;
    if ((r = posix_spawnattr_init(&at)))
        goto out_fa;
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCHDIR_NP
    if (args->cwd && (r = posix_spawn_file_actions_addchdir_np(&fa, args->cwd)))
        goto out;
#endif
    for (i = 0; i < p->nmoves; i++)
        if ((r = posix_spawn_file_actions_adddup2(&fa, p->moves[i].src,
                                                  p->moves[i].target)))
            goto out;
#ifdef HAVE_ADDCLOSEFROM
    if (args->close_other_fds) {
        int fd, j;

        for (fd = 3; fd <= p->max_target; fd++) {
            for (j = 0; j < p->nmoves && p->moves[j].target != fd; j++)
                ;
            if (j == p->nmoves &&
                (r = posix_spawn_file_actions_addclose(&fa, fd)))
                goto out;
        }
        if ((r = posix_spawn_file_actions_addclosefrom_np(&fa,
                                                          p->max_target + 1)))
            goto out;
    }
#endif
    /* S3: every signal at its default, not only those the library
     * touched (glibc resets caught ones anyway, not ignored ones). */
    sigemptyset(&empty);
    sigdefault_all(&dfl);
    posix_spawnattr_setsigmask(&at, &empty);
    posix_spawnattr_setsigdefault(&at, &dfl);
    if (args->new_session) {
        flags |= POSIX_SPAWN_SETSID;
    } else if (args->new_process_group) {
        flags |= POSIX_SPAWN_SETPGROUP;
        posix_spawnattr_setpgroup(&at, 0);
    }
    posix_spawnattr_setflags(&at, flags);
    if (p->search)
        r = posix_spawnp(pid_r, p->prog, &fa, &at, args->argv, p->envp);
    else
        r = posix_spawn(pid_r, p->prog, &fa, &at, args->argv, p->envp);
out:
    posix_spawnattr_destroy(&at);
out_fa:
    posix_spawn_file_actions_destroy(&fa);
    return r;
}

/* S10 for the posix_spawn path when the child's PATH is not the caller's:
 * posix_spawnp would search the caller's, so the program is looked up here
 * in the child's, as execvp would.  0 with *found (malloc'd), or the errno
 * execvp would give. */
static int path_lookup(const char *prog, const char *search, char **found)
{
    const char *dir = search, *end;
    size_t flen = strlen(prog);
    bool eacces = false;

    for (;; dir = end + 1) {
        size_t dlen;
        char *cand;
        struct stat sb;

        end = strchr(dir, ':');
        if (!end)
            end = dir + strlen(dir);
        dlen = (size_t)(end - dir);
        cand = malloc(dlen + flen + 2);
        if (!cand)
            return ENOMEM;
        memcpy(cand, dir, dlen);
        if (dlen)
            cand[dlen++] = '/';
        memcpy(cand + dlen, prog, flen + 1);
        if (stat(cand, &sb) == 0) {
            if (S_ISREG(sb.st_mode) && access(cand, X_OK) == 0) {
                *found = cand;
                return 0;
            }
            eacces = true;
        } else if (errno == EACCES) {
            eacces = true;
        }
        free(cand);
        if (!*end)
            break;
    }
    return eacces ? EACCES : ENOENT;
}

/* The PATH of envp, or NULL. */
static const char *env_path(char *const *envp)
{
    for (; envp && *envp; envp++)
        if (!strncmp(*envp, "PATH=", 5))
            return *envp + 5;
    return NULL;
}

int libxl__spawn(libxl_ctx *ctx, const libxl__start *st,
                 const libxl_childproc_args *args, libxl__spawn_io *io,
                 pid_t *pid_r, int *exec_errno_r)
{
    const int stdio[3] = {args->stdin_fd, args->stdout_fd, args->stderr_fd};
    int child_end[3] = {-1, -1, -1};
    plan p;
    char **envp_alloc = NULL, *found = NULL;
    bool use_fork = st->fork_replacement != NULL, env_edited;
    int i, e = 0, step = STEP_FDS, rc;

    memset(&p, 0, sizeof p);
    p.args = args;
    p.prog = args->path;
    p.errfd = -1;
    p.cgfd = -1;
    *pid_r = 0;
    for (i = 0; i < 3; i++)
        io->parent_fd[i] = -1;

#ifndef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCHDIR_NP
    use_fork = use_fork || args->cwd;
#endif
#ifndef HAVE_ADDCLOSEFROM
    use_fork = use_fork || args->close_other_fds;
#endif
    if (args->cgroup) {
        use_fork = true; /* posix_spawn has no cgroup attribute */
        p.cgfd = open(args->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (p.cgfd < 0) {
            e = errno;
            step = STEP_CGROUP;
            goto out;
        }
    }
    rc = libxl__env_build(ctx, args, &envp_alloc);
    if (rc) {
        e = ENOMEM;
        goto out;
    }
    env_edited = envp_alloc != NULL;
    p.envp = envp_alloc ? envp_alloc : args->envp ? args->envp : environ;

    /* S10: the child's PATH, else the caller's, else the default. */
    if (!strchr(args->path, '/')) {
        const char *path = env_edited || args->envp ? env_path(p.envp) : NULL;
        const char *callers = getenv("PATH");

        if (!path)
            path = callers;
        if (!path || !*path)
            path = "/bin:/usr/bin";
        p.search = path;
        /* posix_spawnp searches the caller's PATH (or the same default). */
        if (!use_fork &&
            strcmp(path, callers && *callers ? callers : "/bin:/usr/bin")) {
            e = path_lookup(args->path, path, &found);
            if (e) {
                step = STEP_EXEC;
                goto out;
            }
            p.prog = found;
            p.search = NULL;
        }
    }

    /* The pipes: stdin_data's read end and the captures' write ends go to
     * the child; the parent's ends are non-blocking (drained in calls on
     * the ctx, never blocking one). */
    for (i = 0; i < 3; i++) {
        int pp[2];
        bool want = i == 0 ? io->stdin_pipe
                           : (io->capture & (i == 1 ? LIBXL_CAPTURE_STDOUT
                                                    : LIBXL_CAPTURE_STDERR));

        if (!want)
            continue;
        if (pipe2(pp, O_CLOEXEC)) {
            e = errno;
            RUN_LOG(ctx, ERROR, errno, "cannot make a pipe");
            goto out;
        }
        child_end[i] = pp[i == 0 ? 0 : 1];
        io->parent_fd[i] = pp[i == 0 ? 1 : 0];
        fcntl(io->parent_fd[i], F_SETFL, O_NONBLOCK);
    }

    p.max_target = 2;
    for (i = 0; i < args->nr_fds; i++)
        if (args->fds[i].child_fd > p.max_target)
            p.max_target = args->fds[i].child_fd;
    p.moves = calloc((size_t)args->nr_fds + 3, sizeof *p.moves);
    if (!p.moves) {
        e = ENOMEM;
        goto out;
    }
    for (i = 0; i < 3 + args->nr_fds; i++) {
        int src = i < 3 ? (child_end[i] >= 0 ? child_end[i] : stdio[i])
                        : args->fds[i - 3].parent_fd;
        int fd;

        if (i < 3 && src <= 0)
            continue; /* inherit (R0) */
        fd = fcntl(src, F_DUPFD_CLOEXEC, p.max_target + 1);
        if (fd < 0) {
            e = errno;
            RUN_LOG(ctx, ERROR, errno, "cannot dup fd %d above %d", src,
                    p.max_target);
            goto out;
        }
        p.moves[p.nmoves].src = fd;
        p.moves[p.nmoves].target = i < 3 ? i : args->fds[i - 3].child_fd;
        p.nmoves++;
    }

    if (use_fork) {
        e = spawn_fork(ctx, st, &p, pid_r, &step);
    } else {
        e = spawn_posix(&p, pid_r);
        step = STEP_EXEC;
        /* posix_spawn does not say which step failed: a cwd that cannot be
         * entered is the likely one when there is a cwd. */
        if (e && args->cwd && access(args->cwd, X_OK))
            step = STEP_CHDIR;
    }
out:
    /* The program's own failures (ENOENT, EACCES...) are the caller's to
     * report (exec_errno); a resource the system refused is logged. */
    if (e == EAGAIN || e == ENOMEM || e == EMFILE || e == ENFILE)
        RUN_LOG(ctx, ERROR, e, "cannot start %s: %s failed", args->path,
                step_names[step]);
    else if (e)
        RUN_LOG(ctx, DEBUG, e, "cannot start %s: %s failed", args->path,
                step_names[step]);
    for (i = 0; i < p.nmoves; i++)
        close(p.moves[i].src);
    free(p.moves);
    for (i = 0; i < 3; i++) {
        if (child_end[i] >= 0)
            close(child_end[i]);
        if (e && *pid_r <= 0 && io->parent_fd[i] >= 0) {
            close(io->parent_fd[i]);
            io->parent_fd[i] = -1;
        }
    }
    if (p.cgfd >= 0)
        close(p.cgfd);
    free(found);
    free(envp_alloc);
    *exec_errno_r = e;
    return e ? ERROR_FAIL : 0;
}
