/*
 * xr-output.c - getting the jobs' output out whole-line by whole-line.
 *
 * Every byte xlchild-run writes goes through a sink: a buffer in front of
 * one fd, flushed before the main loop sleeps in poll.  The buffering is
 * what keeps a run of thousands of short jobs cheap (one write(2) per loop
 * turn, not one per line), and since a job's bytes enter a sink only as
 * complete lines, no two jobs ever share a line.  When the writer switches
 * from one sink to another the previous one is flushed first, so stdout and
 * stderr keep their relative order on a terminal that shows both.
 *
 * A stream is one output pipe of one job.  Reads are cut at the last
 * newline; the tail waits for the rest of its line, however long (a long
 * one in a temporary file).  Nothing is added or cut: what the jobs write
 * comes out byte for byte, a last line without its newline stays so.  With
 * --keep-order a job that is not the oldest running one is "held": its lines go
 * to a spool (memory, then an unlinked temporary file) until its turn.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xlchild-run.h"

#define SINK_BUF (64 * 1024)
/* Settable only for the fuzz targets (tests/fuzz), to reach the spill. */
#ifndef XR_SPOOL_MEM_MAX
#define XR_SPOOL_MEM_MAX (1024 * 1024)
#endif
#define READ_CHUNK (64 * 1024)
#define MAX_SINKS 4

void (*sink_before_write)(struct sink *s);

static struct sink *sinks[MAX_SINKS];
static struct sink *current; /* the sink written to last */

void sink_init(struct sink *s, int fd, const char *name)
{
    int i;

    s->fd = fd;
    s->name = name;
    s->buf = NULL;
    s->len = s->cap = 0;
    s->err = 0;
    s->tty = isatty(fd);
    for (i = 0; i < MAX_SINKS; i++) {
        if (!sinks[i]) {
            sinks[i] = s;
            break;
        }
    }
}

/* Waits until a non-blocking fd (one we inherited that way) can take more. */
static void wait_writable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};

    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
}

static void write_all(struct sink *s, const char *p, size_t n)
{
    while (n && !s->err) {
        ssize_t w = write(s->fd, p, n);

        if (w >= 0) {
            p += w;
            n -= (size_t)w;
        } else if (errno == EAGAIN) {
            wait_writable(s->fd);
        } else if (errno != EINTR) {
            s->err = errno;
        }
    }
}

void sink_flush(struct sink *s)
{
    if (s->len)
        write_all(s, s->buf, s->len);
    s->len = 0;
}

void sink_flush_all(void)
{
    int i;

    for (i = 0; i < MAX_SINKS; i++)
        if (sinks[i])
            sink_flush(sinks[i]);
}

void sink_write(struct sink *s, const void *p, size_t n)
{
    if (s->err || !n)
        return;
    if (sink_before_write)
        sink_before_write(s);
    if (current != s) {
        if (current)
            sink_flush(current);
        current = s;
    }
    if (!s->buf) {
        s->buf = malloc(SINK_BUF);
        s->cap = s->buf ? SINK_BUF : 0;
    }
    if (s->len + n > s->cap) {
        sink_flush(s);
        if (n > s->cap) { /* big: straight through */
            write_all(s, p, n);
            return;
        }
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
}

void sink_puts(struct sink *s, const char *str)
{
    sink_write(s, str, strlen(str));
}

void sink_printf(struct sink *s, const char *fmt, ...)
{
    char small[512], *big = NULL;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        sink_write(s, small, (size_t)n);
        return;
    }
    va_start(ap, fmt);
    n = vasprintf(&big, fmt, ap);
    va_end(ap);
    if (n >= 0) {
        sink_write(s, big, (size_t)n);
        free(big);
    }
}

void sink_destroy(struct sink *s)
{
    int i;

    sink_flush(s);
    free(s->buf);
    s->buf = NULL;
    s->cap = 0;
    if (current == s)
        current = NULL;
    for (i = 0; i < MAX_SINKS; i++)
        if (sinks[i] == s)
            sinks[i] = NULL;
}

static struct sink *msg_sink;

void msg_init(struct sink *err)
{
    msg_sink = err;
}

void xr_msg(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (msg_sink)
        sink_printf(msg_sink, PROG ": %s\n", buf);
    else
        fprintf(stderr, PROG ": %s\n", buf);
}

/* Appends p[0, n) to *buf (*len bytes used of *cap), which doubles from
 * first_cap as needed; -1, and nothing appended, when memory runs out. */
static int buf_append(char **buf, size_t *len, size_t *cap, size_t first_cap,
                      const char *p, size_t n)
{
    if (*len + n > *cap) {
        size_t c = *cap ? *cap : first_cap;
        char *nb;

        while (c < *len + n)
            c *= 2;
        nb = realloc(*buf, c);
        if (!nb)
            return -1;
        *buf = nb;
        *cap = c;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Spools                                                              */

void spool_init(struct spool *sp)
{
    sp->buf = NULL;
    sp->len = sp->cap = 0;
    sp->fd = -1;
}

static int tmpfile_fd(void)
{
    const char *dir = getenv("TMPDIR");
    char *path;
    int fd;

    if (!dir || !*dir)
        dir = "/tmp";
    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
    /* A file system without O_TMPFILE: the classic create-then-unlink. */
    if (asprintf(&path, "%s/xlchild-run.XXXXXX", dir) < 0)
        return -1;
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    free(path);
    return fd;
}

static int fd_write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Moves what is in memory to a temporary file, from now on the spool. */
static int spool_spill(struct spool *sp)
{
    int fd = tmpfile_fd();

    if (fd < 0)
        return -1;
    if (fd_write_all(fd, sp->buf, sp->len)) {
        close(fd);
        return -1;
    }
    sp->fd = fd;
    free(sp->buf);
    sp->buf = NULL;
    sp->len = sp->cap = 0;
    return 0;
}

int spool_append(struct spool *sp, const char *p, size_t n)
{
    if (sp->fd < 0 && sp->len + n > XR_SPOOL_MEM_MAX)
        spool_spill(sp); /* failing that, memory it is */
    if (sp->fd >= 0)
        return fd_write_all(sp->fd, p, n);
    return buf_append(&sp->buf, &sp->len, &sp->cap, 4096, p, n);
}

int spool_drain_to(struct spool *sp,
                   void (*put)(void *arg, const char *p, size_t n), void *arg)
{
    int rc = 0;

    if (sp->len)
        put(arg, sp->buf, sp->len);
    if (sp->fd >= 0 && lseek(sp->fd, 0, SEEK_SET) < 0)
        rc = -1;
    while (sp->fd >= 0 && !rc) {
        char buf[READ_CHUNK];
        ssize_t n = read(sp->fd, buf, sizeof buf);

        if (n > 0)
            put(arg, buf, (size_t)n);
        else if (n == 0)
            break;
        else if (errno != EINTR)
            rc = -1;
    }
    spool_free(sp);
    return rc;
}

static void put_sink(void *arg, const char *p, size_t n)
{
    sink_write(arg, p, n);
}

int spool_drain(struct spool *sp, struct sink *to)
{
    return spool_drain_to(sp, put_sink, to);
}

void spool_free(struct spool *sp)
{
    free(sp->buf);
    if (sp->fd >= 0)
        close(sp->fd);
    spool_init(sp);
}

/* ------------------------------------------------------------------ */
/* Streams                                                             */

void stream_init(struct stream *st, int fd, struct sink *sink, const char *tag,
                 size_t taglen, bool held)
{
    st->fd = fd;
    st->sink = sink;
    spool_init(&st->spool);
    st->held = held;
    st->raw = false;
    st->tag = tag;
    st->taglen = taglen;
    spool_init(&st->part);
    st->bytes = 0;
}

static void put(struct stream *st, const char *p, size_t n)
{
    if (!n)
        return;
    if (!st->held) {
        sink_write(st->sink, p, n);
    } else if (spool_append(&st->spool, p, n)) {
        /* Out of memory and of temporary space: better out of order than
         * lost. */
        spool_drain(&st->spool, st->sink);
        st->held = false;
        sink_write(st->sink, p, n);
    }
}

void stream_put(struct stream *st, const char *p, size_t n)
{
    put(st, p, n);
}

static void put_stream(void *arg, const char *p, size_t n)
{
    put(arg, p, n);
}

/*
 * Sends the pending partial line, then p[0, n), as one line: tag first.
 * p[0, n) ends the line with its newline, or (at EOF, or when there is no
 * room left to hold the partial line) is all there is: no newline is ever
 * added, the output stays byte for byte what the job wrote.
 */
static void cut_line(struct stream *st, const char *p, size_t n)
{
    if (!st->part.len && st->part.fd < 0 && !n)
        return;
    if (st->tag)
        put(st, st->tag, st->taglen);
    if (st->part.len || st->part.fd >= 0)
        spool_drain_to(&st->part, put_stream, st);
    put(st, p, n);
}

/* p[0, n) is whole lines: each gets the tag in front. */
static void emit_lines(struct stream *st, const char *p, size_t n)
{
    if (!st->tag) {
        put(st, p, n);
        return;
    }
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t len = (size_t)(nl - p) + 1;

        put(st, st->tag, st->taglen);
        put(st, p, len);
        p += len;
        n -= len;
    }
}

/* Takes one read's worth: whole lines go out, the tail is kept (in memory,
 * then in a temporary file: a line may be of any length). */
static void stream_take(struct stream *st, const char *p, size_t n)
{
    const char *last;
    size_t whole;

    if (st->raw) {
        put(st, p, n);
        return;
    }
    last = memrchr(p, '\n', n);
    if (!last) {
        if (spool_append(&st->part, p, n))
            cut_line(st, p, n);
        return;
    }
    whole = (size_t)(last - p) + 1;
    if (st->part.len || st->part.fd >= 0) {
        /* This read's first line ends the pending one. */
        size_t first = (size_t)((const char *)memchr(p, '\n', n) - p) + 1;

        cut_line(st, p, first);
        p += first;
        n -= first;
        whole -= first;
    }
    emit_lines(st, p, whole);
    if (n > whole && spool_append(&st->part, p + whole, n - whole))
        cut_line(st, p + whole, n - whole);
}

/* One read(2): bytes taken, 0 at EOF (then closed), -1 when it would
 * block. */
static ssize_t stream_read_once(struct stream *st)
{
    static char buf[READ_CHUNK];
    ssize_t n;

    do
        n = read(st->fd, buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return -1;
    if (n <= 0) { /* EOF, or an error that we can do nothing about */
        stream_close(st);
        return 0;
    }
    st->bytes += (unsigned long long)n;
    stream_take(st, buf, (size_t)n);
    return n;
}

int stream_read(struct stream *st)
{
    return stream_read_once(st) != 0;
}

void stream_drain(struct stream *st)
{
    long left;
    int fl;

    if (st->fd < 0)
        return;
    left = fcntl(st->fd, F_GETPIPE_SZ);
    if (left <= 0)
        left = 1024 * 1024; /* pipe-max-size's default */
    fl = fcntl(st->fd, F_GETFL);
    if (fl < 0 || fcntl(st->fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return;
    while (left > 0 && st->fd >= 0) {
        ssize_t n = stream_read_once(st);

        if (n <= 0)
            break;
        left -= n;
    }
}

void stream_close(struct stream *st)
{
    if (st->fd >= 0) {
        close(st->fd);
        st->fd = -1;
    }
    cut_line(st, NULL, 0); /* a last line without its newline, as it is */
}

int stream_release(struct stream *st)
{
    int rc = 0;

    if (st->held) {
        st->held = false;
        rc = spool_drain(&st->spool, st->sink);
    }
    return rc;
}

void stream_free(struct stream *st)
{
    if (st->fd >= 0)
        close(st->fd);
    st->fd = -1;
    spool_free(&st->spool);
    spool_free(&st->part);
}
