/*
 * regress.c - main() for a fuzz target outside libFuzzer: feeds it files,
 * one call each, the way libFuzzer replays a crash.  Linked with each
 * target as a check program, so that `make check` (and its ASan, TSan and
 * valgrind runs) replays every committed input.
 *
 *   regress-NAME [FILE|DIR]...
 *
 * Without arguments: every file in $srcdir/tests/fuzz/regress/NAME and
 * $srcdir/tests/fuzz/corpus/NAME (NAME from -DFUZZ_NAME).  Standard output
 * goes to /dev/null (a target may print --help there); progress and
 * failures go to standard error.  Exit status 0, 1 if an input could not
 * be read, 99 if there was nothing to replay; a failing input aborts.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "fuzz.h"

#ifndef FUZZ_NAME
#error "FUZZ_NAME must name the target"
#endif

static unsigned long replayed;
static int status;

static void replay_file(const char *path)
{
    struct stat sb;
    uint8_t *buf = NULL;
    size_t len = 0;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &sb)) {
        fprintf(stderr, "regress-%s: %s: %s\n", FUZZ_NAME, path,
                strerror(errno));
        status = 1;
        if (fd >= 0)
            close(fd);
        return;
    }
    /* Exactly the file's size, so that a read past the input is caught. */
    if (sb.st_size > 0 && !(buf = malloc((size_t)sb.st_size)))
        fuzz_fail("out of memory");
    while (len < (size_t)sb.st_size &&
           (n = read(fd, buf + len, (size_t)sb.st_size - len)) > 0)
        len += (size_t)n;
    close(fd);
    fprintf(stderr, "regress-%s: %s (%zu bytes)\n", FUZZ_NAME, path, len);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    replayed++;
}

static int visible(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

static void replay(const char *path, bool must_exist)
{
    struct dirent **names;
    struct stat sb;
    int n, i;

    if (stat(path, &sb)) {
        if (must_exist) {
            fprintf(stderr, "regress-%s: %s: %s\n", FUZZ_NAME, path,
                    strerror(errno));
            status = 1;
        }
        return;
    }
    if (!S_ISDIR(sb.st_mode)) {
        replay_file(path);
        return;
    }
    /* In name order, so that a log reads the same on every machine. */
    n = scandir(path, &names, visible, alphasort);
    if (n < 0) {
        fprintf(stderr, "regress-%s: %s: %s\n", FUZZ_NAME, path,
                strerror(errno));
        status = 1;
        return;
    }
    for (i = 0; i < n; i++) {
        char *file;

        if (asprintf(&file, "%s/%s", path, names[i]->d_name) < 0)
            fuzz_fail("out of memory");
        replay_file(file);
        free(file);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    int i, null = open("/dev/null", O_WRONLY | O_CLOEXEC);

    if (null < 0 || dup2(null, 1) < 0)
        fuzz_fail("cannot send standard output to /dev/null");
    close(null);
    if (argc > 1) {
        for (i = 1; i < argc; i++)
            replay(argv[i], true);
    } else {
        const char *srcdir = getenv("srcdir");
        static const char *const dirs[] = {"regress", "corpus"};
        char *dir;

        if (!srcdir || !*srcdir)
            srcdir = ".";
        for (i = 0; i < 2; i++) {
            if (asprintf(&dir, "%s/tests/fuzz/%s/%s", srcdir, dirs[i],
                         FUZZ_NAME) < 0)
                fuzz_fail("out of memory");
            replay(dir, false);
            free(dir);
        }
    }
    fprintf(stderr, "regress-%s: %lu inputs replayed\n", FUZZ_NAME, replayed);
    if (!replayed)
        return 99;
    return status;
}
