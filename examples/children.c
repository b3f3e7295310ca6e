/*
 * children.c - the work of the main-loop examples (see children.h).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "children.h"

#define TIMEOUT_MS 300          /* for the sleeps, which must time out */
#define SAFETY_TIMEOUT_MS 20000 /* for the others, which must not */

job jobs[TOTAL];
int finished, n_wrong;
static int started, in_flight;
static int n_exit0, n_exitn, n_timedout;
static const char *prog = "example";

void children_init(const char *name)
{
    prog = name;
}

void job_done(job *j, int rc)
{
    int st = j->result.status;

    in_flight--;
    finished++;
    if (rc != j->want_rc) {
        fprintf(stderr, "%s: child %d (%s): rc %d (%s), wanted %s\n", prog,
                j->index, j->argv[0], rc, libxl_strerror(rc),
                libxl_strerror(j->want_rc));
        n_wrong++;
    } else if (rc == ERROR_TIMEDOUT) {
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM)
            n_timedout++;
        else {
            fprintf(stderr, "%s: child %d timed out, status %#x\n", prog,
                    j->index, st);
            n_wrong++;
        }
    } else if (!WIFEXITED(st) || WEXITSTATUS(st) != j->want_exit) {
        fprintf(stderr, "%s: child %d: status %#x, wanted exit %d\n", prog,
                j->index, st, j->want_exit);
        n_wrong++;
    } else if (j->want_exit == 0) {
        n_exit0++;
    } else {
        n_exitn++;
    }
}

static void job_init(job *j, int i)
{
    j->index = i;
    j->want_rc = 0;
    j->want_exit = 0;
    if (i % 10 == 9) {
        j->argv[0] = "sleep";
        j->argv[1] = "5";
        j->want_rc = ERROR_TIMEDOUT;
    } else if (i % 10 == 3 || i % 10 == 6) {
        j->want_exit = i % 7 + 1;
        snprintf(j->script, sizeof j->script, "exit %d", j->want_exit);
        j->argv[0] = "sh";
        j->argv[1] = "-c";
        j->argv[2] = j->script;
    } else {
        j->argv[0] = "true";
    }
}

void start_more(libxl_ctx *ctx, void (*set_how)(job *j, libxl_asyncop_how *how))
{
    while (started < TOTAL && in_flight < MAX_IN_FLIGHT) {
        job *j = &jobs[started];
        libxl_childproc_args args;
        libxl_asyncop_how how;
        int rc;

        job_init(j, started++);
        memset(&args, 0, sizeof args);
        args.path = j->argv[0]; /* searched in PATH */
        args.argv = j->argv;
        args.timeout_ms =
            j->want_rc == ERROR_TIMEDOUT ? TIMEOUT_MS : SAFETY_TIMEOUT_MS;
        memset(&how, 0, sizeof how);
        set_how(j, &how);
        rc = libxl_childproc_run(ctx, &args, &j->result, &how);
        if (rc) {
            fprintf(stderr, "%s: cannot start child %d: %s\n", prog, j->index,
                    libxl_strerror(rc));
            n_wrong++;
            finished++;
            continue;
        }
        in_flight++;
    }
}

int report(void)
{
    int ok = n_wrong == 0 && finished == TOTAL &&
             n_exit0 + n_exitn + n_timedout == TOTAL;

    printf("%s: %d children: %d exited 0, %d exited 1-7, %d timed out%s\n",
           prog, TOTAL, n_exit0, n_exitn, n_timedout,
           ok ? ": all ok" : ": SOME WRONG");
    return ok ? 0 : 1;
}
