#!/bin/sh
# layers.sh — the build's layers call downwards only (docs/design.md,
# "Layers"):
#
#     top     options, init, observe, memcheck, leakcheck,      (libkmmcore.a's own)
#             report, api
#     heap    src/heap/                                         (libkmmheap.a, libkmmheapmap.a)
#     kernel  src/kernel/                                       (libkmmkernel.a)
#     base    sys, os, the trace writer, util/                  (libkmmbase.a)
#
# For every object of every layer, each undefined symbol (nm -u) that kmm
# itself defines must be defined in the same layer or one below.  The one
# documented exception: the heap's entry points start kmm on first use
# (kmm_ensure_init in src/init.h reads kmm_ready and calls kmm_init_slow,
# which lives in the top layer: init.c), since a program's first malloc may
# come before any constructor.  Every violation is listed as
# "LAYER object -> symbol (defined in LAYER object)".
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan 7

pass() { _result 0 "$1"; }
fail() { _result 1 "$1"; }

libs=$(dirname "$KMM_LIB")
if ! have nm; then
	for t in 1 2 3 4 5 6 7; do skip "layers check $t" "nm (binutils) not installed"; done
	exit 0
fi
cd "$KMM_TMP" || exit 1

# "LAYER OBJECT SYMBOL" for every global symbol an object defines (defs) or
# leaves undefined (undefs).  nm -A prefixes each line with archive:member.
members() {   # LAYER ARCHIVE
	nm -A -g --defined-only "$2" 2>/dev/null |
		awk -v L="$1" '{ split($1, f, ":"); print L, f[2], $3 }' >>defs
	nm -A -u "$2" 2>/dev/null |
		awk -v L="$1" '{ split($1, f, ":"); print L, f[2], $NF }' >>undefs
}
: >defs; : >undefs
missing=
for l in base:libkmmbase.a kernel:libkmmkernel.a heap:libkmmheap.a heap:libkmmheapmap.a; do
	a=$libs/${l#*:}
	[ -f "$a" ] || missing="$missing $a"
	members "${l%%:*}" "$a"
done
# the top layer: what libkmmcore.a holds that no lower layer does
if [ -f "$libs/libkmmcore.a" ]; then
	nm -A -g --defined-only "$libs/libkmmcore.a" |
		awk '{ split($1, f, ":"); print f[2], $3 }' | sort -u >core.defs
	awk '{ print $2 }' defs | sort -u >lower.objs
	nm -A -u "$libs/libkmmcore.a" | awk '{ split($1, f, ":"); print f[2], $NF }' >core.undefs
	awk 'NR == FNR { low[$1] = 1; next } !($1 in low) { print "top", $1, $2 }' lower.objs core.defs >>defs
	awk 'NR == FNR { low[$1] = 1; next } !($1 in low) { print "top", $1, $2 }' lower.objs core.undefs >>undefs
else
	missing="$missing $libs/libkmmcore.a"
fi

# violations DEFS UNDEFS: the upward edges, one line each, but the named
# exception
violations() {
	awk '
	BEGIN { rank["base"] = 0; rank["kernel"] = 1; rank["heap"] = 2; rank["top"] = 3
		allowed["heap kmm_init_slow"] = 1; allowed["heap kmm_ready"] = 1 }   # first-use init
	NR == FNR { layer[$3] = $1; obj[$3] = $2; next }
	($3 in layer) && rank[layer[$3]] > rank[$1] && !(($1 " " $3) in allowed) {
		print $1, $2, "->", $3, "(defined in", layer[$3], obj[$3] ")"
	}' "$1" "$2" | sort -u
}

if [ -n "$missing" ]; then
	for t in 1 2 3 4 5 6 7; do fail "layers check $t: missing$missing"; done
	exit 0
fi

violations defs undefs >up
for l in base kernel heap; do
	grep "^$l " up >up.$l
	if [ -s up.$l ]; then
		fail "the $l layer calls nothing above it"
		sed 's/^/# /' up.$l
	else
		pass "the $l layer calls nothing above it"
	fi
done

# the exception is used (if it were not, it should go from this script)
if grep -q '^heap .* kmm_init_slow$' undefs; then
	pass "the heap starts kmm on first use (kmm_init_slow), the one allowed upward call"
else
	fail "no heap object calls kmm_init_slow any more: drop the exception"
fi

# each symbol defined by one layer only
dups=$(awk '{ print $3 }' defs | sort | uniq -d)
if [ -z "$dups" ]; then
	pass "every kmm symbol is defined in one layer"
else
	fail "symbols defined twice: $dups"
fi

# every layer holds objects (an empty archive would pass the edges trivially)
n_ok=1
for l in base kernel heap top; do
	[ "$(awk -v L=$l '$1 == L' defs | wc -l)" -gt 10 ] || { n_ok=0; echo "# layer $l defines almost nothing"; }
done
if [ $n_ok = 1 ]; then pass "every layer defines its symbols"; else fail "a layer is empty"; fi

# the check itself catches an upward call: the kernel calling the heap, and
# the base calling the kernel, made up on the real definitions
printf 'kernel fake.o kmm_heap_malloc_slow\nbase fake2.o kmm_vmalloc\nheap fake3.o kmm_init_slow\n' >undefs.fake
violations defs undefs.fake >up.fake
if grep -q '^kernel fake.o -> kmm_heap_malloc_slow' up.fake && grep -q '^base fake2.o -> kmm_vmalloc' up.fake &&
	! grep -q fake3 up.fake; then
	pass "the check reports made-up upward calls and lets the exception through"
else
	fail "the check missed a made-up upward call"
	sed 's/^/# /' up.fake
fi
