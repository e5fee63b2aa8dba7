#!/bin/bash
# bench/security.sh — build and run the security tests of the public
# mimalloc-bench suite (a checkout given by its path) under glibc,
# jemalloc, tcmalloc, mimalloc, kmm, kmm-glibc and any kmm variant, and
# print which tests each allocator catches.  `bench/security.sh --help` for
# the options, bench/README.md ("The security suite") for what it does.
# Nothing of mimalloc-bench is copied into kmm: the tests are compiled from
# the checkout into a build directory outside the kmm tree.
set -eu
set -o pipefail

prog=security.sh
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

usage() {
	cat <<'EOF'
Usage: bench/security.sh DIR [options]

Build the security tests of the public mimalloc-bench suite from the
checkout at DIR (any clone of mimalloc-bench; its bench/security
directory is used) and run each of them under glibc's malloc (nothing
preloaded), jemalloc, tcmalloc, mimalloc, kmm, kmm-glibc (the same
libkmm.so with KMM_OPTIONS=profile=glibc) and the -O variants, each
preloaded with LD_PRELOAD; then print which tests each allocator catches.

Each test makes one memory error (double free, write after free,
overflow, invalid free, ...) and then prints NOT_CAUGHT.  As in the
suite's bench.sh, a run that does not print NOT_CAUGHT is "caught",
whether the program aborted, died of a signal, exited non-zero or (e.g.
impossibly_large_malloc getting NULL) exited normally; a run that prints
it is "not caught", even if it crashes later.  A run that takes longer
than the timeout is killed, reported as timed out ("T") and counted as
not caught.

The tests are compiled with cc/c++ ($CC/$CXX) straight from
DIR/bench/security, as the suite's CMakeLists.txt does in its Release
build (-O3 -DNDEBUG and the suite's warning flags): each NAME.c three
times, NAME_small, NAME_medium and NAME_large with -DALLOCATION_SIZE=8,
4096 and 256*1024, and -Wno-free-nonheap-object -fno-inline
-fno-builtin-inline -fno-inline-small-functions -fno-ipa-pure-const; each
NAME.cc once, NAME, with -std=c++17 -fsized-deallocation
-DALLOCATION_SIZE=4096: 116 tests in mimalloc-bench as of 2026 (commit
ce5784f).  DIR itself is only read.

Options:
  -t a,b, --tests=a,b
                  run only the tests whose names contain one of these
                  strings (e.g. -t double_free,after_free)
  -a a,b          run only these allocators (default: all found)
  -k PATH, --kmm=PATH
                  the libkmm.so to test (default: $KMM_LIB, else
                  .libs/libkmm.so of the kmm tree this script is in)
  -L NAME=PATH    add an allocator, or point a built-in one at another
                  library (may be repeated), e.g. -L kmm-old=/tmp/old/libkmm.so
  -O NAME=OPTIONS add a kmm variant: kmm's library (or the one -L gave
                  NAME) run with KMM_OPTIONS=OPTIONS (may be repeated),
                  e.g. -O kmm-poison=poison=on; -O kmm-glibc=... replaces
                  kmm-glibc's options
  --timeout=SEC   kill a run that takes longer (default 10); it is
                  reported as timed out ("T") and counts as not caught
  --build-dir=D   where to build and run (default
                  ${TMPDIR:-/tmp}/kmm-security.$UID); must be outside the
                  kmm tree
  --rebuild       rebuild the tests even if built (by default a test is
                  rebuilt only when missing or older than its source
                  or common.h)
  --build-only    build, then stop
  --csv=FILE      write one CSV row per run to FILE ("-": stdout, and the
                  table to stderr): test, allocator, result (caught,
                  not_caught, timeout, error), status (exit:N, signal:NAME,
                  timeout:SECs, or what went wrong)
  -l, --list      list the tests selected (source and size) and the
                  allocators, then exit
  -h, --help      this help

Allocators: glibc (nothing preloaded), jemalloc (libjemalloc.so.2),
tcmalloc (libtcmalloc_minimal.so.4), mimalloc (libmimalloc.so.2), looked
for in /usr/lib/<multiarch>, /lib/<multiarch>, /usr/lib64, /lib64,
/usr/local/lib and /usr/lib like bench/run does; kmm; kmm-glibc (kmm's
library, or the -L kmm-glibc one, run with KMM_OPTIONS=profile=glibc);
the -O variants; and the -L ones.  A missing library is skipped with a
note.  The kmm variants are kmm, kmm-glibc, the -O ones and any other
whose name starts with "kmm".

Runs: one at a time, each by a small helper (compiled into the build
directory) that forks, execs the test in a new session with LD_PRELOAD
set (or unset for glibc), stdin from /dev/null, stdout and stderr to
files (kept in BUILD_DIR/run/TEST.ALLOCATOR.out/.err), in an empty
scratch directory, core dumps off (ulimit -c 0), and kills it at the
timeout.  KMM_OPTIONS is set only for kmm-glibc and the -O variants;
LD_PRELOAD, GLIBC_TUNABLES and every KMM_*, MALLOC_*, MIMALLOC_*,
TCMALLOC_* and JEMALLOC_* variable of the environment are unset first,
so nothing else configures the allocators.  A run that cannot be judged
(the dynamic linker refusing the preload, the test failing to start) is
an error ("?").

Output: a table, one row per test (sorted by name), one column per
allocator: "x" caught, "." not caught, "T" timed out, "?" error; then
the totals ("caught: glibc 68/116  jemalloc 22/116 ..."), the runs that timed
out, and for each kmm variant the tests it misses that another allocator
catches (with the allocators that catch them).

Exit status: 0 when every test was built and every run could be judged
(however many were caught), 1 when a test did not build or a run was an
error, 2 on a usage error.

Example:
  git clone https://github.com/daanx/mimalloc-bench /tmp/mimalloc-bench
  bench/security.sh /tmp/mimalloc-bench
  bench/security.sh /tmp/mimalloc-bench -a glibc,kmm -O kmm-poison=poison=on
  bench/security.sh /tmp/mimalloc-bench -t double_free,after_free --csv=security.csv
EOF
}

die() { echo "$prog: $*" >&2; exit 2; }
note() { echo "$prog: $*" >&2; }

# ---------------------------------------------------------------------------
# Options

dir=
only_tests=
only_allocs=
kmm_lib=${KMM_LIB:-}
extra_libs=()
kmm_variants=()
build_dir=${TMPDIR:-/tmp}/kmm-security.$(id -u)
rebuild=0
build_only=0
csv=
timeout=10
list=0

need_arg() { [ "$#" -ge 2 ] || die "option $1 needs an argument"; }
# the allocators (find_allocators) and the options shared with
# bench/mimalloc-bench.sh (common_option): bench/allocators.sh
# shellcheck source-path=SCRIPTDIR source=allocators.sh disable=SC1091
. "$here/allocators.sh"
# (kmm_lib, only_allocs, extra_libs and kmm_variants are read by
# find_allocators)
# shellcheck disable=SC2034
consumed=0   # (set by common_option)
while [ "$#" -gt 0 ]; do
	common_option "$@"
	if [ "$consumed" -gt 0 ]; then
		shift "$consumed"
		continue
	fi
	case "$1" in
	-h|--help) usage; exit 0 ;;
	-t|--tests) need_arg "$@"; only_tests=$2; shift ;;
	-t*) only_tests=${1#-t} ;;
	--tests=*) only_tests=${1#--tests=} ;;
	-O) need_arg "$@"; kmm_variants+=("$2"); shift ;;
	-O*) kmm_variants+=("${1#-O}") ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) [ -z "$dir" ] || die "only one DIR, please (see --help)"; dir=$1 ;;
	esac
	shift
done

case "$timeout" in ''|*[!0-9]*) die "--timeout wants a positive number of seconds" ;; esac
[ "$(( 10#$timeout ))" -gt 0 ] || die "--timeout wants a positive number of seconds"
[ -n "$dir" ] || { usage >&2; exit 2; }
if [ ! -f "$dir/bench/security/CMakeLists.txt" ] || [ ! -f "$dir/bench/security/common.h" ]; then
	die "$dir does not look like a mimalloc-bench checkout (no bench/security/CMakeLists.txt, bench/security/common.h)"
fi
dir=$(cd "$dir" && pwd)
src=$dir/bench/security

# Refuse a build directory inside the kmm tree before creating anything.
build_dir=$(realpath -m -- "$build_dir")
case "$build_dir/" in
"$top"/*) die "the build directory $build_dir is inside the kmm tree; use --build-dir" ;;
esac

# Nothing from the environment configures the allocators (KMM_LIB was
# read above): the runs get LD_PRELOAD and KMM_OPTIONS from this script only.
unset LD_PRELOAD GLIBC_TUNABLES
for v in $(compgen -e); do
	case "$v" in
	KMM_*|MALLOC_*|MIMALLOC_*|TCMALLOC_*|JEMALLOC_*|_RJEM_MALLOC_CONF) unset "$v" ;;
	esac
done

# ---------------------------------------------------------------------------
# Tests: NAME -> source file and ALLOCATION_SIZE, as CMakeLists.txt makes them.

declare -A test_src=() test_size=()
for f in "$src"/*.c; do
	[ -f "$f" ] || continue
	n=$(basename "$f" .c)
	test_src[${n}_small]=$f test_size[${n}_small]=8
	test_src[${n}_medium]=$f test_size[${n}_medium]=4096
	test_src[${n}_large]=$f test_size[${n}_large]='256*1024'
done
for f in "$src"/*.cc; do
	[ -f "$f" ] || continue
	n=$(basename "$f" .cc)
	test_src[$n]=$f test_size[$n]=4096
done
[ "${#test_src[@]}" -gt 0 ] || die "no *.c or *.cc tests in $src"
mapfile -t all_tests < <(printf '%s\n' "${!test_src[@]}" | LC_ALL=C sort)

# -t: the tests whose names contain one of the strings.
tests=()
if [ -n "$only_tests" ]; then
	IFS=, read -r -a want <<<"$only_tests"
	for w in "${want[@]}"; do
		[ -n "$w" ] || die "-t: empty test name"
		found=0
		for t in "${all_tests[@]}"; do
			case "$t" in *"$w"*) found=1; break ;; esac
		done
		[ "$found" = 1 ] || die "no test name contains $w (see --list)"
	done
	for t in "${all_tests[@]}"; do
		for w in "${want[@]}"; do
			case "$t" in *"$w"*) tests+=("$t"); break ;; esac
		done
	done
else
	tests=("${all_tests[@]}")
fi

# ---------------------------------------------------------------------------
# Allocators, located like bench/runner.c does (bench/allocators.sh, shared
# with bench/mimalloc-bench.sh), with the -O variants.

# What find_allocators sets (declared here for shellcheck without -x):
alloc_names=() run_allocs=()
declare -A alloc_path=() alloc_opts=() alloc_missing=()
find_allocators

is_kmm_variant() {
	case "$1" in kmm*) return 0 ;; esac
	[ -n "${alloc_opts[$1]+x}" ]
}

if [ "$list" = 1 ]; then
	echo "tests (${#tests[@]} of ${#all_tests[@]}, from $src):"
	for t in "${tests[@]}"; do
		printf '  %-36s %s -DALLOCATION_SIZE=%s\n' "$t" "$(basename "${test_src[$t]}")" "${test_size[$t]}"
	done
	echo "allocators:"
	for a in "${alloc_names[@]}"; do
		if [ -n "${alloc_missing[$a]+x}" ]; then
			printf '  %-15s (missing: %s)\n' "$a" "${alloc_missing[$a]}"
		else
			printf '  %-15s %s%s\n' "$a" "${alloc_path[$a]:-(nothing preloaded)}" \
				"${alloc_opts[$a]:+ with KMM_OPTIONS=${alloc_opts[$a]}}"
		fi
	done
	exit 0
fi

# ---------------------------------------------------------------------------
# Build

mkdir -p "$build_dir"
bin=$build_dir/bin
mkdir -p "$bin" "$build_dir/log" "$build_dir/run"

CC=${CC:-cc}
CXX=${CXX:-c++}
# The suite's CMakeLists.txt: a Release build, and its warning flags
# (bench/CMakeLists.txt, for C and C++), then the test's own options
# (bench/security/CMakeLists.txt).
base_flags=(-O3 -DNDEBUG -w -Wno-implicit-function-declaration -Wno-implicit-int
	-Wno-int-conversion -Wno-return-mismatch -Wno-incompatible-pointer-types)
c_flags=(-Wno-free-nonheap-object -fno-inline -fno-builtin-inline
	-fno-inline-small-functions -fno-ipa-pure-const)
cxx_flags=(-std=c++17 -fsized-deallocation)

build_one() { # TEST -> compiles $bin/TEST from its source
	local t=$1 f=${test_src[$1]}
	case "$f" in
	*.c) $CC "${base_flags[@]}" "${c_flags[@]}" "-DALLOCATION_SIZE=${test_size[$t]}" \
		-o "$bin/$t" "$f" ;;
	*.cc) $CXX "${base_flags[@]}" "${cxx_flags[@]}" "-DALLOCATION_SIZE=${test_size[$t]}" \
		-o "$bin/$t" "$f" ;;
	esac >"$build_dir/log/build-$t.txt" 2>&1
}

# The run helper, bench/prun.c: runs a test as described in --help (-s: in
# a session of its own, -c: core dumps off) and prints how it ended,
# "STATUS WALL_SECONDS MAXRSS_KIB", STATUS "exit:N", "signal:N", "timeout"
# or "start-failed:WHY"; only STATUS is used here.
helper=$build_dir/prun
if [ "$rebuild" = 1 ] || [ ! -x "$helper" ] || [ "$helper" -ot "$here/prun.c" ]; then
	$CC -O2 -Wall -Wextra -o "$helper" "$here/prun.c" || { note "cannot build the run helper"; exit 1; }
fi

build_failed=()
nbuilt=0
for t in "${tests[@]}"; do
	f=${test_src[$t]}
	if [ "$rebuild" = 0 ] && [ -x "$bin/$t" ] && [ ! "$bin/$t" -ot "$f" ] &&
		[ ! "$bin/$t" -ot "$src/common.h" ]; then
		continue
	fi
	rm -f "$bin/$t"
	if ! build_one "$t" || [ ! -x "$bin/$t" ]; then
		note "FAILED to build $t (log: $build_dir/log/build-$t.txt):"
		tail -n 20 "$build_dir/log/build-$t.txt" >&2 || true
		build_failed+=("$t")
	else
		nbuilt=$(( nbuilt + 1 ))
	fi
done
[ "$nbuilt" = 0 ] || note "built $nbuilt test(s) in $bin"
if [ "$build_only" = 1 ]; then
	[ "${#build_failed[@]}" = 0 ] || exit 1
	exit 0
fi

run_tests=()
for t in "${tests[@]}"; do
	[ -x "$bin/$t" ] && run_tests+=("$t")
done
[ "${#run_tests[@]}" -gt 0 ] || { note "no test built"; exit 1; }

# ---------------------------------------------------------------------------
# Run

ulimit -c 0
runs=$build_dir/runs.tsv	# test alloc result status
: >"$runs"
rm -f "$build_dir"/run/*.out "$build_dir"/run/*.err
scratch=$build_dir/scratch
nerr=0

note "running ${#run_tests[@]} tests x ${#run_allocs[@]} allocators, one at a time" \
	"(timeout ${timeout}s)"
for a in "${run_allocs[@]}"; do
	run_env=()
	[ -z "${alloc_opts[$a]+x}" ] || run_env=("KMM_OPTIONS=${alloc_opts[$a]}")
	ncaught=0 nnot=0 ntime=0 nerr_a=0
	SECONDS=0
	for t in "${run_tests[@]}"; do
		out=$build_dir/run/$t.$a.out
		err=$build_dir/run/$t.$a.err
		rm -rf "$scratch"
		mkdir "$scratch"
		if res=$(cd "$scratch" && env ${run_env[@]+"${run_env[@]}"} "$helper" -s -c \
			-T "$timeout" -o "$out" -e "$err" -p "${alloc_path[$a]}" -- "$bin/$t"); then
			res=${res% * *}	# the status (WHY may contain spaces)
		else
			res="helper-failed"
		fi
		status=$res
		case "$res" in
		timeout) result=timeout status="timeout:${timeout}s" ;;
		exit:*|signal:*)
			case "$res" in
			signal:*) status="signal:SIG$(kill -l "${res#signal:}" 2>/dev/null || echo "${res#signal:}")" ;;
			esac
			# The dynamic linker ignores a preload it cannot load, and
			# the test then runs on glibc's malloc: an error.
			if [ -n "${alloc_path[$a]}" ] && grep -q 'ld\.so: object .* cannot be preloaded' "$err"; then
				result=error status=preload-refused
			elif grep -q --text NOT_CAUGHT "$out"; then
				result=not_caught
			else
				result=caught
			fi
			;;
		*) result=error ;;
		esac
		case "$result" in
		caught) ncaught=$(( ncaught + 1 )) ;;
		not_caught) nnot=$(( nnot + 1 )) ;;
		timeout) ntime=$(( ntime + 1 )) ;;
		error)
			nerr=$(( nerr + 1 )) nerr_a=$(( nerr_a + 1 ))
			{
				echo "$prog: ERROR: $t under $a: $status"
				echo "  --- stderr (end) ---"; tail -n 5 "$err" 2>/dev/null | sed 's/^/  /'
			} >&2
			;;
		esac
		printf '%s\t%s\t%s\t%s\n' "$t" "$a" "$result" "$status" >>"$runs"
	done
	note "$a: $ncaught caught, $nnot not caught, $ntime timed out" \
		"$([ "$nerr_a" = 0 ] || echo "and $nerr_a error(s) ")(${SECONDS}s)"
done
rm -rf "$scratch"

# ---------------------------------------------------------------------------
# Report

write_csv() {
	echo "test,allocator,result,status"
	awk -F'\t' -v OFS=, '{ print $1, $2, $3, $4 }' "$runs"
}
if [ "$csv" = - ]; then
	write_csv
elif [ -n "$csv" ]; then
	write_csv >"$csv"
fi

kmm_variants_run=()
for a in "${run_allocs[@]}"; do
	if is_kmm_variant "$a"; then kmm_variants_run+=("$a"); fi
done
commit=$(git -C "$dir" rev-parse --short HEAD 2>/dev/null) || commit=

report() {
	awk -F'\t' -v allocs="${run_allocs[*]}" -v tests="${run_tests[*]}" \
		-v variants="${kmm_variants_run[*]}" -v dir="$dir" -v commit="$commit" \
		-v timeout="$timeout" '
{ R[$1 SUBSEP $2] = $3 }
END {
	na = split(allocs, A, " "); nt = split(tests, T, " "); nv = split(variants, V, " ")
	printf "mimalloc-bench security tests (%s%s), %d tests, timeout %ds\n", dir, commit == "" ? "" : " at " commit, nt, timeout
	printf "x caught, . not caught (printed NOT_CAUGHT), T timed out (counted as not caught), ? error\n\n"
	w = 4
	for (i = 1; i <= nt; i++) if (length(T[i]) > w) w = length(T[i])
	printf "%-" w "s", "test"
	for (j = 1; j <= na; j++) printf "  %s", A[j]
	printf "\n"
	for (i = 1; i <= nt; i++) {
		printf "%-" w "s", T[i]
		for (j = 1; j <= na; j++) {
			r = R[T[i] SUBSEP A[j]]
			m = r == "caught" ? "x" : r == "not_caught" ? "." : r == "timeout" ? "T" : "?"
			if (r == "caught") caught[A[j]]++
			if (r == "timeout") { ntimeout[A[j]]++; tlist[A[j]] = tlist[A[j]] (tlist[A[j]] == "" ? "" : ", ") T[i] }
			l = length(A[j]); pad = int((l - 1) / 2)
			printf "  %" (pad + 1) "s%" (l - 1 - pad) "s", m, ""
		}
		printf "\n"
	}
	printf "\ncaught:"
	for (j = 1; j <= na; j++) printf "%s%s %d/%d", j == 1 ? " " : "  ", A[j], caught[A[j]], nt
	printf "\n"
	s = ""
	for (j = 1; j <= na; j++) if (ntimeout[A[j]] > 0) s = s sprintf("%s%s %d (%s)", s == "" ? "" : "  ", A[j], ntimeout[A[j]], tlist[A[j]])
	printf "timed out (counted as not caught): %s\n", s == "" ? "none" : s
	for (v = 1; v <= nv; v++) {
		K = V[v]; n = 0; delete line
		for (i = 1; i <= nt; i++) {
			if (R[T[i] SUBSEP K] == "caught") continue
			by = ""
			for (j = 1; j <= na; j++) if (A[j] != K && R[T[i] SUBSEP A[j]] == "caught") by = by (by == "" ? "" : ", ") A[j]
			r = R[T[i] SUBSEP K]
			if (by != "") line[++n] = sprintf("  %-" w "s  caught by %s%s", T[i], by, r == "timeout" ? " (" K ": timed out)" : r == "error" ? " (" K ": error)" : "")
		}
		if (n == 0) printf "\n%s misses no test that another allocator catches\n", K
		else {
			printf "\n%s misses %d test%s that another allocator catches:\n", K, n, n == 1 ? "" : "s"
			for (i = 1; i <= n; i++) print line[i]
		}
	}
}' "$runs"
}

if [ "$csv" = - ]; then report >&2; else report; fi

status=0
if [ "${#build_failed[@]}" -gt 0 ]; then
	note "tests that did not build: ${build_failed[*]}"
	status=1
fi
if [ "$nerr" -gt 0 ]; then
	note "$nerr run(s) could not be judged (see above)"
	status=1
fi
exit $status
