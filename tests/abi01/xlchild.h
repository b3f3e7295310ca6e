/*
 * xlchild.h as released in 0.1, kept byte for byte but for this comment:
 * tests/abi01/prog01.c is built against it to check rule S0 (a program
 * built against 0.1 keeps working with the new library).  Do not update.
 *
 * xlchild.h - libxl's child-process and event API, as a standalone library.
 *
 * Everything public is named libxl_*, LIBXL_* or ERROR_*.  The contract is
 * libxl's (Xen 4.17 libxl_event.h plus the fork/wait proposal); where xlchild
 * differs, the difference is stated next to the declaration.
 *
 * Threading model, in one paragraph: one process-wide reaper thread (created
 * on first need, with every signal blocked) collects child statuses and
 * queues them to the owning ctx.  Every callback the library makes
 * (completions, death callbacks, reaped_callback, event_occurs) runs on an
 * application thread that is inside a libxl call on that ctx -- never on the
 * reaper, never in a signal handler -- with no library lock held.  Callbacks
 * may call any libxl function, including on the same ctx, but must not free
 * the ctx they were called for.
 */
#ifndef XLCHILD_H
#define XLCHILD_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* 1. Errors: negative ints, with Xen's values.                        */

#define ERROR_NONSPECIFIC -1
#define ERROR_VERSION -2
#define ERROR_FAIL -3
#define ERROR_NI -4
#define ERROR_NOMEM -5
#define ERROR_INVAL -6
#define ERROR_TIMEDOUT -9
#define ERROR_NOT_READY -11
#define ERROR_OSEVENT_REG_FAIL -12
#define ERROR_BUFFERFULL -13
#define ERROR_UNKNOWN_CHILD -14
#define ERROR_ABORTED -22
#define ERROR_NOTFOUND -23

/* A static, non-empty description of any int (a generic one for unknowns). */
const char *libxl_strerror(int rc);

/* ------------------------------------------------------------------ */
/* 2. Contexts and logging.                                            */

typedef struct libxl__ctx libxl_ctx;

#define LIBXL_VERSION 0

typedef enum {
    LIBXL_LOG_DEBUG = 1,
    LIBXL_LOG_INFO,
    LIBXL_LOG_WARN,
    LIBXL_LOG_ERROR,
    LIBXL_LOG_CRITICAL
} libxl_log_level;

typedef struct libxl_logger libxl_logger;
struct libxl_logger { /* an application may supply its own */
    void (*vmessage)(libxl_logger *lg, libxl_log_level level, int errnoval,
                     const char *context, const char *format, va_list al);
    void (*destroy)(libxl_logger *lg);
};

/* Lines go to f (one fputs per line, so threads never interleave) when
 * level >= min_level.  NULL on allocation failure.  A logger (this one or
 * the application's) may be called from any thread, the library's reaper
 * included, with library locks held: it must not call into libxl, and
 * should not block for long. */
libxl_logger *libxl_logger_stdio_new(FILE *f, libxl_log_level min_level);
void libxl_logger_destroy(libxl_logger *lg); /* NULL is fine */

/*
 * version must be LIBXL_VERSION (else ERROR_VERSION), flags 0 (else
 * ERROR_INVAL).  lg == NULL: WARN and above go to stderr, prefixed
 * "xlchild: ".  The logger is not owned by the ctx and must outlive it.
 * Blocks SIGCHLD in the calling thread (see libxl_childproc_setmode).
 */
int libxl_ctx_alloc(libxl_ctx **pctx, int version, unsigned flags,
                    libxl_logger *lg);

/* NULL is fine.  Children still running are reaped later by the library
 * and their statuses discarded; queued events are freed; operations in
 * progress are dropped without their callbacks.  Threads inside calls on
 * this ctx are let go first: callbacks running are waited for, threads in
 * libxl_event_wait or a synchronous operation return ERROR_INVAL or
 * ERROR_FAIL.  Called from a callback made for this ctx, it is refused
 * (ERROR_INVAL, logged).  No call on ctx may start once it has begun. */
int libxl_ctx_free(libxl_ctx *ctx);

/* ------------------------------------------------------------------ */
/* 3. Events.                                                          */

typedef uint64_t libxl_ev_user;

typedef enum libxl_event_type {
    LIBXL_EVENT_TYPE_OPERATION_COMPLETE = 4
} libxl_event_type;

#define LIBXL_EVENTMASK_ALL (~(unsigned long)0)

typedef struct libxl_event {
    /* The library's own link fields (layout as Xen's XEN_TAILQ_ENTRY). */
    struct {
        struct libxl_event *tqe_next;
        struct libxl_event **tqe_prev;
    } link;
    uint64_t for_user;
    libxl_event_type type;
    union {
        struct {
            int rc;
        } operation_complete;
    } u;
} libxl_event;

/* Non-zero if the event is wanted.  Called with a library lock held: it
 * must not call into libxl. */
typedef int libxl_event_predicate(const libxl_event *, void *user);

/* E1: ERROR_NOT_READY when no matching event is queued.  Processes child
 * statuses already collected first (so callbacks may run); timeouts fire
 * in libxl_event_wait, synchronous calls, afterpoll and occurred_timeout,
 * as in libxl. */
int libxl_event_check(libxl_ctx *ctx, libxl_event **event_r, uint64_t typemask,
                      libxl_event_predicate *predicate, void *predicate_user);

/* E2: blocks (on a condition variable) until a matching event exists,
 * processing child statuses and timeouts meanwhile.  Any number of threads
 * may wait on one ctx; each event goes to exactly one of them. */
int libxl_event_wait(libxl_ctx *ctx, libxl_event **event_r, uint64_t typemask,
                     libxl_event_predicate *predicate, void *predicate_user);

void libxl_event_free(libxl_ctx *ctx, libxl_event *event); /* NULL is fine */

typedef struct libxl_event_hooks {
    uint64_t event_occurs_mask;
    void (*event_occurs)(void *user, libxl_event *event); /* owns event */
    void (*disaster)(void *user, libxl_event_type type, const char *msg,
                     int errnoval);
} libxl_event_hooks;

/* Events whose type bit is in event_occurs_mask go to event_occurs instead
 * of the queue.  disaster == NULL: disasters are logged at CRITICAL (xlchild
 * does not exit the process, unlike libxl).  hooks is copied. */
void libxl_event_register_callbacks(libxl_ctx *ctx,
                                    const libxl_event_hooks *hooks, void *user);

/* ------------------------------------------------------------------ */
/* 4. Asynchronous operations.                                         */

typedef struct {
    void (*callback)(libxl_ctx *ctx, int rc, void *for_callback);
    union {
        libxl_ev_user for_event;
        void *for_callback;
    } u;
} libxl_asyncop_how;

/* Finds the operation in progress whose ao_how equals *how (how == NULL:
 * the first synchronous one) and cuts it short.  0: found, it will complete
 * with ERROR_ABORTED; ERROR_NOTFOUND; ERROR_ABORTED: already asked. */
int libxl_ao_abort(libxl_ctx *ctx, const libxl_asyncop_how *how);

/* ------------------------------------------------------------------ */
/* 5. Running children.                                                */

typedef struct libxl_childproc_args { /* extensible: zero-initialise */
    const char *path;  /* program; searched in PATH when it has no '/' */
    char *const *argv; /* argv[0] included, NULL-terminated */
    char *const *envp; /* NULL: the caller's environ */
    const char *cwd;   /* NULL: unchanged */
    int stdin_fd, stdout_fd, stderr_fd; /* 0 or -1: inherit; else dup'd */
    int timeout_ms;                     /* <= 0: none */
    int kill_grace_ms;     /* after timeout/abort: SIGTERM, then SIGKILL after
                              this; <= 0: 2000 */
    int new_process_group; /* non-zero: own group; kills go to the group */
} libxl_childproc_args;

typedef struct libxl_childproc_result { /* extensible */
    pid_t pid;
    int status;           /* as from waitpid; -1 (no wait status) when the
                             status was reaped behind the library's back */
    int exec_errno;       /* non-zero when the program could not be started */
    struct rusage rusage; /* the child's own usage, as wait4 reports it
                             (zero in owner_mainloop: the application
                             reaps, and libxl_childproc_reaped takes no
                             rusage) */
} libxl_childproc_result;

/*
 * Completes with 0 once the child has been reaped, whatever its status;
 * ERROR_TIMEDOUT when killed for its timeout; ERROR_ABORTED when killed by
 * libxl_ao_abort; ERROR_FAIL with exec_errno set when the program could not
 * be started, or with status -1 when its status was reaped behind the
 * library's back (logged with its pid).  *result_out (may be NULL) is filled in
 * before the completion is delivered, so with an ao_how it must stay valid
 * until then.  Bad arguments return ERROR_INVAL at once and start nothing.
 */
int libxl_childproc_run(libxl_ctx *ctx, const libxl_childproc_args *args,
                        libxl_childproc_result *result_out,
                        const libxl_asyncop_how *ao_how);

typedef void libxl_childproc_death_cb(libxl_ctx *ctx, pid_t pid, int status,
                                      void *user);

/* Returns the pid in the parent, 0 in the child, or ERROR_FAIL (errno kept).
 * death (may be NULL) is called exactly once with the wait status, or with
 * -1 if the status was reaped behind the library's back (logged). */
pid_t libxl_childproc_fork(libxl_ctx *ctx, libxl_childproc_death_cb *death,
                           void *user);

/* ------------------------------------------------------------------ */
/* 6. Who reaps: the SIGCHLD owner modes.                              */

typedef enum {
    libxl_sigchld_owner_libxl,                       /* 0: default */
    libxl_sigchld_owner_mainloop,                    /* 1 */
    libxl_sigchld_owner_libxl_always,                /* 2 */
    libxl_sigchld_owner_libxl_always_selective_reap, /* 3 */
} libxl_sigchld_owner;

typedef struct {
    libxl_sigchld_owner chldowner;
    pid_t (*fork_replacement)(void *user); /* must not call into libxl */
    union {                                /* both names of the same hook */
        int (*reaped_callback)(pid_t, int status, void *user);
        int (*childproc_exited_callback)(pid_t, int status, void *user);
    };
} libxl_childproc_hooks;

/* hooks == NULL means owner_libxl with no hooks.  hooks is copied.  Refused
 * (ERROR logged, mode unchanged) for a bad chldowner, a combination M5/M6
 * forbid, or while the ctx has children. */
void libxl_childproc_setmode(libxl_ctx *ctx, const libxl_childproc_hooks *hooks,
                             void *user);
int libxl_childproc_exited(libxl_ctx *ctx, pid_t pid, int status);
int libxl_childproc_reaped(libxl_ctx *ctx, pid_t pid, int status);
void libxl_childproc_sigchld_occurred(libxl_ctx *ctx);
void libxl_postfork_child_noexec(libxl_ctx *ctx);

/* ------------------------------------------------------------------ */
/* 8. Main-loop integration.                                           */

struct pollfd;

int libxl_osevent_beforepoll(libxl_ctx *ctx, int *nfds_io, struct pollfd *fds,
                             int *timeout_upd, struct timeval now);
void libxl_osevent_afterpoll(libxl_ctx *ctx, int nfds, const struct pollfd *fds,
                             struct timeval now);

typedef struct libxl_osevent_hooks {
    int (*fd_register)(void *user, int fd, void **for_app_registration_out,
                       short events, void *for_libxl);
    int (*fd_modify)(void *user, int fd, void **for_app_registration_update,
                     short events);
    void (*fd_deregister)(void *user, int fd, void *for_app_registration);
    int (*timeout_register)(void *user, void **for_app_registration_out,
                            struct timeval abs, void *for_libxl);
    int (*timeout_modify)(void *user, void **for_app_registration_update,
                          struct timeval abs);
    void (*timeout_deregister)(void *user, void *for_app_registration);
} libxl_osevent_hooks;

/* Hooks may be called with library locks held: they must not call into
 * libxl (see xlchild(7) for the lock order).  hooks is copied. */
void libxl_osevent_register_hooks(libxl_ctx *ctx,
                                  const libxl_osevent_hooks *hooks, void *user);
void libxl_osevent_occurred_fd(libxl_ctx *ctx, void *for_libxl, int fd,
                               short events, short revents);
void libxl_osevent_occurred_timeout(libxl_ctx *ctx, void *for_libxl);

#ifdef __cplusplus
}
#endif

#endif /* XLCHILD_H */
