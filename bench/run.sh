#!/bin/sh
# run.sh - runs every benchmark workload for every mechanism, interleaved,
# and writes RESULTS.md (see bench/README.md).  Called by `make bench`.
#
#   run.sh [--quick] [--reps N] [--only W1,W3,...]
#
# Environment (set by make bench): XLBENCH_BIN (the built programs),
# XLBENCH_OUT (raw output directory), XLBENCH_RESULTS (the RESULTS.md to
# write; the raw lines go next to it, as RESULTS-raw.txt).  Exit status: 0 if every run passed its checks, 1 otherwise.
#
# Interleaving: each repetition runs every configuration (a workload point)
# in turn, and within a configuration every mechanism back to back, so a
# drift of the machine hits all mechanisms of a point alike.  The order of
# the mechanisms rotates by one per configuration and per repetition.
set -u

here=$(cd "$(dirname "$0")" && pwd)
BIN=${XLBENCH_BIN:-$here}
OUT=${XLBENCH_OUT:-$BIN/out}
RESULTS=${XLBENCH_RESULTS:-$here/RESULTS.md}
REPS=3
QUICK=0
ONLY=""

while [ $# -gt 0 ]; do
    case $1 in
    --quick) QUICK=1; REPS=1 ;;
    --reps) REPS=$2; shift ;;
    --only) ONLY=$2; shift ;;
    *) echo "usage: $0 [--quick] [--reps N] [--only W1,W2,W3,W4,W5,W6]" >&2; exit 2 ;;
    esac
    shift
done

# Sizes: chosen so that the whole run fits in about 7 minutes on 2 cores.
NE=1000      # exec kinds (true, stamp), W1
NF=4000      # fork kind, W1
NL=1000      # W2 extra columns
N3=6000      # W3, fork kind: at 2 000 a run lasted 0.3 s, too short to rank
N3U=1000     # W3, libuv (stamp kind)
NW4=300      # W4, posix_spawn-based
NW4F=15      # W4, fork-based spawning from the 4 GiB parent
NW5=10000    # W5
NW6=200      # W6: synchronous runs capturing 1 MiB each
BIG=4096     # W4 ballast, MiB
SMALL=16
REPS5=1      # W5 is deterministic (heap bytes) and its runs are long
if [ $QUICK = 1 ]; then
    NE=200; NF=500; NL=200; N3=500; N3U=200; NW4=50; NW4F=5; NW5=2000; NW6=50
    BIG=1024
fi

mkdir -p "$OUT"
RAW=$OUT/raw.txt
ERR=$OUT/stderr.txt
: >"$RAW"
: >"$ERR"

have() { [ -x "$BIN/xlbench-$1" ]; }

# mechanism -> command (without workload arguments); empty if not built
mech_cmd() {
    case $1 in
    raw) have raw && echo "$BIN/xlbench-raw" ;;
    raw-forkexec) have raw && echo "$BIN/xlbench-raw -T raw-forkexec" ;;
    raw-thread) have raw && echo "$BIN/xlbench-raw -I -T raw-thread" ;;
    xl-wait) echo "$BIN/xlbench-xlchild -d wait" ;;
    xl-wait-sel) echo "$BIN/xlbench-xlchild -d wait -m selective" ;;
    xl-cb) echo "$BIN/xlbench-xlchild -d cb" ;;
    xl-cb-sel) echo "$BIN/xlbench-xlchild -d cb -m selective" ;;
    xl-poll) echo "$BIN/xlbench-xlchild -d poll" ;;
    xl-poll-sel) echo "$BIN/xlbench-xlchild -d poll -m selective" ;;
    xl-main) echo "$BIN/xlbench-xlchild -d main" ;;
    xl-poll-sel-1024) echo "$BIN/xlbench-xlchild -d poll -m selective -f 1024 -T xl-poll-sel-nofile1024" ;;
    xl-wait-sel-1024) echo "$BIN/xlbench-xlchild -d wait -m selective -f 1024 -T xl-wait-sel-nofile1024" ;;
    glib|libuv|libev|sdevent) have "$1" && echo "$BIN/xlbench-$1" ;;
    cap-raw) have capture && echo "$BIN/xlbench-capture -m raw" ;;
    cap-xlchild) have capture && echo "$BIN/xlbench-capture -m xlchild" ;;
    cap-glib) have capture && have glib && echo "$BIN/xlbench-capture -m glib" ;;
    esac
}

XL="xl-wait xl-wait-sel xl-cb xl-cb-sel xl-poll xl-poll-sel xl-main"
XLF="xl-cb xl-cb-sel xl-poll xl-poll-sel xl-main"
ALL="raw raw-thread $XL glib libev libuv sdevent"
# raw-thread: raw with one idle thread more, the floor of any library with a
# thread of its own (W1b is where it shows: bench/README.md §1d)
FORKM="raw raw-thread $XLF glib libev sdevent"
# W3 is about who reaps, not how the application is driven: one xlchild
# variant per reaping mode (xl-cb* reap exactly like xl-poll*).
W3M="raw xl-poll xl-poll-sel xl-main glib libev sdevent libuv"

# One configuration per line: id | workload | mechanisms | arguments
# [| only in the first R repetitions].  In W3, libuv (which cannot watch
# fork children) runs the stamp kind; see adjust() below.  W4's fork-based
# methods are ~100x slower from the big parent, which needs no median to
# show: they run once.
configs() {
    cat <<EOF
W1a-c1|W1|$ALL|-k true -n $NE -c 1
W1a-c16|W1|$ALL|-k true -n $NE -c 16
W1a-c256|W1|$ALL|-k true -n $NE -c 256
W1b-c1|W1|$FORKM|-k fork -n $NF -c 1
W1b-c16|W1|$FORKM|-k fork -n $NF -c 16
W1b-c256|W1|$FORKM|-k fork -n $NF -c 256
W1c-c16|W1|$ALL|-k stamp -n $NE -c 16
W2-fsleep|W2|$FORKM|-k fork -n $NL -c 16 -s 5000
EOF
    # W3's figure is a ratio between runs of one mechanism: its three runs
    # follow each other, so that what drifts over a minute or two of the
    # machine's life (the fork rate moves by 10-20 %) does not land in it.
    for m3 in $W3M; do
        for k3 in 0 1000 4000; do
            echo "W3-k$k3|W3|$m3|-k fork -n $N3 -c 16 -K $k3"
        done
    done
    cat <<EOF
W4-small|W4|raw xl-wait|-k true -n $NW4 -c 1 -B $SMALL
W4-big|W4|raw xl-wait|-k true -n $NW4 -c 1 -B $BIG
W4-small|W4|raw-forkexec libuv|-k true -n $NW4 -c 1 -B $SMALL|1
W4-big|W4|raw-forkexec libuv|-k true -n $NW4F -c 1 -B $BIG|1
W6-cap|W6|cap-raw cap-xlchild cap-glib|-n $NW6 -s 1048576
EOF
}

# W2 at C=1: a run's p50 moves by a quarter from one run to the next, for
# every mechanism, raw included, pinned to one CPU or not (64-89 us for
# raw in ten runs here): the machine's state of the moment.  A median of 3
# says more of the moment than of the mechanism, and the runs are short:
# 3x the repetitions.
configs2() {
    cat <<EOF
W2-s1|W2|$ALL|-k stamp -n $NL -c 1
EOF
}

# W5: the per-child bookkeeping is deterministic, and 10 000 children take
# seconds to make: one repetition.  raw is left out (it keeps nothing per
# child); xl-poll (owner_libxl) keeps the same records as xl-poll-sel.
configs5() {
    cat <<EOF
W5-fork|W5|xl-poll-sel glib libev sdevent xl-poll-sel-1024|-k fork -n $NW5 -M
W5-exec|W5|xl-wait-sel libuv xl-wait-sel-1024|-k stamp -n $NW5 -M
EOF
}

# per-mechanism adjustments of a configuration's arguments
# (sh has no local variables: each function uses its own prefix)
adjust() { # id mech args
    a_id=$1 a_mech=$2 a_args=$3
    case $a_id:$a_mech in
    W3-*:libuv) a_args=$(echo "$a_args" | sed "s/-k fork -n $N3/-k stamp -n $N3U/") ;;
    W4-*:raw-forkexec) a_args=$(echo "$a_args" | sed 's/-k true/-k forkexec/') ;;
    esac
    echo "$a_args"
}

wanted() { # workload
    [ -z "$ONLY" ] && return 0
    case ",$ONLY," in *",$1,"*) return 0 ;; esac
    return 1
}

rotate() { # n words...
    r_n=$1; shift
    [ $# -eq 0 ] && return
    r_n=$((r_n % $#))
    r_i=0
    for r_w in "$@"; do [ $r_i -ge $r_n ] && printf '%s ' "$r_w"; r_i=$((r_i + 1)); done
    r_i=0
    for r_w in "$@"; do [ $r_i -lt $r_n ] && printf '%s ' "$r_w"; r_i=$((r_i + 1)); done
}

FAILS=0
RUNS=0
run_one() { # rep id mech args
    o_rep=$1 o_id=$2 o_mech=$3 o_args=$4
    o_cmd=$(mech_cmd "$o_mech")
    [ -n "$o_cmd" ] || return 0
    RUNS=$((RUNS + 1))
    # shellcheck disable=SC2086
    o_line=$($o_cmd $o_args -w 90 2>>"$ERR")
    o_rc=$?
    if [ $o_rc -ne 0 ] || [ -z "$o_line" ]; then
        FAILS=$((FAILS + 1))
        echo "rep=$o_rep cfg=$o_id mech=$o_mech FAILED rc=$o_rc args=$o_args" >>"$RAW"
        echo "  FAILED: $o_mech $o_args (rc=$o_rc, see $ERR)" >&2
        return
    fi
    echo "rep=$o_rep cfg=$o_id $(echo "$o_line" | sed 's/^RESULT //')" >>"$RAW"
}

start=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench: $REPS repetitions; raw output in $RAW; load before: $load_before" >&2

ci=0
run_configs() { # reps lister
    reps=$1 lister=$2
    r=1
    while [ $r -le "$reps" ]; do
        $lister >"$OUT/.configs" # read below without a subshell
        while IFS='|' read -r id wl mechs args maxrep; do
            wanted "$wl" || continue
            [ -n "$maxrep" ] && [ "$r" -gt "$maxrep" ] && continue
            ci=$((ci + 1))
            echo "  rep $r/$reps $id ($(($(date +%s) - start)) s)" >&2
            # shellcheck disable=SC2086
            for m in $(rotate $((r + ci)) $mechs); do
                run_one "$r" "$id" "$m" "$(adjust "$id" "$m" "$args")"
            done
        done <"$OUT/.configs"
        r=$((r + 1))
    done
}
REPS2=$((3 * REPS))
run_configs "$REPS" configs
run_configs "$REPS2" configs2
run_configs "$REPS5" configs5
rm -f "$OUT/.configs"

elapsed=$(($(date +%s) - start))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench: $RUNS runs, $FAILS failed, ${elapsed} s; load after: $load_after" >&2

# ---------------------------------------------------------------- machine
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }
{
    echo "nproc=$(nproc)"
    echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
    echo "virt=$(systemd-detect-virt 2>/dev/null || echo unknown)"
    echo "kernel=$(uname -r)"
    echo "debian=$(cat /etc/debian_version 2>/dev/null || echo ?)"
    echo "mem_gib=$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)"
    echo "thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)"
    echo "pid_max=$(cat /proc/sys/kernel/pid_max)"
    echo "nofile=$(ulimit -Sn)/$(ulimit -Hn)"
    echo "libc6=$(ver libc6)"
    echo "gcc=$(${CC:-cc} --version 2>/dev/null | head -1)"
    echo "glib=$(ver libglib2.0-0)"
    echo "libuv=$(ver libuv1)"
    echo "libev=$(ver libev4)"
    echo "libsystemd=$(ver libsystemd0)"
    echo "xlchild=$(git -C "$here/.." describe --always --dirty 2>/dev/null || echo ?)"
    echo "reps=$REPS"
    echo "reps_w5=$REPS5"
    echo "reps_w2s1=$REPS2"
    echo "quick=$QUICK"
    echo "sizes=NE=$NE NF=$NF NL=$NL N3=$N3 N3U=$N3U NW4=$NW4 NW4F=$NW4F NW5=$NW5 NW6=$NW6 BIG=$BIG SMALL=$SMALL"
    echo "load_before=$load_before"
    echo "load_after=$load_after"
    echo "elapsed_s=$elapsed"
    echo "runs=$RUNS"
    echo "fails=$FAILS"
    if pgrep -x kdamond.0 >/dev/null 2>&1; then echo "kdamond=running"; fi
} >"$OUT/machine.txt"

RAWCOPY=${RESULTS%.md}-raw.txt
if command -v python3 >/dev/null 2>&1; then
    python3 "$here/summarize.py" "$OUT/raw.txt" "$OUT/machine.txt" >"$RESULTS.tmp" &&
        mv "$RESULTS.tmp" "$RESULTS" && echo "bench: wrote $RESULTS" >&2
    # the per-run lines behind the medians, kept next to RESULTS.md
    cat "$OUT/machine.txt" "$OUT/raw.txt" >"$RAWCOPY"
else
    echo "bench: python3 not found: raw results only, in $RAW" >&2
fi
[ "$FAILS" -eq 0 ]
