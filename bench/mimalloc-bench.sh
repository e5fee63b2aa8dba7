#!/bin/bash
# bench/mimalloc-bench.sh — build and run the benchmark programs of the
# public mimalloc-bench suite (a checkout given by its path) under glibc,
# jemalloc, tcmalloc, mimalloc, kmm and kmm-glibc.  `bench/mimalloc-bench.sh --help`
# for the options, bench/README.md ("The public suite: mimalloc-bench") for
# what it does.  Nothing of mimalloc-bench is copied into kmm: the programs
# are compiled from the checkout into a build directory outside the kmm tree.
set -eu
set -o pipefail

prog=mimalloc-bench.sh
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

usage() {
	cat <<'EOF'
Usage: bench/mimalloc-bench.sh DIR [options]

Build the benchmark programs of the public mimalloc-bench suite from the
checkout at DIR (any clone of mimalloc-bench; its bench/ directory is
used) and run each of them under glibc's malloc (nothing preloaded),
jemalloc, tcmalloc, mimalloc, kmm and kmm-glibc (the same libkmm.so with
KMM_OPTIONS=profile=glibc), each preloaded with LD_PRELOAD.

The programs are compiled with cc/c++ ($CC/$CXX) straight from DIR/bench
(the suite's build-bench-env.sh, which downloads things, is not used) into
a build directory outside the kmm tree; DIR itself is only read.  The
arguments are those of the suite's bench.sh, with its "procs" set to the
thread count (-t).

Programs (22): cfrac espresso barnes alloc-test1 alloc-testN larsonN
  larsonN-sized xmalloc-testN cache-thrash1 cache-thrashN cache-scratch1
  cache-scratchN malloc-large mstressN mleak10 mleak100 rptestN
  glibc-simple glibc-thread rbstress1 rbstressN z3
  (rbstress* need ruby, z3 needs the z3 program: Debian's ruby and z3
  packages; tools/install-deps installs them.  Use --list to see the
  commands.)

Options:
  -n N            repetitions (default 3); each repetition runs every
                  program once under each allocator, the allocators' order
                  rotating from one repetition to the next
  -t N            threads for the N programs (default 2)
  --quick         smaller inputs where the program has a size parameter
                  (larson and xmalloc-test run 2 s instead of 5, cache-*
                  do 500000 repetitions instead of 2000000, mstress 10
                  iterations instead of 25, mleak10/mleak100 2 and 20
                  instead of 5 and 50, rptest 100 loops instead of 500);
                  the others run as usual
  -p a,b          run only these programs (names as above; "alloc-test"
                  stands for alloc-test1 and alloc-testN, and so on for a
                  name that is the prefix of several)
  -a a,b          run only these allocators (default: all found)
  -k PATH, --kmm=PATH
                  the libkmm.so to test (default: $KMM_LIB, else
                  .libs/libkmm.so of the kmm tree this script is in)
  -L NAME=PATH    add an allocator, or point a built-in one at another
                  library (may be repeated), e.g. -L kmm-old=/tmp/old/libkmm.so
  -b NAME         baseline for the ratios (default glibc)
  --build-dir=D   where to build (default ${TMPDIR:-/tmp}/kmm-mimalloc-bench.$UID);
                  must be outside the kmm tree
  --rebuild       rebuild the programs even if built
  --build-only    build, then stop
  --csv=FILE      write one CSV row per run to FILE ("-": stdout, and the
                  tables to stderr): program, allocator, repetition,
                  status, wall seconds, the time used for the tables,
                  which time that is, peak RSS in KiB
  --timeout=SEC   kill a run that takes longer (default 300); it counts as
                  failed
  -l, --list      list the programs with their commands, and the
                  allocators, then exit
  -h, --help      this help

Allocators: glibc (nothing preloaded), jemalloc (libjemalloc.so.2),
tcmalloc (libtcmalloc_minimal.so.4), mimalloc (libmimalloc.so.2), looked
for in /usr/lib/<multiarch>, /lib/<multiarch>, /usr/lib64, /lib64,
/usr/local/lib and /usr/lib like bench/run does; kmm; kmm-glibc (kmm's
library, or the -L kmm-glibc one, run with ",profile=glibc" appended to
KMM_OPTIONS); and the -L ones.  A missing library is skipped with a note.

Measurements: each run is timed by a small helper (compiled into the
build directory) that forks, execs the program with LD_PRELOAD set (or
unset for glibc), and waits with wait4: wall time from fork to exit, peak
RSS (ru_maxrss, KiB) and the exit status.  For larsonN, larsonN-sized,
xmalloc-testN, rptestN and glibc-thread, which run for a fixed time and
report a throughput, the time used is the suite's "relative time" taken
from the program's output as bench.sh does (larson: its "relative time";
xmalloc-test: its "rtime"; rptest: 2000000 / memory ops per CPU second;
glibc-thread: 1e9 / iterations); those rows are marked "*".

A run that exits non-zero, dies of a signal, times out, has the dynamic
linker refuse the preload, or does not print the figure its relative time
needs is reported with the end of its
output, left out of the medians, and makes the script exit 1.

Output: for each program a table of allocator, median time, time ratio to
the baseline, median peak RSS and RSS ratio to the baseline; then the
geometric means of those ratios over the programs per allocator; then per
program the best peer (the fastest of glibc, jemalloc, tcmalloc and
mimalloc) and kmm's time and RSS ratios to it, worst first; the same for
kmm-glibc.

Example:
  git clone https://github.com/daanx/mimalloc-bench /tmp/mimalloc-bench
  bench/mimalloc-bench.sh /tmp/mimalloc-bench -n 3
  bench/mimalloc-bench.sh /tmp/mimalloc-bench --quick -p cfrac,larson -a glibc,kmm
EOF
}

die() { echo "$prog: $*" >&2; exit 2; }
note() { echo "$prog: $*" >&2; }

# ---------------------------------------------------------------------------
# Options

dir=
reps=3
threads=2
quick=0
only_progs=
only_allocs=
kmm_lib=${KMM_LIB:-}
extra_libs=()
baseline=glibc
build_dir=${TMPDIR:-/tmp}/kmm-mimalloc-bench.$(id -u)
rebuild=0
build_only=0
csv=
timeout=300
list=0

need_arg() { [ "$#" -ge 2 ] || die "option $1 needs an argument"; }
# the allocators (find_allocators) and the options shared with
# bench/security.sh (common_option): bench/allocators.sh
# shellcheck source-path=SCRIPTDIR source=allocators.sh disable=SC1091
. "$here/allocators.sh"
consumed=0   # (set by common_option)
while [ "$#" -gt 0 ]; do
	common_option "$@"
	if [ "$consumed" -gt 0 ]; then
		shift "$consumed"
		continue
	fi
	case "$1" in
	-h|--help) usage; exit 0 ;;
	-n) need_arg "$@"; reps=$2; shift ;;
	-n*) reps=${1#-n} ;;
	-t) need_arg "$@"; threads=$2; shift ;;
	-t*) threads=${1#-t} ;;
	--quick) quick=1 ;;
	-p) need_arg "$@"; only_progs=$2; shift ;;
	-b) need_arg "$@"; baseline=$2; shift ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) [ -z "$dir" ] || die "only one DIR, please (see --help)"; dir=$1 ;;
	esac
	shift
done

case "$reps" in ''|*[!0-9]*|0) die "-n wants a positive number" ;; esac
case "$threads" in ''|*[!0-9]*|0) die "-t wants a positive number" ;; esac
case "$timeout" in ''|*[!0-9]*|0) die "--timeout wants a positive number of seconds" ;; esac
[ -n "$dir" ] || { usage >&2; exit 2; }
[ -f "$dir/bench/CMakeLists.txt" ] && [ -d "$dir/bench/cfrac" ] ||
	die "$dir does not look like a mimalloc-bench checkout (no bench/CMakeLists.txt, bench/cfrac)"
dir=$(cd "$dir" && pwd)
src=$dir/bench

mkdir -p "$build_dir"
build_dir=$(cd "$build_dir" && pwd)
case "$build_dir/" in
"$top"/*) die "the build directory $build_dir is inside the kmm tree; use --build-dir" ;;
esac
bin=$build_dir/bin
mkdir -p "$bin" "$build_dir/log" "$build_dir/run"

# ---------------------------------------------------------------------------
# Programs: name, then the command (in terms of $bin and $src), and what
# --quick changes.  The arguments are bench.sh's, procs = -t.

N=$threads
alloc_test_n=$(( N > 16 ? 16 : N ))
# cfrac's input is a number to factor, not a size: --quick leaves it.
cfrac_arg=17545186520507317056371138836327483792789528
if [ "$quick" = 1 ]; then
	larson_secs=2
	xmalloc_secs=2
	cache_reps=500000
	mstress_iter=10
	mleak_small=2 mleak_big=20
	rptest_loops=100
else
	larson_secs=5
	xmalloc_secs=5
	cache_reps=2000000
	mstress_iter=25
	mleak_small=5 mleak_big=50
	rptest_loops=500
fi

all_progs=(cfrac espresso barnes alloc-test1 alloc-testN larsonN larsonN-sized
	xmalloc-testN cache-thrash1 cache-thrashN cache-scratch1 cache-scratchN
	malloc-large mstressN mleak10 mleak100 rptestN glibc-simple glibc-thread
	rbstress1 rbstressN z3)

# prog_cmd NAME: sets cmd (array), stdin_file, rtime (how to get the time:
# wall, larson, xmalloc, rptest, glibc-thread), binary (what must be built
# or installed), tool (an installed program it needs, if any).
prog_cmd() {
	stdin_file=/dev/null rtime=wall tool=
	case "$1" in
	cfrac) binary=cfrac; cmd=("$bin/cfrac" "$cfrac_arg") ;;
	espresso) binary=espresso; cmd=("$bin/espresso" "$src/espresso/largest.espresso") ;;
	barnes) binary=barnes; cmd=("$bin/barnes"); stdin_file=$src/barnes/input ;;
	alloc-test1) binary=alloc-test; cmd=("$bin/alloc-test" 1) ;;
	alloc-testN) binary=alloc-test; cmd=("$bin/alloc-test" "$alloc_test_n") ;;
	larsonN) binary=larson; rtime=larson
		cmd=("$bin/larson" "$larson_secs" 8 1000 5000 100 4141 "$N") ;;
	larsonN-sized) binary=larson-sized; rtime=larson
		cmd=("$bin/larson-sized" "$larson_secs" 8 1000 5000 100 4141 "$N") ;;
	xmalloc-testN) binary=xmalloc-test; rtime=xmalloc
		cmd=("$bin/xmalloc-test" -w "$N" -t "$xmalloc_secs" -s 64) ;;
	cache-thrash1) binary=cache-thrash; cmd=("$bin/cache-thrash" 1 1000 1 "$cache_reps" "$N") ;;
	cache-thrashN) binary=cache-thrash; cmd=("$bin/cache-thrash" "$N" 1000 1 "$cache_reps" "$N") ;;
	cache-scratch1) binary=cache-scratch; cmd=("$bin/cache-scratch" 1 1000 1 "$cache_reps" "$N") ;;
	cache-scratchN) binary=cache-scratch; cmd=("$bin/cache-scratch" "$N" 1000 1 "$cache_reps" "$N") ;;
	malloc-large) binary=malloc-large; cmd=("$bin/malloc-large") ;;
	mstressN) binary=mstress; cmd=("$bin/mstress" "$N" 50 "$mstress_iter") ;;
	mleak10) binary=mleak; cmd=("$bin/mleak" "$mleak_small") ;;
	mleak100) binary=mleak; cmd=("$bin/mleak" "$mleak_big") ;;
	rptestN) binary=rptest; rtime=rptest
		cmd=("$bin/rptest" "$N" 0 1 2 "$rptest_loops" 1000 100 8 16000) ;;
	glibc-simple) binary=glibc-simple; cmd=("$bin/glibc-simple") ;;
	glibc-thread) binary=glibc-thread; rtime=glibc-thread; cmd=("$bin/glibc-thread" "$N") ;;
	rbstress1) binary=; tool=ruby; cmd=(ruby "$src/rbstress/stress_mem.rb" 1) ;;
	rbstressN) binary=; tool=ruby; cmd=(ruby "$src/rbstress/stress_mem.rb" "$N") ;;
	z3) binary=; tool=z3; cmd=(z3 -smt2 "$src/z3/test1.smt2") ;;
	*) return 1 ;;
	esac
}

# Select the programs: -p names, or prefixes of names.
progs=()
if [ -n "$only_progs" ]; then
	IFS=, read -r -a want <<<"$only_progs"
	for w in "${want[@]}"; do
		found=0
		for p in "${all_progs[@]}"; do
			case "$p" in
			"$w"|"$w"1|"$w"N|"$w"N-*|"$w"10|"$w"100) progs+=("$p"); found=1 ;;
			esac
		done
		[ "$found" = 1 ] || die "unknown program $w (see --list)"
	done
else
	progs=("${all_progs[@]}")
fi

# ---------------------------------------------------------------------------
# Allocators, located like bench/runner.c does (bench/allocators.sh, shared
# with bench/security.sh): alloc_names, alloc_path, alloc_opts,
# alloc_missing, allocs, run_allocs.

find_allocators
base_ok=0
for a in "${run_allocs[@]}"; do [ "$a" = "$baseline" ] && base_ok=1; done
[ "$base_ok" = 1 ] || die "the baseline $baseline is not among the allocators run (-b)"

if [ "$list" = 1 ]; then
	echo "programs (mimalloc-bench checkout $dir, -t $N$([ "$quick" = 1 ] && echo ', --quick')):"
	for p in "${all_progs[@]}"; do
		prog_cmd "$p"
		line="${cmd[*]}"
		line=${line//"$bin/"/}
		line=${line//"$src/"/bench/}
		[ "$stdin_file" = /dev/null ] || line="$line < bench/${stdin_file#"$src/"}"
		[ "$rtime" = wall ] || line="$line   [time: $rtime relative time]"
		printf '  %-15s %s\n' "$p" "$line"
	done
	echo "allocators:"
	for a in "${alloc_names[@]}"; do
		if [ -n "${alloc_missing[$a]+x}" ]; then
			printf '  %-15s (missing: %s)\n' "$a" "${alloc_missing[$a]}"
		else
			printf '  %-15s %s%s\n' "$a" "${alloc_path[$a]:-(nothing preloaded)}" \
				"${alloc_opts[$a]:+ with KMM_OPTIONS=${KMM_OPTIONS:+$KMM_OPTIONS,}${alloc_opts[$a]}}"
		fi
	done
	exit 0
fi

# ---------------------------------------------------------------------------
# Build

CC=${CC:-cc}
CXX=${CXX:-c++}
# What the suite's CMakeLists.txt asks for in a Release build: -O3
# -DNDEBUG, warnings off, C++17, and per program the definitions below.
COPT="-O3 -DNDEBUG -w"
build_failed=()

# cmake_sources VAR: the file list of "set(VAR ...)" in the suite's
# CMakeLists.txt (for the programs made of many files).
cmake_sources() {
	sed -n "/^set($1\$/,/)/p; /^set($1 /,/)/p" "$src/CMakeLists.txt" |
		sed -e "s/^set($1//" -e 's/)//' | tr -s ' \t\n' '\n' | grep -v '^$' || true
}

build_one() { # NAME -> compiles $bin/NAME from $src
	local name=$1 out=$bin/$1 log=$build_dir/log/build-$1.txt files=() f
	case "$name" in
	cfrac|espresso|barnes)
		for f in $(cmake_sources "${name}_sources"); do files+=("$src/$name/$f"); done
		[ "${#files[@]}" -gt 0 ] || { echo "no ${name}_sources in $src/CMakeLists.txt" >"$log"; return 1; }
		;;
	esac
	case "$name" in
	cfrac) $CC $COPT -std=gnu89 -DNOMEMOPT=1 -o "$out" "${files[@]}" -lm ;;
	espresso|barnes) $CC $COPT -std=gnu89 -o "$out" "${files[@]}" -lm ;;
	larson) $CXX $COPT -std=c++17 -DCPP=1 -o "$out" "$src/larson/larson.cpp" -pthread ;;
	larson-sized) $CXX $COPT -std=c++17 -fsized-deallocation -DCPP=1 -DSIZED=1 \
		-o "$out" "$src/larson/larson.cpp" -pthread ;;
	alloc-test) $CXX $COPT -std=c++17 -DBENCH=4 -o "$out" \
		"$src/alloc-test/test_common.cpp" "$src/alloc-test/allocator_tester.cpp" -pthread ;;
	cache-scratch|cache-thrash) $CXX $COPT -std=c++17 -o "$out" "$src/$name/$name.cpp" -pthread ;;
	malloc-large) $CXX $COPT -std=c++17 -o "$out" "$src/malloc-large/malloc-large.cpp" -pthread ;;
	xmalloc-test|mstress|mleak) $CC $COPT -o "$out" "$src/$name/$name.c" -pthread ;;
	rptest) $CC $COPT -I"$src/rptest" -o "$out" \
		"$src/rptest/rptest.c" "$src/rptest/thread.c" "$src/rptest/timer.c" -pthread -lm ;;
	glibc-simple) $CC $COPT -o "$out" "$src/glibc-bench/bench-malloc-simple.c" -pthread ;;
	glibc-thread) $CC $COPT -o "$out" "$src/glibc-bench/bench-malloc-thread.c" -pthread ;;
	*) echo "no build rule for $name"; return 1 ;;
	esac >"$log" 2>&1
}

# The run helper, bench/prun.c: fork, exec with LD_PRELOAD set or unset,
# wait4; prints "STATUS WALL_SECONDS MAXRSS_KIB".
helper=$build_dir/prun
if [ "$rebuild" = 1 ] || [ ! -x "$helper" ] || [ "$helper" -ot "$here/prun.c" ]; then
	$CC -O2 -Wall -Wextra -o "$helper" "$here/prun.c" || die "cannot build the run helper"
fi

# Which binaries the selected programs need.
declare -A needed=()
for p in "${progs[@]}"; do
	prog_cmd "$p"
	[ -z "$binary" ] || needed[$binary]=1
done
for b in cfrac espresso barnes alloc-test larson larson-sized xmalloc-test \
	cache-scratch cache-thrash malloc-large mstress mleak rptest glibc-simple glibc-thread; do
	[ -n "${needed[$b]+x}" ] || continue
	if [ "$rebuild" = 0 ] && [ -x "$bin/$b" ]; then
		continue
	fi
	note "building $b"
	rm -f "$bin/$b"
	if ! build_one "$b" || [ ! -x "$bin/$b" ]; then
		note "FAILED to build $b (log: $build_dir/log/build-$b.txt):"
		tail -n 20 "$build_dir/log/build-$b.txt" >&2 || true
		build_failed+=("$b")
	fi
done
[ "$build_only" = 0 ] || { [ "${#build_failed[@]}" = 0 ] && exit 0 || exit 1; }

# Drop the programs that cannot run: not built, or their tool missing.
run_progs=()
skipped=()
for p in "${progs[@]}"; do
	prog_cmd "$p"
	if [ -n "$binary" ] && [ ! -x "$bin/$binary" ]; then
		skipped+=("$p (not built)")
	elif [ -n "$tool" ] && ! command -v "$tool" >/dev/null 2>&1; then
		skipped+=("$p ($tool not installed; Debian package $tool)")
	else
		run_progs+=("$p")
	fi
done
for s in ${skipped[@]+"${skipped[@]}"}; do note "not run: $s"; done
[ "${#run_progs[@]}" -gt 0 ] || die "no program to run"

# ---------------------------------------------------------------------------
# Run

unset LD_PRELOAD
runs=$build_dir/runs.tsv	# prog alloc rep status wall time kind rss
: >"$runs"
nfail=0

# rel_time KIND OUT -> prints the relative time, or nothing
rel_time() {
	case "$1" in
	larson) sed -n 's/.*relative time: *\([0-9.][0-9.]*\)s.*/\1/p' "$2" | tail -n 1 ;;
	xmalloc) sed -n 's/^rtime: *\([0-9.][0-9.]*\).*/\1/p' "$2" | tail -n 1 ;;
	rptest) sed -n 's/.*[^0-9]\([0-9][0-9]*\) memory ops.*/\1/p; s/^\([0-9][0-9]*\) memory ops.*/\1/p' "$2" |
		tail -n 1 | awk '$1 > 0 { printf "%.6f\n", 2000000 / $1 }' ;;
	glibc-thread) sed -n 's/^\([0-9][0-9]*\) iterations.*/\1/p' "$2" | tail -n 1 |
		awk '$1 > 0 { printf "%.6f\n", 1e9 / $1 }' ;;
	esac
}

nallocs=${#run_allocs[@]}
total=$(( reps * ${#run_progs[@]} * nallocs ))
done_runs=0
note "running ${#run_progs[@]} programs x $nallocs allocators x $reps repetitions" \
	"(-t $N$([ "$quick" = 1 ] && echo ', --quick'))"
for (( r = 0; r < reps; r++ )); do
	for p in "${run_progs[@]}"; do
		prog_cmd "$p"
		for (( i = 0; i < nallocs; i++ )); do
			a=${run_allocs[$(( (i + r) % nallocs ))]}
			out=$build_dir/run/$p-$a.out
			err=$build_dir/run/$p-$a.err
			done_runs=$(( done_runs + 1 ))
			# kmm-glibc: its options after the KMM_OPTIONS given, if any
			run_env=()
			[ -z "${alloc_opts[$a]:-}" ] ||
				run_env=("KMM_OPTIONS=${KMM_OPTIONS:+$KMM_OPTIONS,}${alloc_opts[$a]}")
			res=$(cd "$build_dir/run" && env ${run_env[@]+"${run_env[@]}"} "$helper" \
				-T "$timeout" -i "$stdin_file" -o "$out" -e "$err" \
				-p "${alloc_path[$a]}" -- "${cmd[@]}") ||
				res="helper-failed 0 0"
			# (the status, "start-failed:WHY", may contain spaces)
			rss=${res##* } status=${res% *}
			wall=${status##* } status=${status% *}
			t=$wall
			# The dynamic linker ignores a preload it cannot load, and
			# the program then runs on glibc's malloc: a failure.
			if [ -n "${alloc_path[$a]}" ] && grep -q 'ld\.so: object .* cannot be preloaded' "$err"; then
				status=preload-refused
			fi
			if [ "$status" = exit:0 ] && [ "$rtime" != wall ]; then
				t=$(rel_time "$rtime" "$out")
				[ -n "$t" ] || status=no-figure
			fi
			printf '%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n' "$p" "$a" $(( r + 1 )) "$status" \
				"$wall" "${t:-0}" "$rtime" "$rss" >>"$runs"
			printf '%s: [%d/%d] rep %d %-15s %-10s %s %8.3fs %8s KiB\n' "$prog" "$done_runs" \
				"$total" $(( r + 1 )) "$p" "$a" "$status" "${t:-0}" "$rss" >&2
			if [ "$status" != exit:0 ]; then
				nfail=$(( nfail + 1 ))
				{
					echo "$prog: FAILED: $p under $a (rep $(( r + 1 ))): $status" \
						"$([ "$status" = no-figure ] && echo "(no $rtime figure in its output)")"
					echo "  command: ${run_env[*]+${run_env[*]} }LD_PRELOAD=${alloc_path[$a]} ${cmd[*]}"
					echo "  --- stdout (end) ---"; tail -n 10 "$out" | sed 's/^/  /'
					echo "  --- stderr (end) ---"; tail -n 10 "$err" | sed 's/^/  /'
				} >&2
			fi
		done
	done
done

# ---------------------------------------------------------------------------
# Report

if [ -n "$csv" ]; then
	{
		echo "program,allocator,rep,status,wall_s,time_s,time_kind,maxrss_kib"
		awk -F'\t' -v OFS=, '{ print $1, $2, $3, $4, $5, $6, ($7 == "wall" ? "wall" : $7 "-relative"), $8 }' "$runs"
	} >"$([ "$csv" = - ] && echo /dev/stdout || echo "$csv")"
fi

report() {
	awk -F'\t' -v base="$baseline" -v allocs="${run_allocs[*]}" -v progs="${run_progs[*]}" \
		-v reps="$reps" -v threads="$N" -v quick="$quick" '
function median(list,    v, n, i, j, t) {
	n = split(list, v, " ")
	for (i = 2; i <= n; i++) { t = v[i] + 0; for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
	if (n == 0) return ""
	return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function mib(k) { return sprintf("%.1f MiB", k / 1024) }
function ispeer(a) { return a == "glibc" || a == "jemalloc" || a == "tcmalloc" || a == "mimalloc" }
# vspeer(K): K (kmm or kmm-glibc) against the best peer per program, worst
# first, and how often it is slower than 1.05x glibc and 1.5x the best peer
function vspeer(K,    i, j, n, p, a, k, best, kk, pk, t, l, line, ratio, gk, gkr, gkn, ng, ag, npr, ap) {
	printf "\n%s against the best peer (the fastest of glibc, jemalloc, tcmalloc, mimalloc) per program, worst first\n", K
	printf "%-15s %-10s %9s %9s %8s %12s %12s %8s\n", "program", "best peer", "peer time", "time", "x time", "peer RSS", "RSS", "x RSS"
	n = 0; gk = gkr = gkn = ng = ag = npr = ap = 0
	for (i = 1; i <= np; i++) {
		p = P[i]; best = ""
		for (j = 1; j <= na; j++) {
			a = A[j]; k = p SUBSEP a
			if (!ispeer(a) || !(k in MT)) continue
			if (best == "" || MT[k] < MT[p SUBSEP best]) best = a
		}
		kk = p SUBSEP K
		n++
		if ((kk in MT) && ((p SUBSEP "glibc") in MT)) { ng++; if (MT[kk] > 1.05 * MT[p SUBSEP "glibc"]) ag++ }
		if (best == "" || !(kk in MT)) { line[n] = sprintf("%-15s %-10s %9s %9s %8s %12s %12s %8s", p, best == "" ? "-" : best, "-", "-", "-", "-", "-", "-"); ratio[n] = 1e9; continue }
		pk = p SUBSEP best
		ratio[n] = MT[kk] / MT[pk]
		npr++; if (ratio[n] > 1.5) ap++
		gk += log(ratio[n]); gkr += log(MR[kk] / MR[pk]); gkn++
		line[n] = sprintf("%-15s %-10s %8.3fs %8.3fs %8.2f %12s %12s %8.2f", p, best, MT[pk], MT[kk], ratio[n], mib(MR[pk]), mib(MR[kk]), MR[kk] / MR[pk])
	}
	for (i = 2; i <= n; i++) {
		t = ratio[i]; l = line[i]
		for (j = i - 1; j >= 1 && ratio[j] < t; j--) { ratio[j + 1] = ratio[j]; line[j + 1] = line[j] }
		ratio[j + 1] = t; line[j + 1] = l
	}
	for (i = 1; i <= n; i++) print line[i]
	if (gkn > 0) printf "%-15s %-10s %9s %9s %8.3f %12s %12s %8.3f\n", "geomean", "", "", "", exp(gk / gkn), "", "", exp(gkr / gkn)
	printf "%s: slower than 1.05x glibc on %d of %d programs, than 1.5x the best peer on %d of %d\n", K, ag, ng, ap, npr
}
{
	key = $1 SUBSEP $2
	if ($4 == "exit:0") { T[key] = T[key] " " $6; R[key] = R[key] " " $8; ok[key]++ }
	else { failed[key]++ }
	kind[$1] = $7
}
END {
	na = split(allocs, A, " "); np = split(progs, P, " ")
	printf "mimalloc-bench programs, %d repetition(s), -t %d%s; time: median wall seconds (* relative time from the program output), peak RSS: median\n\n", reps, threads, quick ? ", --quick" : ""
	for (i = 1; i <= np; i++) {
		p = P[i]
		printf "%-15s %-11s %9s %8s %12s %8s\n", p, "allocator", "time", "x " base, "peak RSS", "x " base
		bk = p SUBSEP base
		bt = (bk in ok) ? median(T[bk]) : ""; br = (bk in ok) ? median(R[bk]) : ""
		for (j = 1; j <= na; j++) {
			a = A[j]; k = p SUBSEP a
			nok = (k in ok) ? ok[k] : 0	# (a plain ok[k] would create it)
			fl = (k in failed) ? sprintf("  %d of %d runs FAILED", failed[k], failed[k] + nok) : ""
			if (!nok) { printf "%-15s %-11s %9s %8s %12s %8s%s\n", "", a, "-", "-", "-", "-", fl; continue }
			t = median(T[k]); r = median(R[k])
			MT[k] = t; MR[k] = r
			xt = (bt != "" && bt > 0) ? sprintf("%.2f", t / bt) : "-"
			xr = (br != "" && br > 0) ? sprintf("%.2f", r / br) : "-"
			if (xt != "-") { gt[a] += log(t / bt); gr[a] += log(r / br); gn[a]++ }
			printf "%-15s %-11s %8.3fs%s %8s %12s %8s%s\n", "", a, t, kind[p] == "wall" ? " " : "*", xt, mib(r), xr, fl
		}
		printf "\n"
	}
	printf "geometric mean of the ratios to %s over the programs\n", base
	printf "%-11s %8s %8s %9s\n", "allocator", "time", "RSS", "programs"
	for (j = 1; j <= na; j++) {
		a = A[j]
		if (gn[a] > 0) printf "%-11s %8.3f %8.3f %9d\n", a, exp(gt[a] / gn[a]), exp(gr[a] / gn[a]), gn[a]
		else printf "%-11s %8s %8s %9d\n", a, "-", "-", 0
	}
	for (j = 1; j <= na; j++) if (A[j] == "kmm" || A[j] == "kmm-glibc") vspeer(A[j])
}' "$runs"
}

if [ "$csv" = - ]; then report >&2; else report; fi

status=0
if [ "${#build_failed[@]}" -gt 0 ]; then
	note "programs that did not build: ${build_failed[*]}"
	status=1
fi
if [ "$nfail" -gt 0 ]; then
	note "$nfail run(s) FAILED (see above)"
	status=1
fi
exit $status
