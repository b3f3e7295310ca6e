# Examples: built by make, exercised by make check where they have a test.
noinst_PROGRAMS += examples/run-some
examples_run_some_SOURCES = examples/run-some.c
examples_run_some_LDADD = libxlchild.la

# Main-loop integrations (issue 5), each built when configure finds its
# library, and run by tests/test_examples.sh; children.c is the work both
# give the library.
EXAMPLES_CHILDREN = examples/children.c examples/children.h
if HAVE_GLIB
noinst_PROGRAMS += examples/glib-loop
examples_glib_loop_SOURCES = examples/glib-loop.c $(EXAMPLES_CHILDREN)
examples_glib_loop_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
examples_glib_loop_LDADD = libxlchild.la $(GLIB_LIBS)
endif
if HAVE_LIBUV
noinst_PROGRAMS += examples/uv-loop
examples_uv_loop_SOURCES = examples/uv-loop.c $(EXAMPLES_CHILDREN)
examples_uv_loop_CFLAGS = $(AM_CFLAGS) $(LIBUV_CFLAGS)
examples_uv_loop_LDADD = libxlchild.la $(LIBUV_LIBS)
endif
TESTS += tests/test_examples.sh
EXTRA_DIST += tests/test_examples.sh
