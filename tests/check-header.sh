#!/bin/sh
# check-header.sh - include/xlchild.h compiles without a warning as C99
# (-pedantic), C11 and C++ (-Wall -Wextra -Werror each), with every
# declaration usable: a translation unit that includes it and takes the
# address of each function.  Run by `make check` from the build directory;
# the compilers come from tests/check-header.env (written by make), else
# cc and c++.  A missing C++ compiler skips that part, saying so.
set -u
[ -f tests/check-header.env ] && . tests/check-header.env
cc=${HEADER_CC:-cc}
cxx=${HEADER_CXX:-c++}
hdr=${srcdir:-.}/include
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

funcs=$(grep -v '^typedef' "$hdr/xlchild.h" | grep -oE 'libxl_[A-Za-z0-9_]+\(' |
        tr -d '(' | sort -u)
{
    echo '#include <xlchild.h>'
    echo 'typedef void (*xlt_any_fn)(void);'
    echo 'int xlt_header_uses(void);'
    echo 'int xlt_header_uses(void) {'
    echo '    libxl_childproc_hooks h = {libxl_sigchld_owner_libxl, 0, {0}};'
    echo '    libxl_childproc_args a = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};'
    echo '    static const xlt_any_fn fns[] = {'
    for f in $funcs; do
        echo "        (xlt_any_fn)$f,"
    done
    echo '    };'
    echo '    return (int)sizeof h + (int)sizeof a + (fns[0] != 0);'
    echo '}'
} > "$tmp/use.c"
cp "$tmp/use.c" "$tmp/use.cc"

fail=0
try() {
    what=$1
    shift
    if "$@" -I"$hdr" -Wall -Wextra -Werror -c -o "$tmp/out.o" 2>"$tmp/err"; then
        echo "check-header: ok as $what"
    else
        echo "check-header: FAIL as $what:" >&2
        cat "$tmp/err" >&2
        fail=1
    fi
}
try "C99 -pedantic" "$cc" -std=c99 -pedantic "$tmp/use.c"
try "C11 -pedantic" "$cc" -std=c11 -pedantic "$tmp/use.c"
if command -v "$cxx" >/dev/null 2>&1; then
    try "C++11 -pedantic" "$cxx" -std=c++11 -pedantic "$tmp/use.cc"
else
    echo "check-header: no C++ compiler ($cxx): C++ not checked"
fi
exit $fail
