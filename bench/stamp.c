/*
 * stamp.c - the exec'd child of kind "stamp" (xlbench-stamp).
 *
 *   xlbench-stamp SHMFILE I [b FIFO | sUSEC]
 *
 * Writes CLOCK_MONOTONIC (ns) into 8-byte slot I of SHMFILE just before
 * _exit(I % 250).  "b FIFO": first read one byte from FIFO (W5: children stay
 * outstanding until the harness lets them go).  "sUSEC": first sleep.
 */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct timespec ts;
    int64_t v;
    long i;
    int fd;

    if (argc < 3)
        _exit(255);
    i = atol(argv[2]);
    if (argc > 4 && argv[3][0] == 'b') {
        char buf[64];
        fd = open(argv[4], O_RDONLY);
        if (fd < 0)
            _exit(252);
        while (read(fd, buf, 1) < 0)
            ; /* one byte each: the harness writes N of them */
        close(fd);
    } else if (argc > 3 && argv[3][0] == 's') {
        long us = atol(argv[3] + 1);
        ts.tv_sec = us / 1000000;
        ts.tv_nsec = (us % 1000000) * 1000;
        nanosleep(&ts, NULL);
    }
    fd = open(argv[1], O_WRONLY);
    if (fd < 0)
        _exit(254);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    v = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    if (pwrite(fd, &v, sizeof v, (off_t)i * (off_t)sizeof v) != sizeof v)
        _exit(253);
    _exit((int)(i % 250));
}
