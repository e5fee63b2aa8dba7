## tests/integration/local.mk — integration tests (real programs under libkmm.so).
##
## Each tests/integration/*.sh is a TAP script run by tests/local.mk's
## SH_LOG_DRIVER; it sources tests/tap.sh and tests/integration/common.sh,
## runs programs plainly (glibc's malloc) and with LD_PRELOAD=libkmm.so, and
## skips what this machine lacks (sort, python3, gcc, g++, git, sqlite3,
## strace, nm, xz).  The helper programs in tests/progs/ are check_PROGRAMS: they
## never link libkmm, they get it preloaded.

# Longest first: make -j starts the tests in this order, so the runs of
# minutes start at once and the short ones fill the other jobs around them.
# The tests that took minutes are divided into parts, each sourcing its
# *-body.sh with the part's name: memcheck-*.sh (memcheck-body.sh),
# glibc-malloc-*.sh, lab-*.sh, sigfork-*.sh.  sigfork-one-sender.sh's
# 10 000 forks and fuzz.sh's minute of fuzzing are single runs: they show
# their progress on the terminal instead (with_progress, common.sh).
integration_tests = \
	tests/integration/sigfork-one-sender.sh \
	tests/integration/fuzz.sh \
	tests/integration/glibc-malloc-fork3-kmm.sh \
	tests/integration/glibc-malloc-fork2-kmm.sh \
	tests/integration/glibc-malloc-fork3-glibc.sh \
	tests/integration/glibc-malloc-fork2-glibc.sh \
	tests/integration/memcheck-heap-2.sh \
	tests/integration/memcheck-slab-1.sh \
	tests/integration/memcheck-vmalloc-2.sh \
	tests/integration/memcheck-heap-1.sh \
	tests/integration/memcheck-vmalloc-1.sh \
	tests/integration/memcheck-heap-4.sh \
	tests/integration/memcheck-programs.sh \
	tests/integration/memcheck-options.sh \
	tests/integration/memcheck-slab-3.sh \
	tests/integration/memcheck-vmalloc-3.sh \
	tests/integration/memcheck-heap-3.sh \
	tests/integration/memcheck-vmalloc-4.sh \
	tests/integration/memcheck-slab-2.sh \
	tests/integration/memcheck-slab-4.sh \
	tests/integration/memcheck-region.sh \
	tests/integration/glibc-malloc-1.sh \
	tests/integration/glibc-malloc-2.sh \
	tests/integration/sigfork-two-senders.sh \
	tests/integration/lab-thresholds.sh \
	tests/integration/lab-trim.sh \
	tests/integration/lab-programs.sh \
	tests/integration/threads-fork.sh \
	tests/integration/warnings.sh \
	tests/integration/failinject.sh \
	tests/integration/oom.sh \
	tests/integration/threads-apps.sh \
	tests/integration/python.sh \
	tests/integration/kernel.sh \
	tests/integration/compilers.sh \
	tests/integration/guard.sh \
	tests/integration/sort.sh \
	tests/integration/git.sh \
	tests/integration/leakcheck.sh \
	tests/integration/hardened.sh \
	tests/integration/symbols.sh \
	tests/integration/layers.sh \
	tests/integration/tool.sh \
	tests/integration/firsthour.sh \
	tests/integration/errors.sh \
	tests/integration/options.sh \
	tests/integration/heap-strace.sh \
	tests/integration/shell.sh \
	tests/integration/sqlite.sh \
	tests/integration/startup.sh \
	tests/integration/trace.sh \
	tests/integration/sample.sh \
	tests/integration/trace-export.sh \
	tests/integration/live.sh \
	tests/integration/install.sh \
	tests/integration/manpages.sh

TESTS += $(integration_tests)

# .ci/run's `make distcheck TESTS='$(distcheck_tests)'`: in the tree built
# from the release tarball, the unit tests and the integration tests that
# take seconds (make check ran all of them before; the memcheck-*.sh,
# lab-*.sh, sigfork-*.sh and glibc-malloc-*.sh parts, threads-fork.sh,
# leakcheck.sh, python.sh and threads-apps.sh take minutes between them)
distcheck_tests = $(unit_tests) \
	tests/integration/fuzz.sh tests/integration/warnings.sh \
	tests/integration/failinject.sh tests/integration/oom.sh \
	tests/integration/kernel.sh tests/integration/compilers.sh \
	tests/integration/guard.sh tests/integration/sort.sh \
	tests/integration/git.sh tests/integration/hardened.sh \
	tests/integration/symbols.sh tests/integration/layers.sh \
	tests/integration/tool.sh tests/integration/firsthour.sh \
	tests/integration/errors.sh \
	tests/integration/options.sh tests/integration/heap-strace.sh \
	tests/integration/shell.sh tests/integration/sqlite.sh \
	tests/integration/startup.sh tests/integration/trace.sh \
	tests/integration/sample.sh \
	tests/integration/trace-export.sh \
	tests/integration/live.sh \
	tests/integration/install.sh tests/integration/manpages.sh

# check-profiles: the integration tests again under profile=glibc
# (KMM_DEFAULT_PROFILE, docs/options.md), logged to test-suite-glibc.log; plain
# `make check` runs them under the default profile (kmm).
check-profiles:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(integration_tests)' \
		TEST_SUITE_LOG=test-suite-glibc.log KMM_DEFAULT_PROFILE=glibc
.PHONY: check-profiles
dist_check_SCRIPTS += $(integration_tests)
EXTRA_DIST += tests/integration/common.sh tests/glibc/glibc-malloc-tests.sh \
	tests/integration/memcheck-body.sh tests/integration/glibc-malloc-body.sh \
	tests/integration/lab-body.sh tests/integration/sigfork-body.sh \
	tests/integration/pprof-totals.py

check_PROGRAMS += \
	tests/progs/heapprobe \
	tests/progs/forkstress \
	tests/progs/sigfork \
	tests/progs/oom \
	tests/progs/threadexec \
	tests/progs/malloc_errors \
	tests/progs/cxxalloc \
	tests/progs/traceprobe \
	tests/progs/vgprobe \
	tests/progs/leakprobe \
	tests/progs/guardprobe \
	tests/progs/sampleprobe \
	tests/progs/livephases \
	tests/progs/livefake

# -fno-builtin: the compiler must not fold or drop the allocations the
# helpers make on purpose (malloc(SIZE_MAX), new/delete pairs, ...)
PROGS_CFLAGS = -Wall -Wextra -fno-builtin
# dlsym (kmm_version, kmm_stats_get): in libc since glibc 2.34, in libdl before
PROGS_LIBS = -ldl

tests_progs_heapprobe_SOURCES = tests/progs/heapprobe.c
tests_progs_heapprobe_CFLAGS = $(PROGS_CFLAGS) -pthread
tests_progs_heapprobe_LDADD = $(PROGS_LIBS) -lpthread

tests_progs_livephases_SOURCES = tests/progs/livephases.c
tests_progs_livephases_CFLAGS = $(PROGS_CFLAGS) -pthread
tests_progs_livephases_LDADD = $(PROGS_LIBS) -lpthread

# (the live view's segment layout: src/live_format.h, its only kmm header)
tests_progs_livefake_SOURCES = tests/progs/livefake.c src/live_format.h
tests_progs_livefake_CPPFLAGS = -I$(top_srcdir)/src
tests_progs_livefake_CFLAGS = $(PROGS_CFLAGS)

tests_progs_oom_SOURCES = tests/progs/oom.c
tests_progs_oom_CFLAGS = $(PROGS_CFLAGS)
tests_progs_oom_LDADD = $(PROGS_LIBS) -ldl
tests_progs_sigfork_SOURCES = tests/progs/sigfork.c
tests_progs_sigfork_CFLAGS = $(PROGS_CFLAGS) -pthread
tests_progs_sigfork_LDADD = $(PROGS_LIBS) -lpthread
tests_progs_forkstress_SOURCES = tests/progs/forkstress.c
tests_progs_forkstress_CFLAGS = $(PROGS_CFLAGS) -pthread
tests_progs_forkstress_LDADD = $(PROGS_LIBS) -lpthread

tests_progs_threadexec_SOURCES = tests/progs/threadexec.c
tests_progs_threadexec_CFLAGS = $(PROGS_CFLAGS) -pthread
tests_progs_threadexec_LDADD = $(PROGS_LIBS) -lpthread

tests_progs_malloc_errors_SOURCES = tests/progs/malloc_errors.c
tests_progs_malloc_errors_CFLAGS = $(PROGS_CFLAGS)
tests_progs_malloc_errors_LDADD = $(PROGS_LIBS)

tests_progs_cxxalloc_SOURCES = tests/progs/cxxalloc.cc
tests_progs_cxxalloc_CXXFLAGS = -std=c++17 $(PROGS_CFLAGS)
tests_progs_cxxalloc_LDADD = $(PROGS_LIBS)

# libearly.so: a real shared library (not a module) that earlyprobe links,
# so that its constructor runs before libkmm's; -rpath makes libtool build
# it shared, -no-install lets earlyprobe run from the build tree directly.
check_LTLIBRARIES = tests/progs/libearly.la
tests_progs_libearly_la_SOURCES = tests/progs/early.c
tests_progs_libearly_la_CFLAGS = $(PROGS_CFLAGS)
tests_progs_libearly_la_LDFLAGS = -rpath '$(abs_builddir)/tests/progs' -avoid-version
tests_progs_libearly_la_LIBADD = $(PROGS_LIBS) -lpthread

check_PROGRAMS += tests/progs/earlyprobe
tests_progs_earlyprobe_SOURCES = tests/progs/earlyprobe.c
tests_progs_earlyprobe_CFLAGS = $(PROGS_CFLAGS)
tests_progs_earlyprobe_LDADD = tests/progs/libearly.la $(PROGS_LIBS)
tests_progs_earlyprobe_LDFLAGS = -no-install

tests_progs_guardprobe_SOURCES = tests/progs/guardprobe.c
tests_progs_guardprobe_CFLAGS = $(PROGS_CFLAGS)
tests_progs_vgprobe_SOURCES = tests/progs/vgprobe.c
# -O0 -g: memcheck's reports name the lines of the bugs it plants
tests_progs_vgprobe_CFLAGS = $(PROGS_CFLAGS) -O0 -g
tests_progs_traceprobe_SOURCES = tests/progs/traceprobe.c
tests_progs_traceprobe_CFLAGS = $(PROGS_CFLAGS) -g -pthread
tests_progs_traceprobe_LDADD = $(PROGS_LIBS) -lpthread

# -g: go tool pprof names alloc_small and alloc_big from the symbols
tests_progs_sampleprobe_SOURCES = tests/progs/sampleprobe.c
tests_progs_sampleprobe_CFLAGS = $(PROGS_CFLAGS) -g -pthread
tests_progs_sampleprobe_LDADD = $(PROGS_LIBS) -lpthread

# -rdynamic: the leak report names the leak_* functions (dladdr)
tests_progs_leakprobe_SOURCES = tests/progs/leakprobe.c
tests_progs_leakprobe_CFLAGS = $(PROGS_CFLAGS) -g -pthread
tests_progs_leakprobe_LDADD = $(PROGS_LIBS) -lpthread
tests_progs_leakprobe_LDFLAGS = -rdynamic

# glibc-malloc-*.sh build glibc's malloc tests here, once per build tree
clean-local: clean-glibc-work
clean-glibc-work:
	rm -rf tests/glibc-work
.PHONY: clean-glibc-work
