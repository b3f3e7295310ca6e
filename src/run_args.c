/*
 * run_args.c - the checks of libxl_childproc_run's arguments (R0, R1 and
 * the spawning rules S1-S10): each bad one is refused with ERROR_INVAL by
 * the caller and named in one log line, before anything is started.
 */
#include "internal.h"

#include <fcntl.h>

static bool fd_open(int fd)
{
    return fd >= 0 && fcntl(fd, F_GETFD) != -1;
}

/* An argument check of libxl_childproc_run: the log line names the
 * function and the bad value, as the caller wrote them. */
#define RUN_CHECK(ctx, cond, ...)                                         \
    do {                                                                  \
        if (!(cond)) {                                                    \
            libxl__log((ctx), LIBXL_LOG_ERROR, -1, "libxl_childproc_run", \
                       __VA_ARGS__);                                      \
            return false;                                                 \
        }                                                                 \
    } while (0)

static bool stdio_arg_ok(libxl_ctx *ctx, const char *name, int fd)
{
    RUN_CHECK(ctx, fd == 0 || fd == -1 || (fd > 0 && fd_open(fd)),
              "%s %d is not open", name, fd);
    return true;
}

bool libxl__run_args_ok(libxl_ctx *ctx, const libxl_childproc_args *args)
{
    int i, j;

    RUN_CHECK(ctx, args, "args is NULL");
    RUN_CHECK(ctx, args->path && args->path[0], "path is %s",
              args->path ? "empty" : "NULL");
    RUN_CHECK(ctx, args->argv, "argv is NULL");
    RUN_CHECK(ctx, args->argv[0], "argv is empty (argv[0] is NULL)");
    if (!stdio_arg_ok(ctx, "stdin_fd", args->stdin_fd) ||
        !stdio_arg_ok(ctx, "stdout_fd", args->stdout_fd) ||
        !stdio_arg_ok(ctx, "stderr_fd", args->stderr_fd))
        return false;
    RUN_CHECK(ctx, args->nr_fds >= 0, "nr_fds %d is negative", args->nr_fds);
    RUN_CHECK(ctx, args->fds || args->nr_fds == 0, "fds is NULL with nr_fds %d",
              args->nr_fds);
    for (i = 0; i < args->nr_fds; i++) {
        const libxl_childproc_fd *f = &args->fds[i];

        RUN_CHECK(ctx, f->child_fd >= 3, "fds[%d].child_fd %d is below 3", i,
                  f->child_fd);
        RUN_CHECK(ctx, fd_open(f->parent_fd),
                  "fds[%d].parent_fd %d is not open", i, f->parent_fd);
        for (j = 0; j < i; j++)
            RUN_CHECK(ctx, args->fds[j].child_fd != f->child_fd,
                      "fds[%d].child_fd %d is also fds[%d]'s", i, f->child_fd,
                      j);
    }
    RUN_CHECK(ctx,
              !(args->capture & ~(LIBXL_CAPTURE_STDOUT | LIBXL_CAPTURE_STDERR)),
              "capture 0x%x has unknown bits", args->capture);
    RUN_CHECK(ctx,
              !(args->capture & LIBXL_CAPTURE_STDOUT) || args->stdout_fd == 0 ||
                  args->stdout_fd == -1,
              "capture of stdout with stdout_fd %d", args->stdout_fd);
    RUN_CHECK(ctx,
              !(args->capture & LIBXL_CAPTURE_STDERR) || args->stderr_fd == 0 ||
                  args->stderr_fd == -1,
              "capture of stderr with stderr_fd %d", args->stderr_fd);
    RUN_CHECK(ctx,
              !args->stdin_data || args->stdin_fd == 0 || args->stdin_fd == -1,
              "stdin_data with stdin_fd %d", args->stdin_fd);
    RUN_CHECK(ctx, args->stdin_data || !args->stdin_len,
              "stdin_len %zu with no stdin_data", args->stdin_len);
    if (!libxl__env_args_ok(ctx, args))
        return false;
    RUN_CHECK(ctx, !args->cgroup || args->cgroup[0], "cgroup is empty");
    return true;
}
