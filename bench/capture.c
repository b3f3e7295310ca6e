/*
 * capture.c - xlbench-capture: the W6 row of make bench, captured output.
 *
 * N synchronous runs, one after the other, of `head -c SIZE /dev/zero`
 * with its standard output captured into memory, by one of:
 *   -m raw      posix_spawn with the pipe's write end as fd 1, a read loop
 *               into a growing buffer, waitpid: the floor;
 *   -m xlchild  libxl_childproc_run with capture = LIBXL_CAPTURE_STDOUT;
 *   -m glib     g_spawn_sync with standard_output (when built with GLib).
 * Every run is checked (exit 0, exactly SIZE bytes, all zero).  Prints one
 * line: RESULT mech=M n=N size=SIZE mibps=... (MiB captured per second,
 * over the whole loop) and exits 0; a failed check prints FAIL and exits 2.
 *   xlbench-capture -m raw|xlchild|glib [-n N] [-s SIZE] [-w WATCHDOG_S]
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xlchild.h>
#ifdef XLBENCH_HAVE_GLIB
#include <glib.h>
#endif

extern char **environ;

static size_t size = 1 << 20;
static char sizearg[32];

static void fail(const char *what)
{
    printf("FAIL %s\n", what);
    exit(2);
}

static void check(const char *buf, size_t len, int status)
{
    size_t i;

    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail("child status");
    if (len != size)
        fail("length");
    for (i = 0; i < len; i++)
        if (buf[i])
            fail("content");
}

static void run_raw(void)
{
    char *argv[] = {"head", "-c", sizearg, "/dev/zero", NULL};
    posix_spawn_file_actions_t fa;
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    int p[2], st;
    pid_t pid;

    if (!buf || pipe2(p, O_CLOEXEC))
        fail("pipe");
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    if (posix_spawn(&pid, "/usr/bin/head", &fa, NULL, argv, environ))
        fail("posix_spawn");
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    for (;;) {
        ssize_t n;

        if (len == cap && !(buf = realloc(buf, cap *= 2)))
            fail("realloc");
        n = read(p[0], buf + len, cap - len);
        if (n > 0)
            len += (size_t)n;
        else if (n == 0)
            break;
        else if (errno != EINTR)
            fail("read");
    }
    close(p[0]);
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            fail("waitpid");
    check(buf, len, st);
    free(buf);
}

static libxl_ctx *ctx;

static void run_xlchild(void)
{
    char *argv[] = {"head", "-c", sizearg, "/dev/zero", NULL};
    libxl_childproc_args a;
    libxl_childproc_result r;

    memset(&a, 0, sizeof a);
    a.path = "/usr/bin/head";
    a.argv = argv;
    a.capture = LIBXL_CAPTURE_STDOUT;
    a.capture_max = size;
    if (libxl_childproc_run(ctx, &a, &r, NULL))
        fail("libxl_childproc_run");
    check(r.out, r.out_len, r.status);
    libxl_childproc_result_dispose(&r);
}

#ifdef XLBENCH_HAVE_GLIB
static void run_glib(void)
{
    char *argv[] = {"/usr/bin/head", "-c", sizearg, "/dev/zero", NULL};
    gchar *out = NULL;
    gint st;

    if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL,
                      &st, NULL))
        fail("g_spawn_sync");
    /* g_spawn_sync gives no length, and the bytes are NULs: the status is
     * checked, and that there is a buffer. */
    if (!out || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail("child status");
    g_free(out);
}
#endif

int main(int argc, char **argv)
{
    const char *mech = "xlchild";
    void (*run)(void) = NULL;
    struct timespec t0, t1;
    int n = 200, i, c;
    double s;

    while ((c = getopt(argc, argv, "m:n:s:w:")) != -1) {
        switch (c) {
        case 'm': mech = optarg; break;
        case 'n': n = atoi(optarg); break;
        case 's': size = (size_t)atol(optarg); break;
        case 'w': alarm((unsigned)atoi(optarg)); break;
        default: return 1;
        }
    }
    snprintf(sizearg, sizeof sizearg, "%zu", size);
    if (!strcmp(mech, "raw")) {
        run = run_raw;
    } else if (!strcmp(mech, "xlchild")) {
        if (libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, NULL))
            fail("libxl_ctx_alloc");
        run = run_xlchild;
#ifdef XLBENCH_HAVE_GLIB
    } else if (!strcmp(mech, "glib")) {
        run = run_glib;
#endif
    } else {
        fprintf(stderr, "xlbench-capture: no mechanism %s\n", mech);
        return 1;
    }
    run(); /* warm-up: page cache, first-use allocations */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < n; i++)
        run();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    s = (double)(t1.tv_sec - t0.tv_sec) +
        (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("RESULT mech=%s n=%d size=%zu mibps=%.1f\n", mech, n, size,
           (double)n * (double)size / 1048576.0 / s);
    if (ctx)
        libxl_ctx_free(ctx);
    return 0;
}
