/*
 * glib-loop.c - xlchild driven from a GLib main loop.
 *
 * The program runs 300 children, at most 30 at a time, from one GMainLoop:
 * /bin/true, `sh -c 'exit N'`, and every tenth a `sleep 5` whose 300 ms
 * timeout must kill it (children.c, shared with uv-loop.c, makes them and
 * checks how they end).  Completions arrive as callbacks, each of which
 * checks the child's rc and wait status and starts the next child.  It
 * prints one line and exits 0 only if every child ended as it should.
 *
 * How xlchild and GLib meet: libxl_osevent_register_hooks.  The library
 * asks, through the hooks below, for one fd (its wakeup fd) to be watched
 * and for timeouts at absolute wall-clock times; the loop tells it when
 * they happen, with libxl_osevent_occurred_fd / _occurred_timeout.
 *
 * Two rules shape the hooks:
 *  - they may be called from inside any libxl call, with the library's
 *    locks held, so they must not call into libxl: they only add and
 *    remove GLib sources.  (GLib never holds its own context lock while
 *    it dispatches, so "xlchild's locks, then GLib's" is the only order.)
 *  - the libxl_osevent_occurred_* calls are made from GLib's callbacks,
 *    never from a hook.
 *
 *   glib-loop            # prints "glib-loop: 300 children: 210
 *                        #   exited 0, 60 exited 1-7, 30 timed out: all ok"
 */
#include <glib-unix.h>
#include <glib.h>
#include <poll.h>
#include <stdio.h>
#include <sys/time.h>

#include <xlchild.h>

#include "children.h"

static libxl_ctx *ctx;
static GMainLoop *loop;
static guint guard; /* gives up after 60 s */

/* ------------------------------------------------------------------ */
/* The osevent hooks                                                   */

/* Milliseconds from now until the wall-clock time `when` (0 if it has
 * passed, which includes abs = {0,0}: "as soon as possible"). */
static guint ms_until(struct timeval when)
{
    struct timeval now;
    gint64 us;

    gettimeofday(&now, NULL);
    us = (gint64)(when.tv_sec - now.tv_sec) * 1000000 +
         (when.tv_usec - now.tv_usec);
    if (us <= 0)
        return 0;
    return (guint)((us + 999) / 1000); /* never early */
}

/* A watched fd.  for_libxl is the library's token for occurred_fd. */
typedef struct {
    int fd;
    short events;
    void *for_libxl;
    guint source; /* 0 while no events are wanted */
} fd_reg;

static GIOCondition condition_of(short events)
{
    GIOCondition c = 0;
    if (events & POLLIN)
        c |= G_IO_IN;
    if (events & POLLOUT)
        c |= G_IO_OUT;
    if (events & POLLPRI)
        c |= G_IO_PRI;
    return c;
}

static short revents_of(GIOCondition c)
{
    short r = 0;
    if (c & G_IO_IN)
        r |= POLLIN;
    if (c & G_IO_OUT)
        r |= POLLOUT;
    if (c & G_IO_PRI)
        r |= POLLPRI;
    if (c & G_IO_ERR)
        r |= POLLERR;
    if (c & G_IO_HUP)
        r |= POLLHUP;
    if (c & G_IO_NVAL)
        r |= POLLNVAL;
    return r;
}

/* GLib callback: the fd is ready; tell xlchild (which may call hooks,
 * even fd_deregister for this very fd, so r is not used afterwards). */
static gboolean fd_ready(gint fd, GIOCondition cond, gpointer data)
{
    fd_reg *r = data;
    libxl_osevent_occurred_fd(ctx, r->for_libxl, fd, r->events,
                              revents_of(cond));
    return G_SOURCE_CONTINUE;
}

static void fd_watch(fd_reg *r)
{
    /* events == 0 must work too, generating nothing: no source then. */
    r->source = r->events
                    ? g_unix_fd_add(r->fd, condition_of(r->events), fd_ready, r)
                    : 0;
}

static int hook_fd_register(void *user, int fd, void **for_app_out,
                            short events, void *for_libxl)
{
    fd_reg *r = g_new0(fd_reg, 1);

    (void)user;
    r->fd = fd;
    r->events = events;
    r->for_libxl = for_libxl;
    fd_watch(r);
    *for_app_out = r;
    return 0;
}

static int hook_fd_modify(void *user, int fd, void **for_app_update,
                          short events)
{
    fd_reg *r = *for_app_update;

    (void)user;
    (void)fd;
    if (r->source)
        g_source_remove(r->source);
    r->events = events;
    fd_watch(r);
    return 0;
}

static void hook_fd_deregister(void *user, int fd, void *for_app)
{
    fd_reg *r = for_app;

    (void)user;
    (void)fd;
    if (r->source)
        g_source_remove(r->source);
    g_free(r);
}

/* A timeout.  for_libxl is the library's token for occurred_timeout. */
typedef struct {
    void *for_libxl;
    guint source;
} timeout_reg;

/* GLib callback: the timeout is due.  As Xen's libxl_event.h puts it, on
 * entry to occurred_timeout the timeout has been deregistered: the library
 * will neither modify nor deregister it, so it is forgotten first. */
static gboolean timeout_due(gpointer data)
{
    timeout_reg *t = data;
    void *for_libxl = t->for_libxl;

    g_free(t);
    libxl_osevent_occurred_timeout(ctx, for_libxl);
    return G_SOURCE_REMOVE;
}

static int hook_timeout_register(void *user, void **for_app_out,
                                 struct timeval abs, void *for_libxl)
{
    timeout_reg *t = g_new0(timeout_reg, 1);

    (void)user;
    t->for_libxl = for_libxl;
    t->source = g_timeout_add(ms_until(abs), timeout_due, t);
    *for_app_out = t;
    return 0;
}

/* Only ever called with abs = {0,0}: the library cancels a timeout by
 * asking for it to fire now; it then ignores the occurred_timeout. */
static int hook_timeout_modify(void *user, void **for_app_update,
                               struct timeval abs)
{
    timeout_reg *t = *for_app_update;

    (void)user;
    g_source_remove(t->source);
    t->source = g_timeout_add(ms_until(abs), timeout_due, t);
    return 0;
}

/* Called only by libxl_ctx_free, for timeouts not yet reported. */
static void hook_timeout_deregister(void *user, void *for_app)
{
    timeout_reg *t = for_app;

    (void)user;
    g_source_remove(t->source);
    g_free(t);
}

static const libxl_osevent_hooks glib_hooks = {
    .fd_register = hook_fd_register,
    .fd_modify = hook_fd_modify,
    .fd_deregister = hook_fd_deregister,
    .timeout_register = hook_timeout_register,
    .timeout_modify = hook_timeout_modify,
    .timeout_deregister = hook_timeout_deregister,
};

/* ------------------------------------------------------------------ */
/* The children (children.c): completions as callbacks                 */

static void start_more_or_quit(void);

/* Completion callback: called from inside a libxl call (here: one of the
 * occurred_* calls), with no library lock held, so it may start more. */
static void completed(libxl_ctx *c, int rc, void *for_callback)
{
    (void)c;
    job_done(for_callback, rc);
    start_more_or_quit();
}

static void set_how(job *j, libxl_asyncop_how *how)
{
    how->callback = completed;
    how->u.for_callback = j;
}

static void start_more_or_quit(void)
{
    start_more(ctx, set_how);
    if (finished == TOTAL)
        g_main_loop_quit(loop);
}

static gboolean give_up(gpointer data)
{
    (void)data;
    fprintf(stderr, "glib-loop: only %d of %d children finished in 60 s\n",
            finished, TOTAL);
    n_wrong++;
    guard = 0;
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

int main(void)
{
    children_init("glib-loop");
    if (libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, NULL)) {
        fprintf(stderr, "glib-loop: libxl_ctx_alloc failed\n");
        return 2;
    }
    loop = g_main_loop_new(NULL, FALSE);
    libxl_osevent_register_hooks(ctx, &glib_hooks, NULL);

    guard = g_timeout_add_seconds(60, give_up, NULL);
    start_more_or_quit();
    if (finished < TOTAL)
        g_main_loop_run(loop);
    if (guard)
        g_source_remove(guard);

    /* Deregisters the wakeup fd and whatever timeouts are left (those
     * cancelled last, not yet reported): their sources go with them. */
    libxl_ctx_free(ctx);
    g_main_loop_unref(loop);
    return report();
}
