## tools/trace.mk — kmm-trace, the reader of the allocation trace log
## (docs/trace.md), and its tests.

# The reader: C11 and libc only (it runs addr2line, when installed, to find
# source lines).  tools/trace/kmm-trace.h says which file holds what.
# The format is src/trace_format.h, shared with the writer (src/trace.c)
# and tracegen, the one header of kmm's the two programs include: their
# CPPFLAGS, which replace AM_CPPFLAGS, give them src/ and nothing else of
# kmm's.  It is listed in their sources so that make dist packs it
# (libkmmcore's list in Makefile.am does not name it).  The reader also
# builds src/util/pprof.c, the streaming pprof writer the library shares
# (libc-free and self-contained: its header is all it includes), for
# export --format=pprof.
TRACE_FORMAT_CPPFLAGS = -I$(top_srcdir)/src -D_GNU_SOURCE
bin_PROGRAMS = tools/kmm-trace
tools_kmm_trace_SOURCES = \
	tools/trace/kmm-trace.h src/trace_format.h \
	tools/trace/util.c tools/trace/log.c tools/trace/merge.c \
	tools/trace/maps.c tools/trace/elf.c tools/trace/symbols.c \
	tools/trace/names.c tools/trace/analysis.c \
	tools/trace/dump.c tools/trace/summary.c tools/trace/leaks.c \
	tools/trace/mtrace.c tools/trace/plot.c tools/trace/export.c tools/trace/massif.c tools/trace/perfetto.c \
	tools/trace/pprof_out.c src/util/pprof.c src/util/pprof.h tools/trace/stackid.c tools/trace/at.c \
	tools/trace/diff.c tools/trace/main.c
tools_kmm_trace_CPPFLAGS = $(TRACE_FORMAT_CPPFLAGS)
tools_kmm_trace_CFLAGS = -Wall -Wextra -O2

# tracegen writes synthetic logs with known contents; trace-reader.sh checks
# kmm-trace's output against them.  -g: the test checks source lines.
# The test finds the reader as $(KMM_PROGS)/../../tools/kmm-trace.
check_PROGRAMS += tests/progs/tracegen
tests_progs_tracegen_SOURCES = tests/progs/tracegen.c src/trace_format.h
tests_progs_tracegen_CPPFLAGS = $(TRACE_FORMAT_CPPFLAGS)
tests_progs_tracegen_CFLAGS = -Wall -Wextra -O2 -g

TESTS += tests/integration/trace-reader.sh
dist_check_SCRIPTS += tests/integration/trace-reader.sh
