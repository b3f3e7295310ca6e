#!/bin/sh
# check-exports.sh - the contract: nothing but libxl_* is exported from the
# shared object (functions and data; macros and enum values are not
# symbols), and every function of include/xlchild.h is.  Run by `make check` from the build directory; exit 77 (skip)
# when no shared library was built.
set -u

so=${1:-.libs/libxlchild.so}
if [ ! -f "$so" ]; then
    echo "check-exports: $so not built; skipping"
    exit 77
fi
if ! command -v nm >/dev/null 2>&1; then
    echo "check-exports: nm not found; skipping"
    exit 77
fi

syms=$(nm -D --defined-only "$so") || {
    echo "check-exports: nm -D failed on $so" >&2
    exit 1
}

# Third column is the name; drop a symbol version suffix (name@VERS).
# Version-node names show as absolute (A) symbols; the linker's own
# markers are not the library's interface.
bad=$(printf '%s\n' "$syms" | awk '
    NF >= 2 {
        type = $(NF - 1); name = $NF
        sub(/@.*/, "", name)
        if (type == "A") next
        if (name ~ /^(_init|_fini|__bss_start|_edata|_end)$/) next
        if (name !~ /^libxl_/) print type " " name
    }')

count=$(printf '%s\n' "$syms" | grep -c ' libxl_' || true)
if [ "$count" -eq 0 ]; then
    echo "check-exports: no libxl_ symbol exported at all from $so" >&2
    exit 1
fi
if [ -n "$bad" ]; then
    echo "check-exports: symbols exported from $so outside libxl_*:" >&2
    printf '%s\n' "$bad" >&2
    exit 1
fi
# Every function the public header declares is exported.
hdr=${srcdir:-.}/include/xlchild.h
if [ -f "$hdr" ]; then
    missing=
    for f in $(grep -v '^typedef' "$hdr" | grep -oE 'libxl_[A-Za-z0-9_]+\(' |
               tr -d '(' | sort -u); do
        printf '%s\n' "$syms" | awk -v f="$f" '
            { n = $NF; sub(/@.*/, "", n); if (n == f) found = 1 }
            END { exit !found }' || missing="$missing $f"
    done
    if [ -n "$missing" ]; then
        echo "check-exports: declared in xlchild.h but not exported:$missing" >&2
        exit 1
    fi
fi
echo "check-exports: $count libxl_ symbols, nothing else"
exit 0
