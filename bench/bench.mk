# Benchmarks (issue 7): make bench.
#
# `make bench` builds the programs below (on demand only: they are
# EXTRA_PROGRAMS, so `make` and `make check` never build them) and runs
# bench/run.sh, which runs every workload for every mechanism, interleaved,
# and writes bench/RESULTS.md in the source tree.  Each peer is built only
# when configure found its library.
XLBENCH_COMMON_SRC = bench/common.c bench/common.h
BENCH_PROGS = bench/xlbench-stamp bench/xlbench-raw bench/xlbench-xlchild \
	bench/xlbench-capture

bench_xlbench_stamp_SOURCES = bench/stamp.c
bench_xlbench_raw_SOURCES = bench/m_raw.c $(XLBENCH_COMMON_SRC)
bench_xlbench_raw_LDADD = $(PTHREAD_LIBS)
bench_xlbench_xlchild_SOURCES = bench/m_xlchild.c $(XLBENCH_COMMON_SRC)
bench_xlbench_xlchild_LDADD = libxlchild.la $(PTHREAD_LIBS)
bench_xlbench_xlchild_LDFLAGS = -no-install

# W6: captured output (issue 17), xlchild beside g_spawn_sync and a plain
# posix_spawn + read loop, in one program.
bench_xlbench_capture_SOURCES = bench/capture.c
bench_xlbench_capture_LDADD = libxlchild.la $(PTHREAD_LIBS)
bench_xlbench_capture_LDFLAGS = -no-install
if HAVE_GLIB
bench_xlbench_capture_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) -DXLBENCH_HAVE_GLIB
bench_xlbench_capture_LDADD += $(GLIB_LIBS)
endif

if HAVE_GLIB
BENCH_PROGS += bench/xlbench-glib
endif
bench_xlbench_glib_SOURCES = bench/m_glib.c $(XLBENCH_COMMON_SRC)
bench_xlbench_glib_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
bench_xlbench_glib_LDADD = $(GLIB_LIBS) $(PTHREAD_LIBS)

if HAVE_LIBUV
BENCH_PROGS += bench/xlbench-libuv
endif
bench_xlbench_libuv_SOURCES = bench/m_libuv.c $(XLBENCH_COMMON_SRC)
bench_xlbench_libuv_CFLAGS = $(AM_CFLAGS) $(LIBUV_CFLAGS)
bench_xlbench_libuv_LDADD = $(LIBUV_LIBS) $(PTHREAD_LIBS)

if HAVE_LIBEV
BENCH_PROGS += bench/xlbench-libev
endif
bench_xlbench_libev_SOURCES = bench/m_libev.c $(XLBENCH_COMMON_SRC)
bench_xlbench_libev_LDADD = -lev $(PTHREAD_LIBS)

if HAVE_LIBSYSTEMD
BENCH_PROGS += bench/xlbench-sdevent
endif
bench_xlbench_sdevent_SOURCES = bench/m_sdevent.c $(XLBENCH_COMMON_SRC)
bench_xlbench_sdevent_CFLAGS = $(AM_CFLAGS) $(LIBSYSTEMD_CFLAGS)
bench_xlbench_sdevent_LDADD = $(LIBSYSTEMD_LIBS) $(PTHREAD_LIBS)

EXTRA_PROGRAMS = bench/xlbench-stamp bench/xlbench-raw bench/xlbench-capture \
	bench/xlbench-xlchild bench/xlbench-glib bench/xlbench-libuv \
	bench/xlbench-libev bench/xlbench-sdevent
EXTRA_DIST += bench/run.sh bench/summarize.py bench/README.md \
	bench/RESULTS.md bench/RESULTS-raw.txt

# BENCH_FLAGS is passed to run.sh: e.g. make bench BENCH_FLAGS=--quick
bench: all $(BENCH_PROGS)
	XLBENCH_BIN=$(abs_top_builddir)/bench \
	XLBENCH_OUT=$(abs_top_builddir)/bench/out \
	XLBENCH_RESULTS=$(abs_top_srcdir)/bench/RESULTS.md \
	  $(SHELL) $(srcdir)/bench/run.sh $(BENCH_FLAGS)

clean-local: clean-bench
clean-bench:
	-rm -f $(EXTRA_PROGRAMS)
	-rm -rf bench/out

.PHONY: bench clean-bench
