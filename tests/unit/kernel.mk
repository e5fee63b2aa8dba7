## tests/unit/kernel.mk — unit tests of the kernel side (src/kernel/): the
## buddy page allocator, the slab caches, vmalloc and the region registry.
## Included from tests/local.mk.  The tests link the kernel side and the
## base layer only (UNIT_KERNEL_LDADD): a call from the kernel side up into
## the heap would not link.

unit_tests_kernel += tests/unit/test_buddy tests/unit/test_slab tests/unit/test_vmalloc tests/unit/test_region

tests_unit_test_buddy_SOURCES = tests/unit/test_buddy.c tests/unit/ktest.h
tests_unit_test_buddy_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_buddy_LDADD = $(UNIT_KERNEL_LDADD)

tests_unit_test_slab_SOURCES = tests/unit/test_slab.c tests/unit/ktest.h
tests_unit_test_slab_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_slab_LDADD = $(UNIT_KERNEL_LDADD)

tests_unit_test_vmalloc_SOURCES = tests/unit/test_vmalloc.c tests/unit/ktest.h
tests_unit_test_vmalloc_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_vmalloc_LDADD = $(UNIT_KERNEL_LDADD)

tests_unit_test_region_SOURCES = tests/unit/test_region.c tests/unit/ktest.h
tests_unit_test_region_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_region_LDADD = $(UNIT_KERNEL_LDADD)
