#!/bin/sh
# test_compat.sh - one program, tests/compat_prog.c, written only against
# Xen 4.17's libxl (no xlchild names in it), proves the drop-in headers
# both ways:
#   1. compiled -fsyntax-only against Xen's real headers (Debian's
#      libxen-dev, in $XEN_INCLUDEDIR, default /usr/include), with
#      warnings as errors;
#   2. compiled against xlchild's compat/ headers with the same flags, and
#      the copy that make check built against them, linked with the
#      library, run.
# Without Xen's headers, step 2 still runs and the test then exits 77
# (skipped), since only half of the proof was made.
# Run by `make check` from the build directory (srcdir set by the harness).
set -u

srcdir=${srcdir:-.}
prog_src=$srcdir/tests/compat_prog.c
prog=./tests/compat_prog
xen=${XEN_INCLUDEDIR:-/usr/include}
cc=${CC:-cc}
flags="-std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter"
fail=0

command -v "$cc" >/dev/null 2>&1 || cc=gcc

# Prints 1 if the headers that compile $prog_src with "$@" are Xen's own.
is_xen() {
    printf '#include <libxl.h>\n#ifdef LIBXL_HAVE_DEVICE_CHANNEL\nxen\n#endif\n' |
        $cc -E -P "$@" - 2>/dev/null | grep -c '^xen$'
}

# --- 2. against the drop-in headers ---------------------------------------
compat="-I$srcdir/compat -I$srcdir/include"
# shellcheck disable=SC2086
if [ "$(is_xen $compat)" != 0 ]; then
    echo "test_compat: compat/libxl.h is shadowed by Xen's" >&2
    fail=1
# shellcheck disable=SC2086
elif ! $cc -fsyntax-only $flags $compat "$prog_src"; then
    echo "test_compat: FAIL: does not compile against compat/" >&2
    fail=1
else
    echo "test_compat: compiles against xlchild's compat/ headers"
fi
if [ ! -x "$prog" ]; then
    echo "test_compat: $prog not built" >&2
    fail=1
elif ! "$prog"; then
    echo "test_compat: FAIL: $prog (built against compat/) failed" >&2
    fail=1
else
    echo "test_compat: runs against xlchild"
fi

# --- 1. against Xen's headers ---------------------------------------------
xen_ok=skip
if [ -f "$xen/libxl.h" ] && [ -f "$xen/libxl_event.h" ] &&
   [ -f "$xen/xentoollog.h" ]; then
    xen_inc=
    [ "$xen" = /usr/include ] || xen_inc="-I$xen"
    # shellcheck disable=SC2086
    if [ "$(is_xen $xen_inc)" = 0 ]; then
        echo "test_compat: $xen/libxl.h is not Xen's libxl.h" >&2
        fail=1
    # shellcheck disable=SC2086
    elif $cc -fsyntax-only $flags $xen_inc "$prog_src"; then
        echo "test_compat: compiles against Xen's headers in $xen"
        xen_ok=yes
    else
        echo "test_compat: FAIL: does not compile against Xen's headers in $xen" >&2
        fail=1
    fi
else
    echo "test_compat: Xen's libxl headers not found in $xen" \
         "(Debian: apt-get install libxen-dev; or set XEN_INCLUDEDIR)"
fi

[ $fail -eq 0 ] || exit 1
[ $xen_ok = yes ] || exit 77
exit 0
