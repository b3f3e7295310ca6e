#!/bin/bash
# Builds xlchild and runs its main job: xlchild-run on the example job list
# (six commands at once; one fails, one is killed by its timeout).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ -x configure ] || autoreconf -fi
mkdir -p build/demo && cd build/demo
[ -f Makefile ] || "$top/configure" -q
make -s -j"$(nproc)" libxlchild.la tools/xlchild-run
# Exit status 1 is expected: the job list has a failure and a timeout.
./tools/xlchild-run --timeout 2 --tagstring '[{#}]' -a "$top/examples/jobs.txt" ||
    [ $? -eq 1 ]
