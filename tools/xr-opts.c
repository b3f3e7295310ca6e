/*
 * xr-opts.c - xlchild-run's command line.
 *
 * getopt_long does the parsing, with its own messages turned off: they
 * would name the libtool wrapper's lt-xlchild-run, and a usage error here
 * always ends with the same pointer to --help and exit status 2.
 */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xlchild-run.h"

#define MAX_JOBS 1000000UL
#define DEFAULT_KILL_GRACE_MS 2000

enum {
    OPT_NO_SHELL = 256,
    OPT_TIMEOUT,
    OPT_KILL_AFTER,
    OPT_HALT,
    OPT_TAG,
    OPT_TAGSTRING,
    OPT_RESULTS,
    OPT_JSON,
    OPT_CSV,
    OPT_LOG,
    OPT_NO_PROGRESS,
    OPT_SKIP_EMPTY,
    OPT_BLANK_LINES,
    OPT_LINK,
    OPT_GROUP,
    OPT_LINE_BUFFER,
    OPT_JOBLOG,
    OPT_RESUME,
    OPT_RESUME_FAILED,
    OPT_RETRIES,
    OPT_EXIT_STATUS,
    OPT_DELAY,
    OPT_LOAD,
    OPT_MEMFREE,
    OPT_DRY_RUN,
    OPT_BAR,
    OPT_PROGRESS,
    OPT_ETA,
};

static const struct option longopts[] = {
    {"jobs", required_argument, NULL, 'j'},
    {"null", no_argument, NULL, '0'},
    {"arg-file", required_argument, NULL, 'a'},
    {"no-shell", no_argument, NULL, OPT_NO_SHELL},
    {"link", no_argument, NULL, OPT_LINK},
    {"colsep", required_argument, NULL, 'C'},
    {"replace", required_argument, NULL, 'I'},
    {"blank-lines", required_argument, NULL, OPT_BLANK_LINES},
    {"skip-empty", no_argument, NULL, OPT_SKIP_EMPTY},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"kill-after", required_argument, NULL, OPT_KILL_AFTER},
    {"halt", required_argument, NULL, OPT_HALT},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"joblog", required_argument, NULL, OPT_JOBLOG},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"resume-failed", no_argument, NULL, OPT_RESUME_FAILED},
    {"exit-status", required_argument, NULL, OPT_EXIT_STATUS},
    {"delay", required_argument, NULL, OPT_DELAY},
    {"load", required_argument, NULL, OPT_LOAD},
    {"memfree", required_argument, NULL, OPT_MEMFREE},
    {"group", no_argument, NULL, OPT_GROUP},
    {"line-buffer", no_argument, NULL, OPT_LINE_BUFFER},
    {"ungroup", no_argument, NULL, 'u'},
    {"tag", no_argument, NULL, OPT_TAG},
    {"tagstring", required_argument, NULL, OPT_TAGSTRING},
    {"results", required_argument, NULL, OPT_RESULTS},
    {"keep-order", no_argument, NULL, 'k'},
    {"json", no_argument, NULL, OPT_JSON},
    {"csv", no_argument, NULL, OPT_CSV},
    {"log", required_argument, NULL, OPT_LOG},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"verbose", no_argument, NULL, 'v'},
    {"bar", no_argument, NULL, OPT_BAR},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"eta", no_argument, NULL, OPT_ETA},
    {"quiet", no_argument, NULL, 'q'},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* The short options, for getopt_long ('+': the first operand, the
 * command, ends the options) and for bad_option. */
#define SHORTOPTS "+:j:0a:kqhVuvI:C:"
#define SHORT_LETTERS "j0akqhVuvIC"

static void usage(FILE *f)
{
    fputs(
        "Usage: " PROG " [OPTION]... [COMMAND [ARG]...]\n"
        "         [:::[+] ARG...|::::[+] FILE...]...\n"
        "Run commands several at once, each in its own process group.\n"
        "\n"
        "Without COMMAND, each input line (or ::: argument) is a command for "
        "/bin/sh -c.\n"
        "With COMMAND, each input line is an argument: COMMAND runs with it in "
        "place of\n"
        "{} (or after COMMAND when it has no replacement string), quoted for "
        "the shell,\n"
        "so that no argument is ever code.  The input: the ::: arguments, the "
        ":::: files\n"
        "and -a files (several sources: every combination, or --link), else "
        "standard\n"
        "input.  Replacement strings: {} {.} {/} {//} {/.} {#} {%} {N} {N.} "
        "{N/} ...\n"
        "\n"
        "Input:\n"
        "  -a, --arg-file=FILE   an input source ('-': standard input); may be "
        "repeated\n"
        "  -0, --null            input items are NUL-terminated, not "
        "newline-terminated\n"
        "      --link            take the sources side by side, not every "
        "combination\n"
        "                        (:::+ ARG..., ::::+ FILE...: this source "
        "beside the one\n"
        "                        before, as far as the shorter goes)\n"
        "  -C, --colsep=REGEX    split each input line into columns {1} {2} "
        "...\n"
        "  -I, --replace=STR     replace STR (not {}) with the arguments, as "
        "xargs -I\n"
        "      --blank-lines=skip|error|keep\n"
        "                        blank input lines: skipped (default), an "
        "error, or\n"
        "                        kept (an empty argument, as GNU parallel)\n"
        "      --skip-empty      the same as --blank-lines=skip\n"
        "      --no-shell        run the command's words directly, no shell "
        "(a job\n"
        "                        list line: split at blanks, no quoting)\n"
        "Running:\n"
        "  -j, --jobs=N          at most N at once: N, 0 (as many as "
        "possible), +N or\n"
        "                        -N (CPUs plus or minus N), N% (of the "
        "CPUs);\n"
        "                        default: the CPUs\n"
        "      --delay=SECONDS   wait this long between two job starts\n"
        "      --load=MAX        start no job while the load average is MAX "
        "or more\n"
        "                        (N%: a share of the CPUs)\n"
        "      --memfree=SIZE    start no job while less memory than SIZE is "
        "available\n"
        "                        (k, M, G, T suffixes; K=1024, k=1000)\n"
        "      --timeout=SECONDS kill a command that runs longer (0: never)\n"
        "      --kill-after=SECONDS\n"
        "                        after SIGTERM, wait this long before SIGKILL\n"
        "                        (default 2); both go to the whole process "
        "group\n"
        "      --retries=N       run a failing job up to N times in all\n"
        "      --halt=WHEN[,fail|success|done=N|N%]\n"
        "                        WHEN now (kill the running) or soon (let "
        "them end):\n"
        "                        stop after N (default fail=1) failures, "
        "successes or\n"
        "                        jobs; also never, 0, 1 (soon,fail=1), 2 "
        "(now,fail=1)\n"
        "      --joblog=FILE     log each job in GNU parallel's format (Seq "
        "Host\n"
        "                        Starttime JobRuntime Send Receive Exitval "
        "Signal\n"
        "                        Command)\n"
        "      --resume          skip the jobs --joblog FILE has already, "
        "append to it\n"
        "      --resume-failed   the same, but run the ones it has as failed "
        "again\n"
        "      --dry-run         print the commands, run nothing\n"
        "Output:\n"
        "      --line-buffer     whole lines of the jobs, as they come "
        "(default)\n"
        "      --group           each job's whole output at once, when it "
        "ends\n"
        "  -u, --ungroup         the bytes as they come, lines may mix\n"
        "  -k, --keep-order      output and results in input order\n"
        "      --tag             prefix each line with the arguments and a "
        "tab\n"
        "      --tagstring=STR   prefix each line with STR (replacement "
        "strings in it\n"
        "                        expanded) and a tab\n"
        "  -v, --verbose         print each command before its output\n"
        "      --results=DIR     save output in DIR/N.out and DIR/N.err "
        "instead\n"
        "      --json            one JSON object per command instead of a "
        "result line\n"
        "      --csv             one CSV record per command (with a header) "
        "instead\n"
        "      --log=FILE        write the result lines to FILE, not standard "
        "output\n"
        "  -q, --quiet           no result lines on stdout, no summary, no "
        "progress\n"
        "      --progress, --eta, --bar\n"
        "                        a progress line (with the ETA; as a bar) on "
        "standard\n"
        "                        error, even when it is not a terminal\n"
        "      --no-progress     no progress line, even on a terminal\n"
        "      --exit-status=summary|count\n"
        "                        summary (default): 0, 1 or 2 as below; "
        "count: as GNU\n"
        "                        parallel, the number of failed jobs (101: "
        "over 100)\n"
        "  -h, --help            show this help and exit\n"
        "  -V, --version         show the version and exit\n"
        "\n"
        "SECONDS is a decimal number, optionally followed by s, m, h or d.\n"
        "A result line per command goes to standard output:\n"
        "  [N] exit STATUS|signal NAME|not started: REASON [(timed out)]  TIME "
        " COMMAND\n"
        "then a summary to standard error, with a live progress line there "
        "when it\n"
        "is a terminal.  Output is passed through byte for byte.\n"
        "\n"
        "Exit status (--exit-status=summary): 0 all commands succeeded, 1 some "
        "failed,\n"
        "2 usage or input error, 128+N when stopped by signal N (SIGINT: 130, "
        "SIGTERM:\n"
        "143); on a signal every running command's process group is killed "
        "and reaped\n"
        "first.  See xlchild-run(1).\n",
        f);
}

static int __attribute__((format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry '" PROG " --help' for more information.\n", stderr);
    return 2;
}

static unsigned long online_cpus(void)
{
    cpu_set_t set;
    long n;

    /* The CPUs we may run on (taskset, cpusets), as nproc(1) counts. */
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned long)CPU_COUNT(&set);
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned long)n : 1;
}

/* -j as GNU parallel takes it: N; 0, as many as possible (what the
 * open-file limit allows, xlchild-run.c decides); +N and -N, the CPUs plus
 * or minus N; N%, a share of the CPUs.  Never fewer than one. */
static int parse_jobs(const char *arg, unsigned long *out)
{
    unsigned long cpus = online_cpus(), v;
    const char *p = arg;
    char sign = 0, *end;

    if (*p == '+' || *p == '-')
        sign = *p++;
    errno = 0;
    v = strtoul(p, &end, 10);
    if (!isdigit((unsigned char)*p) || errno || (*end && strcmp(end, "%")) ||
        (sign && *end))
        return usage_error("-j: '%s' is not N, +N, -N or N%%", arg);
    if (v > MAX_JOBS)
        return usage_error("-j %s: too many (at most 1000000)", arg);
    if (*end == '%')
        v = v * cpus / 100;
    else if (sign == '+')
        v += cpus;
    else if (sign == '-')
        v = v < cpus ? cpus - v : 0;
    else if (v == 0) {
        *out = 0; /* as many as possible */
        return 0;
    }
    if (v > MAX_JOBS)
        return usage_error("-j %s: too many (at most 1000000)", arg);
    *out = v ? v : 1;
    return 0;
}

static int parse_count(const char *opt, const char *arg, unsigned long *out)
{
    char *end;

    errno = 0;
    *out = strtoul(arg, &end, 10);
    if (!isdigit((unsigned char)arg[0]) || *end || errno || *out > MAX_JOBS)
        return usage_error("%s: '%s' is not a number (0 to 1000000)", opt, arg);
    return 0;
}

/* --halt WHEN[,WHAT=N|N%], or GNU parallel's older numbers. */
static int parse_halt(const char *arg, struct halt *h)
{
    const char *rest;
    char *end;
    double v;

    memset(h, 0, sizeof *h);
    h->what = HALT_FAIL;
    h->n = 1;
    if (strcmp(arg, "never") == 0 || strcmp(arg, "0") == 0)
        return 0;
    if (strcmp(arg, "1") == 0 || strcmp(arg, "2") == 0) {
        h->when = arg[0] == '1' ? HALT_SOON : HALT_NOW;
        return 0;
    }
    if (strncmp(arg, "now", 3) == 0) {
        h->when = HALT_NOW;
        rest = arg + 3;
    } else if (strncmp(arg, "soon", 4) == 0) {
        h->when = HALT_SOON;
        rest = arg + 4;
    } else {
        goto bad;
    }
    if (!*rest)
        return 0;
    if (*rest++ != ',')
        goto bad;
    if (strncmp(rest, "fail=", 5) == 0) {
        h->what = HALT_FAIL;
        rest += 5;
    } else if (strncmp(rest, "success=", 8) == 0) {
        h->what = HALT_SUCCESS;
        rest += 8;
    } else if (strncmp(rest, "done=", 5) == 0) {
        h->what = HALT_DONE;
        rest += 5;
    } else {
        goto bad;
    }
    errno = 0;
    v = strtod(rest, &end);
    if (!isdigit((unsigned char)*rest) || errno || !isfinite(v) ||
        (*end && strcmp(end, "%")))
        goto bad;
    h->percent = *end == '%';
    if (h->percent ? (v <= 0 || v > 100) : (v < 1 || v > 1e9 || v != (long)v))
        goto bad;
    h->n = v;
    return 0;
bad:
    return usage_error("--halt: '%s' is not now|soon[,fail|success|done=N|N%%] "
                       "or never",
                       arg);
}

/* SIZE: bytes, with K M G T (1024s) or k m g t (1000s) after. */
static int parse_size(const char *opt, const char *arg, unsigned long long *out)
{
    static const char units[] = "kmgtp";
    const char *u;
    char *end;
    double v;
    int i;

    errno = 0;
    v = strtod(arg, &end);
    if (!isdigit((unsigned char)arg[0]) || errno || !isfinite(v))
        goto bad;
    if (*end) {
        if (end[1] || !(u = strchr(units, tolower((unsigned char)*end))))
            goto bad;
        for (i = 0; i <= u - units; i++)
            v *= isupper((unsigned char)*end) ? 1024 : 1000;
    }
    if (v > 1e18)
        goto bad;
    *out = (unsigned long long)v;
    return 0;
bad:
    return usage_error("%s: '%s' is not a size (like 500M or 2G)", opt, arg);
}

/* --load MAX: a load average, or N% of the CPUs. */
static int parse_load(const char *arg, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(arg, &end);
    if (!(isdigit((unsigned char)arg[0]) || arg[0] == '.') || errno ||
        !isfinite(*out) || *out <= 0 || (*end && strcmp(end, "%")))
        return usage_error("--load: '%s' is not a positive number or N%%", arg);
    if (*end)
        *out = *out * (double)online_cpus() / 100;
    return 0;
}

/* SECONDS as timeout(1) takes them: a decimal number with an optional
 * unit.  To milliseconds, rounded up so that no positive value is 0. */
static int parse_seconds(const char *opt, const char *arg, int *ms_out)
{
    char *end;
    double v, ms;

    errno = 0;
    v = strtod(arg, &end);
    if (!(isdigit((unsigned char)arg[0]) || arg[0] == '.') || end == arg ||
        errno || !isfinite(v))
        goto bad;
    switch (*end) {
    case '\0': break;
    case 's': break;
    case 'm': v *= 60; break;
    case 'h': v *= 3600; break;
    case 'd': v *= 86400; break;
    default: goto bad;
    }
    if (*end && end[1])
        goto bad;
    ms = v * 1000;
    if (ms > INT_MAX)
        return usage_error("%s %s: too long (at most 24 days)", opt, arg);
    *ms_out = (int)ms;
    if (*ms_out < ms)
        (*ms_out)++;
    return 0;
bad:
    return usage_error("%s: '%s' is not a number of seconds", opt, arg);
}

/* The long options that NAME (the part of an argument between "--" and
 * any '=') abbreviates: how many, and the last; or the one it spells out. */
static int long_matches(const char *arg, const struct option **found)
{
    const char *name = arg + 2;
    size_t len = strcspn(name, "=");
    const struct option *lo;
    int n = 0;

    if (!len) /* "--=x" abbreviates nothing */
        return 0;
    for (lo = longopts; lo->name; lo++) {
        if (strncmp(lo->name, name, len) == 0) {
            *found = lo;
            if (!lo->name[len])
                return 1;
            n++;
        }
    }
    return n;
}

/*
 * What getopt_long did not like, said once, clearly.  It tells little:
 * optopt is 0 for a long option it does not know or cannot tell from
 * another, the option's value for a long option given an argument it does
 * not take, and the letter for a short option, which may be in the middle
 * of a group such as -kx (so argv[optind - 1] is not always the culprit).
 */
static int bad_option(int c, char **argv)
{
    const char *given = argv[optind - 1];
    const struct option *lo = NULL;
    char o[3] = {'-', (char)optopt, '\0'};
    bool is_long = strncmp(given, "--", 2) == 0;

    if (c == ':')
        return usage_error("option '%s' needs an argument",
                           is_long ? given : o);
    if (!optopt) {
        if (is_long && long_matches(given, &lo) > 1)
            return usage_error("option '%s' is ambiguous", given);
        return usage_error("unknown option '%s'", given);
    }
    if ((optopt >= 256 || strchr(SHORT_LETTERS, optopt)) && is_long &&
        long_matches(given, &lo) == 1)
        return usage_error("option '--%s' takes no argument", lo->name);
    if (optopt == '-') /* as in -k-: '--' would look like the end mark */
        return usage_error("unknown option character '%s'", o + 1);
    return usage_error("unknown option '%s'", o);
}

static int add_source(struct options *o, enum source_kind kind, char **words,
                      size_t n)
{
    struct source *ns = realloc(o->sources, (o->nsources + 1) * sizeof *ns);

    if (!ns) {
        fputs(PROG ": out of memory\n", stderr);
        return 2;
    }
    o->sources = ns;
    ns[o->nsources].kind = kind;
    ns[o->nsources].words = kind == SRC_ARGS ? words : NULL;
    ns[o->nsources].nwords = kind == SRC_ARGS ? n : 0;
    ns[o->nsources].path = kind == SRC_FILE ? words[0] : NULL;
    ns[o->nsources].tied = false;
    o->nsources++;
    return 0;
}

static int set_option(int c, char *arg, struct options *o)
{
    switch (c) {
    case 'j': return parse_jobs(arg, &o->jobs);
    case '0': o->delim = '\0'; return 0;
    case 'a':
        if (!*arg)
            return usage_error("-a: the file name is empty");
        return add_source(o, SRC_FILE, &arg, 1);
    case 'k': o->keep_order = true; return 0;
    case 'q': o->quiet = true; return 0;
    case 'u': o->output = OUTPUT_UNGROUP; return 0;
    case 'v': o->verbose = true; return 0;
    case 'I':
        if (!*arg)
            return usage_error("-I: the replacement string is empty");
        o->replace = arg;
        return 0;
    case 'C':
        if (!*arg)
            return usage_error("--colsep: the separator is empty");
        o->colsep = arg;
        return 0;
    case OPT_NO_SHELL: o->no_shell = true; return 0;
    case OPT_LINK: o->link = true; return 0;
    case OPT_SKIP_EMPTY: o->blank = BLANK_SKIP; return 0;
    case OPT_BLANK_LINES:
        if (strcmp(arg, "skip") == 0)
            o->blank = BLANK_SKIP;
        else if (strcmp(arg, "error") == 0)
            o->blank = BLANK_ERROR;
        else if (strcmp(arg, "keep") == 0)
            o->blank = BLANK_KEEP;
        else
            return usage_error("--blank-lines: '%s' is not skip, error or "
                               "keep",
                               arg);
        return 0;
    case OPT_TIMEOUT: return parse_seconds("--timeout", arg, &o->timeout_ms);
    case OPT_KILL_AFTER:
        if (parse_seconds("--kill-after", arg, &o->kill_grace_ms))
            return 2;
        /* 0 means SIGKILL right after SIGTERM; to the library 0 is its
         * default grace, so ask for the shortest it can do. */
        if (o->kill_grace_ms == 0)
            o->kill_grace_ms = 1;
        return 0;
    case OPT_HALT: return parse_halt(arg, &o->halt);
    case OPT_RETRIES: return parse_count("--retries", arg, &o->retries);
    case OPT_JOBLOG:
        if (!*arg)
            return usage_error("--joblog: the file name is empty");
        o->joblog = arg;
        return 0;
    case OPT_RESUME: o->resume = true; return 0;
    case OPT_RESUME_FAILED: o->resume_failed = true; return 0;
    case OPT_EXIT_STATUS:
        if (strcmp(arg, "summary") == 0)
            o->exit_count = false;
        else if (strcmp(arg, "count") == 0)
            o->exit_count = true;
        else
            return usage_error("--exit-status: '%s' is not summary or count",
                               arg);
        return 0;
    case OPT_DELAY: return parse_seconds("--delay", arg, &o->delay_ms);
    case OPT_LOAD: return parse_load(arg, &o->load_max);
    case OPT_MEMFREE: return parse_size("--memfree", arg, &o->memfree);
    case OPT_GROUP: o->output = OUTPUT_GROUP; return 0;
    case OPT_LINE_BUFFER: o->output = OUTPUT_LINE; return 0;
    case OPT_TAG: o->tag = true; return 0;
    case OPT_TAGSTRING: o->tagstring = arg; return 0;
    case OPT_RESULTS:
        if (!*arg)
            return usage_error("--results: the directory name is empty");
        o->results = arg;
        return 0;
    case OPT_JSON:
        o->json = true;
        o->csv = false;
        return 0;
    case OPT_CSV:
        o->csv = true;
        o->json = false;
        return 0;
    case OPT_LOG:
        if (!*arg)
            return usage_error("--log: the file name is empty");
        o->log = arg;
        return 0;
    case OPT_DRY_RUN: o->dry_run = true; return 0;
    case OPT_BAR: o->bar = o->progress = true; return 0;
    case OPT_PROGRESS: o->progress = true; return 0;
    case OPT_ETA: o->progress = true; return 0;
    case OPT_NO_PROGRESS: o->no_progress = true; return 0;
    default: return 2;
    }
}

static bool is_marker(const char *s)
{
    return strcmp(s, ":::") == 0 || strcmp(s, "::::") == 0 ||
           strcmp(s, ":::+") == 0 || strcmp(s, "::::+") == 0;
}

/* After the options: the command's words up to the first ::: or ::::,
 * then the sources, each running to the next marker. */
static int parse_operands(int argc, char **argv, struct options *o)
{
    int i = optind, start;

    start = i;
    while (i < argc && !is_marker(argv[i]))
        i++;
    o->command = argv + start;
    o->ncommand = (size_t)(i - start);
    while (i < argc) {
        bool files = strncmp(argv[i], "::::", 4) == 0;
        bool tied = argv[i][strlen(argv[i]) - 1] == '+';

        start = ++i;
        while (i < argc && !is_marker(argv[i]))
            i++;
        if (!files) {
            if (add_source(o, SRC_ARGS, argv + start, (size_t)(i - start)))
                return 2;
            o->sources[o->nsources - 1].tied = tied;
            continue;
        }
        if (i == start)
            return usage_error("%s names no file", argv[start - 1]);
        for (; start < i; start++) {
            if (add_source(o, SRC_FILE, argv + start, 1))
                return 2;
            o->sources[o->nsources - 1].tied = tied;
        }
    }
    return 0;
}

void opts_free(struct options *o)
{
    free(o->sources);
    o->sources = NULL;
    o->nsources = 0;
}

int opts_parse(int argc, char **argv, struct options *o)
{
    int c, rc;

    memset(o, 0, sizeof *o);
    o->delim = '\n';
    o->kill_grace_ms = DEFAULT_KILL_GRACE_MS;
    o->jobs = ULONG_MAX; /* not given */
    o->halt.what = HALT_FAIL;
    o->halt.n = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, SHORTOPTS, longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            rc = fflush(stdout) ? 2 : 0;
            goto out;
        case 'V':
            puts(PROG " (xlchild) " PACKAGE_VERSION);
            rc = fflush(stdout) ? 2 : 0;
            goto out;
        case '?':
        case ':': rc = bad_option(c, argv); goto out;
        default:
            if ((rc = set_option(c, optarg, o)))
                goto out;
        }
    }
    if ((rc = parse_operands(argc, argv, o)))
        goto out;
    rc = 2;
    if ((o->resume || o->resume_failed) && !o->joblog) {
        usage_error("--resume and --resume-failed need --joblog");
        goto out;
    }
    if (o->results && o->output == OUTPUT_UNGROUP) {
        usage_error("--results and -u: the output goes to files");
        goto out;
    }
    if (o->no_shell && !o->ncommand && (o->colsep || o->replace)) {
        usage_error("--no-shell without a command: -C and -I need one");
        goto out;
    }
    if (o->jobs == ULONG_MAX)
        o->jobs = online_cpus();
    return OPTS_RUN;
out:
    opts_free(o);
    return rc;
}
