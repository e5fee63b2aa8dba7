## examples/local.mk — the seed experiments as small programs (examples/README.md).
## Included from the top-level Makefile.am (non-recursive build).  Built by
## `make`, not installed.  They link with nothing of kmm's: run them plainly
## (glibc's malloc) or with LD_PRELOAD=.libs/libkmm.so.
##
## Their own CFLAGS (which replace AM_CFLAGS): -fno-builtin so that the
## compiler keeps every malloc and free as written (it may otherwise drop or
## merge allocations it can see through), -O0 to keep the code as written.
## A user's CFLAGS (configure's default -g -O2) come after these and win for
## -O; the programs report the same at -O2, -fno-builtin is what matters.

EXAMPLES_CFLAGS = -Wall -Wextra -O0 -g -fno-builtin

noinst_PROGRAMS += \
	examples/first_malloc \
	examples/mmap_threshold \
	examples/dynamic_threshold \
	examples/trim \
	examples/free_and_sbrk \
	examples/vmalloc8m

examples_first_malloc_SOURCES = examples/first_malloc.c
examples_first_malloc_CFLAGS = $(EXAMPLES_CFLAGS)

examples_mmap_threshold_SOURCES = examples/mmap_threshold.c
examples_mmap_threshold_CFLAGS = $(EXAMPLES_CFLAGS)
examples_mmap_threshold_LDADD = -ldl

examples_dynamic_threshold_SOURCES = examples/dynamic_threshold.c
examples_dynamic_threshold_CFLAGS = $(EXAMPLES_CFLAGS)
examples_dynamic_threshold_LDADD = -ldl

examples_trim_SOURCES = examples/trim.c
examples_trim_CFLAGS = $(EXAMPLES_CFLAGS)

examples_free_and_sbrk_SOURCES = examples/free_and_sbrk.c
examples_free_and_sbrk_CFLAGS = $(EXAMPLES_CFLAGS)

examples_vmalloc8m_SOURCES = examples/vmalloc8m.c
examples_vmalloc8m_CFLAGS = $(EXAMPLES_CFLAGS)
examples_vmalloc8m_LDADD = -ldl

EXTRA_DIST += examples/README.md
