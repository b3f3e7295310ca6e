/*
 * xlchild-run.h - the parts of xlchild-run and what they share.
 *
 * xlchild-run is one thread around one poll(2): the job list it reads, the
 * pipes of the running jobs, a self-pipe for signals and the libxl ctx's
 * own fd (libxl_osevent_beforepoll/afterpoll) all wait in the same poll, so
 * no pipe is ever left undrained while the tool waits for a child.  It uses
 * only the public API of xlchild (<xlchild.h>).
 *
 *   xlchild-run.c   set-up (sources, templates, slots), tear-down, the exit
 *                   status
 *   xr-loop.c       the poll loop
 *   xr-queue.c      the jobs still to start: sources streamed or combined,
 *                   read ahead; --delay, --load, --memfree
 *   xr-jobs.c       one job's life: command line, start, completion,
 *                   retries, finish, report, --halt
 *   xr-args.c       arguments into command lines: replacement strings,
 *                   quoting, --colsep
 *   xr-joblog.c     --joblog, --resume, --resume-failed
 *   xr-signals.c    the signal self-pipe
 *   xr-reap.c       who reaps the children: the library (selective mode)
 *   xr-util.c       time arithmetic, allocation, load and free memory
 *   xr-opts.c       the command line
 *   xr-input.c      reading the input: framing, limits, clear errors
 *   xr-output.c     buffered sinks, per-job line assembly, spools for -k
 *                   and --group, byte for byte
 *   xr-report.c     result lines, JSON, CSV, the summary and the progress
 *                   line
 */
#ifndef XLCHILD_RUN_H
#define XLCHILD_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <poll.h>
#include <regex.h>
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

/* ------------------------------------------------------------------ */
/* Options.                                                            */

enum halt_when { HALT_NEVER, HALT_SOON, HALT_NOW };
enum halt_what { HALT_FAIL, HALT_SUCCESS, HALT_DONE };

struct halt {
    enum halt_when when;
    enum halt_what what;
    double n;     /* jobs, or a percentage */
    bool percent; /* of all the jobs */
};

enum output_mode { OUTPUT_LINE, OUTPUT_GROUP, OUTPUT_UNGROUP };
enum blank_mode { BLANK_SKIP, BLANK_ERROR, BLANK_KEEP };
enum source_kind { SRC_ARGS, SRC_FILE };

/* An input source: the words after one :::, or one file (:::: or -a). */
struct source {
    enum source_kind kind;
    char **words; /* SRC_ARGS: the arguments */
    size_t nwords;
    const char *path; /* SRC_FILE: the file ("-": standard input) */
    bool tied;        /* :::+ or ::::+: side by side with the one before */
};

struct options {
    char **command; /* the operands before the first ::: or :::: */
    size_t ncommand;
    struct source *sources; /* in command-line order */
    size_t nsources;
    char delim; /* '\n', or '\0' with -0 */
    bool no_shell, link, keep_order, json, csv, quiet, no_progress;
    bool tag, verbose, dry_run, progress, bar, exit_count;
    bool resume, resume_failed;
    enum blank_mode blank;
    enum output_mode output;
    const char *replace;   /* -I */
    const char *colsep;    /* --colsep, a regular expression */
    const char *tagstring; /* --tagstring */
    unsigned long jobs;    /* 0: as many as possible */
    unsigned long retries; /* attempts in all; 0 and 1: one */
    int timeout_ms;        /* 0: none */
    int kill_grace_ms;
    int delay_ms;
    double load_max;            /* 0: none */
    unsigned long long memfree; /* bytes; 0: none */
    struct halt halt;
    const char *results; /* directory, or NULL: pass output through */
    const char *log;     /* result lines there instead of stdout */
    const char *joblog;
};

#define OPTS_RUN (-1)
/* OPTS_RUN, or the status to exit with at once (--help, a usage error). */
int opts_parse(int argc, char **argv, struct options *o);
void opts_free(struct options *o);

/* ------------------------------------------------------------------ */
/* Arguments into commands (xr-args.c).                                */

/* A growable NUL-terminated string. */
struct strbuf {
    char *p;
    size_t len, cap;
};

/* 0, or -1 when memory ran out (then b keeps what it had). */
int sb_add(struct strbuf *b, const char *p, size_t n);
int sb_puts(struct strbuf *b, const char *s);
void sb_free(struct strbuf *b);
/* s[0, n) quoted for sh as GNU parallel quotes it. */
int shell_quote(struct strbuf *b, const char *s, size_t n);

enum piece_kind { P_LIT, P_ARG, P_SEQ, P_SLOT };
enum arg_op { OP_NONE, OP_NOEXT, OP_BASE, OP_DIR, OP_BASE_NOEXT };

struct piece {
    enum piece_kind kind;
    enum arg_op op;  /* P_ARG */
    long col;        /* P_ARG: 0 all, N the Nth, -N the Nth from the end */
    size_t off, len; /* P_LIT: text[off, off+len) */
};

struct tmpl {
    char *text;
    struct piece *p;
    size_t n;
    bool has_repl; /* any replacement string: the arguments are not
                      appended */
};

/* replace: -I's string, or NULL for GNU parallel's set.  -1: no memory. */
int tmpl_parse(struct tmpl *t, const char *text, const char *replace);
void tmpl_free(struct tmpl *t);
/* Appends the expansion to b; quote: every argument quoted for sh. */
int tmpl_expand(const struct tmpl *t, char *const *args, size_t nargs,
                unsigned long seq, unsigned long slot, bool quote,
                struct strbuf *b);
/* Appends " ARG" for each argument. */
int args_append(char *const *args, size_t nargs, bool quote, struct strbuf *b);
/* --colsep: GNU parallel's \\t, \\n and \\s understood; regcomp's code. */
int colsep_compile(regex_t *re, const char *pattern);
/* line split at re: the columns, each NUL-terminated, one after the other
 * in store; -1: no memory. */
int colsep_split(const regex_t *re, const char *line, struct strbuf *store,
                 size_t *ncols);

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
/* Hands everything spooled to put, in order, and empties the spool. */
int spool_drain_to(struct spool *sp,
                   void (*put)(void *arg, const char *p, size_t n), void *arg);
void spool_free(struct spool *sp);

/* One output pipe of a job, cut into whole lines. */
struct stream {
    int fd;             /* read end; -1 once closed */
    struct sink *sink;  /* where lines go while the job streams */
    struct spool spool; /* where they go while it is held back */
    bool held;          /* --keep-order and not the oldest job, or --group */
    bool raw;           /* -u: bytes as they come, no lines, no tags */
    const char *tag;    /* prefix of every line, or NULL */
    size_t taglen;
    struct spool part;        /* the unterminated tail of the last read */
    unsigned long long bytes; /* read from the pipe so far */
};

void stream_init(struct stream *st, int fd, struct sink *sink, const char *tag,
                 size_t taglen, bool held);
/* One read(2): 1 when data was taken, 0 at EOF (the stream is then
 * closed, a last partial line sent as it is). */
int stream_read(struct stream *st);
/* Takes what the pipe holds now, without waiting, up to its capacity:
 * everything a reaped job wrote, but not an endless stream from something
 * it left running. */
void stream_drain(struct stream *st);
void stream_close(struct stream *st);
/* Bytes of the tool's own (-v's command) among the job's output. */
void stream_put(struct stream *st, const char *p, size_t n);
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
    char **args;          /* its arguments (input values, or columns) */
    size_t nargs;
    char *argstore;
    char *cmd;   /* the command line, as run by sh -c and reported */
    char **argv; /* --no-shell: the words of argv_store */
    char *argv_store;
    char *tag; /* --tag, --tagstring: the prefix of each line, or NULL */
    unsigned long slot;    /* {%}: 1 to -j, while it runs */
    unsigned long attempt; /* 1, then more with --retries */
    libxl_asyncop_how how;
    libxl_childproc_result res;
    int rc;        /* the completion's rc */
    int start_err; /* libxl_childproc_run's own failure, or 0 */
    struct timespec t_start, t_end;
    struct timespec t_real;       /* when it started, by the wall clock */
    bool completed;               /* the library has reaped it */
    bool finished;                /* completed and its output fully taken */
    struct timespec linger_until; /* stop waiting for EOF on its pipes */
    struct stream out, err;
    size_t index;         /* in the running array */
    struct job *next;     /* the pending queue (again with --retries) */
    struct job *ord_next; /* the --keep-order queue, from its start on */
};

enum outcome { OUT_OK, OUT_FAILED, OUT_ABORTED };

enum outcome job_outcome(const struct job *j);
void report_text(struct sink *s, const struct job *j);
void report_json(struct sink *s, const struct job *j);
/* One CSV record (RFC 4180); the header goes first, once. */
void report_csv(struct sink *s, const struct job *j);
void json_string(struct sink *s, const char *str);

struct counts {
    unsigned long started, ok, failed, timed_out, aborted, not_started;
    unsigned long total; /* jobs read so far */
    bool total_known;    /* the input is at its end */
};

void report_summary(struct sink *s, const struct counts *c, double wall_s,
                    int signo);

/* enabled: on standard error (even when it is no terminal); bar: with a
 * bar of the share done. */
void progress_init(bool enabled, bool bar, struct sink *err);
/* Redraws at most every 100 ms unless forced; returns the ms until the
 * next redraw is due, or -1 when it is off. */
int progress_update(const struct counts *c, double elapsed_s, bool force);
void progress_clear(void);
void progress_finish(const struct counts *c, double elapsed_s);

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

/* A source combined in memory: its values. */
struct memsrc {
    char **vals;
    size_t n;
    char **own;          /* vals, when read from a file */
    struct strbuf store; /* their text */
    size_t group;        /* see struct runner's grpidx */
};

struct runner {
    struct options o;
    libxl_ctx *ctx;
    bool streamed; /* one source, read as it comes: in */
    struct input in;
    struct memsrc *mem; /* otherwise: every source, whole */
    size_t nmem;
    unsigned long *grpidx; /* the current combination, by group */
    unsigned long *grplen; /* the groups' lengths */
    size_t ngrp;           /* sources tied (:::+, --link) are one group */
    char **memrow;         /* the current combination's values */
    unsigned long memnext, memtotal;
    bool lines_are_commands; /* no COMMAND: each value is one */
    struct tmpl cmd_t;       /* COMMAND's words, joined by spaces */
    struct tmpl *word_t;     /* --no-shell: each word of COMMAND */
    struct tmpl tag_t;       /* --tagstring */
    bool has_colsep;
    regex_t colsep;
    unsigned long *free_slots; /* {%}: the slot numbers not in use */
    size_t nfree_slots;
    struct timespec next_start; /* --delay */
    struct joblog *jl;          /* --joblog */
    unsigned long failed_exit;  /* the exit status of a halting failure */
    bool halted_by_failure;     /* --halt ...,fail reached */
    bool halted_ok;             /* --halt ...,success or done reached */
    bool input_done;            /* EOF, or a bad line: nothing more to read */
    bool input_error;           /* exit status 2 */
    bool stdin_closed;          /* we found fd 0 closed at start-up */
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
/* Sources combined in memory: read, counted; then rows into the queue. */
int mem_init(struct runner *r);
void mem_pump(struct runner *r);
void mem_free(struct runner *r);
/* A failed job to run again, first. */
/* Reads more of the job list when it cannot block (readable: poll said
 * so), and queues its lines. */
void input_pump(struct runner *r, bool readable);
/* A regular file: checked whole, counted, rewound. */
int input_prescan(struct runner *r);
/* Fills the free slots from the queue; the ms until --delay, --load or
 * --memfree let another start, or -1. */
int start_jobs(struct runner *r);

/* xr-jobs.c */
void job_start(struct runner *r, struct job *j);
void job_free(struct job *j);
/* Starts nothing more; kill_running: abort the running jobs too. */
void stop(struct runner *r, bool kill_running);
/* Finishes the jobs that are over, and says how many; *timeout is set to
 * the ms until the next linger deadline, or -1. */
size_t finish_ready(struct runner *r, int *timeout);
/* Once the run stops: the jobs waiting for another attempt are over, with
 * the result of their last one. */
void drop_retries(struct runner *r);

/* xr-signals.c */
int signals_init(struct runner *r);
/* Acts on what the self-pipe holds: stops on a fatal signal. */
void got_signal(struct runner *r);

/* xr-reap.c */
/* Before libxl_ctx_alloc: SIGCHLD not ignored (the statuses are kept). */
int reaping_prepare(void);
/* The library reaps the tool's children (selective mode). */
void reaping_init(struct runner *r);

/* xr-joblog.c */
/* Opens --joblog (reading it first for --resume, --resume-failed). */
int joblog_open(struct runner *r);
/* True when --resume says job seq is done already. */
bool joblog_skip(struct runner *r, unsigned long seq);
void joblog_write(struct runner *r, const struct job *j);
/* 0, or -1 after a write error (message printed). */
int joblog_close(struct runner *r);

/* xr-util.c */
/* --load and --memfree: may a job start now?  (Read at most every
 * 250 ms.) */
bool resources_ok(const struct options *o, const struct timespec *now);
void now_mono(struct timespec *ts);
void ts_add_ms(struct timespec *ts, long ms);
/* Milliseconds from now until ts, rounded up, at least 0. */
int ms_until(const struct timespec *ts, const struct timespec *now);
/* The earlier of two poll timeouts (-1: none). */
int min_timeout(int a, int b);
void __attribute__((noreturn)) out_of_memory(void);
void *xcalloc(size_t n, size_t size);

#endif /* XLCHILD_RUN_H */
