#!/bin/sh
# memcheck-vmalloc-1.sh — one part of the memcheck tests: memcheck-body.sh says what.
MEMCHECK_PART=vmalloc-1
. "$KMM_SRCDIR/tests/integration/memcheck-body.sh"
