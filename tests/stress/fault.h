/*
 * fault.h - fault injection at the resources libxlchild acquires.
 *
 * fault.c is linked into the test executable (not LD_PRELOADed): an
 * executable's definitions come first in symbol lookup, so its malloc,
 * pipe2, pthread_create, fork... are the ones libxlchild.so calls too, and
 * each forwards to the next definition (libc's, or a sanitizer's
 * interceptor) found with dlsym(RTLD_NEXT).  A call is counted, and may be
 * made to fail, only when it comes from libxlchild itself (its return
 * address lies in the library's mapping): the test's own calls, and libc's
 * internal ones, are never touched.
 *
 * A site is a kind of resource.  xlf_arm(site, n, sticky) makes the n-th
 * call at that site (counted from the last xlf_reset) fail as the real call
 * fails when the resource is exhausted (NULL/ENOMEM, -1/EMFILE,
 * EAGAIN...), and with sticky every later one too, until xlf_disarm.
 * n = 0 counts without failing: a scenario run that way says how many
 * calls each site gets, and so which n are worth trying.
 */
#ifndef XLF_FAULT_H
#define XLF_FAULT_H

#include <stdbool.h>

typedef enum {
    XLF_ALLOC,         /* malloc, calloc, realloc: NULL, ENOMEM */
    XLF_EVENTFD,       /* eventfd: EMFILE */
    XLF_PIPE,          /* pipe, pipe2: EMFILE */
    XLF_EPOLL,         /* epoll_create1, epoll_create: EMFILE */
    XLF_EPOLL_CTL,     /* epoll_ctl(EPOLL_CTL_ADD): ENOSPC (max_user_watches) */
    XLF_THREAD,        /* pthread_create: EAGAIN */
    XLF_PIDFD,         /* syscall(__NR_pidfd_open): EMFILE */
    XLF_FORK,          /* fork: EAGAIN */
    XLF_SPAWN,         /* posix_spawn, posix_spawnp: EAGAIN */
    XLF_SPAWN_ACTIONS, /* posix_spawn_file_actions_init/adddup2/addchdir_np,
                          posix_spawnattr_init: ENOMEM */
    XLF_DUPFD,         /* fcntl(F_DUPFD[_CLOEXEC]), dup, dup3: EMFILE */
    XLF_OPEN,          /* open, openat: EMFILE */
    XLF_NSITES
} xlf_site;

const char *xlf_site_name(xlf_site s);

/* Finds libxlchild's mapping; false (and why, on stderr) if the interposer
 * cannot work in this build.  Idempotent. */
bool xlf_init(void);

/* Zeroes the counts (not the arming). */
void xlf_reset(void);
void xlf_arm(xlf_site s, long nth, bool sticky);
/* Lifts every fault; counting goes on. */
void xlf_disarm(void);

/* For code the library calls back to acquire a resource (a
 * fork_replacement): counts a call at site s as if the library had made
 * it, and returns true if it must fail. */
bool xlf_hit(xlf_site s);

/* Calls from the library at site s since xlf_reset, and how many of them
 * were made to fail. */
long xlf_calls(xlf_site s);
long xlf_injected(xlf_site s);

#endif
