#!/usr/bin/env bash
# bench-runner.sh - xlchild-run against xargs -P, side by side, in one run.
#
#   bench/bench-runner.sh [XLCHILD_RUN] [N] [REPS]
#
# Runs N (default 5000) lines of /bin/true through
#     xlchild-run --no-shell -j J      and      xargs -P J -n 1 /bin/true
# for J in $JOBS (default "1 8 64"), REPS times each (default 5), the two
# interleaved and their order swapped every repetition so that neither
# always gets the warmer cache.  Prints the median wall time of each and
# the ratio xlchild-run/xargs (below 1: xlchild-run is faster), for wall
# time and for CPU time (user+system, the tool and its children).
#
# xargs runs "/bin/true LINE" per line: the same program, one process per
# line, as xlchild-run --no-shell runs the line "/bin/true" itself.  Both
# have stdout and stderr on /dev/null (xlchild-run still captures each
# job's output through its pipes and writes its result lines there).
#
# It builds nothing.  XLCHILD_RUN defaults to the first xlchild-run found
# in build*/tools/, build/*/tools/ or /tmp/b*/tools/ (sanitizer builds
# skipped), then in PATH.
set -eu
export LC_ALL=C # the decimal point of time's output

bin=${1:-}
n=${2:-5000}
reps=${3:-5}
jobs=${JOBS:-"1 8 64"}

if [ -z "$bin" ]; then
    here=$(cd "$(dirname "$0")/.." && pwd)
    for c in "$here"/build*/tools/xlchild-run "$here"/build/*/tools/xlchild-run \
        /tmp/b*/tools/xlchild-run; do
        case $c in *san*) continue ;; esac # a sanitizer build is no measure
        if [ -x "$c" ]; then bin=$c; break; fi
    done
    [ -n "$bin" ] || bin=$(command -v xlchild-run || true)
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    echo "bench-runner.sh: no xlchild-run found; pass its path" >&2
    exit 2
fi
# A libtool wrapper (the uninstalled build) exports LD_LIBRARY_PATH, which
# every child inherits and which makes each /bin/true's dynamic loader look
# in one more directory.  Run the real program instead, and give both tools
# the same LD_LIBRARY_PATH, so that their children start alike.
if head -c 2 "$bin" | grep -q '#!' && grep -q 'libtool' "$bin"; then
    real="$(dirname "$bin")/.libs/$(basename "$bin")"
    libdir=$(sed -n 's/^ *LD_LIBRARY_PATH="\([^:"]*\).*/\1/p' "$bin" | head -n 1)
    if [ -x "$real" ] && [ -n "$libdir" ]; then
        bin=$real
        export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
fi
case $n$reps in *[!0-9]*)
    echo "usage: bench-runner.sh [XLCHILD_RUN] [N] [REPS]" >&2; exit 2 ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
yes /bin/true | head -n "$n" > "$tmp/lines"

# One run of a command on the job list: "WALL CPU" in seconds, CPU being
# user+system of the tool and every process it waited for.  The CPU column
# is the steadier one on a busy machine.  Fails if the command fails.
timed() {
    local t
    t=$({ TIMEFORMAT='%R %U %S'; time "$@" < "$tmp/lines" > /dev/null 2>&1; } 2>&1) || {
        echo "bench-runner.sh: failed: $*" >&2
        exit 1
    }
    awk '{ printf "%.4f %.4f\n", $1, $2 + $3 }' <<< "$t"
}

# median COLUMN < lines
median() {
    awk -v c="$1" '{ print $c }' | sort -g | awk '{ v[NR] = $1 }
        END { if (NR % 2) print v[(NR + 1) / 2];
              else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "xlchild-run: $bin"
echo "xargs:       $(command -v xargs) ($(xargs --version 2>/dev/null | head -n 1))"
echo "LD_LIBRARY_PATH (both): ${LD_LIBRARY_PATH:-unset}"
echo "$n x /bin/true, $reps repetitions, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "medians in seconds; ratio = xlchild-run / xargs (below 1: faster)"
echo
printf '%-5s %27s   %27s\n' "" "---------- wall ----------" \
    "---------- cpu -----------"
printf '%-5s %9s %9s %7s   %9s %9s %7s\n' "-j" "xargs" "xlchild" "ratio" \
    "xargs" "xlchild" "ratio"
for j in $jobs; do
    : > "$tmp/x"
    : > "$tmp/r"
    for ((i = 0; i < reps; i++)); do
        if ((i % 2 == 0)); then
            timed xargs -P "$j" -n 1 /bin/true >> "$tmp/x"
            timed "$bin" --no-shell -j "$j" >> "$tmp/r"
        else
            timed "$bin" --no-shell -j "$j" >> "$tmp/r"
            timed xargs -P "$j" -n 1 /bin/true >> "$tmp/x"
        fi
    done
    wx=$(median 1 < "$tmp/x")
    wr=$(median 1 < "$tmp/r")
    cx=$(median 2 < "$tmp/x")
    cr=$(median 2 < "$tmp/r")
    printf '%-5s %9s %9s %7s   %9s %9s %7s\n' "$j" "$wx" "$wr" \
        "$(awk -v a="$wr" -v b="$wx" 'BEGIN { printf "%.3f", a / b }')" \
        "$cx" "$cr" \
        "$(awk -v a="$cr" -v b="$cx" 'BEGIN { printf "%.3f", a / b }')"
    [ -z "${VERBOSE:-}" ] ||
        echo "  (wall cpu) xargs: $(tr '\n' ',' < "$tmp/x")" \
            "xlchild-run: $(tr '\n' ',' < "$tmp/r")"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
