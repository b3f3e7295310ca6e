# tests/stress/outside.mk: what an application or its environment does to
# the library from outside (issue 14), included by stress.mk inside
# `if HAVE_CUNIT`.
#   stress_ptrace   a tracer in the storm: traced children in every mode
#   stress_nested   synchronous runs with timeouts made from callbacks
#   stress_dlclose  dlopen/dlclose cycles (runs dlhost, not a test itself:
#                   a program not linked with the library)
#   stress_stdfds   the library with fds 0-2 closed
#   stress_cancel   waiters cancelled with pthread_cancel
check_PROGRAMS += tests/stress/stress_ptrace tests/stress/stress_nested \
	tests/stress/stress_dlclose tests/stress/stress_stdfds \
	tests/stress/stress_cancel tests/stress/dlhost
tests_stress_stress_ptrace_SOURCES = tests/stress/stress_ptrace.c $(STRESS_HARNESS)
tests_stress_stress_ptrace_CFLAGS = $(STRESS_CFLAGS)
tests_stress_stress_ptrace_LDADD = $(STRESS_LDADD)
tests_stress_stress_nested_SOURCES = tests/stress/stress_nested.c $(STRESS_HARNESS)
tests_stress_stress_nested_CFLAGS = $(STRESS_CFLAGS)
tests_stress_stress_nested_LDADD = $(STRESS_LDADD)
tests_stress_stress_stdfds_SOURCES = tests/stress/stress_stdfds.c $(STRESS_HARNESS)
tests_stress_stress_stdfds_CFLAGS = $(STRESS_CFLAGS)
tests_stress_stress_stdfds_LDADD = $(STRESS_LDADD)
tests_stress_stress_cancel_SOURCES = tests/stress/stress_cancel.c $(STRESS_HARNESS)
tests_stress_stress_cancel_CFLAGS = $(STRESS_CFLAGS)
tests_stress_stress_cancel_LDADD = $(STRESS_LDADD)
# Where dlhost and the shared object are in this build tree.
STRESS_DL_CPPFLAGS = $(AM_CPPFLAGS) \
	-DXLS_DLHOST='"$(abs_top_builddir)/tests/stress/dlhost"' \
	-DXLS_LIBXLCHILD_SO='"$(abs_top_builddir)/.libs/libxlchild.so"'
tests_stress_stress_dlclose_SOURCES = tests/stress/stress_dlclose.c $(STRESS_HARNESS)
tests_stress_stress_dlclose_CPPFLAGS = $(STRESS_DL_CPPFLAGS)
tests_stress_stress_dlclose_CFLAGS = $(STRESS_CFLAGS)
tests_stress_stress_dlclose_LDADD = $(STRESS_LDADD)
tests_stress_dlhost_SOURCES = tests/stress/dlhost.c
tests_stress_dlhost_LDADD = $(PTHREAD_LIBS) -ldl
STRESS_TESTS += tests/stress/stress_ptrace tests/stress/stress_nested \
	tests/stress/stress_dlclose tests/stress/stress_stdfds \
	tests/stress/stress_cancel
