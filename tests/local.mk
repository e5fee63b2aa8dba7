## tests/local.mk — the test suite (`make check`).
##
## Every test speaks TAP and runs under automake's tap-driver, so the summary
## counts individual checks:
##   tests/unit/test_*     criterion binaries linking the core (prefixed API),
##                         the kernel side's linking base + kernel only;
##                         each Test() is one result (tests/criterion-tap)
##   tests/integration/*.sh  real programs run with LD_PRELOAD=libkmm.so

LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
LOG_COMPILER = $(top_srcdir)/tests/criterion-tap
TEST_EXTENSIONS = .sh
SH_LOG_DRIVER = $(LOG_DRIVER)
SH_LOG_COMPILER = $(SHELL)

AM_TESTS_ENVIRONMENT = \
	KMM_LIB='$(abs_top_builddir)/.libs/libkmm.so'; export KMM_LIB; \
	KMM_TOOL='$(abs_top_builddir)/tools/kmm'; export KMM_TOOL; \
	KMM_PROGS='$(abs_top_builddir)/tests/progs'; export KMM_PROGS; \
	KMM_SRCDIR='$(abs_top_srcdir)'; export KMM_SRCDIR; \
	STRACE='$(STRACE)'; export STRACE; \
	KMM_DEFAULT_PROFILE='$(KMM_DEFAULT_PROFILE)'; export KMM_DEFAULT_PROFILE; \
	$(warnings_environment)

# tests/integration/warnings.sh compiles every source again, with the
# compilers and the flags of the targets that build them
warnings_environment = \
	KMM_WARN_CC='$(CC)'; KMM_WARN_CXX='$(CXX)'; \
	KMM_WARN_CPPFLAGS='$(DEFS) -I$(abs_top_builddir) $(AM_CPPFLAGS) $(CPPFLAGS)'; \
	KMM_WARN_TRACE_CPPFLAGS='$(DEFS) -I$(abs_top_builddir) $(TRACE_FORMAT_CPPFLAGS) $(CPPFLAGS)'; \
	KMM_WARN_CORE_CFLAGS='$(AM_CFLAGS)'; KMM_WARN_UNIT_CFLAGS='$(UNIT_CFLAGS)'; \
	KMM_WARN_PROGS_CFLAGS='$(PROGS_CFLAGS)'; KMM_WARN_TRACE_CFLAGS='$(tools_kmm_trace_CFLAGS)'; \
	KMM_WARN_EXAMPLES_CFLAGS='$(EXAMPLES_CFLAGS)'; \
	export KMM_WARN_CC KMM_WARN_CXX KMM_WARN_CPPFLAGS KMM_WARN_TRACE_CPPFLAGS \
		KMM_WARN_CORE_CFLAGS KMM_WARN_UNIT_CFLAGS KMM_WARN_PROGS_CFLAGS \
		KMM_WARN_TRACE_CFLAGS KMM_WARN_EXAMPLES_CFLAGS;

# fd 9 is make's stderr: the long runs that cannot be divided show their
# progress there (with_progress, tests/integration/common.sh)
AM_TESTS_FD_REDIRECT = 9>&2

EXTRA_DIST += tests/criterion-tap tests/tap.sh tests/unit/pattern.h

# --- unit tests (criterion, prefixed API) -----------------------------------
unit_tests_kernel =
include tests/unit/rbtree.mk
include tests/unit/kernel.mk

if HAVE_CRITERION
unit_tests = $(unit_tests_kernel) \
	tests/unit/test_format \
	tests/unit/test_heap \
	tests/unit/test_leakcheck \
	tests/unit/test_lock \
	tests/unit/test_model \
	tests/unit/test_options \
	tests/unit/test_pprof \
	tests/unit/test_threads \
	tests/unit/test_uslab
check_PROGRAMS += $(unit_tests)
endif

# `make check-unit`: the unit tests only (CI runs them in a debug build too)
check-unit:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(unit_tests)'
.PHONY: check-unit

UNIT_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) -Wno-missing-prototypes -Wno-shadow
UNIT_LDADD = libkmmcore.la $(CRITERION_LIBS) -lpthread
# the kernel side's tests: its layer and the one below, nothing above
UNIT_KERNEL_LDADD = libkmmkernel.la libkmmbase.la $(CRITERION_LIBS) -lpthread

tests_unit_test_format_SOURCES = tests/unit/test_format.c
tests_unit_test_format_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_format_LDADD = $(UNIT_LDADD)

tests_unit_test_heap_SOURCES = tests/unit/test_heap.c tests/unit/testutil.h
tests_unit_test_heap_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_heap_LDADD = $(UNIT_LDADD)

tests_unit_test_leakcheck_SOURCES = tests/unit/test_leakcheck.c tests/unit/testutil.h
tests_unit_test_leakcheck_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_leakcheck_LDADD = $(UNIT_LDADD)

tests_unit_test_lock_SOURCES = tests/unit/test_lock.c
tests_unit_test_lock_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_lock_LDADD = $(UNIT_LDADD)

tests_unit_test_model_SOURCES = tests/unit/test_model.c tests/unit/testutil.h
tests_unit_test_model_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_model_LDADD = $(UNIT_LDADD)

tests_unit_test_options_SOURCES = tests/unit/test_options.c tests/unit/testutil.h
tests_unit_test_options_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_options_LDADD = $(UNIT_LDADD)

tests_unit_test_pprof_SOURCES = tests/unit/test_pprof.c
tests_unit_test_pprof_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_pprof_LDADD = $(UNIT_LDADD)

tests_unit_test_uslab_SOURCES = tests/unit/test_uslab.c tests/unit/testutil.h
tests_unit_test_uslab_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_uslab_LDADD = $(UNIT_LDADD)

tests_unit_test_threads_SOURCES = tests/unit/test_threads.c
tests_unit_test_threads_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_threads_LDADD = $(UNIT_LDADD)

include tests/integration/local.mk
include tests/fuzz/local.mk

# the unit tests after the integration tests: they take seconds, and make -j
# starts the tests in TESTS order, the longest first
if HAVE_CRITERION
TESTS += $(unit_tests)
endif
