#!/bin/sh
# memcheck-slab-3.sh — one part of the memcheck tests: memcheck-body.sh says what.
MEMCHECK_PART=slab-3
. "$KMM_SRCDIR/tests/integration/memcheck-body.sh"
