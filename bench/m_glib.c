/*
 * m_glib.c - GLib child watches: g_child_watch_add for each child made by
 * the harness, in a GMainLoop; the watch callback starts the next child.
 */
#include "config.h"

#include "common.h"

#include <glib.h>
#include <stdint.h>

static GMainLoop *loop;

static void start_one(long i);

static void watch_cb(GPid pid, gint status, gpointer data)
{
    bench_got((long)(intptr_t)data, pid, status);
    g_spawn_close_pid(pid);
    while (bench_may_spawn())
        start_one(bench_next());
    if (bench_all_done())
        g_main_loop_quit(loop);
}

static void start_one(long i)
{
    pid_t pid = bench_spawn(i);

    g_child_watch_add(pid, watch_cb, (gpointer)(intptr_t)i);
}

int main(int argc, char **argv)
{
    bench_init(argc, argv, "glib", KIND_TRUE | KIND_FORK | KIND_STAMP);
    loop = g_main_loop_new(NULL, FALSE);
    bench_start();
    while (bench_may_spawn())
        start_one(bench_next());
    bench_w5_point();
    if (!bench_all_done())
        g_main_loop_run(loop);
    g_main_loop_unref(loop);
    return bench_finish();
}
