#!/bin/sh
# leakcheck.sh — the leak scanner (KMM_LEAKCHECK, kmm_leak_check();
# docs/hardening.md, "The leak scanner").  tests/progs/leakprobe builds
# known non-leaks (blocks referenced only from a global, from another
# block, through interior pointers, from a big block, from a running
# function's stack, from another thread's stack, from TLS) and known leaks
# (lost pointers, a cycle, a big block, realloc'ed, calloc'ed, a lost list,
# malloc(0), a block whose realloc failed), scans through the API and at
# exit, and prints what the reports must say; the reports must say exactly
# that.  Then: a fork child's scan, scans while three threads allocate,
# 200 000 live blocks (the scan's time), the exit report of real programs
# (sort, python3, a shell), forks under the scanner, the tracking's cost.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan_lazy

LP=$KMM_PROGS/leakprobe
T=$KMM_TMP

leak_run() { with_timeout 120 env LD_PRELOAD="$KMM_LIB" KMM_LEAKCHECK=1 "$@"; }

# found REPORT: "FUNCTION SIZE" for every unreferenced object of REPORT
# (the function as dladdr named it, "-" if none), sorted
found() {
	sed -n 's/^unreferenced object 0x[0-9a-f]* (size \([0-9]*\)): allocated at 0x[0-9a-f]* (\(.*\))$/\2 \1/p' "$1" |
		awk '{ fn = "-"; if (NF == 3) { fn = $2; sub(/\+0x[0-9a-f]*\)?$/, "", fn) } print fn, $NF }' | sort
}
# found_grouped REPORT: the same list from `kmm leakcheck`'s report, which
# groups the objects of a site ("N unreferenced objects, B bytes, allocated
# at ..." and "  sizes: S (xK) ...")
found_grouped() {
	awk '
	/^[0-9]+ unreferenced objects?, [0-9]+ bytes, allocated at / {
		fn = "-"; s = $0; sub(/^.*allocated at 0x[0-9a-f]+ \(/, "", s); sub(/\)$/, "", s)
		if (index(s, ", ") > 0) { fn = s; sub(/^.*, /, "", fn); sub(/\+0x[0-9a-f]*$/, "", fn) }
		insite = 1; next
	}
	insite && /^  sizes:/ {
		for (i = 2; i <= NF; i++) {
			if ($i ~ /^\(x[0-9]+\)$/) continue
			k = 1
			if (i < NF && $(i + 1) ~ /^\(x[0-9]+\)$/) { k = $(i + 1); gsub(/[^0-9]/, "", k); k += 0 }
			for (j = 0; j < k; j++) print fn, $i
		}
		insite = 0
	}' "$1" | sort
}
# want OUT [PREFIX...]: the same list, from leakprobe's "expect FN SIZE COUNT" lines
want() {
	_w_out=$1; shift
	for _w_p in "$@"; do
		awk -v p="$_w_p" '$1 == p { for (i = 0; i < $4; i++) print $2, $3 }' "$_w_out"
	done | sort
}
# summary REPORT: "N M K" of its "N unreferenced blocks, M bytes (of K live blocks)"
summary() {
	sed -n 's/^kmm leakcheck: \([0-9]*\) unreferenced blocks\{0,1\}, \([0-9]*\) bytes (of \([0-9]*\) live blocks\{0,1\})$/\1 \2 \3/p' "$1"
}
same_list() {   # GOT WANT
	cmp -s "$1" "$2" && return 0
	echo "reported (<) and expected (>) differ:"
	diff "$1" "$2" | head -30
	return 1
}

# --- without KMM_LEAKCHECK: the API says ENOSYS ----------------------------------------
out=$(with_timeout 60 env LD_PRELOAD="$KMM_LIB" "$LP" off 2>&1)
is "$out" "off -1 ENOSYS" "tracking off: kmm_leak_check returns -1 with errno ENOSYS"
out=$(with_timeout 60 env LD_PRELOAD="$KMM_LIB" KMM_LEAKCHECK=0 "$LP" off 2>&1)
is "$out" "off -1 ENOSYS" "KMM_LEAKCHECK=0: off too, and no exit report"

# --- the known program ----------------------------------------------------------------------
mkdir "$T/k"
leak_run "$LP" known "$T/k" >"$T/k.out" 2>"$T/k.err"
is "$?" "0" "leakprobe known runs with KMM_LEAKCHECK=1"
total=$(awk '$1 == "expect-total" { print $2 }' "$T/k.out")
ok "leakprobe printed what to expect ($total known leaks)" test "${total:-0}" -gt 20
want "$T/k.out" expect >"$T/want"
is "$(awk '$1 == "scan1" { print $2 }' "$T/k.out")" "$total" "kmm_leak_check returned the number of known leaks ($total)"
found "$T/k/scan1" >"$T/got1"
ok "scan 1 (all live): exactly the known leaks, by allocating function and size" same_list "$T/got1" "$T/want"
bytes=$(awk '{ s += $2 } END { print s + 0 }' "$T/want")
set -- $(summary "$T/k/scan1")
is "$1 $2" "$total $bytes" "scan 1: the summary line says $total unreferenced blocks, $bytes bytes"
ok "scan 1: of more live blocks than that (${3:-?})" test "${3:-0}" -gt "$total"
nonleaks() {
	for s in $(awk '$1 == "nonleak" { print $2 }' "$T/k.out"); do
		grep -q "(size $s)" "$1" && { echo "a block of $s bytes (a known non-leak) was reported:"; grep "(size $s)" "$1"; return 1; }
	done
	return 0
}
ok "scan 1: none of the known non-leaks (global, list, interior chain, inside a big block, stack, other thread's stack, TLS, realloc'ed) is reported" \
	nonleaks "$T/k/scan1"
ok "scan 1: the lost blocks' first bytes are hex-dumped (41 41 ... AAAA)" \
	grep -q '^    41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41  AAAAAAAAAAAAAAAA$' "$T/k/scan1"
ok "scan 1: the allocation site is the program and offset (leakprobe+0x...)" \
	grep -qE 'allocated at 0x[0-9a-f]+ \(/.*/leakprobe\+0x[0-9a-f]+, leak_lost\+0x[0-9a-f]+\)$' "$T/k/scan1"
is "$(grep -c '^unreferenced object .*(size 0)' "$T/k/scan1")" "1" "scan 1: malloc(0)'s block, size 0"

# module+offset as addr2line reads it: the call instruction lies in leak_lost
if have addr2line; then
	off=$(sed -n 's/.*leakprobe+\(0x[0-9a-f]*\), leak_big+.*/\1/p' "$T/k/scan1" | head -1)
	prev=$(printf '0x%x' $((off - 1)))
	is "$(addr2line -f -e "$LP" "$prev" 2>/dev/null | head -1)" "leak_big" "addr2line -f leakprobe $prev (the site's offset - 1) is leak_big"
else
	skip "addr2line resolves a site" "no addr2line (binutils)"
fi

# the child of a fork: the other thread does not exist there, so what only
# its stack and TLS held is unreferenced too
want "$T/k.out" expect child-expect >"$T/want.child"
found "$T/k/child" >"$T/got.child"
ok "a fork child's scan: the known leaks plus the two blocks only the (absent) thread held" \
	same_list "$T/got.child" "$T/want.child"

# after the thread ended and the stack block was freed
is "$(awk '$1 == "scan2" { print $2 }' "$T/k.out")" "$total" "scan 2 (thread gone, stack block freed): returns $total"
found "$T/k/scan2" >"$T/got2"
ok "scan 2: exactly the known leaks" same_list "$T/got2" "$T/want"

# at exit, on stderr
ok "the exit report is on stderr" grep -q '^kmm leakcheck: pid [0-9]* (leakprobe), scan at exit$' "$T/k.err"
found "$T/k.err" >"$T/got.exit"
ok "exit report: exactly the known leaks" same_list "$T/got.exit" "$T/want"
set -- $(summary "$T/k.err")
is "$1 $2" "$total $bytes" "exit report: the summary line"

# KMM_LEAKCHECK_FILE
mkdir "$T/f"
with_timeout 120 env LD_PRELOAD="$KMM_LIB" KMM_LEAKCHECK=1 KMM_LEAKCHECK_FILE="$T/f.report" \
	"$LP" known "$T/f" >/dev/null 2>"$T/f.err"
found "$T/f.report" >"$T/got.file"
ok "KMM_LEAKCHECK_FILE: the exit report goes to the file, the same leaks" same_list "$T/got.file" "$T/want"
is "$(grep -c 'kmm leakcheck' "$T/f.err")" "0" "KMM_LEAKCHECK_FILE: nothing on stderr"

# --- kmm leakcheck: the same, with the sites' source lines --------------------------------------
mkdir "$T/t"
with_timeout 120 "$KMM_TOOL" leakcheck -- "$LP" known "$T/t" >/dev/null 2>"$T/t.err"
is "$?" "23" "kmm leakcheck -- leakprobe known: exit status 23 (leaks found, the command exited 0)"
found_grouped "$T/t.err" >"$T/got.tool"
ok "kmm leakcheck: the exit report on stderr, exactly the known leaks" same_list "$T/got.tool" "$T/want"
is "$(grep -c '^10 unreferenced objects, 20010 bytes, allocated at .*, leak_lost+0x[0-9a-f]*)$' "$T/t.err")" "1" \
	"kmm leakcheck: the 10 blocks of one site are one paragraph (10 objects, 20010 bytes)"
if have addr2line; then
	line=$(grep -n 'char \*p = malloc(2001);' "$KMM_SRCDIR/tests/progs/leakprobe.c" | cut -d: -f1)
	is "$(grep -c "^  source: leak_lost at .*leakprobe\.c:$line\$" "$T/t.err")" "1" \
		"kmm leakcheck: the 10 lost blocks' site is leak_lost at leakprobe.c:$line (addr2line), said once"
else
	skip "kmm leakcheck: source lines" "no addr2line (binutils)"
fi
with_timeout 60 "$KMM_TOOL" leakcheck -o "$T/o.report" -- "$LP" churn 1000 >/dev/null 2>"$T/o.err"
ok "kmm leakcheck -o FILE: the report in FILE" grep -qE '^kmm leakcheck: [0-9]+ unreferenced blocks?, ' "$T/o.report"
is "$(grep -c 'kmm leakcheck' "$T/o.err")" "0" "kmm leakcheck -o FILE: nothing on stderr"
with_timeout 60 "$KMM_TOOL" leakcheck -- sh -c 'exit 3' 2>/dev/null
is "$?" "3" "kmm leakcheck: the command's exit status when it failed"
with_timeout 60 "$KMM_TOOL" leakcheck --error-exitcode=0 -- "$LP" known "$T/t" >/dev/null 2>&1
is "$?" "0" "kmm leakcheck --error-exitcode=0: leaks found, the command's status 0"
with_timeout 60 "$KMM_TOOL" leakcheck --error-exitcode=9 -- "$LP" off >/dev/null 2>"$T/none.err"
is "$?" "0" "kmm leakcheck: no leaks found, exit status 0 ($(grep -c 'unreferenced' "$T/none.err") lines about leaks)"

# --- scans while other threads allocate -------------------------------------------------------
mkdir "$T/s"
leak_run "$LP" stress "$T/s" >"$T/s.out" 2>"$T/s.err"
is "$?" "0" "20 scans while three threads malloc, realloc and free (big blocks too): no crash, no deadlock"
is "$(grep -c '^stress ' "$T/s.out")" "20" "all 20 scans returned"
stress_ok() {
	bad=0
	for f in "$T"/s/stress*; do
		found "$f" | grep -v '^- ' >"$f.known"
		cmp -s "$f.known" "$T/want" || { echo "$f:"; diff "$f.known" "$T/want" | head -5; bad=1; }
	done
	return $bad
}
ok "every one of them reports exactly the known leaks among leakprobe's named sites" stress_ok
others=$(cat "$T"/s/stress* | grep -c '^unreferenced object .*leakprobe+0x[0-9a-f]*)$' || :)
diag "blocks of the allocating threads reported while in flight (registers): $others in 20 scans"

# --- 200 000 live blocks ------------------------------------------------------------------------
mkdir "$T/b"
leak_run "$LP" bench 200000 "$T/b" >"$T/b.out" 2>"$T/b.err"
is "$(awk '$1 == "bench-all" { print $2 }' "$T/b.out")" "0" "200 000 blocks held in an array: none reported"
is "$(awk '$1 == "bench-half" { print $2 }' "$T/b.out")" "100000" "every other pointer dropped: 100 000 reported"
ms=$(sed -n 's/^kmm leakcheck: scanned .* in \([0-9.]*\) ms (\([0-9.]*\) ms with allocation stopped)$/\1 \2/p' "$T/b/bench-all")
secs=$(awk '$1 == "bench-seconds" { print $2 }' "$T/b.out")
diag "scan of 200 000 live blocks: ${ms% *} ms (allocation stopped ${ms#* } ms); the call took $secs s"
ok "the scan of 200 000 live blocks takes less than 2 s (${ms% *} ms)" awk -v s="$secs" 'BEGIN { exit !(s > 0 && s < 2) }'

# --- real programs ----------------------------------------------------------------------------------
if have sort; then
	seq 1 50000 | sed 's/$/ leakcheck line/' >"$T/in.txt"
	plain_run sort -r "$T/in.txt" >"$T/sort.plain"
	leak_run sort -r "$T/in.txt" >"$T/sort.kmm" 2>"$T/sort.err"
	is "$?" "0" "sort with KMM_LEAKCHECK=1 exits 0"
	ok "sort: the same output as with glibc's malloc" same_output "$T/sort.plain" "$T/sort.kmm"
	ok "sort: the exit report's summary line" grep -qE '^kmm leakcheck: [0-9]+ unreferenced blocks?, [0-9]+ bytes \(of [0-9]+ live blocks?\)$' "$T/sort.err"
else
	skip "sort with KMM_LEAKCHECK=1" "no sort"
fi
py=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || :)
if [ -n "$py" ] && [ -x "$py" ]; then
	leak_run "$py" -c '
import json, threading
d = [{"k": i, "v": "x" * (i % 300)} for i in range(20000)]
def work(): json.loads(json.dumps(d))
ts = [threading.Thread(target=work) for _ in range(3)]
[t.start() for t in ts]; [t.join() for t in ts]
print(len(json.dumps(d)))' >"$T/py.out" 2>"$T/py.err"
	is "$?" "0" "python3 (json, three threads) with KMM_LEAKCHECK=1 exits 0"
	ok "python3: its output" test -s "$T/py.out"
	ok "python3: the exit report's summary line" grep -qE '^kmm leakcheck: [0-9]+ unreferenced blocks?, [0-9]+ bytes \(of [0-9]+ live blocks?\)$' "$T/py.err"
else
	skip "python3 with KMM_LEAKCHECK=1" "no python3"
fi
# a shell and the processes it forks and execs: one report each, in the file
with_timeout 60 env LD_PRELOAD="$KMM_LIB" KMM_LEAKCHECK=1 KMM_LEAKCHECK_FILE="$T/sh.report" \
	sh -c 'echo a | cat >/dev/null; ls / >/dev/null; (echo b) >/dev/null' >/dev/null 2>&1
n=$(grep -c '^kmm leakcheck: pid [0-9]* (.*), scan at exit$' "$T/sh.report" || :)
ok "a shell pipeline: a report per process that exited normally ($n)" test "${n:-0}" -ge 2
is "$(grep -c '^kmm leakcheck: [0-9]* unreferenced' "$T/sh.report")" "$n" "each with its summary line"

# --- forks while threads allocate, under the scanner --------------------------------------------
FS=$KMM_PROGS/forkstress
with_timeout 120 env LD_PRELOAD="$KMM_LIB" KMM_LEAKCHECK=1 KMM_LEAKCHECK_FILE="$T/fs.report" \
	"$FS" 4 60 >"$T/fs.out" 2>"$T/fs.err"
is "$?" "0" "forkstress 4 x 60 with KMM_LEAKCHECK=1: no deadlock, every child clean"
is "$(grep -c 'scan at exit$' "$T/fs.report")" "61" "forkstress: 61 exit reports (the parent and 60 children)"

# --- what tracking costs ----------------------------------------------------------------------------
a=$(with_timeout 120 env LD_PRELOAD="$KMM_LIB" "$LP" churn 2000000 | awk '{ print $3 }')
b=$(leak_run "$LP" churn 2000000 2>/dev/null | awk '{ print $3 }')
ok "2 000 000 malloc/free pairs run with and without tracking" test -n "$a" -a -n "$b"
diag "2 000 000 malloc/free pairs: $a s without, $b s with KMM_LEAKCHECK=1 ($(awk -v a="$a" -v b="$b" 'BEGIN { if (a > 0) printf "%.1fx", b / a }'))"

done_testing
