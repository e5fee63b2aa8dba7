#!/bin/sh
# sort.sh — sort(1) over a few MB of lines gives the same output under kmm.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan 8

if ! have sort || ! have awk; then
	for t in 1 2 3 4 5 6 7 8; do skip "sort check $t" "sort or awk not installed"; done
	exit 0
fi

# ~5 MB: pseudo-random keys, numbers of varying width, repeated keys
awk 'BEGIN {
	x = 12345
	for (i = 1; i <= 250000; i++) {
		x = (x * 1103515245 + 12345) % 2147483648
		printf "%d key%05d %s\n", x % 1000003 - 500000, x % 99991, substr("abcdefghijklmnopqrstuvwxyz", 1 + i % 26)
	}
}' >"$KMM_TMP/in.txt"
diag "input: $(wc -c <"$KMM_TMP/in.txt") bytes, $(wc -l <"$KMM_TMP/in.txt") lines"

# run_both NAME SORT-ARGS...: plain and preloaded, outputs in NAME.plain/.kmm
run_both() {
	_n=$1; shift
	plain_run sort "$@" "$KMM_TMP/in.txt" >"$KMM_TMP/$_n.plain" 2>&1
	echo "status $?" >>"$KMM_TMP/$_n.plain"
	kmm_run "$KMM_TMP/$_n.stats" sort "$@" "$KMM_TMP/in.txt" >"$KMM_TMP/$_n.kmm" 2>&1
	echo "status $?" >>"$KMM_TMP/$_n.kmm"
}

run_both text
ok "sort: output identical under kmm" same_output "$KMM_TMP/text.plain" "$KMM_TMP/text.kmm"
used_kmm "sort: kmm served its mallocs" "$KMM_TMP/text.stats" sort

run_both num -n -k1,1 -k2
ok "sort -n: output identical under kmm" same_output "$KMM_TMP/num.plain" "$KMM_TMP/num.kmm"
ok "sort -n: plain output really sorted numerically" sh -c \
	"sed '\$d' '$KMM_TMP/num.plain' | sort -c -n -k1,1 -k2"

# a small buffer forces temporary files and merging
run_both merge -S 256K -T "$KMM_TMP" -k2,2 -k3r
ok "sort -S 256K (external merge): output identical under kmm" \
	same_output "$KMM_TMP/merge.plain" "$KMM_TMP/merge.kmm"

if sort --parallel=2 </dev/null >/dev/null 2>&1; then
	run_both par --parallel=2 -S 64M -k2,2 -k1n
	ok "sort --parallel=2: output identical under kmm" same_output "$KMM_TMP/par.plain" "$KMM_TMP/par.kmm"
	used_kmm "sort --parallel=2: kmm served its mallocs" "$KMM_TMP/par.stats" sort
	run_both uniq --parallel=2 -u -n
	ok "sort --parallel=2 -u -n: output identical under kmm" same_output "$KMM_TMP/uniq.plain" "$KMM_TMP/uniq.kmm"
else
	skip "sort --parallel=2: output identical under kmm" "sort has no --parallel"
	skip "sort --parallel=2: kmm served its mallocs" "sort has no --parallel"
	skip "sort --parallel=2 -u -n: output identical under kmm" "sort has no --parallel"
fi
