/*
 * xentoollog.h - xlchild's stand-in for Xen's <xentoollog.h>.
 *
 * Installed in $(includedir)/xlchild-libxl with libxl.h and libxl_event.h;
 * `pkg-config --cflags xlchild-libxl` puts that directory on the include
 * path, so a program written for Xen's libxl finds these headers instead of
 * Xen's.  See xlchild-libxl(7).
 *
 * It declares Xen's logger interface (xentoollog_level, xentoollog_logger,
 * the stdio stream logger, xtl_log...) and implements the consumer side
 * here, as static functions, so that no libxentoollog is needed.  The one
 * difference from Xen: struct xentoollog_logger ends with a libxl_logger
 * that libxl_ctx_alloc fills in, the bridge through which xlchild's
 * messages reach the xentoollog logger.  A logger must therefore be built
 * by code compiled against this header (as every logger made with
 * XTL_NEW_LOGGER or xtl_createlogger_stdiostream in the program is), not
 * by a library compiled against Xen's.
 */
#ifndef XENTOOLLOG_H
#define XENTOOLLOG_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xlchild.h>

/* flockfile and localtime_r, unless the program asked for strict ISO C. */
#if defined(_POSIX_C_SOURCE) && _POSIX_C_SOURCE >= 199506L
#define LIBXL__XTL_POSIX 1
#else
#define LIBXL__XTL_POSIX 0
#endif

#if defined(__GNUC__)
#define LIBXL__XTL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define LIBXL__XTL_PRINTF(f, a)
#endif

/*---------- common declarations and types ----------*/

typedef enum xentoollog_level {
    XTL_NONE, /* sentinel, never used for logging */
    XTL_DEBUG,
    XTL_VERBOSE,
    XTL_DETAIL,
    XTL_PROGRESS,
    XTL_INFO,
    XTL_NOTICE,
    XTL_WARN,
    XTL_ERROR,
    XTL_CRITICAL,
    XTL_NUM_LEVELS
} xentoollog_level;

typedef struct xentoollog_logger xentoollog_logger;
struct xentoollog_logger {
    void (*vmessage)(struct xentoollog_logger *logger, xentoollog_level level,
                     int errnoval /* or -1 */,
                     const char *context /* may be NULL */,
                     const char *format /* no level, context or \n */,
                     va_list al) LIBXL__XTL_PRINTF(5, 0);
    void (*progress)(struct xentoollog_logger *logger, const char *context,
                     const char *doing_what, int percent, unsigned long done,
                     unsigned long total); /* may be NULL */
    void (*destroy)(struct xentoollog_logger *logger);
    /* xlchild only: set by libxl_ctx_alloc; the library logs through it. */
    libxl_logger libxl__bridge;
};

/*---------- facilities for consuming log messages ----------*/

#define XTL_STDIOSTREAM_SHOW_PID 001u
#define XTL_STDIOSTREAM_SHOW_DATE 002u
#define XTL_STDIOSTREAM_HIDE_PROGRESS 004u
#define XTL_STDIOSTREAM_PROGRESS_USE_CR 010u /* accepted; progress is */
#define XTL_STDIOSTREAM_PROGRESS_NO_CR 020u  /* always one line each  */

typedef struct xentoollog_logger_stdiostream xentoollog_logger_stdiostream;
struct xentoollog_logger_stdiostream { /* opaque in Xen: use the functions */
    xentoollog_logger vtable;
    FILE *f;
    xentoollog_level min_level;
    unsigned flags;
};

static inline const char *xtl_level_to_string(xentoollog_level level)
{
    static const char *const names[XTL_NUM_LEVELS] = {
        "none", "debug",  "verbose", "detail", "progress",
        "info", "notice", "warning", "error",  "critical",
    };

    if ((int)level < 0 || level >= XTL_NUM_LEVELS)
        return "unknown";
    return names[level];
}

static inline void xtl_logv(struct xentoollog_logger *logger,
                            xentoollog_level level, int errnoval,
                            const char *context, const char *format, va_list al)
    LIBXL__XTL_PRINTF(5, 0);
static inline void xtl_logv(struct xentoollog_logger *logger,
                            xentoollog_level level, int errnoval,
                            const char *context, const char *format, va_list al)
{
    int saved = errno;

    if (logger && logger->vmessage)
        logger->vmessage(logger, level, errnoval, context, format, al);
    errno = saved;
}

static inline void xtl_log(struct xentoollog_logger *logger,
                           xentoollog_level level, int errnoval,
                           const char *context, const char *format, ...)
    LIBXL__XTL_PRINTF(5, 6);
static inline void xtl_log(struct xentoollog_logger *logger,
                           xentoollog_level level, int errnoval,
                           const char *context, const char *format, ...)
{
    va_list al;

    va_start(al, format);
    xtl_logv(logger, level, errnoval, context, format, al);
    va_end(al);
}

static inline void xtl_progress(struct xentoollog_logger *logger,
                                const char *context, const char *doing_what,
                                unsigned long done, unsigned long total)
{
    int percent = 0;

    if (!logger || !logger->progress)
        return;
    if (total)
        percent = done >= total ? 100 : (int)((done * 100.0) / total);
    logger->progress(logger, context, doing_what, percent, done, total);
}

static inline void xtl_logger_destroy(struct xentoollog_logger *logger)
{
    if (logger && logger->destroy)
        logger->destroy(logger);
}

/*
 * XTL_NEW_LOGGER(NAME, buffer): buffer is a struct
 * xentoollog_logger_NAME whose first member is "xentoollog_logger vtable";
 * sets its vtable to NAME_vmessage, NAME_progress and NAME_destroy, and
 * returns a malloc'd copy (NULL, after logging, if malloc fails).
 */
#define XTL_NEW_LOGGER(LOGGER, buffer)                                    \
    ({                                                                    \
        xentoollog_logger_##LOGGER *new_consumer;                         \
                                                                          \
        (buffer).vtable.vmessage = LOGGER##_vmessage;                     \
        (buffer).vtable.progress = LOGGER##_progress;                     \
        (buffer).vtable.destroy = LOGGER##_destroy;                       \
        memset(&(buffer).vtable.libxl__bridge, 0,                         \
               sizeof(buffer).vtable.libxl__bridge);                      \
        new_consumer =                                                    \
            (xentoollog_logger_##LOGGER *)malloc(sizeof(*new_consumer));  \
        if (!new_consumer)                                                \
            xtl_log((xentoollog_logger *)&(buffer), XTL_CRITICAL, errno,  \
                    "xtl", "failed to allocate memory for a new logger"); \
        else                                                              \
            *new_consumer = (buffer);                                     \
        new_consumer;                                                     \
    })

/* The stdio stream logger: one line per message, written under the FILE's
 * lock so that lines from several threads never interleave:
 *   [DATE ][[PID] ]CONTEXT: LEVEL: MESSAGE[: strerror(errnoval)] */

static inline void libxl__xtl_stdio_vmessage(xentoollog_logger *logger,
                                             xentoollog_level level,
                                             int errnoval, const char *context,
                                             const char *format, va_list al)
    LIBXL__XTL_PRINTF(5, 0);
static inline void libxl__xtl_stdio_vmessage(xentoollog_logger *logger,
                                             xentoollog_level level,
                                             int errnoval, const char *context,
                                             const char *format, va_list al)
{
    xentoollog_logger_stdiostream *lg = (xentoollog_logger_stdiostream *)logger;
    FILE *f = lg->f;

    if (level < lg->min_level)
        return;
#if LIBXL__XTL_POSIX
    flockfile(f);
#endif
    if (lg->flags & XTL_STDIOSTREAM_SHOW_DATE) {
        char when[64];
        time_t now = time(NULL);
        struct tm tmbuf, *tm;

#if LIBXL__XTL_POSIX
        tm = localtime_r(&now, &tmbuf);
#else
        tm = localtime(&now);
        (void)tmbuf;
#endif
        if (tm && strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %Z", tm))
            fprintf(f, "%s ", when);
    }
    if (lg->flags & XTL_STDIOSTREAM_SHOW_PID)
        fprintf(f, "[%lu] ", (unsigned long)getpid());
    if (context)
        fprintf(f, "%s: ", context);
    fprintf(f, "%s: ", xtl_level_to_string(level));
    vfprintf(f, format, al);
    if (errnoval >= 0)
        fprintf(f, ": %s", strerror(errnoval));
    putc('\n', f);
    fflush(f);
#if LIBXL__XTL_POSIX
    funlockfile(f);
#endif
}

static inline void libxl__xtl_stdio_progress(xentoollog_logger *logger,
                                             const char *context,
                                             const char *doing_what,
                                             int percent, unsigned long done,
                                             unsigned long total)
{
    xentoollog_logger_stdiostream *lg = (xentoollog_logger_stdiostream *)logger;

    if (lg->flags & XTL_STDIOSTREAM_HIDE_PROGRESS)
        return;
    xtl_log(logger, XTL_PROGRESS, -1, context, "%s: %lu/%lu  %3d%%", doing_what,
            done, total, percent);
}

static inline void libxl__xtl_stdio_destroy(xentoollog_logger *logger)
{
    free(logger); /* the FILE is not closed */
}

static inline xentoollog_logger_stdiostream *
xtl_createlogger_stdiostream(FILE *f, xentoollog_level min_level,
                             unsigned flags)
{
    xentoollog_logger_stdiostream *lg;

    if (!f || (flags & XTL_STDIOSTREAM_PROGRESS_USE_CR &&
               flags & XTL_STDIOSTREAM_PROGRESS_NO_CR)) {
        errno = EINVAL;
        return NULL;
    }
    lg = (xentoollog_logger_stdiostream *)calloc(1, sizeof *lg);
    if (!lg)
        return NULL;
    lg->vtable.vmessage = libxl__xtl_stdio_vmessage;
    lg->vtable.progress = libxl__xtl_stdio_progress;
    lg->vtable.destroy = libxl__xtl_stdio_destroy;
    lg->f = f;
    lg->min_level = min_level;
    lg->flags = flags;
#if LIBXL__XTL_POSIX
    if (flags & XTL_STDIOSTREAM_SHOW_DATE)
        tzset();
#endif
    return lg;
}

static inline void
xtl_stdiostream_set_minlevel(xentoollog_logger_stdiostream *lg,
                             xentoollog_level min_level)
{
    lg->min_level = min_level;
}

static inline void
xtl_stdiostream_adjust_flags(xentoollog_logger_stdiostream *lg,
                             unsigned set_flags, unsigned clear_flags)
{
    lg->flags = (lg->flags & ~clear_flags) | set_flags;
}

/*---------- the bridge to xlchild's libxl_logger ----------*/

static inline xentoollog_level libxl__xtl_level(libxl_log_level level)
{
    switch (level) {
    case LIBXL_LOG_DEBUG: return XTL_DEBUG;
    case LIBXL_LOG_INFO: return XTL_INFO;
    case LIBXL_LOG_WARN: return XTL_WARN;
    case LIBXL_LOG_ERROR: return XTL_ERROR;
    case LIBXL_LOG_CRITICAL: return XTL_CRITICAL;
    }
    return XTL_ERROR;
}

static inline void libxl__xtl_bridge_vmessage(libxl_logger *lg,
                                              libxl_log_level level,
                                              int errnoval, const char *context,
                                              const char *format, va_list al)
    LIBXL__XTL_PRINTF(5, 0);
static inline void libxl__xtl_bridge_vmessage(libxl_logger *lg,
                                              libxl_log_level level,
                                              int errnoval, const char *context,
                                              const char *format, va_list al)
{
    xentoollog_logger *x =
        (xentoollog_logger *)(void *)((char *)lg - offsetof(xentoollog_logger,
                                                            libxl__bridge));

    if (x->vmessage)
        x->vmessage(x, libxl__xtl_level(level), errnoval, context, format, al);
}

/* The libxl_logger through which the library logs to lg (NULL: NULL, the
 * library's default).  Written only when it is not already set, so that
 * ctxs sharing a logger do not race with each other's messages. */
static inline libxl_logger *libxl__xtl_bridge(xentoollog_logger *lg)
{
    libxl_logger *b;

    if (!lg)
        return NULL;
    b = &lg->libxl__bridge;
    if (b->vmessage != libxl__xtl_bridge_vmessage)
        b->vmessage = libxl__xtl_bridge_vmessage;
    if (b->destroy)
        b->destroy = NULL; /* the xentoollog logger owns itself */
    return b;
}

#endif /* XENTOOLLOG_H */
