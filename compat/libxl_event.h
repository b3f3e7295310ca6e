/*
 * libxl_event.h - xlchild's drop-in for Xen 4.17's <libxl_event.h>.
 *
 * Everything Xen's libxl_event.h declares for events, main-loop
 * integration and subprocess handling is declared by <xlchild.h> with
 * Xen's names, types and values; this header adds the includes Xen's has.
 * Not provided: the domain event generators (libxl_evenable_domain_death,
 * libxl_evenable_disk_eject and their evdisable and evgen types), which
 * have no meaning without Xen.  See xlchild-libxl(7).
 */
#ifndef LIBXL_EVENT_H
#define LIBXL_EVENT_H

#include <libxl.h>
#include <poll.h>
#include <sys/time.h>

#endif /* LIBXL_EVENT_H */
