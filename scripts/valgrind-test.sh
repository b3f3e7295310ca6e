#!/bin/sh
# LOG_COMPILER for `make check` under valgrind: test programs run through
# libtool so that valgrind sees the real binary, not the libtool wrapper.
# Shell-script tests are run as they are.
case $1 in
*.sh) exec "$@" ;; # by its own #! line
esac
# A few cases cannot work under valgrind (see xlt_skip_under_valgrind).
XLT_UNDER_VALGRIND=1
export XLT_UNDER_VALGRIND
exec ./libtool --mode=execute valgrind -q --error-exitcode=99 \
    --leak-check=full --errors-for-leak-kinds=definite \
    --child-silent-after-fork=no --trace-children=no "$@"
