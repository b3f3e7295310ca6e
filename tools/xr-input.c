/*
 * xr-input.c - reading the job list: one command per line (or per
 * NUL-terminated item with -0).
 *
 * The input is read with plain read(2) calls into one fixed buffer, only
 * when poll says there is something (a pipe from a slow producer never
 * stalls the jobs already running).  The buffer holds one longest-possible
 * line plus one read, so a line is always contiguous and the tool's memory
 * does not depend on what it is fed.  Every way a line can be unusable is
 * reported with its file name and line number.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xlchild-run.h"

/* Settable only for the fuzz targets, like XR_MAX_LINE. */
#ifndef XR_INPUT_CHUNK
#define XR_INPUT_CHUNK (64 * 1024)
#endif
#define INPUT_BUF (XR_MAX_LINE + 1 + XR_INPUT_CHUNK)

static const char *unit(const struct input *in)
{
    return in->delim == '\n' ? "line" : "item";
}

int input_open(struct input *in, const char *path, char delim)
{
    struct stat sb;

    memset(in, 0, sizeof *in);
    in->delim = delim;
    if (!path || strcmp(path, "-") == 0) {
        in->fd = 0;
        in->name = "(standard input)";
    } else {
        in->name = path;
        in->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (in->fd < 0) {
            xr_msg("cannot open '%s': %s", path, strerror(errno));
            return -1;
        }
    }
    if (fstat(in->fd, &sb)) {
        xr_msg("cannot read %s: %s", in->name, strerror(errno));
        input_close(in);
        return -1;
    }
    if (S_ISDIR(sb.st_mode)) {
        xr_msg("%s: is a directory", in->name);
        input_close(in);
        return -1;
    }
    in->regular = S_ISREG(sb.st_mode);
    in->buf = malloc(INPUT_BUF);
    if (!in->buf) {
        xr_msg("out of memory");
        input_close(in);
        return -1;
    }
    return 0;
}

int input_fill(struct input *in)
{
    ssize_t n;

    if (in->eof)
        return 0;
    if (in->start) { /* keep the partial line at the front */
        memmove(in->buf, in->buf + in->start, in->len);
        in->start = 0;
    }
    do
        n = read(in->fd, in->buf + in->len, INPUT_BUF - 1 - in->len);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return 1; /* an inherited non-blocking fd: poll again */
    if (n < 0) {
        xr_msg("cannot read %s: %s", in->name, strerror(errno));
        in->eof = true;
        return -1;
    }
    if (n == 0) {
        in->eof = true;
        return 0;
    }
    in->len += (size_t)n;
    return 1;
}

static int bad_line(struct input *in, const char *what)
{
    xr_msg("%s:%lu: %s", in->name, in->lineno + 1, what);
    in->eof = true;
    in->len = 0;
    return -2;
}

static int too_long(struct input *in)
{
    char msg[96];

    snprintf(msg, sizeof msg, "%s longer than %d bytes", unit(in), XR_MAX_LINE);
    return bad_line(in, msg);
}

int input_next(struct input *in, char **line, unsigned long *lineno)
{
    char *p = in->buf + in->start;
    char *end;
    size_t used;

    if (!in->len)
        return in->eof ? -1 : 0;
    end = memchr(p, in->delim, in->len);
    if (!end && !in->eof) /* the rest of the line is still to come */
        return in->len > XR_MAX_LINE ? too_long(in) : 0;
    if (!end) { /* the last line, without its terminator */
        end = p + in->len;
        used = in->len;
    } else {
        used = (size_t)(end - p) + 1;
    }
    if ((size_t)(end - p) > XR_MAX_LINE)
        return too_long(in);
    if (in->delim == '\n' && memchr(p, '\0', (size_t)(end - p)))
        return bad_line(in, "contains a NUL byte (use -0 for NUL-separated "
                            "input)");
    *end = '\0'; /* buf has a spare byte after the longest line */
    in->start += used;
    in->len -= used;
    *lineno = ++in->lineno;
    *line = p;
    return 1;
}

void input_close(struct input *in)
{
    if (in->fd > 0)
        close(in->fd);
    in->fd = -1;
    free(in->buf);
    in->buf = NULL;
}

/* The blanks of isspace in the C locale, whatever the user's locale says. */
static const char blanks[] = " \t\n\v\f\r";

bool line_is_blank(const char *s)
{
    s += strspn(s, blanks);
    return !*s;
}

int split_words(const char *line, char ***argv, char **store)
{
    size_t n = 0, cap = 8;
    char *p, *save = NULL;

    *store = strdup(line);
    *argv = malloc(cap * sizeof **argv);
    if (!*store || !*argv)
        return -1;
    for (p = strtok_r(*store, blanks, &save); p;
         p = strtok_r(NULL, blanks, &save)) {
        if (n + 1 == cap) {
            char **na = realloc(*argv, (cap *= 2) * sizeof *na);

            if (!na)
                return -1;
            *argv = na;
        }
        (*argv)[n++] = p;
    }
    (*argv)[n] = NULL;
    return 0;
}
