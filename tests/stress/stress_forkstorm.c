/*
 * stress_forkstorm.c - fork storms (reliability suite): for a while (30 s
 * in the full form, 2.5 s in the short one, xls_scale), threads fork at
 * full speed, with plain fork() and with libxl_childproc_fork, while other
 * threads run children on shared ctxs (runs completed by event and by
 * callback, libxl_childproc_fork children), sit in libxl_event_wait, and
 * make and free ctxs in a loop (some freed with a child still running).
 *
 * Every fork child uses the library itself: a ctx of its own (half of them
 * after libxl_postfork_child_noexec on an inherited ctx, half of them in
 * the selective mode), a synchronous run, a run completed by event, a
 * libxl_childproc_fork grandchild; it exits 42 only if all of that worked
 * (a distinct code per failed step otherwise).  The parent checks every
 * child's status through the ledger: the fork children's, the runs', the
 * churned ctxs' - each reported exactly once, with its status.
 *
 * Proves (rules F1-F3, M3/M5/M6 under fork load): no deadlock in the
 * parent or a child (the watchdog; a child that hangs is never reported),
 * nothing lost or reported twice, no zombie left once every ctx is freed,
 * nothing logged at ERROR or above.  Three cases, by the shared ctxs'
 * mode: owner_libxl (the application's plain fork children are reaped by
 * whoever comes first: the application's waitpid(pid) or the library,
 * through reaped_callback - exactly once either way), selective_reap (the
 * application always reaps them; the library never touches them) and
 * libxl_always beside owner_libxl (the library always reaps them).
 *
 * Under ASan/TSan the fork children only exit: GCC 12's sanitizer
 * runtimes are not fork-safe in a multi-threaded parent (see
 * XLT_UNDER_SANITIZER in tests/harness.h); the parent's side runs in
 * full, and the fork children's use of the library runs in the plain and
 * valgrind builds.  The output says so.
 */
#define _GNU_SOURCE
#include "stress.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NSHARED 2
#define WAITERS_PER_CTX 2
#define NWAITERS (NSHARED * WAITERS_PER_CTX)
#define NPLAIN 2           /* threads forking with fork() */
#define NLIBFORK 2         /* threads forking with libxl_childproc_fork */
#define NRUNNERS 2         /* threads running children on the shared ctxs */
#define MAX_OUTSTANDING 32 /* fork children alive per kind, to bound load */
#define OK_CODE 42
#define BATCH 7 /* children a runner starts per round */
#define STASH_MAX 4096

/* Event for_user: role << 40 | token. */
#define ROLE_SHIFT 40
#define TOKEN_MASK ((UINT64_C(1) << ROLE_SHIFT) - 1)
enum {
    ROLE_STOP = 1,     /* ends a waiter */
    ROLE_CHURN = 2,    /* the churn thread's own event */
    ROLE_SELF0 = 8,    /* + runner: taken by that runner */
    ROLE_WAITER0 = 16, /* + runner: taken by a waiter thread */
};

/* How the application's plain fork() children are reaped. */
typedef enum {
    PLAIN_EITHER, /* M3: its waitpid(pid) or the library, whoever is first */
    PLAIN_APP,    /* M6: the application; the library never */
    PLAIN_LIB,    /* M5: the library; the application never waits */
} plain_style;

typedef struct {
    const char *what;
    libxl_sigchld_owner shared[NSHARED];
    libxl_sigchld_owner churn;
    plain_style plain;
} fs_conf;

/* A run started with a completion callback or an event: its result must
 * live until the completion, and the completion must find its token. */
typedef struct {
    long token;
    libxl_childproc_result res;
} run_slot;

typedef struct {
    int idx;
    run_slot slot[BATCH];
} runner_state;

static struct {
    const fs_conf *conf;
    libxl_ctx *shared[NSHARED];
    xls_ledger *led;
    long cap;       /* ledger slots */
    long next_tok;  /* atomic */
    int stop;       /* atomic: forkers, runners, churn */
    int full;       /* atomic: the ledger ran out of slots */
    bool exec_exit; /* under valgrind: xlt_child_exit */
    runner_state runners[NRUNNERS];
    libxl_childproc_result stop_res[NWAITERS];
    long libfork_started, libfork_reported;              /* atomic */
    long n_plain, n_libfork, n_runs, n_churn, n_orphans; /* atomic */
    long plain_by_app, plain_by_lib;                     /* atomic */
    int poller_stop;                                     /* atomic */
} S;

/* The application's plain fork children not yet reported. */
typedef struct {
    pid_t pid;
    long token;
    bool lib_took; /* waitpid said ECHILD: reaped_callback will tell */
} plain_ent;

static struct {
    pthread_mutex_t mu;
    plain_ent ent[NPLAIN * MAX_OUTSTANDING + NPLAIN];
    int n;
    /* statuses reaped_callback had before the forker registered the pid */
    struct {
        pid_t pid;
        int status;
    } stash[STASH_MAX];
    int nstash;
} M = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* ------------------------------------------------------------ the ledger */

/* n fresh tokens, or false once the ledger is full (then the storm winds
 * down early; the counts say how much ran). */
static bool take_tokens(long *tok, int n)
{
    long t = __atomic_fetch_add(&S.next_tok, n, __ATOMIC_RELAXED);
    int i;

    if (t + n > S.cap) {
        __atomic_store_n(&S.full, 1, __ATOMIC_RELAXED);
        return false;
    }
    for (i = 0; i < n; i++)
        tok[i] = t + i;
    return true;
}

static bool stopping(void)
{
    return __atomic_load_n(&S.stop, __ATOMIC_ACQUIRE) ||
           __atomic_load_n(&S.full, __ATOMIC_RELAXED);
}

static void in_libxl_check(const char *what)
{
    XLT_ASSERT_MSG(xlt_in_libxl > 0,
                   "%s outside an application libxl call (reaper thread?)",
                   what);
}

static long ledger_started_count(void)
{
    long i, n = 0;

    for (i = 0; i < S.led->n; i++)
        n += __atomic_load_n(&S.led->slot[i].started, __ATOMIC_ACQUIRE) != 0;
    return n;
}

static bool reported(long t)
{
    return __atomic_load_n(&S.led->slot[t].reports, __ATOMIC_ACQUIRE) > 0;
}

/* ------------------------------------------------------ the fork children */

static void child_exit(int code) __attribute__((noreturn));
static void child_exit(int code)
{
    if (S.exec_exit)
        xlt_child_exit(code); /* valgrind: see xlt_child_exit */
    _exit(code);
}

static void grandchild_death(libxl_ctx *ctx, pid_t pid, int status, void *user)
{
    (void)ctx;
    (void)pid;
    *(int *)user = status | 0x10000; /* "called", whatever the status */
}

static int pred_none(const libxl_event *ev, void *user)
{
    (void)ev;
    (void)user;
    return 0;
}

/* What a fork child does with the library; returns its exit code. */
static int child_uses_library(long token)
{
    char *sh3[] = {"/bin/sh", "-c", "exit 3", NULL};
    char *tru[] = {"/bin/true", NULL};
    libxl_childproc_args a;
    libxl_childproc_result r;
    libxl_asyncop_how how;
    libxl_event *ev = NULL;
    libxl_ctx *ctx = NULL;
    int death = 0;
    int64_t deadline;
    pid_t pid;

    if (token & 1)
        libxl_postfork_child_noexec(S.shared[token & 2 ? 1 : 0]); /* F2 */
    if (libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, NULL) != 0)
        return 10;
    if (token & 2) {
        libxl_childproc_hooks h;
        memset(&h, 0, sizeof h);
        h.chldowner = libxl_sigchld_owner_libxl_always_selective_reap;
        libxl_childproc_setmode(ctx, &h, NULL);
    }
    a = xlt_args(sh3);
    if (libxl_childproc_run(ctx, &a, &r, NULL) != 0)
        return 11;
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 3)
        return 12;
    a = xlt_args(tru);
    memset(&how, 0, sizeof how);
    how.u.for_event = 77;
    if (libxl_childproc_run(ctx, &a, &r, &how) != 0)
        return 13;
    if (libxl_event_wait(ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL) != 0 ||
        ev->for_user != 77 || ev->u.operation_complete.rc != 0)
        return 14;
    libxl_event_free(ctx, ev);
    if (r.status != 0)
        return 15;
    pid = libxl_childproc_fork(ctx, grandchild_death, &death);
    if (pid == 0)
        child_exit(5);
    if (pid < 0)
        return 16;
    deadline = xlt_now_ms() + 60000;
    while (!death) {
        if (libxl_event_check(ctx, &ev, LIBXL_EVENTMASK_ALL, pred_none, NULL) !=
                ERROR_NOT_READY ||
            xlt_now_ms() > deadline)
            return 17;
        xlt_sleep_ms(1);
    }
    if (death != (0x10000 | W_EXITCODE(5, 0)))
        return 18;
    if (libxl_ctx_free(ctx) != 0)
        return 19;
    return OK_CODE;
}

static void fork_child(long token) __attribute__((noreturn));
static void fork_child(long token)
{
    /* see the file comment: under a sanitizer, only exit */
    child_exit(XLT_UNDER_SANITIZER ? OK_CODE : child_uses_library(token));
}

/* ---------------------------------------------- plain fork() children */

/* The status of the application's child pid, from whoever reaped it. */
static void plain_report_locked(long token, int status, bool by_lib)
{
    xls_ledger_reported(S.led, token, status, 0);
    __atomic_add_fetch(by_lib ? &S.plain_by_lib : &S.plain_by_app, 1,
                       __ATOMIC_RELAXED);
}

static void plain_insert(pid_t pid, long token)
{
    int i;

    pthread_mutex_lock(&M.mu);
    for (i = 0; i < M.n; i++)
        XLT_ASSERT_MSG(M.ent[i].pid != pid,
                       "pid %d reused while its previous"
                       " child's status was still unreported",
                       (int)pid);
    for (i = 0; i < M.nstash; i++)
        if (M.stash[i].pid == pid) {
            plain_report_locked(token, M.stash[i].status, true);
            M.stash[i] = M.stash[--M.nstash];
            pthread_mutex_unlock(&M.mu);
            return;
        }
    XLT_ASSERT((size_t)M.n < sizeof M.ent / sizeof M.ent[0]);
    M.ent[M.n].pid = pid;
    M.ent[M.n].token = token;
    M.ent[M.n].lib_took = false;
    M.n++;
    pthread_mutex_unlock(&M.mu);
}

static int plain_outstanding(void)
{
    int n;

    pthread_mutex_lock(&M.mu);
    n = M.n;
    pthread_mutex_unlock(&M.mu);
    return n;
}

/* reaped_callback of the shared ctxs: the library reaped a child that is
 * not its own (M3 while it has children, M5 always). */
static int reaped_cb(pid_t pid, int status, void *user)
{
    int i;

    (void)user;
    in_libxl_check("reaped_callback");
    if (S.conf->plain == PLAIN_APP) {
        fprintf(stderr, "reaped_callback(%d, %#x) in the selective mode\n",
                (int)pid, status);
        xls_ledger_reported(S.led, -1, status, 0);
        return ERROR_UNKNOWN_CHILD;
    }
    pthread_mutex_lock(&M.mu);
    for (i = 0; i < M.n; i++)
        if (M.ent[i].pid == pid) {
            plain_report_locked(M.ent[i].token, status, true);
            M.ent[i] = M.ent[--M.n];
            pthread_mutex_unlock(&M.mu);
            return 0;
        }
    /* Before its forker could register it (it exited at once): kept for
     * plain_insert.  Whatever is left at the end was no child of ours. */
    XLT_ASSERT_MSG(M.nstash < STASH_MAX, "reaped_callback: stash full");
    M.stash[M.nstash].pid = pid;
    M.stash[M.nstash].status = status;
    M.nstash++;
    pthread_mutex_unlock(&M.mu);
    return 0;
}

/* The application reaping its own children by pid (never waitpid(-1),
 * which would take the library's). */
static void *poller(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&S.poller_stop, __ATOMIC_ACQUIRE)) {
        int i;

        pthread_mutex_lock(&M.mu);
        for (i = 0; i < M.n;) {
            plain_ent *e = &M.ent[i];
            int st = 0;
            pid_t r;

            if (e->lib_took) {
                i++;
                continue;
            }
            r = waitpid(e->pid, &st, WNOHANG);
            if (r == e->pid) {
                plain_report_locked(e->token, st, false);
                *e = M.ent[--M.n];
                continue;
            }
            XLT_ASSERT_MSG(r == 0 || errno == ECHILD, "waitpid(%d): %s",
                           (int)e->pid, strerror(errno));
            if (r < 0) {
                XLT_ASSERT_MSG(S.conf->plain == PLAIN_EITHER,
                               "the application's child %d was reaped by"
                               " someone else (selective mode)",
                               (int)e->pid);
                e->lib_took = true;
            }
            i++;
        }
        pthread_mutex_unlock(&M.mu);
        xlt_sleep_ms(1);
    }
    return NULL;
}

static void *plain_forker(void *arg)
{
    (void)arg;
    while (!stopping()) {
        long t;
        pid_t pid;

        if (plain_outstanding() >= MAX_OUTSTANDING * NPLAIN) {
            xlt_sleep_ms(1);
            continue;
        }
        if (!take_tokens(&t, 1))
            break;
        xls_ledger_started(S.led, t, 0, W_EXITCODE(OK_CODE, 0));
        pid = fork();
        if (pid == 0)
            fork_child(t);
        XLT_ASSERT_MSG(pid > 0, "fork: %s", strerror(errno));
        __atomic_store_n(&S.led->slot[t].pid, pid, __ATOMIC_RELAXED);
        plain_insert(pid, t);
        __atomic_add_fetch(&S.n_plain, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

/* ------------------------------------------- libxl_childproc_fork children */

static void death_cb(libxl_ctx *ctx, pid_t pid, int status, void *user)
{
    long t = (long)(intptr_t)user;
    pid_t known;

    (void)ctx;
    in_libxl_check("death callback");
    XLT_ASSERT_MSG(t >= 0 && t < S.cap, "death callback for token %ld", t);
    /* 0: the forker has not stored it yet (the child was quick) */
    known = __atomic_load_n(&S.led->slot[t].pid, __ATOMIC_RELAXED);
    XLT_ASSERT_MSG(known == 0 || known == pid,
                   "death callback of token %ld: pid %d, forked %d", t,
                   (int)pid, (int)known);
    xls_ledger_reported(S.led, t, status, 0);
}

static void libfork_death_cb(libxl_ctx *ctx, pid_t pid, int status, void *user)
{
    death_cb(ctx, pid, status, user);
    __atomic_add_fetch(&S.libfork_reported, 1, __ATOMIC_RELAXED);
}

static void *lib_forker(void *arg)
{
    int k = (int)(intptr_t)arg, i = 0;

    while (!stopping()) {
        libxl_ctx *ctx = S.shared[(k + i++) % NSHARED];
        long t;
        pid_t pid;

        if (__atomic_load_n(&S.libfork_started, __ATOMIC_RELAXED) -
                __atomic_load_n(&S.libfork_reported, __ATOMIC_RELAXED) >=
            MAX_OUTSTANDING * NLIBFORK) {
            xlt_sleep_ms(1);
            continue;
        }
        if (!take_tokens(&t, 1))
            break;
        xls_ledger_started(S.led, t, 0, W_EXITCODE(OK_CODE, 0));
        __atomic_add_fetch(&S.libfork_started, 1, __ATOMIC_RELAXED);
        pid = xlt_childproc_fork(ctx, libfork_death_cb, (void *)(intptr_t)t);
        if (pid == 0)
            fork_child(t);
        XLT_ASSERT_MSG(pid > 0, "libxl_childproc_fork: %d (%s): %s", (int)pid,
                       libxl_strerror(pid), strerror(errno));
        __atomic_store_n(&S.led->slot[t].pid, pid, __ATOMIC_RELAXED);
        __atomic_add_fetch(&S.n_libfork, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

/* ----------------------------------------------------------- the runners */

static int exit_code_of(long t)
{
    return (int)(t % 200);
}

static void run_cb(libxl_ctx *ctx, int rc, void *user)
{
    run_slot *s = user;

    (void)ctx;
    in_libxl_check("completion callback");
    XLT_ASSERT_MSG(rc == 0, "token %ld completed with rc %d (%s)", s->token, rc,
                   libxl_strerror(rc));
    xls_ledger_reported(S.led, s->token, s->res.status, rc);
}

/* Starts `sh -c 'exit K'` (K from the token) on ctx, completed by run_cb
 * (role < 0) or as an event of that role. */
static void start_exit_run(libxl_ctx *ctx, run_slot *s, int role)
{
    char script[32];
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    libxl_childproc_args a = xlt_args(argv);
    libxl_asyncop_how how;

    snprintf(script, sizeof script, "exit %d", exit_code_of(s->token));
    memset(&how, 0, sizeof how);
    if (role < 0) {
        how.callback = run_cb;
        how.u.for_callback = s;
    } else {
        how.u.for_event = ((uint64_t)role << ROLE_SHIFT) | (uint64_t)s->token;
    }
    xls_ledger_started(S.led, s->token, 0,
                       W_EXITCODE(exit_code_of(s->token), 0));
    XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &s->res, &how), 0);
}

static int pred_role(const libxl_event *ev, void *user)
{
    return (ev->for_user >> ROLE_SHIFT) == *(const uint64_t *)user;
}

static void take_event(libxl_ctx *ctx, uint64_t role, runner_state *rs)
{
    libxl_event *ev = NULL;
    long t;
    int k;

    XLT_ASSERT_RC(
        xlt_event_wait(ctx, &ev, LIBXL_EVENTMASK_ALL, pred_role, &role), 0);
    XLT_ASSERT(ev != NULL && (ev->for_user >> ROLE_SHIFT) == role);
    t = (long)(ev->for_user & TOKEN_MASK);
    XLT_ASSERT_MSG(ev->u.operation_complete.rc == 0, "token %ld: rc %d", t,
                   ev->u.operation_complete.rc);
    libxl_event_free(ctx, ev);
    for (k = 0; k < BATCH; k++)
        if (rs->slot[k].token == t) {
            xls_ledger_reported(S.led, t, rs->slot[k].res.status, 0);
            return;
        }
    xls_ledger_reported(S.led, -1, 0, 0); /* not one of this round's */
}

/* Calls into the library (so that callbacks can run here too) until every
 * token of the round is reported. */
static void pump_until_reported(libxl_ctx *ctx, const long *tok, int n)
{
    int64_t deadline = xlt_now_ms() + 120000;
    int i;

    for (i = 0; i < n; i++)
        while (!reported(tok[i])) {
            libxl_event *ev = NULL;
            XLT_ASSERT_RC(
                xlt_event_check(ctx, &ev, LIBXL_EVENTMASK_ALL, pred_none, NULL),
                ERROR_NOT_READY);
            XLT_ASSERT_MSG(xlt_now_ms() < deadline,
                           "token %ld not reported within 120 s", tok[i]);
            xlt_sleep_ms(1);
        }
}

/*
 * A round: slots 0-2 complete as events this runner takes, 3-4 by
 * callback, 5 is a libxl_childproc_fork child exiting K, 6 an event for
 * the waiter threads.  The runner waits for its events, then pumps until
 * the whole round is reported (callbacks may run in it or in a waiter).
 */
static void *runner(void *arg)
{
    runner_state *rs = arg;
    libxl_ctx *ctx = S.shared[rs->idx % NSHARED];
    uint64_t self = ROLE_SELF0 + (uint64_t)rs->idx;

    while (!stopping()) {
        long tok[BATCH];
        pid_t pid;
        int k;

        if (!take_tokens(tok, BATCH))
            break;
        for (k = 0; k < BATCH; k++) {
            memset(&rs->slot[k], 0, sizeof rs->slot[k]);
            rs->slot[k].token = tok[k];
        }
        for (k = 0; k < 3; k++)
            start_exit_run(ctx, &rs->slot[k], (int)self);
        start_exit_run(ctx, &rs->slot[3], -1);
        start_exit_run(ctx, &rs->slot[4], -1);
        start_exit_run(ctx, &rs->slot[6], ROLE_WAITER0 + rs->idx);

        xls_ledger_started(S.led, tok[5], 0,
                           W_EXITCODE(exit_code_of(tok[5]), 0));
        pid = xlt_childproc_fork(ctx, death_cb, (void *)(intptr_t)tok[5]);
        if (pid == 0)
            child_exit(exit_code_of(tok[5]));
        XLT_ASSERT_MSG(pid > 0, "libxl_childproc_fork: %d", (int)pid);
        __atomic_store_n(&S.led->slot[tok[5]].pid, pid, __ATOMIC_RELAXED);

        for (k = 0; k < 3; k++)
            take_event(ctx, self, rs);
        pump_until_reported(ctx, tok, BATCH);
        __atomic_add_fetch(&S.n_runs, BATCH, __ATOMIC_RELAXED);
    }
    return NULL;
}

static int pred_waiter(const libxl_event *ev, void *user)
{
    uint64_t role = ev->for_user >> ROLE_SHIFT;

    (void)user;
    return role == ROLE_STOP ||
           (role >= ROLE_WAITER0 && role < ROLE_WAITER0 + NRUNNERS);
}

/* Sits in libxl_event_wait on a shared ctx: takes the runners' slot-6
 * events, runs callbacks; ends with a stop event. */
static void *waiter(void *arg)
{
    libxl_ctx *ctx = arg;

    for (;;) {
        libxl_event *ev = NULL;
        uint64_t role;
        long t;
        int rc;

        XLT_ASSERT_RC(
            xlt_event_wait(ctx, &ev, LIBXL_EVENTMASK_ALL, pred_waiter, NULL),
            0);
        XLT_ASSERT(ev != NULL);
        role = ev->for_user >> ROLE_SHIFT;
        t = (long)(ev->for_user & TOKEN_MASK);
        rc = ev->u.operation_complete.rc;
        libxl_event_free(ctx, ev);
        XLT_ASSERT_MSG(rc == 0, "token %ld: rc %d (%s)", t, rc,
                       libxl_strerror(rc));
        if (role == ROLE_STOP) {
            XLT_ASSERT(t >= 0 && t < NWAITERS);
            xls_ledger_reported(S.led, t, S.stop_res[t].status, rc);
            return NULL;
        }
        {
            run_slot *s = &S.runners[role - ROLE_WAITER0].slot[6];
            xls_ledger_reported(S.led, t, s->token == t ? s->res.status : -1,
                                rc);
        }
    }
}

/* ------------------------------------------------------------- the churn */

/* Makes and frees ctxs in a loop, each doing a little of everything;
 * every third is freed with a child still running (its status is then
 * discarded: the child must still be reaped, see the zombie check). */
static void *churn(void *arg)
{
    xlt_logger *lg = arg;
    long round = 0;

    while (!stopping()) {
        char *sh7[] = {"/bin/sh", "-c", "exit 7", NULL};
        char *tru[] = {"/bin/true", NULL};
        libxl_childproc_args a;
        libxl_childproc_result r, er;
        libxl_ctx *ctx = xlt_ctx_new(&lg->lg);
        uint64_t id;
        long tok[3];
        pid_t pid;

        if (S.conf->churn != libxl_sigchld_owner_libxl) {
            libxl_childproc_hooks h;
            memset(&h, 0, sizeof h);
            h.chldowner = S.conf->churn;
            libxl_childproc_setmode(ctx, &h, NULL);
        }
        if (!take_tokens(tok, 3)) {
            libxl_ctx_free(ctx);
            break;
        }
        xls_ledger_started(S.led, tok[0], 0, W_EXITCODE(7, 0));
        a = xlt_args(sh7);
        XLT_ASSERT_RC(xlt_childproc_run(ctx, &a, &r, NULL), 0);
        xls_ledger_reported(S.led, tok[0], r.status, 0);

        xls_ledger_started(S.led, tok[1], 0, W_EXITCODE(0, 0));
        id = ((uint64_t)ROLE_CHURN << ROLE_SHIFT) | (uint64_t)tok[1];
        xlt_start_event_run(ctx, tru, id, &er);
        XLT_ASSERT_RC(xlt_wait_for(ctx, id), 0);
        xls_ledger_reported(S.led, tok[1], er.status, 0);

        xls_ledger_started(S.led, tok[2], 0, W_EXITCODE(9, 0));
        pid = xlt_childproc_fork(ctx, death_cb, (void *)(intptr_t)tok[2]);
        if (pid == 0)
            child_exit(9);
        XLT_ASSERT_MSG(pid > 0, "libxl_childproc_fork: %d", (int)pid);
        __atomic_store_n(&S.led->slot[tok[2]].pid, pid, __ATOMIC_RELAXED);
        pump_until_reported(ctx, &tok[2], 1);

        if (round++ % 3 == 2) {
            libxl_childproc_result gr;
            int gate;
            xlt_start_gated(ctx, ((uint64_t)ROLE_CHURN << ROLE_SHIFT) | 0,
                            &gate, &gr);
            XLT_ASSERT_RC(libxl_ctx_free(ctx), 0);
            close(gate); /* it exits now, its ctx gone */
            __atomic_add_fetch(&S.n_orphans, 1, __ATOMIC_RELAXED);
        } else {
            XLT_ASSERT_RC(libxl_ctx_free(ctx), 0);
        }
        __atomic_add_fetch(&S.n_churn, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

/* ---------------------------------------------------------------- a case */

static void forkstorm(const fs_conf *conf)
{
    pthread_t wt[NWAITERS], pf[NPLAIN], lf[NLIBFORK], rt[NRUNNERS], ct, pt;
    long duration_ms = xls_scale(30000, 2500), started, i;
    xlt_logger *lg;
    sigset_t chld;
    int64_t t_case = xlt_now_ms(), t0, t_stop, t_drained, deadline;
    int c;

    memset(&S, 0, sizeof S);
    S.conf = conf;
    S.exec_exit = getenv("XLT_UNDER_VALGRIND") != NULL;
    S.cap = xls_full() ? 600000 : 100000;
    S.led = xls_ledger_new(S.cap);
    S.next_tok = NWAITERS; /* [0, NWAITERS): the stop runs */
    M.n = M.nstash = 0;
    if (XLT_UNDER_SANITIZER)
        printf("NOTE %s: under a sanitizer the fork children only exit (GCC"
               " 12's ASan/TSan are not fork-safe in a multi-threaded"
               " parent); the parent side runs in full\n",
               conf->what);

    /* M1: blocked in every thread, inherited from here. */
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    XLT_ASSERT(pthread_sigmask(SIG_BLOCK, &chld, NULL) == 0);

    lg = xlt_logger_new();
    for (c = 0; c < NSHARED; c++) {
        libxl_childproc_hooks h;
        S.shared[c] = xlt_ctx_new(&lg->lg);
        memset(&h, 0, sizeof h);
        h.chldowner = conf->shared[c];
        h.reaped_callback = reaped_cb;
        libxl_childproc_setmode(S.shared[c], &h, NULL);
    }
    XLT_ASSERT_MSG(xlt_logger_count(lg, LIBXL_LOG_ERROR, NULL) == 0,
                   "setmode refused: %s", lg->text);

    for (i = 0; i < NWAITERS; i++)
        XLT_ASSERT(pthread_create(&wt[i], NULL, waiter,
                                  S.shared[i / WAITERS_PER_CTX]) == 0);
    if (conf->plain != PLAIN_LIB)
        XLT_ASSERT(pthread_create(&pt, NULL, poller, NULL) == 0);
    t0 = xlt_now_ms();
    for (i = 0; i < NRUNNERS; i++) {
        S.runners[i].idx = (int)i;
        XLT_ASSERT(pthread_create(&rt[i], NULL, runner, &S.runners[i]) == 0);
    }
    XLT_ASSERT(pthread_create(&ct, NULL, churn, lg) == 0);
    for (i = 0; i < NPLAIN; i++)
        XLT_ASSERT(pthread_create(&pf[i], NULL, plain_forker, NULL) == 0);
    for (i = 0; i < NLIBFORK; i++)
        XLT_ASSERT(
            pthread_create(&lf[i], NULL, lib_forker, (void *)(intptr_t)i) == 0);

    while (xlt_now_ms() - t0 < duration_ms && !stopping())
        xlt_sleep_ms(20);
    __atomic_store_n(&S.stop, 1, __ATOMIC_RELEASE);
    t_stop = xlt_now_ms();
    for (i = 0; i < NPLAIN; i++)
        pthread_join(pf[i], NULL);
    for (i = 0; i < NLIBFORK; i++)
        pthread_join(lf[i], NULL);
    for (i = 0; i < NRUNNERS; i++)
        pthread_join(rt[i], NULL);
    pthread_join(ct, NULL);

    /* The fork children still running finish their work; then every
     * status must be in.  The deadline only catches a hang. */
    started = ledger_started_count();
    deadline = xlt_now_ms() + (xls_full() ? 180000 : 120000);
    while (xls_ledger_count(S.led) < started && xlt_now_ms() < deadline)
        xlt_sleep_ms(20);
    t_drained = xlt_now_ms();
    xlt_sleep_ms(300); /* a second report of anything would come now */

    if (conf->plain != PLAIN_LIB) {
        __atomic_store_n(&S.poller_stop, 1, __ATOMIC_RELEASE);
        pthread_join(pt, NULL);
    }
    pthread_mutex_lock(&M.mu);
    if (M.n || M.nstash)
        fprintf(stderr,
                "%d plain fork children unreported, %d unknown"
                " statuses from reaped_callback\n",
                M.n, M.nstash);
    for (i = 0; i < M.nstash; i++)
        xls_ledger_reported(S.led, -1, M.stash[i].status, 0);
    pthread_mutex_unlock(&M.mu);

    for (i = 0; i < NWAITERS; i++) {
        char *tru[] = {"/bin/true", NULL};
        xls_ledger_started(S.led, i, 0, W_EXITCODE(0, 0));
        xlt_start_event_run(S.shared[i / WAITERS_PER_CTX], tru,
                            ((uint64_t)ROLE_STOP << ROLE_SHIFT) | (uint64_t)i,
                            &S.stop_res[i]);
    }
    for (i = 0; i < NWAITERS; i++)
        pthread_join(wt[i], NULL);

    xls_ledger_check(S.led, conf->what);
    xls_assert_no_zombies(conf->what);
    for (c = 0; c < NSHARED; c++)
        XLT_ASSERT_RC(libxl_ctx_free(S.shared[c]), 0);
    /* the churn's orphans too: reaped by the library after their ctx */
    xlt_wait_no_children(30000);
    XLT_ASSERT_MSG(xlt_logger_count(lg, LIBXL_LOG_ERROR, NULL) == 0 &&
                       xlt_logger_count(lg, LIBXL_LOG_CRITICAL, NULL) == 0,
                   "%s: the library logged:\n%s", conf->what, lg->text);
    if (conf->plain == PLAIN_APP)
        XLT_ASSERT_EQ(S.plain_by_lib, 0);
    if (conf->plain == PLAIN_LIB)
        XLT_ASSERT_EQ(S.plain_by_app, 0);

    xls_report(conf->what,
               "duration=%lldms drain=%lldms plain_forks=%ld (reaped by app"
               " %ld, by library %ld) libxl_childproc_forks=%ld runner"
               " children=%ld ctxs_churned=%ld (freed with a child running"
               " %ld) fork_children_use_library=%s ledger_full=%d warnings=%d"
               " zombies=0 case_total=%lldms",
               (long long)(t_stop - t0), (long long)(t_drained - t_stop),
               S.n_plain, S.plain_by_app, S.plain_by_lib, S.n_libfork, S.n_runs,
               S.n_churn, S.n_orphans,
               XLT_UNDER_SANITIZER ? "no (sanitizer)" : "yes", S.full,
               xlt_logger_count(lg, LIBXL_LOG_WARN, NULL),
               (long long)(xlt_now_ms() - t_case));
    xls_ledger_free(S.led);
}

/* ------------------------------------------------------------------ cases */

#define FS_TIMEOUT (xls_full() ? 600 : 240)

XLT_TEST(test_forkstorm_owner_libxl, FS_TIMEOUT)
{
    static const fs_conf conf = {
        "forkstorm owner_libxl",
        {libxl_sigchld_owner_libxl, libxl_sigchld_owner_libxl},
        libxl_sigchld_owner_libxl,
        PLAIN_EITHER,
    };
    forkstorm(&conf);
}

XLT_TEST(test_forkstorm_selective_reap, FS_TIMEOUT)
{
    static const fs_conf conf = {
        "forkstorm selective_reap",
        {libxl_sigchld_owner_libxl_always_selective_reap,
         libxl_sigchld_owner_libxl_always_selective_reap},
        libxl_sigchld_owner_libxl_always_selective_reap,
        PLAIN_APP,
    };
    forkstorm(&conf);
}

XLT_TEST(test_forkstorm_libxl_always, FS_TIMEOUT)
{
    static const fs_conf conf = {
        "forkstorm libxl_always + owner_libxl",
        {libxl_sigchld_owner_libxl_always, libxl_sigchld_owner_libxl},
        libxl_sigchld_owner_libxl,
        PLAIN_LIB,
    };
    forkstorm(&conf);
}

int main(void)
{
    static const xlt_case cases[] = {
        XLT_CASE(test_forkstorm_owner_libxl),
        XLT_CASE(test_forkstorm_selective_reap),
        XLT_CASE(test_forkstorm_libxl_always),
    };
    return xlt_main("stress_forkstorm", cases, sizeof cases / sizeof cases[0]);
}
