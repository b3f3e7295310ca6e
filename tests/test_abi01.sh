#!/bin/sh
# test_abi01.sh - rule S0: tests/abi01/prog01, built against the 0.1 header
# and linked with unversioned references (as every 0.1 program is), runs
# against the library just built and binds to its 0.1 entries.
# Run by `make check` from the build directory.
set -u
prog=tests/abi01/prog01
lib=.libs/libxlchild.so.0
if [ ! -f "$lib" ]; then
    echo "test_abi01: $lib not built; skipping"
    exit 77
fi
[ -x "$prog" ] || { echo "test_abi01: $prog missing" >&2; exit 1; }
# A 0.1 program's references carry no version: the loader binds them to
# the library's first version node, XLCHILD_0.1.
if command -v readelf >/dev/null 2>&1; then
    if readelf -W --dyn-syms "$prog" | grep 'libxl_childproc_run' | grep -q '@'; then
        echo "test_abi01: $prog was linked with versioned references" >&2
        readelf -W --dyn-syms "$prog" | grep libxl_ >&2
        exit 1
    fi
    if ! readelf -W --dyn-syms "$lib" | grep -q 'libxl_childproc_run@XLCHILD_0\.1'; then
        echo "test_abi01: $lib has no libxl_childproc_run@XLCHILD_0.1" >&2
        exit 1
    fi
fi
LD_LIBRARY_PATH=$(pwd)/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
exec "$prog"
