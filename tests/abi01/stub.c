/*
 * stub.c - a stand-in for the 0.1 library, unversioned like it, for
 * prog01 to link against: the link then records plain, unversioned
 * references, as in a program built before symbol versions existed.  At
 * run time the real library is loaded instead (test_abi01.sh).
 */
#include "xlchild.h"

const char *libxl_strerror(int rc)
{
    (void)rc;
    return "";
}
int libxl_ctx_alloc(libxl_ctx **pctx, int version, unsigned flags,
                    libxl_logger *lg)
{
    (void)pctx;
    (void)version;
    (void)flags;
    (void)lg;
    return ERROR_FAIL;
}
int libxl_ctx_free(libxl_ctx *ctx)
{
    (void)ctx;
    return 0;
}
int libxl_event_wait(libxl_ctx *ctx, libxl_event **event_r, uint64_t typemask,
                     libxl_event_predicate *predicate, void *predicate_user)
{
    (void)ctx;
    (void)event_r;
    (void)typemask;
    (void)predicate;
    (void)predicate_user;
    return ERROR_FAIL;
}
void libxl_event_free(libxl_ctx *ctx, libxl_event *event)
{
    (void)ctx;
    (void)event;
}
int libxl_ao_abort(libxl_ctx *ctx, const libxl_asyncop_how *how)
{
    (void)ctx;
    (void)how;
    return ERROR_FAIL;
}
int libxl_childproc_run(libxl_ctx *ctx, const libxl_childproc_args *args,
                        libxl_childproc_result *result_out,
                        const libxl_asyncop_how *ao_how)
{
    (void)ctx;
    (void)args;
    (void)result_out;
    (void)ao_how;
    return ERROR_FAIL;
}
pid_t libxl_childproc_fork(libxl_ctx *ctx, libxl_childproc_death_cb *death,
                           void *user)
{
    (void)ctx;
    (void)death;
    (void)user;
    return ERROR_FAIL;
}
