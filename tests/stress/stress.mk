# The reliability suite (issue 10): storms, faults, hostile conditions.
#   make check         the short form of every stress case
#   make check-stress  the full form (10 000-child storms and the like)
#   make check-soak DURATION=600 [SEED=n]   a random mix, for DURATION s
# Each area's programs are in its own fragment below; they add themselves
# to STRESS_TESTS.
STRESS_TESTS =
EXTRA_DIST += tests/stress/README.md tests/stress/drd.supp

if HAVE_CUNIT
STRESS_HARNESS = $(TEST_HARNESS) tests/stress/stress.c tests/stress/stress.h
STRESS_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
STRESS_LDADD = libxlchild.la $(CUNIT_LIBS) $(PTHREAD_LIBS)
include $(srcdir)/tests/stress/storm.mk
include $(srcdir)/tests/stress/faults.mk
include $(srcdir)/tests/stress/hostile.mk
include $(srcdir)/tests/stress/outside.mk

check_PROGRAMS += tests/stress/soak
tests_stress_soak_SOURCES = tests/stress/soak.c $(STRESS_HARNESS)
tests_stress_soak_CPPFLAGS = $(STRESS_DL_CPPFLAGS)
tests_stress_soak_CFLAGS = $(STRESS_CFLAGS)
tests_stress_soak_LDADD = $(STRESS_LDADD)
STRESS_TESTS += tests/stress/soak
endif

TESTS += $(STRESS_TESTS)
# XLT_STRESS=full selects the full form; XLT_STRESS_SCALE=<percent> scales
# either form (the valgrind stage uses it); DURATION and SEED drive the soak
# (in make check it runs for a few seconds).
AM_TESTS_ENVIRONMENT = XLT_STRESS='$(XLT_STRESS)'; XLT_STRESS_SCALE='$(XLT_STRESS_SCALE)'; \
	XLT_SOAK_DURATION='$(DURATION)'; XLT_SOAK_SEED='$(SEED)'; \
	export XLT_STRESS XLT_STRESS_SCALE XLT_SOAK_DURATION XLT_SOAK_SEED;

check-stress: all
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(STRESS_TESTS)' XLT_STRESS=full

# The short form alone (scripts/test.sh runs it under drd this way).
check-stress-short: all
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(STRESS_TESTS)'

DURATION =
SEED =
check-soak: all
	@test -n '$(DURATION)' || { echo 'usage: make check-soak DURATION=<seconds> [SEED=<n>]'; exit 2; }
	$(MAKE) $(AM_MAKEFLAGS) check TESTS=tests/stress/soak DURATION='$(DURATION)' SEED='$(SEED)'
	@grep -E '^(COUNTS|SOAK)' tests/stress/soak.log || true

.PHONY: check-stress check-stress-short check-soak
