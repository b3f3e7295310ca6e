# Main-loop integration suites (issue 5).
if HAVE_CUNIT
check_PROGRAMS += tests/test_osevent
tests_test_osevent_SOURCES = tests/test_osevent.c $(TEST_HARNESS)
tests_test_osevent_CFLAGS = $(TEST_CFLAGS)
tests_test_osevent_LDADD = $(TEST_LDADD)
TESTS += tests/test_osevent
endif
