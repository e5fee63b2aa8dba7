#!/bin/sh
# threads-fork.sh — threads allocating while the main thread forks
# (tests/progs/forkstress: 4 threads x 150 forks, and 8 threads x 200
# forks), and C++ new/delete (tests/progs/cxxalloc).
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

# the checks tests/progs/cxxalloc prints, one TAP line each
cxx_checks='kmm loaded
new/delete served by kmm
new/delete of an object
new[]/delete[]
new[] of 100 KB and 1 MB
aligned new (alignas(64), alignas(4096))
aligned new served by kmm
operator new(SIZE_MAX/2) throws std::bad_alloc
new char[SIZE_MAX/2] throws std::bad_alloc
aligned operator new(SIZE_MAX/2) throws std::bad_alloc
new (std::nothrow) char[SIZE_MAX/2] is nullptr
operator new(SIZE_MAX/2, nothrow) is nullptr
aligned nothrow operator new(SIZE_MAX/2) is nullptr
new (std::nothrow) of a small object works
new-handler called once, then std::bad_alloc
containers, unique_ptr, shared_ptr'
ncxx=$(printf '%s\n' "$cxx_checks" | wc -l)

plan $((1 + 5 + 5 + ncxx + 1))

FS=$KMM_PROGS/forkstress

# forkstress under glibc first: the helper itself must be right
KMM_TIMEOUT=60 plain_run "$FS" 4 150 >"$KMM_TMP/fs.plain" 2>&1
ok "forkstress passes with glibc's malloc" status_is $? 0

# forkstress_kmm THREADS FORKS: five checks of one run under kmm
forkstress_kmm() {
	_t=$1 _f=$2 _o=$KMM_TMP/fs-$1x$2
	KMM_TIMEOUT=60 kmm_run "$_o.stats" "$FS" "$_t" "$_f" >"$_o.kmm" 2>&1
	_st=$?
	diag "$_t threads, $_f forks: $(tail -1 "$_o.kmm")"
	if [ $_st -eq 124 ] || [ $_st -eq 137 ]; then
		ok "forkstress $_t x $_f under kmm finishes within 60 s (no deadlock)" false
		diag "timed out; output so far:"
		cat_diag "$_o.kmm"
	else
		ok "forkstress $_t x $_f under kmm finishes within 60 s (no deadlock)" true
	fi
	ok "forkstress $_t x $_f under kmm: libkmm.so loaded" grep -qx 'kmm yes' "$_o.kmm"
	ok "forkstress $_t x $_f under kmm: all $_f children exited cleanly" \
		grep -qx "forks $_f/$_f clean" "$_o.kmm"
	ok "forkstress $_t x $_f under kmm: threads saw no corruption, exit status 0" sh -c \
		"grep -qx 'threads $_t ok' '$_o.kmm' && test $_st -eq 0"
	[ $_st -eq 0 ] || cat_diag "$_o.kmm" 20
	_n=$(stats_reports "$_o.stats" forkstress)
	ok "forkstress $_t x $_f under kmm: the parent and each child reported at exit ($_n reports)" \
		test "$_n" -eq $((_f + 1))
}

forkstress_kmm 4 150
# the spec: 8 threads allocating while the main thread forks 200 times,
# each child allocating, freeing and exiting cleanly
forkstress_kmm 8 200

KMM_TIMEOUT=60 kmm_run "$KMM_TMP/cxx.stats" "$KMM_PROGS/cxxalloc" >"$KMM_TMP/cxx.kmm" 2>&1
st=$?
cxx_has() {
	grep -qxF "ok $1" "$KMM_TMP/cxx.kmm" && return 0
	grep -F "$1" "$KMM_TMP/cxx.kmm" || echo "no result line for '$1'"
	return 1
}
printf '%s\n' "$cxx_checks" >"$KMM_TMP/cxx.names"
while IFS= read -r name; do
	ok "C++: $name" cxx_has "$name"
done <"$KMM_TMP/cxx.names"
ok "C++: cxxalloc exits 0 under kmm" status_is $st 0
[ $st -eq 0 ] || cat_diag "$KMM_TMP/cxx.kmm" 40
