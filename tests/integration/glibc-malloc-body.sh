#!/bin/sh
# glibc-malloc-body.sh — glibc's own malloc tests (glibc 2.36's malloc/tst-*.c,
# from Debian's glibc-source) built by tests/glibc/glibc-malloc-tests.sh
# and run with libkmm.so preloaded: one TAP line per test, under the
# profile of the run (make check-profiles runs them again under
# profile=glibc).  Each test is first run with glibc's own malloc, which
# must pass it: a test that fails there says nothing about kmm.
# KMM_GLIBC_SLOW=no skips the two fork tests that take a minute each.
#
# Sourced by four parts that make -j runs side by side, GLIBC_PART set:
#   fork2-glibc, fork2-kmm, fork3-glibc, fork3-kmm
#                 tst-mallocfork2, tst-mallocfork3 (the two long ones), the
#                 reference run with glibc's malloc and the run under kmm
#                 apart
#   1             the tests before them in glibc-malloc-tests.sh's list
#   2             the tests after them
# Each part builds the tests (once per build tree: the first part to come
# builds them, the others wait for it) and runs its own.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

GT=$KMM_SRCDIR/tests/glibc/glibc-malloc-tests.sh
all=$(sh "$GT" list)
case ${GLIBC_PART:?GLIBC_PART must name the part} in
fork[23]-glibc|fork[23]-kmm) tests=tst-mallocfork${GLIBC_PART#fork}; tests=${tests%-*} ;;
1) tests=$(printf '%s\n' "$all" | sed '/^tst-mallocfork[23]$/,$d') ;;
2) tests=$(printf '%s\n' "$all" | sed '1,/^tst-mallocfork3$/d') ;;
*) echo "glibc-malloc-body.sh: no part $GLIBC_PART" >&2; exit 99 ;;
esac
n=$(printf '%s\n' "$tests" | wc -l)
# the runs of each test: with glibc's malloc, under kmm, or both
case $GLIBC_PART in
*-glibc) sides=glibc; per_test=1 ;;
*-kmm) sides=kmm; per_test=1 ;;
*) sides=both; per_test=2 ;;
esac

tarball=
for t in /usr/src/glibc/glibc-*.tar.xz; do [ -f "$t" ] && tarball=$t; done
if [ -z "$tarball" ]; then
	plan 1
	skip "glibc's malloc tests" "glibc-source is not installed (tools/install-deps installs it)"
	exit 0
fi

plan $((1 + per_test * n))
# built once per build tree, next to the test helpers
work=$KMM_PROGS/../glibc-work
mkdir -p "$work"
if have flock; then
	flock "$work/.build-lock" sh "$GT" build "$work" "$tarball" >"$KMM_TMP/build.log" 2>&1
else
	sh "$GT" build "$work" "$tarball" >"$KMM_TMP/build.log" 2>&1
fi
st=$?
ok "glibc's malloc tests build from $(basename "$tarball")" status_is $st 0
[ $st -eq 0 ] || sed 's/^/#   /' "$KMM_TMP/build.log" | tail -20

profile=${KMM_DEFAULT_PROFILE:-kmm}

# todo TEST: why TEST is known to fail under this profile ("" if it is not)
todo() {
	case $profile:$1 in
	kmm:tst-malloc-backtrace)
		echo "it overwrites the chunk header glibc keeps in front of a freed 4096-byte block and expects the next malloc to see it; the default profile serves that size from a slab, whose objects have no header: the write lands in the neighbouring object (profile=glibc catches it)" ;;
	esac
}

for t in $tests; do
	# KMM_GLIBC_SLOW=no (.ci/run's distcheck, which runs make check once
	# more): not the two fork tests that take a minute each
	case ${KMM_GLIBC_SLOW-}:$t in
	no:tst-mallocfork2|no:tst-mallocfork3)
		[ $sides = kmm ] || skip "$t passes with glibc's malloc" "KMM_GLIBC_SLOW=no"
		[ $sides = glibc ] || skip "$t passes under kmm ($profile profile)" "KMM_GLIBC_SLOW=no"
		continue ;;
	esac
	# glibc's test driver has its own timeout (20 s unless the test sets
	# another, times 3: glibc-malloc-tests.sh); this one is for a driver
	# that hangs itself.  The reference
	# run with glibc's malloc only under the default profile (it is the
	# same run under both): tst-mallocfork2 and 3 take a minute each.
	if [ $sides = kmm ]; then
		:
	elif [ "$profile" = glibc ]; then
		skip "$t passes with glibc's malloc" "checked by the default profile's run"
	else
		with_timeout 600 sh "$GT" run "$work" "$t" none >"$KMM_TMP/$t.glibc" 2>&1
		st=$?
		ok "$t passes with glibc's malloc" status_is $st 0
		[ $st -eq 0 ] || sed 's/^/#   /' "$KMM_TMP/$t.glibc" | tail -10
	fi
	[ $sides = glibc ] && continue
	start=$(date +%s)
	with_timeout 600 sh "$GT" run "$work" "$t" "$KMM_LIB" >"$KMM_TMP/$t.kmm" 2>&1
	st=$?
	diag "$t: $(($(date +%s) - start)) s under kmm"
	why=$(todo "$t")
	if [ -n "$why" ]; then
		# a known failure, marked TODO (XFAIL); passing would be XPASS,
		# which counts as a failure until the mark goes
		_tap_n=$((_tap_n + 1))
		if [ $st -eq 0 ]; then r=ok; else r="not ok"; fi
		echo "$r $_tap_n - $t passes under kmm ($profile profile) # TODO $why"
		continue
	fi
	ok "$t passes under kmm ($profile profile)" status_is $st 0
	[ $st -eq 0 ] || sed 's/^/#   /' "$KMM_TMP/$t.kmm" | tail -10
done
