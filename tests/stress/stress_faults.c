/*
 * stress_faults.c - fault injection at every resource the library
 * acquires, one site and one call at a time (the "faults" part).
 *
 * What it proves, for each reaping mode (default, selective, always,
 * mainloop, and default with osevent hooks) and each site of fault.h:
 *  - a counting run of the scenario says how many calls the library makes
 *    at that site; then the scenario is run once per N (all of them in the
 *    full form, a spread in the short one) with the N-th call failing, and
 *    with every call from the N-th on failing ("sticky": from N = 1 in the
 *    short form, from each N in the full one), each run
 *    in its own process with a watchdog, so a crash or a hang names its
 *    site, N and mode;
 *  - every public call returns a code its man page documents for it, and
 *    every error (returned, or delivered as a completion) comes with a
 *    WARN or worse log line;
 *  - every operation that was started completes exactly once (callback,
 *    event, death callback), with the right status when it succeeded, and
 *    no zombie is left;
 *  - once the fault is lifted the library works again in the same process
 *    (new ctx, a run giving exit 7, a fork child reported, an event);
 *  - under ASan, LeakSanitizer finds nothing at the end of each run.
 * Each case prints per site "COUNTS faults/<mode>/<site>: calls=... runs=...
 * injected=... errors=... logged=... rcs=...".
 */
#define _GNU_SOURCE
#include "stress.h"
#include "fault.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define XLF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XLF_ASAN 1
#endif
#endif
#ifdef XLF_ASAN
int __lsan_do_recoverable_leak_check(void);
#endif
/* Under TSan some runs wait for the reaper's 1 s sweep (a status late, not
 * lost): the short form tries fewer N there. */
#if defined(__SANITIZE_THREAD__)
#define SHORT_NS 2
#else
#define SHORT_NS 6
#endif

typedef enum {
    MODE_DEFAULT,
    MODE_SELECTIVE,
    MODE_ALWAYS,
    MODE_MAINLOOP,
    MODE_HOOKS, /* default reaping, osevent hooks registered, children
                   made by a fork_replacement */
    NMODES
} scen_mode;

static const char *const mode_names[NMODES] = {
    "default", "selective", "always", "mainloop", "hooks",
};

/* What one run reports to its driver, through shared memory. */
#define NRC 32 /* rc histogram, index -rc */
typedef struct {
    long calls[XLF_NSITES]; /* library calls per site before the lift */
    long injected;
    long errors; /* public calls or completions that gave an error */
    long logged; /* of those, with a WARN+ line (must be all) */
    long ops;    /* operations that had to complete exactly once */
    long rc_hist[NRC];
    int finished;
} run_result;

static run_result *R; /* this run's slot (shared with the driver) */

/* -------------------------------------------------------- the scenario */

static xlt_logger *lg;

static int cb_count, cb_rc, death_count, death_status, disasters;
static pid_t death_pid;

/* Records rc of `what` and checks that it is one of the documented ones
 * (a 0-terminated list after 0 itself), and that an error was logged
 * since `before`. */
static void check_rc(const char *what, int rc, int before, const int *ok)
{
    int i;

    if (rc <= 0 && -rc < NRC)
        R->rc_hist[-rc]++;
    if (rc != 0) {
        for (i = 0; ok[i]; i++)
            if (ok[i] == rc)
                break;
        XLT_ASSERT_MSG(ok[i], "%s gave %d (%s), not documented for it", what,
                       rc, libxl_strerror(rc));
        R->errors++;
        XLT_ASSERT_MSG(xlt_logger_warnings(lg) > before,
                       "%s gave %d (%s) without a WARN/ERROR log line;"
                       " log:\n%s",
                       what, rc, libxl_strerror(rc), lg->text);
        R->logged++;
    }
}

static const int ok_alloc[] = {ERROR_NOMEM, ERROR_FAIL, 0};
static const int ok_run[] = {ERROR_FAIL, ERROR_NOMEM, 0};
static const int ok_done[] = {ERROR_FAIL, 0};
static const int ok_none[] = {0};

static void cb_done(libxl_ctx *ctx, int rc, void *user)
{
    (void)ctx;
    (void)user;
    cb_rc = rc;
    __atomic_add_fetch(&cb_count, 1, __ATOMIC_SEQ_CST);
}

static void death_cb(libxl_ctx *ctx, pid_t pid, int status, void *user)
{
    (void)ctx;
    (void)user;
    death_pid = pid;
    death_status = status;
    __atomic_add_fetch(&death_count, 1, __ATOMIC_SEQ_CST);
}

static void disaster_cb(void *user, libxl_event_type type, const char *msg,
                        int errnoval)
{
    (void)user;
    (void)type;
    (void)errnoval;
    fprintf(stderr, "disaster: %s\n", msg);
    __atomic_add_fetch(&disasters, 1, __ATOMIC_SEQ_CST);
}

/* osevent hooks that accept everything (MODE_HOOKS): registrations are
 * counted, not polled; event_wait does the work. */
static int n_fdreg, n_toreg;
static int h_fd_register(void *u, int fd, void **reg, short ev, void *fl)
{
    (void)u, (void)fd, (void)ev, (void)fl;
    *reg = &n_fdreg;
    n_fdreg++;
    return 0;
}
static int h_fd_modify(void *u, int fd, void **reg, short ev)
{
    (void)u, (void)fd, (void)reg, (void)ev;
    return 0;
}
static void h_fd_deregister(void *u, int fd, void *reg)
{
    (void)u, (void)fd, (void)reg;
    n_fdreg--;
}
static int h_to_register(void *u, void **reg, struct timeval abs, void *fl)
{
    (void)u, (void)abs, (void)fl;
    *reg = &n_toreg;
    n_toreg++;
    return 0;
}
static int h_to_modify(void *u, void **reg, struct timeval abs)
{
    (void)u, (void)reg, (void)abs;
    return 0;
}
static void h_to_deregister(void *u, void *reg)
{
    (void)u, (void)reg;
    n_toreg--;
}
static const libxl_osevent_hooks os_hooks = {
    h_fd_register, h_fd_modify, h_fd_deregister,
    h_to_register, h_to_modify, h_to_deregister,
};

static libxl_sigchld_owner owner_of(scen_mode m)
{
    switch (m) {
    case MODE_SELECTIVE: return libxl_sigchld_owner_libxl_always_selective_reap;
    case MODE_ALWAYS: return libxl_sigchld_owner_libxl_always;
    case MODE_MAINLOOP: return libxl_sigchld_owner_mainloop;
    default: return libxl_sigchld_owner_libxl;
    }
}

static int pred_id(const libxl_event *ev, void *user)
{
    return ev->for_user == *(const uint64_t *)user;
}

static int pred_none(const libxl_event *ev, void *user)
{
    (void)ev, (void)user;
    return 0;
}

/* MODE_HOOKS creates children through a fork_replacement (R3): the
 * library's own fork-and-exec path, with its error pipe. */
static pid_t fork_replacement(void *user)
{
    volatile pid_t pid; /* no tail call: this fork is the test's own */

    (void)user;
    if (xlf_hit(XLF_FORK)) {
        errno = EAGAIN;
        return -1;
    }
    pid = fork();
    return pid;
}

/* The ctx's mode is set; what a user does first. */
static int ctx_setup(libxl_ctx **pctx, scen_mode m)
{
    static const libxl_event_hooks ev_hooks = {0, NULL, disaster_cb};
    libxl_childproc_hooks h;
    int before = xlt_logger_warnings(lg), rc;

    rc = libxl_ctx_alloc(pctx, LIBXL_VERSION, 0, &lg->lg);
    check_rc("libxl_ctx_alloc", rc, before, ok_alloc);
    if (rc) {
        XLT_ASSERT(*pctx == NULL);
        return rc;
    }
    libxl_event_register_callbacks(*pctx, &ev_hooks, NULL);
    memset(&h, 0, sizeof h);
    h.chldowner = owner_of(m);
    if (m == MODE_HOOKS)
        h.fork_replacement = fork_replacement;
    libxl_childproc_setmode(*pctx, &h, NULL);
    if (m == MODE_HOOKS)
        libxl_osevent_register_hooks(*pctx, &os_hooks, NULL);
    return 0;
}

/* Waits until the event `id` (if *ev_rc is -100, meaning wanted), the
 * callback (cb_want) and the death (death_want) have all arrived.  In the
 * reaping modes that is libxl_event_wait, then event_check pumping; in
 * mainloop mode a poll loop on beforepoll/afterpoll with
 * sigchld_occurred, as a single-threaded main loop does it. */
static void wait_all(libxl_ctx *ctx, scen_mode m, uint64_t id, int *ev_rc,
                     int cb_want, int death_want)
{
    int64_t deadline = xlt_now_ms() + 20000;
    libxl_event *ev;
    int rc;

    if (m != MODE_MAINLOOP && *ev_rc == -100) {
        rc = libxl_event_wait(ctx, &ev, LIBXL_EVENTMASK_ALL, pred_id, &id);
        check_rc("libxl_event_wait", rc, 0, ok_none);
        XLT_ASSERT(ev && ev->for_user == id);
        *ev_rc = ev->u.operation_complete.rc;
        libxl_event_free(ctx, ev);
    }
    for (;;) {
        bool done =
            *ev_rc != -100 &&
            __atomic_load_n(&cb_count, __ATOMIC_SEQ_CST) >= cb_want &&
            __atomic_load_n(&death_count, __ATOMIC_SEQ_CST) >= death_want;
        if (done)
            break;
        XLT_ASSERT_MSG(xlt_now_ms() < deadline,
                       "completions missing after 20 s: event %s, callback "
                       "%d of %d, death %d of %d, disasters %d; log:\n%s",
                       *ev_rc == -100 ? "missing" : "seen", cb_count, cb_want,
                       death_count, death_want, disasters, lg->text);
        if (m == MODE_MAINLOOP) {
            struct pollfd fds[4];
            struct timeval now;
            int nfds = 4, timeout = 5;

            gettimeofday(&now, NULL);
            rc = libxl_osevent_beforepoll(ctx, &nfds, fds, &timeout, now);
            check_rc("libxl_osevent_beforepoll", rc, 0, ok_none);
            poll(fds, (nfds_t)nfds, timeout < 5 ? timeout : 5);
            gettimeofday(&now, NULL);
            libxl_osevent_afterpoll(ctx, nfds, fds, now);
            libxl_childproc_sigchld_occurred(ctx);
        } else {
            xlt_sleep_ms(2);
        }
        ev = NULL;
        if (*ev_rc == -100) {
            rc = libxl_event_check(ctx, &ev, LIBXL_EVENTMASK_ALL, pred_id, &id);
            if (rc == 0) {
                *ev_rc = ev->u.operation_complete.rc;
                libxl_event_free(ctx, ev);
            } else {
                XLT_ASSERT_RC(rc, ERROR_NOT_READY);
            }
        } else {
            rc = libxl_event_check(ctx, &ev, LIBXL_EVENTMASK_ALL, pred_none,
                                   NULL);
            XLT_ASSERT_RC(rc, ERROR_NOT_READY);
        }
    }
}

/* In mainloop mode a synchronous call blocks the thread that would reap:
 * as an application would, another thread reports SIGCHLD meanwhile. */
static int reporter_stop;
static void *reporter_main(void *arg)
{
    libxl_ctx *ctx = arg;

    while (!__atomic_load_n(&reporter_stop, __ATOMIC_ACQUIRE)) {
        libxl_childproc_sigchld_occurred(ctx);
        xlt_sleep_ms(2);
    }
    return NULL;
}

static int run_sync(libxl_ctx *ctx, scen_mode m,
                    const libxl_childproc_args *args,
                    libxl_childproc_result *res)
{
    pthread_t t;
    int rc;

    if (m != MODE_MAINLOOP)
        return libxl_childproc_run(ctx, args, res, NULL);
    reporter_stop = 0;
    XLT_ASSERT(pthread_create(&t, NULL, reporter_main, ctx) == 0);
    rc = libxl_childproc_run(ctx, args, res, NULL);
    __atomic_store_n(&reporter_stop, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    return rc;
}

/* One round of what users do on a ctx.  With `strict`, every call must
 * succeed (after the lift); otherwise errors must be documented and
 * logged, and whatever started must complete exactly once. */
static void scenario_ops(libxl_ctx *ctx, scen_mode m, bool strict, int code)
{
    char s_sync[32], s_cb[32], s_ev[32];
    char *a_sync[] = {"/bin/sh", "-c", s_sync, NULL};
    char *a_echo[] = {"/bin/sh", "-c", "echo hi", NULL};
    char *a_cb[] = {"sh", "-c", s_cb, NULL}; /* searched in PATH */
    char *a_ev[] = {"/bin/sh", "-c", s_ev, NULL};
    libxl_childproc_args args;
    libxl_childproc_result res, res_cb, res_ev;
    libxl_asyncop_how how_cb, how_ev;
    const uint64_t ev_id = 0x5eed0000u + (unsigned)code;
    int before, before_cb, before_ev, rc, rc_cb, rc_ev, ev_rc = -100;
    int p[2], cb_want, death_want;
    char out[64];
    pid_t pid;

    snprintf(s_sync, sizeof s_sync, "exit %d", code);
    snprintf(s_cb, sizeof s_cb, "exit %d", code + 1);
    snprintf(s_ev, sizeof s_ev, "exit %d", code + 2);
    cb_count = death_count = 0;

    /* 1. synchronous run */
    memset(&res, 0, sizeof res);
    args = xlt_args(a_sync);
    before = xlt_logger_warnings(lg);
    rc = run_sync(ctx, m, &args, &res);
    if (strict)
        XLT_ASSERT_RC(rc, 0);
    check_rc("libxl_childproc_run (sync)", rc, before, ok_run);
    R->ops++;
    if (rc == 0) {
        XLT_ASSERT(res.pid > 0);
        XLT_ASSERT_EXITED(res.status, code);
        XLT_ASSERT_EQ(res.exec_errno, 0);
    }

    /* 2. synchronous run with its stdout on a pipe (dup, file actions) */
    xlt_pipe(p);
    memset(&res, 0, sizeof res);
    args = xlt_args(a_echo);
    args.stdout_fd = p[1];
    before = xlt_logger_warnings(lg);
    rc = run_sync(ctx, m, &args, &res);
    close(p[1]);
    xlt_read_all(p[0], out, sizeof out);
    close(p[0]);
    if (strict)
        XLT_ASSERT_RC(rc, 0);
    check_rc("libxl_childproc_run (sync, stdout)", rc, before, ok_run);
    R->ops++;
    if (rc == 0) {
        XLT_ASSERT_EXITED(res.status, 0);
        XLT_ASSERT_STREQ(out, "hi\n");
    }

    /* 3. asynchronous run, completion by callback (timeout set: a timer,
     * and with hooks an osevent registration) */
    memset(&res_cb, 0, sizeof res_cb);
    args = xlt_args(a_cb);
    args.timeout_ms = 60000;
    memset(&how_cb, 0, sizeof how_cb);
    how_cb.callback = cb_done;
    before_cb = xlt_logger_warnings(lg);
    rc_cb = libxl_childproc_run(ctx, &args, &res_cb, &how_cb);
    if (strict)
        XLT_ASSERT_RC(rc_cb, 0);
    check_rc("libxl_childproc_run (callback)", rc_cb, before_cb, ok_run);
    cb_want = rc_cb == 0;

    /* 4. asynchronous run, completion as an event */
    memset(&res_ev, 0, sizeof res_ev);
    args = xlt_args(a_ev);
    args.timeout_ms = 60000;
    memset(&how_ev, 0, sizeof how_ev);
    how_ev.u.for_event = ev_id;
    before_ev = xlt_logger_warnings(lg);
    rc_ev = libxl_childproc_run(ctx, &args, &res_ev, &how_ev);
    if (strict)
        XLT_ASSERT_RC(rc_ev, 0);
    check_rc("libxl_childproc_run (event)", rc_ev, before_ev, ok_run);
    if (rc_ev != 0)
        ev_rc = 0; /* nothing to wait for */

    /* 5. fork with a death callback */
    before = xlt_logger_warnings(lg);
    errno = 0;
    pid = libxl_childproc_fork(ctx, death_cb, NULL);
    if (pid == 0)
        xlt_child_exit(code + 3);
    if (strict)
        XLT_ASSERT_MSG(pid > 0, "libxl_childproc_fork gave %d", (int)pid);
    if (pid < 0)
        XLT_ASSERT_MSG(errno != 0, "fork failed (%d) with errno 0", (int)pid);
    check_rc("libxl_childproc_fork", pid < 0 ? pid : 0, before,
             (const int[]){ERROR_FAIL, 0});
    death_want = pid > 0;

    /* 6. the completions, each exactly once */
    wait_all(ctx, m, ev_id, &ev_rc, cb_want, death_want);
    if (m == MODE_MAINLOOP)
        xlt_sleep_ms(5);
    else
        xlt_pump_for(ctx, 20); /* a second report would show here */
    XLT_ASSERT_EQ(cb_count, cb_want);
    XLT_ASSERT_EQ(death_count, death_want);
    XLT_ASSERT_EQ(disasters, 0);
    R->ops += cb_want + death_want + (rc_ev == 0);
    if (cb_want) {
        if (strict)
            XLT_ASSERT_RC(cb_rc, 0);
        check_rc("completion (callback)", cb_rc, before_cb, ok_done);
        if (cb_rc == 0)
            XLT_ASSERT_EXITED(res_cb.status, code + 1);
        else
            XLT_ASSERT(res_cb.exec_errno != 0);
    }
    if (rc_ev == 0) {
        if (strict)
            XLT_ASSERT_RC(ev_rc, 0);
        check_rc("completion (event)", ev_rc, before_ev, ok_done);
        if (ev_rc == 0)
            XLT_ASSERT_EXITED(res_ev.status, code + 2);
        else
            XLT_ASSERT(res_ev.exec_errno != 0);
    }
    if (death_want) {
        XLT_ASSERT_EQ(death_pid, pid);
        XLT_ASSERT_EXITED(death_status, code + 3);
    }
}

/* The whole of one run: the scenario with the fault armed, the lift, the
 * scenario again without faults, then the checks that need the end. */
static void run_scenario(scen_mode m, int site, long nth, bool sticky)
{
    libxl_ctx *ctx = NULL;
    int rc, before, i, zombies;

    lg = xlt_logger_new();
    xlf_reset();
    if (site >= 0)
        xlf_arm((xlf_site)site, nth, sticky);
    if (ctx_setup(&ctx, m) == 0) {
        scenario_ops(ctx, m, false, 10);
        before = xlt_logger_warnings(lg);
        rc = libxl_ctx_free(ctx);
        check_rc("libxl_ctx_free", rc, before, ok_none);
    }
    xlf_disarm();
    for (i = 0; i < XLF_NSITES; i++)
        R->calls[i] = xlf_calls((xlf_site)i);
    R->injected = site >= 0 ? xlf_injected((xlf_site)site) : 0;

    /* Nothing the faulted round started is left behind. */
    XLT_ASSERT_EQ(xlt_count_children(&zombies), 0);

    /* The lift: the same process, every call works again. */
    XLT_ASSERT_RC(ctx_setup(&ctx, m), 0);
    scenario_ops(ctx, m, true, 20);
    XLT_ASSERT_RC(libxl_ctx_free(ctx), 0);
    XLT_ASSERT_EQ(xlt_count_children(&zombies), 0);
    XLT_ASSERT_EQ(n_fdreg, 0);
    XLT_ASSERT_EQ(n_toreg, 0);

#ifdef XLF_ASAN
    XLT_ASSERT_MSG(__lsan_do_recoverable_leak_check() == 0,
                   "LeakSanitizer found leaks (site %s, N %ld, mode %s)",
                   site >= 0 ? xlf_site_name((xlf_site)site) : "none", nth,
                   mode_names[m]);
#endif
    R->finished = 1;
}

/* ----------------------------------------------------------- the driver */

static int run_timeout_s(void)
{
    return getenv("XLT_UNDER_VALGRIND") ? 300 : 60;
}

/* Runs the scenario in its own process group with a watchdog; fails the
 * case, naming mode, site and N, unless it finished cleanly. */
static void run_one(run_result *slot, scen_mode m, int site, long nth,
                    bool sticky)
{
    const char *sname = site >= 0 ? xlf_site_name((xlf_site)site) : "none";
    int64_t deadline = xlt_now_ms() + run_timeout_s() * 1000;
    int status;
    pid_t pid, r;

    memset(slot, 0, sizeof *slot);
    fflush(NULL);
    pid = fork();
    XLT_ASSERT_MSG(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        R = slot;
        run_scenario(m, site, nth, sticky);
        fflush(NULL);
        _exit(0);
    }
    setpgid(pid, pid);
    for (;;) {
        r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        XLT_ASSERT_MSG(r == 0 || errno == EINTR, "waitpid: %s",
                       strerror(errno));
        if (xlt_now_ms() > deadline) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            XLT_FAIL("mode %s, site %s, N %ld%s: HUNG, killed after %d s",
                     mode_names[m], sname, nth, sticky ? " (sticky)" : "",
                     run_timeout_s());
        }
        xlt_sleep_ms(1);
    }
    kill(-pid, SIGKILL); /* whatever it left in its group */
    if (WIFSIGNALED(status))
        XLT_FAIL("mode %s, site %s, N %ld%s: run killed by signal %d (%s)",
                 mode_names[m], sname, nth, sticky ? " (sticky)" : "",
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
    XLT_ASSERT_MSG(
        WIFEXITED(status) && WEXITSTATUS(status) == 0 && slot->finished,
        "mode %s, site %s, N %ld%s: run failed (exit status %#x;"
        " its message is above)",
        mode_names[m], sname, nth, sticky ? " (sticky)" : "", status);
}

static void rcs_text(const long *hist, char *buf, size_t size)
{
    size_t n = 0;
    int i;

    buf[0] = 0;
    for (i = 0; i < NRC && n < size; i++)
        if (hist[i])
            n += (size_t)snprintf(buf + n, size - n, "%s%d:%ld", n ? "," : "",
                                  -i, hist[i]);
    if (!n)
        snprintf(buf, size, "-");
}

/* Which N to try out of 1..count: all of them in the full form; in the
 * short one the first few, the last, and a spread in between. */
static int pick_ns(long count, long *ns, int max)
{
    long want = xls_scale(count, SHORT_NS), k;
    int n = 0;

    if (count <= 0)
        return 0;
    if (want >= count || want >= max) {
        for (k = 1; k <= count && n < max; k++)
            ns[n++] = k;
        return n;
    }
    for (k = 0; k < want; k++) {
        long v = want == 1 ? 1 : 1 + k * (count - 1) / (want - 1);
        if (n == 0 || ns[n - 1] != v)
            ns[n++] = v;
    }
    return n;
}

static void faults_in_mode(scen_mode m)
{
    run_result *slot;
    long total_runs = 0, total_inj = 0, total_err = 0;
    int64_t t0 = xlt_now_ms();
    int s;

    XLT_ASSERT(xlf_init());
    slot = mmap(NULL, sizeof *slot, PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    XLT_ASSERT(slot != MAP_FAILED);

    /* No fault at all: the baseline, and the count of calls per site. */
    run_one(slot, m, -1, 0, false);
    {
        long base[XLF_NSITES];
        memcpy(base, slot->calls, sizeof base);

        for (s = 0; s < XLF_NSITES; s++) {
            long ns[4096], inj = 0, err = 0, logged = 0, hist[NRC] = {0};
            int n = pick_ns(base[s], ns, 4096), i, j, runs = 0;
            char rcs[256];

            /* n runs failing the N-th call only, then sticky ones failing
             * every call from the N-th on: from the first only in the short
             * form, from each N in the full one. */
            int nsticky = base[s] == 0 ? 0 : xls_full() ? n : 1;
            for (i = 0; i < n + nsticky; i++) {
                bool sticky = i >= n;
                long nth = sticky ? ns[i - n] : ns[i];
                run_one(slot, m, s, nth, sticky);
                runs++;
                inj += slot->injected;
                err += slot->errors;
                logged += slot->logged;
                for (j = 0; j < NRC; j++)
                    hist[j] += slot->rc_hist[j];
                /* A counted call must be hit when armed (the counts are
                 * deterministic enough that the first always is). */
                if (nth == 1)
                    XLT_ASSERT_MSG(slot->injected > 0,
                                   "mode %s, site %s: armed at N=1 but"
                                   " nothing was injected",
                                   mode_names[m], xlf_site_name(s));
            }
            rcs_text(hist, rcs, sizeof rcs);
            xls_report("faults",
                       "mode=%s site=%s calls=%ld runs=%d"
                       " injected=%ld errors=%ld logged=%ld rcs=%s",
                       mode_names[m], xlf_site_name(s), base[s], runs, inj, err,
                       logged, rcs);
            XLT_ASSERT_EQ(logged, err);
            total_runs += runs;
            total_inj += inj;
            total_err += err;
        }
    }
    xls_report("faults-total",
               "mode=%s runs=%ld injected=%ld errors=%ld"
               " (all logged) elapsed_ms=%lld",
               mode_names[m], total_runs, total_inj, total_err,
               (long long)(xlt_now_ms() - t0));
    munmap(slot, sizeof *slot);
}

XLT_TEST(faults_default, 1800)
{
    faults_in_mode(MODE_DEFAULT);
}
XLT_TEST(faults_selective, 1800)
{
    faults_in_mode(MODE_SELECTIVE);
}
XLT_TEST(faults_always, 1800)
{
    faults_in_mode(MODE_ALWAYS);
}
XLT_TEST(faults_mainloop, 1800)
{
    faults_in_mode(MODE_MAINLOOP);
}
XLT_TEST(faults_hooks, 1800)
{
    faults_in_mode(MODE_HOOKS);
}

int main(void)
{
    static const xlt_case cases[] = {
        XLT_CASE(faults_default), XLT_CASE(faults_selective),
        XLT_CASE(faults_always),  XLT_CASE(faults_mainloop),
        XLT_CASE(faults_hooks),
    };
    return xlt_main("stress_faults", cases, sizeof cases / sizeof cases[0]);
}
