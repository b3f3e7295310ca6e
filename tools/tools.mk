# xlchild-run (issue 6): the command-line tool, built only on the public
# API, its man page, its test (which runs the real binary), the example
# job list of the README and the side-by-side benchmark against xargs -P.
bin_PROGRAMS += tools/xlchild-run
tools_xlchild_run_SOURCES = \
	tools/xlchild-run.c \
	tools/xlchild-run.h \
	tools/xr-args.c \
	tools/xr-input.c \
	tools/xr-jobs.c \
	tools/xr-joblog.c \
	tools/xr-loop.c \
	tools/xr-opts.c \
	tools/xr-output.c \
	tools/xr-queue.c \
	tools/xr-reap.c \
	tools/xr-report.c \
	tools/xr-signals.c \
	tools/xr-util.c
tools_xlchild_run_LDADD = libxlchild.la
dist_man_MANS += man/xlchild-run.1
TESTS += tests/test_xlchild_run.sh tests/test_xlchild_run_parallel.sh
EXTRA_DIST += tests/test_xlchild_run.sh tests/test_xlchild_run_parallel.sh examples/jobs.txt bench/bench-runner.sh
