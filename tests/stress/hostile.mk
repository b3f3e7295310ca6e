# tests/stress/hostile.mk: the hostile-conditions part of the reliability
# suite (issue 10): early teardown of contexts, statuses stolen behind the
# library's back, SIGCHLD ignored or swallowed.  Included by stress.mk
# inside `if HAVE_CUNIT`.
check_PROGRAMS += tests/stress/stress_hostile
tests_stress_stress_hostile_SOURCES = tests/stress/stress_hostile.c $(STRESS_HARNESS)
tests_stress_stress_hostile_CFLAGS = $(STRESS_CFLAGS)
tests_stress_stress_hostile_LDADD = $(STRESS_LDADD)
STRESS_TESTS += tests/stress/stress_hostile
