#!/bin/sh
# heap-strace.sh — kmm moves the program break as glibc does, and serves the
# blocks glibc maps from its vmalloc areas:
#   - the first small malloc grows the break by 0x21000;
#   - requests at or above the mmap threshold that the top cannot serve get a
#     mapping of their own (glibc: an anonymous mmap; kmm: a vmalloc area made
#     read-write in place in its reserved space, mmap with MAP_FIXED, or with
#     vmalloc_frames=on one whose frames arrive by page-table moves, mremap
#     with MREMAP_DONTUNMAP);
#   - glibc's free of such a block munmaps it and raises the threshold (the same
#     request then comes from the heap); kmm keeps the area (lazily freed) and
#     gives it back to the next such request with no system call — and with
#     KMM_OPTIONS=profile=glibc (whose threshold_rule is glibc's) behaves as
#     glibc does;
#   - freeing a large heap gives the memory back (the break shrinks).
# Checked with tests/progs/heapprobe's own view (sbrk(0), the returned
# addresses, /proc/self/maps) and, if strace is usable, in the system calls.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan 28

HP=$KMM_PROGS/heapprobe
FIRST_GROWTH=135168        # 0x21000: tcache + 16 bytes + top_pad 128 KiB, in pages

# the scenario: markers (M) between the steps, so that strace shows which
# step made which system call
#   mark 1..2  malloc(16): the heap's first growth
#   mark 2..3  malloc(256 KiB): above the threshold, the top is too small: mmap
#   mark 3..4  free it: munmap, and the threshold rises to 256 KiB + page
#   mark 4..5  malloc(256 KiB) again: now below the threshold: from the heap
#   mark 5..6  4000 blocks of 512 bytes: the heap grows past 2 MiB
#   mark 6..7  free them all, first to last: the break comes back down
SCENARIO='M m16 M m256k M f1 M m256k M n4000x512 b M F b M k'

GLIBC_RULE=KMM_OPTIONS=profile=glibc
plain_run "$HP" $SCENARIO >"$KMM_TMP/probe.plain" 2>/dev/null
kmm_run "$KMM_TMP/probe.stats" env KMM_OPTIONS=profile=kmm "$HP" $SCENARIO >"$KMM_TMP/probe.kmm" 2>/dev/null
kmm_run "$KMM_TMP/probe.stats" env "$GLIBC_RULE" "$HP" $SCENARIO >"$KMM_TMP/probe.kmmg" 2>/dev/null
# what the probe saw, without the addresses
grep -v "^kmm " "$KMM_TMP/probe.plain" | cut -d" " -f1-3 >"$KMM_TMP/probe.plain.n"
grep -v "^kmm " "$KMM_TMP/probe.kmmg" | cut -d" " -f1-3 >"$KMM_TMP/probe.kmmg.n"

# --- the probe's own view ------------------------------------------------------
ok "probe under kmm: libkmm.so is loaded" grep -qx 'kmm yes' "$KMM_TMP/probe.kmm"
expect_kinds() {
	sed -n 1,3p "$1" | cut -d' ' -f1-3 | tr '\n' '|' |
		grep -qx 'm 16 heap|m 262144 mmap|m 262144 heap|' && return 0
	echo "got:"; cat "$1"; return 1
}
ok "glibc: 16 B from the heap, 256 KiB mmapped, again 256 KiB after free from the heap" \
	expect_kinds "$KMM_TMP/probe.plain"
ok "kmm, profile=glibc: the same three placements" expect_kinds "$KMM_TMP/probe.kmmg"
# kmm's default: the second 256 KiB block is the first one's area, back
same_area() {
	_a=$(sed -n 2p "$1" | cut -d' ' -f1-4)
	_b=$(sed -n 3p "$1" | cut -d' ' -f1-4)
	case $_a in "m 262144 mmap "*) ;; *) echo "first: $_a"; return 1 ;; esac
	[ "${_a#m 262144 mmap }" = "${_b#m 262144 mmap }" ] && [ "$_b" != "" ] && return 0
	echo "first: $_a; second: $_b"; return 1
}
ok "kmm: 16 B from the heap, 256 KiB in its own area, again 256 KiB after free: the same area" \
	same_area "$KMM_TMP/probe.kmm"
# b before and after freeing the 4000 blocks
shrinks() {
	_b1=$(grep '^brk ' "$1" | sed -n '1s/^brk //p')
	_b2=$(grep '^brk ' "$1" | sed -n '2s/^brk //p')
	[ -n "$_b1" ] && [ -n "$_b2" ] && [ "$_b1" -gt 2097152 ] && [ "$_b2" -lt "$_b1" ] && return 0
	echo "break (relative to the start): after the blocks '$_b1', after freeing them '$_b2'"
	return 1
}
ok "glibc: freeing 2 MiB of small blocks trims the break (sbrk(0))" shrinks "$KMM_TMP/probe.plain"
ok "kmm, profile=glibc: freeing 2 MiB of small blocks trims the break (sbrk(0))" shrinks "$KMM_TMP/probe.kmmg"
# kmm's default: the blocks come from the slab front end, not the heap
no_growth() {
	_b1=$(grep '^brk ' "$1" | sed -n '1s/^brk //p')
	[ -n "$_b1" ] && [ "$_b1" -lt 2097152 ] && return 0
	echo "break (relative to the start) after the blocks: '$_b1'"
	return 1
}
ok "kmm: 2 MiB of small blocks come from slabs: the break does not grow for them (sbrk(0))" \
	no_growth "$KMM_TMP/probe.kmm"
ok "kmm, profile=glibc: the probe sees the same heap as under glibc (kinds and break offsets)" \
	same_output "$KMM_TMP/probe.plain.n" "$KMM_TMP/probe.kmmg.n"

# the first small malloc's growth, by sbrk(0)
plain_run "$HP" m16 b >"$KMM_TMP/first.plain" 2>&1
kmm_run "$KMM_TMP/first.stats" "$HP" m16 b k >"$KMM_TMP/first.kmm" 2>&1
is "$(sed -n 's/^brk //p' "$KMM_TMP/first.kmm")/$(sed -n 's/^kmm //p' "$KMM_TMP/first.kmm")" \
	"$(sed -n 's/^brk //p' "$KMM_TMP/first.plain")/yes" \
	"kmm: the first malloc(16) grows the break as much as glibc (sbrk(0))"

# --- the system calls ------------------------------------------------------------
if ! strace_ok; then
	for t in $(seq 10 28); do
		skip "strace check $t" "strace not available (STRACE='${STRACE-}')"
	done
	exit 0
fi

trace_heap "$KMM_TMP/trace.plain" "$HP" $SCENARIO >"$KMM_TMP/tprobe.plain" 2>/dev/null
trace_heap "$KMM_TMP/trace.kmm" -E LD_PRELOAD="$KMM_LIB" -E KMM_OPTIONS=profile=kmm "$HP" $SCENARIO >"$KMM_TMP/tprobe.kmm" 2>/dev/null
trace_heap "$KMM_TMP/trace.kmmg" -E LD_PRELOAD="$KMM_LIB" -E "$GLIBC_RULE" "$HP" $SCENARIO \
	>"$KMM_TMP/tprobe.kmmg" 2>/dev/null
trace_events "$KMM_TMP/trace.kmmg" | sed '/^mark 7$/q' >"$KMM_TMP/events.kmmg"
# (up to the last marker: the k step after it differs by design)
trace_events "$KMM_TMP/trace.plain" | sed '/^mark 7$/q' >"$KMM_TMP/events.plain"
trace_events "$KMM_TMP/trace.kmm" | sed '/^mark 7$/q' >"$KMM_TMP/events.kmm"
diag "glibc: $(tr '\n' ';' <"$KMM_TMP/events.plain" | cut -c1-300)"
ok "strace under kmm: libkmm.so is loaded" grep -qx 'kmm yes' "$KMM_TMP/tprobe.kmm"

# the first growth: from the break before to the first successful brk()
first_growth() { trace_between "$1" 1 | sed -n 's/^brk +//p' | head -1; }
g_plain=$(first_growth "$KMM_TMP/trace.plain")
g_kmm=$(first_growth "$KMM_TMP/trace.kmm")
is "$g_plain" "$FIRST_GROWTH" "strace, glibc: the first malloc(16) grows the break by 0x21000"
is "$g_kmm" "$g_plain" "strace, kmm: the first malloc(16) grows the break as glibc does (0x21000)"

# the 256 KiB block lies in an anonymous read-write mapping made for it
ptr_of() { sed -n "$2p" "$1" | cut -d' ' -f4; }
ok "strace, glibc: malloc(256 KiB) after a small malloc is a new anonymous mmap" \
	mapped_by_mmap "$KMM_TMP/trace.plain" 2 "$(ptr_of "$KMM_TMP/tprobe.plain" 2)"
ok "strace, kmm: malloc(256 KiB) after a small malloc is a vmalloc area (made read-write in place, or frames moved in)" \
	mapped_by_vmalloc "$KMM_TMP/trace.kmm" 2 "$(ptr_of "$KMM_TMP/tprobe.kmm" 2)"

# the very first allocation being 256 KiB
trace_heap "$KMM_TMP/trace1.plain" "$HP" M m256k M >"$KMM_TMP/tprobe1.plain" 2>/dev/null
trace_heap "$KMM_TMP/trace1.kmm" -E LD_PRELOAD="$KMM_LIB" "$HP" M m256k M >"$KMM_TMP/tprobe1.kmm" 2>/dev/null
ok "strace, glibc: a first allocation of 256 KiB is a new anonymous mmap" \
	mapped_by_mmap "$KMM_TMP/trace1.plain" 1 "$(ptr_of "$KMM_TMP/tprobe1.plain" 1)"
ok "strace, kmm: a first allocation of 256 KiB is a vmalloc area (made read-write in place, or frames moved in)" \
	mapped_by_vmalloc "$KMM_TMP/trace1.kmm" 1 "$(ptr_of "$KMM_TMP/tprobe1.kmm" 1)"

# exactly at the threshold (128 KiB), once the top chunk is too small to
# serve it: 16 B, then 120000 B from the top, then 131072 B
trace_heap "$KMM_TMP/trace2.plain" "$HP" M m16 m120000 M m128k M >"$KMM_TMP/tprobe2.plain" 2>/dev/null
trace_heap "$KMM_TMP/trace2.kmm" -E LD_PRELOAD="$KMM_LIB" "$HP" M m16 m120000 M m128k M >"$KMM_TMP/tprobe2.kmm" 2>/dev/null
is "$(sed -n 3p "$KMM_TMP/tprobe2.plain" | cut -d' ' -f1-3)" "m 131072 mmap" \
	"glibc: malloc(128 KiB) exactly, the top too small: its own mapping"
is "$(sed -n 3p "$KMM_TMP/tprobe2.kmm" | cut -d' ' -f1-3)" "m 131072 mmap" \
	"kmm: malloc(128 KiB) exactly, the top too small: its own mapping"
ok "strace, glibc: that 128 KiB block is a new anonymous mmap" \
	mapped_by_mmap "$KMM_TMP/trace2.plain" 2 "$(ptr_of "$KMM_TMP/tprobe2.plain" 3)"
ok "strace, kmm: that 128 KiB block is a vmalloc area (made read-write in place, or frames moved in)" \
	mapped_by_vmalloc "$KMM_TMP/trace2.kmm" 2 "$(ptr_of "$KMM_TMP/tprobe2.kmm" 3)"

# after free (munmap), the same request comes from the heap: no mmap, the
# break grows
from_heap() {
	_ev=$(trace_between "$1" 3 | tr '\n' '|')
	case $_ev in
	"munmap 266240|") ;;
	*) echo "free: events '$_ev', expected a munmap of 266240 bytes"; return 1 ;;
	esac
	_ev=$(trace_between "$1" 4 | tr '\n' '|')
	case $_ev in
	"brk +"*) ;;
	*) echo "second malloc(256 KiB): events '$_ev', expected the break to grow"; return 1 ;;
	esac
	case $_ev in
	*mmap*) echo "second malloc(256 KiB): events '$_ev' include an mmap"; return 1 ;;
	esac
	sed -n 3p "$2" | grep -q '^m 262144 heap ' || { echo "probe: $(sed -n 3p "$2")"; return 1; }
}
ok "strace, glibc: after munmap, malloc(256 KiB) grows the heap instead (dynamic threshold)" \
	from_heap "$KMM_TMP/trace.plain" "$KMM_TMP/tprobe.plain"
# kmm's default: the free makes no system call (the area is kept), and the
# second malloc(256 KiB) makes none either (it takes the area back)
cached() {
	_f=$(trace_between "$1" 3 | tr '\n' '|')
	_m=$(trace_between "$1" 4 | tr '\n' '|')
	[ -z "$_f" ] && [ -z "$_m" ] && return 0
	echo "free: '$_f'; second malloc: '$_m' (expected no memory system call)"; return 1
}
ok "strace, kmm: free(256 KiB) and the next malloc(256 KiB) make no system call (area cached)" \
	cached "$KMM_TMP/trace.kmm"
# with profile=glibc the second block grows the heap, as under glibc
grows_heap() {
	_ev=$(trace_between "$1" 4 | tr '\n' '|')
	case $_ev in "brk +"*) ;; *) echo "events '$_ev', expected the break to grow"; return 1 ;; esac
	sed -n 3p "$2" | grep -q '^m 262144 heap ' || { echo "probe: $(sed -n 3p "$2")"; return 1; }
}
ok "strace, kmm, profile=glibc: after free, malloc(256 KiB) grows the heap (dynamic threshold)" \
	grows_heap "$KMM_TMP/trace.kmmg" "$KMM_TMP/tprobe.kmmg"

# trimming: freeing the blocks shrinks the break
trims() {
	_ev=$(trace_between "$1" 6 | tr '\n' '|')
	case $_ev in
	*"brk -"*) return 0 ;;
	esac
	echo "freeing 4000 blocks: events '$_ev', expected the break to shrink"
	return 1
}
ok "strace, glibc: freeing 2 MiB of small blocks shrinks the break (brk)" trims "$KMM_TMP/trace.plain"
ok "strace, kmm, profile=glibc: freeing 2 MiB of small blocks shrinks the break (brk)" trims "$KMM_TMP/trace.kmmg"
# by default no brk for them at all: slabs (their frames come from the
# buddy allocator's sections)
no_brk() {
	_ev=$(trace_between "$1" 5; trace_between "$1" 6)
	case $_ev in
	*brk*) echo "4000 small blocks and their frees: events '$(echo "$_ev" | tr '\n' '|')'"; return 1 ;;
	esac
	return 0
}
ok "strace, kmm: 4000 small blocks and their frees make no brk call (slabs)" no_brk "$KMM_TMP/trace.kmm"

# everything together: the heap side (brk) makes the same calls, in the same
# order, same sizes; kmm's big blocks go through its vmalloc space instead of
# mmap/munmap, so only brk is compared
brk_only() { grep -E '^(premain|mark|brk)' "$1"; }
brk_only "$KMM_TMP/events.plain" >"$KMM_TMP/brk.plain"
brk_only "$KMM_TMP/events.kmmg" >"$KMM_TMP/brk.kmmg"
ok "strace, profile=glibc: the whole scenario makes the same brk calls under kmm as under glibc" \
	same_output "$KMM_TMP/brk.plain" "$KMM_TMP/brk.kmmg"
# and by default, up to the first big block too (marks 1-3)
sed '/^mark 3$/q' "$KMM_TMP/brk.plain" >"$KMM_TMP/brk3.plain"
brk_only "$KMM_TMP/events.kmm" | sed '/^mark 3$/q' >"$KMM_TMP/brk3.kmm"
ok "strace, kmm: the same brk calls as glibc before the first big block is freed" \
	same_output "$KMM_TMP/brk3.plain" "$KMM_TMP/brk3.kmm"
