#!/bin/sh
# check-manpages.sh - every symbol the library exports has a manual page,
# and every page lints clean.  Run by `make check` from the build directory
# (srcdir is set by the test harness); also by hand:
#   srcdir=. tests/check-manpages.sh [path/to/libxlchild.so]
#
#  1. For each libxl_* symbol that nm finds defined in the shared library
#     (or, without one, in the static library), $srcdir/man/SYMBOL.3 exists,
#     as a page or as a ".so man3/PAGE.3" link to a page that exists.
#  2. Every .so link points at a page that exists.
#  3. Every page in man/ is listed in man/man.mk (or, for a tool's page, in
#     the tool's fragment), so that make install and make dist ship it.
#  4. Every page that is not a link has no warning from groff -ww -z and
#     none (at level warning) from mandoc -Tlint.  A missing formatter skips
#     its lint with a message; a missing page always fails.
set -u

srcdir=${srcdir:-.}
mandir=$srcdir/man
fail=0
err() { echo "check-manpages: $*" >&2; fail=1; }

if [ ! -d "$mandir" ]; then
    echo "check-manpages: $mandir not found" >&2
    exit 1
fi

# --- the exported symbols --------------------------------------------------
so=${1:-.libs/libxlchild.so}
syms=
if ! command -v nm >/dev/null 2>&1; then
    echo "check-manpages: nm not found: not checking symbols"
elif [ -f "$so" ]; then
    syms=$(nm -D --defined-only "$so" | awk '$(NF-1) != "A" { print $NF }')
elif [ -f .libs/libxlchild.a ]; then
    syms=$(nm -g --defined-only .libs/libxlchild.a 2>/dev/null |
           awk 'NF >= 2 && $(NF-1) ~ /^[TDRB]$/ { print $NF }')
else
    echo "check-manpages: no library built: not checking symbols"
fi
syms=$(printf '%s\n' "$syms" | sed 's/@.*//' | grep '^libxl_' | sort -u)

# Prints the page a .so link points at (relative to man/), or nothing.
so_target() {
    sed -n '1s/^\.so[ 	]\{1,\}man[0-9]\/\([^ 	]*\)[ 	]*$/\1/p' "$1"
}

nsyms=0
for s in $syms; do
    nsyms=$((nsyms + 1))
    page=$mandir/$s.3
    if [ ! -f "$page" ]; then
        err "exported symbol $s has no page (man/$s.3)"
        continue
    fi
    t=$(so_target "$page")
    if [ -n "$t" ] && [ ! -f "$mandir/$t" ]; then
        err "man/$s.3 is a link to man/$t, which does not exist"
    fi
done

# --- links, listing, lint --------------------------------------------------
have_groff=no; command -v groff >/dev/null 2>&1 && have_groff=yes
have_mandoc=no; command -v mandoc >/dev/null 2>&1 && have_mandoc=yes
[ $have_groff = yes ] || echo "check-manpages: groff not found: skipping its lint"
[ $have_mandoc = yes ] || echo "check-manpages: mandoc not found: skipping its lint"

npages=0
nlinks=0
for page in "$mandir"/*.[1-8]; do
    [ -f "$page" ] || continue
    name=${page##*/}
    cat "$srcdir/Makefile.am" "$srcdir"/*/*.mk 2>/dev/null |
        grep -q "man/$name\\( \\|\$\\)" ||
        err "man/$name is not listed in dist_man_MANS (man/man.mk)"
    t=$(so_target "$page")
    if [ -n "$t" ]; then
        nlinks=$((nlinks + 1))
        [ -f "$mandir/$t" ] || err "man/$name links to man/$t, which does not exist"
        [ "$(wc -l < "$page")" -le 1 ] || err "man/$name: text after its .so line"
        continue
    fi
    npages=$((npages + 1))
    if [ $have_groff = yes ]; then
        out=$(LC_ALL=C groff -ww -z -t -man "$page" 2>&1)
        [ -z "$out" ] || err "groff on man/$name:
$out"
    fi
    if [ $have_mandoc = yes ]; then
        out=$(mandoc -Tlint -W warning "$page" 2>&1)
        [ -z "$out" ] || err "mandoc on man/$name:
$out"
    fi
done

if [ $fail -ne 0 ]; then
    echo "check-manpages: FAIL" >&2
    exit 1
fi
echo "check-manpages: $nsyms symbols documented; $npages pages and $nlinks links lint clean"
exit 0
