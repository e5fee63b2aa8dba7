#!/bin/sh
# guard.sh — KMM_OPTIONS=guard=SIZE: blocks of SIZE bytes or more are big
# blocks, vmalloc areas with a guard page after them (and the previous
# area's guard page or unmapped reserved space before), so that a write
# just outside one faults instead of corrupting the heap
# (tests/progs/guardprobe, docs/hardening.md).
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

GP=$KMM_PROGS/guardprobe
plan 12

# signal_of CMD...: the signal that killed CMD, or "exit N"
signal_of() {
	"$@" >/dev/null 2>&1
	rc=$?
	if [ $rc -gt 128 ]; then kill -l $((rc - 128)); else echo "exit $rc"; fi
}

g() { env KMM_OPTIONS=profile=kmm,guard=4096 LD_PRELOAD="$KMM_LIB" "$@"; }
k() { env LD_PRELOAD="$KMM_LIB" "$@"; }

is "$(g "$GP" where 100000 | cut -d' ' -f1)" "page-aligned" "guard=4096: a 100000-byte block is a big block (page aligned)"
is "$(g "$GP" where 4096 | cut -d' ' -f1)" "page-aligned" "guard=4096: so is a 4096-byte one"
is "$(g "$GP" where 2000 | cut -d' ' -f2)" "2048" "guard=4096: a 2000-byte block stays a slab object (2048 bytes, profile=kmm)"
is "$(env KMM_OPTIONS=guard=4096,front=tcache LD_PRELOAD="$KMM_LIB" "$GP" where 2000 | cut -d' ' -f1)" "in-page" \
	"guard=4096, front=tcache: a 2000-byte block stays a heap chunk"
is "$(k "$GP" where 100000 | cut -d' ' -f1)" "in-page" "without guard: a 100000-byte block is a heap chunk"
is "$(signal_of g "$GP" over 100000)" "SEGV" "guard=4096: the byte past malloc_usable_size faults"
is "$(signal_of g "$GP" under 100000)" "SEGV" "guard=4096: the byte before the block faults"
is "$(signal_of g "$GP" over 8192)" "SEGV" "guard=4096: the same for a block of exactly two pages"
is "$(k "$GP" over 100000)" "survived" "without guard: the same write lands in the next chunk's header, unnoticed"
env KMM_OPTIONS=guard=100 LD_PRELOAD="$KMM_LIB" "$GP" where 10 >"$KMM_TMP/small.out" 2>"$KMM_TMP/small.err"
ok "guard=100 (less than a page) is refused with a warning" grep -q "guard" "$KMM_TMP/small.err"
if have sort && have seq; then
	seq 1 20000 | sed 's/$/ some words to sort/' >"$KMM_TMP/in.txt"
	sort -r "$KMM_TMP/in.txt" >"$KMM_TMP/plain.out"
	g sort -r "$KMM_TMP/in.txt" >"$KMM_TMP/guard.out"
	ok "sort with guard=4096: same output" cmp -s "$KMM_TMP/plain.out" "$KMM_TMP/guard.out"
	env KMM_OPTIONS=guard=4096 KMM_STATS="$KMM_TMP/stats" LD_PRELOAD="$KMM_LIB" sort -S 1M -r "$KMM_TMP/in.txt" >/dev/null
	ok "sort with guard=4096 made big blocks (vmalloc areas)" grep -q "vmalloc" "$KMM_TMP/stats"
else
	skip "sort with guard" "no sort"; skip "sort with guard: big blocks" "no sort"
fi
