#!/bin/sh
# memcheck-body.sh — kmm under valgrind's memcheck (src/heap/vg.h,
# docs/hardening.md "Valgrind"): with libkmm.so preloaded and
# --soname-synonyms=somalloc=nouserintercepts, memcheck reports a program's
# overflows, uses after free, uninitialised reads, invalid frees and leaks
# in kmm's blocks at the same lines as with its own malloc; and kmm itself
# makes no error, there or in the unit tests run under memcheck.
#
# Sourced by the tests/integration/memcheck-*.sh, one part each (so that
# make -j runs them side by side and none is silent for minutes), with
# MEMCHECK_PART set:
#   programs    vgprobe and sort, under memcheck with kmm and with its own
#               malloc
#   unit SPEC   one of the unit tests (SPEC: NAME or NAME:FILTER, below)
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

VP=$KMM_PROGS/vgprobe
UNIT=$KMM_PROGS/../unit
# the unit tests run under memcheck (with memcheck=exact: kmm allocates as
# it does without valgrind, which is what they check), as NAME or
# NAME:FILTER (criterion's --filter).  Left out: the tests that fork 100
# children while threads allocate (vmalloc_fork, fork: each child checks
# the whole heap, tens of minutes under memcheck), the threaded region
# tests (30 s time limits), and the one that needs the kernel to place
# mappings right after the break (valgrind places them elsewhere); the
# sweep of failing OS calls (40 rounds of hundreds of areas: minutes under
# memcheck); zero-size blocks and the hardening observers, which kmm turns
# off under memcheck (it has its own redzones and quarantine).
# The parts divide test_slab, test_vmalloc and test_heap by suite (and
# slab_misuse by name), 10 to 22 tests each (about a second each under
# memcheck): every part but the last of
# each names its suites, the last takes the rest, so that the parts add up
# to what one run of each test ran: all of test_slab,
# test_vmalloc:!(vmalloc_fork/*|failinject/*), test_region:!(region_threads/*),
# test_options, test_heap:!(fork/*|segments/free_of_kmm_metadata*|zero/*|harden/*).
slab_1="kmalloc/*|slab_random/*|slab_threads/*"
slab_2="slab/*"
slab_3="slab_misuse/cache_*|slab_misuse/double_*"
vmalloc_out="vmalloc_fork/*|failinject/*"
vmalloc_1="demand/*"
vmalloc_2="vmalloc/*"
vmalloc_3="vmalloc_guard/*|vmalloc_random/*"
heap_out="fork/*|segments/free_of_kmm_metadata*|zero/*|harden/*"
heap_1="arenas/*|bins/*|brk/*|calloc/*"
heap_2="memalign/*|misuse/*|mmap/*"
heap_3="tcache/*|threads/*|trim/*"
case ${MEMCHECK_PART:?MEMCHECK_PART must name the part} in
programs) unit_tests= ;;
slab-1) unit_tests="test_slab:@($slab_1)" ;;
slab-2) unit_tests="test_slab:@($slab_2)" ;;
slab-3) unit_tests="test_slab:@($slab_3)" ;;
slab-4) unit_tests="test_slab:!($slab_1|$slab_2|$slab_3)" ;;
vmalloc-1) unit_tests="test_vmalloc:@($vmalloc_1)" ;;
vmalloc-2) unit_tests="test_vmalloc:@($vmalloc_2)" ;;
vmalloc-3) unit_tests="test_vmalloc:@($vmalloc_3)" ;;
vmalloc-4) unit_tests="test_vmalloc:!($vmalloc_out|$vmalloc_1|$vmalloc_2|$vmalloc_3)" ;;
region) unit_tests="test_region:!(region_threads/*)" ;;
options) unit_tests="test_options" ;;
heap-1) unit_tests="test_heap:@($heap_1)" ;;
heap-2) unit_tests="test_heap:@($heap_2)" ;;
heap-3) unit_tests="test_heap:@($heap_3)" ;;
heap-4) unit_tests="test_heap:!($heap_out|$heap_1|$heap_2|$heap_3)" ;;
*) echo "memcheck-body.sh: no part $MEMCHECK_PART" >&2; exit 99 ;;
esac
[ "$MEMCHECK_PART" = programs ] || unit_tests=${KMM_MEMCHECK_UNITS-$unit_tests}

if ! have valgrind; then
	plan 1; skip "memcheck" "no valgrind"; exit 0
fi
if ! grep -q 'kmm_vg_alloc' "$KMM_LIB" 2>/dev/null; then
	plan 1; skip "memcheck" "libkmm.so built without <valgrind/memcheck.h>"; exit 0
fi

VG="valgrind --soname-synonyms=somalloc=nouserintercepts --error-limit=no"

# kmm_errors LOG...: memcheck's reports whose innermost frame is kmm's own
# code, except the two through which kmm relays the program's errors: the
# invalid free (kmm_vg_freelike) and the realloc of a freed block
# (kmm_vg_is_live).  Prints them; empty output: none.
kmm_errors() {
	awk '
	/^==[0-9]+== (Warning: |Process terminating)/ { want_frame = 0; next }   # not errors
	/^==[0-9]+== [A-Z0-9]/ && !/ERROR SUMMARY|HEAP SUMMARY|LEAK SUMMARY|in use at exit|total heap usage|definitely lost:|indirectly lost:|possibly lost:|still reachable:|suppressed:|Memcheck,|Copyright|Using Valgrind|Command:|Reachable blocks|To see them|For lists|For counts|Use --track-origins|Parent PID/ {
		kind = $0; sub(/^==[0-9]+== /, "", kind); want_frame = 1; next
	}
	want_frame && /^==[0-9]+==    (at|by) 0x/ {
		want_frame = 0
		if (kind ~ /bytes in [0-9,]+ blocks are/) next   # a leak: the program'\''s
		own = $0 ~ /\((api|malloc|observe|memcheck|remote|arena|arena_heap|arenas|sysmalloc|big|vg|thread|stats|check|heap_map|params|page_alloc|slab|vmalloc|region|rbtree|kernel|trace|os|init|options|report|format|lock|preload|chunk|fastpath|tcache)\.[ch]:[0-9]+\)/ || $0 ~ /libkmm\.so/
		relayed = ($0 ~ /kmm_vg_freelike/ && kind ~ /^Invalid free/) || ($0 ~ /kmm_vg_is_live/ && kind ~ /client check request/)
		if (own && !relayed) print kind " | " $0
	}' "$@"
}

# error_at LOG KIND FUNC: a report of KIND whose innermost frame is in FUNC
error_at() {
	awk -v kind="$2" -v fn="$3" '
	/^==[0-9]+== [A-Z]/ { k = $0; sub(/^==[0-9]+== /, "", k); first = 1; next }
	first && /^==[0-9]+==    at 0x/ { first = 0; if (index(k, kind) == 1 && index($0, " " fn " (")) found = 1 }
	END { exit !found }' "$1"
}

# caller_at LOG HEADLINE FUNC: a report beginning HEADLINE with FUNC on its stack
caller_at() {
	awk -v head="$2" -v fn="$3" '
	/^==[0-9]+== [A-Za-z0-9]/ { k = $0; sub(/^==[0-9]+== /, "", k); inrec = index(k, head) > 0; next }
	inrec && index($0, " " fn " (") { found = 1 }
	END { exit !found }' "$1"
}

set -f   # the filters are patterns for criterion, not for the shell
set -- $unit_tests
set +f
if [ "$MEMCHECK_PART" = programs ]; then
plan 22

# --- a program with known bugs, under kmm and under memcheck's own malloc ----
KMM_TIMEOUT=300
with_timeout 300 env LD_PRELOAD="$KMM_LIB" $VG --leak-check=full --log-file="$KMM_TMP/kmm.vg" "$VP" \
	>"$KMM_TMP/kmm.out" 2>&1
with_timeout 300 $VG --leak-check=full --log-file="$KMM_TMP/glibc.vg" "$VP" >"$KMM_TMP/glibc.out" 2>&1
ok "vgprobe under memcheck with kmm: realloc keeps bytes, calloc zeroes, memalign aligns" \
	grep -qx 'vgprobe: done' "$KMM_TMP/kmm.out"
ok "memcheck ran kmm's blocks (client requests, not its own malloc)" \
	grep -q 'kmm_vg_alloc' "$KMM_TMP/kmm.vg"
for run in kmm glibc; do
	log=$KMM_TMP/$run.vg
	ok "$run: overflow by one byte: invalid write in overflow_by_one" \
		error_at "$log" "Invalid write of size 1" overflow_by_one
	ok "$run: use after free: invalid write in use_after_free, inside a freed block" \
		sh -c "grep -q 'is 3 bytes inside a block of size 56 free' '$log'"
	ok "$run: uninitialised read in uninitialised_read" \
		error_at "$log" "Conditional jump or move depends on uninitialised value" uninitialised_read
	ok "$run: double free: invalid free in double_free" \
		caller_at "$log" "Invalid free()" double_free
	ok "$run: the next chunk's header: invalid read in header_overwrite" \
		error_at "$log" "Invalid read of size 1" header_overwrite
	ok "$run: the next chunk's header: invalid write in header_overwrite" \
		error_at "$log" "Invalid write of size 1" header_overwrite
	ok "$run: exactly the one leak (123 bytes, allocated in leak)" \
		sh -c "grep -q 'definitely lost: 123 bytes in 1 blocks' '$log' && grep -A8 '123 bytes in 1 blocks are definitely lost' '$log' | grep -q ' leak (vgprobe.c'"
done
is "$(grep -o 'ERROR SUMMARY: [0-9]* errors' "$KMM_TMP/kmm.vg")" \
	"$(grep -o 'ERROR SUMMARY: [0-9]* errors' "$KMM_TMP/glibc.vg")" \
	"as many errors under kmm as with memcheck's own malloc"
ok "the block referenced from a global is still reachable, not lost" \
	grep -q 'still reachable: 77 bytes in 1 blocks' "$KMM_TMP/kmm.vg"
kmm_errors "$KMM_TMP/kmm.vg" >"$KMM_TMP/kmm.own"
ok "no error inside kmm itself (vgprobe)" test ! -s "$KMM_TMP/kmm.own"
cat_diag "$KMM_TMP/kmm.own"

# --- a real program ------------------------------------------------------------
if have sort && have seq; then
	seq 1 3000 | sed 's/$/ line/' | sort -R >"$KMM_TMP/in.txt" 2>/dev/null || seq 3000 -1 1 >"$KMM_TMP/in.txt"
	sort "$KMM_TMP/in.txt" >"$KMM_TMP/sort.plain"
	with_timeout 300 env LD_PRELOAD="$KMM_LIB" $VG --leak-check=full --log-file="$KMM_TMP/sort.vg" \
		sort "$KMM_TMP/in.txt" >"$KMM_TMP/sort.kmm" 2>&1
	with_timeout 300 $VG --leak-check=full --log-file="$KMM_TMP/sort-glibc.vg" \
		sort "$KMM_TMP/in.txt" >/dev/null 2>&1
	ok "sort under memcheck with kmm: same output" cmp -s "$KMM_TMP/sort.plain" "$KMM_TMP/sort.kmm"
	# sort's own leak (16 bytes in coreutils 9.1) shows under both
	is "$(grep -o 'ERROR SUMMARY: .* errors\|definitely lost: .*' "$KMM_TMP/sort.vg" | sed 's/^==[0-9]*== //')" \
		"$(grep -o 'ERROR SUMMARY: .* errors\|definitely lost: .*' "$KMM_TMP/sort-glibc.vg" | sed 's/^==[0-9]*== //')" \
		"sort under memcheck: the same errors and leaks with kmm as with memcheck's own malloc"
	kmm_errors "$KMM_TMP/sort.vg" >"$KMM_TMP/sort.own"
	ok "no error inside kmm itself (sort)" test ! -s "$KMM_TMP/sort.own"
	cat_diag "$KMM_TMP/sort.own"
else
	skip "sort under memcheck" "no sort"; skip "sort: 0 errors" "no sort"; skip "sort: kmm" "no sort"
fi

exit 0
fi
plan $((2 * $#))

# --- the unit tests under memcheck ---------------------------------------------
# They run with the default profile whatever KMM_DEFAULT_PROFILE says, so
# `make check-profiles` (profile=glibc) would only repeat them: it skips
# them, and so does KMM_SLOW=no (.ci/run's distcheck, after make check).
units_skip=
[ "${KMM_DEFAULT_PROFILE-}" = glibc ] && units_skip="the same run as in make check (env -u KMM_DEFAULT_PROFILE)"
[ "${KMM_SLOW-}" = no ] && units_skip="KMM_SLOW=no"
set -f
for spec in $unit_tests; do
	set +f
	t=${spec%%:*}
	filter=*
	[ "$t" = "$spec" ] || filter=${spec#*:}
	if [ -n "$units_skip" ]; then
		skip "$t under memcheck: every test passes" "$units_skip"
		skip "$t under memcheck: no error inside kmm itself" "$units_skip"
		continue
	fi
	rm -f "$KMM_TMP"/unit.*.vg
	with_timeout 900 env -u KMM_DEFAULT_PROFILE KMM_OPTIONS=memcheck=exact $VG --trace-children=yes \
		--log-file="$KMM_TMP/unit.%p.vg" "$UNIT/$t" -j1 --filter "$filter" >"$KMM_TMP/$t.out" 2>&1
	ok "$t under memcheck: every test passes" \
		sh -c "grep -q 'Synthesis: Tested: [0-9]* | Passing: [0-9]* | Failing: 0 | Crashing: 0' '$KMM_TMP/$t.out'"
	grep Synthesis "$KMM_TMP/$t.out" | sed 's/^/# /'
	kmm_errors "$KMM_TMP"/unit.*.vg >"$KMM_TMP/$t.own"
	ok "$t under memcheck: no error inside kmm itself" test ! -s "$KMM_TMP/$t.own"
	cat_diag "$KMM_TMP/$t.own"
done
