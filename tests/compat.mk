# Drop-in headers for programs written against Xen's libxl (issue 7):
# installed in $(includedir)/xlchild-libxl, found through the pkg-config
# module xlchild-libxl.  See man/xlchild-libxl.7.
compatincludedir = $(includedir)/xlchild-libxl
compatinclude_HEADERS = compat/libxl.h compat/libxl_event.h compat/xentoollog.h
pkgconfig_DATA += compat/xlchild-libxl.pc
EXTRA_DIST += compat/xlchild-libxl.pc.in

# One program with no xlchild names in it: built here against the drop-in
# headers and run; compiled against Xen's real headers by test_compat.sh.
check_PROGRAMS += tests/compat_prog
tests_compat_prog_SOURCES = tests/compat_prog.c
tests_compat_prog_CPPFLAGS = -I$(top_srcdir)/compat -I$(top_srcdir)/include
tests_compat_prog_LDADD = libxlchild.la $(PTHREAD_LIBS)
TESTS += tests/compat_prog tests/test_compat.sh
EXTRA_DIST += tests/test_compat.sh

# The ABI baseline and the scripts that check it and build the Debian
# packages travel with the sources (debian/ itself does not: it is added to
# the unpacked tarball, as a distribution does).
EXTRA_DIST += abi/libxlchild.abi scripts/check-abi.sh scripts/build-deb.sh
