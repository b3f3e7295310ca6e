/*
 * children.h - the work both main-loop examples (glib-loop.c, uv-loop.c)
 * give the library: 300 children, at most 30 at a time, /bin/true,
 * `sh -c 'exit N'`, and every tenth a `sleep 5` whose 300 ms timeout must
 * kill it; and the check that each ended as it should.  How the library is
 * driven from the loop, which is what the examples show, is all in them.
 */
#ifndef XLCHILD_EXAMPLES_CHILDREN_H
#define XLCHILD_EXAMPLES_CHILDREN_H

#include <xlchild.h>

#define TOTAL 300
#define MAX_IN_FLIGHT 30

typedef struct {
    int index;
    char *argv[4];
    char script[32];
    int want_rc;   /* 0 or ERROR_TIMEDOUT */
    int want_exit; /* exit status when want_rc is 0 */
    libxl_childproc_result result;
} job;

extern job jobs[TOTAL];
extern int finished; /* completed, or failed to start */
extern int n_wrong;  /* ended otherwise than they should have */

/* Names the program in the messages. */
void children_init(const char *prog);
/* Starts children until MAX_IN_FLIGHT run or all TOTAL have started;
 * set_how fills in how j's completion is to be delivered. */
void start_more(libxl_ctx *ctx,
                void (*set_how)(job *j, libxl_asyncop_how *how));
/* j completed with rc: checks rc and its wait status. */
void job_done(job *j, int rc);
/* Prints the one-line verdict; returns the exit status (0: all ok). */
int report(void);

#endif
