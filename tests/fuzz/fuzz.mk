# Fuzzing of xlchild-run's parsers (issue: "fuzzing of every parser").
#
#   make fuzz [FUZZ_TIME=60] [FUZZ_TARGETS='lines opts']
#       builds each target with clang, libFuzzer, ASan and UBSan and runs
#       it for FUZZ_TIME seconds; fails, saying how to reproduce, if any
#       input crashed, leaked or gave a wrong answer.
#   make check
#       replays every committed input (tests/fuzz/regress/NAME: crashes
#       once found, and edge cases; tests/fuzz/corpus/NAME: the seeds)
#       through the same targets built as ordinary check programs.
#
# The targets (tests/fuzz/README.md says more):
#   lines   the job list, newline-terminated (xr-input.c), its limits and
#           errors, the blank test and the --no-shell split
#   null    the same with -0, NUL-terminated items
#   opts    the command line (xr-opts.c)
#   output  a job's output cut into whole lines, tags, the spool
#           (xr-output.c)
#   report  commands in result lines and JSON (xr-report.c)
#   args    arguments into command lines: quoting, replacement strings,
#           -I, --colsep (xr-args.c)
#
# Both builds make the tool's limits tiny, so that short inputs reach them.
FUZZ_LIMITS = -DXR_MAX_LINE=61 -DXR_INPUT_CHUNK=16 \
	-DXR_SPOOL_MEM_MAX=100
FUZZ_TARGETS = lines null opts output report args
FUZZ_TIME = 60

# --- The regression replays, in make check -----------------------------

FUZZ_REGRESS = tests/fuzz/regress-lines tests/fuzz/regress-null \
	tests/fuzz/regress-opts tests/fuzz/regress-output \
	tests/fuzz/regress-report tests/fuzz/regress-args
check_PROGRAMS += $(FUZZ_REGRESS)
TESTS += $(FUZZ_REGRESS)
FUZZ_REGRESS_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tools $(FUZZ_LIMITS)
FUZZ_COMMON = tests/fuzz/regress.c tests/fuzz/fuzz.h tools/xlchild-run.h

tests_fuzz_regress_lines_SOURCES = tests/fuzz/fuzz-input.c tools/xr-input.c \
	$(FUZZ_COMMON)
tests_fuzz_regress_lines_CPPFLAGS = $(FUZZ_REGRESS_CPPFLAGS) \
	-DFUZZ_NAME='"lines"'
tests_fuzz_regress_null_SOURCES = $(tests_fuzz_regress_lines_SOURCES)
tests_fuzz_regress_null_CPPFLAGS = $(FUZZ_REGRESS_CPPFLAGS) \
	-DFUZZ_NAME='"null"' -DFUZZ_NUL
tests_fuzz_regress_opts_SOURCES = tests/fuzz/fuzz-opts.c tools/xr-opts.c \
	$(FUZZ_COMMON)
tests_fuzz_regress_opts_CPPFLAGS = $(FUZZ_REGRESS_CPPFLAGS) \
	-DFUZZ_NAME='"opts"'
tests_fuzz_regress_output_SOURCES = tests/fuzz/fuzz-output.c \
	tools/xr-output.c $(FUZZ_COMMON)
tests_fuzz_regress_output_CPPFLAGS = $(FUZZ_REGRESS_CPPFLAGS) \
	-DFUZZ_NAME='"output"'
tests_fuzz_regress_report_SOURCES = tests/fuzz/fuzz-report.c \
	tools/xr-report.c tools/xr-output.c $(FUZZ_COMMON)
tests_fuzz_regress_report_CPPFLAGS = $(FUZZ_REGRESS_CPPFLAGS) \
	-DFUZZ_NAME='"report"'
tests_fuzz_regress_report_LDADD = libxlchild.la
tests_fuzz_regress_args_SOURCES = tests/fuzz/fuzz-args.c tools/xr-args.c \
	$(FUZZ_COMMON)
tests_fuzz_regress_args_CPPFLAGS = $(FUZZ_REGRESS_CPPFLAGS) \
	-DFUZZ_NAME='"args"'

# Inputs, dictionaries and the runner; directories are copied whole.
EXTRA_DIST += tests/fuzz/README.md tests/fuzz/run-fuzz.sh \
	tests/fuzz/corpus tests/fuzz/regress \
	tests/fuzz/lines.dict tests/fuzz/opts.dict tests/fuzz/args.dict

# --- make fuzz ---------------------------------------------------------

# Its own rules, not automake's: the build's compiler is gcc, and the
# targets need clang and libFuzzer's main().  Each program is compiled in
# one step from its sources (libxlchild's error.c for libxl_strerror).
FUZZ_FLAGS = -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_CPPFLAGS = -I$(top_builddir) -I$(top_srcdir)/include \
	-I$(top_srcdir)/src -I$(top_srcdir)/tools $(FUZZ_LIMITS)
FUZZ_HDRS = $(srcdir)/tests/fuzz/fuzz.h $(srcdir)/tools/xlchild-run.h \
	$(top_builddir)/config.h
FUZZ_PROGS = tests/fuzz/fuzz-lines tests/fuzz/fuzz-null tests/fuzz/fuzz-opts \
	tests/fuzz/fuzz-output tests/fuzz/fuzz-report tests/fuzz/fuzz-args
FUZZ_BUILD = $(AM_V_CC)$(MKDIR_P) tests/fuzz && \
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_FLAGS) -o $@

tests/fuzz/fuzz-lines: $(srcdir)/tests/fuzz/fuzz-input.c \
		$(srcdir)/tools/xr-input.c $(FUZZ_HDRS)
	$(FUZZ_BUILD) $(srcdir)/tests/fuzz/fuzz-input.c $(srcdir)/tools/xr-input.c
tests/fuzz/fuzz-null: $(srcdir)/tests/fuzz/fuzz-input.c \
		$(srcdir)/tools/xr-input.c $(FUZZ_HDRS)
	$(FUZZ_BUILD) -DFUZZ_NUL $(srcdir)/tests/fuzz/fuzz-input.c \
		$(srcdir)/tools/xr-input.c
tests/fuzz/fuzz-opts: $(srcdir)/tests/fuzz/fuzz-opts.c \
		$(srcdir)/tools/xr-opts.c $(FUZZ_HDRS)
	$(FUZZ_BUILD) $(srcdir)/tests/fuzz/fuzz-opts.c $(srcdir)/tools/xr-opts.c
tests/fuzz/fuzz-output: $(srcdir)/tests/fuzz/fuzz-output.c \
		$(srcdir)/tools/xr-output.c $(FUZZ_HDRS)
	$(FUZZ_BUILD) $(srcdir)/tests/fuzz/fuzz-output.c \
		$(srcdir)/tools/xr-output.c
tests/fuzz/fuzz-report: $(srcdir)/tests/fuzz/fuzz-report.c \
		$(srcdir)/tools/xr-report.c $(srcdir)/tools/xr-output.c \
		$(srcdir)/src/error.c $(FUZZ_HDRS)
	$(FUZZ_BUILD) $(srcdir)/tests/fuzz/fuzz-report.c \
		$(srcdir)/tools/xr-report.c $(srcdir)/tools/xr-output.c \
		$(srcdir)/src/error.c
tests/fuzz/fuzz-args: $(srcdir)/tests/fuzz/fuzz-args.c \
		$(srcdir)/tools/xr-args.c $(FUZZ_HDRS)
	$(FUZZ_BUILD) $(srcdir)/tests/fuzz/fuzz-args.c $(srcdir)/tools/xr-args.c

if HAVE_LIBFUZZER
fuzz: $(FUZZ_PROGS)
	@$(SHELL) $(srcdir)/tests/fuzz/run-fuzz.sh '$(srcdir)' '$(FUZZ_TIME)' \
		$(FUZZ_TARGETS)
else
fuzz:
	@echo "make fuzz: no clang that links -fsanitize=fuzzer was found;" >&2
	@echo "install clang and libclang-rt-dev, or configure FUZZ_CC=..." >&2
	@exit 1
endif

# The working corpora, logs and crash artifacts of make fuzz.
clean-fuzz:
	-rm -rf tests/fuzz/work tests/fuzz/artifacts
	-rm -f $(FUZZ_PROGS) tests/fuzz/fuzz-*.log
clean-local: clean-fuzz

.PHONY: fuzz clean-fuzz
