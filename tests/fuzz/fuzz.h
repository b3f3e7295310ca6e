/*
 * fuzz.h - what the fuzz targets of xlchild-run's parsers share.
 *
 * Each target is one LLVMFuzzerTestOneInput.  It is built twice: with
 * clang and libFuzzer for `make fuzz`, and with the ordinary compiler and
 * regress.c's main() as a check program that replays the committed inputs
 * in `make check`.  So nothing here may depend on libFuzzer, and every
 * target checks its own results (fuzz_fail) rather than relying on a
 * sanitizer to notice a wrong answer.
 */
#ifndef XLCHILD_FUZZ_H
#define XLCHILD_FUZZ_H

#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* make fuzz runs libFuzzer with -close_fd_mask=3, which closes stderr to
 * silence the tool's own messages (every bad option prints one).  A wrong
 * answer must still be told, so it goes to a copy of stderr made before. */
static int fuzz_err_fd = 2;

static void __attribute__((constructor)) fuzz_keep_stderr(void)
{
    int fd = fcntl(2, F_DUPFD_CLOEXEC, 3);

    if (fd >= 0)
        fuzz_err_fd = fd;
}

/* A wrong answer: said, then abort(), which both libFuzzer and the
 * regression driver report as a crash with the input that caused it. */
static inline void __attribute__((noreturn, format(printf, 1, 2)))
fuzz_fail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n >= 0)
        dprintf(fuzz_err_fd, "fuzz: %s\n", msg);
    abort();
}

/* A growable byte string, for the results the targets predict. */
struct fbuf {
    char *p;
    size_t len, cap;
};

static inline void fbuf_add(struct fbuf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;

        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            fuzz_fail("out of memory");
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static inline void fbuf_free(struct fbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* An anonymous file that a sink writes to, so that what the tool would
 * have printed can be read back and compared. */
static inline int capture_open(void)
{
    int fd = memfd_create("xlchild-fuzz", MFD_CLOEXEC);

    if (fd < 0)
        fuzz_fail("memfd_create failed");
    return fd;
}

/* Everything written to fd so far, into b; then fd is emptied. */
static inline void capture_take(int fd, struct fbuf *b)
{
    char chunk[4096];
    ssize_t n;

    if (lseek(fd, 0, SEEK_SET) < 0)
        fuzz_fail("lseek failed");
    while ((n = read(fd, chunk, sizeof chunk)) > 0)
        fbuf_add(b, chunk, (size_t)n);
    if (n < 0 || ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
        fuzz_fail("reading the capture failed");
}

/* The first difference, shown, when two byte strings should be equal. */
static inline void expect_same(const char *what, const struct fbuf *got,
                               const struct fbuf *want)
{
    size_t i = 0;

    if (got->len == want->len &&
        (!got->len || memcmp(got->p, want->p, got->len) == 0))
        return;
    while (i < got->len && i < want->len && got->p[i] == want->p[i])
        i++;
    fuzz_fail("%s: got %zu bytes, expected %zu; first difference at byte %zu",
              what, got->len, want->len, i);
}

#endif /* XLCHILD_FUZZ_H */
