#!/bin/sh
# memcheck-slab-2.sh — one part of the memcheck tests: memcheck-body.sh says what.
MEMCHECK_PART=slab-2
. "$KMM_SRCDIR/tests/integration/memcheck-body.sh"
