/*
 * test_ctx.c - the contract's errors, contexts and logging, and the
 * M1 rule that libxl_ctx_alloc blocks SIGCHLD in the calling thread.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every error value of the table in §1. */
static const int known_rcs[] = {
    ERROR_NONSPECIFIC, ERROR_VERSION,       ERROR_FAIL,
    ERROR_NI,          ERROR_NOMEM,         ERROR_INVAL,
    ERROR_TIMEDOUT,    ERROR_NOT_READY,     ERROR_OSEVENT_REG_FAIL,
    ERROR_BUFFERFULL,  ERROR_UNKNOWN_CHILD, ERROR_ABORTED,
    ERROR_NOTFOUND,
};
#define NKNOWN (sizeof known_rcs / sizeof known_rcs[0])

/* §1: a distinct, non-empty, stable string for each value; a non-empty
 * generic one, different from all of those, for any other int. */
XLT_TEST(test_S1_strerror_distinct_and_generic, 60)
{
    static const int unknown[] = {-7,    -8, -10, -15,     -21,    -24,
                                  -1000, 1,  42,  INT_MIN, INT_MAX};
    size_t i, j;

    for (i = 0; i < NKNOWN; i++) {
        const char *s = libxl_strerror(known_rcs[i]);
        XLT_ASSERT_MSG(s && *s, "libxl_strerror(%d) empty", known_rcs[i]);
        XLT_ASSERT_STREQ(libxl_strerror(known_rcs[i]), s);
        for (j = 0; j < i; j++)
            XLT_ASSERT_MSG(strcmp(s, libxl_strerror(known_rcs[j])) != 0,
                           "libxl_strerror(%d) == libxl_strerror(%d) == \"%s\"",
                           known_rcs[i], known_rcs[j], s);
    }
    for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = libxl_strerror(unknown[i]);
        XLT_ASSERT_MSG(s && *s, "libxl_strerror(%d) empty", unknown[i]);
        for (j = 0; j < NKNOWN; j++)
            XLT_ASSERT_MSG(strcmp(s, libxl_strerror(known_rcs[j])) != 0,
                           "unknown %d described like known %d: \"%s\"",
                           unknown[i], known_rcs[j], s);
    }
}

/* §2: version != LIBXL_VERSION gives ERROR_VERSION. */
XLT_TEST(test_S2_ctx_alloc_bad_version, 60)
{
    libxl_ctx *ctx = NULL;
    XLT_ASSERT_RC(libxl_ctx_alloc(&ctx, LIBXL_VERSION + 1, 0, NULL),
                  ERROR_VERSION);
    XLT_ASSERT_RC(libxl_ctx_alloc(&ctx, -1, 0, NULL), ERROR_VERSION);
}

/* §2: flags != 0 gives ERROR_INVAL. */
XLT_TEST(test_S2_ctx_alloc_bad_flags, 60)
{
    libxl_ctx *ctx = NULL;
    XLT_ASSERT_RC(libxl_ctx_alloc(&ctx, LIBXL_VERSION, 1, NULL), ERROR_INVAL);
    XLT_ASSERT_RC(libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0x80000000u, NULL),
                  ERROR_INVAL);
}

/* §2: pctx == NULL gives ERROR_INVAL. */
XLT_TEST(test_S2_ctx_alloc_null_pctx, 60)
{
    XLT_ASSERT_RC(libxl_ctx_alloc(NULL, LIBXL_VERSION, 0, NULL), ERROR_INVAL);
}

/* §2: libxl_ctx_free(NULL) is fine (returns 0, as libxl's does). */
XLT_TEST(test_S2_ctx_free_null, 60)
{
    XLT_ASSERT_RC(libxl_ctx_free(NULL), 0);
    libxl_logger_destroy(NULL);
}

/* §2: any number of ctxs at once, in any threads: 8 threads each hold 8
 * ctxs alive together, and every ctx runs its own child. */
#define MT_THREADS 8
#define MT_CTXS 8
static pthread_barrier_t mt_barrier;

static void *many_ctx_thread(void *arg)
{
    int t = (int)(intptr_t)arg, i;
    libxl_ctx *ctxs[MT_CTXS];

    for (i = 0; i < MT_CTXS; i++)
        ctxs[i] = xlt_ctx_new(NULL);
    pthread_barrier_wait(&mt_barrier); /* all 64 ctxs exist now */
    for (i = 0; i < MT_CTXS; i++) {
        char script[32];
        char *argv[] = {"/bin/sh", "-c", script, NULL};
        libxl_childproc_args a;
        libxl_childproc_result r;

        snprintf(script, sizeof script, "exit %d", t * MT_CTXS + i);
        memset(&a, 0, sizeof a);
        a.path = argv[0];
        a.argv = argv;
        XLT_ASSERT_RC(xlt_childproc_run(ctxs[i], &a, &r, NULL), 0);
        XLT_ASSERT_EXITED(r.status, t * MT_CTXS + i);
    }
    pthread_barrier_wait(&mt_barrier);
    for (i = 0; i < MT_CTXS; i++)
        XLT_ASSERT_RC(libxl_ctx_free(ctxs[i]), 0);
    return NULL;
}

XLT_TEST(test_S2_many_ctxs_in_many_threads, 120)
{
    pthread_t th[MT_THREADS];
    int i;

    pthread_barrier_init(&mt_barrier, NULL, MT_THREADS);
    for (i = 0; i < MT_THREADS; i++)
        XLT_ASSERT(pthread_create(&th[i], NULL, many_ctx_thread,
                                  (void *)(intptr_t)i) == 0);
    for (i = 0; i < MT_THREADS; i++)
        pthread_join(th[i], NULL);
    xlt_wait_no_children(10000);
}

/* An ERROR the library must log: setmode with an invalid chldowner (M7). */
static void provoke_error_log(libxl_ctx *ctx)
{
    libxl_childproc_hooks h;
    memset(&h, 0, sizeof h);
    h.chldowner = (libxl_sigchld_owner)99;
    libxl_childproc_setmode(ctx, &h, NULL);
}

/* Runs fn(ctx) with fd 2 redirected into a pipe; returns what was written. */
static void capture_stderr(void (*fn)(libxl_ctx *), libxl_ctx *ctx, char *out,
                           size_t outsz)
{
    int p[2], saved;

    fflush(stderr);
    xlt_pipe(p);
    saved = dup(2);
    XLT_ASSERT(saved >= 0);
    XLT_ASSERT(dup2(p[1], 2) == 2);
    fn(ctx);
    fflush(stderr);
    XLT_ASSERT(dup2(saved, 2) == 2);
    close(saved);
    close(p[1]);
    xlt_read_all(p[0], out, outsz);
    close(p[0]);
}

/* §2: lg == NULL sends WARN and above to stderr, one line each, prefixed
 * "xlchild: " (M7's ERROR for a bad chldowner is the probe). */
XLT_TEST(test_S2_default_logger_prefixed_lines_on_stderr, 60)
{
    libxl_ctx *ctx = xlt_ctx_new(NULL);
    char out[8192], *line, *save = NULL;
    int lines = 0;

    capture_stderr(provoke_error_log, ctx, out, sizeof out);
    XLT_ASSERT_MSG(out[0] != 0, "nothing written to stderr for an ERROR");
    XLT_ASSERT_MSG(out[strlen(out) - 1] == '\n', "last line unterminated: %s",
                   out);
    for (line = strtok_r(out, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        XLT_ASSERT_MSG(strncmp(line, "xlchild: ", 9) == 0,
                       "stderr line without the prefix: \"%s\"", line);
        lines++;
    }
    XLT_ASSERT(lines >= 1);
    libxl_ctx_free(ctx);
}

/* §2: libxl_logger_stdio_new writes a message iff its level >= min_level:
 * the ERROR from M7 appears with min ERROR and not with min CRITICAL. */
static size_t file_contents(FILE *f, char *buf, size_t size)
{
    size_t n;
    fflush(f);
    rewind(f);
    n = fread(buf, 1, size - 1, f);
    buf[n] = 0;
    return n;
}

XLT_TEST(test_S2_stdio_logger_min_level_filters, 60)
{
    FILE *f_err = tmpfile(), *f_crit = tmpfile();
    libxl_logger *l_err, *l_crit;
    libxl_ctx *c_err, *c_crit;
    char buf[8192];

    XLT_ASSERT(f_err && f_crit);
    l_err = libxl_logger_stdio_new(f_err, LIBXL_LOG_ERROR);
    l_crit = libxl_logger_stdio_new(f_crit, LIBXL_LOG_CRITICAL);
    XLT_ASSERT(l_err && l_crit);
    c_err = xlt_ctx_new(l_err);
    c_crit = xlt_ctx_new(l_crit);

    provoke_error_log(c_err);
    provoke_error_log(c_crit);

    XLT_ASSERT_MSG(file_contents(f_err, buf, sizeof buf) > 0,
                   "min ERROR logger got no line for an ERROR");
    XLT_ASSERT_MSG(buf[strlen(buf) - 1] == '\n', "unterminated line: %s", buf);
    XLT_ASSERT_MSG(file_contents(f_crit, buf, sizeof buf) == 0,
                   "min CRITICAL logger printed an ERROR: %s", buf);

    libxl_ctx_free(c_err);
    libxl_ctx_free(c_crit);
    libxl_logger_destroy(l_err);
    libxl_logger_destroy(l_crit);
}

/* §2: an application's own logger receives the library's messages with
 * their level; the ctx does not own it (ctx_free does not destroy it), and
 * libxl_logger_destroy calls its destroy hook. */
XLT_TEST(test_S2_custom_logger_receives_messages, 60)
{
    xlt_logger *l = xlt_logger_new();
    libxl_ctx *ctx = xlt_ctx_new(&l->lg);

    provoke_error_log(ctx);
    XLT_ASSERT_MSG(xlt_logger_count(l, LIBXL_LOG_ERROR, NULL) >= 1,
                   "no ERROR message; got:\n%s", l->text);
    XLT_ASSERT_RC(libxl_ctx_free(ctx), 0);
    XLT_ASSERT_MSG(l->destroyed == 0, "libxl_ctx_free destroyed the logger");
    libxl_logger_destroy(&l->lg);
    XLT_ASSERT_EQ(l->destroyed, 1);
}

/* §2: ctx_free with children running: their statuses are discarded and
 * logged at DEBUG (not above).  The header says the logger must outlive
 * the ctx -- so no more than that: the DEBUG line comes by the time
 * libxl_ctx_free returns, and nothing is logged through that logger once
 * it has (even after the children are reaped).  A default (WARN+) logger
 * prints nothing of it to stderr. */
static void start_sleepers_and_free(libxl_ctx *ctx)
{
    static char *argv[] = {"/bin/sleep", "1", NULL};
    static libxl_childproc_result res[3];
    int i;

    for (i = 0; i < 3; i++)
        xlt_start_event_run(ctx, argv, (uint64_t)i + 1, &res[i]);
    XLT_ASSERT(xlt_count_children(NULL) == 3); /* none has exited yet */
    XLT_ASSERT_RC(libxl_ctx_free(ctx), 0);
}

static void free_and_reap(libxl_ctx *ctx)
{
    start_sleepers_and_free(ctx);
    xlt_wait_no_children(10000);
    xlt_sleep_ms(300); /* room for a late log line to show up */
}

XLT_TEST(test_S2_ctx_free_discarded_status_logged_at_debug, 60)
{
    xlt_logger *l = xlt_logger_new();
    libxl_ctx *ctx = xlt_ctx_new(&l->lg);
    char out[8192], at_free[sizeof l->text];

    start_sleepers_and_free(ctx);
    XLT_ASSERT_MSG(xlt_logger_count(l, LIBXL_LOG_DEBUG, NULL) >= 1,
                   "no DEBUG message for discarded statuses by the end of "
                   "libxl_ctx_free; got:\n%s",
                   l->text);
    XLT_ASSERT_MSG(xlt_logger_count(l, LIBXL_LOG_WARN, NULL) +
                           xlt_logger_count(l, LIBXL_LOG_ERROR, NULL) ==
                       0,
                   "discarded statuses logged above DEBUG:\n%s", l->text);
    pthread_mutex_lock(&l->mu);
    memcpy(at_free, l->text, sizeof at_free);
    pthread_mutex_unlock(&l->mu);
    xlt_wait_no_children(10000);
    xlt_sleep_ms(300);
    XLT_ASSERT_MSG(strcmp(at_free, l->text) == 0,
                   "logged through the logger of a freed ctx:\n%s",
                   l->text + strlen(at_free));

    capture_stderr(free_and_reap, xlt_ctx_new(NULL), out, sizeof out);
    XLT_ASSERT_MSG(out[0] == 0, "default logger printed below WARN: %s", out);
}

/* §2: the stdio logger is safe from several threads at once: whole lines,
 * never interleaved.  Lines are compared after collapsing runs of hex
 * digits (pointers, pids), so each must equal the single-threaded one. */
#define LG_THREADS 8
#define LG_CALLS 50
static libxl_ctx *lg_ctx;

static void normalise(const char *in, char *out, size_t size)
{
    size_t n = 0;
    while (*in && n + 1 < size) {
        if (strchr("0123456789abcdefABCDEFx", *in)) {
            out[n++] = '#';
            while (*in && strchr("0123456789abcdefABCDEFx", *in))
                in++;
        } else {
            out[n++] = *in++;
        }
    }
    out[n] = 0;
}

static void *lg_thread(void *arg)
{
    int i;
    (void)arg;
    for (i = 0; i < LG_CALLS; i++)
        provoke_error_log(lg_ctx);
    return NULL;
}

XLT_TEST(test_S2_stdio_logger_whole_lines_from_threads, 60)
{
    FILE *f = tmpfile();
    libxl_logger *lg;
    pthread_t th[LG_THREADS];
    static char buf[1 << 20];
    char one[4096], norm_one[4096], norm[4096], *line, *save = NULL;
    int i, per_call = 0, total = 0;

    XLT_ASSERT(f != NULL);
    lg = libxl_logger_stdio_new(f, LIBXL_LOG_DEBUG);
    XLT_ASSERT(lg != NULL);
    lg_ctx = xlt_ctx_new(lg);
    file_contents(f, one, sizeof one); /* whatever ctx_alloc itself logged */
    XLT_ASSERT(ftruncate(fileno(f), 0) == 0);
    rewind(f);

    provoke_error_log(lg_ctx);
    file_contents(f, one, sizeof one);
    for (i = 0; one[i]; i++)
        per_call += one[i] == '\n';
    XLT_ASSERT_MSG(per_call >= 1, "no line logged for one ERROR");
    /* The first line of one call is the reference shape. */
    *strchr(one, '\n') = 0;
    normalise(one, norm_one, sizeof norm_one);

    XLT_ASSERT(ftruncate(fileno(f), 0) == 0);
    rewind(f);
    for (i = 0; i < LG_THREADS; i++)
        XLT_ASSERT(pthread_create(&th[i], NULL, lg_thread, NULL) == 0);
    for (i = 0; i < LG_THREADS; i++)
        pthread_join(th[i], NULL);

    file_contents(f, buf, sizeof buf);
    for (i = 0; buf[i]; i++)
        total += buf[i] == '\n';
    XLT_ASSERT_EQ(total, per_call * LG_THREADS * LG_CALLS);
    if (per_call == 1) {
        for (line = strtok_r(buf, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            normalise(line, norm, sizeof norm);
            XLT_ASSERT_MSG(strcmp(norm, norm_one) == 0,
                           "mangled line \"%s\" (reference \"%s\")", line, one);
        }
    }
    libxl_ctx_free(lg_ctx);
    libxl_logger_destroy(lg);
}

/* M1: libxl_ctx_alloc blocks SIGCHLD in the calling thread, and only
 * SIGCHLD: the rest of the thread's mask is unchanged.  Checked in the main
 * thread and in another thread that unblocked SIGCHLD first. */
static void check_alloc_blocks_sigchld(void)
{
    sigset_t set, cur;
    libxl_ctx *ctx;

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    ctx = xlt_ctx_new(NULL);
    pthread_sigmask(SIG_SETMASK, NULL, &cur);
    XLT_ASSERT_MSG(sigismember(&cur, SIGCHLD) == 1,
                   "SIGCHLD not blocked after libxl_ctx_alloc");
    XLT_ASSERT_MSG(sigismember(&cur, SIGUSR2) == 1, "SIGUSR2 was unblocked");
    XLT_ASSERT_MSG(sigismember(&cur, SIGUSR1) == 0, "SIGUSR1 was blocked");
    libxl_ctx_free(ctx);
}

static void *alloc_thread(void *arg)
{
    (void)arg;
    check_alloc_blocks_sigchld();
    return NULL;
}

XLT_TEST(test_M1_ctx_alloc_blocks_sigchld_in_calling_thread, 60)
{
    pthread_t th;
    check_alloc_blocks_sigchld();
    XLT_ASSERT(pthread_create(&th, NULL, alloc_thread, NULL) == 0);
    pthread_join(th, NULL);
}

int main(void)
{
    static const xlt_case cases[] = {
        XLT_CASE(test_S1_strerror_distinct_and_generic),
        XLT_CASE(test_S2_ctx_alloc_bad_version),
        XLT_CASE(test_S2_ctx_alloc_bad_flags),
        XLT_CASE(test_S2_ctx_alloc_null_pctx),
        XLT_CASE(test_S2_ctx_free_null),
        XLT_CASE(test_S2_many_ctxs_in_many_threads),
        XLT_CASE(test_S2_default_logger_prefixed_lines_on_stderr),
        XLT_CASE(test_S2_stdio_logger_min_level_filters),
        XLT_CASE(test_S2_custom_logger_receives_messages),
        XLT_CASE(test_S2_ctx_free_discarded_status_logged_at_debug),
        XLT_CASE(test_S2_stdio_logger_whole_lines_from_threads),
        XLT_CASE(test_M1_ctx_alloc_blocks_sigchld_in_calling_thread),
    };
    return xlt_main("ctx", cases, sizeof cases / sizeof cases[0]);
}
