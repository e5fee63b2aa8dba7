#!/bin/sh
# errors.sh — how kmm fails: errno values, aborts on misuse of free(), and
# glibc's malloc_stats / malloc_info formats (tests/progs/malloc_errors).
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

ME=$KMM_PROGS/malloc_errors

# what `malloc_errors errno` must print under kmm, line by line
expected_errno='malloc(SIZE_MAX): NULL ENOMEM
malloc(PTRDIFF_MAX+1): NULL ENOMEM
calloc(SIZE_MAX/2+1, 2): NULL ENOMEM
calloc(2, SIZE_MAX/2+1): NULL ENOMEM
reallocarray(NULL, SIZE_MAX/2+1, 2): NULL ENOMEM
reallocarray(p, SIZE_MAX/2+1, 4): NULL ENOMEM
realloc(p, SIZE_MAX): NULL ENOMEM
block intact after failed reallocs: yes
posix_memalign(3, 8): EINVAL
posix_memalign(24, 8): EINVAL
posix_memalign(sizeof(void *)/2, 8): EINVAL
posix_memalign(64, SIZE_MAX): ENOMEM
posix_memalign(4096, 100): 0 aligned
aligned_alloc(3, 8): NULL EINVAL
aligned_alloc(64, SIZE_MAX): NULL ENOMEM
aligned_alloc(256, 1000): aligned
memalign(64, SIZE_MAX): NULL ENOMEM
memalign(SIZE_MAX/2+1, 8): NULL ENOMEM
memalign(SIZE_MAX, 8): NULL EINVAL
posix_memalign(SIZE_MAX/2+1, 8): ENOMEM
memalign(24, 8): ptr, 32-aligned
valloc(SIZE_MAX): NULL ENOMEM
malloc(0): unique pointer
malloc_usable_size(NULL): 0
realloc(NULL, 16): ptr
kmm yes'
printf '%s\n' "$expected_errno" >"$KMM_TMP/errno.expected"
nerrno=$(wc -l <"$KMM_TMP/errno.expected")

# misuse MODE, and how kmm's one-line message must begin
aborts='double-free|kmm: free(): double free
double-free-unsorted|kmm: free(): double free
free-stack|kmm: free(): invalid pointer
free-stack-misaligned|kmm: free(): invalid pointer
free-middle|kmm: free()
free-middle-misaligned|kmm: free()'
# profile=glibc: glibc's own text, without "kmm: " (kmm_printerr)
glibc_text() {
	if [ "${KMM_DEFAULT_PROFILE:-kmm}" = glibc ]; then
		sed -e 's/|kmm: /|/' -e 's/^double-free-unsorted|.*/double-free-unsorted|double free or corruption (!prev)/'
	else
		cat
	fi
}
printf '%s\n' "$aborts" | glibc_text >"$KMM_TMP/aborts"
# misuse kmm catches by ownership (the address is checked against what kmm
# mapped before any header is read); glibc's outcome is recorded, not
# required (it crashes with SIGSEGV on some: docs/hardening.md)
# a second free of a 1 MiB block: demand-paged areas (profile=kmm) keep it
# lazily and name the double free; frame-built ones (profile=glibc) purge an
# area that size at once, so its address is no longer kmm's
big_df='kmm: free(): double free'
[ "${KMM_DEFAULT_PROFILE:-kmm}" = glibc ] && big_df='kmm: free(): invalid pointer'
more_aborts="big-double-free|$big_df"'
big-interior|kmm: free(): invalid pointer
big-misaligned|kmm: free(): invalid pointer
never-allocated|kmm: free(): invalid pointer
never-allocated-in-page|kmm: free(): invalid pointer
realloc-stack|kmm: realloc(): invalid pointer
realloc-freed|kmm: realloc(): 
realloc-freed-200|kmm: realloc(): 
header-mbit|kmm: free(): invalid size'
printf '%s\n' "$more_aborts" | glibc_text >"$KMM_TMP/more_aborts"
# checks glibc does not make: kmm's own line in both profiles (a 200-byte
# block freed by two threads: glibc 2.36 misses both)
own_aborts='xthread-cached|kmm: free(): double free detected
xthread-remote|kmm: free(): double free detected'
printf '%s\n' "$own_aborts" >>"$KMM_TMP/more_aborts"
naborts=$(wc -l <"$KMM_TMP/aborts")
nmore=$(wc -l <"$KMM_TMP/more_aborts")

# misuse: the errno lines, the aborts, glibc's aborts, the aborts glibc
# need not make, header-overflow; kmm's metadata (3); poisoning (9);
# the debug options (10); malloc_stats and malloc_info (9)
plan $((nerrno + naborts + 1 + nmore + 1 + 3 + 9 + 10 + 9))

# --- errno -------------------------------------------------------------------
kmm_run "$KMM_TMP/errno.stats" "$ME" errno >"$KMM_TMP/errno.out" 2>&1
while IFS= read -r line; do
	ok "errno: $line" grep -qxF "$line" "$KMM_TMP/errno.out"
done <"$KMM_TMP/errno.expected"

# --- misuse of free() aborts with one line on stderr -------------------------
# aborts_like MODE PREFIX: SIGABRT, exactly one line on stderr, starting with
# PREFIX, nothing on stdout (the "survived" line)
# (dash prints its "Aborted" notice while the command's redirections are
# still in place: the helper's stderr is redirected by an exec instead)
aborts_like() {
	with_timeout 60 env LD_PRELOAD="$KMM_LIB" \
		sh -c 'exec "$0" "$1" 2>"$2"' "$ME" "$1" "$KMM_TMP/abort.err" \
		>"$KMM_TMP/abort.out" 2>/dev/null
	_st=$?
	_fail=0
	[ $_st -eq 134 ] || { echo "exit status $_st, expected 134 (SIGABRT)"; _fail=1; }
	[ -s "$KMM_TMP/abort.out" ] && { echo "stdout: $(cat "$KMM_TMP/abort.out")"; _fail=1; }
	[ "$(wc -l <"$KMM_TMP/abort.err")" -eq 1 ] || { echo "stderr is not one line:"; _fail=1; }
	case $(head -1 "$KMM_TMP/abort.err") in
	"$2"*) ;;
	*) echo "stderr does not start with '$2':"; _fail=1 ;;
	esac
	[ $_fail -eq 0 ] || cat "$KMM_TMP/abort.err"
	return $_fail
}
while IFS='|' read -r mode prefix; do
	ok "$mode: aborts, one line on stderr: $prefix..." aborts_like "$mode" "$prefix"
done <"$KMM_TMP/aborts"

# the helper's misuse is real: glibc's malloc aborts on each too
glibc_aborts() {
	while IFS='|' read -r _m _p; do
		plain_run "$ME" "$_m" >/dev/null 2>&1
		_st=$?
		[ $_st -eq 134 ] || { echo "$_m: exit status $_st with glibc"; return 1; }
	done <"$KMM_TMP/aborts"
}
ok "each misuse aborts with glibc's malloc as well" glibc_aborts
while IFS='|' read -r mode prefix; do
	ok "$mode: aborts, one line on stderr: $prefix..." aborts_like "$mode" "$prefix"
done <"$KMM_TMP/more_aborts"
# a 16-byte overflow into the next block's chunk header: the heap's (small
# blocks there with profile=glibc); a slab object has no header to break
KMM_OPTIONS=profile=glibc
export KMM_OPTIONS
# (profile=glibc: glibc's text, with no "kmm: " and no detail)
ok "header-overflow, profile=glibc: aborts, one line on stderr: free(): invalid pointer" \
	aborts_like header-overflow "free(): invalid pointer"
unset KMM_OPTIONS

# --- free() of kmm's own metadata ----------------------------------------------
# The arena kmm made for a second thread: a slab object in one of kmm's
# buddy sections, its address found from outside through kmm_report's maps
# (tests/progs/malloc_errors.c says how).  Refused by ownership, as any
# address kmm did not hand out.
# (profile=glibc: glibc's text alone)
if [ "${KMM_DEFAULT_PROFILE:-kmm}" = glibc ]; then
	meta_line='free(): invalid pointer'
else
	meta_line='kmm: free(): invalid pointer 0x[0-9a-f]* (not a block kmm handed out)'
fi
ok "free-kmm-metadata: aborts, one line on stderr: free(): invalid pointer..." \
	aborts_like free-kmm-metadata "$(echo "$meta_line" | cut -c1-28)"
ok "free-kmm-metadata: the whole line (default: not a block kmm handed out; profile=glibc: glibc's text)" \
	grep -qx "$meta_line" "$KMM_TMP/abort.err"
plain_run "$ME" free-kmm-metadata >"$KMM_TMP/meta.plain" 2>&1
is "$? $(cat "$KMM_TMP/meta.plain")" "0 kmm no" "free-kmm-metadata with glibc's malloc: 'kmm no', exit 0"

# --- tcache and fastbin poisoning: safe-linking --------------------------------
# The overwritten list pointer reveals to a misaligned address, and malloc
# aborts, unless bits 12-15 of the block's address happen to be those of
# the target (1 in 16): then malloc returns something else, never the
# attacker's address.  32 runs of each (with 16, a rare run of 11 aborts,
# below the bound of 12, failed a CI run: 61 of 64 runs abort, the others
# die of SIGSEGV, under this build and the one before alike).
poison_runs() { # MODE LIB: "aborts hijacks others" over 32 runs
	_a=0 _h=0 _o=0
	for _i in $(seq 1 32); do
		if [ -n "$2" ]; then
			with_timeout 30 env LD_PRELOAD="$2" sh -c 'exec "$0" "$1" 2>"$2"' "$ME" "$1" "$KMM_TMP/p.err" >"$KMM_TMP/p.out" 2>/dev/null
		else
			with_timeout 30 sh -c 'exec "$0" "$1" 2>"$2"' "$ME" "$1" "$KMM_TMP/p.err" >"$KMM_TMP/p.out" 2>/dev/null
		fi
		case $? in
		134) _a=$((_a + 1)); cp "$KMM_TMP/p.err" "$KMM_TMP/p.lasterr" ;;
		3) _h=$((_h + 1)) ;;
		*) _o=$((_o + 1)) ;;
		esac
	done
	echo "$_a $_h $_o"
}
# (the tcache and the fastbins: profile=glibc's front end)
KMM_OPTIONS=profile=glibc
export KMM_OPTIONS
for mode in tcache-poison fastbin-poison; do
	set -- $(poison_runs "$mode" "$KMM_LIB")
	is "$2" "0" "$mode: kmm never hands out the attacker's address (32 runs: $1 aborts, $3 survived)"
	ok "$mode: kmm aborts in most runs ($1 of 32)" test "$1" -ge 24
	ok "$mode: with glibc's one-line diagnostic" grep -qx 'malloc(): unaligned \(tcache\|fastbin\) chunk detected.*' "$KMM_TMP/p.lasterr"
done
# the slab front end's lists (the default profile): the same attack on a
# slab object; the word read must stay in the object's 64 KiB slab, and the
# obfuscated value lands anywhere
KMM_OPTIONS=profile=kmm
set -- $(poison_runs tcache-poison "$KMM_LIB")
unset KMM_OPTIONS
is "$2" "0" "slab list poisoning: kmm never hands out the attacker's address (32 runs: $1 aborts, $3 survived)"
ok "slab list poisoning: kmm aborts in every run but two at most ($1 of 32)" test "$1" -ge 30
ok "slab list poisoning: with a one-line diagnostic" grep -q '^kmm: malloc(): free list corrupted' "$KMM_TMP/p.lasterr"

# --- the debug options: poison, init_on_alloc, init_on_free ---------------------
with_timeout 30 env LD_PRELOAD="$KMM_LIB" "$ME" uaf-write >"$KMM_TMP/u.out" 2>&1
is "$(cat "$KMM_TMP/u.out")" "survived" "uaf-write: by default a write after free goes unseen (as under glibc)"
KMM_OPTIONS=poison=on
export KMM_OPTIONS
ok "uaf-write, poison=on: aborts, one line: write after free" \
	aborts_like uaf-write "kmm: malloc(): write after free"
unset KMM_OPTIONS
for case in '|after-free 0x55 after-malloc 0x55' \
	'init_on_free=on|after-free 0x00 after-malloc 0x00' \
	'init_on_alloc=on|after-free 0x55 after-malloc 0x00' \
	'poison=on|after-free 0x6b after-malloc 0x6b' \
	'profile=glibc,poison=on|after-free 0x6b after-malloc 0x6b'; do
	opts=${case%%|*} want=${case#*|}
	got=$(with_timeout 30 env LD_PRELOAD="$KMM_LIB" KMM_OPTIONS="$opts" "$ME" init-check 2>&1)
	is "$got" "$want" "init-check ${opts:-default}: $want"
done
# real programs with all three: no false alarm, the same output
all=poison=on,init_on_alloc=on,init_on_free=on
seq 1 50000 | sort -R >"$KMM_TMP/r.txt" 2>/dev/null || seq 1 50000 >"$KMM_TMP/r.txt"
sort "$KMM_TMP/r.txt" >"$KMM_TMP/r.plain"
with_timeout 120 env LD_PRELOAD="$KMM_LIB" KMM_OPTIONS="$all" sort "$KMM_TMP/r.txt" >"$KMM_TMP/r.kmm" 2>"$KMM_TMP/r.err"
ok "sort with $all: exit 0, the same output" cmp -s "$KMM_TMP/r.plain" "$KMM_TMP/r.kmm"
if have python3; then
	with_timeout 120 env LD_PRELOAD="$KMM_LIB" KMM_OPTIONS="$all" python3 -c \
		'import json; d=[{"k": i, "v": "x" * (i % 100)} for i in range(20000)]; assert json.loads(json.dumps(d)) == d; print("ok")' \
		>"$KMM_TMP/p.out" 2>&1
	is "$(cat "$KMM_TMP/p.out")" "ok" "python3 with $all: runs clean"
else
	skip "python3 with the debug options" "no python3"
fi
is "$(cat "$KMM_TMP/r.err")" "" "sort with the debug options: nothing on stderr"

# --- malloc_stats and malloc_info: glibc's formats -----------------------------
# (the exact comparisons with glibc's output: profile=glibc; by default
# the slab front end adds a "Slabs:" block to malloc_stats and a <slabs/>
# element to malloc_info)
plain_run "$ME" stats >"$KMM_TMP/stats.plain" 2>&1
kmm_run "$KMM_TMP/x.stats" env KMM_OPTIONS=profile=kmm "$ME" stats >"$KMM_TMP/stats.kmmd" 2>&1
kmm_run "$KMM_TMP/x.stats" env KMM_OPTIONS=profile=glibc "$ME" stats >"$KMM_TMP/stats.kmm" 2>&1
has_slab_lines() {
	grep -qx 'Slabs:' "$1" && grep -q '^Total (incl. mmap):' "$1" && return 0
	echo "no Slabs: block in:"; cat "$1"; return 1
}
has_stats_lines() {
	for l in 'Arena 0:' 'system bytes     =' 'in use bytes     =' 'Total (incl. mmap):' \
		'max mmap regions =' 'max mmap bytes   ='; do
		grep -qF "$l" "$1" || { echo "no line '$l' in:"; cat "$1"; return 1; }
	done
}
ok "malloc_stats under kmm's default prints glibc's lines" has_stats_lines "$KMM_TMP/stats.kmmd"
ok "malloc_stats under kmm's default: the slab front end's block" has_slab_lines "$KMM_TMP/stats.kmmd"
ok "malloc_stats under kmm, profile=glibc prints glibc's lines" has_stats_lines "$KMM_TMP/stats.kmm"
# numbers aside, the same text as glibc's
sed -e 's/[0-9][0-9]*/N/g' -e 's/  */ /g' "$KMM_TMP/stats.plain" >"$KMM_TMP/stats.plain.n"
sed -e 's/[0-9][0-9]*/N/g' -e 's/  */ /g' "$KMM_TMP/stats.kmm" >"$KMM_TMP/stats.kmm.n"
ok "malloc_stats under kmm, profile=glibc has glibc's layout" same_output "$KMM_TMP/stats.plain.n" "$KMM_TMP/stats.kmm.n"

plain_run "$ME" info >"$KMM_TMP/info.plain" 2>&1
kmm_run "$KMM_TMP/x.stats" env KMM_OPTIONS=profile=glibc "$ME" info >"$KMM_TMP/info.kmm" 2>&1
kmm_run "$KMM_TMP/x.stats" env KMM_OPTIONS=profile=kmm "$ME" info >"$KMM_TMP/info.kmmd" 2>&1
ok "malloc_info under kmm's default: a <slabs/> element before the totals" sh -c \
	"grep -qE '^<slabs count=\"[1-9][0-9]*\" size=\"[0-9]+\" inuse=\"[0-9]+\" classes=\"[0-9]+\"/>\$' '$KMM_TMP/info.kmmd'"
has_info_elements() {
	for l in '<malloc version="1">' '<heap nr="0">' '<sizes>' '</sizes>' '<total type="fast" ' \
		'<total type="rest" ' '<total type="mmap" ' '<system type="current" ' \
		'<system type="max" ' '<aspace type="total" ' '</heap>' '</malloc>'; do
		grep -qF "$l" "$1" || { echo "no '$l' in:"; cat "$1"; return 1; }
	done
}
ok "malloc_info under kmm: glibc's XML elements" has_info_elements "$KMM_TMP/info.kmm"
# kmm adds two elements to each <heap>: <threads count=N/> (threads using
# the arena) and <remote count= size= drained=/> (frees from other arenas'
# threads); apart from them, glibc's output
kmm_extras() { grep -v -e '^<threads count="[0-9]*"/>$' -e '^<remote count="[0-9]*" size="[0-9]*" drained="[0-9]*"/>$' "$1"; }
per_heap_extras() {
	h=$(grep -c '^<heap nr=' "$1"); t=$(grep -c '^<threads count=' "$1"); r=$(grep -c '^<remote count=' "$1")
	[ "$h" -ge 1 ] && [ "$t" = "$h" ] && [ "$r" = "$h" ] || { echo "$h heaps, $t <threads>, $r <remote>:"; cat "$1"; return 1; }
}
ok "malloc_info under kmm: <threads> and <remote> in every <heap>" per_heap_extras "$KMM_TMP/info.kmm"
# element structure: attribute values blanked, runs of <size .../> as one
structure() { kmm_extras "$1" | sed -e 's/="[^"]*"/=""/g' | uniq; }
structure "$KMM_TMP/info.plain" >"$KMM_TMP/info.plain.s"
structure "$KMM_TMP/info.kmm" >"$KMM_TMP/info.kmm.s"
ok "malloc_info under kmm: same element structure as glibc's" \
	same_output "$KMM_TMP/info.plain.s" "$KMM_TMP/info.kmm.s"

# the same allocations leave the same heap: every malloc_info row and the
# malloc_stats numbers are identical to glibc's
plain_run "$ME" info-exact >"$KMM_TMP/exact.plain" 2>&1
kmm_run "$KMM_TMP/y.stats" env KMM_OPTIONS=profile=glibc "$ME" info-exact >"$KMM_TMP/exact.kmm.x" 2>&1
kmm_extras "$KMM_TMP/exact.kmm.x" >"$KMM_TMP/exact.kmm"
ok "malloc_info and malloc_stats after a fixed pattern, profile=glibc: byte-identical to glibc's (kmm's two extra elements aside)" \
	same_output "$KMM_TMP/exact.plain" "$KMM_TMP/exact.kmm"
