/*
 * xr-report.c - what xlchild-run says about the jobs: a result line (or a
 * JSON object) per job, the summary, and the live progress line.
 */
#include <config.h>

#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include "xlchild-run.h"

double ts_diff(const struct timespec *a, const struct timespec *b)
{
    return (double)(a->tv_sec - b->tv_sec) +
           (double)(a->tv_nsec - b->tv_nsec) / 1e9;
}

const char *signal_name(int sig)
{
    static const char *const names[] = {
        [SIGHUP] = "SIGHUP",       [SIGINT] = "SIGINT",
        [SIGQUIT] = "SIGQUIT",     [SIGILL] = "SIGILL",
        [SIGTRAP] = "SIGTRAP",     [SIGABRT] = "SIGABRT",
        [SIGBUS] = "SIGBUS",       [SIGFPE] = "SIGFPE",
        [SIGKILL] = "SIGKILL",     [SIGUSR1] = "SIGUSR1",
        [SIGSEGV] = "SIGSEGV",     [SIGUSR2] = "SIGUSR2",
        [SIGPIPE] = "SIGPIPE",     [SIGALRM] = "SIGALRM",
        [SIGTERM] = "SIGTERM",     [SIGCHLD] = "SIGCHLD",
        [SIGCONT] = "SIGCONT",     [SIGSTOP] = "SIGSTOP",
        [SIGTSTP] = "SIGTSTP",     [SIGTTIN] = "SIGTTIN",
        [SIGTTOU] = "SIGTTOU",     [SIGURG] = "SIGURG",
        [SIGXCPU] = "SIGXCPU",     [SIGXFSZ] = "SIGXFSZ",
        [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF",
        [SIGWINCH] = "SIGWINCH",   [SIGIO] = "SIGIO",
        [SIGSYS] = "SIGSYS",
#ifdef SIGPWR
        [SIGPWR] = "SIGPWR",
#endif
#ifdef SIGSTKFLT
        [SIGSTKFLT] = "SIGSTKFLT",
#endif
    };
    static char other[24];

    if (sig > 0 && (size_t)sig < sizeof names / sizeof names[0] && names[sig])
        return names[sig];
    if (sig >= SIGRTMIN && sig <= SIGRTMAX)
        snprintf(other, sizeof other, "SIGRTMIN+%d", sig - SIGRTMIN);
    else
        snprintf(other, sizeof other, "SIG%d", sig);
    return other;
}

enum outcome job_outcome(const struct job *j)
{
    if (j->rc == ERROR_ABORTED)
        return OUT_ABORTED;
    if (j->start_err || j->rc || j->res.status)
        return OUT_FAILED;
    return OUT_OK;
}

/* Why it did not run, or NULL when it did. */
static const char *start_error(const struct job *j)
{
    if (j->start_err)
        return libxl_strerror(j->start_err);
    if (j->rc == ERROR_FAIL && j->res.exec_errno)
        return strerror(j->res.exec_errno);
    if (j->rc == ERROR_FAIL)
        return libxl_strerror(j->rc); /* reaped, but its status is lost */
    return NULL;
}

static double wall_s(const struct job *j)
{
    return j->res.pid > 0 ? ts_diff(&j->t_end, &j->t_start) : 0.0;
}

static double tv_s(const struct timeval *tv)
{
    return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

/* The command on one line: control characters as C escapes. */
static void text_command(struct sink *s, const char *cmd)
{
    const char *p = cmd;

    for (;;) {
        size_t n = 0;

        while (p[n] && ((unsigned char)p[n] >= 0x20 && p[n] != 0x7f))
            n++;
        sink_write(s, p, n);
        p += n;
        if (!*p)
            break;
        switch (*p) {
        case '\n': sink_puts(s, "\\n"); break;
        case '\t': sink_puts(s, "\\t"); break;
        case '\r': sink_puts(s, "\\r"); break;
        default: sink_printf(s, "\\x%02x", (unsigned char)*p); break;
        }
        p++;
    }
}

void report_text(struct sink *s, const struct job *j)
{
    const char *why = start_error(j);
    int st = j->res.status;

    sink_printf(s, "[%lu] ", j->seq);
    if (why)
        sink_printf(s, "not started: %s", why);
    else if (WIFEXITED(st))
        sink_printf(s, "exit %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        sink_printf(s, "signal %s%s", signal_name(WTERMSIG(st)),
                    WCOREDUMP(st) ? " (core dumped)" : "");
    else
        sink_printf(s, "status %#x", st);
    if (j->rc == ERROR_TIMEDOUT)
        sink_puts(s, " (timed out)");
    else if (j->rc == ERROR_ABORTED)
        sink_puts(s, " (aborted)");
    sink_printf(s, "  %.3fs  ", wall_s(j));
    text_command(s, j->cmd);
    sink_write(s, "\n", 1);
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629), or 0. */
static size_t utf8_len(const unsigned char *p)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n, i;

    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4;
    else
        return 0;
    if (p[0] == 0xe0)
        lo = 0xa0; /* overlong */
    else if (p[0] == 0xed)
        hi = 0x9f; /* surrogates */
    else if (p[0] == 0xf0)
        lo = 0x90; /* overlong */
    else if (p[0] == 0xf4)
        hi = 0x8f; /* beyond U+10FFFF */
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

/* A JSON string: escaped, and valid UTF-8 even when the input is not
 * (a byte that starts no well-formed sequence becomes U+FFFD). */
void json_string(struct sink *s, const char *str)
{
    const unsigned char *p = (const unsigned char *)str;

    sink_write(s, "\"", 1);
    while (*p) {
        size_t n = 0;

        while (p[n] >= 0x20 && p[n] < 0x80 && p[n] != '"' && p[n] != '\\')
            n++;
        sink_write(s, p, n);
        p += n;
        if (!*p)
            break;
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            sink_write(s, esc, 2);
            p++;
        } else if (*p == '\n') {
            sink_puts(s, "\\n");
            p++;
        } else if (*p == '\t') {
            sink_puts(s, "\\t");
            p++;
        } else if (*p < 0x20) {
            sink_printf(s, "\\u%04x", *p);
            p++;
        } else if ((n = utf8_len(p))) {
            sink_write(s, p, n);
            p += n;
        } else {
            sink_puts(s, "\\ufffd");
            p++;
        }
    }
    sink_write(s, "\"", 1);
}

void report_json(struct sink *s, const struct job *j)
{
    const char *why = start_error(j);
    int st = j->res.status;

    sink_printf(s, "{\"seq\":%lu,\"line\":%lu,\"command\":", j->seq, j->lineno);
    json_string(s, j->cmd);
    if (j->res.pid > 0)
        sink_printf(s, ",\"pid\":%ld", (long)j->res.pid);
    else
        sink_puts(s, ",\"pid\":null");
    if (!why && WIFEXITED(st))
        sink_printf(s, ",\"exit\":%d,\"signal\":null", WEXITSTATUS(st));
    else if (!why && WIFSIGNALED(st))
        sink_printf(s, ",\"exit\":null,\"signal\":\"%s\"",
                    signal_name(WTERMSIG(st)));
    else
        sink_puts(s, ",\"exit\":null,\"signal\":null");
    sink_printf(s, ",\"timed_out\":%s,\"aborted\":%s,\"error\":",
                j->rc == ERROR_TIMEDOUT ? "true" : "false",
                j->rc == ERROR_ABORTED ? "true" : "false");
    if (why)
        json_string(s, why);
    else
        sink_puts(s, "null");
    sink_printf(s,
                ",\"wall_s\":%.6f,\"user_s\":%.6f,\"sys_s\":%.6f"
                ",\"ok\":%s}\n",
                wall_s(j), tv_s(&j->res.rusage.ru_utime),
                tv_s(&j->res.rusage.ru_stime),
                job_outcome(j) == OUT_OK ? "true" : "false");
}

void report_summary(struct sink *s, const struct counts *c, double wall,
                    int signo)
{
    sink_printf(s, PROG ": %lu job%s: %lu succeeded", c->total,
                c->total == 1 ? "" : "s", c->ok);
    if (c->failed)
        sink_printf(s, ", %lu failed", c->failed);
    if (c->timed_out)
        sink_printf(s, " (%lu timed out)", c->timed_out);
    if (c->aborted)
        sink_printf(s, ", %lu aborted", c->aborted);
    if (c->not_started)
        sink_printf(s, ", %lu not started", c->not_started);
    sink_printf(s, "; %.2fs", wall);
    if (signo)
        sink_printf(s, "; stopped by %s", signal_name(signo));
    sink_write(s, "\n", 1);
}

/* ------------------------------------------------------------------ */
/* The progress line: stderr, only when it is a terminal.              */

static struct {
    bool on, visible, bar;
    struct sink *err;
    struct timespec last;
    unsigned long done, failed, total;
    bool total_known;
} pg;

static void progress_hide(struct sink *s)
{
    if (!pg.visible || (s != pg.err && !s->tty))
        return;
    pg.visible = false; /* first: the write below comes back here */
    sink_puts(pg.err, "\r\033[K");
}

void progress_init(bool enabled, bool bar, struct sink *err)
{
    pg.on = enabled;
    pg.bar = bar;
    pg.err = err;
    if (enabled)
        sink_before_write = progress_hide;
}

void progress_clear(void)
{
    if (pg.on)
        progress_hide(pg.err);
}

static void fmt_duration(char *buf, size_t n, double s)
{
    long t = (long)(s + 0.5);

    if (t < 60)
        snprintf(buf, n, "%lds", t);
    else if (t < 3600)
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, n, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
}

static void progress_draw(const struct counts *c, double elapsed)
{
    unsigned long done = c->ok + c->failed + c->aborted;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    char line[256], total[32], eta[32] = "?";
    struct winsize ws;
    int n;

    if (c->total_known)
        snprintf(total, sizeof total, "%lu", c->total);
    else
        snprintf(total, sizeof total, "%lu+", c->total);
    if (c->total_known && rate > 0)
        fmt_duration(eta, sizeof eta, (double)(c->total - done) / rate);
    n = snprintf(line, sizeof line,
                 PROG ": %lu/%s done, %lu failed, "
                      "%.1f/s, ETA %s",
                 done, total, c->failed + c->aborted, rate, eta);
    if (n < 0)
        return;
    if (pg.bar && c->total_known && (size_t)n < sizeof line - 40) {
        unsigned long pct = c->total ? done * 100 / c->total : 100;
        int k;

        n += snprintf(line + n, sizeof line - (size_t)n, " %3lu%% [", pct);
        for (k = 0; k < 20; k++)
            line[n++] = (unsigned long)k < pct / 5 ? '#' : '.';
        line[n++] = ']';
        line[n] = '\0';
    }
    /* Longer than the terminal is wide, it would wrap and \r could not
     * take it back. */
    if (ioctl(pg.err->fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 &&
        n >= ws.ws_col)
        n = ws.ws_col - 1;
    if ((size_t)n >= sizeof line)
        n = sizeof line - 1;
    pg.visible = false;
    sink_puts(pg.err, "\r");
    sink_write(pg.err, line, (size_t)n);
    sink_puts(pg.err, "\033[K");
    pg.visible = true;
    pg.done = done;
    pg.failed = c->failed + c->aborted;
    pg.total = c->total;
    pg.total_known = c->total_known;
}

int progress_update(const struct counts *c, double elapsed, bool force)
{
    struct timespec now;
    long since;
    bool changed;

    if (!pg.on)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &now);
    since = pg.last.tv_sec ? (long)(ts_diff(&now, &pg.last) * 1000) : 100000;
    changed = !pg.visible || pg.done != c->ok + c->failed + c->aborted ||
              pg.failed != c->failed + c->aborted || pg.total != c->total ||
              pg.total_known != c->total_known;
    if (force || (changed && since >= 100) || since >= 1000) {
        progress_draw(c, elapsed);
        pg.last = now;
        return 1000;
    }
    return changed ? (int)(100 - since) : (int)(1000 - since);
}

/* A CSV field (RFC 4180): in double quotes, doubled inside, when it holds
 * a comma, a quote or a line break. */
static void csv_field(struct sink *s, const char *str)
{
    const char *p;

    if (!str[strcspn(str, ",\"\r\n")]) {
        sink_puts(s, str);
        return;
    }
    sink_write(s, "\"", 1);
    for (p = str; *p; p++) {
        if (*p == '"')
            sink_write(s, "\"", 1);
        sink_write(s, p, 1);
    }
    sink_write(s, "\"", 1);
}

void report_csv(struct sink *s, const struct job *j)
{
    static bool header_done;
    const char *why = start_error(j);
    int st = j->res.status;

    if (!header_done) {
        sink_puts(s, "seq,line,command,pid,exit,signal,timed_out,aborted,"
                     "error,wall_s,user_s,sys_s,ok\r\n");
        header_done = true;
    }
    sink_printf(s, "%lu,%lu,", j->seq, j->lineno);
    csv_field(s, j->cmd ? j->cmd : "");
    if (j->res.pid > 0)
        sink_printf(s, ",%ld,", (long)j->res.pid);
    else
        sink_puts(s, ",,");
    if (!why && WIFEXITED(st))
        sink_printf(s, "%d,", WEXITSTATUS(st));
    else if (!why && WIFSIGNALED(st))
        sink_printf(s, ",%s", signal_name(WTERMSIG(st)));
    else
        sink_puts(s, ",");
    sink_printf(s, ",%s,%s,", j->rc == ERROR_TIMEDOUT ? "true" : "false",
                j->rc == ERROR_ABORTED ? "true" : "false");
    csv_field(s, why ? why : "");
    sink_printf(s, ",%.6f,%.6f,%.6f,%s\r\n", wall_s(j),
                tv_s(&j->res.rusage.ru_utime), tv_s(&j->res.rusage.ru_stime),
                job_outcome(j) == OUT_OK ? "true" : "false");
}

/* --progress, --bar, --eta: the last state stays, on a line of its own. */
void progress_finish(const struct counts *c, double elapsed)
{
    if (!pg.on)
        return;
    progress_draw(c, elapsed);
    pg.visible = false;
    sink_write(pg.err, "\n", 1);
}
