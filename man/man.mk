# Manual pages (issue 7): one page per function family, .so links for the
# other names, xlchild(7) for the library as a whole.  Installed by make
# install, shipped by make dist; tests/check-manpages.sh (make check) fails
# when an exported symbol has no page, or a page does not lint clean.
dist_man_MANS += \
	man/libxl_ao_abort.3 \
	man/libxl_asyncop_how.3 \
	man/libxl_childproc_args.3 \
	man/libxl_childproc_death_cb.3 \
	man/libxl_childproc_exited.3 \
	man/libxl_childproc_fd.3 \
	man/libxl_childproc_fork.3 \
	man/libxl_childproc_kill.3 \
	man/libxl_childproc_hooks.3 \
	man/libxl_childproc_reaped.3 \
	man/libxl_childproc_result.3 \
	man/libxl_childproc_result_dispose.3 \
	man/libxl_childproc_run.3 \
	man/libxl_childproc_setmode.3 \
	man/libxl_childproc_sigchld_occurred.3 \
	man/libxl_ctx_alloc.3 \
	man/libxl_ctx_free.3 \
	man/libxl_event.3 \
	man/libxl_event_check.3 \
	man/libxl_event_free.3 \
	man/libxl_event_hooks.3 \
	man/libxl_event_register_callbacks.3 \
	man/libxl_event_wait.3 \
	man/libxl_logger.3 \
	man/libxl_logger_destroy.3 \
	man/libxl_logger_stdio_new.3 \
	man/libxl_osevent_afterpoll.3 \
	man/libxl_osevent_beforepoll.3 \
	man/libxl_osevent_hooks.3 \
	man/libxl_osevent_occurred_fd.3 \
	man/libxl_osevent_occurred_timeout.3 \
	man/libxl_osevent_register_hooks.3 \
	man/libxl_postfork_child_noexec.3 \
	man/libxl_sigchld_owner.3 \
	man/libxl_strerror.3 \
	man/xlchild-libxl.7 \
	man/xlchild.7

# man/xlchild-run.1 is listed in tools/tools.mk, with the tool.

TESTS += tests/check-manpages.sh
EXTRA_DIST += tests/check-manpages.sh
