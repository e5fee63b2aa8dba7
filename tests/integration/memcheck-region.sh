#!/bin/sh
# memcheck-region.sh — one part of the memcheck tests: memcheck-body.sh says what.
MEMCHECK_PART=region
. "$KMM_SRCDIR/tests/integration/memcheck-body.sh"
