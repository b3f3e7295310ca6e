/*
 * stress_dlclose.c - the library loaded as a plugin and unloaded, again
 * and again (F4: once loaded, it stays resident; its reaper thread, its
 * SIGCHLD handler and its atfork handlers never run in unmapped code).
 *
 * The work is done by dlhost (dlhost.c), a program not linked with the
 * library, on the shared object of this build (.libs/libxlchild.so): each
 * cycle dlopens it, uses it in M3, M6 or M5, frees the ctx, dlcloses it,
 * then forks a child that dlopens it a second time and uses it, and gives
 * a left-behind reaper or handler the time to run.  This test runs dlhost
 * (under valgrind too, in the valgrind stage) and checks it exits 0: a
 * crash is a death by a signal.  Two forms: with SIGCHLD blocked in every
 * thread of the host, and with a thread that keeps it unblocked (the
 * signal then goes to the library's handler, M1).
 */
#define _GNU_SOURCE
#include "stress.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef XLS_DLHOST
#error "XLS_DLHOST (the dlhost program's path) must be defined"
#endif
#ifndef XLS_LIBXLCHILD_SO
#error "XLS_LIBXLCHILD_SO (the built shared library's path) must be defined"
#endif

static void run_host(const char *flavour, const char *what)
{
    char cycles[16];
    char *argv[16];
    int argc = 0, st = 0;
    int64_t t0 = xlt_now_ms();
    struct stat sb;
    pid_t pid;
    long n = xls_scale(60, 8);

    if (stat(XLS_LIBXLCHILD_SO, &sb) != 0) {
        /* --disable-shared: there is nothing to dlopen. */
        printf("SKIPPED %s: %s: %s\n", what, XLS_LIBXLCHILD_SO,
               strerror(errno));
        xls_report(what, "SKIPPED: no shared library (%s)", strerror(errno));
        return;
    }
    snprintf(cycles, sizeof cycles, "%ld", n);
    if (getenv("XLT_UNDER_VALGRIND")) {
        argv[argc++] = "valgrind";
        argv[argc++] = "-q";
        argv[argc++] = "--error-exitcode=99";
        argv[argc++] = "--leak-check=no";
    }
    argv[argc++] = XLS_DLHOST;
    argv[argc++] = XLS_LIBXLCHILD_SO;
    argv[argc++] = cycles;
    if (flavour)
        argv[argc++] = (char *)flavour;
    argv[argc] = NULL;

    fflush(NULL);
    pid = fork();
    XLT_ASSERT(pid >= 0);
    if (pid == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    XLT_ASSERT_EQ(waitpid(pid, &st, 0), pid);
    XLT_ASSERT_MSG(!WIFSIGNALED(st),
                   "%s: the host crashed with signal %d (%s) after dlclose"
                   " (F4: code of the library ran after it was unmapped)",
                   what, WTERMSIG(st), strsignal(WTERMSIG(st)));
    XLT_ASSERT_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                   "%s: the host exited %d (see its message on stderr)", what,
                   WEXITSTATUS(st));
    /* (Under a sanitizer the fork children only exit: see dlhost.c.) */
    xls_report(what,
               "cycles=%ld dlopen=%ld dlclose=%ld fork_child_dlopen=%ld"
               " crashes=0 total=%lldms",
               n, XLT_UNDER_SANITIZER ? n : n * 2,
               XLT_UNDER_SANITIZER ? n : n * 2, XLT_UNDER_SANITIZER ? 0 : n,
               (long long)(xlt_now_ms() - t0));
}

XLT_TEST(test_F4_dlclose_cycles_sigchld_blocked, 300)
{
    run_host(NULL, "dlopen/dlclose cycles");
}

XLT_TEST(test_F4_dlclose_cycles_sigchld_unblocked_thread, 300)
{
    run_host("unblocked", "dlopen/dlclose cycles, unblocked thread");
}

int main(void)
{
    static const xlt_case cases[] = {
        XLT_CASE(test_F4_dlclose_cycles_sigchld_blocked),
        XLT_CASE(test_F4_dlclose_cycles_sigchld_unblocked_thread),
    };
    return xlt_main("stress_dlclose", cases, sizeof cases / sizeof cases[0]);
}
