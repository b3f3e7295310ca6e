/*
 * harness.h - isolation and assertion helpers for the xlchild CUnit tests.
 *
 * Every test body runs in its own forked process (its own process group),
 * watched by the CUnit process: a hang is killed after the test's timeout,
 * a failed XLT_ASSERT prints file:line and the condition to stderr and to a
 * report pipe and _exit(1)s the whole test process (from any thread), and
 * the CUnit process turns that into a CUnit failure carrying the message.
 *
 * Inside a test body only XLT_* assertions may be used (CUnit's registry
 * lives in the parent).
 */
#ifndef XLT_HARNESS_H
#define XLT_HARNESS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <xlchild.h>

/* ---------------------------------------------------------------- cases */

typedef struct {
    const char *name;
    void (*fn)(void);
} xlt_case;

/* Declares a CUnit test function `name` whose body runs isolated with a
 * watchdog of timeout_s seconds; the body follows the macro. */
#define XLT_TEST(name, timeout_s)                        \
    static void name##_body(void);                       \
    static void name(void)                               \
    {                                                    \
        xlt_run_isolated(#name, name##_body, timeout_s); \
    }                                                    \
    static void name##_body(void)

#define XLT_CASE(name) \
    {                  \
#name, name    \
    }

/* Forks; the child (own process group, fds >= 3 closed, empty signal mask)
 * runs fn and exits 0; the parent waits at most timeout_s seconds, then
 * SIGKILLs the group, and records a CUnit failure unless the child
 * exited 0. */
void xlt_run_isolated(const char *name, void (*fn)(void), int timeout_s);

/* Registers one suite with the cases and runs it; returns the exit status
 * for main (0 only when every test passed). */
int xlt_main(const char *suite, const xlt_case *cases, size_t ncases);

/* ---------------------------------------------------------- assertions */

void xlt_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

#define XLT_FAIL(...) xlt_fail(__FILE__, __LINE__, __VA_ARGS__)

#define XLT_ASSERT(cond)                                                 \
    do {                                                                 \
        if (!(cond))                                                     \
            xlt_fail(__FILE__, __LINE__, "assertion failed: %s", #cond); \
    } while (0)

#define XLT_ASSERT_MSG(cond, ...)                      \
    do {                                               \
        if (!(cond))                                   \
            xlt_fail(__FILE__, __LINE__, __VA_ARGS__); \
    } while (0)

#define XLT_ASSERT_EQ(a, b)                                                   \
    do {                                                                      \
        long long xlt_a_ = (long long)(a), xlt_b_ = (long long)(b);           \
        if (xlt_a_ != xlt_b_)                                                 \
            xlt_fail(__FILE__, __LINE__, "%s == %s failed: %lld != %lld", #a, \
                     #b, xlt_a_, xlt_b_);                                     \
    } while (0)

#define XLT_ASSERT_STREQ(a, b)                                                \
    do {                                                                      \
        const char *xlt_s_ = (a), *xlt_t_ = (b);                              \
        if (!xlt_s_ || !xlt_t_ || strcmp(xlt_s_, xlt_t_) != 0)                \
            xlt_fail(__FILE__, __LINE__, "%s == %s failed: \"%s\" != \"%s\"", \
                     #a, #b, xlt_s_ ? xlt_s_ : "(null)",                      \
                     xlt_t_ ? xlt_t_ : "(null)");                             \
    } while (0)

/* Asserts a libxl rc, naming both codes with libxl_strerror. */
#define XLT_ASSERT_RC(rc, want)                                             \
    do {                                                                    \
        int xlt_r_ = (rc), xlt_w_ = (want);                                 \
        if (xlt_r_ != xlt_w_)                                               \
            xlt_fail(__FILE__, __LINE__, "%s gave %d (%s), wanted %s = %d", \
                     #rc, xlt_r_, libxl_strerror(xlt_r_), #want, xlt_w_);   \
    } while (0)

/* Exit status of a wait status, failing unless it is a normal exit. */
#define XLT_ASSERT_EXITED(status, code)                                   \
    do {                                                                  \
        int xlt_st_ = (status);                                           \
        if (!WIFEXITED(xlt_st_) || WEXITSTATUS(xlt_st_) != (code))        \
            xlt_fail(__FILE__, __LINE__,                                  \
                     "%s: wanted exit %d, got wait status 0x%x", #status, \
                     (int)(code), xlt_st_);                               \
    } while (0)

#define XLT_ASSERT_KILLED(status, sig)                                      \
    do {                                                                    \
        int xlt_st_ = (status);                                             \
        if (!WIFSIGNALED(xlt_st_) || WTERMSIG(xlt_st_) != (sig))            \
            xlt_fail(__FILE__, __LINE__,                                    \
                     "%s: wanted death by signal %d, got wait status 0x%x", \
                     #status, (int)(sig), xlt_st_);                         \
    } while (0)

/* ------------------------------------------------------------- helpers */

/*
 * 1 in an ASan or TSan build.  The sanitizer runtimes of this toolchain
 * (GCC 12's libsanitizer) are not fork-safe: ASan's allocator takes no
 * lock around fork() (it got pthread_atfork handlers only in LLVM 18), so
 * a child of a fork taken while another thread was inside malloc can
 * deadlock in its first malloc (seen: test_fork.c's F3 children hung in
 * SizeClassAllocator64::GetFromAllocator), and TSan switches itself off
 * in such a child and may deadlock the same way.  Under a sanitizer, a
 * child of a fork taken while the library is busy therefore does not use
 * the library (it only exits); those checks run in the plain and
 * valgrind builds.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define XLT_UNDER_SANITIZER 1
#else
#define XLT_UNDER_SANITIZER 0
#endif

int64_t xlt_now_ms(void); /* CLOCK_MONOTONIC */

/* True (after saying why on stderr) when the tests run under valgrind
 * (scripts/valgrind-test.sh sets XLT_UNDER_VALGRIND), for the few cases a
 * valgrind limitation makes meaningless there; every other stage runs
 * them in full. */
int xlt_skip_under_valgrind(const char *why);
void xlt_sleep_ms(int ms);

/* pipe2(O_CLOEXEC), asserted. */
void xlt_pipe(int p[2]);
/* Reads until EOF (or size-1 bytes); NUL-terminates; returns the length. */
size_t xlt_read_all(int fd, char *buf, size_t size);
/* Reads one line (without the '\n') from fd, byte by byte; asserted. */
void xlt_read_line(int fd, char *buf, size_t size);

/* Ends a fork child with exit status code by exec'ing `sh -c 'exit code'`
 * rather than by _exit(): under valgrind a forked copy that exits runs a
 * leak check of its own, which finds lost whatever the parent's other
 * threads held and turns the status into 99; an exec leaves no copy to
 * check.  Async-signal-safe: no stdio, no malloc. */
void xlt_child_exit(int code) __attribute__((noreturn));

/* How many times thread tid of this process went to sleep (its voluntary
 * context switches, from /proc). */
long xlt_voluntary_switches(pid_t tid);

/* A thread that waits in libxl_event_wait on ctx for the event for_user ==
 * id (xlt_wait_for); xlt_sleeper_start returns once its tid is known,
 * after settle_ms more (time to be asleep).  Joined by xlt_sleeper_join,
 * after the test has made that event. */
typedef struct {
    libxl_ctx *ctx;
    uint64_t id;
    pid_t tid; /* atomic */
    pthread_t thread;
} xlt_sleeper;
void xlt_sleeper_start(xlt_sleeper *s, libxl_ctx *ctx, uint64_t id,
                       int settle_ms);
void xlt_sleeper_join(xlt_sleeper *s);

/* Processes whose parent is this process: returns how many, and stores
 * how many of them are zombies. */
int xlt_count_children(int *zombies_out);
/* The same, storing the first max of their pids in out. */
int xlt_list_children(pid_t *out, int max, int *zombies_out);
/* Threads of this process. */
int xlt_count_tasks(void);
/* State letter of pid from /proc/<pid>/stat ('R', 'S', 'Z'...), 0 if it
 * cannot be read (the pid is gone). */
char xlt_proc_state(pid_t pid);
/* Polls until this process has no children at all (zombie or not);
 * fails the test after timeout_ms. */
void xlt_wait_no_children(int timeout_ms);

/* ctx with the given logger (NULL: default), asserted. */
libxl_ctx *xlt_ctx_new(libxl_logger *lg);

/* Thread-local depth of "this thread is inside a libxl call made by the
 * test": every callback asserts it is non-zero, which proves it runs on an
 * application thread inside a libxl call and never on the reaper. */
extern __thread int xlt_in_libxl;

int xlt_event_wait(libxl_ctx *ctx, libxl_event **ev_r, uint64_t mask,
                   libxl_event_predicate *pred, void *user);
int xlt_event_check(libxl_ctx *ctx, libxl_event **ev_r, uint64_t mask,
                    libxl_event_predicate *pred, void *user);
int xlt_childproc_run(libxl_ctx *ctx, const libxl_childproc_args *args,
                      libxl_childproc_result *res,
                      const libxl_asyncop_how *how);
pid_t xlt_childproc_fork(libxl_ctx *ctx, libxl_childproc_death_cb *death,
                         void *user);

/* Zero-initialised args running argv[0] (R0). */
libxl_childproc_args xlt_args(char **argv);
/* Runs `/bin/sh -c script` synchronously; returns the rc. */
int xlt_run_sh(libxl_ctx *ctx, const char *script, libxl_childproc_result *r);
/* Starts `sh -c 'exit code'` asynchronously; completion as event id. */
void xlt_start_exit(libxl_ctx *ctx, int code, uint64_t id,
                    libxl_childproc_result *r);
/* Starts a library child that runs until *gate_w is closed (while it
 * lives, the ctx "has children"); completion as event id. */
void xlt_start_gated(libxl_ctx *ctx, uint64_t id, int *gate_w,
                     libxl_childproc_result *r);
/* Lets it go (closes gate_w) and asserts that it completed with exit 0. */
void xlt_finish_gated(libxl_ctx *ctx, uint64_t id, int gate_w,
                      const libxl_childproc_result *r);
/* Starts argv asynchronously, its completion queued as event `id`. */
void xlt_start_event_run(libxl_ctx *ctx, char **argv, uint64_t id,
                         libxl_childproc_result *res);

/* Waits for the OPERATION_COMPLETE event whose for_user is `id`; returns
 * its rc. */
int xlt_wait_for(libxl_ctx *ctx, uint64_t id);
/* Asserts that ctx has no event queued (libxl_event_check gives
 * ERROR_NOT_READY). */
void xlt_expect_no_event(libxl_ctx *ctx);

/* Calls libxl_event_check (with a predicate that matches nothing, so no
 * event is taken, and asserting none matched) every 2 ms until
 * *counter >= target; fails after timeout_ms.  This is how tests give the
 * library a thread inside a libxl call for death callbacks, event_occurs
 * and reaped_callback. */
void xlt_pump_until(libxl_ctx *ctx, const int *counter, int target,
                    int timeout_ms);

/* The same for a fixed time: lets a library that would make a callback
 * twice show it. */
void xlt_pump_for(libxl_ctx *ctx, int ms);

/* Runs argv[0] (a path) synchronously with stdout captured into out
 * (NUL-terminated); returns the rc and fills *res. */
int xlt_run_capture(libxl_ctx *ctx, char *const argv[], char *out, size_t outsz,
                    libxl_childproc_result *res);

/* A logger that records every message. */
typedef struct {
    libxl_logger lg; /* first, so &x->lg can be cast back */
    pthread_mutex_t mu;
    int count[LIBXL_LOG_CRITICAL + 1];
    int destroyed;
    size_t len;
    char text[1 << 16]; /* "<level> <context>: <message>\n" lines */
} xlt_logger;

xlt_logger *xlt_logger_new(void);
/* Number of recorded messages with exactly this level (0: any level)
 * whose text contains substr (NULL: any). */
int xlt_logger_count(xlt_logger *l, int level, const char *substr);
/* Number of recorded messages at WARN, ERROR or CRITICAL. */
int xlt_logger_warnings(xlt_logger *l);

#endif
