#!/bin/bash
# build-deb.sh - builds the Debian packages the way a distribution does,
# from the release tarball, and checks them.  Run by CI; needs root (or
# sudo) for the install step, and the packages of scripts/install-deps.sh.
#
#  1. make dist; the tarball becomes xlchild_VERSION.orig.tar.gz.
#  2. Unpack it in build/deb, add debian/, dpkg-buildpackage -us -uc -b.
#     That runs make check, and dpkg-gensymbols -c4 against
#     debian/libxlchild0.symbols (any difference in the exported symbols
#     fails).  dpkg-source -b first makes the source package.
#  3. lintian on the binary .changes and on the .dsc: any error or warning
#     fails.
#  4. apt-get install the three .debs, then debian/tests/build (the
#     autopkgtest) compiles, links and runs programs against the installed
#     libxlchild-dev with pkg-config; the packages are removed again
#     afterwards unless --keep-installed is given.
# Usage: scripts/build-deb.sh [--keep-installed]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
keep=no
[ "${1:-}" = --keep-installed ] && keep=yes
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

section() { printf '\n=== %s ===\n' "$*"; }

version=$(dpkg-parsechangelog -l debian/changelog -S Version)
upstream=${version%-*}
work=$top/build/deb
rm -rf "$work"
mkdir -p "$work/dist"

section "make dist ($upstream)"
[ -x configure ] && [ configure -nt configure.ac ] &&
    [ configure -nt Makefile.am ] || autoreconf -fi
(cd "$work/dist" && "$top/configure" -q && make -s dist)
tarball=$work/dist/xlchild-$upstream.tar.gz
[ -f "$tarball" ] || {
    echo "build-deb: make dist made no $tarball: debian/changelog says" \
        "$version, configure.ac says otherwise?" >&2
    exit 1
}
cp "$tarball" "$work/xlchild_$upstream.orig.tar.gz"
tar -C "$work" -xzf "$work/xlchild_$upstream.orig.tar.gz"
src=$work/xlchild-$upstream
cp -a debian "$src/debian"

section "dpkg-source -b"
(cd "$work" && dpkg-source -b "xlchild-$upstream")
section "dpkg-buildpackage -us -uc -b"
(cd "$src" && dpkg-buildpackage -us -uc -b)

arch=$(dpkg --print-architecture)
changes=$work/xlchild_${version}_$arch.changes
dsc=$work/xlchild_$version.dsc
section "lintian"
lintian --version
# Infos are shown; errors and warnings fail.
lintian -I --fail-on error,warning "$changes" "$dsc"
echo "lintian: no errors or warnings"

section "install the packages and build against them"
debs=()
for p in libxlchild0 libxlchild-dev xlchild-tools; do
    debs+=("$work/${p}_${version}_$arch.deb")
done
installed_before=$(dpkg-query -W -f='${db:Status-Abbrev}' libxlchild0 2>/dev/null || true)
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -qq --no-install-recommends "${debs[@]}"
cleanup() {
    if [ $keep = no ] && [ "${installed_before#ii}" = "$installed_before" ]; then
        $SUDO apt-get purge -y -qq libxlchild0 libxlchild-dev xlchild-tools \
            >/dev/null || true
    fi
}
trap cleanup EXIT
tmp=$(mktemp -d)
(cd "$src" && AUTOPKGTEST_TMP=$tmp sh debian/tests/build)
rm -rf "$tmp"

section "packages built, lintian clean, installed -dev works"
ls -l "$work"/*.deb
