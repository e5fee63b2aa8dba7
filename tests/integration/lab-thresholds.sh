#!/bin/sh
# lab-thresholds.sh — one part of the strace comparison lab's tests: lab-body.sh says what.
LAB_PART=thresholds
. "$KMM_SRCDIR/tests/integration/lab-body.sh"
