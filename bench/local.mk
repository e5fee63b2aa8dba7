## bench/local.mk — benchmarks (`make bench`); never part of `make check`.
##
## The workloads (bench/*.c) and the runner are EXTRA_PROGRAMS: plain `make`
## and `make check` leave them alone; `make bench` builds them into
## bench/bin/ and runs bench/run against the libkmm.so just built.
##   make bench BENCH_ARGS='-n 3 -s 0.5 -w small,mixed'   (see bench/run --help)

BENCH_WORKLOADS = \
	bench/bin/small \
	bench/bin/mixed \
	bench/bin/realloc \
	bench/bin/prodcons \
	bench/bin/threads \
	bench/bin/larson \
	bench/bin/xmalloc \
	bench/bin/cache-scratch \
	bench/bin/cache-thrash \
	bench/bin/large \
	bench/bin/fragment \
	bench/bin/bintree \
	bench/bin/calloc-mix \
	bench/bin/aligned \
	bench/bin/sh6bench \
	bench/bin/sh8bench \
	bench/bin/big \
	bench/bin/bigrealloc \
	bench/bin/mstress \
	bench/bin/rptest \
	bench/bin/glibc-simple \
	bench/bin/glibc-thread \
	bench/bin/malloc-large \
	bench/bin/alloc-test
BENCH_BINS = $(BENCH_WORKLOADS) bench/bin/runner

EXTRA_PROGRAMS = $(BENCH_BINS)
CLEANFILES += $(BENCH_BINS)
EXTRA_DIST += bench/README.md bench/run bench/mimalloc-bench.sh \
	bench/allocators.sh bench/security.sh bench/prun.c

# The program workloads: scripts run by the runner from the source tree
# (bench/run passes --programs-dir), nothing to build.
BENCH_PROGRAM_FILES = \
	bench/programs/common.sh \
	bench/programs/py.sh bench/programs/py.py \
	bench/programs/sqlite.sh \
	bench/programs/gcc.sh \
	bench/programs/perl.sh bench/programs/perl.pl \
	bench/programs/lua.sh bench/programs/lua.lua \
	bench/programs/sort.sh \
	bench/programs/redis.sh \
	bench/programs/git.sh
EXTRA_DIST += $(BENCH_PROGRAM_FILES)

# -O2 whatever CFLAGS say first; no builtin malloc family, so the compiler
# cannot fold or drop an allocation (the checksums make the results
# observable as well).
BENCH_CFLAGS = -O2 -Wall -Wextra \
	-fno-builtin-malloc -fno-builtin-calloc -fno-builtin-realloc -fno-builtin-free

# The project's AM_CPPFLAGS (the allocator's own include paths) are not
# wanted here: the workloads are plain programs.
BENCH_CPPFLAGS = -D_GNU_SOURCE

bench_bin_small_SOURCES = bench/small.c bench/common.h
bench_bin_small_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_small_CFLAGS = $(BENCH_CFLAGS)

bench_bin_mixed_SOURCES = bench/mixed.c bench/common.h
bench_bin_mixed_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_mixed_CFLAGS = $(BENCH_CFLAGS)

bench_bin_realloc_SOURCES = bench/realloc.c bench/common.h
bench_bin_realloc_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_realloc_CFLAGS = $(BENCH_CFLAGS)

bench_bin_prodcons_SOURCES = bench/prodcons.c bench/common.h
bench_bin_prodcons_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_prodcons_CFLAGS = $(BENCH_CFLAGS) -pthread
bench_bin_prodcons_LDADD = -lpthread

bench_bin_threads_SOURCES = bench/threads.c bench/common.h
bench_bin_threads_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_threads_CFLAGS = $(BENCH_CFLAGS) -pthread
bench_bin_threads_LDADD = -lpthread

bench_bin_larson_SOURCES = bench/larson.c bench/common.h
bench_bin_larson_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_larson_CFLAGS = $(BENCH_CFLAGS) -pthread
bench_bin_larson_LDADD = -lpthread

bench_bin_xmalloc_SOURCES = bench/xmalloc.c bench/common.h
bench_bin_xmalloc_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_xmalloc_CFLAGS = $(BENCH_CFLAGS) -pthread
bench_bin_xmalloc_LDADD = -lpthread

bench_bin_cache_scratch_SOURCES = bench/cache-scratch.c bench/common.h
bench_bin_cache_scratch_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_cache_scratch_CFLAGS = $(BENCH_CFLAGS) -pthread
bench_bin_cache_scratch_LDADD = -lpthread

bench_bin_cache_thrash_SOURCES = bench/cache-thrash.c bench/common.h
bench_bin_cache_thrash_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_cache_thrash_CFLAGS = $(BENCH_CFLAGS) -pthread
bench_bin_cache_thrash_LDADD = -lpthread

bench_bin_large_SOURCES = bench/large.c bench/common.h
bench_bin_large_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_large_CFLAGS = $(BENCH_CFLAGS)

bench_bin_fragment_SOURCES = bench/fragment.c bench/common.h bench/align.h
bench_bin_fragment_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_fragment_CFLAGS = $(BENCH_CFLAGS)

bench_bin_bintree_SOURCES = bench/bintree.c bench/common.h bench/align.h
bench_bin_bintree_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_bintree_CFLAGS = $(BENCH_CFLAGS)

bench_bin_calloc_mix_SOURCES = bench/calloc-mix.c bench/common.h bench/align.h
bench_bin_calloc_mix_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_calloc_mix_CFLAGS = $(BENCH_CFLAGS)

bench_bin_aligned_SOURCES = bench/aligned.c bench/common.h bench/align.h
bench_bin_aligned_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_aligned_CFLAGS = $(BENCH_CFLAGS)

bench_bin_sh6bench_SOURCES = bench/sh6bench.c bench/common.h bench/align.h
bench_bin_sh6bench_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_sh6bench_CFLAGS = $(BENCH_CFLAGS) -pthread
bench_bin_sh6bench_LDADD = -lpthread

bench_bin_sh8bench_SOURCES = bench/sh8bench.c bench/common.h bench/align.h
bench_bin_sh8bench_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_sh8bench_CFLAGS = $(BENCH_CFLAGS) -pthread
bench_bin_sh8bench_LDADD = -lpthread

bench_bin_big_SOURCES = bench/big.c bench/common.h
bench_bin_big_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_big_CFLAGS = $(BENCH_CFLAGS)

bench_bin_bigrealloc_SOURCES = bench/bigrealloc.c bench/common.h
bench_bin_bigrealloc_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_bigrealloc_CFLAGS = $(BENCH_CFLAGS)

bench_bin_mstress_SOURCES = bench/mstress.c bench/common.h bench/align.h
bench_bin_mstress_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_mstress_CFLAGS = $(BENCH_CFLAGS) -pthread
bench_bin_mstress_LDADD = -lpthread

bench_bin_rptest_SOURCES = bench/rptest.c bench/common.h bench/align.h
bench_bin_rptest_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_rptest_CFLAGS = $(BENCH_CFLAGS) -pthread
bench_bin_rptest_LDADD = -lpthread

bench_bin_glibc_simple_SOURCES = bench/glibc-simple.c bench/common.h bench/align.h
bench_bin_glibc_simple_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_glibc_simple_CFLAGS = $(BENCH_CFLAGS) -pthread
bench_bin_glibc_simple_LDADD = -lpthread

bench_bin_glibc_thread_SOURCES = bench/glibc-thread.c bench/common.h bench/align.h
bench_bin_glibc_thread_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_glibc_thread_CFLAGS = $(BENCH_CFLAGS) -pthread
bench_bin_glibc_thread_LDADD = -lpthread -lm

bench_bin_malloc_large_SOURCES = bench/malloc-large.c bench/common.h bench/align.h
bench_bin_malloc_large_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_malloc_large_CFLAGS = $(BENCH_CFLAGS)

bench_bin_alloc_test_SOURCES = bench/alloc-test.c bench/common.h bench/align.h
bench_bin_alloc_test_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_alloc_test_CFLAGS = $(BENCH_CFLAGS) -pthread
bench_bin_alloc_test_LDADD = -lpthread

bench_bin_runner_SOURCES = bench/runner.c
bench_bin_runner_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_bin_runner_CFLAGS = -O2 -Wall -Wextra
bench_bin_runner_LDADD = -lm

BENCH_ARGS =

.PHONY: bench bench-build
bench-build: $(BENCH_BINS)

bench: bench-build $(lib_LTLIBRARIES)
	KMM_BENCH_BIN='$(abs_top_builddir)/bench/bin' \
	  $(SHELL) '$(top_srcdir)/bench/run' \
	  --kmm='$(abs_top_builddir)/.libs/libkmm.so' $(BENCH_ARGS)
