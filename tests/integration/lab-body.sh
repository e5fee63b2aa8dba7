#!/bin/sh
# lab-body.sh — the strace comparison lab (docs/lab.md): kmm-strace-compare runs
# each of examples/ under strace with glibc's malloc and with kmm, and the
# patterns the seed slides show must be there: the same break sequence for
# the small-allocation experiments (the first growth 0x21000, 128 KiB steps,
# trimming), an mmap at the 128 KiB threshold under glibc and a vmalloc area
# under kmm, glibc's threshold raised after a free (and kmm's under
# profile=glibc, the comparison's default; not under profile=kmm), the 8 MiB vmalloc of 0x801000 bytes with 2048
# pages; and a real program gives a readable comparison.
#
# Sourced by three parts that make -j runs side by side, LAB_PART set:
#   thresholds  (lab-thresholds.sh) the first malloc, the mmap threshold
#               and the dynamic threshold
#   trim        (lab-trim.sh) trimming, free_and_sbrk, the 8 MiB vmalloc
#   programs    (lab-programs.sh) sort and python3, and the tool's usage
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

case ${LAB_PART:?LAB_PART must name the part} in
thresholds|trim|programs) ;;
*) echo "lab-body.sh: no part $LAB_PART" >&2; exit 99 ;;
esac
plan_lazy

CMP=$KMM_SRCDIR/tools/kmm-strace-compare
EX=$KMM_PROGS/../../examples
T=$KMM_TMP

if [ -z "${STRACE:-}" ] || ! have "$STRACE" || ! have python3; then
	skip "the strace comparison lab" "needs strace and python3"
	done_testing
	exit 0
fi

# compare NAME [tool options] -- CMD...: JSON in $T/NAME.json, exit status in $T/NAME.rc
compare() {
	_n=$1; shift
	with_timeout 120 python3 "$CMP" --kmm="$KMM_LIB" --strace="$STRACE" --json "$@" >"$T/$_n.json" 2>"$T/$_n.err"
	echo $? >"$T/$_n.rc"
}
# q NAME EXPR: a value from the comparison (python expression over g, k: the runs)
q() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
g, k = d["glibc"], d["kmm"]
print(eval(sys.argv[2]))' "$T/$1.json" "$2"
}

if [ "$LAB_PART" = thresholds ]; then
# --- the first malloc: 0x21000, then the next growth steps --------------------------------
compare first -- "$EX/first_malloc"
is "$(cat "$T/first.rc")" "0" "first_malloc: the break changes the same way (exit 0)"
is "$(q first 'hex(g["summary"]["brk_deltas"][0][0])')" "0x21000" "first_malloc, glibc: the first growth is 0x21000"
is "$(q first 'hex(k["summary"]["brk_deltas"][0][0])')" "0x21000" "first_malloc, kmm: the first growth is 0x21000"
is "$(q first 'len(k["summary"]["brk_deltas"][0])')" "6" "first_malloc: six growths in all"
is "$(q first 'k["summary"]["calls"]["mmap"]')" "0" "first_malloc, kmm: no mmap for small blocks"
with_timeout 60 env LD_PRELOAD="$KMM_LIB" "$EX/first_malloc" >"$T/first.out" 2>&1
ok "first_malloc says what it saw, in words" grep -q 'the break grew by 0x21000 = 132 KiB = 33 pages' "$T/first.out"

# --- the 128 KiB threshold: mmap under glibc, a vmalloc area under kmm ---------------------------
compare thr -- "$EX/mmap_threshold"
is "$(cat "$T/thr.rc")" "0" "mmap_threshold: the break changes the same way"
ok "mmap_threshold, glibc: an mmap of 128 KiB + a page for the block at the threshold" \
	test "$(q thr 'sum(1 for e in g["events"] if e.startswith("mmap 132 KiB rw"))')" -ge 1
ok "mmap_threshold, kmm: the block is pages moved into a vmalloc area (mremap)" \
	test "$(q thr 'k["summary"]["calls"]["mremap"]')" -ge 1
is "$(q thr 'sum(1 for e in k["events"] if e.startswith("mmap 132 KiB"))')" "0" \
	"mmap_threshold, kmm: no mmap of its own for the block"

# --- the dynamic threshold: after free(1 MiB) glibc serves 1 MiB from the heap ---------------------
compare dyn --options=profile=kmm -- "$EX/dynamic_threshold"
is "$(cat "$T/dyn.rc")" "1" "dynamic_threshold: kmm's default rule (profile=kmm) differs (exit 1)"
is "$(q dyn '[hex(x) for x in g["summary"]["brk_deltas"][0]]')" "['0x21000', '0x100000']" \
	"dynamic_threshold, glibc: the second 1 MiB grows the break by 1 MiB (threshold raised)"
is "$(q dyn '[hex(x) for x in k["summary"]["brk_deltas"][0]]')" "['0x21000']" \
	"dynamic_threshold, kmm default: the second 1 MiB is a vmalloc area again"
compare dyng -- "$EX/dynamic_threshold"
is "$(cat "$T/dyng.rc")" "0" "dynamic_threshold, kmm compare's default (profile=glibc): the same break as glibc"
fi

if [ "$LAB_PART" = trim ]; then
# --- trimming: the break goes down when the top chunk passes the trim threshold ----------------------
compare trim -- "$EX/trim"
is "$(cat "$T/trim.rc")" "0" "trim: the break changes the same way"
ok "trim: the break was trimmed (shrinks) under glibc" test "$(q trim 'sum(1 for x in g["summary"]["brk_deltas"][0] if x < 0)')" -ge 2
is "$(q trim 'sum(1 for x in k["summary"]["brk_deltas"][0] if x < 0)')" \
	"$(q trim 'sum(1 for x in g["summary"]["brk_deltas"][0] if x < 0)')" "trim: as many trims under kmm"

# --- free_and_sbrk (the slides' and TLPI's program) ----------------------------------------------------
compare fas1 -- "$EX/free_and_sbrk" 1000 10240 2
is "$(cat "$T/fas1.rc")" "0" "free_and_sbrk 1000 10240 2: the same break"
is "$(q fas1 'sum(1 for x in g["summary"]["brk_deltas"][0] if x < 0)')" "0" "free_and_sbrk, every other block freed: the break stays"
compare fas2 -- "$EX/free_and_sbrk" 1000 10240 1 500
is "$(cat "$T/fas2.rc")" "0" "free_and_sbrk 1000 10240 1 500: the same break"
is "$(q fas2 'sum(1 for x in k["summary"]["brk_deltas"][0] if x < 0)')" "1" "free_and_sbrk, the top half freed: one trim"

# --- the 8 MiB vmalloc (kmm only) -----------------------------------------------------------------------
with_timeout 60 env LD_PRELOAD="$KMM_LIB" "$EX/vmalloc8m" >"$T/v.out" 2>&1
ok "vmalloc8m under kmm: the vmallocinfo line of 8392704 bytes (0x801000) with 2048 pages" \
	grep -qE '8392704 .*pages=2048' "$T/v.out"
compare vm -- "$EX/vmalloc8m"
ok "vmalloc8m, glibc: an mmap of 8 MiB + a page" \
	test "$(q vm 'sum(1 for e in g["events"] if e.startswith("mmap 8.0 MiB rw"))')" -ge 1
ok "vmalloc8m, kmm: the area's pages moved in (mremap of 8 MiB)" \
	test "$(q vm 'sum(1 for e in k["events"] if e.startswith("mremap") and "8 MiB" in e)')" -ge 1
fi

if [ "$LAB_PART" = programs ]; then
# --- a real program: a readable comparison -------------------------------------------------------------
seq 1 200000 | sort -R >"$T/big.txt" 2>/dev/null || seq 1 200000 >"$T/big.txt"
# --parallel=1: sort's threads (one per core) each take an arena and a
# big buffer at moments that vary from run to run, and the comparison's
# length with them (59 to 92 lines on the same 2-core machine)
with_timeout 120 python3 "$CMP" --kmm="$KMM_LIB" --strace="$STRACE" -w 120 -- sort --parallel=1 "$T/big.txt" \
	>"$T/sort.cmp" 2>&1
rc=$?
ok "sort: the comparison runs (exit 0 or 1)" test "$rc" -le 1
ok "sort: the summary table is there" grep -q '^final break' "$T/sort.cmp"
ok "sort: a screenful, not a wall of noise ($(wc -l <"$T/sort.cmp") lines)" test "$(wc -l <"$T/sort.cmp")" -le 80
is "$(grep -c 'PROT_\|0x7f' "$T/sort.cmp")" "0" "sort: no raw addresses or flags left"
py=$(python3 -c 'import sys; print(sys.executable)')
with_timeout 120 python3 "$CMP" --kmm="$KMM_LIB" --strace="$STRACE" -w 120 -- "$py" -c 'print(sum(range(10**6)))' >"$T/py.cmp" 2>&1
ok "python3: the comparison runs (exit 0 or 1)" test "$?" -le 1
ok "python3: the summary table is there" grep -q '^peak mapped' "$T/py.cmp"

# --- usage -----------------------------------------------------------------------------------------------
python3 "$CMP" >/dev/null 2>&1
is "$?" "2" "no command: exit 2"
ok "--help describes the tool" sh -c "python3 '$CMP' --help | grep -q 'side by side'"
fi

done_testing
