#!/usr/bin/env bash
# bench-runner.sh - xlchild-run against xargs -P and GNU parallel, side by
# side, in one run.
#
#   bench/bench-runner.sh [XLCHILD_RUN] [N] [REPS]
#
# 1. N (default 3000) lines of /bin/true through
#        xlchild-run --no-shell -j J   and   xargs -P J -n 1 /bin/true
#    for J in $JOBS (default "1 8 64"), REPS times each (default 5), the two
#    interleaved and their order swapped every repetition so that neither
#    always gets the warmer cache; and through GNU parallel -j J (if it is
#    installed, $PREPS times, default 3: it is much slower).  Prints the
#    median wall time of each and the ratio xlchild-run/xargs (below 1:
#    xlchild-run is faster), for wall time and for CPU time (user+system,
#    the tool and its children), and how many times faster than parallel
#    xlchild-run is.
#
#    xargs runs "/bin/true LINE" per line: the same program, one process
#    per line, as xlchild-run --no-shell runs the line "/bin/true" itself.
#    parallel runs each line as a command, as it does.  All have stdout and
#    stderr on /dev/null (xlchild-run still captures each job's output
#    through its pipes and writes its result lines there).
#
# 2. A real mixed list ($MIXED items, default 160): compiles of small C
#    files and checksums of 1 MiB files, as shell commands, at -j in
#    $MIXED_JOBS (default "2 8"): xargs -P J sh -c LINE against xlchild-run
#    on the same lines, and xlchild-run in argument mode (a template and
#    the item lines, --colsep) against the very command lines that mode
#    makes (from its --dry-run), run as a job list: the difference is what
#    argument expansion and quoting cost.
#
# It builds nothing.  XLCHILD_RUN defaults to the first xlchild-run found
# in build*/tools/, build/*/tools/ or /tmp/b*/tools/ (sanitizer builds
# skipped), then in PATH.
set -eu
export LC_ALL=C # the decimal point of time's output

bin=${1:-}
n=${2:-3000}
reps=${3:-5}
jobs=${JOBS:-"1 8 64"}
preps=${PREPS:-3}
mixed=${MIXED:-160}
mixed_jobs=${MIXED_JOBS:-"2 8"}
have_par=0
if command -v parallel > /dev/null &&
    parallel --version 2> /dev/null | grep -q 'GNU parallel'; then
    have_par=1
fi

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
if ((have_par)); then
    export PARALLEL_HOME="$tmp/.parallel" # its citation notice, silenced
    mkdir -p "$PARALLEL_HOME" && touch "$PARALLEL_HOME/will-cite"
fi
yes /bin/true | head -n "$n" > "$tmp/lines"

# One run of a command on the job list: "WALL CPU" in seconds, CPU being
# user+system of the tool and every process it waited for.  The CPU column
# is the steadier one on a busy machine.  Fails if the command fails.
timed() {
    local t
    t=$({ TIMEFORMAT='%R %U %S'; time "$@" < "${INPUT:-$tmp/lines}" > /dev/null 2>&1; } 2>&1) || {
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

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

echo "xlchild-run: $bin"
echo "xargs:       $(command -v xargs) ($(xargs --version 2>/dev/null | head -n 1))"
if ((have_par)); then
    echo "parallel:    $(command -v parallel) ($(parallel --version 2> /dev/null | head -n 1))"
else
    echo "parallel:    not installed (Debian: parallel): its columns stay empty"
fi
echo "LD_LIBRARY_PATH (all): ${LD_LIBRARY_PATH:-unset}"
echo "$n x /bin/true, $reps repetitions ($preps for parallel), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "medians in seconds; ratio = xlchild-run / xargs (below 1: faster);"
echo "x par = how many times faster than GNU parallel (wall)"
echo
printf '%-5s %27s   %27s   %19s\n' "" "---------- wall ----------" \
    "---------- cpu -----------" "----- parallel ----"
printf '%-5s %9s %9s %7s   %9s %9s %7s   %9s %9s\n' "-j" "xargs" "xlchild" \
    "ratio" "xargs" "xlchild" "ratio" "wall" "x par"
for j in $jobs; do
    : > "$tmp/x"
    : > "$tmp/r"
    : > "$tmp/p"
    for ((i = 0; i < reps; i++)); do
        if ((i % 2 == 0)); then
            timed xargs -P "$j" -n 1 /bin/true >> "$tmp/x"
            timed "$bin" --no-shell -j "$j" >> "$tmp/r"
        else
            timed "$bin" --no-shell -j "$j" >> "$tmp/r"
            timed xargs -P "$j" -n 1 /bin/true >> "$tmp/x"
        fi
    done
    for ((i = 0; have_par && i < preps; i++)); do
        timed parallel -j "$j" >> "$tmp/p"
    done
    wx=$(median 1 < "$tmp/x")
    wr=$(median 1 < "$tmp/r")
    cx=$(median 2 < "$tmp/x")
    cr=$(median 2 < "$tmp/r")
    wp=-
    xp=-
    if [ -s "$tmp/p" ]; then
        wp=$(median 1 < "$tmp/p")
        xp=$(ratio "$wp" "$wr")
    fi
    printf '%-5s %9s %9s %7s   %9s %9s %7s   %9s %9s\n' "$j" "$wx" "$wr" \
        "$(ratio "$wr" "$wx")" "$cx" "$cr" "$(ratio "$cr" "$cx")" "$wp" "$xp"
    [ -z "${VERBOSE:-}" ] ||
        echo "  (wall cpu) xargs: $(tr '\n' ',' < "$tmp/x")" \
            "xlchild-run: $(tr '\n' ',' < "$tmp/r")" \
            "parallel: $(tr '\n' ',' < "$tmp/p")"
done

# --- The mixed list ---------------------------------------------------
if [ "$mixed" -le 0 ]; then
    echo "MIXED=0: mixed list skipped"
    exit 0
fi
command -v cc > /dev/null && command -v sha256sum > /dev/null || {
    echo "no cc or sha256sum: mixed list skipped"
    exit 0
}
mkdir "$tmp/m"
for ((i = 0; i < mixed; i++)); do
    if ((i % 2 == 0)); then
        printf 'static int t%d[64];\nint f%d(int x) { int s = 0; for (int k = 0; k < x; k++) s += t%d[k %% 64] * k; return s; }\n' \
            "$i" "$i" "$i" > "$tmp/m/f$i.c"
        echo "cc $tmp/m/f$i.c"
    else
        head -c 1048576 /dev/urandom > "$tmp/m/d$i.dat"
        echo "sum $tmp/m/d$i.dat"
    fi
done > "$tmp/items"
tmpl='case {1} in cc) cc -c -o /dev/null {2} ;; sum) sha256sum {2} > /dev/null ;; esac'
"$bin" -q --dry-run --colsep ' ' "$tmpl" :::: "$tmp/items" > "$tmp/cmds"
echo
echo "mixed list: $mixed items (compiles of small C files, sha256sum of 1 MiB files), $reps repetitions"
echo "lines = the command lines as a job list; args = argument mode (--colsep ' ' TEMPLATE :::: items),"
echo "which makes the very same command lines; cost = args / lines - 1"
printf '%-5s %9s %9s %7s   %9s %9s %7s   %9s %9s %7s\n' "" "xargs" "xlchild" \
    "ratio" "lines" "args" "cost" "lines" "args" "cost"
printf '%-5s %27s   %27s   %27s\n' "-j" "---------- wall ----------" \
    "---------- wall ----------" "---------- cpu -----------"
for j in $mixed_jobs; do
    : > "$tmp/x"
    : > "$tmp/r"
    : > "$tmp/a"
    for ((i = 0; i < reps; i++)); do
        if ((i % 2 == 0)); then
            INPUT=$tmp/cmds timed xargs -P "$j" -n 1 -d '\n' sh -c >> "$tmp/x"
            INPUT=$tmp/cmds timed "$bin" -j "$j" >> "$tmp/r"
            INPUT=/dev/null timed "$bin" -j "$j" --colsep ' ' "$tmpl" :::: "$tmp/items" >> "$tmp/a"
        else
            INPUT=/dev/null timed "$bin" -j "$j" --colsep ' ' "$tmpl" :::: "$tmp/items" >> "$tmp/a"
            INPUT=$tmp/cmds timed "$bin" -j "$j" >> "$tmp/r"
            INPUT=$tmp/cmds timed xargs -P "$j" -n 1 -d '\n' sh -c >> "$tmp/x"
        fi
    done
    wx=$(median 1 < "$tmp/x")
    wr=$(median 1 < "$tmp/r")
    wa=$(median 1 < "$tmp/a")
    cr=$(median 2 < "$tmp/r")
    ca=$(median 2 < "$tmp/a")
    printf '%-5s %9s %9s %7s   %9s %9s %6s%%   %9s %9s %6s%%\n' "$j" "$wx" "$wr" \
        "$(ratio "$wr" "$wx")" "$wr" "$wa" \
        "$(awk -v a="$wa" -v b="$wr" 'BEGIN { printf "%+.1f", (a / b - 1) * 100 }')" \
        "$cr" "$ca" \
        "$(awk -v a="$ca" -v b="$cr" 'BEGIN { printf "%+.1f", (a / b - 1) * 100 }')"
done
# The expansion alone, without the noise of running anything: --dry-run
# over the items 100 times over, against --dry-run of the same command
# lines as a job list; per job, as a share of a job's time in the run.
for ((i = 0; i < 100; i++)); do cat "$tmp/items"; done > "$tmp/items100"
for ((i = 0; i < 100; i++)); do cat "$tmp/cmds"; done > "$tmp/cmds100"
: > "$tmp/dl"
: > "$tmp/da"
for ((i = 0; i < reps; i++)); do
    INPUT=$tmp/cmds100 timed "$bin" -q --dry-run >> "$tmp/dl"
    INPUT=/dev/null timed "$bin" -q --dry-run --colsep ' ' "$tmpl" :::: "$tmp/items100" >> "$tmp/da"
done
dl=$(median 2 < "$tmp/dl")
da=$(median 2 < "$tmp/da")
awk -v a="$da" -v l="$dl" -v n="$((100 * mixed))" -v w="$wr" -v m="$mixed" -v j="${j:-}" 'BEGIN {
    per = (a - l) / n; if (per < 0) per = 0;
    printf "expansion alone (--dry-run, %d jobs): %.1f us per job; %.4f%% of a job'"'"'s share of the -j %s run (%.2f ms)\n",
        n, per * 1e6, per / (w / m) * 100, j, w / m * 1000 }'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
