/*
 * stress.h - shared pieces of the reliability suite (tests/stress/).
 *
 * Every case is an XLT_TEST (tests/harness.h): its own forked process, its
 * own process group, a watchdog.  On top of that this header gives
 *  - the scale: `make check` runs the short form, `make check-stress` the
 *    full one (XLT_STRESS=full), and XLT_STRESS_SCALE=<percent> shrinks or
 *    grows either (valgrind runs use it);
 *  - a ledger: exactly-once accounting of every child a case starts;
 *  - xls_report: the counts a case checked, one "COUNTS" line on stdout
 *    (it lands in the test's .log), so a green run says what it proved.
 */
#ifndef XLS_STRESS_H
#define XLS_STRESS_H

#include "../harness.h"

#include <stdbool.h>

/* True under `make check-stress` (XLT_STRESS=full). */
bool xls_full(void);
/* n_full or n_short by the mode, times XLT_STRESS_SCALE percent (if set),
 * never below 1. */
long xls_scale(long n_full, long n_short);

/* "COUNTS <what>: <fmt...>" on stdout, flushed. */
void xls_report(const char *what, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * The ledger: one slot per child a case means to start, indexed by the
 * case's own token (an event's for_user, a callback's user pointer), not
 * by pid, since pids are recycled.  started/reported may be called from any
 * thread.  xls_ledger_check asserts that every started child was reported
 * exactly once with the status it was meant to have, that nothing was
 * reported that was not started, and reports the counts.
 */
typedef struct {
    pid_t pid;
    int want;    /* wait status it must report; -2: any */
    int got;     /* wait status reported */
    int rc;      /* rc reported (runs), 0 for fork children */
    int claims;  /* reports begun: the first one writes got and rc */
    int reports; /* reports finished (got and rc written first) */
    int started;
} xls_slot;

typedef struct {
    long n;
    xls_slot *slot;
    long unexpected; /* reports with an unknown token */
} xls_ledger;

xls_ledger *xls_ledger_new(long n);
void xls_ledger_free(xls_ledger *l);
void xls_ledger_started(xls_ledger *l, long token, pid_t pid, int want);
void xls_ledger_reported(xls_ledger *l, long token, int status, int rc);
/* Reports reported by now (any thread). */
long xls_ledger_count(xls_ledger *l);
/* Asserts exactly-once and right statuses; reports "what" counts. */
void xls_ledger_check(xls_ledger *l, const char *what);

/*
 * The ring: the ledger for a run of unbounded length (the soak), in bounded
 * memory.  Tokens are sequence numbers; slot token % n holds the latest,
 * and a token is retired (its reports counted: 0 lost, 1 once, more twice)
 * when its slot is taken again, n tokens later, or by xls_ring_check.  A
 * report of a token already retired is counted as "late" (a duplicate or
 * a report for a child long gone): never right.  Thread-safe.
 */
typedef struct {
    long token;
    int want, got, reports;
} xls_ring_slot;

typedef struct {
    pthread_mutex_t mu;
    long n, next;
    xls_ring_slot *slot;
    long started, once, lost, twice, wrong, late;
    long first_bad; /* a token that went wrong (-1: none) */
    int first_bad_got, first_bad_want, first_bad_reports;
} xls_ring;

xls_ring *xls_ring_new(long n);
void xls_ring_free(xls_ring *r);
/* A new token for a child meant to end with wait status want (-2: any). */
long xls_ring_start(xls_ring *r, int want);
void xls_ring_report(xls_ring *r, long token, int status);
/* Reports of token so far (0 once it is retired). */
int xls_ring_reports(xls_ring *r, long token);
/* Retires every token (the counts are then final). */
void xls_ring_retire_all(xls_ring *r);
/* xls_ring_retire_all, then reports the counts as "what" and asserts that
 * none was lost, reported twice or late, or had a wrong status. */
void xls_ring_check(xls_ring *r, const char *what);

/* Asserts that this process has no zombie children left and returns how
 * many children (running) it still has. */
int xls_assert_no_zombies(const char *what);

/* Open fds of this process, and its peak RSS in KiB (VmHWM). */
int xls_count_fds(void);
long xls_peak_rss_kib(void);
long xls_rss_kib(void);

#endif
