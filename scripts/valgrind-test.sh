#!/bin/sh
# LOG_COMPILER for `make check` under valgrind: test programs run through
# libtool so that valgrind sees the real binary, not the libtool wrapper.
# Shell-script tests are run as they are.
#   valgrind-test.sh PROGRAM...        memcheck (scripts/test.sh valgrind)
#   valgrind-test.sh --drd PROGRAM...  drd: data races and lock misuse that
#       the sanitizers' runs may not schedule (scripts/test.sh drd).  drd
#       rather than helgrind: helgrind reports every condition variable
#       signalled after its mutex is released, which the library does on
#       purpose (a woken thread does not wake into a held lock).  The
#       library annotates its atomics (LIBXL__ATOMIC_VAR, src/internal.h);
#       tests/stress/drd.supp lists, each with its reason, the rest.
top=$(cd "$(dirname "$0")/.." && pwd)
drd=
if [ "$1" = --drd ]; then
    drd=1
    shift
fi
case $1 in
*.sh) exec "$@" ;; # by its own #! line
esac
if [ -n "$drd" ]; then
    set -- --tool=drd --suppressions="$top/tests/stress/drd.supp" "$@"
else
    set -- --leak-check=full --errors-for-leak-kinds=definite "$@"
fi
# A few cases cannot work under valgrind (see xlt_skip_under_valgrind).
XLT_UNDER_VALGRIND=1
export XLT_UNDER_VALGRIND
# --run-libc-freeres=no: valgrind runs a posix_spawn child without
# CLONE_VM, so the child has a copy of the parent's memory, stdio locks
# included; when its exec fails, glibc's _exit there runs __libc_freeres,
# which takes the stdio list lock that another thread of the parent may
# have held at the copy, for ever (the soak's failing execs hung so).
# Natively the child shares memory and _exit frees nothing.
exec ./libtool --mode=execute valgrind -q --error-exitcode=99 \
    --run-libc-freeres=no \
    --child-silent-after-fork=no --trace-children=no "$@"
