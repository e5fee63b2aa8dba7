#!/bin/sh
# memcheck-heap-1.sh — one part of the memcheck tests: memcheck-body.sh says what.
MEMCHECK_PART=heap-1
. "$KMM_SRCDIR/tests/integration/memcheck-body.sh"
