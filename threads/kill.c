/*
 * kill.c - signals to the library's children (R6, S2, S9), under G.lock.
 *
 * A kill never reaches a process that is not that child: it is sent only
 * while the child is unreaped, through its pidfd where it has one.  A
 * group's SIGTERM starts its grace: a leader that exits in it is held
 * unreaped while the rest of its group lives (its zombie keeps the group
 * id from being recycled), until the grace's SIGKILL.
 */
#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* ch's group no longer waits for its leader's exit to be killed (killed,
 * or ch leaves the table): G.n_group_kills counts the ones that do. */
bool libxl__group_kill_drop_Glocked(libxl__child *ch)
{
    if (!ch->kill_group_on_exit)
        return false;
    ch->kill_group_on_exit = false;
    G.n_group_kills--;
    return true;
}

/* The group of a leader that has exited but is not reaped yet, whose
 * grace has been cut short (its ctx is gone): SIGKILL whatever is left of
 * it (a member that ignored the SIGTERM). */
void libxl__group_kill_Glocked(libxl__child *ch)
{
    if (libxl__group_kill_drop_Glocked(ch))
        kill(-ch->pid, SIGKILL);
}

/* Is a process other than leader, and not a zombie, in process group
 * pgid?  A scan of /proc: only made for a leader held in its grace. */
static bool group_has_members(pid_t pgid)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    bool found = false;

    if (!d)
        return true; /* cannot tell: the grace decides */
    while (!found && (e = readdir(d))) {
        char path[64], buf[512], *close_paren, state;
        long pgrp;
        pid_t pid;
        ssize_t n;
        int fd;

        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        pid = (pid_t)atol(e->d_name);
        if (pid == pgid)
            continue;
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        /* "pid (comm) state ppid pgrp ...": comm may hold anything */
        close_paren = strrchr(buf, ')');
        if (close_paren &&
            sscanf(close_paren + 1, " %c %*d %ld", &state, &pgrp) == 2 &&
            pgrp == (long)pgid && state != 'Z')
            found = true;
    }
    closedir(d);
    return found;
}

/*
 * S9: the leader of a group in its kill grace has exited.  It is held,
 * not reaped, while the rest of the group lives: its zombie keeps the group
 * id from being recycled, so the SIGKILL that ends the grace (or any group
 * signal meanwhile) can only reach that group.  Held, it leaves the epoll
 * set (its pidfd stays readable) for the list checked by pid on each pass,
 * where the group is looked at again.  Returns true when it is held.
 */
bool libxl__group_held_Glocked(libxl__child *ch)
{
    if (!ch->kill_group_on_exit)
        return false;
    if (!group_has_members(ch->pid)) {
        libxl__group_kill_drop_Glocked(ch); /* the group is gone: reap it */
        return false;
    }
    ch->held = true;
    /* An owner_mainloop child is the application's to reap: it is looked
     * at again when the application says SIGCHLD came, or when the
     * grace's SIGKILL is sent (libxl__group_held_collect_locked), never by
     * a pass. */
    if (!ch->on_nopidfd && ch->cls != LIBXL__CLASS_APP) {
        if (ch->pidfd >= 0 && G.epfd >= 0)
            epoll_ctl(G.epfd, EPOLL_CTL_DEL, ch->pidfd, NULL);
        LIST_INSERT_HEAD(&G.nopidfd, ch, nopidfd_entry);
        ch->on_nopidfd = true;
    }
    return true;
}

/*
 * R6.  With a pidfd the signal can only reach this process.  Without one
 * (old kernel, or fd exhaustion), and for process groups, a recycled pid is
 * avoided by sending only while the child is unreaped: G.lock is held from
 * the check to the kill, and the reaper holds G.lock while it collects, so
 * the pid (and the group, which its unreaped leader keeps alive) cannot be
 * freed in between.
 *
 * In owner_mainloop the application reaps without that lock, so "not
 * reported yet" does not mean "unreaped": there a group is signalled only
 * through the leader's pidfd with PIDFD_SIGNAL_PROCESS_GROUP (Linux 6.9),
 * which names the group the leader made, never one that reuses its number;
 * without that, only the leader is signalled.
 */
static int group_kill_mainloop_Glocked(libxl__child *ch, int sig)
{
    if (ch->pidfd >= 0 && G.have_pidfd_pgrp &&
        libxl__pidfd_send_signal_flags(ch->pidfd, sig,
                                       LIBXL__PIDFD_SIGNAL_PGRP) == 0)
        return 0;
    /* No such group (not made yet, or gone), or no way to name it: the
     * leader alone. */
    if (ch->pidfd >= 0)
        return libxl__pidfd_send_signal(ch->pidfd, sig);
    return kill(ch->pid, sig);
}

/* sig to ch, or to its group (R6: see above).  G.lock held, ch unreaped. */
static int send_Glocked(libxl__child *ch, int sig)
{
    int r;

    if (ch->group && ch->cls == LIBXL__CLASS_APP)
        return group_kill_mainloop_Glocked(ch, sig);
    if (ch->group) {
        /* Unreaped under G.lock (S9 holds an exited leader unreaped while
         * its group lives): the group id is still its own. */
        r = kill(-ch->pid, sig);
        if (r && errno == ESRCH)
            r = kill(ch->pid, sig); /* not yet a group leader */
        return r;
    }
    if (ch->pidfd >= 0)
        return libxl__pidfd_send_signal(ch->pidfd, sig);
    return kill(ch->pid, sig);
}

/* S2: sig (0 checks) to ch, or to its group, as libxl__child_kill sends
 * it, but with the caller's signal and an ERROR_* code: ERROR_NOTFOUND once
 * it is reaped or has exited (never a signal to a recycled pid, R6). */
int libxl__child_signal(libxl_ctx *ctx, libxl__child *ch, int sig)
{
    int r = -1, e = ESRCH;

    pthread_mutex_lock(&G.lock);
    if (!ch->reaped) {
        r = send_Glocked(ch, sig);
        e = errno;
    }
    pthread_mutex_unlock(&G.lock);
    if (r && e == ESRCH)
        return ERROR_NOTFOUND; /* reaped, or exited: nothing to signal */
    if (r) {
        LOGEV(ctx, ERROR, e, "libxl_childproc_kill: signal %d to child %d", sig,
              (int)ch->pid);
        return ERROR_FAIL;
    }
    return 0;
}

int libxl__child_kill(libxl__child *ch, int sig)
{
    libxl_ctx *ctx;
    int r = 0, e = 0;

    pthread_mutex_lock(&G.lock);
    ctx = ch->ctx;
    if (!ch->reaped) {
        r = send_Glocked(ch, sig);
        e = r ? errno : 0;
        /* A SIGTERM to a group starts its grace (S9). */
        if (ch->group && sig != SIGKILL && !r && !ch->kill_group_on_exit) {
            ch->kill_group_on_exit = true;
            G.n_group_kills++;
        }
    }
    /* S9: the grace is over; a held leader may be reaped now. */
    if (sig == SIGKILL && libxl__group_kill_drop_Glocked(ch) && ch->on_nopidfd)
        libxl__reaper_poke();
    pthread_mutex_unlock(&G.lock);
    if (r && e != ESRCH) /* ESRCH: it has just exited; EPERM: setuid... */
        LOGEV(ctx, WARN, e, "cannot send signal %d to child %d", sig,
              (int)ch->pid);
    errno = e;
    return r;
}
