/*
 * env.c - the child's environment (S6): env_unset, then env_set, applied to
 * a copy of the base environment (envp, or the caller's environ).
 *
 * The copy is an array of pointers to the caller's strings: nothing is
 * duplicated, and the caller's environment is never modified (no setenv:
 * it is not thread-safe, and the caller's environ is not ours).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

extern char **environ;

/* Length of the name of "NAME=value" (or of a bare "NAME"). */
static size_t name_len(const char *entry)
{
    const char *eq = strchr(entry, '=');

    return eq ? (size_t)(eq - entry) : strlen(entry);
}

static bool same_name(const char *entry, const char *name, size_t len)
{
    return !strncmp(entry, name, len) &&
           (entry[len] == '=' || entry[len] == '\0');
}

/* Is entry's name in list (entries "NAME" or "NAME=value")?  From index
 * `from` on. */
static bool named_in(const char *entry, char *const *list, size_t from)
{
    size_t len = name_len(entry), i;

    for (i = from; list && list[i]; i++)
        if (name_len(list[i]) == len && same_name(list[i], entry, len))
            return true;
    return false;
}

bool libxl__env_args_ok(libxl_ctx *ctx, const libxl_childproc_args *args)
{
    size_t i;

    for (i = 0; args->env_set && args->env_set[i]; i++) {
        const char *eq = strchr(args->env_set[i], '=');

        if (!eq || eq == args->env_set[i]) {
            libxl__log(ctx, LIBXL_LOG_ERROR, -1, "libxl_childproc_run",
                       "env_set[%zu] \"%s\" is not NAME=value", i,
                       args->env_set[i]);
            return false;
        }
    }
    for (i = 0; args->env_unset && args->env_unset[i]; i++) {
        const char *n = args->env_unset[i];

        if (!*n || strchr(n, '=')) {
            libxl__log(ctx, LIBXL_LOG_ERROR, -1, "libxl_childproc_run",
                       "env_unset[%zu] \"%s\" is not a variable name", i, n);
            return false;
        }
    }
    return true;
}

int libxl__env_build(libxl_ctx *ctx, const libxl_childproc_args *args,
                     char ***envp_r)
{
    char *const *base = args->envp ? args->envp : environ;
    size_t nbase = 0, nset = 0, i, n = 0;
    char **env;

    *envp_r = NULL;
    if ((!args->env_set || !args->env_set[0]) &&
        (!args->env_unset || !args->env_unset[0]))
        return 0;
    while (base && base[nbase])
        nbase++;
    while (args->env_set && args->env_set[nset])
        nset++;
    env = malloc((nbase + nset + 1) * sizeof *env);
    if (!env) {
        libxl__log(ctx, LIBXL_LOG_ERROR, ENOMEM, "libxl_childproc_run",
                   "cannot allocate the child's environment");
        return ERROR_NOMEM;
    }
    for (i = 0; i < nbase; i++)
        if (!named_in(base[i], args->env_unset, 0) &&
            !named_in(base[i], args->env_set, 0))
            env[n++] = base[i];
    /* A later env_set entry of the same name wins. */
    for (i = 0; i < nset; i++)
        if (!named_in(args->env_set[i], args->env_set, i + 1))
            env[n++] = args->env_set[i];
    env[n] = NULL;
    *envp_r = env;
    return 0;
}
