#!/bin/sh
# memcheck-heap-2.sh — one part of the memcheck tests: memcheck-body.sh says what.
MEMCHECK_PART=heap-2
. "$KMM_SRCDIR/tests/integration/memcheck-body.sh"
