#!/usr/bin/env bash
# test_xlchild_run.sh - xlchild-run, the real binary, from the outside:
# exit codes, signals, timeouts, ordering, whole lines, JSON, SIGINT with
# children running, --halt, bad input.
#
# Run by make check from the build directory (./tools/xlchild-run), or by
# hand with XLCHILD_RUN=/path/to/xlchild-run.  Prints TAP-like lines; exits
# 1 if any check failed, 99 if it cannot run at all.  Time limits are
# generous: they catch hangs, not slowness, on a loaded machine.
set -u

X=${XLCHILD_RUN:-./tools/xlchild-run}
srcdir=${srcdir:-.}
if [ ! -x "$X" ]; then
    echo "Bail out! no executable $X (run from the build directory)"
    exit 99
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/xlrt.XXXXXX") || exit 99
cleanup() {
    local p
    # Process groups that a failed check may have left behind.
    for p in "$T"/*.pgid; do
        [ -f "$p" ] && kill -KILL -- "-$(cat "$p")" 2> /dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT

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
    # What the last run said, to see why.
    [ -s "$T/out" ] && sed -n '1,20s/^/#   out: /p' "$T/out"
    [ -s "$T/err" ] && sed -n '1,20s/^/#   err: /p' "$T/err"
    return 0
}
# check DESCRIPTION COMMAND...: ok when COMMAND succeeds.
check() {
    local d=$1
    shift
    if "$@"; then ok "$d"; else not_ok "$d"; fi
}
has() { grep -q -e "$1" "${2:-$T/out}"; }
hasnt() { ! grep -q -e "$1" "${2:-$T/out}"; }
is() { [ "$1" = "$2" ]; }
now() { echo "${EPOCHREALTIME:-$(date +%s.%N)}"; }
# less_than A B: A < B, as decimals.
less_than() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# A watchdog, so that a hang fails the test instead of make check.
if command -v timeout > /dev/null; then
    WD="timeout -k 5 120"
else
    WD=""
fi

# run ARGS...: xlchild-run, stdout in $T/out, stderr in $T/err, status in
# $rc, wall time in $el.  Input from $T/in when it exists, else none.
run() {
    local t0
    t0=$(now)
    if [ -e "$T/in" ]; then
        $WD "$X" "$@" < "$T/in" > "$T/out" 2> "$T/err"
    else
        $WD "$X" "$@" < /dev/null > "$T/out" 2> "$T/err"
    fi
    rc=$?
    el=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')
}
# input LINES...: the job list, one argument per line.
input() { printf '%s\n' "$@" > "$T/in"; }

# live_in_group PGID: some live process is in the group.  Zombies do not
# count: a killed member reparented to an init that reaps lazily (as in
# some containers) stays a zombie for a while, dead all the same.
live_in_group() {
    local s line state pgrp
    for s in /proc/[0-9]*/stat; do
        read -r line < "$s" 2> /dev/null || continue
        line=${line##*) }       # after "pid (comm) "
        state=${line%% *}
        line=${line#* }         # ppid pgrp ...
        line=${line#* }
        pgrp=${line%% *}
        [ "$state" != Z ] && [ "$pgrp" = "$1" ] && return 0
    done
    return 1
}

# group_gone PGID: true once no live process is left in the group (a
# killed member may take a moment to die after its leader was reaped).
group_gone() {
    local i
    for i in $(seq 200); do
        live_in_group "$1" || return 0
        sleep 0.05
    done
    return 1
}

# ---------------------------------------------------------------------
echo "# help, version, exit codes"

run --help
check "--help exits 0" is "$rc" 0
check "--help shows the usage" has "^Usage: xlchild-run"
run --version
check "--version exits 0" is "$rc" 0
check "--version names it" has "^xlchild-run (xlchild) "

input 'true' 'echo hello'
run
check "all succeeded: exit 0" is "$rc" 0
check "output passed through" has "^hello$"
check "a result line per command" has "^\[2\] exit 0  [0-9.]*s  echo hello$"
check "summary on stderr" has "^xlchild-run: 2 jobs: 2 succeeded; " "$T/err"

input 'true' 'exit 3' 'true'
run -j 2
check "some failed: exit 1" is "$rc" 1
check "exit status in the result" has "^\[2\] exit 3  "
check "failures in the summary" has ": 3 jobs: 2 succeeded, 1 failed; " "$T/err"

: > "$T/in"
run
check "empty input: exit 0" is "$rc" 0
check "empty input: 0 jobs" has ": 0 jobs: 0 succeeded" "$T/err"

input 'kill -KILL $$' 'kill -SEGV $$'
run -j 1
check "killed: exit 1" is "$rc" 1
check "signal name in the result" has '^\[1\] signal SIGKILL  [0-9.]*s  kill -KILL \$\$$'
check "SIGSEGV by name" has '^\[2\] signal SIGSEGV'

# ---------------------------------------------------------------------
echo "# timeouts"

input 'sleep 30'
run --timeout 0.3
check "timed out: exit 1" is "$rc" 1
check "timed out: SIGTERM, marked" has '^\[1\] signal SIGTERM (timed out)  '
check "timed out: in time" less_than "$el" 10
check "timed out: counted" has "1 failed (1 timed out)" "$T/err"

input "trap '' TERM; sleep 30"
run --timeout 0.3 --kill-after 0.3
check "SIGTERM ignored: SIGKILL after the grace" \
    has '^\[1\] signal SIGKILL (timed out)  '
check "SIGTERM ignored: in time" less_than "$el" 10

# The kill reaches the whole group: the shell's background child too.
input "echo \$\$ > $T/grp.pgid; sleep 30 & sleep 30; wait"
run --timeout 0.5
check "group: timed out" has '(timed out)'
check "group: every member killed" group_gone "$(cat "$T/grp.pgid")"

# The background sleep outlives the check's bound by far; its group is
# killed once checked.
input "echo \$\$ > $T/bg.pgid; sleep 60 & echo early"
run
check "background child holding the pipe: finished anyway" less_than "$el" 20
check "background child: output kept" has '^early$'
kill -KILL -- "-$(cat "$T/bg.pgid")" 2> /dev/null

# ---------------------------------------------------------------------
echo "# order and whole lines"

# c, then b, then a: each waits for the one before it to have printed,
# then leaves the runner time to pass that on.  Sleeps alone would race
# on a loaded machine, where starting a shell can take longer than them.
order_input() {
    rm -f "$T/ord.b" "$T/ord.c"
    input "until [ -e $T/ord.b ]; do sleep 0.02; done; sleep 0.3; echo a" \
        "until [ -e $T/ord.c ]; do sleep 0.02; done; sleep 0.3; echo b; : > $T/ord.b" \
        "echo c; : > $T/ord.c"
}
order_input
run -j 3
check "without -k: in order of completion" \
    is "$(grep -v '^\[' "$T/out" | tr -d '\n')" "cba"
order_input
run -j 3 -k
check "-k: output in input order" \
    is "$(grep -v '^\[' "$T/out" | tr -d '\n')" "abc"
check "-k: results in input order" \
    is "$(sed -n 's/^\[\([0-9]*\)\].*/\1/p' "$T/out" | tr -d '\n')" "123"
check "-k: each result after its output" \
    is "$(awk '{ printf "%s ", $1 }' "$T/out")" "a [1] b [2] c [3] "

# Four jobs writing 3000 lines each in two halves: never a mixed line.
for i in 1 2 3 4; do
    echo "i=0; while [ \$i -lt 3000 ]; do printf 'job$i-'; printf 'line-%s-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n' \$i; i=\$((i+1)); done"
done > "$T/in"
run -j 4 -q
check "concurrent output: every line" is "$(wc -l < "$T/out")" 12000
check "concurrent output: no line mixed" \
    is "$(grep -cvE '^job[1-4]-line-[0-9]+-x{34}$' "$T/out")" 0
run -j 4 -q --tagstring '[{#}]'
check "--tagstring: every line tagged with its own job" \
    is "$(grep -cvE '^\[([1-4])\]	job\1-line-[0-9]+-x{34}$' "$T/out")" 0
run -j 4 -q -k
check "-k: each job's lines together" \
    is "$(cut -d- -f1 "$T/out" | uniq | tr -d '\n')" "job1job2job3job4"

input 'printf "no newline"' 'printf "x\ny"'
run -j 1 -q -k
printf 'no newlinex\ny' > "$T/want"
check "a last partial line stays as it is (byte-exact)" cmp -s "$T/out" "$T/want"

# ---------------------------------------------------------------------
echo "# JSON"

{
    echo 'true'
    echo 'exit 3'
    echo 'kill -KILL $$'
    echo 'sleep 30'
    printf '%s\n' 'echo "quote\" back\\slash	tab" > /dev/null'
    printf 'echo \377 > /dev/null\n'
} > "$T/in"
run --json --log "$T/log" --timeout 0.5 -j 6
check "--json: exit 1" is "$rc" 1
check "--json --log: one object per command" is "$(wc -l < "$T/log")" 6
check "--json --log: nothing else on stdout" is "$(wc -c < "$T/out")" 0
if command -v jq > /dev/null; then
    valid() { jq -e . "$T/log" > /dev/null; }
    check "--json: every line is valid JSON" valid
    j() { jq -r -s "$1" "$T/log"; }
    check "--json: exit status" is "$(j 'map(select(.seq==2))[0].exit')" 3
    check "--json: signal" is "$(j 'map(select(.seq==3))[0].signal')" SIGKILL
    check "--json: timed out" is "$(j 'map(select(.seq==4))[0].timed_out')" true
    check "--json: ok" is "$(j 'map(select(.ok))|length')" 3
    check "--json: strings escaped" \
        is "$(j 'map(select(.seq==5))[0].command')" \
        'echo "quote\" back\\slash	tab" > /dev/null'
    check "--json: invalid UTF-8 replaced" \
        is "$(j 'map(select(.seq==6))[0].command')" 'echo � > /dev/null'
    check "--json: pids" is "$(j 'map(select(.pid > 0))|length')" 6
elif command -v python3 > /dev/null; then
    check "--json: every line is valid JSON" python3 -c '
import json, sys
for l in open(sys.argv[1], encoding="utf-8"):
    json.loads(l)' "$T/log"
else
    echo "# no jq or python3: JSON validity not checked"
fi
rm -f "$T/in"
input 'true' 'false'
run --json
check "--json on stdout: two objects" is "$(grep -c '^{"seq":' "$T/out")" 2
input 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done'
run --json
check "--json: CPU time of the command" \
    awk -F'"user_s":' '{ split($2, a, ","); exit !(a[1] > 0) }' "$T/out"

# ---------------------------------------------------------------------
echo "# --halt"

# The failing job waits until the three others are running.
rm -f "$T"/halt.*
input "until [ -e $T/halt.2 ] && [ -e $T/halt.3 ] && [ -e $T/halt.4 ]; do sleep 0.02; done; exit 1" \
    ": > $T/halt.2; sleep 30" ": > $T/halt.3; sleep 30" ": > $T/halt.4; sleep 30" \
    'echo never'
run -j 4 --halt now
check "--halt now: exit 1" is "$rc" 1
check "--halt now: the running are killed" is "$(grep -c '(aborted)' "$T/out")" 3
check "--halt now: nothing more started" hasnt never
check "--halt now: in time" less_than "$el" 10
check "--halt now: summary" has "1 failed, 3 aborted, 1 not started" "$T/err"

input "until [ -e $T/halt.soon ]; do sleep 0.02; done; exit 1" \
    ": > $T/halt.soon; sleep 0.5" 'echo never'
run -j 2 --halt soon
check "--halt soon: exit 1" is "$rc" 1
check "--halt soon: the running finish" has '^\[2\] exit 0  '
check "--halt soon: nothing more started" hasnt never

# ---------------------------------------------------------------------
echo "# --no-shell, --results, -0, input sources"

input "echo  a   'b'" 'no-such-program-xlrt x'
run --no-shell -j 1
check "--no-shell: words, no quoting" has "^a 'b'$"
check "--no-shell: a missing program is not started" \
    has '^\[2\] not started: No such file or directory  '
check "--no-shell: exit 1" is "$rc" 1

input 'echo to-out; echo to-err >&2'
run --results "$T/res"
check "--results: stdout saved" is "$(cat "$T/res/1.out")" to-out
check "--results: stderr saved" is "$(cat "$T/res/1.err")" to-err
check "--results: not passed through" hasnt '^to-'

printf 'echo one\0echo a\necho b\0' > "$T/in"
run -0 -k -j 2
check "-0: items" is "$(grep -v '^\[' "$T/out" | tr '\n' ' ')" "one a b "
check "-0: a newline in a command shown escaped" has '^\[2\] exit 0  .*  echo a\\necho b$'

input 'echo from-file'
cp "$T/in" "$T/jobs"
rm -f "$T/in"
run -a "$T/jobs"
check "-a FILE" has '^from-file$'
run :::: "$T/jobs"
check ":::: FILE without a command: lines are commands" has '^from-file$'
$WD "$X" -a - < "$T/jobs" > "$T/out" 2> "$T/err"
check "-a - is standard input" has '^from-file$'
cat "$T/jobs" | $WD "$X" > "$T/out" 2> "$T/err"
check "a pipe on standard input" has '^from-file$'

# A reader that goes away: no hang, exit 1.
for i in $(seq 300); do echo "echo line$i"; done > "$T/in"
t0=$(now)
$WD "$X" -j 2 < "$T/in" 2> "$T/err" | head -n 1 > "$T/out"
st=("${PIPESTATUS[@]}")
check "stdout closed early: exit 1" is "${st[0]}" 1
check "stdout closed early: said so" has "Broken pipe" "$T/err"
check "stdout closed early: no hang" less_than "$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')" 30

# ---------------------------------------------------------------------
echo "# bad input"

bad() { # bad DESCRIPTION PATTERN ARGS...: exit 2 and PATTERN on stderr.
    local d=$1 pat=$2
    shift 2
    run "$@"
    if [ "$rc" = 2 ] && grep -q -e "$pat" "$T/err"; then
        ok "$d"
    else
        not_ok "$d (exit $rc)"
    fi
}
rm -f "$T/in"
bad "unknown option" "unknown option '--frobnicate'" --frobnicate
bad "unknown short option" "unknown option '-Z'" -Z
bad "-j not a number" "'many' is not N, +N, -N or N%" -j many
bad "-j bad form" "'+3%' is not N" -j +3%
bad "option without its argument" "needs an argument" --timeout
bad "bad --timeout" "'-1' is not a number of seconds" --timeout -1
bad "bad --timeout unit" "'1x' is not a number" --timeout 1x
bad "bad --halt" "--halt: 'later'" --halt later
bad "missing file" "cannot open '$T/none'" -a "$T/none"
bad "a directory" "is a directory" -a "$T"
bad "--results in a file" "--results" --results /dev/null/x -a "$T/jobs"
bad "--log in a missing directory" "--log" --log "$T/no/such" -a "$T/jobs"
if [ "$(id -u)" != 0 ]; then
    cp "$T/jobs" "$T/unreadable"
    chmod 000 "$T/unreadable"
    bad "unreadable file" "Permission denied" -a "$T/unreadable"
fi

input "touch $T/ran" '' 'true'
cp "$T/in" "$T/blank"
rm -f "$T/in"
bad "--blank-lines=error: empty line" "blank:2: blank line" \
    --blank-lines=error -a "$T/blank"
check "--blank-lines=error: found before anything ran" test ! -e "$T/ran"
input 'true' '   ' 'true'
bad "--blank-lines=error: blank line" ":2: blank line" --blank-lines=error
input 'true' '' 'true' ''
run --skip-empty
check "--skip-empty" is "$rc $(grep -c '^\[' "$T/out")" "0 2"
run
check "blank lines skipped by default, also the last" \
    is "$rc $(grep -c '^\[' "$T/out")" "0 2"
printf 'echo a\n\necho c\n' | $WD "$X" -j1 -q > "$T/out" 2> "$T/err"
check "a blank line in a pipe: skipped, the rest runs" \
    is "$? $(tr -d '\n' < "$T/out")" "0 ac"

{ printf ': '; head -c 131069 /dev/zero | tr '\0' a; echo; } > "$T/in"
run
check "a line of 131071 bytes runs" is "$rc" 0
{ printf ': '; head -c 131070 /dev/zero | tr '\0' a; echo; } > "$T/in"
bad "a line too long" ":1: line longer than 131071 bytes"
printf 'true\necho a\0b\n' > "$T/in"
bad "a NUL byte in a line" ":2: contains a NUL byte"
printf 'true\n\necho never\n' | $WD "$X" -j 1 --blank-lines=error > "$T/out" 2> "$T/err"
rc=$?
check "bad line in a pipe: exit 2" is "$rc" 2
check "bad line in a pipe: nothing after it runs" hasnt never
rm -f "$T/in"

# A parent that ignores SIGCHLD (the kernel would then discard the
# statuses): the tool takes SIGCHLD back, quietly.
input 'true' 'exit 4'
(
    trap '' CHLD # inherited as SIG_IGN; no $WD: timeout(1) would reset it
    exec "$X" < "$T/in" > "$T/out" 2> "$T/err"
)
rc=$?
check "SIGCHLD ignored by the parent: statuses still there" has '^\[2\] exit 4  '
check "SIGCHLD ignored by the parent: exit 1" is "$rc" 1
check "SIGCHLD ignored by the parent: no warning" is "$(grep -vc '^xlchild-run: 2 jobs' "$T/err")" 0
rm -f "$T/in"

# A child the tool inherited (its parent forked it, then exec'd the tool)
# is not the tool's: the library leaves it unreaped (selective mode), so a
# job still sees it as the tool's zombie; nothing is said of it.  The child
# exits only when that job tells it to: one that exited before the exec
# would be reaped by the shell that forked it (on a loaded machine a fixed
# sleep was not always long enough).
input 'true' "read p < '$T/inh'; : > '$T/go'; i=0; while [ \$i -lt 200 ] && s=\$(cut -d' ' -f3 /proc/\$p/stat) && [ \$s != Z ]; do sleep 0.05; i=\$((i + 1)); done; echo \$s" 'exit 4'
rm -f "$T/go"
sh -c '(i=0; while [ ! -e "$6" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done; exit 3) &
       echo $! > "$5"; exec "$1" < "$2" > "$3" 2> "$4"' \
    sh "$X" "$T/in" "$T/out" "$T/err" "$T/inh" "$T/go"
rc=$?
check "inherited child: the jobs' statuses" has '^\[3\] exit 4  '
check "inherited child: not reaped by the tool" has '^Z$'
check "inherited child: exit 1" is "$rc" 1
check "inherited child: nothing said of it" is "$(grep -vc '^xlchild-run: 3 jobs' "$T/err")" 0
rm -f "$T/in" "$T/inh" "$T/go"

# ---------------------------------------------------------------------
echo "# signals: everything killed and reaped"

# sigtest SIGNAL STATUS: three long jobs and three quick ones; once the
# long ones run, SIGNAL; expect STATUS, their groups gone, no zombie.
DFL=""
if env --default-signal=INT true 2> /dev/null; then
    DFL="env --default-signal=INT"
fi
sigtest() {
    local sig=$1 want=$2 pid i z
    rm -f "$T"/s.* "$T"/*.pgid
    {
        for i in 1 2 3; do echo "echo \$\$ > $T/s$i.pgid; sleep 30 & sleep 30"; done
        for i in 1 2 3; do echo true; done
    } > "$T/jobs"
    # Job control: a background job of a script would have SIGINT ignored,
    # and xlchild-run keeps ignored signals ignored.  Without a terminal
    # set -m fails: env then puts SIGINT back to its default.
    set -m 2> /dev/null
    $WD $DFL "$X" -j 6 -a "$T/jobs" > "$T/out" 2> "$T/err" &
    pid=$!
    set +m
    for i in $(seq 200); do
        [ -s "$T/s1.pgid" ] && [ -s "$T/s2.pgid" ] && [ -s "$T/s3.pgid" ] && break
        sleep 0.05
    done
    # The quick ones are over by now: reaped, not zombies.  (Their
    # statuses reach the reaper asynchronously: allow a moment.)
    for i in $(seq 40); do
        z=0
        for s in /proc/[0-9]*/stat; do
            read -r _ _ st pp _ 2> /dev/null < "$s" || continue
            [ "$pp" = "$pid" ] && [ "$st" = Z ] && z=$((z + 1))
        done
        [ "$z" = 0 ] && break
        sleep 0.05
    done
    check "$sig: no zombie while running" is "$z" 0
    kill -"$sig" "$pid"
    wait "$pid"
    rc=$?
    check "$sig: exit $want" is "$rc" "$want"
    check "$sig: running jobs reported aborted" \
        is "$(grep -c '(aborted)' "$T/out")" 3
    check "$sig: summary printed" has "stopped by SIG$sig" "$T/err"
    for i in 1 2 3; do
        check "$sig: job $i's group is gone" group_gone "$(cat "$T/s$i.pgid")"
    done
}
if [ -n "$WD" ]; then WD_SAVE=$WD; WD=""; fi # $! must be xlchild-run
sigtest INT 130
sigtest TERM 143
WD=${WD_SAVE:-}

# ---------------------------------------------------------------------
echo "# the whole group is killed"

# A group member that ignores SIGTERM, whose leader dies of it: the library
# SIGKILLs what is left of the group before it reaps the leader.
input "echo \$\$ > $T/xf.pgid; (trap '' TERM; exec sleep 30) & wait"
run --timeout 0.3 --kill-after 0.3
check "timeout: a SIGTERM-ignoring member dies with its leader's group" \
    group_gone "$(cat "$T/xf.pgid")"

# ---------------------------------------------------------------------
echo "# the README's first command, and the documentation"

if [ -f "$srcdir/examples/jobs.txt" ]; then
    rm -f "$T/in"
    run -j 4 --timeout 1 -a "$srcdir/examples/jobs.txt"
    check "examples/jobs.txt: exit 1" is "$rc" 1
    check "examples/jobs.txt: one fails with 3" has '^\[3\] exit 3  '
    check "examples/jobs.txt: one times out" has '^\[4\] signal SIGTERM (timed out)  '
    check "examples/jobs.txt: several lines" \
        is "$(grep -c '^step [1-3] of 3$' "$T/out")" 3
    check "examples/jobs.txt: summary" \
        has ": 6 jobs: 4 succeeded, 2 failed (1 timed out); " "$T/err"
    check "examples/jobs.txt: quick" less_than "$el" 10
fi

if [ -f "$srcdir/man/xlchild-run.1" ]; then
    "$X" --help > "$T/help"
    missing=""
    for o in $(grep -o '\\-\\-[a-z][a-z\\-]*' "$srcdir/man/xlchild-run.1" |
               sed 's/\\//g' | sort -u); do
        grep -q -e "$o" "$T/help" || missing="$missing $o"
    done
    check "--help lists every option of the man page${missing:+ (not:$missing)}" \
        is "$missing" ""
fi
if command -v groff > /dev/null && [ -f "$srcdir/man/xlchild-run.1" ]; then
    w=$(groff -ww -z -man "$srcdir/man/xlchild-run.1" 2>&1)
    check "man page: groff -ww is silent" is "$w" ""
fi

echo "1..$n"
if [ "$failed" != 0 ]; then
    echo "# $failed of $n checks failed"
    exit 1
fi
exit 0
