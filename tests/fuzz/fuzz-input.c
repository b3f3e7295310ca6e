/*
 * fuzz-input.c - fuzz target for xlchild-run's job list (tools/xr-input.c):
 * the framing into lines (or, built with -DFUZZ_NUL, NUL-terminated items
 * as with -0), the limits and errors, and what is done to each line before
 * it runs (the blank-line test and the --no-shell word split).
 *
 * Input: 4 bytes of header, then the job list.  The list is fed through a
 * pipe in chunks of 1 + header[i % 4] bytes, and read with input_fill only
 * when the pipe has something, as the tool's poll loop does; so the fuzzer
 * chooses where reads end.  The build makes the buffer tiny (XR_MAX_LINE
 * and XR_INPUT_CHUNK in fuzz.mk) so that the limits are in reach.
 *
 * Every result is checked against a prediction made here from the whole
 * input: the same lines in order, then the end or the one error a bad line
 * gives, with its line number.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <stdbool.h>

#include "xlchild-run.h"
#include "fuzz.h"

#ifdef FUZZ_NUL
#define DELIM '\0'
#else
#define DELIM '\n'
#endif

#define HEADER 4

/* xr-input.c's only way of speaking: kept, to check the error reported. */
static char last_msg[1024];

void xr_msg(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(last_msg, sizeof last_msg, fmt, ap);
    va_end(ap);
}

static const char blank_set[] = " \t\n\v\f\r";

static bool is_blank_char(char c)
{
    return c && strchr(blank_set, c);
}

/* The --no-shell split, done another way: walk the words by hand. */
static void check_words(const char *line)
{
    char **argv = NULL, *store = NULL;
    const char *p = line;
    size_t i = 0;

    if (split_words(line, &argv, &store))
        fuzz_fail("split_words failed");
    for (;;) {
        size_t n;

        while (is_blank_char(*p))
            p++;
        if (!*p)
            break;
        n = 0;
        while (p[n] && !is_blank_char(p[n]))
            n++;
        if (!argv[i] || strlen(argv[i]) != n || memcmp(argv[i], p, n))
            fuzz_fail("word %zu of a line split wrongly", i);
        i++;
        p += n;
    }
    if (argv[i])
        fuzz_fail("split_words found more words than the line has (%zu)", i);
    free(argv);
    free(store);
}

static void check_line(const char *got, const uint8_t *want, size_t len)
{
    bool blank = true;
    size_t i;

    if (strlen(got) != len || memcmp(got, want, len))
        fuzz_fail("a line differs from the input");
    for (i = 0; i < len; i++)
        blank = blank && is_blank_char((char)want[i]);
    if (line_is_blank(got) != blank)
        fuzz_fail("line_is_blank says %d", !blank);
    check_words(got);
}

/* What the input should give: the next line's bounds, or the error at it. */
enum want { WANT_LINE, WANT_END, WANT_TOO_LONG, WANT_NUL };

static enum want predict(const uint8_t *p, size_t n, size_t *pos, size_t *len)
{
    const uint8_t *end;

    if (*pos >= n)
        return WANT_END;
    end = memchr(p + *pos, DELIM, n - *pos);
    *len = end ? (size_t)(end - (p + *pos)) : n - *pos;
    if (*len > XR_MAX_LINE)
        return WANT_TOO_LONG;
    if (DELIM == '\n' && memchr(p + *pos, '\0', *len))
        return WANT_NUL;
    return WANT_LINE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *text = data + HEADER;
    size_t n, fed = 0, chunks = 0, pos = 0, len = 0;
    unsigned long lineno, lines = 0, turns = 0;
    struct input in;
    char *line;
    int fds[2], rc;
    enum want w;

    if (size < HEADER)
        return 0;
    n = size - HEADER;
    if (pipe(fds))
        fuzz_fail("pipe: %s", strerror(errno));
    /* input_open on a harmless file, then the pipe in its place: the
     * target needs no /proc, and input_open still runs. */
    if (input_open(&in, "/dev/null", DELIM))
        fuzz_fail("input_open: %s", last_msg);
    if (dup2(fds[0], in.fd) < 0)
        fuzz_fail("dup2: %s", strerror(errno));
    close(fds[0]);
    in.name = "(fuzz)";
    last_msg[0] = '\0';

    for (;;) {
        if (++turns > 1000000)
            fuzz_fail("input_next/input_fill make no progress");
        rc = input_next(&in, &line, &lineno);
        if (rc == 1) {
            if ((w = predict(text, n, &pos, &len)) != WANT_LINE)
                fuzz_fail("line %lu returned, expected outcome %d", lineno, w);
            if (lineno != ++lines)
                fuzz_fail("line number %lu, expected %lu", lineno, lines);
            check_line(line, text + pos, len);
            pos += len + 1;
            continue;
        }
        if (rc == -1 || rc == -2)
            break;
        if (rc != 0)
            fuzz_fail("input_next returned %d", rc);

        /* It needs more: read what the pipe has, else put more in it. */
        struct pollfd pfd = {.fd = in.fd, .events = POLLIN};
        if (poll(&pfd, 1, 0) > 0) {
            if (input_fill(&in) < 0)
                fuzz_fail("input_fill: %s", last_msg);
        } else if (fed < n) {
            size_t c = 1 + data[chunks++ % HEADER];

            if (c > n - fed)
                c = n - fed;
            if (write(fds[1], text + fed, c) != (ssize_t)c)
                fuzz_fail("write to the pipe: %s", strerror(errno));
            fed += c;
        } else if (fds[1] >= 0) {
            close(fds[1]);
            fds[1] = -1;
        } else {
            fuzz_fail("input_next waits for data after EOF");
        }
    }

    w = predict(text, n, &pos, &len);
    if (rc == -1 && w != WANT_END)
        fuzz_fail("end of input after %lu lines, expected outcome %d", lines,
                  w);
    if (rc == -2) {
        char prefix[64];
        const char *why = w == WANT_TOO_LONG ? "longer than" : "NUL byte";

        snprintf(prefix, sizeof prefix, "(fuzz):%lu: ", lines + 1);
        if (w != WANT_TOO_LONG && w != WANT_NUL)
            fuzz_fail("bad line %lu reported (%s), expected outcome %d",
                      lines + 1, last_msg, w);
        if (strncmp(last_msg, prefix, strlen(prefix)) || !strstr(last_msg, why))
            fuzz_fail("message '%s', expected '%s... %s ...'", last_msg, prefix,
                      why);
        /* After a bad line nothing more comes. */
        if (input_next(&in, &line, &lineno) != -1)
            fuzz_fail("input_next goes on after a bad line");
    }
    input_close(&in);
    if (fds[1] >= 0)
        close(fds[1]);
    return 0;
}
