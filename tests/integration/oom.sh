#!/bin/sh
# oom.sh — out of memory and out of mappings (tests/progs/oom): with
# RLIMIT_AS low (`ulimit -v`, set before the program starts, so that it
# bounds kmm's reservations too) and with vm.max_map_count used up by the
# program's own mappings, every kind of request (malloc small, medium and
# big, calloc, realloc growing a big block, memalign, posix_memalign,
# aligned_alloc, valloc) ends in NULL with ENOMEM, never an abort; every
# block handed out keeps its contents, a failed realloc leaves its block,
# free keeps errno, and once memory is back everything works again with
# kmm's checkers clean.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

OOM=$KMM_PROGS/oom
kinds=9

cxx_checks="new throws std::bad_alloc when memory runs out
nothrow new returns nullptr then
the arrays handed out are intact
new works again once the arrays are deleted"
plan $((3 * 2 + 3 * (kinds + 3) + 2 + 4))

# oom_run NAME LIMIT MODE: plain and kmm runs; LIMIT is ulimit -v (KiB) or -
oom_run() {
	_n=$1 _l=$2 _m=$3
	for _who in glibc kmm; do
		_o=$KMM_TMP/oom-$_n-$_who
		(
			[ "$_l" = - ] || ulimit -v "$_l"
			if [ $_who = kmm ]; then
				KMM_TIMEOUT=300 kmm_run "$_o.stats" "$OOM" "$_m"
			else
				KMM_TIMEOUT=300 plain_run "$OOM" "$_m"
			fi
		) >"$_o" 2>&1
		echo $? >"$_o.status"
	done
}

# KMM_SLOW=no (.ci/run's distcheck, after make check ran all of it): the
# first case only
cases="as60 as100 maps"
[ "${KMM_SLOW-}" = no ] && cases=as60
oom_run as60 60000 as
case $cases in *as100*) oom_run as100 100000 as; oom_run maps - maps ;; esac

for n in as60 as100 maps; do
	case " $cases " in
	*" $n "*) ;;
	*)
		for t in $(seq 1 $((2 + kinds + 3))); do skip "$n check $t" "KMM_SLOW=no"; done
		continue ;;
	esac
	ok "$n: glibc's malloc passes the helper's checks (the helper itself is right)" \
		sh -c "grep -qx recovered '$KMM_TMP/oom-$n-glibc' && ! grep -q FAILED '$KMM_TMP/oom-$n-glibc'"
	ok "$n: glibc's run exits 0" test "$(cat "$KMM_TMP/oom-$n-glibc.status")" -eq 0
done

for n in $cases; do
	_o=$KMM_TMP/oom-$n-kmm
	diag "$n under kmm: $(grep -c 'ENOMEM' "$_o") kinds refused with ENOMEM, status $(cat "$_o.status")"
	grep -q FAILED "$_o" && cat_diag "$_o" 40
	for k in 'malloc(64)' 'malloc(4000)' 'malloc(1 MiB)' 'calloc(1, 100000)' 'memalign(4096, 10000)' \
		'posix_memalign(64, 3000)' 'aligned_alloc(256, 512)' 'valloc(20000)'; do
		ok "$n: $k under kmm: NULL with ENOMEM, blocks intact, free kept errno" \
			sh -c "grep -F '$k: ' '$_o' | grep -q ' blocks, then ENOMEM, all intact\$'"
	done
	ok "$n: realloc growing a big block under kmm: ENOMEM, the block intact" \
		grep -q '^realloc growing a big block: grown to [0-9]* MiB, then ENOMEM, block intact$' "$_o"
	ok "$n: no abort, no crash: kmm's run exits 0" test "$(cat "$_o.status")" -eq 0
	ok "$n: memory back, every kind allocates again" grep -qx recovered "$_o"
	ok "$n: kmm's checkers clean afterwards" grep -qx 'checkers clean' "$_o"
done

# C++: operator new under the same limit (tests/progs/cxxalloc oom)
for who in glibc kmm; do
	_o=$KMM_TMP/cxx-$who
	(
		ulimit -v 100000
		if [ $who = kmm ]; then
			KMM_TIMEOUT=300 kmm_run "$_o.stats" "$KMM_PROGS/cxxalloc" oom
		else
			KMM_TIMEOUT=300 plain_run "$KMM_PROGS/cxxalloc" oom
		fi
	) >"$_o" 2>&1
	echo $? >"$_o.status"
done
diag "C++ under kmm: $(grep '^new char' "$KMM_TMP/cxx-kmm")"
ok "C++, glibc's malloc: cxxalloc oom passes its checks (the helper itself is right)" \
	test "$(cat "$KMM_TMP/cxx-glibc.status")" -eq 0
ok "C++ under kmm: cxxalloc oom exits 0 (no abort, no crash)" test "$(cat "$KMM_TMP/cxx-kmm.status")" -eq 0
cat_diag "$KMM_TMP/cxx-kmm" 10
printf '%s\n' "$cxx_checks" | while IFS= read -r c; do
	if grep -qxF "ok $c" "$KMM_TMP/cxx-kmm"; then echo "ok - C++ under kmm: $c"; else echo "not ok - C++ under kmm: $c"; fi
done >"$KMM_TMP/cxx.tap"
while IFS= read -r line; do
	case $line in
	"ok - "*) ok "${line#ok - }" true ;;
	*) ok "${line#not ok - }" false ;;
	esac
done <"$KMM_TMP/cxx.tap"
