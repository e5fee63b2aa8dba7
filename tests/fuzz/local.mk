## tests/fuzz/local.mk — the fuzzer (tests/fuzz/fuzz_api.c; docs/hardening.md,
## "The fuzzer").
##
##   tests/fuzz/fuzz-replay  the harness with its own main, built like the
##                           unit tests (links the core's prefixed API): runs
##                           the seed corpus and crash files
##   tests/fuzz/kmm-fuzz     the harness with libFuzzer: every core source
##                           compiled again by $(FUZZ_CC) with coverage and
##                           UBSan (configure found a compiler with libFuzzer)
##   make fuzz               kmm-fuzz for FUZZ_SECONDS (default 3600) over a
##                           copy of the seed corpus in fuzz-corpus/, crash
##                           files in fuzz-crashes/
## tests/integration/fuzz.sh runs both in make check.

check_PROGRAMS += tests/fuzz/fuzz-replay
tests_fuzz_fuzz_replay_SOURCES = tests/fuzz/fuzz_api.c
tests_fuzz_fuzz_replay_CPPFLAGS = $(AM_CPPFLAGS) -DKMM_FUZZ_REPLAY
tests_fuzz_fuzz_replay_LDADD = libkmmcore.la
EXTRA_DIST += tests/fuzz/corpus

# the core's C sources, in link order (heap_map.c last: heap_map.c says why)
fuzz_core_sources = $(filter %.c,$(libkmmbase_la_SOURCES) $(libkmmkernel_la_SOURCES) \
	$(libkmmheap_la_SOURCES) $(libkmmcore_la_SOURCES) $(libkmmheapmap_la_SOURCES))
fuzz_flags = -g -O1 -fsanitize=undefined -fno-sanitize-recover=undefined \
	-D_GNU_SOURCE -I$(top_srcdir)/include -I$(top_srcdir)/src -I$(top_builddir) \
	-fvisibility=hidden -ftls-model=initial-exec -fno-builtin-malloc \
	-fno-builtin-calloc -fno-builtin-realloc -fno-builtin-free -fno-strict-aliasing

if HAVE_LIBFUZZER
check_SCRIPTS = tests/fuzz/kmm-fuzz
CLEANFILES += tests/fuzz/kmm-fuzz tests/fuzz/kmm-fuzz-harness.o
# The harness itself is built without coverage: its loops over the blocks'
# bytes would cost most of the fuzzer's time and guide nothing.
tests/fuzz/kmm-fuzz: $(addprefix $(top_srcdir)/,$(fuzz_core_sources)) \
		$(top_srcdir)/tests/fuzz/fuzz_api.c $(top_srcdir)/src/*.h \
		$(top_srcdir)/src/*/*.h $(top_srcdir)/include/kmm.h config.h
	$(AM_V_GEN)$(MKDIR_P) tests/fuzz && \
	$(FUZZ_CC) $(fuzz_flags) -O2 -c $(top_srcdir)/tests/fuzz/fuzz_api.c \
		-o tests/fuzz/kmm-fuzz-harness.o && \
	$(FUZZ_CC) $(fuzz_flags) -fsanitize=fuzzer \
		$(addprefix $(top_srcdir)/,$(fuzz_core_sources)) \
		tests/fuzz/kmm-fuzz-harness.o -lpthread -ldl -o $@
endif

FUZZ_SECONDS = 3600
fuzz: tests/fuzz/fuzz-replay
	@if test ! -x tests/fuzz/kmm-fuzz && ! $(MAKE) $(AM_MAKEFLAGS) tests/fuzz/kmm-fuzz; then \
		echo "make fuzz: needs a compiler with libFuzzer (configure found none: FUZZ_CC=...; Debian: clang libclang-rt-14-dev)"; exit 1; fi
	$(MKDIR_P) fuzz-corpus fuzz-crashes
	cp -n $(top_srcdir)/tests/fuzz/corpus/* fuzz-corpus/
	tests/fuzz/kmm-fuzz -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		-artifact_prefix=fuzz-crashes/ fuzz-corpus
.PHONY: fuzz
