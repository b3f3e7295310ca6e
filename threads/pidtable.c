/*
 * pidtable.c - pid -> the library's children, under G.lock: a chained
 * hash, grown when the load exceeds 1.  Several entries may share a pid
 * (owner_mainloop children the application has reaped but not reported
 * yet, beside a new child of the recycled pid); they are kept oldest
 * first.
 */
#include "internal.h"

#include <stdlib.h>

static unsigned hash_pid(pid_t pid, unsigned size)
{
    return ((uint32_t)pid * 2654435761u) & (size - 1);
}

/* Room for one more entry: 0 or ERROR_NOMEM. */
int libxl__table_reserve_Glocked(void)
{
    unsigned nsize = G.table_size ? G.table_size * 2 : 64;
    libxl__child **nt;
    unsigned i;

    if (G.table_count < G.table_size)
        return 0;
    if (!(nt = calloc(nsize, sizeof *nt)))
        return ERROR_NOMEM;
    for (i = 0; i < G.table_size; i++) {
        libxl__child *ch = G.table[i], *next;
        for (; ch; ch = next) {
            unsigned h = hash_pid(ch->pid, nsize);
            next = ch->hash_next;
            ch->hash_next = nt[h];
            nt[h] = ch;
        }
    }
    free(G.table);
    G.table = nt;
    G.table_size = nsize;
    return 0;
}

libxl__child *libxl__child_lookup_Glocked(pid_t pid)
{
    libxl__child *ch;

    if (!G.table_size)
        return NULL;
    for (ch = G.table[hash_pid(pid, G.table_size)]; ch; ch = ch->hash_next)
        if (ch->pid == pid)
            return ch;
    return NULL;
}

void libxl__table_remove_Glocked(libxl__child *ch)
{
    libxl__child **pp = &G.table[hash_pid(ch->pid, G.table_size)];

    for (; *pp; pp = &(*pp)->hash_next) {
        if (*pp == ch) {
            *pp = ch->hash_next;
            G.table_count--;
            return;
        }
    }
}

libxl__child *libxl__child_find_watched_Glocked(pid_t pid)
{
    libxl__child *ch;

    for (ch = libxl__child_lookup_Glocked(pid); ch; ch = ch->hash_next)
        if (ch->pid == pid && ch->cls != LIBXL__CLASS_APP)
            return ch;
    return NULL;
}

/* An entry for pid that the table cannot keep beside a new child of that
 * pid: the pid was recycled, so that child's status was taken by someone,
 * and it is lost if the library was to reap it.  An owner_mainloop (APP)
 * entry stays, whatever the new child's class: the application reaped it
 * and will report it with libxl_childproc_reaped, which finds the oldest of
 * a ctx's entries for a pid first, as the reaper finds only the ones it
 * reaps. */
libxl__child *libxl__table_stale_Glocked(pid_t pid)
{
    return libxl__child_find_watched_Glocked(pid);
}

/* Puts ch in the table, after the older entries of its pid, if any (its
 * stale ones are gone: libxl__table_stale_Glocked).  The table has room
 * (libxl__table_reserve_Glocked). */
void libxl__table_insert_Glocked(libxl__child *ch)
{
    libxl__child **pp = &G.table[hash_pid(ch->pid, G.table_size)];
    bool kept = false;

    for (; *pp; pp = &(*pp)->hash_next)
        kept |= (*pp)->pid == ch->pid;
    if (kept) {
        ch->hash_next = NULL;
        *pp = ch;
    } else {
        pp = &G.table[hash_pid(ch->pid, G.table_size)];
        ch->hash_next = *pp;
        *pp = ch;
    }
    G.table_count++;
}
