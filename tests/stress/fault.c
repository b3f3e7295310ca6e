/*
 * fault.c - see fault.h.
 *
 * Every wrapper does the same three things: find the real function (once),
 * ask fault_hit() whether this call, judged by its return address, is the
 * library's armed one, and either fail the way the real call fails when
 * its resource is exhausted or forward the call unchanged.
 *
 * Bootstrap: dlsym itself may call calloc/malloc before the real ones are
 * known; those calls are served from a static bump buffer (never freed:
 * free() recognises its addresses and ignores them).
 */
#define _GNU_SOURCE
#undef _FORTIFY_SOURCE /* open() is defined here, not wrapped inline */
#include "fault.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <xlchild.h>

/* TSan calls malloc while it initialises, before its per-thread state
 * exists: the wrappers must not be instrumented (not even their entry). */
#if defined(__SANITIZE_THREAD__)
#define NOTSAN __attribute__((no_sanitize_thread))
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NOTSAN __attribute__((disable_sanitizer_instrumentation))
#endif
#endif
#ifndef NOTSAN
#define NOTSAN
#endif

/* ------------------------------------------------------------ state */

static const char *const site_names[XLF_NSITES] = {
    [XLF_ALLOC] = "alloc",         [XLF_EVENTFD] = "eventfd",
    [XLF_PIPE] = "pipe",           [XLF_EPOLL] = "epoll_create",
    [XLF_EPOLL_CTL] = "epoll_ctl", [XLF_THREAD] = "pthread_create",
    [XLF_PIDFD] = "pidfd_open",    [XLF_FORK] = "fork",
    [XLF_SPAWN] = "posix_spawn",   [XLF_SPAWN_ACTIONS] = "spawn_actions",
    [XLF_DUPFD] = "dupfd",         [XLF_OPEN] = "open",
};

/* The library's mapping: [lo, hi) of each PT_LOAD segment. */
#define MAX_SEGS 8
static struct {
    uintptr_t lo, hi;
} segs[MAX_SEGS];
static int nsegs;

static long calls[XLF_NSITES], injected[XLF_NSITES];
static int armed_site = -1;
static long armed_nth;
static bool armed_sticky;

NOTSAN const char *xlf_site_name(xlf_site s)
{
    return (unsigned)s < XLF_NSITES ? site_names[s] : "?";
}

NOTSAN static bool in_library(const void *ra)
{
    uintptr_t a = (uintptr_t)ra;
    int i;

    for (i = 0; i < nsegs; i++)
        if (a >= segs[i].lo && a < segs[i].hi)
            return true;
    return false;
}

/* Counts a call at site s from ra; true if it must fail. */
NOTSAN static bool fault_hit(xlf_site s, const void *ra)
{
    long n, nth;

    if (!in_library(ra))
        return false;
    n = __atomic_add_fetch(&calls[s], 1, __ATOMIC_RELAXED);
    if (__atomic_load_n(&armed_site, __ATOMIC_ACQUIRE) != (int)s)
        return false;
    nth = __atomic_load_n(&armed_nth, __ATOMIC_RELAXED);
    if (nth <= 0 || (n != nth && !(armed_sticky && n > nth)))
        return false;
    __atomic_add_fetch(&injected[s], 1, __ATOMIC_RELAXED);
    return true;
}

NOTSAN bool xlf_hit(xlf_site s)
{
    return fault_hit(s, (const void *)segs[0].lo);
}

NOTSAN void xlf_reset(void)
{
    int i;

    for (i = 0; i < XLF_NSITES; i++) {
        __atomic_store_n(&calls[i], 0, __ATOMIC_RELAXED);
        __atomic_store_n(&injected[i], 0, __ATOMIC_RELAXED);
    }
}

NOTSAN void xlf_arm(xlf_site s, long nth, bool sticky)
{
    __atomic_store_n(&armed_site, -1, __ATOMIC_RELEASE);
    armed_nth = nth;
    armed_sticky = sticky;
    __atomic_store_n(&armed_site, (int)s, __ATOMIC_RELEASE);
}

NOTSAN void xlf_disarm(void)
{
    __atomic_store_n(&armed_site, -1, __ATOMIC_RELEASE);
}

NOTSAN long xlf_calls(xlf_site s)
{
    return __atomic_load_n(&calls[s], __ATOMIC_RELAXED);
}

NOTSAN long xlf_injected(xlf_site s)
{
    return __atomic_load_n(&injected[s], __ATOMIC_RELAXED);
}

NOTSAN static int find_library(struct dl_phdr_info *info, size_t size,
                               void *data)
{
    int i;

    (void)size;
    (void)data;
    if (!info->dlpi_name || !strstr(info->dlpi_name, "libxlchild"))
        return 0;
    for (i = 0; i < info->dlpi_phnum && nsegs < MAX_SEGS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        segs[nsegs].lo = info->dlpi_addr + ph->p_vaddr;
        segs[nsegs].hi = segs[nsegs].lo + ph->p_memsz;
        nsegs++;
    }
    return 1;
}

NOTSAN bool xlf_init(void)
{
    if (nsegs)
        return true;
    dl_iterate_phdr(find_library, NULL);
    if (!nsegs) {
        fprintf(stderr, "fault: libxlchild is not a shared object here:"
                        " cannot tell its calls from the test's\n");
        return false;
    }
    return true;
}

/* ------------------------------------------------------- real functions */

static struct {
    void *(*malloc)(size_t);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void (*free)(void *);
    int (*eventfd)(unsigned, int);
    int (*pipe)(int[2]);
    int (*pipe2)(int[2], int);
    int (*epoll_create1)(int);
    int (*epoll_create)(int);
    int (*epoll_ctl)(int, int, int, struct epoll_event *);
    int (*pthread_create)(pthread_t *, const pthread_attr_t *,
                          void *(*)(void *), void *);
    long (*syscall)(long, ...);
    pid_t (*fork)(void);
    int (*posix_spawn)(pid_t *, const char *,
                       const posix_spawn_file_actions_t *,
                       const posix_spawnattr_t *, char *const[], char *const[]);
    int (*posix_spawnp)(pid_t *, const char *,
                        const posix_spawn_file_actions_t *,
                        const posix_spawnattr_t *, char *const[],
                        char *const[]);
    int (*fa_init)(posix_spawn_file_actions_t *);
    int (*fa_adddup2)(posix_spawn_file_actions_t *, int, int);
    int (*fa_addchdir)(posix_spawn_file_actions_t *, const char *);
    int (*attr_init)(posix_spawnattr_t *);
    int (*fcntl)(int, int, ...);
    int (*dup)(int);
    int (*dup3)(int, int, int);
    int (*open)(const char *, int, ...);
    int (*openat)(int, const char *, int, ...);
} real;

static int resolved;
static __thread int resolving; /* static TLS: allocates nothing */

/* The bootstrap heap, for dlsym's own allocations. */
static char bump[1 << 16] __attribute__((aligned(16)));
static size_t bump_used;

NOTSAN static void *bump_alloc(size_t n)
{
    size_t off = __atomic_fetch_add(&bump_used, (n + 15) & ~(size_t)15,
                                    __ATOMIC_RELAXED);
    if (off + n > sizeof bump)
        return NULL;
    return bump + off;
}

NOTSAN static bool in_bump(const void *p)
{
    return (const char *)p >= bump && (const char *)p < bump + sizeof bump;
}

#define RESOLVE(field, name)                 \
    do {                                     \
        void *p_ = dlsym(RTLD_NEXT, name);   \
        memcpy(&real.field, &p_, sizeof p_); \
    } while (0)

NOTSAN static void resolve(void)
{
    if (__atomic_load_n(&resolved, __ATOMIC_ACQUIRE))
        return;
    resolving = 1;
    RESOLVE(malloc, "malloc");
    RESOLVE(calloc, "calloc");
    RESOLVE(realloc, "realloc");
    RESOLVE(free, "free");
    RESOLVE(eventfd, "eventfd");
    RESOLVE(pipe, "pipe");
    RESOLVE(pipe2, "pipe2");
    RESOLVE(epoll_create1, "epoll_create1");
    RESOLVE(epoll_create, "epoll_create");
    RESOLVE(epoll_ctl, "epoll_ctl");
    RESOLVE(pthread_create, "pthread_create");
    RESOLVE(syscall, "syscall");
    RESOLVE(fork, "fork");
    RESOLVE(posix_spawn, "posix_spawn");
    RESOLVE(posix_spawnp, "posix_spawnp");
    RESOLVE(fa_init, "posix_spawn_file_actions_init");
    RESOLVE(fa_adddup2, "posix_spawn_file_actions_adddup2");
    RESOLVE(fa_addchdir, "posix_spawn_file_actions_addchdir_np");
    RESOLVE(attr_init, "posix_spawnattr_init");
    RESOLVE(fcntl, "fcntl");
    RESOLVE(dup, "dup");
    RESOLVE(dup3, "dup3");
    RESOLVE(open, "open");
    RESOLVE(openat, "openat");
    resolving = 0;
    __atomic_store_n(&resolved, 1, __ATOMIC_RELEASE);
}

__attribute__((constructor)) static void fault_ctor(void)
{
    resolve();
}

#define RA __builtin_return_address(0)

/* ------------------------------------------------------------ memory */

NOTSAN void *malloc(size_t n)
{
    if (!real.malloc) {
        if (resolving)
            return bump_alloc(n);
        resolve();
    }
    if (fault_hit(XLF_ALLOC, RA)) {
        errno = ENOMEM;
        return NULL;
    }
    return real.malloc(n);
}

NOTSAN void *calloc(size_t n, size_t m)
{
    if (!real.calloc) {
        if (resolving)
            return bump_alloc(n * m); /* static: already zero */
        resolve();
    }
    if (fault_hit(XLF_ALLOC, RA)) {
        errno = ENOMEM;
        return NULL;
    }
    return real.calloc(n, m);
}

NOTSAN void *realloc(void *p, size_t n)
{
    if (!real.realloc) {
        if (resolving)
            return bump_alloc(n); /* bootstrap only: nothing to keep */
        resolve();
    }
    if (fault_hit(XLF_ALLOC, RA)) {
        errno = ENOMEM;
        return NULL;
    }
    if (p && in_bump(p)) {
        void *q = real.malloc(n);
        if (q)
            memcpy(q, p, n); /* may read past the old block: inside bump */
        return q;
    }
    return real.realloc(p, n);
}

NOTSAN void free(void *p)
{
    if (!p || in_bump(p))
        return;
    if (!real.free)
        resolve();
    real.free(p);
}

/* --------------------------------------------------------------- fds */

NOTSAN int eventfd(unsigned int initval, int flags)
{
    resolve();
    if (fault_hit(XLF_EVENTFD, RA)) {
        errno = EMFILE;
        return -1;
    }
    return real.eventfd(initval, flags);
}

NOTSAN int pipe(int fds[2])
{
    resolve();
    if (fault_hit(XLF_PIPE, RA)) {
        errno = EMFILE;
        return -1;
    }
    return real.pipe(fds);
}

NOTSAN int pipe2(int fds[2], int flags)
{
    resolve();
    if (fault_hit(XLF_PIPE, RA)) {
        errno = EMFILE;
        return -1;
    }
    return real.pipe2(fds, flags);
}

NOTSAN int epoll_create1(int flags)
{
    resolve();
    if (fault_hit(XLF_EPOLL, RA)) {
        errno = EMFILE;
        return -1;
    }
    return real.epoll_create1(flags);
}

NOTSAN int epoll_create(int size)
{
    resolve();
    if (fault_hit(XLF_EPOLL, RA)) {
        errno = EMFILE;
        return -1;
    }
    return real.epoll_create(size);
}

NOTSAN int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    resolve();
    if (op == EPOLL_CTL_ADD && fault_hit(XLF_EPOLL_CTL, RA)) {
        errno = ENOSPC;
        return -1;
    }
    return real.epoll_ctl(epfd, op, fd, ev);
}

NOTSAN int fcntl(int fd, int cmd, ...)
{
    va_list al;
    long arg;

    va_start(al, cmd);
    arg = va_arg(al, long); /* every fcntl argument fits a long */
    va_end(al);
    resolve();
    if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) &&
        fault_hit(XLF_DUPFD, RA)) {
        errno = EMFILE;
        return -1;
    }
    return real.fcntl(fd, cmd, arg);
}

NOTSAN int dup(int fd)
{
    resolve();
    if (fault_hit(XLF_DUPFD, RA)) {
        errno = EMFILE;
        return -1;
    }
    return real.dup(fd);
}

NOTSAN int dup3(int fd, int fd2, int flags)
{
    resolve();
    if (fault_hit(XLF_DUPFD, RA)) {
        errno = EMFILE;
        return -1;
    }
    return real.dup3(fd, fd2, flags);
}

NOTSAN int open(const char *path, int flags, ...)
{
    va_list al;
    int mode;

    va_start(al, flags);
    mode = va_arg(al, int);
    va_end(al);
    resolve();
    if (fault_hit(XLF_OPEN, RA)) {
        errno = EMFILE;
        return -1;
    }
    return real.open(path, flags, mode);
}

NOTSAN int openat(int dfd, const char *path, int flags, ...)
{
    va_list al;
    int mode;

    va_start(al, flags);
    mode = va_arg(al, int);
    va_end(al);
    resolve();
    if (fault_hit(XLF_OPEN, RA)) {
        errno = EMFILE;
        return -1;
    }
    return real.openat(dfd, path, flags, mode);
}

/* The library calls pidfd_open as syscall(__NR_pidfd_open, pid, 0);
 * every other number is forwarded unchanged with six arguments.  Reading
 * six when fewer were passed reads whatever the caller's frame holds, as
 * glibc's own syscall() does with registers: harmless, but ASan would
 * call the stack read an underflow. */
NOTSAN __attribute__((no_sanitize_address)) long syscall(long nr, ...)
{
    va_list al;
    long a[6];
    int i;

    va_start(al, nr);
    for (i = 0; i < 6; i++)
        a[i] = va_arg(al, long);
    va_end(al);
    resolve();
#ifdef __NR_pidfd_open
    if (nr == __NR_pidfd_open && fault_hit(XLF_PIDFD, RA)) {
        errno = EMFILE;
        return -1;
    }
#endif
    return real.syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* ------------------------------------------------- threads, processes */

NOTSAN int pthread_create(pthread_t *t, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg)
{
    resolve();
    if (fault_hit(XLF_THREAD, RA))
        return EAGAIN;
    return real.pthread_create(t, attr, fn, arg);
}

NOTSAN pid_t fork(void)
{
    resolve();
    if (fault_hit(XLF_FORK, RA)) {
        errno = EAGAIN;
        return -1;
    }
    return real.fork();
}

NOTSAN int posix_spawn(pid_t *pid, const char *path,
                       const posix_spawn_file_actions_t *fa,
                       const posix_spawnattr_t *at, char *const argv[],
                       char *const envp[])
{
    resolve();
    if (fault_hit(XLF_SPAWN, RA))
        return EAGAIN;
    return real.posix_spawn(pid, path, fa, at, argv, envp);
}

NOTSAN int posix_spawnp(pid_t *pid, const char *file,
                        const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *at, char *const argv[],
                        char *const envp[])
{
    resolve();
    if (fault_hit(XLF_SPAWN, RA))
        return EAGAIN;
    return real.posix_spawnp(pid, file, fa, at, argv, envp);
}

NOTSAN int posix_spawn_file_actions_init(posix_spawn_file_actions_t *fa)
{
    resolve();
    if (fault_hit(XLF_SPAWN_ACTIONS, RA))
        return ENOMEM;
    return real.fa_init(fa);
}

NOTSAN int posix_spawn_file_actions_adddup2(posix_spawn_file_actions_t *fa,
                                            int fd, int newfd)
{
    resolve();
    if (fault_hit(XLF_SPAWN_ACTIONS, RA))
        return ENOMEM;
    return real.fa_adddup2(fa, fd, newfd);
}

NOTSAN int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *fa,
                                                const char *path)
{
    resolve();
    if (fault_hit(XLF_SPAWN_ACTIONS, RA))
        return ENOMEM;
    return real.fa_addchdir(fa, path);
}

NOTSAN int posix_spawnattr_init(posix_spawnattr_t *at)
{
    resolve();
    if (fault_hit(XLF_SPAWN_ACTIONS, RA))
        return ENOMEM;
    return real.attr_init(at);
}
