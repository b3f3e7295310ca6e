#!/bin/bash
# Builds xlchild and runs the example job.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ -x configure ] || autoreconf -fi
mkdir -p build/demo && cd build/demo
[ -f Makefile ] || "$top/configure" -q
make -s -j"$(nproc)" libxlchild.la examples/run-some
./examples/run-some 'sleep 0.3; exit 3' 'echo hello from a child' \
    'kill -9 $$' 'sleep 30' 'true' || true
