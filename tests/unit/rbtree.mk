## tests/unit/rbtree.mk — the red-black tree's unit test (src/kernel/rbtree.c).
## Included from tests/local.mk; the test links the kernel side and the base
## layer only.

unit_tests_kernel += tests/unit/test_rbtree

tests_unit_test_rbtree_SOURCES = tests/unit/test_rbtree.c tests/unit/ktest.h
tests_unit_test_rbtree_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_rbtree_LDADD = $(UNIT_KERNEL_LDADD)
