/*
 * xr-args.c - from arguments to a command line: GNU parallel's replacement
 * strings, and quoting for the shell.
 *
 * A command template is parsed once into pieces (literal text, or a
 * replacement string) and expanded for every job.  Every argument that
 * goes into a command for sh -c is quoted, whatever it holds, so that a
 * file name is never code: the quoting is GNU parallel's (an argument of
 * letters, digits and -_.+/ as it is, anything else in single quotes with
 * each ' written '"'"'), so that its --dry-run and ours print the same.
 *
 * The replacement strings:
 *   {}    every argument, separated by spaces (-I STR: STR instead, and
 *         then nothing else is replaced, as in xargs)
 *   {N}   argument N (from 1; -N counts from the last), empty if none
 *   {.}   without its extension      {/}  without its directory
 *   {//}  its directory (dirname)    {/.} without directory or extension
 *         (also {N.} {N/} {N//} {N/.})
 *   {#}   the job's sequence number  {%}  its slot (1 to -j)
 * A template with none gets the arguments appended, each quoted.
 */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "xlchild-run.h"

/* ------------------------------------------------------------------ */
/* Growable strings                                                    */

int sb_add(struct strbuf *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        char *np;

        while (cap < b->len + n + 1) {
            if (cap > SIZE_MAX / 2)
                return -1;
            cap *= 2;
        }
        np = realloc(b->p, cap);
        if (!np)
            return -1;
        b->p = np;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int sb_puts(struct strbuf *b, const char *s)
{
    return sb_add(b, s, strlen(s));
}

void sb_free(struct strbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ------------------------------------------------------------------ */
/* Quoting                                                             */

static bool needs_quotes(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!(isascii(c) && isalnum(c)) && !strchr("-_.+/", c))
            return true;
    }
    return false;
}

int shell_quote(struct strbuf *b, const char *s, size_t n)
{
    size_t i, start = b->len;
    int rc = 0;

    if (!n)
        return sb_add(b, "''", 2);
    if (!needs_quotes(s, n))
        return sb_add(b, s, n);
    rc |= sb_add(b, "'", 1);
    for (i = 0; i < n && !rc; i++) {
        if (s[i] == '\'')
            rc |= sb_add(b, "'\"'\"'", 5);
        else
            rc |= sb_add(b, s + i, 1);
    }
    rc |= sb_add(b, "'", 1);
    if (rc)
        return -1;
    /* An empty '' at either end says nothing ('x → "'"'x'). */
    if (b->len - start >= 2 && b->p[start] == '\'' && b->p[start + 1] == '\'') {
        memmove(b->p + start, b->p + start + 2, b->len - start - 2);
        b->len -= 2;
    }
    if (b->len - start >= 2 && b->p[b->len - 1] == '\'' &&
        b->p[b->len - 2] == '\'')
        b->len -= 2;
    b->p[b->len] = '\0';
    return 0;
}

/* ------------------------------------------------------------------ */
/* What the replacement strings take of an argument                    */

/* {.}: without a last extension: a '.' and what follows it, if that is
 * no '/' or '.' ("a.b/" keeps its dot, "b." and ".x" lose theirs). */
static size_t noext_len(const char *s, size_t n)
{
    size_t i = n;

    while (i > 0 && s[i - 1] != '.' && s[i - 1] != '/')
        i--;
    if (i > 0 && s[i - 1] == '.')
        return i - 1;
    return n;
}

/* {/}: what follows the last '/'. */
static const char *base_of(const char *s, size_t n, size_t *len)
{
    const char *slash = memrchr(s, '/', n);

    if (!slash) {
        *len = n;
        return s;
    }
    *len = n - (size_t)(slash + 1 - s);
    return slash + 1;
}

/* {//}: dirname(1): "." without a '/', "/" for the root. */
static const char *dir_of(const char *s, size_t n, size_t *len)
{
    while (n > 1 && s[n - 1] == '/') /* trailing slashes */
        n--;
    while (n > 0 && s[n - 1] != '/') /* the last component */
        n--;
    if (!n) {
        *len = 1;
        return ".";
    }
    while (n > 1 && s[n - 1] == '/')
        n--;
    *len = n;
    return s;
}

/* The part of arg that op selects: *p and *len. */
static void apply_op(enum arg_op op, const char *arg, const char **p,
                     size_t *len)
{
    size_t n = strlen(arg);

    *p = arg;
    *len = n;
    switch (op) {
    case OP_NONE: break;
    case OP_NOEXT:
        *p = arg;
        *len = noext_len(arg, n);
        break;
    case OP_BASE: *p = base_of(arg, n, len); break;
    case OP_DIR: *p = dir_of(arg, n, len); break;
    case OP_BASE_NOEXT:
        *p = base_of(arg, n, len);
        *len = noext_len(*p, *len);
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Templates                                                           */

static int add_piece(struct tmpl *t, const struct piece *pc)
{
    struct piece *np = realloc(t->p, (t->n + 1) * sizeof *np);

    if (!np)
        return -1;
    t->p = np;
    t->p[t->n++] = *pc;
    return 0;
}

static bool parse_op(const char *s, size_t n, enum arg_op *op)
{
    static const struct {
        const char *text;
        enum arg_op op;
    } ops[] = {{"", OP_NONE},
               {".", OP_NOEXT},
               {"/", OP_BASE},
               {"//", OP_DIR},
               {"/.", OP_BASE_NOEXT}};
    size_t i;

    for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (strlen(ops[i].text) == n && strncmp(ops[i].text, s, n) == 0) {
            *op = ops[i].op;
            return true;
        }
    }
    return false;
}

/* The replacement string in s[0, n) (the text between the braces), into
 * *pc; false when it is none, and so literal text. */
static bool parse_repl(const char *s, size_t n, struct piece *pc)
{
    size_t i = 0;
    bool neg = false;
    long col = 0;

    memset(pc, 0, sizeof *pc);
    pc->kind = P_ARG;
    if (n == 1 && (s[0] == '#' || s[0] == '%')) {
        pc->kind = s[0] == '#' ? P_SEQ : P_SLOT;
        return true;
    }
    if (i < n && s[i] == '-')
        neg = true, i++;
    if (i < n && isdigit((unsigned char)s[i])) {
        while (i < n && isdigit((unsigned char)s[i])) {
            if (col > 100000)
                return false;
            col = col * 10 + (s[i++] - '0');
        }
        if (col == 0)
            return false;
        pc->col = neg ? -col : col;
    } else if (neg) {
        return false;
    }
    return parse_op(s + i, n - i, &pc->op);
}

int tmpl_parse(struct tmpl *t, const char *text, const char *replace)
{
    size_t i = 0, lit = 0, rlen = replace ? strlen(replace) : 0;
    struct piece pc;

    memset(t, 0, sizeof *t);
    t->text = strdup(text);
    if (!t->text)
        return -1;
    while (t->text[i]) {
        size_t len = 0;

        if (replace) {
            if (strncmp(t->text + i, replace, rlen) == 0) {
                memset(&pc, 0, sizeof pc);
                pc.kind = P_ARG;
                len = rlen;
            }
        } else if (t->text[i] == '{') {
            size_t j = i + 1;

            while (t->text[j] && t->text[j] != '}' && t->text[j] != '{' &&
                   j - i < 16)
                j++;
            if (t->text[j] == '}' &&
                parse_repl(t->text + i + 1, j - i - 1, &pc))
                len = j - i + 1;
        }
        if (!len) {
            i++;
            continue;
        }
        if (i > lit) {
            struct piece l = {.kind = P_LIT, .off = lit, .len = i - lit};

            if (add_piece(t, &l))
                goto fail;
        }
        if (add_piece(t, &pc))
            goto fail;
        t->has_repl = true;
        i += len;
        lit = i;
    }
    if (i > lit) {
        struct piece l = {.kind = P_LIT, .off = lit, .len = i - lit};

        if (add_piece(t, &l))
            goto fail;
    }
    return 0;
fail:
    tmpl_free(t);
    return -1;
}

void tmpl_free(struct tmpl *t)
{
    free(t->text);
    free(t->p);
    memset(t, 0, sizeof *t);
}

static int put_value(struct strbuf *b, const char *p, size_t n, bool quote)
{
    return quote ? shell_quote(b, p, n) : sb_add(b, p, n);
}

static int put_arg(struct strbuf *b, const char *arg, enum arg_op op,
                   bool quote)
{
    const char *p;
    size_t n;

    apply_op(op, arg, &p, &n);
    return put_value(b, p, n, quote);
}

int tmpl_expand(const struct tmpl *t, char *const *args, size_t nargs,
                unsigned long seq, unsigned long slot, bool quote,
                struct strbuf *b)
{
    char num[32];
    size_t i, k;
    int rc = 0;

    for (i = 0; i < t->n && !rc; i++) {
        const struct piece *pc = &t->p[i];

        switch (pc->kind) {
        case P_LIT: rc = sb_add(b, t->text + pc->off, pc->len); break;
        case P_SEQ:
        case P_SLOT:
            snprintf(num, sizeof num, "%lu", pc->kind == P_SEQ ? seq : slot);
            rc = sb_puts(b, num);
            break;
        case P_ARG:
            if (pc->col == 0) {
                for (k = 0; k < nargs && !rc; k++) {
                    if (k)
                        rc = sb_add(b, " ", 1);
                    rc |= put_arg(b, args[k], pc->op, quote);
                }
            } else if (pc->col > 0 && (size_t)pc->col <= nargs) {
                rc = put_arg(b, args[pc->col - 1], pc->op, quote);
            } else if (pc->col < 0 && (size_t)-pc->col <= nargs) {
                rc = put_arg(b, args[nargs - (size_t)-pc->col], pc->op, quote);
            }
            break;
        }
    }
    return rc;
}

int args_append(char *const *args, size_t nargs, bool quote, struct strbuf *b)
{
    size_t k;
    int rc = 0;

    for (k = 0; k < nargs && !rc; k++) {
        rc = sb_add(b, " ", 1);
        rc |= put_value(b, args[k], strlen(args[k]), quote);
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Columns                                                             */

int colsep_compile(regex_t *re, const char *pattern)
{
    struct strbuf b = {0};
    const char *p;
    int rc;

    /* Perl's \t, \n and \s, which users of GNU parallel type, in ERE. */
    for (p = pattern; *p; p++) {
        if (p[0] == '\\' && p[1] == 't')
            rc = sb_add(&b, "\t", 1), p++;
        else if (p[0] == '\\' && p[1] == 'n')
            rc = sb_add(&b, "\n", 1), p++;
        else if (p[0] == '\\' && p[1] == 's')
            rc = sb_puts(&b, "[[:space:]]"), p++;
        else
            rc = sb_add(&b, p, 1);
        if (rc) {
            sb_free(&b);
            return REG_ESPACE;
        }
    }
    rc = regcomp(re, b.p ? b.p : "", REG_EXTENDED);
    sb_free(&b);
    return rc;
}

int colsep_split(const regex_t *re, const char *line, struct strbuf *store,
                 size_t *ncols)
{
    const char *p = line;
    regmatch_t m;

    *ncols = 0;
    store->len = 0;
    for (;;) {
        size_t n;

        if (regexec(re, p, 1, &m, p == line ? 0 : REG_NOTBOL) || m.rm_eo == 0) {
            /* No more separators (one matching nothing would never end). */
            if (sb_add(store, p, strlen(p) + 1))
                return -1;
            (*ncols)++;
            return 0;
        }
        n = (size_t)m.rm_so;
        if (sb_add(store, p, n) || sb_add(store, "", 1))
            return -1;
        (*ncols)++;
        p += m.rm_eo;
    }
}
