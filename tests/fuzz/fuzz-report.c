/*
 * fuzz-report.c - fuzz target for what xlchild-run makes of a command line
 * in its reports (tools/xr-report.c): the result line, with control
 * characters escaped, and the --json object, whose strings must be valid
 * JSON and valid UTF-8 whatever bytes the command holds.
 *
 * Input: HEADER bytes that fill in the job's result (status, rc, errors,
 * pid) and a summary's counts, then the command (up to a NUL, as the tool
 * never sees one in a command).  json_string's output is decoded here and
 * compared with the command, each byte that starts no well-formed UTF-8
 * sequence replaced by U+FFFD; the result line must be one line of
 * printable bytes.
 */
#include <config.h>

#include "xlchild-run.h"
#include "fuzz.h"

#define HEADER 12

static const char fffd[] = "\xef\xbf\xbd";

/* Length of a well-formed UTF-8 sequence at p[0, n), or 0: decoded, then
 * checked for the shortest form, surrogates and the Unicode range. */
static size_t utf8_ok(const unsigned char *p, size_t n)
{
    unsigned long cp;
    size_t len, i;

    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = p[0] & 0x1f;
    } else if ((p[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = p[0] & 0x0f;
    } else if ((p[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && cp < 0x10000))
        return 0;
    if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return len;
}

static unsigned hexval(char c)
{
    if (c >= '0' && c <= '9')
        return (unsigned)(c - '0');
    if (c >= 'a' && c <= 'f')
        return (unsigned)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F')
        return (unsigned)(c - 'A' + 10);
    fuzz_fail("bad hex digit in a \\u escape");
}

/* Decodes the JSON string at s[0, n) (quotes included) into out. */
static void json_decode(const char *s, size_t n, struct fbuf *out)
{
    size_t i = 1, k;

    if (n < 2 || s[0] != '"' || s[n - 1] != '"')
        fuzz_fail("JSON string not in quotes");
    while (i < n - 1) {
        unsigned char c = (unsigned char)s[i];
        unsigned u = 0;

        if (c < 0x20 || c == '"')
            fuzz_fail("unescaped byte 0x%02x in a JSON string", c);
        if (c != '\\') {
            if (!(k = utf8_ok((const unsigned char *)s + i, n - 1 - i)))
                fuzz_fail("JSON string not UTF-8 at byte %zu", i);
            fbuf_add(out, s + i, k);
            i += k;
            continue;
        }
        if (i + 1 >= n - 1)
            fuzz_fail("a JSON string ends in a backslash");
        switch (s[i + 1]) {
        case '"':
        case '\\':
        case '/': fbuf_add(out, s + i + 1, 1); break;
        case 'n': fbuf_add(out, "\n", 1); break;
        case 't': fbuf_add(out, "\t", 1); break;
        case 'r': fbuf_add(out, "\r", 1); break;
        case 'b': fbuf_add(out, "\b", 1); break;
        case 'f': fbuf_add(out, "\f", 1); break;
        case 'u':
            if (i + 6 > n - 1)
                fuzz_fail("a \\u escape cut short");
            for (k = 2; k < 6; k++)
                u = u << 4 | hexval(s[i + k]);
            /* Only these two are ever needed: control characters and the
             * replacement character. */
            if (u < 0x20) {
                char b = (char)u;
                fbuf_add(out, &b, 1);
            } else if (u == 0xfffd) {
                fbuf_add(out, fffd, 3);
            } else {
                fuzz_fail("unexpected escape \\u%04x", u);
            }
            i += 4;
            break;
        default: fuzz_fail("bad escape \\%c", s[i + 1]);
        }
        i += 2;
    }
}

static void check_json_string(int out, const char *cmd)
{
    struct sink s;
    struct fbuf got = {0}, dec = {0}, want = {0};
    size_t n = strlen(cmd), i = 0, k;

    sink_init(&s, out, "(fuzz)");
    json_string(&s, cmd);
    sink_destroy(&s);
    capture_take(out, &got);
    json_decode(got.p, got.len, &dec);
    while (i < n) {
        if ((k = utf8_ok((const unsigned char *)cmd + i, n - i))) {
            fbuf_add(&want, cmd + i, k);
            i += k;
        } else {
            fbuf_add(&want, fffd, 3);
            i++;
        }
    }
    expect_same("json_string, decoded", &dec, &want);
    fbuf_free(&got);
    fbuf_free(&dec);
    fbuf_free(&want);
}

/* The result line and the JSON object: one line each, no raw control
 * character before its newline (JSON may hold a raw DEL, a line may not). */
static void check_report(int out, const struct job *j, bool json)
{
    struct sink s;
    struct fbuf got = {0};
    size_t i;

    sink_init(&s, out, "(fuzz)");
    if (json)
        report_json(&s, j);
    else
        report_text(&s, j);
    sink_destroy(&s);
    capture_take(out, &got);
    if (!got.len || got.p[got.len - 1] != '\n')
        fuzz_fail("a report does not end in a newline");
    for (i = 0; i + 1 < got.len; i++)
        if ((unsigned char)got.p[i] < 0x20 || (!json && got.p[i] == 0x7f))
            fuzz_fail("raw byte 0x%02x in a report at %zu",
                      (unsigned char)got.p[i], i);
    if (json && (got.p[0] != '{' || got.len < 3 || got.p[got.len - 2] != '}'))
        fuzz_fail("the JSON report is not one object");
    fbuf_free(&got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int rcs[] = {
        0, ERROR_FAIL, ERROR_TIMEDOUT, ERROR_ABORTED, ERROR_INVAL, -999};
    static int out = -1;
    struct job j;
    struct counts c;
    struct sink s;
    struct fbuf discard = {0};
    int status;

    if (size < HEADER)
        return 0;
    if (out < 0)
        out = capture_open();
    memset(&j, 0, sizeof j);
    memcpy(&status, data, sizeof status);
    j.res.status = status;
    j.rc = rcs[data[4] % (sizeof rcs / sizeof rcs[0])];
    j.start_err =
        data[5] & 1 ? rcs[data[5] / 2 % (sizeof rcs / sizeof rcs[0])] : 0;
    j.res.exec_errno = data[6] % 140;
    j.res.pid = data[7] & 1 ? (pid_t)data[7] : -1;
    j.seq = data[8];
    j.lineno = data[9];
    /* The command: the rest, up to a NUL, in an allocation of its own. */
    j.cmd = strndup((const char *)data + HEADER, size - HEADER);
    if (!j.cmd)
        fuzz_fail("out of memory");

    check_json_string(out, j.cmd);
    check_report(out, &j, false);
    check_report(out, &j, true);

    /* The summary and signal names, for what the sanitizers see. */
    memset(&c, 0, sizeof c);
    c.total = data[10];
    c.failed = data[11] & 0x0f;
    c.aborted = data[11] >> 4;
    sink_init(&s, out, "(fuzz)");
    report_summary(&s, &c, 1.5, (signed char)data[4]);
    sink_destroy(&s);
    capture_take(out, &discard);
    fbuf_free(&discard);
    free(j.cmd);
    return 0;
}
