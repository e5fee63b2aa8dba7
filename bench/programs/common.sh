# bench/programs/common.sh — sourced by the program workloads
# (bench/programs/NAME.sh); see bench/README.md, "Program workloads".
#
# bench/runner calls each script as
#     sh NAME.sh MODE -s SCALE -t THREADS
# with these in the environment:
#     KMM_BENCH_DIR      a directory of the workload's own, inside the
#                        runner's temporary directory (removed at the end)
#     KMM_BENCH_PRELOAD  the allocator's library, empty for glibc
# and without LD_PRELOAD: the script itself, its shell and helpers (awk,
# cksum, redis-benchmark, ...) always run on glibc's malloc; only the
# program measured is started with LD_PRELOAD (see `preloaded` below).
#
# MODE is
#   check    exit 0 if the program is installed; else print why not and
#            exit 77 (the workload is skipped)
#   prepare  generate the input into $KMM_BENCH_DIR (once per bench run,
#            untimed); exit 77 like check if the program is missing
#   run      the timed run: run the program on the prepared input and
#            print "checksum <16 hex digits>" computed from its output;
#            optionally "maxrss <KiB>" (the peak RSS to report instead of
#            the whole process tree's)
#
# Inputs come from a fixed-seed generator (minstd, exact in any awk), so
# every run of one bench invocation sees the same bytes.

set -eu

mode=${1:-}
[ $# -gt 0 ] && shift
scale=1
threads=2
while [ $# -gt 0 ]; do
	case $1 in
	-s) scale=$2; shift 2 ;;
	-t) threads=$2; shift 2 ;;
	*) echo "$0: unknown argument $1" >&2; exit 2 ;;
	esac
done
case $mode in
check|prepare|run) ;;
*) echo "usage: $0 check|prepare|run [-s SCALE] [-t THREADS]" >&2; exit 2 ;;
esac
[ "$mode" = check ] || : "${KMM_BENCH_DIR:?KMM_BENCH_DIR is not set (bench/runner sets it)}"
data=${KMM_BENCH_DIR:-}
here=$(cd "$(dirname "$0")" && pwd)

# Outputs that could depend on the locale or the user's configuration
# must not: C locale, no user startup files.
LC_ALL=C
export LC_ALL
unset LANGUAGE LD_PRELOAD

# find_prog NAME PACKAGE: the program from the Debian package (in
# /usr/bin), else the first NAME on PATH; exit 77 if there is none.
# Prints the path.
find_prog() {
	if [ -x "/usr/bin/$1" ]; then
		echo "/usr/bin/$1"
	elif command -v "$1" >/dev/null 2>&1; then
		command -v "$1"
	else
		echo "$1 is not installed (Debian package $2)"
		exit 77
	fi
}

# scaled N: N times the scale, rounded, at least 1.
scaled() {
	awk -v n="$1" -v s="$scale" 'BEGIN { v = int(n * s + 0.5); print (v < 1 ? 1 : v) }'
}

# preloaded CMD ARGS...: run CMD with the allocator under test preloaded
# (LD_PRELOAD set for CMD and what it starts, nothing else).
preloaded() {
	if [ -n "${KMM_BENCH_PRELOAD:-}" ]; then
		LD_PRELOAD=$KMM_BENCH_PRELOAD "$@"
	else
		"$@"
	fi
}

# checksum FILE...: print "checksum X" for the files' concatenated bytes:
# their CRC (cksum) and length, 8 hex digits each.
checksum() {
	cat "$@" | cksum | awk '{ printf "checksum %08x%08x\n", $1, $2 % 4294967296 }'
}

# The scratch directory of one run: emptied before and removed after.
fresh_rundir() {
	rundir=$data/run
	rm -rf "$rundir"
	mkdir "$rundir"
}

# An awk prelude: rnd(n) draws from 0..n-1 with the minimal standard
# generator (seed * 48271 mod 2^31-1, exact in double arithmetic); set
# `seed` (1..2^31-2) in BEGIN first.  word(n) is a pronounceable word
# of n letters.
AWK_RND='
function rnd(n) { seed = (seed * 48271) % 2147483647; return int(seed / 2147483647 * n) }
function word(n,    w, i) {
	w = ""
	for (i = 0; i < n; i++)
		w = w (i % 2 ? substr("aeiouy", rnd(6) + 1, 1) : substr("bcdfghjklmnprstvwz", rnd(18) + 1, 1))
	return w
}
'
