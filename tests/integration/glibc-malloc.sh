#!/bin/sh
# glibc-malloc.sh — glibc's own malloc tests (glibc 2.36's malloc/tst-*.c,
# from Debian's glibc-source) built by tests/glibc/glibc-malloc-tests.sh
# and run with libkmm.so preloaded: one TAP line per test, under the
# profile of the run (make check-profiles runs them again under
# profile=glibc).  Each test is first run with glibc's own malloc, which
# must pass it: a test that fails there says nothing about kmm.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

GT=$KMM_SRCDIR/tests/glibc/glibc-malloc-tests.sh
tests=$(sh "$GT" list)
n=$(printf '%s\n' "$tests" | wc -l)

tarball=
for t in /usr/src/glibc/glibc-*.tar.xz; do [ -f "$t" ] && tarball=$t; done
if [ -z "$tarball" ]; then
	plan 1
	skip "glibc's malloc tests" "glibc-source is not installed (tools/install-deps installs it)"
	exit 0
fi

plan $((1 + 2 * n))
# built once per build tree, next to the test helpers
work=$KMM_PROGS/../glibc-work
sh "$GT" build "$work" "$tarball" >"$KMM_TMP/build.log" 2>&1
st=$?
ok "glibc's malloc tests build from $(basename "$tarball")" status_is $st 0
[ $st -eq 0 ] || sed 's/^/#   /' "$KMM_TMP/build.log" | tail -20

for t in $tests; do
	# glibc's test driver has its own timeout (20 s unless the test sets
	# another); this one is for a driver that hangs itself
	with_timeout 300 sh "$GT" run "$work" "$t" none >"$KMM_TMP/$t.glibc" 2>&1
	st=$?
	ok "$t passes with glibc's malloc" status_is $st 0
	[ $st -eq 0 ] || sed 's/^/#   /' "$KMM_TMP/$t.glibc" | tail -10
	start=$(date +%s)
	with_timeout 300 sh "$GT" run "$work" "$t" "$KMM_LIB" >"$KMM_TMP/$t.kmm" 2>&1
	st=$?
	diag "$t: $(($(date +%s) - start)) s under kmm"
	ok "$t passes under kmm (${KMM_DEFAULT_PROFILE:-default} profile)" status_is $st 0
	[ $st -eq 0 ] || sed 's/^/#   /' "$KMM_TMP/$t.kmm" | tail -10
done
