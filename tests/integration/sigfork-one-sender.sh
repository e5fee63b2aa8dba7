#!/bin/sh
# sigfork-one-sender.sh — one part of the sigfork tests: sigfork-body.sh says what.
SIGFORK_PART=one-sender
. "$KMM_SRCDIR/tests/integration/sigfork-body.sh"
