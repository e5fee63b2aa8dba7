#!/bin/sh
# sample.sh — the sampled heap profile (KMM_SAMPLE, KMM_PROFILE,
# KMM_PROFILE_SIGNAL, kmm_profile_dump; docs/profiling.md, "Sampled
# profiles").  tests/progs/sampleprobe allocates known sizes (100000 x
# 1000 bytes from alloc_small, 1000 x 100000 bytes from alloc_big, half of
# each freed) and prints the true totals; sampled at 16 KiB, the profile's
# alloc_space, inuse_space, alloc_objects and inuse_objects must be within
# 10% of them: read with python3 (tests/integration/pprof-totals.py,
# gzip + protobuf by hand), with the library's own counters (the --stats
# summary), and with go tool pprof when golang-go is installed.  Then the
# profile written at exit, by kmm_profile_dump, on a signal, by a fork
# child; a process without KMM_SAMPLE writes none.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan_lazy

SP=$KMM_PROGS/sampleprobe
T=$KMM_TMP
TOTALS="python3 $KMM_SRCDIR/tests/integration/pprof-totals.py"
cd "$T" || exit 1

sample_run() { with_timeout 120 env LD_PRELOAD="$KMM_LIB" "$@"; }

# within10 GOT WANT: |GOT - WANT| <= WANT / 10
within10() {
	awk -v g="$1" -v w="$2" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(g != "" && w > 0 && d * 10 <= w) }'
}
# value FILE NAME: the number after NAME on FILE's line "NAME N" / "true NAME N"
value() { awk -v n="$2" '$1 == n { print $2; exit } $1 == "true" && $2 == n { print $3; exit }' "$1"; }

# ---- totals at 64 KiB -----------------------------------------------------------
# 16 KiB: about 12 000 samples of the 200 MB, so that an estimate's
# standard deviation (1 / sqrt(samples): 1.8% for the 50 MB of small
# blocks in use, the fewest) puts 10% more than 5 deviations away; at
# 64 KiB it is under 3, and the eight checks would fail about one run in
# twenty by chance.
sample_run KMM_SAMPLE=16k KMM_STATS="$T/stats" KMM_STATS_REPORT=summary,params "$SP" totals "$T/dump.pb.gz" >"$T/out" 2>"$T/err"
ok "sampleprobe ran (KMM_SAMPLE=16k)" test $? -eq 0
is "$(grep '^dump' "$T/out")" "dump 0 0" "kmm_profile_dump(PATH) returned 0"
pid_files=$(ls "$T"/kmm-profile.*.pb.gz 2>/dev/null | wc -l)
is "$pid_files" 1 "one kmm-profile.PID.pb.gz written at exit in the start-up directory"
exitprof=$(ls "$T"/kmm-profile.*.pb.gz 2>/dev/null | head -1)
if have python3; then
	for f in "$T/dump.pb.gz" "$exitprof"; do
		$TOTALS "$f" >"$f.totals" 2>&1 || cat "$f.totals"
		for v in alloc_space inuse_space alloc_objects inuse_objects; do
			ok "$(basename "$f"): $v $(value "$f.totals" $v) within 10% of $(value "$T/out" $v) (python3)" \
				within10 "$(value "$f.totals" $v)" "$(value "$T/out" $v)"
		done
	done
	is "$(value "$T/dump.pb.gz.totals" period)" 16384 "the profile's period is KMM_SAMPLE"
	ok "the profile has mappings ($(value "$T/dump.pb.gz.totals" mappings)) and locations ($(value "$T/dump.pb.gz.totals" locations))" \
		test "$(value "$T/dump.pb.gz.totals" mappings)" -gt 0 -a "$(value "$T/dump.pb.gz.totals" locations)" -gt 0
else
	skip "the profile's totals (python3)" "no python3"
fi
# the library's own counters (no python3 or go needed)
est_alloc=$(sed -n 's/^  estimated allocated: \([0-9]*\) bytes in \([0-9]*\) blocks$/\1/p' "$T/stats")
est_inuse=$(sed -n 's/^  estimated in use:    \([0-9]*\) bytes in \([0-9]*\) blocks$/\1/p' "$T/stats")
ok "--stats: estimated allocated $est_alloc bytes within 10% of $(value "$T/out" alloc_space)" \
	within10 "$est_alloc" "$(value "$T/out" alloc_space)"
ok "--stats: estimated in use $est_inuse bytes within 10% of $(value "$T/out" inuse_space)" \
	within10 "$est_inuse" "$(value "$T/out" inuse_space)"
ok "--stats: the sample parameter is 16384" grep -q '^  sample                16384$' "$T/stats"
ok "--stats: nothing dropped" grep -q 'dropped: 0 stacks, 0 frees$' "$T/stats"

# go tool pprof (Debian golang-go) symbolizes with the binaries
if have go; then
	with_timeout 300 go tool pprof -top -sample_index=alloc_space "$SP" "$T/dump.pb.gz" >"$T/top" 2>&1
	ok "go tool pprof -top read the profile" grep -q '^Type: alloc_space' "$T/top"
	ok "go tool pprof names alloc_small and alloc_big" \
		sh -c "grep -q ' alloc_small\$' '$T/top' && grep -q ' alloc_big\$' '$T/top'"
	# "Showing nodes accounting for 191.97MB, 100% of 191.97MB total"
	for idx in alloc_space inuse_space; do
		with_timeout 300 go tool pprof -top -unit=B -sample_index=$idx "$SP" "$T/dump.pb.gz" >"$T/top.$idx" 2>&1
		got=$(sed -n 's/^Showing nodes accounting for .* of \([0-9]*\)B total$/\1/p' "$T/top.$idx")
		ok "go tool pprof: $idx total $got within 10% of $(value "$T/out" $idx)" within10 "$got" "$(value "$T/out" $idx)"
	done
else
	skip "go tool pprof reads the profile" "no go (golang-go)"
fi

# ---- the aligned allocators: posix_memalign, memalign, aligned_alloc ---------------
sample_run KMM_SAMPLE=16k KMM_STATS="$T/al.stats" KMM_STATS_REPORT=summary,check KMM_PROFILE="$T/al.pb.gz" \
	"$SP" aligned >"$T/al.out" 2>"$T/al.err"
ok "sampleprobe aligned ran: every block aligned as asked" test $? -eq 0
ok "aligned: the invariant checker finds nothing wrong with sampled aligned chunks" \
	grep -q '^check: 0 violations' "$T/al.stats"
if have python3; then
	$TOTALS "$T/al.pb.gz" >"$T/al.totals" 2>&1 || cat "$T/al.totals"
	for v in alloc_space inuse_space alloc_objects inuse_objects; do
		ok "aligned: $v $(value "$T/al.totals" $v) within 10% of $(value "$T/al.out" $v) (python3)" \
			within10 "$(value "$T/al.totals" $v)" "$(value "$T/al.out" $v)"
	done
else
	skip "the aligned allocators' totals (python3)" "no python3"
fi

# ---- sampled blocks through realloc, calloc and the invariant checker -------------------
sample_run KMM_SAMPLE=4k KMM_STATS="$T/re.stats" KMM_STATS_REPORT=summary,check KMM_PROFILE="$T/re.pb.gz" \
	"$SP" realloc >/dev/null 2>"$T/re.err"
ok "sampled blocks reallocated, calloc'ed and freed: contents kept" test $? -eq 0
ok "the invariant checker at exit: 0 violations (half the sampled chunks live)" \
	grep -q '^check: 0 violations' "$T/re.stats"
# (a sample that realloc moves counts as freed; the new block is a malloc,
# sampled or not): 10000 blocks of 500 bytes live at exit
if have python3; then
	$TOTALS "$T/re.pb.gz" >"$T/re.totals" 2>&1
	ok "after the reallocs: inuse_space $(value "$T/re.totals" inuse_space) within 15% of 5000000" \
		awk -v g="$(value "$T/re.totals" inuse_space)" 'BEGIN { d = g - 5000000; if (d < 0) d = -d; exit !(g != "" && d * 100 <= 15 * 5000000) }'
fi
sample_run KMM_SAMPLE=64k KMM_STATS="$T/chk.stats" KMM_STATS_REPORT=check "$SP" totals >/dev/null 2>&1
ok "totals: the invariant checker at exit: 0 violations" grep -q '^check: 0 violations' "$T/chk.stats"

# ---- sampled chunks freed by another thread (remote frees) ------------------------------
sample_run KMM_SAMPLE=64k KMM_STATS="$T/xf.stats" KMM_STATS_REPORT=summary,check KMM_PROFILE="$T/xf.pb.gz" \
	"$SP" xfree >/dev/null 2>&1
ok "sampled chunks freed by another thread" test $? -eq 0
ok "... the invariant checker at exit: 0 violations" grep -q '^check: 0 violations' "$T/xf.stats"
xf=$(sed -n 's/^sampled heap profile (KMM_SAMPLE=65536): \([0-9]*\) samples, \([0-9]*\) of them freed$/\1 \2/p' "$T/xf.stats")
# (all but at most 3: an allocation the process keeps to its end, the C
# library's or the dynamic loader's, can be sampled too: 1501 samples, 1500
# freed in one CI run; missed remote frees would miss hundreds)
ok "... every sample's free seen, but for at most 3 the process keeps ($xf)" \
	sh -c "set -- $xf; test \"\$1\" -gt 1000 -a \"\$2\" -le \"\$1\" -a \"\$2\" -ge \$((\$1 - 3))"

# ---- KMM_OPTIONS sample=, KMM_PROFILE ------------------------------------------------
sample_run KMM_OPTIONS=sample=64k KMM_PROFILE=opt.pb.gz "$SP" totals >"$T/out2" 2>&1
ok "KMM_OPTIONS=sample=64k KMM_PROFILE=opt.pb.gz (relative: the start-up directory)" test -s "$T/opt.pb.gz"
if have python3; then
	$TOTALS "$T/opt.pb.gz" >"$T/opt.totals" 2>&1
	ok "its alloc_space within 10%" within10 "$(value "$T/opt.totals" alloc_space)" "$(value "$T/out2" alloc_space)"
fi

# ---- no KMM_SAMPLE: nothing sampled, no file, kmm_profile_dump says ENOTSUP --------------
mkdir "$T/off" && (cd "$T/off" && sample_run "$SP" dump "$T/off/x.pb.gz" >"$T/off/out" 2>&1)
is "$(cat "$T/off/out")" "dump -1 95" "without KMM_SAMPLE: kmm_profile_dump returns -1, ENOTSUP"
is "$(ls "$T/off" | tr '\n' ' ')" "out " "without KMM_SAMPLE: no profile written"
sample_run KMM_SAMPLE=64k "$SP" dump /nonexistent/dir/x.pb.gz >"$T/out3" 2>&1
is "$(head -1 "$T/out3")" "dump -1 2" "kmm_profile_dump to a missing directory: -1, ENOENT"

# ---- the signal -----------------------------------------------------------------------
sample_run KMM_SAMPLE=64k KMM_PROFILE="$T/sig.pb.gz" KMM_PROFILE_SIGNAL=USR2 KMM_STATS="$T/sig.stats" \
	"$SP" signal 12 3 >"$T/sig.out" 2>&1
ok "KMM_PROFILE_SIGNAL=USR2: the program survives three SIGUSR2" test $? -eq 0
is "$(sed -n 's/^  profiles written: //p' "$T/sig.stats")" 4 "three profiles on the signal, one at exit"
sample_run KMM_SAMPLE=64k KMM_PROFILE="$T/sig2.pb.gz" KMM_PROFILE_SIGNAL=SIGUSR1 "$SP" signal 10 1 >/dev/null 2>&1
ok "KMM_PROFILE_SIGNAL=SIGUSR1 too" test -s "$T/sig2.pb.gz"
sample_run KMM_PROFILE_SIGNAL=USR2 "$SP" signal 12 1 >/dev/null 2>&1
is "$?" 140 "without KMM_SAMPLE the signal is not handled (SIGUSR2 kills)"

# ---- fork: the child writes its own file ------------------------------------------------
mkdir "$T/fork" && (cd "$T/fork" && sample_run KMM_SAMPLE=64k "$SP" fork >"$T/fork/out" 2>&1)
child=$(sed -n 's/^child //p' "$T/fork/out")
ok "the fork child ($child) wrote kmm-profile.$child.pb.gz" test -s "$T/fork/kmm-profile.$child.pb.gz"
is "$(ls "$T/fork" | grep -c '^kmm-profile\.[0-9]*\.pb\.gz$')" 2 "parent and child: one file each"
if have python3; then
	$TOTALS "$T/fork/kmm-profile.$child.pb.gz" >"$T/fork/child.totals" 2>&1
	# the child has the parent's samples and its own 20000 x 1000 bytes
	ok "the child's alloc_space ($(value "$T/fork/child.totals" alloc_space)) within 10% of 220000000" \
		within10 "$(value "$T/fork/child.totals" alloc_space)" 220000000
fi

# ---- forks while threads sample (tests/progs/forkstress) ---------------------------------
mkdir "$T/fs" && (cd "$T/fs" && sample_run KMM_SAMPLE=4k KMM_STATS="$T/fs.stats" KMM_STATS_REPORT=check \
	"$KMM_PROGS/forkstress" 4 100 >"$T/fs.out" 2>&1)
ok "100 forks while 4 threads allocate, sampled at 4k: every child clean" \
	sh -c "grep -q '^forks 100/100 clean' '$T/fs.out' && grep -q '^threads 4 ok' '$T/fs.out'"
is "$(grep -c '^check: 0 violations' "$T/fs.stats")" 101 "... 101 processes' checkers: 0 violations"
is "$(ls "$T/fs" | grep -c '^kmm-profile\.[0-9]*\.pb\.gz$')" 101 "... 101 profiles written"

# ---- threads ----------------------------------------------------------------------------
sample_run KMM_SAMPLE=512k KMM_PROFILE="$T/thr.pb.gz" KMM_STATS="$T/thr.stats" "$SP" threads 4 >/dev/null 2>&1
ok "4 threads churning under KMM_SAMPLE=512k" test $? -eq 0
ok "their profile was written" test -s "$T/thr.pb.gz"
if have python3; then
	$TOTALS "$T/thr.pb.gz" >"$T/thr.totals" 2>&1
	# 4 x 200000 blocks of 16..4096 bytes: about 1640 MB allocated
	ok "threads: alloc_space $(value "$T/thr.totals" alloc_space) within 10% of 1644800000" \
		within10 "$(value "$T/thr.totals" alloc_space)" 1644800000
	ok "threads: nothing in use at exit" test "$(value "$T/thr.totals" inuse_space)" -lt 10000000
fi

done_testing
