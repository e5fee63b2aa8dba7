#!/bin/sh
# glibc-malloc-2.sh — one part of glibc's malloc tests: glibc-malloc-body.sh says what.
GLIBC_PART=2
. "$KMM_SRCDIR/tests/integration/glibc-malloc-body.sh"
