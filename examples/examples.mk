# Examples: built by make, exercised by make check where they have a test.
noinst_PROGRAMS += examples/run-some
examples_run_some_SOURCES = examples/run-some.c
examples_run_some_LDADD = libxlchild.la
