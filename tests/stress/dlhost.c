/*
 * dlhost.c - a program that uses the library only as a plugin would: it is
 * not linked with it, it dlopens the built shared object, uses it through
 * dlsym, frees its ctx and dlcloses it, again and again (F4).  Run by
 * stress_dlclose (and by the soak), which checks that it exits 0: a crash
 * (a reaper thread, a SIGCHLD handler or an atfork handler left in unmapped
 * code) shows as death by a signal.
 *
 *   dlhost LIBRARY.so CYCLES [unblocked] [quick]
 *
 * A cycle: dlopen; ctx_alloc; setmode (M3, M6 or M5 by cycle); a
 * synchronous run and a fork child with a death callback, statuses checked;
 * ctx_free; dlclose.  Then, with the library closed, a plain fork() whose
 * child uses the library through a dlopen of its own (a second dlopen
 * after the first dlclose) and exits, so that SIGCHLD arrives; and a short
 * pause in which a reaper or handler left behind would run.  "unblocked":
 * a thread created before the first dlopen keeps SIGCHLD unblocked (as in
 * libvirtd, M1), so that the signal may be delivered to a handler.
 * "quick": no pause at the end (the soak runs it as one of its steps).
 *
 * Exit status: 0 when every cycle worked; 1-9 for a failed check (a line on
 * stderr says which).  Under a sanitizer, the fork child does not use the
 * library (the parent is multi-threaded; see XLT_UNDER_SANITIZER in
 * tests/harness.h): it only exits.
 */
#define _GNU_SOURCE
#include <xlchild.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#else
#define UNDER_SANITIZER 0
#endif

/* The library's entry points, as one plugin load resolves them. */
typedef struct {
    void *h;
    __typeof__(libxl_ctx_alloc) *ctx_alloc;
    __typeof__(libxl_ctx_free) *ctx_free;
    __typeof__(libxl_childproc_setmode) *setmode;
    __typeof__(libxl_childproc_run) *run;
    __typeof__(libxl_childproc_fork) *fork;
    __typeof__(libxl_event_check) *event_check;
} lib;

static const char *libpath;

static void die(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
static void die(int code, const char *fmt, ...)
{
    char buf[512];
    va_list al;

    va_start(al, fmt);
    vsnprintf(buf, sizeof buf, fmt, al);
    va_end(al);
    dprintf(2, "dlhost[%d]: %s\n", (int)getpid(), buf);
    _exit(code);
}

static void *sym(void *h, const char *name)
{
    void *p = dlsym(h, name);

    if (!p)
        die(2, "dlsym %s: %s", name, dlerror());
    return p;
}

static void lib_open(lib *l)
{
    l->h = dlopen(libpath, RTLD_NOW | RTLD_LOCAL);
    if (!l->h)
        die(2, "dlopen %s: %s", libpath, dlerror());
    l->ctx_alloc = sym(l->h, "libxl_ctx_alloc");
    l->ctx_free = sym(l->h, "libxl_ctx_free");
    l->setmode = sym(l->h, "libxl_childproc_setmode");
    l->run = sym(l->h, "libxl_childproc_run");
    l->fork = sym(l->h, "libxl_childproc_fork");
    l->event_check = sym(l->h, "libxl_event_check");
}

static void lib_close(lib *l)
{
    if (dlclose(l->h))
        die(2, "dlclose: %s", dlerror());
    memset(l, 0, sizeof *l);
}

static int deaths, death_status;

static void death_cb(libxl_ctx *ctx, pid_t pid, int status, void *user)
{
    (void)ctx;
    (void)pid;
    (void)user;
    death_status = status;
    deaths++;
}

static int pred_none(const libxl_event *ev, void *user)
{
    (void)ev;
    (void)user;
    return 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* One use of the library: a ctx in mode, a run exiting code, a fork
 * child exiting code + 1. */
static void use(const lib *l, libxl_sigchld_owner mode, int code)
{
    char script[32];
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    libxl_childproc_args a;
    libxl_childproc_result r;
    libxl_childproc_hooks hk;
    libxl_ctx *ctx = NULL;
    int rc, i;
    pid_t pid;

    if ((rc = l->ctx_alloc(&ctx, LIBXL_VERSION, 0, NULL)))
        die(3, "libxl_ctx_alloc: %d", rc);
    memset(&hk, 0, sizeof hk);
    hk.chldowner = mode;
    l->setmode(ctx, &hk, NULL);

    snprintf(script, sizeof script, "exit %d", code);
    memset(&a, 0, sizeof a);
    a.path = argv[0];
    a.argv = argv;
    memset(&r, 0, sizeof r);
    rc = l->run(ctx, &a, &r, NULL);
    if (rc || !WIFEXITED(r.status) || WEXITSTATUS(r.status) != code)
        die(4, "run: rc %d status %#x, wanted exit %d", rc, r.status, code);

    deaths = 0;
    pid = l->fork(ctx, death_cb, NULL);
    if (pid < 0)
        die(5, "libxl_childproc_fork: %d", (int)pid);
    if (pid == 0) {
        snprintf(script, sizeof script, "exit %d", code + 1);
        execl("/bin/sh", "sh", "-c", script, (char *)NULL);
        _exit(code + 1);
    }
    for (i = 0; i < 15000 && deaths == 0; i++) {
        libxl_event *ev = NULL;
        l->event_check(ctx, &ev, LIBXL_EVENTMASK_ALL, pred_none, NULL);
        if (!deaths)
            sleep_ms(2);
    }
    if (deaths != 1 || !WIFEXITED(death_status) ||
        WEXITSTATUS(death_status) != code + 1)
        die(5, "fork child: %d deaths, status %#x, wanted exit %d", deaths,
            death_status, code + 1);
    if ((rc = l->ctx_free(ctx)))
        die(3, "libxl_ctx_free: %d", rc);
}

static void *unblocked_thread(void *arg)
{
    (void)arg;
    for (;;)
        pause(); /* a handler runs here when SIGCHLD is delivered */
    return NULL;
}

int main(int argc, char **argv)
{
    static const libxl_sigchld_owner modes[3] = {
        libxl_sigchld_owner_libxl,
        libxl_sigchld_owner_libxl_always_selective_reap,
        libxl_sigchld_owner_libxl_always,
    };
    int cycles, c, i, quick = 0;

    if (argc < 3)
        die(9, "usage: dlhost LIBRARY.so CYCLES [unblocked] [quick]");
    libpath = argv[1];
    cycles = atoi(argv[2]);
    for (i = 3; i < argc; i++) {
        pthread_t t;
        if (strcmp(argv[i], "quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "unblocked") != 0)
            die(9, "unknown flag %s", argv[i]);
        else if (pthread_create(&t, NULL, unblocked_thread, NULL))
            die(9, "pthread_create");
    }
    for (c = 0; c < cycles; c++) {
        lib l;
        pid_t pid;
        int st = 0;

        lib_open(&l);
        use(&l, modes[c % 3], c % 50 + 1);
        lib_close(&l);

        /* The library is closed: a child of a plain fork() (its exit
         * raises SIGCHLD) that loads it again itself. */
        pid = fork();
        if (pid < 0)
            die(6, "fork: %s", strerror(errno));
        if (pid == 0) {
            if (!UNDER_SANITIZER) {
                lib l2;
                lib_open(&l2);
                use(&l2, modes[(c + 1) % 3], c % 50 + 60);
                lib_close(&l2);
            }
            _exit(0);
        }
        while (waitpid(pid, &st, 0) < 0)
            if (errno != EINTR)
                die(7, "waitpid: %s", strerror(errno));
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            die(8, "fork child (second dlopen) ended with status %#x", st);
        sleep_ms(20); /* whatever was left behind runs now */
    }
    /* Past the reaper's sweep interval (at most 1 s, M2). */
    if (!quick)
        sleep_ms(1200);
    return 0;
}
