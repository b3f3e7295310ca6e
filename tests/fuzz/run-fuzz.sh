#!/bin/sh
# run-fuzz.sh - the body of `make fuzz`: runs each libFuzzer target for a
# fixed time, one process at a time, from the build directory.
#
#   run-fuzz.sh SRCDIR SECONDS NAME...
#
# For NAME: the program tests/fuzz/fuzz-NAME, a working corpus in
# tests/fuzz/work/NAME (kept between runs, seeded from the committed
# SRCDIR/tests/fuzz/corpus/NAME and regress/NAME, which are only read),
# crash artifacts in tests/fuzz/artifacts/NAME/, the log in
# tests/fuzz/fuzz-NAME.log.  Exits 1 if any target found something, after
# saying how to reproduce it.
set -u
srcdir=$1
seconds=$2
shift 2
failed=

for name in "$@"; do
    prog=tests/fuzz/fuzz-$name
    work=tests/fuzz/work/$name
    art=tests/fuzz/artifacts/$name
    log=tests/fuzz/fuzz-$name.log
    mkdir -p "$work" "$art" || exit 1
    set --
    for d in "$srcdir/tests/fuzz/corpus/$name" "$srcdir/tests/fuzz/regress/$name"; do
        [ -d "$d" ] && set -- "$@" "$d"
    done
    dict=$srcdir/tests/fuzz/$name.dict
    [ "$name" = null ] && dict=$srcdir/tests/fuzz/lines.dict
    [ -f "$dict" ] && set -- "-dict=$dict" "$@"
    echo "fuzz-$name: $seconds s (log: $log)"
    # -close_fd_mask=3: the tool's own messages (to stdout and stderr) are
    # noise here; libFuzzer and the targets' checks keep a copy of stderr.
    "./$prog" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$art/" \
        "$work" "$@" > "$log" 2>&1
    rc=$?
    # The numbers: total runs, runs per second, coverage at the end.
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/.*\(cov: [0-9]*\).*\(ft: [0-9]*\).*\(corp: [^ ]*\).*/\1 \2 \3/p')
    echo "fuzz-$name: ${runs:-?} runs, ${rate:-?}/s, $cov"
    if [ "$rc" -ne 0 ]; then
        failed="$failed $name"
        echo "fuzz-$name: FAILED (libFuzzer exit status $rc); the end of $log:"
        tail -n 40 "$log" | sed 's/^/    /'
        found=$(ls -t "$art" 2> /dev/null | head -n 1)
        if [ -n "$found" ]; then
            echo "fuzz-$name: reproduce with"
            echo "    ./$prog $art/$found"
            echo "    ./tests/fuzz/regress-$name $art/$found   (no clang needed)"
            echo "  once fixed, minimize it and keep it as a regression input:"
            echo "    ./$prog -minimize_crash=1 -runs=20000 -exact_artifact_path=min $art/$found"
            echo "    cp min $srcdir/tests/fuzz/regress/$name/<what-it-was>"
        fi
    fi
done

if [ -n "$failed" ]; then
    echo "make fuzz: failed:$failed"
    exit 1
fi
echo "make fuzz: nothing found"
