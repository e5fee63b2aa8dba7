#!/bin/sh
# lab-trim.sh — one part of the strace comparison lab's tests: lab-body.sh says what.
LAB_PART=trim
. "$KMM_SRCDIR/tests/integration/lab-body.sh"
