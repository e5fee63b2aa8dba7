#!/bin/sh
# threads-fork.sh — threads allocating while the main thread forks
# (tests/progs/forkstress), and C++ new/delete (tests/progs/cxxalloc).
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

plan $((6 + ncxx + 1))

THREADS=4
FORKS=150
FS=$KMM_PROGS/forkstress

# forkstress under glibc first: the helper itself must be right
KMM_TIMEOUT=60 plain_run "$FS" $THREADS $FORKS >"$KMM_TMP/fs.plain" 2>&1
ok "forkstress passes with glibc's malloc" status_is $? 0

KMM_TIMEOUT=60 kmm_run "$KMM_TMP/fs.stats" "$FS" $THREADS $FORKS >"$KMM_TMP/fs.kmm" 2>&1
st=$?
diag "$(tail -1 "$KMM_TMP/fs.kmm")"
if [ $st -eq 124 ] || [ $st -eq 137 ]; then
	ok "forkstress under kmm finishes within 60 s (no deadlock)" false
	diag "timed out; output so far:"
	cat_diag "$KMM_TMP/fs.kmm"
else
	ok "forkstress under kmm finishes within 60 s (no deadlock)" true
fi
ok "forkstress under kmm: libkmm.so loaded" grep -qx 'kmm yes' "$KMM_TMP/fs.kmm"
ok "forkstress under kmm: all $FORKS children exited cleanly" grep -qx "forks $FORKS/$FORKS clean" "$KMM_TMP/fs.kmm"
ok "forkstress under kmm: threads saw no corruption, exit status 0" sh -c \
	"grep -qx 'threads $THREADS ok' '$KMM_TMP/fs.kmm' && test $st -eq 0"
n=$(stats_reports "$KMM_TMP/fs.stats" forkstress)
ok "forkstress under kmm: the parent and each child reported at exit ($n reports)" \
	test "$n" -eq $((FORKS + 1))

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
