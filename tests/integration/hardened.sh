#!/bin/sh
# hardened.sh — profile=hardened (docs/hardening.md, "profile=hardened") and
# zero-size blocks (zero_guard=on, the default): real programs give the same
# output, and each error the profile is for is caught with its message.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

ME=$KMM_PROGS/malloc_errors
GP=$KMM_PROGS/guardprobe
plan 10

h() { env KMM_OPTIONS=profile=hardened LD_PRELOAD="$KMM_LIB" "$@"; }
# (the zero-size block checks name the default profile: check-profiles runs
# this under KMM_DEFAULT_PROFILE=glibc, whose malloc(0) is glibc's)
k() { env KMM_OPTIONS=profile=kmm LD_PRELOAD="$KMM_LIB" "$@"; }

# what CMD... wrote to stderr, and its status, in $KMM_TMP/err, $rc
run_err() {
	"$@" >/dev/null 2>"$KMM_TMP/err"
	rc=$?
}

if have sort && have seq; then
	seq 1 30000 | sed 's/$/ words to sort in the hardened profile/' >"$KMM_TMP/in.txt"
	sort -r "$KMM_TMP/in.txt" >"$KMM_TMP/plain.out"
	h sort -r "$KMM_TMP/in.txt" >"$KMM_TMP/h.out" 2>"$KMM_TMP/h.err"
	ok "sort under profile=hardened: same output, nothing on stderr" \
		sh -c "cmp -s '$KMM_TMP/plain.out' '$KMM_TMP/h.out' && ! test -s '$KMM_TMP/h.err'"
else
	skip "sort under profile=hardened" "sort or seq not installed"
fi
if have python3; then
	script='import json,sys; d=[{"k": str(i)*(i%40), "v": list(range(i%50))} for i in range(20000)]; s=json.dumps(d); print(len(s), len(json.loads(s)))'
	python3 -c "$script" >"$KMM_TMP/py.plain"
	h python3 -c "$script" >"$KMM_TMP/py.h" 2>"$KMM_TMP/py.err"
	ok "python3 under profile=hardened: same output, nothing on stderr" \
		sh -c "cmp -s '$KMM_TMP/py.plain' '$KMM_TMP/py.h' && ! test -s '$KMM_TMP/py.err'"
else
	skip "python3 under profile=hardened" "python3 not installed"
fi

run_err h "$ME" header-overflow
ok "an overflow into the next block aborts at free, naming the redzone" \
	sh -c "[ $rc -eq 134 ] && grep -q 'heap overflow: byte' '$KMM_TMP/err'"
run_err h "$ME" uaf-write
ok "a write after free is found (the quarantine's zeroes)" \
	sh -c "[ $rc -eq 134 ] && grep -q 'write after free' '$KMM_TMP/err'"
run_err h "$ME" double-free
ok "a double free aborts (the block waits in the quarantine)" \
	sh -c "[ $rc -eq 134 ] && grep -q 'freed already' '$KMM_TMP/err'"
run_err h "$ME" big-double-free
ok "a double free of a big block aborts" sh -c "[ $rc -eq 134 ] && grep -q 'double free' '$KMM_TMP/err'"
is "$(h "$GP" over 100000 >/dev/null 2>&1; echo $?)" "139" "a write past a big block faults (guard page)"

# zero-size blocks, default profile (profile=kmm)
cat >"$KMM_TMP/z.c" <<'CEOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
int main(int argc, char **argv)
{
	char *p = malloc(0), *q = malloc(0);
	printf("%s %zu\n", p != q ? "distinct" : "same", malloc_usable_size(p));
	fflush(stdout);
	if (argc > 1 && strcmp(argv[1], "write") == 0)
		*p = 1;
	p = realloc(p, 10);
	memset(p, 1, 10);
	free(p);
	free(q);
	if (argc > 1 && strcmp(argv[1], "double") == 0)
		free(q);
	return 0;
}
CEOF
if cc -o "$KMM_TMP/z" "$KMM_TMP/z.c" 2>/dev/null; then
	is "$(k "$KMM_TMP/z")" "distinct 0" "malloc(0): distinct addresses, usable size 0, realloc and free take it"
	is "$(k "$KMM_TMP/z" write >/dev/null 2>&1; echo $?)" "139" "writing a zero-size block faults"
	run_err k "$KMM_TMP/z" double
	ok "a double free of a zero-size block aborts" sh -c "[ $rc -eq 134 ] && grep -q 'double free' '$KMM_TMP/err'"
else
	for t in "malloc(0)" "writing a zero-size block" "a double free of a zero-size block"; do
		skip "$t" "no C compiler"
	done
fi
