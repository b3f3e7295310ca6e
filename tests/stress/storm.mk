# tests/stress/storm.mk: storms and fork storms (included by stress.mk,
# inside `if HAVE_CUNIT`).
#   stress_storm      10 000 children (short form: 1 000) exiting at one
#                     instant over 8 ctxs and 16 waiters, in every mode
#                     that reaps, with the application reaping beside it
#   stress_forkstorm  threads forking (fork() and libxl_childproc_fork) at
#                     full speed while others run, wait, make and free ctxs
check_PROGRAMS += tests/stress/stress_storm tests/stress/stress_forkstorm
tests_stress_stress_storm_SOURCES = tests/stress/stress_storm.c $(STRESS_HARNESS)
tests_stress_stress_storm_CFLAGS = $(STRESS_CFLAGS)
tests_stress_stress_storm_LDADD = $(STRESS_LDADD)
tests_stress_stress_forkstorm_SOURCES = tests/stress/stress_forkstorm.c $(STRESS_HARNESS)
tests_stress_stress_forkstorm_CFLAGS = $(STRESS_CFLAGS)
tests_stress_stress_forkstorm_LDADD = $(STRESS_LDADD)
STRESS_TESTS += tests/stress/stress_storm tests/stress/stress_forkstorm
