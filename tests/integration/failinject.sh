#!/bin/sh
# failinject.sh — failure injection (options fail=N and fail_from=N,
# docs/options.md): the Nth system call kmm makes that may need memory
# fails with ENOMEM (fail_from: and every one after it).  N is swept over
# a whole run of sort and of python3: every run ends with the right output,
# or with the program's own out-of-memory error (sort: "memory exhausted",
# python3: MemoryError, or its "Fatal Python error" abort during start-up),
# never a crash, a hang, a kmm diagnostic or a checker violation (the exit
# report's check section, KMM_STATS_REPORT=check).
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan 7

# N goes up to 60; under profile=glibc (make check-profiles) up to 20; with
# KMM_SLOW=no (.ci/run's distcheck, after make check ran all of it) up to 8
cap=60
[ "${KMM_DEFAULT_PROFILE-}" = glibc ] && cap=20
[ "${KMM_SLOW-}" = no ] && cap=8

# the number of calls a run makes (the main process's count; the
# report's "fail:" lines, one per process under kmm)
count_calls() {
	_f=$KMM_TMP/count.stats
	rm -f "$_f"
	KMM_OPTIONS=fail=1000000000 KMM_STATS_REPORT=check kmm_run "$_f" "$@" >/dev/null 2>&1
	sed -n 's/^fail: \([0-9]*\) calls.*/\1/p' "$_f" | sort -n | tail -1
}

# sweep NAME EXPECTED-OUTPUT OOM-PATTERN CMD...: fail=N and fail_from=N for
# N = 1 .. calls + 1 (at most $cap); two checks
sweep() {
	_name=$1 _exp=$2 _pat=$3; shift 3
	_calls=$(count_calls "$@")
	_max=$((${_calls:-0} + 1))
	[ $_max -gt $cap ] && _max=$cap
	_bad=0 _runs=0 _ok=0 _oom=0
	for _mode in fail fail_from; do
		_n=1
		while [ $_n -le $_max ]; do
			_o=$KMM_TMP/$_name-$_mode-$_n
			rm -f "$_o.stats"
			KMM_TIMEOUT=120 KMM_OPTIONS=$_mode=$_n KMM_STATS_REPORT=check \
				kmm_run "$_o.stats" "$@" >"$_o.out" 2>"$_o.err"
			_st=$?
			_runs=$((_runs + 1))
			_why=
			if grep -q '^kmm: ' "$_o.err"; then
				_why="a kmm diagnostic"
			elif grep '^check: ' "$_o.stats" | grep -qv '^check: 0 violations'; then
				_why="a checker violation"
			elif [ $_st -eq 0 ]; then
				if cmp -s "$_o.out" "$_exp"; then _ok=$((_ok + 1)); else _why="wrong output, status 0"; fi
			elif [ $_st -eq 124 ] || [ $_st -eq 137 ]; then
				_why="a hang"
			elif grep -Eq "$_pat" "$_o.err" && { [ $_st -lt 128 ] || [ $_st -eq 134 ]; }; then
				_oom=$((_oom + 1))
			else
				_why="status $_st"
			fi
			if [ -n "$_why" ]; then
				_bad=$((_bad + 1))
				diag "$_name $_mode=$_n: $_why"
				cat_diag "$_o.err" 5
			fi
			_n=$((_n + 1))
		done
	done
	diag "$_name: $_calls calls that may need memory; $_runs runs: $_ok correct, $_oom out-of-memory errors of its own"
	ok "$_name: kmm counts the calls that may need memory ($_calls)" test "${_calls:-0}" -gt 0
	ok "$_name: fail= and fail_from= over the whole run: no crash, hang, kmm diagnostic or checker violation" \
		test $_bad -eq 0
}

# sort: 600 000 lines in a 64 MiB buffer
awk 'BEGIN { for (i = 0; i < 600000; i++) print (i * 7919) % 600000 }' >"$KMM_TMP/in.txt"
if have sort; then
	sort -S 64M "$KMM_TMP/in.txt" >"$KMM_TMP/sort.exp"
	sweep sort "$KMM_TMP/sort.exp" 'memory exhausted|Cannot allocate memory' sort -S 64M "$KMM_TMP/in.txt"
	_s=$KMM_TMP/sort-fail_from-1
	ok "sort: fail_from=1 ends in sort's own out-of-memory error" grep -q 'memory exhausted' "$_s.err"
else
	skip "sort check 1" "no sort"; skip "sort check 2" "no sort"; skip "sort check 3" "no sort"
fi

# python3: a dict and a list of 300 000 and 100 000 objects
PY=
have python3 && PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
if [ -n "$PY" ]; then
	cat >"$KMM_TMP/py.py" <<'PYEOF'
d = {i: str(i) * 3 for i in range(300000)}
l = [bytes(100) for _ in range(100000)]
print(len(d), len(l))
PYEOF
	echo "300000 100000" >"$KMM_TMP/py.exp"
	sweep python3 "$KMM_TMP/py.exp" 'MemoryError|memory allocation failed|Fatal Python error' \
		"$PY" "$KMM_TMP/py.py"
	ok "python3: memory refused part way raises MemoryError" sh -c \
		"grep -l MemoryError '$KMM_TMP'/python3-fail_from-*.err >/dev/null"
	ok "python3: a single refusal (fail=N) is absorbed: every such run printed the right output" sh -c \
		"for f in '$KMM_TMP'/python3-fail-*.out; do cmp -s \"\$f\" '$KMM_TMP/py.exp' || exit 1; done"
else
	for t in 1 2 3 4; do skip "python3 check $t" "no working python3"; done
fi
