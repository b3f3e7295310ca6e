/* error.c - libxl_strerror: one static description per ERROR_* value. */
#include "internal.h"

LIBXL_EXPORT const char *libxl_strerror(int rc)
{
    switch (rc) {
    case 0: return "success";
    case ERROR_NONSPECIFIC: return "non-specific error";
    case ERROR_VERSION: return "wrong library version";
    case ERROR_FAIL: return "operation failed";
    case ERROR_NI: return "not implemented";
    case ERROR_NOMEM: return "out of memory";
    case ERROR_INVAL: return "invalid argument";
    case ERROR_TIMEDOUT: return "timed out";
    case ERROR_NOT_READY: return "not ready";
    case ERROR_OSEVENT_REG_FAIL: return "event loop registration failed";
    case ERROR_BUFFERFULL: return "buffer too small";
    case ERROR_UNKNOWN_CHILD: return "unknown child";
    case ERROR_ABORTED: return "operation aborted";
    case ERROR_NOTFOUND: return "not found";
    default: return "unknown error code";
    }
}
