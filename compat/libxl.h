/*
 * libxl.h - xlchild's drop-in for the parts of Xen's <libxl.h> that the
 * child-process and event API needs.
 *
 * A program written for Xen 4.17's libxl that uses only the childproc and
 * event part of the API (libxl_event.h, plus the contexts, errors, ao_how
 * and logging of libxl.h and xentoollog.h) compiles unchanged against this
 * directory:
 *
 *     cc $(pkg-config --cflags xlchild-libxl) prog.c \
 *        $(pkg-config --libs xlchild-libxl)
 *
 * What such a program may not use is listed in xlchild-libxl(7).  In
 * short: nothing about domains, devices or the other event types; the
 * domid and domuuid fields of libxl_event; the libxl_*_to_string /
 * _from_json / _dispose helpers; LIBXL_API_VERSION 0x040200.
 */
#ifndef LIBXL_H
#define LIBXL_H

/* The headers Xen's libxl.h brings in, which its callers may rely on. */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

#include <xentoollog.h> /* also includes <xlchild.h> */

/* API compatibility, as in Xen 4.17: an unknown version is an error. */
#ifdef LIBXL_API_VERSION
#if LIBXL_API_VERSION != 0x040200 && LIBXL_API_VERSION != 0x040300 && \
    LIBXL_API_VERSION != 0x040400 && LIBXL_API_VERSION != 0x040500 && \
    LIBXL_API_VERSION != 0x040700 && LIBXL_API_VERSION != 0x040800 && \
    LIBXL_API_VERSION != 0x041300 && LIBXL_API_VERSION != 0x041400
#error Unknown LIBXL_API_VERSION
#endif
#if LIBXL_API_VERSION == 0x040200
#error xlchild provides LIBXL_API_VERSION 0x040300 and later (event_occurs takes a non-const libxl_event)
#endif
#endif

/* Functions Xen marks as not callable from inside libxl itself. */
#ifndef LIBXL_EXTERNAL_CALLERS_ONLY
#define LIBXL_EXTERNAL_CALLERS_ONLY
#endif

/*
 * The feature macros of Xen's libxl.h that concern this API.  Each means
 * what it means in Xen 4.17:
 *  - event_occurs takes a non-const libxl_event *, which it must free;
 *  - libxl_sigchld_owner_libxl_always_selective_reap and
 *    libxl_childproc_sigchld_occurred exist;
 *  - several ctxs may own SIGCHLD at once;
 *  - libxl_ao_abort exists.
 */
#define LIBXL_HAVE_NONCONST_EVENT_OCCURS_EVENT_ARG 1
#define LIBXL_HAVE_SIGCHLD_OWNER_SELECTIVE_REAP 1
#define LIBXL_HAVE_SIGCHLD_SHARING 1
#define LIBXL_HAVE_AO_ABORT 1

/*
 * Xen's error codes that <xlchild.h> does not define.  xlchild never
 * returns them; they are here so that code comparing against them (or a
 * reaped_callback returning one) compiles.  Xen declares all of them as
 * the enum libxl_error; here they are macros, like xlchild's own.
 */
#ifndef ERROR_BADFAIL
#define ERROR_BADFAIL -7
#define ERROR_GUEST_TIMEDOUT -8
#define ERROR_NOPARAVIRT -10
#define ERROR_LOCK_FAIL -15
#define ERROR_JSON_CONFIG_EMPTY -16
#define ERROR_DEVICE_EXISTS -17
#define ERROR_CHECKPOINT_DEVOPS_DOES_NOT_MATCH -18
#define ERROR_CHECKPOINT_DEVICE_NOT_SUPPORTED -19
#define ERROR_VNUMA_CONFIG_INVALID -20
#define ERROR_DOMAIN_NOTFOUND -21
#define ERROR_DOMAIN_DESTROYED -24
#define ERROR_FEATURE_REMOVED -25
#define ERROR_PROTOCOL_ERROR_QMP -26
#define ERROR_UNKNOWN_QMP_ERROR -27
#define ERROR_QMP_GENERIC_ERROR -28
#define ERROR_QMP_COMMAND_NOT_FOUND -29
#define ERROR_QMP_DEVICE_NOT_ACTIVE -30
#define ERROR_QMP_DEVICE_NOT_FOUND -31
#define ERROR_QEMU_API -32
#endif

/*
 * Xen's libxl_ctx_alloc takes a xentoollog_logger *; xlchild's takes a
 * libxl_logger *.  This macro passes the library the libxl_logger embedded
 * in the xentoollog_logger (see <xentoollog.h>), which forwards every
 * message to it with the level mapped (LIBXL_LOG_WARN to XTL_WARN...).  As
 * in Xen, the logger must outlive the ctx.  A NULL logger gives xlchild's
 * default: warnings and worse to stderr.
 */
#define libxl_ctx_alloc(pctx, version, flags, lg) \
    libxl_ctx_alloc((pctx), (version), (flags), libxl__xtl_bridge(lg))

#endif /* LIBXL_H */
