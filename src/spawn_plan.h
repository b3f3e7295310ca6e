/*
 * spawn_plan.h - what the two sides of a start share (src/spawn.c, the parent;
 * src/spawn_child.c, the child between fork and exec).  Private to them.
 */
#ifndef XLCHILD_SPAWN_PLAN_H
#define XLCHILD_SPAWN_PLAN_H

#include "internal.h"

/* What the child is to do, prepared in the parent. */
typedef struct {
    const libxl_childproc_args *args;
    const char *prog;   /* what to exec: args->path, or where S10 found it */
    const char *search; /* NULL, or the PATH child_exec searches prog in */
    char *const *envp;  /* the child's environment */
    int nmoves;
    struct {
        int src;    /* close-on-exec, above every target */
        int target; /* 0-2 or a fds[] child_fd */
    } * moves;
    int max_target; /* >= 2 */
    int errfd;      /* fork path: the exec-error pipe's write end */
    int cgfd;       /* S8: the cgroup directory, or -1 */
    bool cg_move;   /* S8 without clone3: the child moves itself there */
} plan;

/* The steps of the child side, for the log line of a failed start. */
enum {
    STEP_EXEC,
    STEP_SIGNALS,
    STEP_SETSID,
    STEP_SETPGID,
    STEP_CHDIR,
    STEP_FDS,
    STEP_CGROUP
};

/* The fork path's child: sets itself up as p says and execs; on failure
 * writes {step, errno} to p->errfd and exits 127.  Async-signal-safe. */
void libxl__spawn_child_exec(const plan *p) __attribute__((noreturn));

#endif
