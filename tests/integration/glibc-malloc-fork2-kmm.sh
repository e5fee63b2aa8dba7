#!/bin/sh
# glibc-malloc-fork2-kmm.sh — one part of glibc's malloc tests: glibc-malloc-body.sh says what.
GLIBC_PART=fork2-kmm
. "$KMM_SRCDIR/tests/integration/glibc-malloc-body.sh"
