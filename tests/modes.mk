# Owner modes and fork safety suites (issues 3 and 4).
if HAVE_CUNIT
# tests/proc_report is a helper the fork-safety suite runs as a child (it
# prints its own signal mask and open fds); it is built but is not a test.
check_PROGRAMS += tests/test_modes tests/test_fork tests/proc_report
tests_test_modes_SOURCES = tests/test_modes.c $(TEST_HARNESS)
tests_test_fork_SOURCES = tests/test_fork.c $(TEST_HARNESS)
tests_proc_report_SOURCES = tests/proc_report.c
tests_test_modes_CFLAGS = $(TEST_CFLAGS)
tests_test_fork_CFLAGS = $(TEST_CFLAGS)
tests_proc_report_CFLAGS = $(AM_CFLAGS)
tests_test_modes_LDADD = $(TEST_LDADD)
tests_test_fork_LDADD = $(TEST_LDADD)
TESTS += tests/test_modes tests/test_fork
if HAVE_GLIB
check_PROGRAMS += tests/test_glib_coexist
tests_test_glib_coexist_SOURCES = tests/test_glib_coexist.c $(TEST_HARNESS)
tests_test_glib_coexist_CFLAGS = $(TEST_CFLAGS) $(GLIB_CFLAGS)
tests_test_glib_coexist_LDADD = $(TEST_LDADD) $(GLIB_LIBS)
TESTS += tests/test_glib_coexist
endif
endif
