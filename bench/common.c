/*
 * common.c - the benchmark harness (see common.h).
 *
 * Timing runs from bench_start() (just before the first child is made) to
 * the moment the consumer sees the N-th status.  Latency (W2) is the
 * consumer's CLOCK_MONOTONIC when it sees child i's status minus the stamp
 * child i wrote into slot i of a shared array just before _exit: fork
 * children write into the MAP_SHARED mapping directly, the exec'd stamp
 * helper (stamp.c) into the same /dev/shm file.
 */
#include "config.h"

#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct bench_opts bench_opt;
long bench_spawned, bench_done;

static char shm_path[64];
static int64_t *stamps;     /* n slots, MAP_SHARED */
static pid_t *pids;         /* n */
static unsigned char *seen; /* n */
static double *lat_us;      /* n */
static long nlat;
static int32_t *pid2idx; /* pid_max */
static long pid_max;
static pid_t *idle; /* k */
static long nidle;
static char stamp_prog[PATH_MAX];
static int w5_pipe[2] = {-1, -1}; /* fork children read [0] */
static char w5_fifo[64];          /* exec'd children open this */
static int w5_fifo_fd = -1;
static int64_t t0, t_end, t_release;
static char notes[512];
static char w5_text[512];

struct mem {
    long long heap, rss, anon;
    long fds;
};
static struct mem mem0;

int64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Lets the W5 children go: fork children see EOF on the pipe; exec'd
 * ones each read one of the N bytes written into the FIFO (a child that
 * has not opened it yet still finds its byte: the parent keeps it open).
 * Async-signal-safe. */
static void w5_release(void)
{
    static const char bytes[4096];
    long left = bench_opt.n;

    if (w5_pipe[1] >= 0) {
        close(w5_pipe[1]);
        w5_pipe[1] = -1;
    }
    while (w5_fifo_fd >= 0 && left > 0) {
        ssize_t r =
            write(w5_fifo_fd, bytes,
                  left < (long)sizeof bytes ? (size_t)left : sizeof bytes);
        if (r <= 0 && errno != EINTR)
            break;
        if (r > 0)
            left -= r;
    }
}

static void kill_idle(void)
{
    long j;

    for (j = 0; j < nidle; j++)
        kill(idle[j], SIGKILL);
}

/* What a failed run must not leave behind: the idle children, W5 children
 * blocked for ever, the files in /dev/shm.  Async-signal-safe. */
static void cleanup_on_failure(void)
{
    kill_idle();
    w5_release();
    if (shm_path[0])
        unlink(shm_path);
    if (w5_fifo[0])
        unlink(w5_fifo);
}

void bench_fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "FAIL %s: ", bench_opt.mech);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    cleanup_on_failure();
    exit(2);
}

static void watchdog(int sig)
{
    static const char msg[] = "FAIL watchdog: run took too long\n";

    (void)sig;
    if (write(2, msg, sizeof msg - 1) < 0) {
        /* nothing to do */
    }
    cleanup_on_failure();
    _exit(3);
}

void bench_note(const char *fmt, ...)
{
    size_t used = strlen(notes);
    va_list ap;

    if (used + 2 >= sizeof notes)
        return;
    notes[used++] = ' ';
    va_start(ap, fmt);
    vsnprintf(notes + used, sizeof notes - used, fmt, ap);
    va_end(ap);
}

static const char *kind_name(enum bench_kind k)
{
    switch (k) {
    case KIND_TRUE: return "true";
    case KIND_FORK: return "fork";
    case KIND_STAMP: return "stamp";
    case KIND_FORKEXEC: return "forkexec";
    }
    return "?";
}

static long num_arg(const char *s, char opt)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < 0) {
        fprintf(stderr, "bad number for -%c: %s\n", opt, s);
        exit(1);
    }
    return v;
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [-k true|fork|stamp|forkexec] [-n N] [-c C] [-K idle]\n"
            "       [-B ballast_MiB [-H]] [-s child_sleep_us] [-M]\n"
            "       [-f soft_nofile (0: raise to hard)] [-d drive] [-m mode]\n"
            "       [-w watchdog_s] [-T label] [-I]\n",
            prog);
    exit(1);
}

/* ------------------------------------------------------------------ */
/* Set-up                                                              */

static void *touched_alloc(size_t size, int fill)
{
    void *p = malloc(size ? size : 1);

    if (!p)
        bench_fail("out of memory");
    memset(p, fill, size); /* touched now, so W5 readings exclude it */
    return p;
}

static void setup_stamps(void)
{
    size_t size = (size_t)bench_opt.n * sizeof(int64_t);
    int fd;

    snprintf(shm_path, sizeof shm_path, "/dev/shm/xlbench.%d", (int)getpid());
    fd = open(shm_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        char path[sizeof shm_path];

        memcpy(path, shm_path, sizeof path);
        shm_path[0] = 0; /* not ours to unlink */
        bench_fail("open %s: %s", path, strerror(errno));
    }
    if (ftruncate(fd, (off_t)(size ? size : 8)))
        bench_fail("ftruncate: %s", strerror(errno));
    stamps =
        mmap(NULL, size ? size : 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (stamps == MAP_FAILED)
        bench_fail("mmap stamps: %s", strerror(errno));
    close(fd);
    memset(stamps, 0, size);
}

static void setup_stamp_prog(void)
{
    const char *env = getenv("XLBENCH_STAMP");
    char *slash;
    ssize_t r;

    if (env && *env) {
        snprintf(stamp_prog, sizeof stamp_prog, "%s", env);
        return;
    }
    r = readlink("/proc/self/exe", stamp_prog, sizeof stamp_prog - 32);
    if (r <= 0)
        bench_fail("readlink /proc/self/exe");
    stamp_prog[r] = 0;
    slash = strrchr(stamp_prog, '/');
    strcpy(slash ? slash + 1 : stamp_prog, "xlbench-stamp");
    if (access(stamp_prog, X_OK))
        bench_fail("no stamp helper at %s (set XLBENCH_STAMP)", stamp_prog);
}

static void setup_ballast(void)
{
    size_t size = (size_t)bench_opt.ballast_mib << 20, off;
    char *p;

    if (!size)
        return;
    /* MAP_POPULATE faults the pages in with one call (a million separate
     * faults would take seconds); the touch below then makes each page
     * dirty.  Without -H, THP "madvise" leaves them 4 KiB pages. */
    p = mmap(NULL, size, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | (bench_opt.huge ? 0 : MAP_POPULATE),
             -1, 0);
    if (p == MAP_FAILED)
        bench_fail("mmap ballast: %s", strerror(errno));
    if (bench_opt.huge && madvise(p, size, MADV_HUGEPAGE))
        bench_fail("madvise(MADV_HUGEPAGE): %s", strerror(errno));
    for (off = 0; off < size; off += 4096)
        p[off] = 1;
}

static void setup_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl))
        bench_fail("getrlimit: %s", strerror(errno));
    if (bench_opt.nofile == 0 || (rlim_t)bench_opt.nofile > rl.rlim_max)
        rl.rlim_cur = rl.rlim_max;
    else
        rl.rlim_cur = (rlim_t)bench_opt.nofile;
    if (setrlimit(RLIMIT_NOFILE, &rl))
        bench_fail("setrlimit: %s", strerror(errno));
    bench_opt.nofile = (long)rl.rlim_cur;
}

static int spawn_attr(posix_spawnattr_t *at)
{
    sigset_t empty;

    sigemptyset(&empty);
    posix_spawnattr_init(at);
    posix_spawnattr_setsigmask(at, &empty);
    return posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGMASK);
}

/* An idle sleep is settled once it is blocked in its sleep system call
 * (clock_nanosleep 230 or nanosleep 35 on x86_64): before that it is still
 * running ld.so and would steal CPU from the timed part. */
static bool idle_settled(pid_t pid)
{
    char path[64], buf[64];
    ssize_t r;
    int fd;

    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0)
        return false;
    buf[r] = 0;
    return !strncmp(buf, "230 ", 4) || !strncmp(buf, "35 ", 3);
}

static void setup_idle(void)
{
    static char *const argv[] = {"sleep", "1000", NULL};
    posix_spawnattr_t at;
    long j, first = 0;
    int r, tries = 0;

    if (!bench_opt.k)
        return;
    idle = touched_alloc((size_t)bench_opt.k * sizeof *idle, 0);
    spawn_attr(&at);
    for (j = 0; j < bench_opt.k; j++) {
        r = posix_spawn(&idle[j], "/bin/sleep", NULL, &at, argv, environ);
        if (r)
            bench_fail("posix_spawn sleep: %s", strerror(r));
        nidle++;
    }
    posix_spawnattr_destroy(&at);
    while (first < nidle) {
        if (idle_settled(idle[first])) {
            first++;
            continue;
        }
        if (++tries > 20000)
            bench_fail("idle child %d never settled", (int)idle[first]);
        usleep(1000);
    }
    /* the previous run's mass kill may still be finishing in the kernel */
    usleep(200 * 1000);
}

/* -I: a thread that never wakes.  It blocks every signal, so that the
 * main thread still takes SIGALRM and the mechanism's own. */
static void *idle_thread_main(void *arg)
{
    sigset_t all;

    (void)arg;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
    for (;;)
        pause();
    return NULL;
}

static void setup_idle_thread(void)
{
    pthread_t t;
    sigset_t all, old;
    int r;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* inherited from the start */
    r = pthread_create(&t, NULL, idle_thread_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r)
        bench_fail("pthread_create: %s", strerror(r));
    pthread_detach(t);
}

static void setup_pidmap(void)
{
    FILE *f = fopen("/proc/sys/kernel/pid_max", "re");

    pid_max = 0;
    if (f) {
        if (fscanf(f, "%ld", &pid_max) != 1)
            pid_max = 0;
        fclose(f);
    }
    if (pid_max <= 0 || pid_max > (1L << 22))
        pid_max = 1L << 22;
    pid2idx = touched_alloc((size_t)pid_max * sizeof *pid2idx, 0xff);
}

void bench_init(int argc, char **argv, const char *mech, unsigned kinds_ok)
{
    struct sigaction sa;
    int opt;

    bench_opt.mech = mech;
    bench_opt.kind = KIND_TRUE;
    bench_opt.n = 1000;
    bench_opt.c = 16;
    bench_opt.watchdog_s = 120;
    while ((opt = getopt(argc, argv, "k:n:c:K:B:Hs:Mf:d:m:w:T:I")) != -1) {
        switch (opt) {
        case 'k':
            if (!strcmp(optarg, "true"))
                bench_opt.kind = KIND_TRUE;
            else if (!strcmp(optarg, "fork"))
                bench_opt.kind = KIND_FORK;
            else if (!strcmp(optarg, "stamp"))
                bench_opt.kind = KIND_STAMP;
            else if (!strcmp(optarg, "forkexec"))
                bench_opt.kind = KIND_FORKEXEC;
            else
                usage(argv[0]);
            break;
        case 'n': bench_opt.n = num_arg(optarg, 'n'); break;
        case 'c': bench_opt.c = num_arg(optarg, 'c'); break;
        case 'K': bench_opt.k = num_arg(optarg, 'K'); break;
        case 'B': bench_opt.ballast_mib = num_arg(optarg, 'B'); break;
        case 'H': bench_opt.huge = true; break;
        case 's': bench_opt.child_sleep_us = num_arg(optarg, 's'); break;
        case 'M': bench_opt.w5 = true; break;
        case 'f': bench_opt.nofile = num_arg(optarg, 'f'); break;
        case 'd': bench_opt.drive = optarg; break;
        case 'm': bench_opt.mode = optarg; break;
        case 'w': bench_opt.watchdog_s = (int)num_arg(optarg, 'w'); break;
        case 'T': bench_opt.mech = optarg; break;
        case 'I': bench_opt.idle_thread = true; break;
        default: usage(argv[0]);
        }
    }
    if (optind != argc || bench_opt.n < 1 || bench_opt.c < 1)
        usage(argv[0]);
    if (!(bench_opt.kind & kinds_ok)) {
        fprintf(stderr, "%s: kind %s is not supported by this mechanism\n",
                bench_opt.mech, kind_name(bench_opt.kind));
        exit(1);
    }
    if (bench_opt.w5) {
        if (bench_opt.kind != KIND_FORK && bench_opt.kind != KIND_STAMP)
            bench_fail("-M needs kind fork or stamp");
        bench_opt.c = bench_opt.n; /* all of them out at once */
        if (pipe2(w5_pipe, O_CLOEXEC))
            bench_fail("pipe2: %s", strerror(errno));
        /* Exec'd children open a FIFO by name and block reading it: that
         * costs the parent no descriptor per child (passing the pipe as
         * stdin would make libxl_childproc_run dup it for each). */
        snprintf(w5_fifo, sizeof w5_fifo, "/dev/shm/xlbench.%d.fifo",
                 (int)getpid());
        if (mkfifo(w5_fifo, 0600))
            bench_fail("mkfifo %s: %s", w5_fifo, strerror(errno));
        /* O_RDWR: opens without a reader; kept open until the end, so a
         * child's open never waits for a writer */
        w5_fifo_fd = open(w5_fifo, O_RDWR | O_CLOEXEC);
        if (w5_fifo_fd < 0)
            bench_fail("open %s: %s", w5_fifo, strerror(errno));
    }

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = watchdog;
    sigaction(SIGALRM, &sa, NULL);
    alarm((unsigned)bench_opt.watchdog_s);

    setup_nofile();
    setup_pidmap();
    pids = touched_alloc((size_t)bench_opt.n * sizeof *pids, 0);
    seen = touched_alloc((size_t)bench_opt.n, 0);
    lat_us = touched_alloc((size_t)bench_opt.n * sizeof *lat_us, 0);
    if (bench_opt.kind == KIND_FORK || bench_opt.kind == KIND_STAMP)
        setup_stamps();
    if (bench_opt.kind == KIND_STAMP)
        setup_stamp_prog();
    setup_ballast();
    setup_idle();
    if (bench_opt.idle_thread)
        setup_idle_thread();
}

/* ------------------------------------------------------------------ */
/* Children                                                            */

long bench_next(void)
{
    if (bench_spawned >= bench_opt.n)
        bench_fail("bench_next past n");
    return bench_spawned++;
}

void bench_record(long i, pid_t pid)
{
    if (i < 0 || i >= bench_opt.n || pid <= 0)
        bench_fail("bench_record(%ld, %d)", i, (int)pid);
    pids[i] = pid;
    if (pid < pid_max)
        pid2idx[pid] = (int32_t)i;
}

void bench_child(long i)
{
    if (bench_opt.w5) {
        char c;

        close(w5_pipe[1]);
        while (read(w5_pipe[0], &c, 1) != 0 && errno == EINTR)
            ;
    }
    if (bench_opt.child_sleep_us) {
        struct timespec ts = {bench_opt.child_sleep_us / 1000000,
                              (bench_opt.child_sleep_us % 1000000) * 1000};
        while (nanosleep(&ts, &ts) && errno == EINTR)
            ;
    }
    if (stamps) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        stamps[i] = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    }
    _exit((int)(i % 250));
}

const char *bench_exec_argv(long i, char **argv, char *buf)
{
    if (bench_opt.kind == KIND_TRUE || bench_opt.kind == KIND_FORKEXEC) {
        argv[0] = "true";
        argv[1] = NULL;
        return "/bin/true";
    }
    if (bench_opt.kind != KIND_STAMP)
        bench_fail("bench_exec_argv with kind %s", kind_name(bench_opt.kind));
    snprintf(buf, 64, "%ld", i);
    argv[0] = "xlbench-stamp";
    argv[1] = shm_path;
    argv[2] = buf;
    argv[3] = NULL;
    if (bench_opt.w5) {
        argv[3] = "b";
        argv[4] = w5_fifo;
        argv[5] = NULL;
    } else if (bench_opt.child_sleep_us) {
        snprintf(buf + 32, 32, "s%ld", bench_opt.child_sleep_us);
        argv[3] = buf + 32;
        argv[4] = NULL;
    }
    return stamp_prog;
}

pid_t bench_spawn(long i)
{
    posix_spawnattr_t at;
    char *argv[6], buf[64];
    const char *path;
    pid_t pid;
    int r;

    switch (bench_opt.kind) {
    case KIND_FORK:
        pid = fork();
        if (pid == 0)
            bench_child(i);
        if (pid < 0)
            bench_fail("fork: %s", strerror(errno));
        break;
    case KIND_FORKEXEC:
        pid = fork();
        if (pid == 0) {
            static char *const targv[] = {"true", NULL};
            sigset_t empty;

            sigemptyset(&empty);
            sigprocmask(SIG_SETMASK, &empty, NULL);
            execve("/bin/true", targv, environ);
            _exit(127);
        }
        if (pid < 0)
            bench_fail("fork: %s", strerror(errno));
        break;
    default:
        path = bench_exec_argv(i, argv, buf);
        spawn_attr(&at);
        r = posix_spawn(&pid, path, NULL, &at, argv, environ);
        posix_spawnattr_destroy(&at);
        if (r)
            bench_fail("posix_spawn %s: %s", path, strerror(r));
        break;
    }
    bench_record(i, pid);
    return pid;
}

/* ------------------------------------------------------------------ */
/* Statuses                                                            */

void bench_got(long i, pid_t pid, int status)
{
    int64_t t = bench_now_ns();
    int want;

    if (i < 0 || i >= bench_opt.n)
        bench_fail("status for unknown child index %ld (pid %d)", i, (int)pid);
    if (seen[i])
        bench_fail("second status for child %ld (pid %d)", i, (int)pid);
    if (pid > 0 && pids[i] > 0 && pids[i] != pid)
        bench_fail("child %ld: status from pid %d, expected pid %d", i,
                   (int)pid, (int)pids[i]);
    if (pid > 0 && pids[i] <= 0)
        pids[i] = pid;
    want = bench_opt.kind == KIND_TRUE || bench_opt.kind == KIND_FORKEXEC
               ? 0
               : (int)(i % 250);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != want)
        bench_fail("child %ld (pid %d): wait status %#x, expected exit %d", i,
                   (int)pid, status, want);
    if (stamps && !bench_opt.w5) {
        int64_t st = stamps[i];
        if (!st)
            bench_fail("child %ld (pid %d) left no stamp", i, (int)pid);
        lat_us[nlat++] = (double)(t - st) / 1000.0;
    }
    seen[i] = 1;
    if (++bench_done == bench_opt.n)
        t_end = t;
}

void bench_got_pid(pid_t pid, int status)
{
    int32_t i;

    if (pid <= 0 || pid >= pid_max || pid2idx[pid] < 0)
        bench_fail("status %#x of a pid %d that is not a benchmark child",
                   status, (int)pid);
    i = pid2idx[pid];
    pid2idx[pid] = -1;
    bench_got(i, pid, status);
}

/* ------------------------------------------------------------------ */
/* W5 memory                                                           */

static long long status_kb(const char *key)
{
    char line[256];
    size_t kl = strlen(key);
    long long v = -1;
    FILE *f = fopen("/proc/self/status", "re");

    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            v = atoll(line + kl + 1);
            break;
        }
    fclose(f);
    return v;
}

static long count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    long n = 0;

    if (!d)
        return -1;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the DIR's own fd */
}

static void mem_read(struct mem *m)
{
    struct mallinfo2 mi = mallinfo2();

    m->heap = (long long)(mi.uordblks + mi.hblkhd);
    m->rss = status_kb("VmRSS") * 1024;
    m->anon = status_kb("RssAnon") * 1024;
    m->fds = count_fds();
}

void bench_start(void)
{
    if (bench_opt.w5)
        mem_read(&mem0);
    t0 = bench_now_ns();
}

void bench_w5_point(void)
{
    struct mem m1;
    double n = (double)bench_opt.n;

    if (!bench_opt.w5 || w5_pipe[1] < 0)
        return;
    if (bench_spawned != bench_opt.n)
        bench_fail("bench_w5_point before all children are out");
    mem_read(&m1);
    snprintf(w5_text, sizeof w5_text,
             "heap_B_per_child=%.1f rss_B_per_child=%.1f"
             " anon_B_per_child=%.1f fds_per_child=%.3f spawn_s=%.6f",
             (double)(m1.heap - mem0.heap) / n, (double)(m1.rss - mem0.rss) / n,
             (double)(m1.anon - mem0.anon) / n,
             m1.fds < 0 || mem0.fds < 0 ? -1.0 /* no fd left to count */
                                        : (double)(m1.fds - mem0.fds) / n,
             (double)(bench_now_ns() - t0) / 1e9);
    t_release = bench_now_ns();
    w5_release();
}

/* ------------------------------------------------------------------ */
/* The end                                                             */

/* For the leftover check's failure message: who is still our child. */
static void describe_children(void)
{
    char path[300], buf[4096], st[512];
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;

    if (!d)
        return;
    while ((de = readdir(d))) {
        FILE *f;
        long pid;
        char *tok, *save;

        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/children", de->d_name);
        f = fopen(path, "re");
        if (!f)
            continue;
        if (!fgets(buf, sizeof buf, f))
            buf[0] = 0;
        fclose(f);
        for (tok = strtok_r(buf, " \n", &save); tok;
             tok = strtok_r(NULL, " \n", &save)) {
            long j, idx = -1;
            pid = atol(tok);
            for (j = 0; j < bench_opt.n; j++)
                if (pids[j] == (pid_t)pid)
                    idx = j;
            snprintf(path, sizeof path, "/proc/%ld/stat", pid);
            f = fopen(path, "re");
            st[0] = 0;
            if (f) {
                if (!fgets(st, sizeof st, f))
                    st[0] = 0;
                fclose(f);
            }
            fprintf(stderr, "left over: pid %ld (child index %ld%s): %s", pid,
                    idx, idx >= 0 && seen[idx] ? ", status seen" : "", st);
        }
    }
    closedir(d);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double pct(double p)
{
    long idx = (long)(p * (double)nlat + 0.999999) - 1;

    if (idx < 0)
        idx = 0;
    if (idx >= nlat)
        idx = nlat - 1;
    return lat_us[idx];
}

int bench_finish(void)
{
    double secs;
    long j;
    int st;
    pid_t p;

    alarm(0);
    if (bench_done != bench_opt.n || bench_spawned != bench_opt.n)
        bench_fail("%ld statuses of %ld children started, expected %ld",
                   bench_done, bench_spawned, bench_opt.n);
    for (j = 0; j < bench_opt.n; j++)
        if (!seen[j])
            bench_fail("no status for child %ld", j);
    /* the idle children: kill, then reap each by pid */
    kill_idle();
    for (j = 0; j < nidle; j++) {
        while ((p = waitpid(idle[j], &st, 0)) < 0 && errno == EINTR)
            ;
        if (p != idle[j])
            bench_fail("idle child %d: waitpid: %s (reaped by someone else)",
                       (int)idle[j], strerror(errno));
        if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
            bench_fail("idle child %d ended with %#x", (int)idle[j], st);
    }
    nidle = 0;
    p = waitpid(-1, &st, WNOHANG);
    if (p != -1 || errno != ECHILD) {
        describe_children();
        bench_fail("children left over (waitpid(-1, WNOHANG) = %d)", (int)p);
    }
    if (shm_path[0]) {
        unlink(shm_path);
        shm_path[0] = 0;
    }
    if (w5_fifo_fd >= 0) {
        close(w5_fifo_fd);
        w5_fifo_fd = -1;
    }
    if (w5_fifo[0]) {
        unlink(w5_fifo);
        w5_fifo[0] = 0;
    }

    secs = (double)(t_end - t0) / 1e9;
    printf("RESULT mech=%s kind=%s n=%ld c=%ld k=%ld ballast_mib=%ld%s"
           " sleep_us=%ld nofile=%ld elapsed_s=%.6f rate=%.1f",
           bench_opt.mech, kind_name(bench_opt.kind), bench_opt.n, bench_opt.c,
           bench_opt.k, bench_opt.ballast_mib, bench_opt.huge ? " huge=1" : "",
           bench_opt.child_sleep_us, bench_opt.nofile, secs,
           (double)bench_opt.n / secs);
    if (nlat) {
        qsort(lat_us, (size_t)nlat, sizeof *lat_us, cmp_double);
        printf(" lat_p50_us=%.1f lat_p99_us=%.1f lat_max_us=%.1f", pct(0.50),
               pct(0.99), lat_us[nlat - 1]);
    }
    if (bench_opt.w5)
        printf(" %s drain_s=%.6f", w5_text, (double)(t_end - t_release) / 1e9);
    printf("%s\n", notes);
    fflush(stdout);
    return 0;
}
