#!/bin/sh
# glibc-malloc-fork3-glibc.sh — one part of glibc's malloc tests: glibc-malloc-body.sh says what.
GLIBC_PART=fork3-glibc
. "$KMM_SRCDIR/tests/integration/glibc-malloc-body.sh"
