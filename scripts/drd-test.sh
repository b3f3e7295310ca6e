#!/bin/sh
# LOG_COMPILER for the stress suite under valgrind's drd (scripts/test.sh,
# stage drd): finds data races and lock misuse that the sanitizers' runs
# may not schedule.  drd rather than helgrind: helgrind reports every
# condition variable signalled after its mutex is released, which this
# library does on purpose (a woken thread does not wake into a held lock).
# The library annotates its atomics (LIBXL__ATOMIC_VAR in src/internal.h);
# tests/stress/drd.supp lists, with a reason each, the rest.
case $1 in
*.sh) exec "$@" ;;
esac
XLT_UNDER_VALGRIND=1
export XLT_UNDER_VALGRIND
top=$(cd "$(dirname "$0")/.." && pwd)
exec ./libtool --mode=execute valgrind -q --tool=drd --error-exitcode=99 \
    --suppressions="$top/tests/stress/drd.supp" \
    --child-silent-after-fork=no --trace-children=no "$@"
