/*
 * uv-loop.c - xlchild driven from a libuv loop.
 *
 * The program runs 300 children, at most 30 at a time, from one uv loop:
 * /bin/true, `sh -c 'exit N'`, and every tenth a `sleep 5` whose 300 ms
 * timeout must kill it (children.c, shared with glib-loop.c, makes them and
 * checks how they end).  Completions arrive as OPERATION_COMPLETE events,
 * taken with libxl_event_check after each libxl_osevent_occurred_* call;
 * each is checked (rc and wait status) and the next child started.  It
 * prints one line and exits 0 only if every child ended as it should.
 *
 * How xlchild and libuv meet: libxl_osevent_register_hooks.  The library
 * asks for its wakeup fd to be watched (a uv_poll_t here) and for
 * timeouts at absolute wall-clock times (a uv_timer_t each); the loop's
 * callbacks tell it when they happen with libxl_osevent_occurred_fd /
 * _occurred_timeout.
 *
 * The hooks may be called from inside any libxl call, with the library's
 * locks held: they only start, stop and close libuv handles and never call
 * into libxl.  Everything runs on the loop's thread (libuv handles are not
 * thread-safe): the hooks are only called from libxl calls made here.
 *
 *   uv-loop              # prints "uv-loop: 300 children: 210
 *                        #   exited 0, 60 exited 1-7, 30 timed out: all ok"
 */
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <uv.h>

#include <xlchild.h>

#include "children.h"

static libxl_ctx *ctx;
static uv_loop_t loop;

static void take_events(void);

/* ------------------------------------------------------------------ */
/* The osevent hooks                                                   */

/* Milliseconds from now until the wall-clock time `when` (0 if it has
 * passed, which includes abs = {0,0}: "as soon as possible"). */
static uint64_t ms_until(struct timeval when)
{
    struct timeval now;
    int64_t us;

    gettimeofday(&now, NULL);
    us = (int64_t)(when.tv_sec - now.tv_sec) * 1000000 +
         (when.tv_usec - now.tv_usec);
    if (us <= 0)
        return 0;
    return (uint64_t)((us + 999) / 1000); /* never early */
}

static void free_on_close(uv_handle_t *h)
{
    free(h->data);
}

/* A watched fd.  for_libxl is the library's token for occurred_fd. */
typedef struct {
    uv_poll_t poll;
    int fd;
    short events;
    void *for_libxl;
} fd_reg;

static int uv_events_of(short events)
{
    return (events & POLLIN ? UV_READABLE : 0) |
           (events & POLLOUT ? UV_WRITABLE : 0) |
           (events & POLLPRI ? UV_PRIORITIZED : 0);
}

/* libuv callback: the fd is ready (or in error); tell xlchild, then take
 * whatever completions that produced. */
static void fd_ready(uv_poll_t *handle, int status, int uvev)
{
    fd_reg *r = handle->data;
    short revents = 0;

    if (status < 0)
        revents |= POLLERR;
    if (uvev & UV_READABLE)
        revents |= POLLIN;
    if (uvev & UV_WRITABLE)
        revents |= POLLOUT;
    if (uvev & UV_PRIORITIZED)
        revents |= POLLPRI;
    if (uvev & UV_DISCONNECT)
        revents |= POLLHUP;
    libxl_osevent_occurred_fd(ctx, r->for_libxl, r->fd, r->events, revents);
    take_events();
}

static int fd_watch(fd_reg *r)
{
    /* events == 0 must work too, generating nothing: stop polling. */
    if (!r->events)
        return uv_poll_stop(&r->poll);
    return uv_poll_start(&r->poll, uv_events_of(r->events), fd_ready);
}

static int hook_fd_register(void *user, int fd, void **for_app_out,
                            short events, void *for_libxl)
{
    fd_reg *r = calloc(1, sizeof *r);

    (void)user;
    if (!r)
        return ERROR_OSEVENT_REG_FAIL;
    if (uv_poll_init(&loop, &r->poll, fd) != 0) {
        free(r);
        return ERROR_OSEVENT_REG_FAIL; /* handed back to the libxl caller */
    }
    r->poll.data = r;
    r->fd = fd;
    r->events = events;
    r->for_libxl = for_libxl;
    if (fd_watch(r) != 0) {
        uv_close((uv_handle_t *)&r->poll, free_on_close);
        return ERROR_OSEVENT_REG_FAIL;
    }
    *for_app_out = r;
    return 0;
}

static int hook_fd_modify(void *user, int fd, void **for_app_update,
                          short events)
{
    fd_reg *r = *for_app_update;
    short old = r->events;

    (void)user;
    (void)fd;
    r->events = events;
    if (fd_watch(r) != 0) {
        r->events = old; /* a failed modify leaves the registration as is */
        return ERROR_OSEVENT_REG_FAIL;
    }
    return 0;
}

static void hook_fd_deregister(void *user, int fd, void *for_app)
{
    fd_reg *r = for_app;

    (void)user;
    (void)fd;
    uv_close((uv_handle_t *)&r->poll, free_on_close); /* stops it too */
}

/* A timeout.  for_libxl is the library's token for occurred_timeout. */
typedef struct {
    uv_timer_t timer;
    void *for_libxl;
} timeout_reg;

/* libuv callback: the timeout is due.  As Xen's libxl_event.h puts it, on
 * entry to occurred_timeout the timeout has been deregistered: the library
 * will neither modify nor deregister it, so the handle goes first. */
static void timeout_due(uv_timer_t *handle)
{
    timeout_reg *t = handle->data;
    void *for_libxl = t->for_libxl;

    uv_close((uv_handle_t *)&t->timer, free_on_close);
    libxl_osevent_occurred_timeout(ctx, for_libxl);
    take_events();
}

static int hook_timeout_register(void *user, void **for_app_out,
                                 struct timeval abs, void *for_libxl)
{
    timeout_reg *t = calloc(1, sizeof *t);

    (void)user;
    if (!t)
        return ERROR_OSEVENT_REG_FAIL;
    uv_timer_init(&loop, &t->timer); /* cannot fail */
    t->timer.data = t;
    t->for_libxl = for_libxl;
    uv_timer_start(&t->timer, timeout_due, ms_until(abs), 0);
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
    uv_timer_start(&t->timer, timeout_due, ms_until(abs), 0); /* restarts */
    return 0;
}

/* Called only by libxl_ctx_free, for timeouts not yet reported. */
static void hook_timeout_deregister(void *user, void *for_app)
{
    timeout_reg *t = for_app;

    (void)user;
    uv_close((uv_handle_t *)&t->timer, free_on_close);
}

static const libxl_osevent_hooks uv_hooks = {
    .fd_register = hook_fd_register,
    .fd_modify = hook_fd_modify,
    .fd_deregister = hook_fd_deregister,
    .timeout_register = hook_timeout_register,
    .timeout_modify = hook_timeout_modify,
    .timeout_deregister = hook_timeout_deregister,
};

/* ------------------------------------------------------------------ */
/* The children (children.c): completions as events                    */

static uv_timer_t guard; /* gives up after 60 s */

static void set_how(job *j, libxl_asyncop_how *how)
{
    how->u.for_event = (libxl_ev_user)j->index; /* completion: an event */
}

/* Takes the completions queued so far, starts more children, and stops the
 * loop when all are done. */
static void take_events(void)
{
    libxl_event *ev;

    while (libxl_event_check(ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL) == 0) {
        if (ev->type == LIBXL_EVENT_TYPE_OPERATION_COMPLETE &&
            ev->for_user < TOTAL)
            job_done(&jobs[ev->for_user], ev->u.operation_complete.rc);
        libxl_event_free(ctx, ev);
    }
    start_more(ctx, set_how);
    if (finished == TOTAL)
        uv_stop(&loop);
}

static void give_up(uv_timer_t *handle)
{
    (void)handle;
    fprintf(stderr, "uv-loop: only %d of %d children finished in 60 s\n",
            finished, TOTAL);
    n_wrong++;
    uv_stop(&loop);
}

int main(void)
{
    children_init("uv-loop");
    if (uv_loop_init(&loop) != 0) {
        fprintf(stderr, "uv-loop: uv_loop_init failed\n");
        return 2;
    }
    if (libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, NULL)) {
        fprintf(stderr, "uv-loop: libxl_ctx_alloc failed\n");
        return 2;
    }
    libxl_osevent_register_hooks(ctx, &uv_hooks, NULL);

    uv_timer_init(&loop, &guard);
    uv_timer_start(&guard, give_up, 60000, 0);
    start_more(ctx, set_how);
    uv_run(&loop, UV_RUN_DEFAULT);

    /* Deregisters the wakeup fd and whatever timeouts are left (those
     * cancelled last, not yet reported): their handles are closed. */
    libxl_ctx_free(ctx);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&loop, UV_RUN_DEFAULT); /* runs the close callbacks */
    if (uv_loop_close(&loop) != 0) {
        fprintf(stderr, "uv-loop: handles left open\n");
        n_wrong++;
    }
    return report();
}
