#!/bin/sh
# memcheck-vmalloc-4.sh — one part of the memcheck tests: memcheck-body.sh says what.
MEMCHECK_PART=vmalloc-4
. "$KMM_SRCDIR/tests/integration/memcheck-body.sh"
