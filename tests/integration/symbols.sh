#!/bin/sh
# symbols.sh — libkmm.so exports exactly glibc's malloc ABI, its __libc_*
# aliases, the C++ operators new and delete, and the kmm_* API declared in
# include/kmm.h: nothing more, nothing less.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan 6

if ! have nm; then
	for t in 1 2 3 4 5 6; do skip "symbols check $t" "nm (binutils) not installed"; done
	exit 0
fi
cd "$KMM_TMP" || exit 1

# --- the expected set -------------------------------------------------------------
cat >expected <<'EOF_ABI'
malloc
free
calloc
realloc
reallocarray
memalign
posix_memalign
aligned_alloc
valloc
pvalloc
malloc_usable_size
mallopt
mallinfo
mallinfo2
malloc_trim
malloc_stats
malloc_info
cfree
__libc_malloc
__libc_free
__libc_calloc
__libc_realloc
__libc_memalign
__libc_valloc
__libc_pvalloc
__libc_mallinfo
__libc_mallopt
EOF_ABI

# operator new / new[] (plain, nothrow, aligned, aligned nothrow) and
# delete / delete[] (plain, sized, nothrow, aligned, sized aligned, aligned
# nothrow); size_t mangles as m on LP64, j on ILP32
z=m
[ "$(getconf LONG_BIT 2>/dev/null)" = 32 ] && z=j
for op in nw na; do
	for suffix in '' RKSt9nothrow_t St11align_val_t St11align_val_tRKSt9nothrow_t; do
		echo "_Z$op$z$suffix"
	done
done >>expected
for op in dl da; do
	for suffix in '' "$z" RKSt9nothrow_t St11align_val_t "${z}St11align_val_t" St11align_val_tRKSt9nothrow_t; do
		echo "_Z${op}Pv$suffix"
	done
done >>expected

# the functions include/kmm.h declares: identifiers kmm_* followed by "(",
# outside comments and preprocessor lines
awk '
{ text = text $0 "\n" }
END {
	out = ""
	while ((i = index(text, "/*")) > 0) {
		out = out substr(text, 1, i - 1)
		rest = substr(text, i + 2)
		j = index(rest, "*/")
		if (j == 0) { text = ""; break }
		text = substr(rest, j + 2)
	}
	out = out text
	n = split(out, lines, "\n")
	for (k = 1; k <= n; k++) {
		l = lines[k]
		if (l ~ /^[ \t]*#/) continue
		sub(/\/\/.*/, "", l)
		while (match(l, /kmm_[A-Za-z0-9_]*[ \t]*\(/)) {
			name = substr(l, RSTART, RLENGTH)
			sub(/[ \t]*\($/, "", name)
			print name
			l = substr(l, RSTART + RLENGTH)
		}
	}
}' "$KMM_SRCDIR/include/kmm.h" | sort -u >header_api
cat header_api >>expected
sort -u expected >expected.sorted

sane_header_api() {
	for f in kmm_malloc kmm_free kmm_stats_get kmm_report kmm_check kmm_leak_check kmm_version; do
		grep -qx "$f" header_api || { echo "'$f' not found in include/kmm.h:"; cat header_api; return 1; }
	done
	[ "$(wc -l <header_api)" -ge 20 ] || { echo "too few:"; cat header_api; return 1; }
}
ok "the kmm_* API read from include/kmm.h ($(wc -l <header_api) functions)" sane_header_api

# --- what libkmm.so exports ----------------------------------------------------------
nm -D --defined-only "$KMM_LIB" >nm.out 2>nm.err
ok "nm -D --defined-only reads libkmm.so" sh -c "test -s nm.out"
awk 'NF >= 2 { print $NF }' nm.out | sort -u >exported

missing() { comm -23 expected.sorted exported | grep . && return 1; return 0; }
extra() { comm -13 expected.sorted exported | grep . && return 1; return 0; }
ok "libkmm.so exports every expected symbol ($(wc -l <expected.sorted))" missing
ok "libkmm.so exports nothing else (no internal kmm_ helpers, no other symbols)" extra
# all of them functions (T, or W / i), none versioned
functions_only() {
	awk 'NF >= 2 && $(NF - 1) !~ /^[TWi]$/ { print; bad = 1 } END { exit bad }' nm.out || return 1
	grep '@' nm.out && return 1
	return 0
}
ok "every exported symbol is an unversioned function" functions_only

# preloading kmm into a C program must not drag in the C++ runtime
no_cxx_runtime() {
	if have readelf; then readelf -d "$KMM_LIB"; else objdump -p "$KMM_LIB"; fi >dyn.out 2>&1 || return 1
	grep NEEDED dyn.out
	grep -q 'NEEDED.*libstdc++' dyn.out && return 1
	grep -q NEEDED dyn.out
}
ok "libkmm.so does not need libstdc++" no_cxx_runtime
