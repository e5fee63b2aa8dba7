#!/bin/sh
# sigfork-two-senders.sh — one part of the sigfork tests: sigfork-body.sh says what.
SIGFORK_PART=two-senders
. "$KMM_SRCDIR/tests/integration/sigfork-body.sh"
