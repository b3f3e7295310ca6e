/*
 * stress.c - see stress.h.
 */
#define _GNU_SOURCE
#include "stress.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool xls_full(void)
{
    const char *s = getenv("XLT_STRESS");
    return s && strcmp(s, "full") == 0;
}

long xls_scale(long n_full, long n_short)
{
    const char *pct = getenv("XLT_STRESS_SCALE");
    long n = xls_full() ? n_full : n_short;

    if (pct && *pct)
        n = n * atol(pct) / 100;
    return n < 1 ? 1 : n;
}

void xls_report(const char *what, const char *fmt, ...)
{
    va_list al;

    printf("COUNTS %s: ", what);
    va_start(al, fmt);
    vprintf(fmt, al);
    va_end(al);
    printf("\n");
    fflush(stdout);
}

xls_ledger *xls_ledger_new(long n)
{
    xls_ledger *l = calloc(1, sizeof *l);

    XLT_ASSERT(l != NULL);
    l->slot = calloc((size_t)n, sizeof *l->slot);
    XLT_ASSERT(l->slot != NULL);
    l->n = n;
    return l;
}

void xls_ledger_free(xls_ledger *l)
{
    if (!l)
        return;
    free(l->slot);
    free(l);
}

void xls_ledger_started(xls_ledger *l, long token, pid_t pid, int want)
{
    XLT_ASSERT_MSG(token >= 0 && token < l->n, "token %ld out of range", token);
    XLT_ASSERT_MSG(!l->slot[token].started, "token %ld started twice", token);
    l->slot[token].pid = pid;
    l->slot[token].want = want;
    __atomic_store_n(&l->slot[token].started, 1, __ATOMIC_RELEASE);
}

void xls_ledger_reported(xls_ledger *l, long token, int status, int rc)
{
    if (token < 0 || token >= l->n) {
        __atomic_add_fetch(&l->unexpected, 1, __ATOMIC_RELAXED);
        return;
    }
    /* The first report's values are kept (a second one is what the check
     * is about, not its contents), and written before the report counts:
     * a thread that sees reports >= 1 sees them. */
    if (__atomic_fetch_add(&l->slot[token].claims, 1, __ATOMIC_ACQ_REL) == 0) {
        l->slot[token].got = status;
        l->slot[token].rc = rc;
    }
    __atomic_add_fetch(&l->slot[token].reports, 1, __ATOMIC_RELEASE);
}

long xls_ledger_count(xls_ledger *l)
{
    long i, n = 0;

    for (i = 0; i < l->n; i++)
        n += __atomic_load_n(&l->slot[i].reports, __ATOMIC_ACQUIRE) > 0;
    return n;
}

void xls_ledger_check(xls_ledger *l, const char *what)
{
    long i, started = 0, once = 0, lost = 0, dup = 0, wrong = 0, early = 0;
    long first_bad = -1;

    for (i = 0; i < l->n; i++) {
        xls_slot *s = &l->slot[i];
        int reports = __atomic_load_n(&s->reports, __ATOMIC_ACQUIRE);

        if (!__atomic_load_n(&s->started, __ATOMIC_ACQUIRE)) {
            if (reports) {
                early++; /* reported but never started: a bug here */
                if (first_bad < 0)
                    first_bad = i;
            }
            continue;
        }
        started++;
        if (reports == 0)
            lost++;
        else if (reports > 1)
            dup++;
        else
            once++;
        if (reports >= 1 && s->want != -2 && s->got != s->want) {
            wrong++;
            if (first_bad < 0)
                first_bad = i;
        }
        if (reports != 1 && first_bad < 0)
            first_bad = i;
    }
    xls_report(what,
               "started=%ld reported_once=%ld lost=%ld twice=%ld"
               " wrong_status=%ld unknown=%ld",
               started, once, lost, dup, wrong, l->unexpected + early);
    if (first_bad >= 0) {
        xls_slot *s = &l->slot[first_bad];
        XLT_FAIL("%s: child #%ld (pid %d) reported %d time(s), status %#x"
                 " rc %d, wanted status %#x (lost=%ld twice=%ld wrong=%ld"
                 " unknown=%ld)",
                 what, first_bad, (int)s->pid, s->reports, s->got, s->rc,
                 s->want, lost, dup, wrong, l->unexpected + early);
    }
    XLT_ASSERT_MSG(l->unexpected == 0, "%s: %ld reports of unknown tokens",
                   what, l->unexpected);
}

xls_ring *xls_ring_new(long n)
{
    xls_ring *r = calloc(1, sizeof *r);
    long i;

    XLT_ASSERT(r != NULL);
    r->slot = calloc((size_t)n, sizeof *r->slot);
    XLT_ASSERT(r->slot != NULL);
    for (i = 0; i < n; i++)
        r->slot[i].token = -1;
    r->n = n;
    r->first_bad = -1;
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

void xls_ring_free(xls_ring *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    free(r->slot);
    free(r);
}

static void ring_bad_locked(xls_ring *r, const xls_ring_slot *s)
{
    if (r->first_bad >= 0)
        return;
    r->first_bad = s->token;
    r->first_bad_got = s->got;
    r->first_bad_want = s->want;
    r->first_bad_reports = s->reports;
}

/* Counts what became of the token in s. */
static void ring_retire_locked(xls_ring *r, xls_ring_slot *s)
{
    if (s->token < 0)
        return;
    if (s->reports == 0)
        r->lost++;
    else if (s->reports > 1)
        r->twice++;
    else
        r->once++;
    if (s->reports != 1)
        ring_bad_locked(r, s);
    s->token = -1;
}

long xls_ring_start(xls_ring *r, int want)
{
    xls_ring_slot *s;
    long t;

    pthread_mutex_lock(&r->mu);
    t = r->next++;
    s = &r->slot[t % r->n];
    ring_retire_locked(r, s);
    s->token = t;
    s->want = want;
    s->got = 0;
    s->reports = 0;
    r->started++;
    pthread_mutex_unlock(&r->mu);
    return t;
}

void xls_ring_report(xls_ring *r, long token, int status)
{
    xls_ring_slot *s = &r->slot[(token < 0 ? 0 : token) % r->n];

    pthread_mutex_lock(&r->mu);
    if (token < 0 || s->token != token) {
        r->late++;
        if (r->first_bad < 0) {
            r->first_bad = token;
            r->first_bad_got = status;
            r->first_bad_want = -3;
            r->first_bad_reports = -1;
        }
    } else {
        if (s->reports++ == 0) {
            s->got = status;
            if (s->want != -2 && status != s->want) {
                r->wrong++;
                ring_bad_locked(r, s);
            }
        }
    }
    pthread_mutex_unlock(&r->mu);
}

int xls_ring_reports(xls_ring *r, long token)
{
    xls_ring_slot *s = &r->slot[token % r->n];
    int n;

    pthread_mutex_lock(&r->mu);
    n = s->token == token ? s->reports : 0;
    pthread_mutex_unlock(&r->mu);
    return n;
}

void xls_ring_retire_all(xls_ring *r)
{
    long i;

    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n; i++)
        ring_retire_locked(r, &r->slot[i]);
    pthread_mutex_unlock(&r->mu);
}

void xls_ring_check(xls_ring *r, const char *what)
{
    xls_ring_retire_all(r);
    pthread_mutex_lock(&r->mu);
    xls_report(what,
               "started=%ld reported_once=%ld lost=%ld twice=%ld"
               " wrong_status=%ld late_or_unknown=%ld",
               r->started, r->once, r->lost, r->twice, r->wrong, r->late);
    if (r->first_bad >= 0 || r->late)
        XLT_FAIL("%s: token %ld reported %d time(s), status %#x, wanted %#x"
                 " (lost=%ld twice=%ld wrong=%ld late=%ld)",
                 what, r->first_bad, r->first_bad_reports, r->first_bad_got,
                 r->first_bad_want, r->lost, r->twice, r->wrong, r->late);
    pthread_mutex_unlock(&r->mu);
}

int xls_assert_no_zombies(const char *what)
{
    int zombies = 0, n = xlt_count_children(&zombies);

    XLT_ASSERT_MSG(zombies == 0, "%s: %d zombie children left (of %d)", what,
                   zombies, n);
    return n;
}

int xls_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    XLT_ASSERT(d != NULL);
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] >= '0' && e->d_name[0] <= '9';
    closedir(d);
    return n - 1; /* the directory's own fd */
}

static long status_kib(const char *key)
{
    char line[256];
    size_t klen = strlen(key);
    long v = -1;
    FILE *f = fopen("/proc/self/status", "re");

    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, klen) == 0) {
            v = atol(line + klen);
            break;
        }
    fclose(f);
    return v;
}

long xls_peak_rss_kib(void)
{
    return status_kib("VmHWM:");
}

long xls_rss_kib(void)
{
    return status_kib("VmRSS:");
}
