/*
 * fuzz-args.c - fuzz target for how xlchild-run makes a command line of
 * untrusted arguments (tools/xr-args.c): GNU parallel's quoting, command
 * templates with replacement strings ({} {.} {/} {//} {/.} {#} {%} {N}
 * and their forms), -I, and --colsep's split.  Arguments are file names
 * and input lines: whatever they hold must never become shell code.
 *
 * Input: a flags byte, then fields separated by newlines (or NULs): the
 * template, then up to MAX_ARGS arguments.  Flags: bit 0, -I with the
 * string "@@"; bits 1-2, the --colsep expression (",", ",+", "\t",
 * "[[:space:]]+").
 *
 * Checked:
 *  - every argument, quoted, is read back by a POSIX shell's word rules
 *    (quotes, backslashes) as exactly itself, one word, with nothing
 *    unquoted that a shell would act on;
 *  - a template without replacement strings expands to itself; with -I,
 *    to itself with each "@@" replaced by the arguments;
 *  - with arguments that need no quotes, the quoted and the unquoted
 *    expansions are the same but for the '' of empty values (so quoting
 *    adds quotes, and nothing else);
 *  - --colsep's columns, joined again, are the argument (with "," and
 *    ",+"), and none holds a separator ("\t").
 */
#include <config.h>

#include <ctype.h>

#include "xlchild-run.h"
#include "fuzz.h"

#define MAX_ARGS 16

/* What a shell may see unquoted in an argument: the characters GNU
 * parallel leaves bare. */
static bool bare_ok(unsigned char c)
{
    return (isascii(c) && isalnum(c)) || strchr("-_.+/", c);
}

/*
 * One shell word, the POSIX way, from q[0, n): single quotes, double
 * quotes (where \ escapes $ ` " \ and newline), backslash.  The word must
 * be all of q; false when it is not, or when something a shell would act
 * on (a blank, an operator, $, a glob) is unquoted.
 */
static bool sh_word(const char *q, size_t n, struct fbuf *word)
{
    size_t i = 0;

    word->len = 0;
    while (i < n) {
        char c = q[i++];

        if (c == '\'') {
            const char *end = memchr(q + i, '\'', n - i);

            if (!end)
                return false;
            fbuf_add(word, q + i, (size_t)(end - (q + i)));
            i = (size_t)(end - q) + 1;
        } else if (c == '"') {
            for (;;) {
                if (i >= n)
                    return false;
                c = q[i++];
                if (c == '"')
                    break;
                if (c == '$' || c == '`')
                    return false; /* expansions happen in "" */
                if (c == '\\' && i < n && strchr("$`\"\\\n", q[i]))
                    c = q[i++];
                fbuf_add(word, &c, 1);
            }
        } else if (c == '\\') {
            if (i >= n || q[i] == '\n')
                return false;
            fbuf_add(word, &q[i++], 1);
        } else if (bare_ok((unsigned char)c)) {
            fbuf_add(word, &c, 1);
        } else {
            return false;
        }
    }
    return true;
}

static void check_quote(const char *arg)
{
    struct strbuf q = {0};
    struct fbuf word = {0}, want = {0};

    if (shell_quote(&q, arg, strlen(arg)))
        fuzz_fail("shell_quote: out of memory");
    if (!sh_word(q.p, q.len, &word))
        fuzz_fail("quoted argument is not one safe shell word: [%s]", q.p);
    fbuf_add(&want, arg, strlen(arg));
    expect_same("quoted argument read back", &word, &want);
    sb_free(&q);
    fbuf_free(&word);
    fbuf_free(&want);
}

static bool needs_no_quotes(char *const *args, size_t n)
{
    size_t i;
    const char *p;

    for (i = 0; i < n; i++) {
        if (!*args[i])
            return false;
        for (p = args[i]; *p; p++)
            if (!bare_ok((unsigned char)*p))
                return false;
    }
    return true;
}

/* s without its '' pairs, in place: a replacement string can make an
 * empty value of a non-empty argument ({/.} of "x/."), and quoted that
 * is ''. */
static char *drop_empty_quotes(char *s)
{
    char *r = s, *w = s;

    while (*r) {
        if (r[0] == '\'' && r[1] == '\'')
            r += 2;
        else
            *w++ = *r++;
    }
    *w = '\0';
    return s;
}

/* The -I reference: each STR, left to right, replaced by the arguments
 * joined by spaces. */
static void expand_I(const char *text, const char *str, char *const *args,
                     size_t n, struct fbuf *out)
{
    size_t slen = strlen(str), i;

    while (*text) {
        if (strncmp(text, str, slen) == 0) {
            for (i = 0; i < n; i++) {
                if (i)
                    fbuf_add(out, " ", 1);
                fbuf_add(out, args[i], strlen(args[i]));
            }
            text += slen;
        } else {
            fbuf_add(out, text++, 1);
        }
    }
}

static void check_template(const char *text, const char *replace,
                           char *const *args, size_t n)
{
    struct strbuf plain = {0}, quoted = {0};
    struct fbuf got = {0}, want = {0};
    struct tmpl t;

    if (tmpl_parse(&t, text, replace))
        fuzz_fail("tmpl_parse: out of memory");
    if (tmpl_expand(&t, args, n, 42, 3, false, &plain) ||
        tmpl_expand(&t, args, n, 42, 3, true, &quoted) ||
        sb_add(&plain, "", 0) || sb_add(&quoted, "", 0))
        fuzz_fail("tmpl_expand: out of memory");
    fbuf_add(&got, plain.p, plain.len);
    if (replace)
        expand_I(text, replace, args, n, &want);
    else if (!t.has_repl)
        fbuf_add(&want, text, strlen(text));
    if (replace || !t.has_repl)
        expect_same("expansion", &got, &want);
    if (needs_no_quotes(args, n) &&
        strcmp(drop_empty_quotes(plain.p), drop_empty_quotes(quoted.p)))
        fuzz_fail("quoting changed arguments that need no quotes");
    tmpl_free(&t);
    sb_free(&plain);
    sb_free(&quoted);
    fbuf_free(&got);
    fbuf_free(&want);
}

static void check_colsep(int which, const char *arg)
{
    static const char *const pats[] = {",", ",+", "\\t", "[[:space:]]+"};
    struct strbuf cols = {0};
    struct fbuf got = {0}, want = {0};
    size_t ncols, i, tabs = 0;
    const char *p;
    regex_t re;

    if (colsep_compile(&re, pats[which]))
        fuzz_fail("colsep_compile(%s) failed", pats[which]);
    if (colsep_split(&re, arg, &cols, &ncols))
        fuzz_fail("colsep_split: out of memory");
    for (i = 0, p = cols.p; i < ncols; i++, p += strlen(p) + 1) {
        if (i)
            fbuf_add(&got, ",", 1);
        fbuf_add(&got, p, strlen(p));
        if (which == 2 && strchr(p, '\t'))
            fuzz_fail("a column holds the separator");
    }
    if (which <= 1) {
        /* ",+": a run of commas is one separator. */
        for (p = arg; *p; p++)
            if (which == 0 || *p != ',' || p == arg || p[-1] != ',')
                fbuf_add(&want, p, 1);
        expect_same("columns joined", &got, &want);
    }
    if (which == 2) {
        for (p = arg; *p; p++)
            tabs += *p == '\t';
        if (ncols != tabs + 1)
            fuzz_fail("%zu columns for %zu tabs", ncols, tabs);
    }
    regfree(&re);
    sb_free(&cols);
    fbuf_free(&got);
    fbuf_free(&want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *field[MAX_ARGS + 1];
    size_t nf = 0, i, start = 1;
    unsigned flags;

    if (size < 1 || size > 4096)
        return 0;
    flags = data[0];
    for (i = 1; i <= size && nf < MAX_ARGS + 1; i++) {
        if (i < size && data[i] != '\n' && data[i] != '\0')
            continue;
        field[nf] = strndup((const char *)data + start, i - start);
        if (!field[nf])
            fuzz_fail("out of memory");
        nf++;
        start = i + 1;
    }
    if (!nf)
        return 0;
    for (i = 1; i < nf; i++) {
        check_quote(field[i]);
        check_colsep((int)((flags >> 1) & 3), field[i]);
    }
    check_template(field[0], flags & 1 ? "@@" : NULL, field + 1, nf - 1);
    for (i = 0; i < nf; i++)
        free(field[i]);
    return 0;
}
