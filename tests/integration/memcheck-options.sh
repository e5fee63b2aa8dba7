#!/bin/sh
# memcheck-options.sh — one part of the memcheck tests: memcheck-body.sh says what.
MEMCHECK_PART=options
. "$KMM_SRCDIR/tests/integration/memcheck-body.sh"
