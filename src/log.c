/*
 * log.c - the stdio logger and the library's one logging entry point.
 *
 * A line is formatted completely in a local buffer and written with one
 * fputs under the FILE's own lock, so lines from several threads never
 * interleave.  libxl__log never changes errno: error paths log and then
 * return with errno as the failing call left it.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    libxl_logger lg; /* first: the public struct is a prefix */
    FILE *f;
    libxl_log_level min_level;
} stdio_logger;

static const char *level_name(libxl_log_level l)
{
    switch (l) {
    case LIBXL_LOG_DEBUG: return "debug";
    case LIBXL_LOG_INFO: return "info";
    case LIBXL_LOG_WARN: return "warning";
    case LIBXL_LOG_ERROR: return "error";
    case LIBXL_LOG_CRITICAL: return "critical";
    }
    return "log";
}

static void stdio_vmessage(libxl_logger *lg, libxl_log_level level,
                           int errnoval, const char *context,
                           const char *format, va_list al)
{
    stdio_logger *sl = (stdio_logger *)lg;
    char line[1024];
    size_t n;
    int r;

    if (level < sl->min_level)
        return;
    r = snprintf(line, sizeof line, "xlchild: %s: %s%s", level_name(level),
                 context ? context : "", context ? ": " : "");
    n = r < 0 ? 0 : (size_t)r < sizeof line ? (size_t)r : sizeof line - 1;
    r = vsnprintf(line + n, sizeof line - n, format, al);
    n += r < 0                         ? 0
         : (size_t)r < sizeof line - n ? (size_t)r
                                       : sizeof line - n - 1;
    if (errnoval >= 0 && n < sizeof line - 1) {
        char eb[128];
        const char *es = strerror_r(errnoval, eb, sizeof eb);
        r = snprintf(line + n, sizeof line - n, ": %s", es);
        n += r < 0                         ? 0
             : (size_t)r < sizeof line - n ? (size_t)r
                                           : sizeof line - n - 1;
    }
    if (n >= sizeof line - 1)
        n = sizeof line - 2;
    line[n] = '\n';
    line[n + 1] = '\0';
    fputs(line, sl->f ? sl->f : stderr); /* NULL f: the default logger */
    fflush(sl->f ? sl->f : stderr);
}

static void stdio_destroy(libxl_logger *lg)
{
    free(lg);
}

LIBXL_EXPORT libxl_logger *libxl_logger_stdio_new(FILE *f,
                                                  libxl_log_level min_level)
{
    stdio_logger *sl;

    if (!f)
        return NULL;
    sl = calloc(1, sizeof *sl);
    if (!sl)
        return NULL;
    sl->lg.vmessage = stdio_vmessage;
    sl->lg.destroy = stdio_destroy;
    sl->f = f;
    sl->min_level = min_level;
    return &sl->lg;
}

LIBXL_EXPORT void libxl_logger_destroy(libxl_logger *lg)
{
    if (lg && lg->destroy)
        lg->destroy(lg);
}

/* Used when the ctx has no logger, or for messages with no ctx: stderr,
 * WARN and above.  Static, so it cannot fail and needs no reset at fork. */
static stdio_logger default_logger = {
    {stdio_vmessage, NULL},
    NULL,
    LIBXL_LOG_WARN,
};

/* NULL lg: the default logger.  Keeps errno. */
static void log_v(libxl_logger *lg, libxl_log_level level, int errnoval,
                  const char *func, const char *fmt, va_list al)
{
    int saved = errno;

    if (!lg) {
        if (level < LIBXL_LOG_WARN)
            goto out;
        lg = &default_logger.lg;
    }
    if (lg->vmessage)
        lg->vmessage(lg, level, errnoval, func, fmt, al);
out:
    errno = saved;
}

void libxl__log(libxl_ctx *ctx, libxl_log_level level, int errnoval,
                const char *func, const char *fmt, ...)
{
    va_list al;

    va_start(al, fmt);
    log_v(ctx ? ctx->lg : NULL, level, errnoval, func, fmt, al);
    va_end(al);
}

/* For the one caller with a logger and no ctx yet (libxl_ctx_alloc failing
 * before its ctx exists): the message still goes to the caller's logger. */
void libxl__log_lg(libxl_logger *lg, libxl_log_level level, int errnoval,
                   const char *func, const char *fmt, ...)
{
    va_list al;

    va_start(al, fmt);
    log_v(lg, level, errnoval, func, fmt, al);
    va_end(al);
}
