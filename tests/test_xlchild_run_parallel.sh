#!/usr/bin/env bash
# test_xlchild_run_parallel.sh - xlchild-run as a GNU parallel user types
# it: argument mode and its quoting, replacement strings, --link, --colsep,
# -I, --joblog/--resume/--retries, --halt and the exit status, the output
# modes, -j forms and pacing, --dry-run, -v, --csv; and byte-exact output.
#
# Each case checks xlchild-run against a fixed expectation, and where GNU
# parallel is installed (Debian: parallel) also side by side with it: the
# same arguments, the same output.  Without parallel those comparisons are
# skipped, and say so.  Run from the build directory, like
# test_xlchild_run.sh (XLCHILD_RUN=... to name the binary).
set -u

X=${XLCHILD_RUN:-./tools/xlchild-run}
if [ ! -x "$X" ]; then
    echo "Bail out! no executable $X (run from the build directory)"
    exit 99
fi
X=$(cd "$(dirname "$X")" && pwd)/$(basename "$X")
T=$(mktemp -d "${TMPDIR:-/tmp}/xlrp.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 99

n=0
failed=0
ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}
not_ok() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
    return 0
}
skip() {
    n=$((n + 1))
    echo "ok $n - $1 # SKIP $2"
}
check() {
    local d=$1
    shift
    if "$@"; then ok "$d"; else not_ok "$d"; fi
}
is() {
    [ "$1" = "$2" ] && return 0
    printf '#   got:  %s\n#   want: %s\n' "$1" "$2" | head -20
    return 1
}

if command -v timeout > /dev/null; then
    WD="timeout -k 5 120"
else
    WD=""
fi

# GNU parallel, if any, quiet about its citation notice.
PAR=""
if command -v parallel > /dev/null &&
    parallel --version 2> /dev/null | grep -q 'GNU parallel'; then
    export PARALLEL_HOME="$T/.parallel"
    mkdir -p "$PARALLEL_HOME"
    touch "$PARALLEL_HOME/will-cite"
    PAR=parallel
fi
NOPAR="GNU parallel is not installed (Debian: apt-get install parallel)"

# xr ARGS...: xlchild-run -q (no result lines: output only, as parallel),
# stdin from $T/in or /dev/null; stdout in $T/x.out, status in $xrc.
xr() {
    local in=/dev/null
    [ -e "$T/in" ] && in=$T/in
    $WD "$X" -q "$@" < "$in" > "$T/x.out" 2> "$T/x.err"
    xrc=$?
}
# par ARGS...: the same with GNU parallel, into $T/p.out and $prc.
par() {
    local in=/dev/null
    [ -e "$T/in" ] && in=$T/in
    $WD parallel "$@" < "$in" > "$T/p.out" 2> "$T/p.err"
    prc=$?
}
# like_parallel DESCRIPTION ARGS...: xlchild-run and parallel, same
# arguments, byte-identical standard output and the same exit status
# (xlchild-run with --exit-status=count, parallel's).  $XOPT: an option
# for xlchild-run only.
like_parallel() {
    local d=$1
    shift
    if [ -z "$PAR" ]; then
        skip "as GNU parallel: $d" "$NOPAR"
        return
    fi
    xr --exit-status=count ${XOPT:-} "$@"
    par "$@"
    if cmp -s "$T/x.out" "$T/p.out" && [ "$xrc" = "$prc" ]; then
        ok "as GNU parallel: $d"
    else
        not_ok "as GNU parallel: $d (exit $xrc, parallel $prc)"
        diff "$T/p.out" "$T/x.out" | head -10 | sed 's/^/#   /'
    fi
}
# expect DESCRIPTION WANT ARGS...: xlchild-run's stdout is WANT (printf
# %b, so \n and \t may be written as such) and it exits 0.
expect() {
    local d=$1 want=$2
    shift 2
    xr "$@"
    printf '%b' "$want" > "$T/want"
    if cmp -s "$T/x.out" "$T/want" && [ "$xrc" = 0 ]; then
        ok "$d"
    else
        not_ok "$d (exit $xrc)"
        diff "$T/want" "$T/x.out" | head -10 | sed 's/^/#   /'
        sed -n '1,5s/^/#   err: /p' "$T/x.err"
    fi
}

rm -f "$T/in"

# ---------------------------------------------------------------------
echo "# argument mode and quoting: no argument is ever code"

expect "::: arguments appended, quoted as parallel quotes" \
    "echo 'a b'\necho 'it'\"'\"'s'\necho 'x\$(y)'\necho ''\necho plain-_.+/1\n" \
    -k --dry-run echo ::: 'a b' "it's" 'x$(y)' '' 'plain-_.+/1'
like_parallel "quoting of awkward arguments (--dry-run)" \
    -k --dry-run echo ::: 'a b' "it's" 'x$(y)' '' 'a*b' 'é' "'x" "x'" "a''b" \
    '#x' '!x' 'a\b' '~x' '-n' 'a"b' '{}' 'a;b' '*'
like_parallel "awkward arguments reach the command unchanged" \
    -k -j1 printf '%s|\n' ::: 'a b' "it's" 'x$(y)' '' 'a*b' "a''b" '\n' '`x`'

mkdir "$T/files" && cd "$T/files" || exit 99
: > 'x$(touch PWNED).log'
: > 'with space.log'
: > "it's.log"
cd "$T" || exit 99
find "$T/files" -name '*.log' -print0 |
    $WD "$X" -q -0 gzip -- > /dev/null 2>&1
check "find -print0 | xlchild-run -0 gzip --: no file name is code" \
    test ! -e "$T/files/PWNED" -a ! -e "$T/PWNED"
check "find -print0 | xlchild-run -0 gzip --: every file done" \
    is "$(find "$T/files" -name '*.log.gz' | wc -l)" 3
printf 'a b\nc\n' > "$T/in"
expect "input lines as arguments" "a b\nc\n" -k -j1 echo
like_parallel "input lines as arguments" -k echo
rm -f "$T/in"
expect "no COMMAND: each ::: argument is a command" "1\n2\n" \
    -k ::: 'echo 1' 'echo 2'
like_parallel "no COMMAND: ::: arguments are commands" -k ::: 'echo 1' 'echo 2; echo 3'
expect "--no-shell COMMAND: arguments as words, no shell" "a b|\$(x)|" \
    -j1 -k --no-shell printf '%s|' ::: 'a b' '$(x)'

# ---------------------------------------------------------------------
echo "# replacement strings"

expect "{} {.} {/} {//} {/.} {#} {%}" \
    "echo dir/sub/f.tar.gz dir/sub/f.tar f.tar.gz dir/sub f.tar 1 1\n" \
    --dry-run echo {} {.} {/} {//} {/.} {#} {%} ::: dir/sub/f.tar.gz
like_parallel "{.} {/.} {//} {/} on awkward paths" \
    -k --dry-run echo {.} {/.} {//} {/} ::: .hidden dir.x/file a.b/ /x.y a/.b \
    'a/b.' dir/ / '' 'a..b' 'x/.' '//a//b//'
like_parallel "{N} {-N} and out of range" \
    -k --dry-run echo {2} {1} {-1} {3} {1.} {2/} ::: a/b.c ::: d/e.f
like_parallel "{} with several sources: all, quoted one by one" \
    -k --dry-run echo {} ::: a ::: 'b c'
like_parallel "x{}y and \"{}\" (quoted inside quotes, as parallel does)" \
    -k --dry-run 'echo x{}y "{}"' ::: 'a b'
like_parallel "-I STR: STR, nothing else" -k --dry-run -I XX echo XX {} {1} ::: aa
like_parallel "not replacement strings: { } {a} {0x}" \
    -k --dry-run echo '{ }' '{a}' '{0x}' ::: x
like_parallel "{#} and {%} count as replacement strings" \
    -j1 -k echo {#} {%} ::: a b

# ---------------------------------------------------------------------
echo "# several sources: every combination, --link, ::::, -a, --colsep"

expect "::: A ::: B: every combination, the last turning fastest" \
    "a 1\na 2\nb 1\nb 2\n" -k echo ::: a b ::: 1 2
like_parallel "::: A ::: B" -k echo ::: a b c ::: 1 2
expect "--link: side by side, the shorter starting over" "a 1\nb 2\nc 1\n" \
    -k --link echo ::: a b c ::: 1 2
like_parallel "--link" -k --link echo ::: a b c d e ::: 1 2 ::: x y z
printf 'f1\nf2\n' > "$T/list"
expect ":::+: side by side with the source before, as far as the shorter goes" \
    "a 1 x\na 1 y\nb 2 x\nb 2 y\n" -k echo ::: a b c :::+ 1 2 ::: x y
like_parallel ":::+" -k echo ::: a b c :::+ 1 2 3 ::: x y
like_parallel ":::+ with a shorter source" -k echo ::: a b c :::+ 1 2
like_parallel ":::: FILE ::: ARGS" -k echo :::: "$T/list" ::: x y
like_parallel "-a FILE -a FILE" -k echo -a "$T/list" -a "$T/list"
like_parallel "::::+" -k echo ::: a b :::: "$T/list" ::::+ "$T/list"
printf 'a\tb c\nd\te f\n' > "$T/tsv"
expect "--colsep '\\t'" "b c a\ne f d\n" -k --colsep '\t' echo {2} {1} :::: "$T/tsv"
like_parallel "--colsep '\\t' and {N}" -k --colsep '\t' echo {2} {1} :::: "$T/tsv"
like_parallel "--colsep without replacement strings: columns appended" \
    -k --colsep '\t' echo :::: "$T/tsv"
printf 'a,,b\nc,d\n' > "$T/csvin"
like_parallel "--colsep as a regular expression" -k --colsep ',+' echo {2} :::: "$T/csvin"
printf 'x\n\ny\n' > "$T/in"
expect "blank input lines skipped by default" "XxX\nXyX\n" -k echo X{}X
XOPT=--blank-lines=keep like_parallel \
    "--blank-lines=keep: an empty argument, as parallel" -k echo X{}X
printf 'a b\0c\nd\0' > "$T/in"
like_parallel "-0: NUL-terminated arguments, newlines in them" -k -0 echo X{}X
printf 'p\nq\n' > "$T/in"
like_parallel ":::: - (standard input) beside ::: arguments" -k echo {1}{2} :::: - ::: 1 2
rm -f "$T/in"
like_parallel "an empty source beside another: one empty argument" -k echo ::: a ::: 
like_parallel "an empty source alone: no jobs" -k echo :::

xr --results "$T/res" echo {}-out ::: a b
check "--results in argument mode: DIR/N.out per job" \
    is "$(cat "$T/res/1.out" "$T/res/2.out" | tr '\n' ' ')" "a-out b-out "

# ---------------------------------------------------------------------
echo "# output: byte for byte, --group, --line-buffer, -u, --tag, -v"

head -c 3000000 /dev/urandom > "$T/bin"
for mode in "" --group -u --line-buffer -k; do
    xr $mode cat ::: "$T/bin"
    check "a 3 000 000-byte binary file through ${mode:-the default mode}: byte-exact" \
        cmp -s "$T/x.out" "$T/bin"
done
head -c 10000000 /dev/zero | tr '\0' x > "$T/long"
xr cat ::: "$T/long"
check "a 10 MB line without a newline: byte-exact" cmp -s "$T/x.out" "$T/long"
xr --tagstring T cat ::: "$T/long"
check "a 10 MB line, tagged: the tag once, the line whole" \
    is "$(wc -c < "$T/x.out") $(head -c 2 "$T/x.out" | od -An -c | tr -d ' ')" \
    "10000002 T\\t"
# Job a writes, waits, writes; job b starts writing after a's first line.
ab=('echo a1; sleep 0.9; echo a2' 'sleep 0.3; echo b1; echo b2')
like_parallel "--group: each job's whole output at once, in the order they end" \
    -j2 --group ::: "${ab[@]}"
expect "--group" "b1\nb2\na1\na2\n" -j2 --group ::: "${ab[@]}"
expect "--line-buffer (the default): whole lines as they come" \
    "a1\nb1\nb2\na2\n" -j2 ::: "${ab[@]}"
like_parallel "--line-buffer" -j1 --line-buffer 'echo {}-1; echo {}-2 >&2' ::: 6 1
like_parallel "-k --group" -k -j3 --group 'echo {}-1; sleep 0.{}; echo {}-2' ::: 5 1 3
expect "-u: bytes as they come" "ab" -j1 -u printf ::: a b
like_parallel "-u" -j1 -u printf ::: a b
like_parallel "--tag: the arguments and a tab" -k --tag echo ::: a 'b c' ::: 1
like_parallel "--tagstring with replacement strings" -k -j1 --tagstring '{#}-{}' echo ::: a b
like_parallel "-v: the command before its output" -k -v echo ::: a 'b c'
like_parallel "a last line without a newline, and stderr" -k -j1 \
    'printf "{}"; printf "e{}\n" >&2' ::: a b

# ---------------------------------------------------------------------
echo "# --joblog, --resume, --resume-failed, --retries"

# The columns that do not depend on the clock (Starttime, JobRuntime).
jl_fields() { cut -f1,2,5- "$1"; }
xr -j1 --joblog "$T/x.jl" ::: true 'exit 3' 'kill -9 $$' 'echo four'
check "--joblog: parallel's header" \
    is "$(head -n1 "$T/x.jl")" "$(printf 'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand')"
check "--joblog: Seq Host Send Receive Exitval Signal Command" \
    is "$(jl_fields "$T/x.jl" | sed 1d | tr '\t\n' ',;')" \
    "1,:,0,0,0,0,true;2,:,0,0,3,0,exit 3;3,:,0,0,0,9,kill -9 \$\$;4,:,0,5,0,0,echo four;"
check "--joblog: Starttime and JobRuntime as parallel writes them" \
    is "$(sed 1d "$T/x.jl" | cut -f3,4 | grep -cvE '^[0-9]+\.[0-9]{3}	 *[0-9]+\.[0-9]{3}$')" 0
check "--joblog: JobRuntime 10 wide" \
    is "$(sed 1d "$T/x.jl" | cut -f4 | awk '{ print length($0) }' | sort -u)" 10
if [ -n "$PAR" ]; then
    par -j1 --joblog "$T/p.jl" ::: true 'exit 3' 'kill -9 $$' 'echo four'
    check "as GNU parallel: --joblog, but for the times" \
        is "$(jl_fields "$T/x.jl")" "$(jl_fields "$T/p.jl")"
else
    skip "as GNU parallel: --joblog" "$NOPAR"
fi

resume_case() { # resume_case TOOL LOG: a first run, then --resume, then --resume-failed
    local run=$1 log=$2
    rm -f "$log"
    $run -k -j1 --joblog "$log" ::: 'echo 1' 'echo 2; exit 1' 'echo 3'
    cat "$T/$3.out"
    $run -k -j1 --joblog "$log" --resume ::: 'echo 1' 'echo 2; exit 1' 'echo 3' 'echo 4'
    cat "$T/$3.out"
    $run -k -j1 --joblog "$log" --resume-failed ::: 'echo 1' 'echo 2; exit 1' 'echo 3' 'echo 4' 'echo 5'
    cat "$T/$3.out"
    cut -f1,7 "$log" | tr '\t\n' ',;'
}
resume_case xr "$T/x.rl" x > "$T/x.resume"
check "--resume runs what is new; --resume-failed the failed ones too" \
    is "$(tr '\n' ' ' < "$T/x.resume")" \
    "1 2 3 4 2 5 Seq,Exitval;1,0;2,1;3,0;4,0;2,1;5,0;"
if [ -n "$PAR" ]; then
    resume_case par "$T/p.rl" p > "$T/p.resume"
    check "as GNU parallel: --resume, --resume-failed" \
        is "$(cat "$T/x.resume")" "$(cat "$T/p.resume")"
    # Each resumes the other's log: the same format.
    xr -k -j1 --joblog "$T/p.rl" --resume ::: 'echo 1' 'echo 2; exit 1' 'echo 3' 'echo 4' 'echo 5' 'echo 6'
    check "--resume from GNU parallel's own joblog" is "$(cat "$T/x.out")" 6
else
    skip "as GNU parallel: --resume, --resume-failed" "$NOPAR"
    skip "--resume from GNU parallel's own joblog" "$NOPAR"
fi

cp "$T/x.rl" "$T/x.rl.before"
xr --dry-run -k --joblog "$T/x.rl" --resume-failed ::: 'echo 1' 'echo 2; exit 1' 'echo 3' 'echo 4' 'echo 5' 'echo 6'
check "--dry-run --resume-failed: what would run, the log untouched" \
    is "$(tr '\n' ' ' < "$T/x.out")$(cmp -s "$T/x.rl" "$T/x.rl.before" && echo same)" \
    "echo 2; exit 1 echo 6 same"

rm -f "$T/count"
xr --retries 3 "echo try; echo {} >> $T/count; exit 1" ::: a
check "--retries 3: three attempts in all" is "$(wc -l < "$T/count")" 3
check "--retries: failed in the end: exit 1" is "$xrc" 1
rm -f "$T/count"
xr --retries 3 "echo {} >> $T/count; [ \$(wc -l < $T/count) = 2 ]" ::: a
check "--retries: stops at the first success" is "$xrc $(wc -l < "$T/count")" "0 2"
like_parallel "--retries --group: the last attempt's output only" \
    --retries 3 --group ": {}; echo try; exit 1" ::: a
like_parallel "-k --retries: the jobs after a retried one kept, in order" \
    -k -j2 --group --retries 2 ::: 'echo a; exit 1' 'sleep 0.2; echo b' 'echo c'
xr -k -j2 --retries 2 ::: 'echo a; exit 1' 'sleep 0.2; echo b' 'echo c'
check "-k --retries, whole lines: every job reported" \
    is "$(tr '\n' ' ' < "$T/x.out")" "a a b c "
# Stopped while a job waits for its next attempt (--delay holds it back):
# the job is over with the result of its last attempt, reported.
rm -f "$T/tried"
"$X" -k --retries 3 --delay 5 ::: "touch $T/tried; exit 1" > "$T/x.out" 2> "$T/x.err" &
pid=$!
for i in $(seq 200); do
    [ -e "$T/tried" ] && break
    sleep 0.05
done
sleep 1 # its status reaped, the retry queued (generous: a loaded machine)
kill -TERM "$pid"
wait "$pid"
xrc=$?
check "stopped while a retry waits: exit 143" is "$xrc" 143
check "stopped while a retry waits: reported with its last result" \
    grep -q '^\[1\] exit 1 .*tried; exit 1$' "$T/x.out"
check "stopped while a retry waits: counted" \
    grep -q ': 1 job: 0 succeeded, 1 failed; ' "$T/x.err"
# (GNU parallel 20221122 prints one to three of the attempts here.)
xr --retries 3 --line-buffer ": {}; echo try; exit 1" ::: a
check "--retries --line-buffer: every attempt's output" is "$(cat "$T/x.out")" "$(printf 'try\ntry\ntry')"

# ---------------------------------------------------------------------
echo "# --halt and the exit status"

like_parallel "exit status: the number of failed jobs" \
    -j1 ::: true false 'exit 3' 'kill -9 $$'
xr -j4 ::: $(seq 102 | sed 's/.*/false/')
check "--exit-status=summary (default): 1 when some failed" is "$xrc" 1
xr --exit-status=count -j4 false ::: $(seq 102)
check "--exit-status=count: 101 for more than 100 failures" is "$xrc" 101
like_parallel "--halt now,fail=1: the failing job's status, the running killed" \
    -j2 --halt now,fail=1 ::: 'sleep 0.3; exit 4' 'sleep 5; echo not-killed' 'echo never'
like_parallel "--halt soon,fail=2: the number failed" \
    -j1 --halt soon,fail=2 ::: 'exit 4' 'exit 5' 'echo never'
like_parallel "--halt now,success=1" -j1 --halt now,success=1 ::: 'exit 4' 'exit 0' 'echo never'
like_parallel "--halt now,done=2" -j1 --halt now,done=2 ::: 'exit 4' 'exit 0' 'echo never'
like_parallel "--halt 2 (now,fail=1)" -j1 --halt 2 ::: 'exit 4' 'echo never'
like_parallel "--halt 1 (soon,fail=1)" -j2 --halt 1 ::: 'sleep 0.3; exit 4' 'sleep 1; echo finishes' 'echo never'
xr -j1 --halt soon,fail=50% ::: 'exit 1' true true true
check "--halt soon,fail=50%: half of the known total" is "$(grep -c 'fail=50%' "$T/x.err")" 0
xr -j1 --halt soon,fail=50% ::: 'exit 1' 'exit 1' true true
check "--halt soon,fail=50%: reached at the second failure" \
    is "$(grep -c 'fail=50% reached' "$T/x.err")" 1
xr --halt now,success=1 -j2 ::: 'sleep 5' 'true'
check "--halt ...,success: the killed are no failure (summary status 0)" is "$xrc" 0

# ---------------------------------------------------------------------
echo "# slots and pacing: -j forms, --delay, --load, --memfree"

cpus=$(nproc)
# The highest {%} seen is the number of slots: every slot is filled at
# once when there are enough jobs that last a moment.
max_slot() { # max_slot JOBS [OPTIONS...]
    local j=$1
    shift
    xr -j "$j" "$@" 'sleep 0.3; echo {%}' ::: $(seq $((2 * cpus + 8)))
    sort -n "$T/x.out" | tail -n1
}
check "-j 3" is "$(max_slot 3)" 3
check "-j +1: CPUs + 1" is "$(max_slot +1)" $((cpus + 1))
check "-j -1: CPUs - 1, at least 1" is "$(max_slot -1)" $((cpus > 1 ? cpus - 1 : 1))
check "-j 200%: twice the CPUs" is "$(max_slot 200%)" $((2 * cpus))
check "-j 0: as many as possible" is "$(max_slot 0)" $((2 * cpus + 8))
check "--memfree more than there is: one at a time" \
    is "$(max_slot 4 --memfree 1000T)" 1
check "--memfree 1k: no limit in practice" is "$(max_slot 4 --memfree 1k)" 4
check "--load 1000: no limit in practice" is "$(max_slot 4 --load 1000)" 4
xr -j4 --delay 0.3 'date +%s.%N' ::: 1 2 3
check "--delay 0.3: starts at least 0.3 s apart" \
    awk 'NR > 1 && $1 - p < 0.29 { bad = 1 } { p = $1 } END { exit bad }' "$T/x.out"

# ---------------------------------------------------------------------
echo "# --dry-run, --progress, --bar, --csv"

xr --dry-run "touch $T/ran-{}" ::: a b
check "--dry-run: nothing runs" test ! -e "$T/ran-a"
like_parallel "--dry-run: the commands" -k --dry-run "touch $T/ran-{}" ::: a b
$WD "$X" -q --progress true ::: a b 2> "$T/x.err" > /dev/null
check "--progress on a pipe: the progress line" grep -q '2/2 done' "$T/x.err"
$WD "$X" -q --eta true ::: a b 2> "$T/x.err" > /dev/null
check "--eta: the progress line, with the ETA" grep -q '2/2 done.*ETA' "$T/x.err"
$WD "$X" -q --bar true ::: a b 2> "$T/x.err" > /dev/null
check "--bar: a bar" grep -q '100% \[#' "$T/x.err"
$WD "$X" --csv --log "$T/x.out" -k ::: true 'exit 3' 'echo "a,b"' > /dev/null 2>&1
check "--csv: a header, then a record per job" \
    is "$(cut -d, -f1 "$T/x.out" | tr -d '\r' | tr '\n' ' ')" "seq 1 2 3 "
if command -v python3 > /dev/null; then
    check "--csv: parses as CSV" python3 -c '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert [r["command"] for r in rows] == ["true", "exit 3", "echo \"a,b\""], rows
assert [r["ok"] for r in rows] == ["true", "false", "true"]
assert [r["exit"] for r in rows] == ["0", "3", "0"]' "$T/x.out"
else
    skip "--csv: parses as CSV" "no python3"
fi

# ---------------------------------------------------------------------
echo "# SIGINT with jobs read ahead"

# 300 jobs on a pipe, -j 2: the ones read ahead but not started are no
# jobs of the count ("2 jobs", not "258 jobs ... 256 not started").
# Without job control (no terminal: set -m fails), the shell starts a
# background job with SIGINT ignored, which xlchild-run keeps ignored, as
# make and the shells do: env puts it back to its default first.
DFL=""
if env --default-signal=INT true 2> /dev/null; then
    DFL="env --default-signal=INT"
fi
set -m 2> /dev/null
seq 300 | sed 's/.*/sleep 30/' | $DFL "$X" -j 2 > "$T/x.out" 2> "$T/x.err" &
pid=$!
set +m
for i in $(seq 100); do
    [ "$(pgrep -c -P "$pid" 2> /dev/null)" -ge 2 ] 2> /dev/null && break
    sleep 0.05
done
kill -INT "$pid"
for i in $(seq 600); do # a hang fails the check, not the whole suite
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.1
done
kill -KILL "$pid" 2> /dev/null
wait "$pid"
check "SIGINT: exit 130" is "$?" 130
check "SIGINT: the read-ahead is not counted" \
    grep -q '^xlchild-run: 2 jobs: 0 succeeded, 2 aborted; ' "$T/x.err"

echo "1..$n"
if [ "$failed" != 0 ]; then
    echo "# $failed of $n checks failed"
    exit 1
fi
exit 0
