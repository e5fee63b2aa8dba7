# tests/tap.sh — helpers for the shell integration tests (TAP output).
#
# Source it, call `plan N` (or `plan_lazy` and `done_testing` at the end),
# then `ok COND-CMD DESCRIPTION...`, `is GOT EXPECTED DESCRIPTION`,
# `skip DESCRIPTION REASON`.  The environment from tests/local.mk provides:
#   KMM_LIB    absolute path of the built libkmm.so
#   KMM_TOOL   the built `kmm` command (tools/kmm)
#   KMM_PROGS  directory of the helper programs built from tests/progs/
#   KMM_TMP    a scratch directory for this test (removed at exit)

_tap_n=0
_tap_failed=0
_tap_planned=

: "${KMM_LIB:?KMM_LIB must point at libkmm.so (run through make check)}"
KMM_TMP=$(mktemp -d "${TMPDIR:-/tmp}/kmm-test.XXXXXX")
trap 'rm -rf "$KMM_TMP"' EXIT
export KMM_TMP

plan() { _tap_planned=$1; echo "1..$1"; }
plan_lazy() { _tap_planned=lazy; }
done_testing() { [ "$_tap_planned" = lazy ] && echo "1..$_tap_n"; return 0; }

diag() { printf '# %s\n' "$*"; }

_result() { # status description
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2"
	else
		echo "not ok $_tap_n - $2"
		_tap_failed=$((_tap_failed + 1))
	fi
}

# ok "description" command args...   (passes if the command succeeds)
ok() {
	_d=$1; shift
	if "$@" >"$KMM_TMP/.ok.out" 2>&1; then _result 0 "$_d"
	else
		_result 1 "$_d"
		sed 's/^/#   /' "$KMM_TMP/.ok.out" | head -40
	fi
}

# is "got" "expected" "description"
is() {
	if [ "$1" = "$2" ]; then _result 0 "$3"
	else
		_result 1 "$3"
		diag "  got:      $(printf '%s' "$1" | head -c 400)"
		diag "  expected: $(printf '%s' "$2" | head -c 400)"
	fi
}

skip() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1 # SKIP $2"
}

# run_kmm CMD...: CMD with libkmm.so preloaded
run_kmm() { LD_PRELOAD="$KMM_LIB" "$@"; }

have() { command -v "$1" >/dev/null 2>&1; }
