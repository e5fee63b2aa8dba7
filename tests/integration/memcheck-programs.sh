#!/bin/sh
# memcheck-programs.sh — one part of the memcheck tests: memcheck-body.sh says what.
MEMCHECK_PART=programs
. "$KMM_SRCDIR/tests/integration/memcheck-body.sh"
