# Fault injection and resource exhaustion (tests/stress/): included by
# stress.mk inside `if HAVE_CUNIT`.
#   stress_faults  the N-th call at each site the library acquires a
#                  resource fails (fault.c, an interposer linked into the
#                  test executable), one site and one N at a time
#   stress_limits  RLIMIT_NOFILE and RLIMIT_NPROC exhausted for real
check_PROGRAMS += tests/stress/stress_faults tests/stress/stress_limits
tests_stress_stress_faults_SOURCES = tests/stress/stress_faults.c \
	tests/stress/fault.c tests/stress/fault.h $(STRESS_HARNESS)
tests_stress_stress_faults_CFLAGS = $(STRESS_CFLAGS)
tests_stress_stress_faults_LDADD = $(STRESS_LDADD) -ldl
tests_stress_stress_limits_SOURCES = tests/stress/stress_limits.c \
	$(STRESS_HARNESS)
tests_stress_stress_limits_CFLAGS = $(STRESS_CFLAGS)
tests_stress_stress_limits_LDADD = $(STRESS_LDADD)
STRESS_TESTS += tests/stress/stress_faults tests/stress/stress_limits
