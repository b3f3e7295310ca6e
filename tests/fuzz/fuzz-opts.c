/*
 * fuzz-opts.c - fuzz target for xlchild-run's command line
 * (tools/xr-opts.c): getopt_long's handling of the options, the numbers
 * of -j, the SECONDS of --timeout and --kill-after, the words of --halt,
 * the command and its ::: and :::: sources.
 *
 * Input: the arguments after the program name, separated by NUL bytes or
 * newlines (at most MAX_ARGS of them), each in its own allocation so that
 * reading past one is caught.  opts_parse must return one of its three
 * answers, and when it says "run", the options must be within what the
 * rest of the tool relies on.
 */
#include <config.h>

#include <getopt.h>
#include <limits.h>

#include "xlchild-run.h"
#include "fuzz.h"

#define MAX_ARGS 64

/* Within one of the arguments (an option's value may follow its '='). */
static bool is_arg(const char *p, char **args, int n)
{
    int i;

    for (i = 1; i < n; i++)
        if (p >= args[i] && p <= args[i] + strlen(args[i]))
            return true;
    return false;
}

/* What xlchild-run.c does with the options afterwards, checked. */
static void check_options(const struct options *o, char **args, int n)
{
    size_t i;

    /* 0: as many as possible, decided at set-up. */
    if (o->jobs > 1000000)
        fuzz_fail("jobs %lu", o->jobs);
    if (o->timeout_ms < 0)
        fuzz_fail("timeout_ms %d", o->timeout_ms);
    if (o->kill_grace_ms < 1)
        fuzz_fail("kill_grace_ms %d", o->kill_grace_ms);
    if (o->delim != '\n' && o->delim != '\0')
        fuzz_fail("delim %d", o->delim);
    if (o->halt.when != HALT_NEVER && o->halt.when != HALT_SOON &&
        o->halt.when != HALT_NOW)
        fuzz_fail("halt %d", (int)o->halt.when);
    if (o->halt.percent ? !(o->halt.n > 0 && o->halt.n <= 100)
                        : !(o->halt.n >= 1))
        fuzz_fail("halt n %g", o->halt.n);
    if (o->timeout_ms < 0 || o->delay_ms < 0)
        fuzz_fail("delay_ms %d", o->delay_ms);
    for (i = 0; i < o->nsources; i++) {
        const struct source *s = &o->sources[i];

        if (s->kind == SRC_FILE && (!s->path || !is_arg(s->path, args, n)))
            fuzz_fail("source %zu: no file, or not an argument", i);
        if (s->kind == SRC_ARGS && s->nwords && !is_arg(s->words[0], args, n))
            fuzz_fail("source %zu: not the arguments", i);
    }
    for (i = 0; i < o->ncommand; i++)
        if (!is_arg(o->command[i], args, n) || !strcmp(o->command[i], ":::") ||
            !strcmp(o->command[i], "::::") || !strcmp(o->command[i], ":::+") ||
            !strcmp(o->command[i], "::::+"))
            fuzz_fail("command word %zu is not an operand", i);
    if ((o->resume || o->resume_failed) && !o->joblog)
        fuzz_fail("--resume without --joblog");
    if (o->results && (!*o->results || !is_arg(o->results, args, n)))
        fuzz_fail("results is empty or not an argument");
    if (o->log && (!*o->log || !is_arg(o->log, args, n)))
        fuzz_fail("log is empty or not an argument");
}

/* The long options as the man page lists them, and whether each takes a
 * value: to judge the messages by. */
static const struct {
    const char *name;
    bool arg;
} names[] = {
    {"jobs", true},           {"null", false},       {"arg-file", true},
    {"no-shell", false},      {"link", false},       {"colsep", true},
    {"replace", true},        {"blank-lines", true}, {"skip-empty", false},
    {"timeout", true},        {"kill-after", true},  {"halt", true},
    {"retries", true},        {"joblog", true},      {"resume", false},
    {"resume-failed", false}, {"exit-status", true}, {"delay", true},
    {"load", true},           {"memfree", true},     {"group", false},
    {"line-buffer", false},   {"ungroup", false},    {"tag", false},
    {"tagstring", true},      {"results", true},     {"keep-order", false},
    {"json", false},          {"csv", false},        {"log", true},
    {"dry-run", false},       {"verbose", false},    {"bar", false},
    {"progress", false},      {"eta", false},        {"quiet", false},
    {"no-progress", false},   {"help", false},       {"version", false},
};
#define NNAMES (sizeof names / sizeof names[0])

/* How many long options "--NAME[=...]" abbreviates (an exact name: 1). */
static int matches(const char *arg, int *which)
{
    size_t len = strcspn(arg + 2, "="), i;
    int n = 0;

    if (!len) /* "--=x" names nothing */
        return 0;

    for (i = 0; i < NNAMES; i++) {
        if (strncmp(names[i].name, arg + 2, len))
            continue;
        *which = (int)i;
        if (!names[i].name[len])
            return 1;
        n++;
    }
    return n;
}

/* Some argument is a group of short options ("-kq") holding c. */
static bool in_group(char c, char **args, int n)
{
    int i;

    for (i = 1; i < n; i++)
        if (args[i][0] == '-' && args[i][1] && args[i][1] != '-' &&
            strchr(args[i] + 1, c))
            return true;
    return false;
}

static bool typed(const char *x, char **args, int n)
{
    int i;

    for (i = 1; i < n; i++)
        if (strcmp(x, args[i]) == 0)
            return true;
    return false;
}

/*
 * A usage error must name what the user typed, and say the right thing
 * about it: an unknown option is none of the long ones abbreviated, one
 * that needs a value does take one, and so on.
 */
static void check_message(const struct fbuf *err, char **args, int n)
{
    char x[256], *msg, *line, *q1, *q2;
    bool is_long;
    int which = -1;

    if (!err->len)
        return; /* --help or --version could not write (stdout closed) */
    msg = strndup(err->p, err->len);
    if (!msg)
        fuzz_fail("out of memory");
    if (strncmp(msg, PROG ": ", strlen(PROG) + 2))
        fuzz_fail("message without the program's name: %s", msg);
    if (!strstr(msg, "\nTry '" PROG " --help' for more information.\n"))
        fuzz_fail("message without the pointer to --help: %s", msg);
    /* The first line: "PROG: WHAT 'X' WHAT", X between its first and
     * last quote (X may hold quotes itself). */
    line = msg + strlen(PROG) + 2;
    line[strcspn(line, "\n")] = '\0';
    q1 = strchr(line, '\'');
    q2 = strrchr(line, '\'');
    if (!q1 || q2 == q1 || (size_t)(q2 - q1) > sizeof x)
        goto done; /* a message about a value, not an option */
    memcpy(x, q1 + 1, (size_t)(q2 - q1 - 1));
    x[q2 - q1 - 1] = '\0';
    *q1 = '\0';
    is_long = strncmp(x, "--", 2) == 0;
    if (strcmp(line, "unknown option ") == 0 && !q2[1]) {
        if (is_long
                ? !typed(x, args, n) || matches(x, &which) > 0
                : strlen(x) != 2 || x[0] != '-' || !in_group(x[1], args, n) ||
                      strchr("j0akqhVuvIC", x[1]))
            fuzz_fail("'%s' called unknown", x);
    } else if (strcmp(line, "unknown option character ") == 0 && !q2[1]) {
        if (strlen(x) != 1 || !in_group(x[0], args, n) ||
            strchr("j0akqhVuvIC", x[0]))
            fuzz_fail("'%s' called an unknown character", x);
    } else if (strcmp(line, "option ") == 0 &&
               strcmp(q2 + 1, " needs an argument") == 0) {
        if (is_long ? !typed(x, args, n) || matches(x, &which) != 1 ||
                          !names[which].arg
                    : strlen(x) != 2 || !strchr("jaIC", x[1]) ||
                          !in_group(x[1], args, n))
            fuzz_fail("'%s' said to need an argument", x);
    } else if (strcmp(line, "option ") == 0 &&
               strcmp(q2 + 1, " is ambiguous") == 0) {
        if (!is_long || !typed(x, args, n) || matches(x, &which) < 2)
            fuzz_fail("'%s' said to be ambiguous", x);
    } else if (strcmp(line, "option ") == 0 &&
               strcmp(q2 + 1, " takes no argument") == 0) {
        if (!is_long || matches(x, &which) != 1 ||
            strcmp(names[which].name, x + 2) || names[which].arg)
            fuzz_fail("'%s' said to take no argument", x);
    }
done:
    free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *args[MAX_ARGS + 2], *argv[MAX_ARGS + 2];
    static int err_fd = -1;
    struct fbuf err = {0};
    struct options o;
    size_t start = 0, i;
    int n = 0, rc, saved;

    args[n++] = strdup(PROG);
    /* A separator ends an argument; a last one without it counts too. */
    for (i = 0; i <= size && n <= MAX_ARGS; i++) {
        if (i < size && data[i] != '\0' && data[i] != '\n')
            continue;
        if (i == size && start == size)
            break;
        args[n] = malloc(i - start + 1);
        if (!args[n])
            fuzz_fail("out of memory");
        memcpy(args[n], data + start, i - start);
        args[n++][i - start] = '\0';
        start = i + 1;
    }
    args[n] = NULL;
    /* getopt_long reorders argv; the copies are what gets freed. */
    memcpy(argv, args, sizeof args);

    /* Its messages, caught: stderr is unbuffered, so fd 2 is all of it. */
    if (err_fd < 0)
        err_fd = capture_open();
    saved = dup(2);
    if (dup2(err_fd, 2) < 0)
        fuzz_fail("dup2 failed");
    optind = 0; /* glibc: start afresh, forgetting the last call's state */
    rc = opts_parse(n, argv, &o);
    if (saved >= 0) {
        dup2(saved, 2);
        close(saved);
    } else {
        close(2);
    }
    capture_take(err_fd, &err);

    if (rc == OPTS_RUN) {
        check_options(&o, args, n);
        opts_free(&o);
    } else if (rc == 2)
        check_message(&err, args, n);
    else if (rc != 0)
        fuzz_fail("opts_parse returned %d", rc);
    fbuf_free(&err);

    for (i = 0; i < (size_t)n; i++)
        free(args[i]);
    return 0;
}
