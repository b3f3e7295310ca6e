/*
 * xlchild-run.h - the parts of xlchild-run and what they share.
 *
 * xlchild-run is one thread around one poll(2): the job list it reads, the
 * pipes of the running jobs, a self-pipe for signals and the libxl ctx's
 * own fd (libxl_osevent_beforepoll/afterpoll) all wait in the same poll, so
 * no pipe is ever left undrained while the tool waits for a child.  It uses
 * only the public API of xlchild (<xlchild.h>).
 *
 *   xlchild-run.c   set-up, tear-down, the exit status
 *   xr-loop.c       the poll loop
 *   xr-queue.c      the jobs still to start: the job list read ahead
 *   xr-jobs.c       one job's life: start, completion, finish, report
 *   xr-signals.c    the signal self-pipe and reaping the children
 *   xr-util.c       time arithmetic, allocation
 *   xr-opts.c       the command line
 *   xr-input.c      reading the job list: framing, limits, clear errors
 *   xr-output.c     buffered sinks, per-job line assembly, spools for -k
 *   xr-report.c     result lines, JSON, the summary and the progress line
 */
#ifndef XLCHILD_RUN_H
#define XLCHILD_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>

#include <xlchild.h>

#define PROG "xlchild-run"

/* The limits below can be set at build time only so that the fuzz targets
 * (tests/fuzz) can reach them with small inputs; xlchild-run itself always
 * uses the values here. */

/* Linux's MAX_ARG_STRLEN: the longest single argv string exec accepts
 * (32 pages), terminating NUL included.  A line goes to sh -c as one
 * argument, so a longer one could never run. */
#ifndef XR_MAX_LINE
#define XR_MAX_LINE (32 * 4096 - 1)
#endif

/* Output lines longer than this are cut (with a newline) rather than
 * buffered without bound. */
#ifndef XR_MAX_OUTPUT_LINE
#define XR_MAX_OUTPUT_LINE (1024 * 1024)
#endif

/* ------------------------------------------------------------------ */
/* Options.                                                            */

enum halt_mode { HALT_NEVER, HALT_SOON, HALT_NOW };

struct options {
    const char *input; /* NULL or "-": standard input */
    char delim;        /* '\n', or '\0' with -0 */
    bool no_shell, tag, keep_order, json, quiet, no_progress, skip_empty;
    unsigned long jobs;
    int timeout_ms; /* 0: none */
    int kill_grace_ms;
    enum halt_mode halt;
    const char *results; /* directory, or NULL: pass output through */
    const char *log;     /* result lines there instead of stdout */
};

#define OPTS_RUN (-1)
/* OPTS_RUN, or the status to exit with at once (--help, a usage error). */
int opts_parse(int argc, char **argv, struct options *o);

/* ------------------------------------------------------------------ */
/* Output sinks: buffered writers onto our stdout, stderr or log file. */

struct sink {
    int fd;
    const char *name; /* for error messages */
    char *buf;
    size_t len, cap;
    int err; /* first write error (errno), then the sink drops everything */
    bool tty;
};

void sink_init(struct sink *s, int fd, const char *name);
void sink_write(struct sink *s, const void *p, size_t n);
void sink_puts(struct sink *s, const char *str);
void sink_printf(struct sink *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sink_flush(struct sink *s);
void sink_flush_all(void);
void sink_destroy(struct sink *s);
/* A message for the user, "xlchild-run: " in front: through the stderr
 * sink once msg_init gave it one (so it keeps its place among the output
 * and the progress line), straight to stderr before. */
void msg_init(struct sink *err);
void xr_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Called before anything is written to a sink (the progress line uses it
 * to erase itself from the terminal first). */
extern void (*sink_before_write)(struct sink *s);

/* A job's output, held back (--keep-order) until its turn: memory first,
 * an unlinked temporary file once it grows large. */
struct spool {
    char *buf;
    size_t len, cap;
    int fd; /* -1 until spilled */
};

void spool_init(struct spool *sp);
int spool_append(struct spool *sp, const char *p, size_t n);
int spool_drain(struct spool *sp, struct sink *to);
void spool_free(struct spool *sp);

/* One output pipe of a job, cut into whole lines. */
struct stream {
    int fd;             /* read end; -1 once closed */
    struct sink *sink;  /* where lines go while the job streams */
    struct spool spool; /* where they go while it is held back */
    bool held;          /* --keep-order and not the oldest job */
    const char *tag;    /* prefix of every line, or NULL */
    size_t taglen;
    char *part; /* the unterminated tail of the last read */
    size_t plen, pcap;
};

void stream_init(struct stream *st, int fd, struct sink *sink, const char *tag,
                 size_t taglen, bool held);
/* One read(2): 1 when data was taken, 0 at EOF (the stream is then
 * closed, a last partial line completed with a newline). */
int stream_read(struct stream *st);
/* Takes what the pipe holds now, without waiting, up to its capacity:
 * everything a reaped job wrote, but not an endless stream from something
 * it left running. */
void stream_drain(struct stream *st);
void stream_close(struct stream *st);
/* Sends what was held back to the sink; the stream streams from now on. */
int stream_release(struct stream *st);
void stream_free(struct stream *st);

/* ------------------------------------------------------------------ */
/* The job list.                                                       */

struct input {
    int fd;
    const char *name; /* "(standard input)" or the path */
    char delim;       /* '\n', or '\0' with -0 */
    bool eof, regular;
    char *buf;
    size_t start, len; /* unparsed bytes are buf[start, start+len) */
    unsigned long lineno;
};

int input_open(struct input *in, const char *path, char delim);
/* One read(2): 1 data, 0 EOF, -1 read error (message printed). */
int input_fill(struct input *in);
/* 1: *line (NUL-terminated, valid until the next call) and *lineno set;
 * 0: a whole line is not there yet, fill first; -1: no more lines;
 * -2: a bad line (message printed). */
int input_next(struct input *in, char **line, unsigned long *lineno);
void input_close(struct input *in);
/* A line of blanks only (or empty): skipped or rejected, never run. */
bool line_is_blank(const char *s);
/* --no-shell: *store a copy of line, *argv its words (split at blanks),
 * NULL-terminated; both to be freed, also on failure (-1: no memory). */
int split_words(const char *line, char ***argv, char **store);

/* ------------------------------------------------------------------ */
/* Jobs and their reports.                                             */

struct job {
    unsigned long seq;    /* 1, 2, ... in input order */
    unsigned long lineno; /* where it was in the input */
    char *cmd;
    char **argv; /* --no-shell: the words of argv_store */
    char *argv_store;
    libxl_asyncop_how how;
    libxl_childproc_result res;
    int rc;        /* the completion's rc */
    int start_err; /* libxl_childproc_run's own failure, or 0 */
    struct timespec t_start, t_end;
    bool completed;               /* the library has reaped it */
    bool finished;                /* completed and its output fully taken */
    struct timespec linger_until; /* stop waiting for EOF on its pipes */
    struct stream out, err;
    char tag[32];
    size_t taglen;
    size_t slot;      /* index in the running array */
    struct job *next; /* pending queue, then the --keep-order queue */
};

enum outcome { OUT_OK, OUT_FAILED, OUT_ABORTED };

enum outcome job_outcome(const struct job *j);
void report_text(struct sink *s, const struct job *j);
void report_json(struct sink *s, const struct job *j);
void json_string(struct sink *s, const char *str);

struct counts {
    unsigned long started, ok, failed, timed_out, aborted, not_started;
    unsigned long total; /* jobs read so far */
    bool total_known;    /* the input is at its end */
};

void report_summary(struct sink *s, const struct counts *c, double wall_s,
                    int signo);

void progress_init(bool enabled, struct sink *err);
/* Redraws at most every 100 ms unless forced; returns the ms until the
 * next redraw is due, or -1 when it is off. */
int progress_update(const struct counts *c, double elapsed_s, bool force);
void progress_clear(void);

double ts_diff(const struct timespec *a, const struct timespec *b);
const char *signal_name(int sig);

/* ------------------------------------------------------------------ */
/* The runner: everything one run of the tool holds.                   */

/* After its completion, a job's pipes are waited on for EOF this long
 * (something it left running in the background may hold them open). */
#define LINGER_MS 250
/* Jobs read ahead of the ones running: enough to start the next ones at
 * once, few enough that an endless producer costs no memory. */
#define READ_AHEAD 256

struct runner {
    struct options o;
    libxl_ctx *ctx;
    struct input in;
    bool input_done;   /* EOF, or a bad line: nothing more to read */
    bool input_error;  /* exit status 2 */
    bool stdin_closed; /* we found fd 0 closed at start-up */
    unsigned long next_seq;
    struct job *pend_head, *pend_tail; /* read, not started */
    size_t npend;
    struct job **running;
    size_t nrunning;
    struct job *ord_head, *ord_tail; /* --keep-order: not yet reported */
    int devnull;
    int sig_r;     /* self-pipe, read end */
    int signo;     /* the first fatal signal received */
    bool stopping; /* start nothing more */
    bool output_error;
    struct counts c;
    struct timespec t0;
    struct sink out, err, logf;
    struct sink *res; /* where results go; NULL with --quiet */
    struct pollfd *pfd;
    struct stream **pst; /* the stream polled in pfd[i], or NULL */
    size_t pcap;
};

/* xr-loop.c: runs until every job is over or the run is stopped. */
void run(struct runner *r);
/* Says the first write error of a sink, and stops the run. */
void check_output(struct runner *r);

/* xr-queue.c */
bool want_input(const struct runner *r);
/* Reads more of the job list when it cannot block (readable: poll said
 * so), and queues its lines. */
void input_pump(struct runner *r, bool readable);
/* A regular file: checked whole, counted, rewound. */
int input_prescan(struct runner *r);
/* Fills the free slots from the queue. */
void start_jobs(struct runner *r);

/* xr-jobs.c */
void job_start(struct runner *r, struct job *j);
void job_free(struct job *j);
/* Starts nothing more; kill_running: abort the running jobs too. */
void stop(struct runner *r, bool kill_running);
/* Finishes the jobs that are over, and says how many; *timeout is set to
 * the ms until the next linger deadline, or -1. */
size_t finish_ready(struct runner *r, int *timeout);

/* xr-signals.c */
int signals_init(struct runner *r);
/* Makes the tool the reaper (libxl_sigchld_owner_mainloop). */
int reaping_init(struct runner *r);
void reap_children(struct runner *r);
/* Acts on what the self-pipe holds: reaps, or stops on a fatal signal. */
void got_signal(struct runner *r);
/* The rusage wait4 gave for pid, taken out of the stash. */
bool stash_take(pid_t pid, struct rusage *ru);
void stash_free(void);

/* xr-util.c */
void now_mono(struct timespec *ts);
void ts_add_ms(struct timespec *ts, long ms);
/* Milliseconds from now until ts, rounded up, at least 0. */
int ms_until(const struct timespec *ts, const struct timespec *now);
/* The earlier of two poll timeouts (-1: none). */
int min_timeout(int a, int b);
void __attribute__((noreturn)) out_of_memory(void);
void *xcalloc(size_t n, size_t size);

#endif /* XLCHILD_RUN_H */
