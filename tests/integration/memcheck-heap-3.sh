#!/bin/sh
# memcheck-heap-3.sh — one part of the memcheck tests: memcheck-body.sh says what.
MEMCHECK_PART=heap-3
. "$KMM_SRCDIR/tests/integration/memcheck-body.sh"
