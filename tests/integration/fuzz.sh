#!/bin/sh
# fuzz.sh — the fuzzer of kmm's prefixed API (tests/fuzz/fuzz_api.c;
# docs/hardening.md, "The fuzzer").  The seed corpus (tests/fuzz/corpus/)
# replays clean through fuzz-replay; then, where configure found a compiler
# with libFuzzer, kmm-fuzz runs for a minute (KMM_FUZZ_SECONDS; 30 s under
# profile=glibc, 10 s with KMM_SLOW=no) starting from that corpus: no crash,
# no hang (30 s per input), no checker violation, and new inputs found.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

FUZZ_DIR=$KMM_PROGS/../fuzz
CORPUS=$KMM_SRCDIR/tests/fuzz/corpus

plan 6

out=$KMM_TMP/replay.out
with_timeout 300 "$FUZZ_DIR/fuzz-replay" "$CORPUS" >"$out" 2>&1
st=$?
n=$(ls "$CORPUS" | wc -l)
ok "fuzz-replay runs the $n inputs of the seed corpus without a failure (exit $st)" \
	grep -qx "fuzz-replay: $n inputs, no failure" "$out"
[ $st -eq 0 ] || cat_diag "$out" 20

mkdir "$KMM_TMP/seeds"
"$FUZZ_DIR/fuzz-replay" --seeds "$KMM_TMP/seeds"
ok "the seed corpus in the repository is the one the harness writes (fuzz-replay --seeds)" \
	diff -r "$KMM_TMP/seeds" "$CORPUS"

secs=${KMM_FUZZ_SECONDS:-60}
[ "${KMM_DEFAULT_PROFILE-}" = glibc ] && secs=${KMM_FUZZ_SECONDS:-30}
[ "${KMM_SLOW-}" = no ] && secs=10
if [ ! -x "$FUZZ_DIR/kmm-fuzz" ]; then
	why="no compiler with libFuzzer (configure: FUZZ_CC; Debian: clang libclang-rt-14-dev, tools/install-deps)"
	skip "kmm-fuzz runs $secs s" "$why"
	skip "kmm-fuzz: no crash file" "$why"
	skip "kmm-fuzz: inputs ran" "$why"
	skip "kmm-fuzz: coverage guided (new inputs found)" "$why"
	exit 0
fi

mkdir "$KMM_TMP/corpus" "$KMM_TMP/crashes"
cp "$CORPUS"/* "$KMM_TMP/corpus/"
log=$KMM_TMP/fuzz.log
# one run of a minute: with_progress (common.sh) shows it on the terminal
with_progress "kmm-fuzz for $secs s" with_timeout $((secs + 120)) "$FUZZ_DIR/kmm-fuzz" -max_total_time="$secs" -timeout=30 \
	-print_final_stats=1 -artifact_prefix="$KMM_TMP/crashes/" "$KMM_TMP/corpus" >"$log" 2>&1
st=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
added=$(sed -n 's/^stat::new_units_added: *//p' "$log")
cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/\1 edges, \2 features/p')
diag "kmm-fuzz, $secs s: ${runs:-?} inputs, ${added:-?} new, coverage ${cov:-?} (profile ${KMM_DEFAULT_PROFILE:-kmm})"
ok "kmm-fuzz runs $secs s and exits 0 (exit $st)" test "$st" -eq 0
[ $st -eq 0 ] || grep -v '^#' "$log" | grep -v '^INFO' | tail -30 | sed 's/^/#   /'
ok "kmm-fuzz: no crash file" test -z "$(ls "$KMM_TMP/crashes")"
ok "kmm-fuzz: inputs ran (${runs:-0})" test "${runs:-0}" -gt 0
ok "kmm-fuzz: coverage guided (${added:-0} new inputs found)" test "${added:-0}" -gt 0
