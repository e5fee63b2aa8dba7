#!/bin/sh
# lab-programs.sh — one part of the strace comparison lab's tests: lab-body.sh says what.
LAB_PART=programs
. "$KMM_SRCDIR/tests/integration/lab-body.sh"
