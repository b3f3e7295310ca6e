/*
 * fuzz-output.c - fuzz target for how xlchild-run cuts a job's output into
 * whole lines (tools/xr-output.c): streams, the tag, partial lines of any
 * length (spilled to a file), -u's raw bytes, the --keep-order spool in
 * memory and spilled to a file, sinks.
 * A job's output is whatever the job writes, so this is a parser of
 * untrusted bytes as much as the job list is.
 *
 * Input: a flags byte, then chunks, each a byte h and (h & 0x7f) bytes of
 * output.  A chunk goes into the job's pipe; unless h has bit 7 set, what
 * the pipe holds is then read at once (stream_read, or stream_drain with
 * flag DRAIN), so the fuzzer chooses where reads end.  Flags: TAG prefixes
 * lines; HELD starts the stream held back (spooled) and releases it after
 * chunk (flags >> 4), or at the end; RAW is -u (bytes as they come).
 *
 * What reaches the sink is compared with a prediction made here: byte for
 * byte what was written, each line with its tag in front, a partial line
 * held until its newline however long, and the last partial line sent as
 * it is at EOF (no newline added).  RAW: exactly the bytes written.
 */
#include <config.h>

#include <errno.h>

#include "xlchild-run.h"
#include "fuzz.h"

#define TAG 0x1
#define HELD 0x2
#define DRAIN 0x4
#define RAW 0x8

static const char tag[] = "[7] ";

/* A line, with its newline unless it is the unterminated last one. */
static void emit(struct fbuf *want, const struct fbuf *line, bool tagged,
                 bool nl)
{
    if (tagged)
        fbuf_add(want, tag, sizeof tag - 1);
    fbuf_add(want, line->p, line->len);
    if (nl)
        fbuf_add(want, "\n", 1);
}

/* The prediction for one read of p[0, n). */
static void predict_read(struct fbuf *want, struct fbuf *part, const char *p,
                         size_t n, bool tagged, bool raw)
{
    const char *nl;

    if (raw) {
        fbuf_add(want, p, n);
        return;
    }
    while ((nl = memchr(p, '\n', n))) {
        fbuf_add(part, p, (size_t)(nl - p));
        emit(want, part, tagged, true);
        part->len = 0;
        n -= (size_t)(nl - p) + 1;
        p = nl + 1;
    }
    fbuf_add(part, p, n); /* the tail waits, whatever its length */
}

static void do_read(struct stream *st, bool drain)
{
    if (drain)
        stream_drain(st);
    else if (stream_read(st) != 1)
        fuzz_fail("stream_read found no data");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int out = -1;
    struct fbuf want = {0}, part = {0}, pending = {0}, got = {0};
    struct sink sink;
    struct stream st;
    unsigned flags, release_at, nchunk = 0;
    bool tagged, raw;
    size_t i;
    int fds[2];

    /* Larger, a pipe would not hold it, nor one read take it. */
    if (size < 1 || size > 60000)
        return 0;
    if (out < 0)
        out = capture_open();
    flags = data[0];
    raw = flags & RAW;
    tagged = (flags & TAG) && !raw;
    release_at = flags >> 4;
    if (pipe(fds))
        fuzz_fail("pipe: %s", strerror(errno));
    sink_init(&sink, out, "(fuzz)");
    stream_init(&st, fds[0], &sink, tagged ? tag : NULL, sizeof tag - 1,
                flags & HELD);
    st.raw = raw;

    for (i = 1; i < size;) {
        size_t n = data[i] & 0x7f;
        bool later = data[i++] & 0x80;

        if (n > size - i)
            n = size - i;
        if (n && write(fds[1], data + i, n) != (ssize_t)n)
            fuzz_fail("write to the pipe: %s", strerror(errno));
        fbuf_add(&pending, data + i, n);
        i += n;
        if (pending.len && !later) {
            do_read(&st, flags & DRAIN);
            predict_read(&want, &part, pending.p, pending.len, tagged, raw);
            pending.len = 0;
        }
        if (st.held && ++nchunk == release_at && stream_release(&st))
            fuzz_fail("stream_release failed");
    }
    if (pending.len) {
        do_read(&st, flags & DRAIN);
        predict_read(&want, &part, pending.p, pending.len, tagged, raw);
    }
    close(fds[1]);
    if (stream_read(&st) != 0 || st.fd != -1)
        fuzz_fail("no EOF after the writer closed");
    if (part.len)
        emit(&want, &part, tagged, false);
    if (stream_release(&st))
        fuzz_fail("stream_release failed");
    stream_free(&st);
    sink_destroy(&sink);
    if (sink.err)
        fuzz_fail("sink write error %d", sink.err);

    capture_take(out, &got);
    expect_same("output", &got, &want);
    fbuf_free(&want);
    fbuf_free(&part);
    fbuf_free(&pending);
    fbuf_free(&got);
    return 0;
}
