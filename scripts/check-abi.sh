#!/bin/bash
# check-abi.sh - compares the ABI of libxlchild.so with the committed
# baseline abi/libxlchild.abi (abidw output), with libabigail's abidiff.
#
#   scripts/check-abi.sh              build build/abi (-O2 -g) and compare
#   scripts/check-abi.sh SO           compare SO (it must carry DWARF: -g)
#   scripts/check-abi.sh --update [SO]  rewrite the baseline from SO
#
# Policy (see the -version-info comment in Makefile.am):
#  - added functions pass (they are listed, as a reminder to bump the
#    libtool "current" and "age", to add a man page and to add the symbols to
#    debian/libxlchild0.symbols);
#  - a removed function, or a changed type or signature reachable from an
#    exported function, fails.  An intended break needs a new soname
#    (bump current, zero age), and then --update to record the new baseline.
# Only types declared in include/ count: internal structs (libxl__ctx...)
# are opaque to callers, so changing them is not an ABI change.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
baseline=$top/abi/libxlchild.abi
update=no
if [ "${1:-}" = --update ]; then
    update=yes
    shift
fi
so=${1:-}

for t in abidw abidiff; do
    command -v $t >/dev/null 2>&1 || {
        echo "check-abi: $t not found (Debian: apt-get install abigail-tools)" >&2
        exit 2
    }
done

if [ -z "$so" ]; then
    cd "$top"
    [ -x configure ] && [ configure -nt configure.ac ] &&
        [ configure -nt Makefile.am ] || autoreconf -fi
    mkdir -p build/abi
    (cd build/abi &&
        { [ -f Makefile ] || "$top/configure" -q CFLAGS="-O2 -g"; } &&
        make -s -j"$(nproc 2>/dev/null || echo 2)" libxlchild.la)
    so=$top/build/abi/.libs/libxlchild.so
fi
[ -f "$so" ] || { echo "check-abi: $so: no such file" >&2; exit 2; }

abidw_opts=(--headers-dir "$top/include" --drop-private-types
            --no-corpus-path --no-comp-dir-path --short-locs)

if [ $update = yes ]; then
    abidw "${abidw_opts[@]}" --out-file "$baseline" "$so"
    echo "check-abi: wrote $baseline from $so"
    exit 0
fi

[ -f "$baseline" ] || { echo "check-abi: no baseline $baseline" >&2; exit 2; }

diff_opts=(--hd2 "$top/include" --drop-private-types --fail-no-debug-info)
rc=0
abidiff --no-added-syms "${diff_opts[@]}" "$baseline" "$so" || rc=$?
if [ $rc -ne 0 ]; then
    echo "check-abi: FAIL: the ABI of $so differs from $baseline" >&2
    [ $((rc & 3)) -ne 0 ] && echo "check-abi: (abidiff itself failed: $rc)" >&2
    [ $((rc & 8)) -ne 0 ] && echo "check-abi: incompatible change: symbols removed" >&2
    echo "check-abi: if this is intended, bump current and zero age in" \
        "-version-info (a new soname), then run scripts/check-abi.sh --update" >&2
    exit 1
fi
# Additions are compatible; list them.
added=$(abidiff "${diff_opts[@]}" "$baseline" "$so" 2>&1 || true)
if printf '%s\n' "$added" | grep -q '^  \[A\]'; then
    printf '%s\n' "$added"
    echo "check-abi: ok, with additions: bump current and age, add man pages" \
        "and symbols, then run scripts/check-abi.sh --update"
else
    echo "check-abi: ok, the ABI of $(basename "$so") is the baseline's"
fi
