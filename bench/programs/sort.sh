#!/bin/sh
# bench/programs/sort.sh — program workload `sort`: coreutils sort of a
# large generated file (2.5 million lines at scale 1: a number and two
# words, fixed seed) on two keys, with -t threads (--parallel).  GNU sort
# keeps its buffer and line tables in a few large allocations and, with
# threads, merges in parallel; a fixed buffer size (-S) keeps its choices
# the same on every machine.  The checksum is that of the sorted output.
# Protocol: bench/programs/common.sh.
. "$(dirname "$0")/common.sh"

sort=$(find_prog sort coreutils) || { echo "$sort"; exit 77; }

case $mode in
check) exit 0 ;;
prepare)
	lines=$(scaled 2500000)
	awk -v lines="$lines" "$AWK_RND"'
	BEGIN {
		seed = 99991
		for (i = 0; i < 50000; i++)
			vocab[i] = word(2 + rnd(10))
		for (i = 0; i < lines; i++)
			printf "%d %s %s\n", rnd(1000000), vocab[rnd(50000)], vocab[rnd(50000)]
	}' >"$data/input"
	;;
run)
	fresh_rundir
	preloaded "$sort" --parallel="$threads" -S 256M -T "$rundir" -k 2,2 -k 1,1n \
		-o "$rundir/out" "$data/input"
	checksum "$rundir/out"
	rm -rf "$rundir"
	;;
esac
