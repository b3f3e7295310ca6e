# Core suites (issue 2): contexts, events, running children, the reaper.
if HAVE_CUNIT
TEST_HARNESS = tests/harness.c tests/harness.h
TEST_LDADD = libxlchild.la $(CUNIT_LIBS) $(PTHREAD_LIBS)
TEST_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
check_PROGRAMS += tests/test_ctx tests/test_events tests/test_run tests/test_reaper \
	tests/test_reliability
tests_test_ctx_SOURCES = tests/test_ctx.c $(TEST_HARNESS)
tests_test_events_SOURCES = tests/test_events.c $(TEST_HARNESS)
tests_test_run_SOURCES = tests/test_run.c $(TEST_HARNESS)
tests_test_reaper_SOURCES = tests/test_reaper.c $(TEST_HARNESS)
tests_test_reliability_SOURCES = tests/test_reliability.c $(TEST_HARNESS)
tests_test_reliability_CFLAGS = $(TEST_CFLAGS)
tests_test_reliability_LDADD = $(TEST_LDADD)
tests_test_ctx_CFLAGS = $(TEST_CFLAGS)
tests_test_events_CFLAGS = $(TEST_CFLAGS)
tests_test_run_CFLAGS = $(TEST_CFLAGS)
tests_test_reaper_CFLAGS = $(TEST_CFLAGS)
tests_test_ctx_LDADD = $(TEST_LDADD)
tests_test_events_LDADD = $(TEST_LDADD)
tests_test_run_LDADD = $(TEST_LDADD)
tests_test_reaper_LDADD = $(TEST_LDADD)
TESTS += tests/test_ctx tests/test_events tests/test_run tests/test_reaper \
	tests/test_reliability \
	tests/check-exports.sh tests/check-nodelete.sh
endif
EXTRA_DIST += tests/check-exports.sh tests/check-nodelete.sh
