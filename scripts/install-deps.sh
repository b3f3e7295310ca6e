#!/bin/sh
# Installs everything needed to build, test and benchmark xlchild on a fresh
# Debian 12 machine. Used by README's set-up commands and by .ci/run, so that
# a package missing here is caught by CI rather than hidden by a dev machine.
# (parallel: GNU parallel, which xlchild-run's tests compare it with; git:
# the format stage lists the sources with git ls-files; procps: pgrep.)
set -eu

pkgs="build-essential autoconf automake libtool pkg-config
      libcunit1-dev valgrind
      libglib2.0-dev libuv1-dev libev-dev libsystemd-dev
      abigail-tools debhelper lintian dpkg-dev libxen-dev groff-base mandoc
      jq clang libclang-rt-14-dev clang-format parallel git procps"

SUDO=
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $pkgs
