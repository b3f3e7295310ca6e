#!/bin/bash
# Builds xlchild from a clean tree and runs every check CI runs:
#   0. format: every C source and header matches .clang-format
#   1. -Wall -Wextra -Werror build, make check, make distcheck
#   1b. soak: the reliability suite's random mix for 300 s on that build
#      (tests/stress/soak.c; SOAK_DURATION=<s> to change it): fails on any
#      lost, doubled, late or wrong status, a zombie, fd or RSS growth
#   2. make check under AddressSanitizer + UndefinedBehaviorSanitizer
#   3. make check under ThreadSanitizer
#   4. make check with every test binary under valgrind (memcheck)
#   5. the stress suite's short form under valgrind's drd (races, locks)
#   6. the ABI against the committed baseline (abidiff)
#   7. the Debian packages: build, lintian, install, build an example
#      against the installed -dev package
# make check includes the short form of the stress suite (tests/stress/),
# so stages 1-4 run it too; under valgrind it is scaled down to 10 %.
# Usage: scripts/test.sh [stage...]   (default: all stages)
# Build trees go under build/ (ignored by git).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(format plain soak asan tsan valgrind drd abi deb)

[ -x configure ] && [ configure -nt configure.ac ] && [ configure -nt Makefile.am ] ||
    autoreconf -fi

section() { printf '\n=== %s ===\n' "$*"; }

# Builds in build/$1 with CFLAGS $2, then runs make target $3 (with the
# make arguments that follow); prints the logs of failing tests.
check_in() {
    local dir=build/$1 cflags=$2 target=$3
    shift 3
    mkdir -p "$dir"
    (cd "$dir" && "$top/configure" -q --enable-werror CFLAGS="$cflags" &&
        make -s -j"$jobs" &&
        { make -s -j"$jobs" "$target" "$@" ||
          { for f in $(find . -name '*.log' -newer Makefile); do
                grep -q -E '^:test-result: (FAIL|ERROR)' "${f%.log}.trs" 2>/dev/null &&
                    { echo "--- $f"; tail -n 60 "$f"; }
            done; exit 1; }; })
}

for s in "${stages[@]}"; do
    case $s in
    format)
        section "the C sources match .clang-format"
        git ls-files '*.c' '*.h' | grep -v '^tests/fuzz/corpus/' |
            xargs clang-format --dry-run --Werror
        ;;
    plain)
        section "build with warnings as errors, make check, make distcheck"
        check_in plain "-O2 -g" check
        (cd build/plain && make -s distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror)
        ;;
    soak)
        soak_s=${SOAK_DURATION:-300}
        section "soak: the random mix for $soak_s s (build/plain)"
        check_in plain "-O2 -g" check-soak DURATION="$soak_s"
        # The soak asserts its figures itself; read them back all the same,
        # so that a soak that stopped checking cannot pass here.
        awk -v flat=8192 '
            /^COUNTS soak/ {
                n++
                for (i = 1; i <= NF; i++)
                    if (split($i, kv, "=") == 2) v[kv[1]] = kv[2]
                bad = v["lost"] != 0 || v["twice"] != 0 || v["wrong"] != 0 ||
                      v["late"] != 0 || v["zombies"] != 0 ||
                      v["statuses_started"] != v["reported_once"] ||
                      v["fds_start"] != v["fds_end"] ||
                      v["rss_growth_last_2_3_kib"] > flat ||
                      v["operations"] < 1
                if (bad) { print "soak figures out of bounds: " $0; fail = 1 }
            }
            END {
                if (n < 3) { print "soak: " n + 0 " COUNTS lines, wanted 3"; fail = 1 }
                exit fail
            }' build/plain/tests/stress/soak.log
        ;;
    asan)
        section "AddressSanitizer + UndefinedBehaviorSanitizer"
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
            check_in asan "-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" check
        ;;
    tsan)
        section "ThreadSanitizer"
        TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$top/tests/tsan.supp" \
            check_in tsan "-O1 -g -fsanitize=thread" check
        ;;
    valgrind)
        section "valgrind memcheck"
        check_in valgrind "-O1 -g" check \
            LOG_COMPILER="$top/scripts/valgrind-test.sh" XLT_STRESS_SCALE=10
        ;;
    drd)
        section "valgrind drd on the stress suite"
        check_in drd "-O1 -g" check-stress-short \
            LOG_COMPILER="$top/scripts/valgrind-test.sh" LOG_FLAGS=--drd \
            XLT_STRESS_SCALE=10
        ;;
    abi)
        section "ABI against abi/libxlchild.abi"
        bash scripts/check-abi.sh
        ;;
    deb)
        section "Debian packages"
        bash scripts/build-deb.sh
        ;;
    *) echo "unknown stage $s" >&2; exit 2 ;;
    esac
done
section "all checks passed"
