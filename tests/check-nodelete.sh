#!/bin/sh
# check-nodelete.sh - F4: the shared object is marked NODELETE (linked with
# -z nodelete), so that dlclose never unmaps the code of the reaper thread
# and of the SIGCHLD handler, which outlive every ctx.  (The stress suite's
# dlopen/dlclose cycles check what this flag is for.)  Run by `make check`
# from the build directory; exit 77 (skip) when no shared library was built.
set -u

so=${1:-.libs/libxlchild.so}
if [ ! -f "$so" ]; then
    echo "check-nodelete: $so not built; skipping"
    exit 77
fi
if ! command -v readelf >/dev/null 2>&1; then
    echo "check-nodelete: readelf not found; skipping"
    exit 77
fi
if readelf -d "$so" | grep -q 'FLAGS_1.*NODELETE'; then
    echo "check-nodelete: $so is NODELETE"
    exit 0
fi
echo "check-nodelete: $so lacks NODELETE (-Wl,-z,nodelete): dlclose would" \
     "unmap the reaper's code" >&2
exit 1
