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
    OPT_RESULTS,
    OPT_JSON,
    OPT_LOG,
    OPT_NO_PROGRESS,
    OPT_SKIP_EMPTY,
};

static const struct option longopts[] = {
    {"jobs", required_argument, NULL, 'j'},
    {"null", no_argument, NULL, '0'},
    {"arg-file", required_argument, NULL, 'a'},
    {"no-shell", no_argument, NULL, OPT_NO_SHELL},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"kill-after", required_argument, NULL, OPT_KILL_AFTER},
    {"halt", required_argument, NULL, OPT_HALT},
    {"tag", no_argument, NULL, OPT_TAG},
    {"results", required_argument, NULL, OPT_RESULTS},
    {"keep-order", no_argument, NULL, 'k'},
    {"json", no_argument, NULL, OPT_JSON},
    {"log", required_argument, NULL, OPT_LOG},
    {"quiet", no_argument, NULL, 'q'},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"skip-empty", no_argument, NULL, OPT_SKIP_EMPTY},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
    fputs(
        "Usage: " PROG " [OPTION]... [FILE]\n"
        "Run the commands in FILE (or standard input), one per line, several "
        "at once.\n"
        "Each runs as /bin/sh -c LINE in its own process group, with /dev/null "
        "as\n"
        "its standard input.\n"
        "\n"
        "  -j, --jobs=N          run at most N commands at once (default: "
        "CPUs)\n"
        "  -a, --arg-file=FILE   read the commands from FILE ('-': standard "
        "input)\n"
        "  -0, --null            commands are NUL-terminated, not "
        "newline-terminated\n"
        "      --no-shell        split each line into words at blanks and run "
        "them\n"
        "                        directly (no quoting, no shell syntax)\n"
        "      --skip-empty      skip blank lines instead of rejecting the "
        "input\n"
        "      --timeout=SECONDS kill a command that runs longer (0: never)\n"
        "      --kill-after=SECONDS\n"
        "                        after SIGTERM, wait this long before SIGKILL\n"
        "                        (default 2); both go to the whole process "
        "group\n"
        "      --halt=now|soon   on the first failure start nothing more; "
        "'now' also\n"
        "                        kills the running commands, 'soon' lets them "
        "finish\n"
        "      --tag             prefix each output line with '[N] ', N the "
        "job number\n"
        "      --results=DIR     save output in DIR/N.out and DIR/N.err "
        "instead\n"
        "  -k, --keep-order      print output and results in input order\n"
        "      --json            one JSON object per command instead of a "
        "result line\n"
        "      --log=FILE        write the result lines to FILE, not standard "
        "output\n"
        "  -q, --quiet           no result lines on stdout, no summary, no "
        "progress\n"
        "      --no-progress     no progress line, even on a terminal\n"
        "  -h, --help            show this help and exit\n"
        "  -V, --version         show the version and exit\n"
        "\n"
        "SECONDS is a decimal number, optionally followed by s, m, h or d.\n"
        "Output is passed through whole lines at a time, never mixing two "
        "commands\n"
        "on one line.  A result line per command goes to standard output:\n"
        "  [N] exit STATUS|signal NAME|not started: REASON [(timed out)]  TIME "
        " COMMAND\n"
        "then a summary to standard error, with a live progress line there "
        "when it\n"
        "is a terminal.\n"
        "\n"
        "Exit status: 0 all commands succeeded, 1 some failed, 2 usage or "
        "input\n"
        "error, 128+N when stopped by signal N (SIGINT: 130, SIGTERM: 143); on "
        "a\n"
        "signal every running command's process group is killed and reaped "
        "first.\n"
        "See xlchild-run(1).\n",
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

static int parse_jobs(const char *arg, unsigned long *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(arg, &end, 10);
    if (!isdigit((unsigned char)arg[0]) || *end || errno)
        return usage_error("-j: '%s' is not a positive integer", arg);
    if (v == 0)
        return usage_error("-j %s: at least one job must run at a time", arg);
    if (v > MAX_JOBS)
        return usage_error("-j %s: too many (at most 1000000)", arg);
    *out = v;
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
    if ((optopt >= 256 || strchr("j0akqhV", optopt)) && is_long &&
        long_matches(given, &lo) == 1)
        return usage_error("option '--%s' takes no argument", lo->name);
    if (optopt == '-') /* as in -k-: '--' would look like the end mark */
        return usage_error("unknown option character '%s'", o + 1);
    return usage_error("unknown option '%s'", o);
}

static int set_option(int c, const char *arg, struct options *o)
{
    switch (c) {
    case 'j': return parse_jobs(arg, &o->jobs);
    case '0': o->delim = '\0'; return 0;
    case 'a': o->input = arg; return 0;
    case 'k': o->keep_order = true; return 0;
    case 'q': o->quiet = true; return 0;
    case OPT_NO_SHELL: o->no_shell = true; return 0;
    case OPT_TIMEOUT: return parse_seconds("--timeout", arg, &o->timeout_ms);
    case OPT_KILL_AFTER:
        if (parse_seconds("--kill-after", arg, &o->kill_grace_ms))
            return 2;
        /* 0 means SIGKILL right after SIGTERM; to the library 0 is its
         * default grace, so ask for the shortest it can do. */
        if (o->kill_grace_ms == 0)
            o->kill_grace_ms = 1;
        return 0;
    case OPT_HALT:
        if (strcmp(arg, "now") == 0)
            o->halt = HALT_NOW;
        else if (strcmp(arg, "soon") == 0)
            o->halt = HALT_SOON;
        else if (strcmp(arg, "never") == 0)
            o->halt = HALT_NEVER;
        else
            return usage_error("--halt: '%s' is not now, soon or never", arg);
        return 0;
    case OPT_TAG: o->tag = true; return 0;
    case OPT_RESULTS:
        if (!*arg)
            return usage_error("--results: the directory name is empty");
        o->results = arg;
        return 0;
    case OPT_JSON: o->json = true; return 0;
    case OPT_LOG:
        if (!*arg)
            return usage_error("--log: the file name is empty");
        o->log = arg;
        return 0;
    case OPT_NO_PROGRESS: o->no_progress = true; return 0;
    case OPT_SKIP_EMPTY: o->skip_empty = true; return 0;
    default: return 2;
    }
}

int opts_parse(int argc, char **argv, struct options *o)
{
    int c, rc;

    memset(o, 0, sizeof *o);
    o->delim = '\n';
    o->kill_grace_ms = DEFAULT_KILL_GRACE_MS;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":j:0a:kqhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return fflush(stdout) ? 2 : 0;
        case 'V':
            puts(PROG " (xlchild) " PACKAGE_VERSION);
            return fflush(stdout) ? 2 : 0;
        case '?':
        case ':': return bad_option(c, argv);
        default:
            if ((rc = set_option(c, optarg, o)))
                return rc;
        }
    }
    if (optind < argc) {
        if (o->input)
            return usage_error("both -a and the operand '%s' name the input",
                               argv[optind]);
        o->input = argv[optind++];
    }
    if (optind < argc)
        return usage_error("extra operand '%s' (the commands come from the "
                           "input, one per line)",
                           argv[optind]);
    if (!o->jobs)
        o->jobs = online_cpus();
    return OPTS_RUN;
}
