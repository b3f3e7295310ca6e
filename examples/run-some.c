/*
 * run-some.c - runs each argument as a shell command, all at once, and
 * prints how each ended: the smallest complete use of xlchild's events.
 *
 *   run-some 'sleep 0.2; exit 3' 'echo hi' 'kill -9 $$'
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <xlchild.h>

int main(int argc, char **argv)
{
    libxl_childproc_result *res = calloc(argc, sizeof *res);
    libxl_ctx *ctx;
    int i, rc, failed = 0;

    if (!res || libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, NULL))
        return 2;
    for (i = 1; i < argc; i++) {
        char *cmd[] = {"sh", "-c", argv[i], NULL};
        libxl_childproc_args a = {.path = "/bin/sh", .argv = cmd};
        libxl_asyncop_how how = {.u.for_event = (libxl_ev_user)i};

        a.timeout_ms = 2000; /* then SIGTERM, SIGKILL after 2 s more */
        rc = libxl_childproc_run(ctx, &a, &res[i], &how);
        if (rc) {
            fprintf(stderr, "run-some: %s: %s\n", argv[i], libxl_strerror(rc));
            return 2;
        }
    }
    for (i = 1; i < argc; i++) {
        libxl_event *ev;
        int k, st;

        libxl_event_wait(ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL);
        k = (int)ev->for_user;
        rc = ev->u.operation_complete.rc;
        st = res[k].status;
        libxl_event_free(ctx, ev);
        if (rc)
            printf("[%d] %-30s %s\n", k, argv[k], libxl_strerror(rc));
        else if (WIFEXITED(st))
            printf("[%d] %-30s exit %d\n", k, argv[k], WEXITSTATUS(st));
        else
            printf("[%d] %-30s signal %d\n", k, argv[k], WTERMSIG(st));
        failed += rc || st;
    }
    libxl_ctx_free(ctx);
    free(res);
    return failed ? 1 : 0;
}
