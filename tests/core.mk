# Core suites (issue 2): contexts, events, running children, the reaper.
if HAVE_CUNIT
TEST_HARNESS = tests/harness.c tests/harness.h
TEST_LDADD = libxlchild.la $(CUNIT_LIBS) $(PTHREAD_LIBS)
TEST_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
check_PROGRAMS += tests/test_ctx tests/test_events tests/test_run tests/test_reaper \
	tests/test_reliability tests/test_spawn tests/test_leader
tests_test_ctx_SOURCES = tests/test_ctx.c $(TEST_HARNESS)
tests_test_events_SOURCES = tests/test_events.c $(TEST_HARNESS)
tests_test_run_SOURCES = tests/test_run.c $(TEST_HARNESS)
tests_test_reaper_SOURCES = tests/test_reaper.c $(TEST_HARNESS)
tests_test_reliability_SOURCES = tests/test_reliability.c $(TEST_HARNESS)
tests_test_reliability_CFLAGS = $(TEST_CFLAGS)
tests_test_reliability_LDADD = $(TEST_LDADD)
tests_test_leader_SOURCES = tests/test_leader.c $(TEST_HARNESS)
tests_test_leader_CFLAGS = $(TEST_CFLAGS)
tests_test_leader_LDADD = $(TEST_LDADD)
tests_test_spawn_SOURCES = tests/test_spawn.c $(TEST_HARNESS)
tests_test_spawn_CFLAGS = $(TEST_CFLAGS)
tests_test_spawn_LDADD = $(TEST_LDADD)
tests_test_ctx_CFLAGS = $(TEST_CFLAGS)
tests_test_events_CFLAGS = $(TEST_CFLAGS)
tests_test_run_CFLAGS = $(TEST_CFLAGS)
tests_test_reaper_CFLAGS = $(TEST_CFLAGS)
tests_test_ctx_LDADD = $(TEST_LDADD)
tests_test_events_LDADD = $(TEST_LDADD)
tests_test_run_LDADD = $(TEST_LDADD)
tests_test_reaper_LDADD = $(TEST_LDADD)
TESTS += tests/test_ctx tests/test_events tests/test_run tests/test_reaper \
	tests/test_reliability tests/test_spawn tests/test_leader \
	tests/check-exports.sh tests/check-nodelete.sh
endif
EXTRA_DIST += tests/check-exports.sh tests/check-nodelete.sh tests/tsan.supp

# S0 (issue 17): a program built against the 0.1 header, linked with the
# unversioned references of a 0.1 program (against tests/abi01/stub.c, a
# stand-in with the 0.1 soname), run against this library.  Plain $(CC)
# rules: libtool would link it against libxlchild.la itself.
ABI01_CFLAGS = $(CFLAGS) -I$(srcdir)/tests/abi01
tests/abi01/stub/libxlchild.so.0: $(srcdir)/tests/abi01/stub.c $(srcdir)/tests/abi01/xlchild.h
	@$(MKDIR_P) tests/abi01/stub
	$(AM_V_CCLD)$(CC) $(ABI01_CFLAGS) -fPIC -shared -Wl,-soname,libxlchild.so.0 \
	  -o $@ $(srcdir)/tests/abi01/stub.c
tests/abi01/prog01: $(srcdir)/tests/abi01/prog01.c $(srcdir)/tests/abi01/xlchild.h tests/abi01/stub/libxlchild.so.0
	$(AM_V_CCLD)$(CC) $(ABI01_CFLAGS) -o $@ $(srcdir)/tests/abi01/prog01.c \
	  tests/abi01/stub/libxlchild.so.0 $(PTHREAD_LIBS)
check_SCRIPTS = tests/abi01/prog01
TESTS += tests/test_abi01.sh
CLEANFILES = tests/abi01/prog01 tests/abi01/stub/libxlchild.so.0
EXTRA_DIST += tests/test_abi01.sh tests/abi01/xlchild.h tests/abi01/stub.c \
	tests/abi01/prog01.c

# xlchild.h compiles cleanly as C99 -pedantic, C11 and C++ (issue 17):
# tests/check-header.sh, with the compilers this build uses.
tests/check-header.env: Makefile
	$(AM_V_GEN)printf "HEADER_CC='%s'\nHEADER_CXX='%s'\n" '$(CC)' 'c++' > $@
check_SCRIPTS += tests/check-header.env
TESTS += tests/check-header.sh
CLEANFILES += tests/check-header.env
EXTRA_DIST += tests/check-header.sh
