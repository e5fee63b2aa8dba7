#!/bin/sh
# tool.sh — the `kmm` command (tools/kmm): help, run, --stats, --stats-all,
# --options, errors.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan 20

# kmm CMD...: the tool, with a time limit
kmm() { with_timeout 60 "$KMM_TOOL" "$@"; }
HP=$KMM_PROGS/heapprobe
cd "$KMM_TMP" || exit 1

# --- help, version, lib ---------------------------------------------------------
kmm --help >help.out 2>help.err
ok "kmm --help exits 0" status_is $? 0
ok "kmm --help describes 'kmm run'" grep -q 'kmm run' help.out
expected_version=$(sed -n 's/^#define KMM_VERSION "\(.*\)"$/\1/p' "$KMM_SRCDIR/include/kmm.h")
is "$(kmm version 2>&1)" "kmm $expected_version" "kmm version prints the version of include/kmm.h"
ok "kmm lib prints the libkmm.so the tests use" sh -c "test \"\$('$KMM_TOOL' lib)\" -ef '$KMM_LIB'"

# --- run --stats ------------------------------------------------------------------
has_report() { # FILE: one report with its main sections
	[ "$(stats_reports "$1")" -eq 1 ] || { echo "$(stats_reports "$1") reports in:"; cat "$1"; return 1; }
	for s in 'break growth' 'tcache' 'allocations served by' 'live now'; do
		grep -q "$s" "$1" || { echo "no '$s' in the report:"; cat "$1"; return 1; }
	done
}
kmm run --stats -- true >true.out 2>true.err
st=$?
ok "kmm run --stats -- true: exits 0, nothing on stdout" sh -c "test $st -eq 0 && test ! -s true.out"
ok "kmm run --stats -- true: a report on stderr" has_report true.err
ok "kmm run --stats: the report names the command" grep -q '^== kmm .* report: pid [0-9]* (true)' true.err

kmm run --stats="$KMM_TMP/stats.txt" -- "$HP" m16 n100x64 F k >file.out 2>file.err
ok "kmm run --stats=FILE writes the report to FILE" has_report "$KMM_TMP/stats.txt"
ok "kmm run --stats=FILE: nothing on stderr, the command ran under kmm" sh -c \
	"test ! -s file.err && grep -qx 'kmm yes' file.out"
used_kmm "kmm run --stats=FILE: the report counts the command's allocations" "$KMM_TMP/stats.txt" heapprobe

# a program that closes its standard error before exiting (coreutils' ls
# does, through close_stdout) still gets its report
kmm run --stats -- ls / >/dev/null 2>ls.err
ok "kmm run --stats -- ls: the report survives ls closing stderr" has_report ls.err

# --- which processes report --------------------------------------------------------
# xargs starts three /bin/echo; by default only xargs itself reports
printf 'a\nb\nc\n' >abc
kmm run --stats="$KMM_TMP/direct.txt" -- xargs -n1 /bin/echo <abc >xargs.out 2>&1
is "$(stats_reports direct.txt xargs)/$(stats_reports direct.txt)" "1/1" \
	"kmm run --stats: only the command's own process reports (not its children)"
kmm run --stats="$KMM_TMP/all.txt" --stats-all -- xargs -n1 /bin/echo <abc >xargs.out 2>&1
is "$(stats_reports all.txt xargs)/$(stats_reports all.txt echo)" "1/3" \
	"kmm run --stats-all: the children report too"
kmm run -- sh -c 'exit 7' >/dev/null 2>&1
ok "kmm run passes the command's exit status through" status_is $? 7

# --- --options ----------------------------------------------------------------------
# by default small blocks come from the slab front end; with
# --profile=glibc freed ones come back from the tcache, unless it holds none
slab_allocs() { sed -n 's/^  malloc  *\([0-9,]*\) (slow path.*/\1/p' "$1" | tr -d ,; }
tcache_hits() { sed -n 's/^  malloc  *hits \([0-9,]*\),.*/\1/p' "$1" | tr -d ,; }
kmm run --stats="$KMM_TMP/sl.txt" --profile=kmm -- "$HP" n1000x48 F n1000x48 F >/dev/null 2>&1
kmm run --stats="$KMM_TMP/tc1.txt" --profile=glibc -- "$HP" n1000x48 F n1000x48 F >/dev/null 2>&1
kmm run --stats="$KMM_TMP/tc0.txt" --profile=glibc --options=tcache_count=0 -- "$HP" n1000x48 F n1000x48 F \
	>/dev/null 2>&1
s1=$(slab_allocs sl.txt) h1=$(tcache_hits tc1.txt) h0=$(tcache_hits tc0.txt)
ok "kmm run --profile=kmm (the default): the slab front end serves the small blocks ($s1 allocations)" \
	test "${s1:-0}" -ge 2000
ok "kmm run --profile=glibc: the tcache serves freed blocks again ($h1 hits)" test "${h1:-0}" -gt 0
ok "kmm run --profile=glibc --options=tcache_count=0: no tcache hits" sh -c \
	"test '$h0' = 0 && test $(stats_calls tc0.txt) -gt 1000"
kmm run --options=top_pad=0,mmap_threshold=64k -- "$HP" m100k s >opts.out 2>&1
ok "kmm run --options=A,B: both options apply" sh -c \
	"grep -q '^m 102400 mmap ' opts.out && grep -q ' mmap_threshold=65536' opts.out"

# --- errors ---------------------------------------------------------------------------
kmm run --no-such-option -- touch "$KMM_TMP/ran" >/dev/null 2>bad.err
st=$?
ok "kmm run --no-such-option: exits non-zero with a message, runs nothing" sh -c \
	"test $st -ne 0 && test -s bad.err && test ! -e '$KMM_TMP/ran'"
kmm run --stats >/dev/null 2>none.err
st=$?
ok "kmm run without a command: exits non-zero with a message" sh -c "test $st -ne 0 && test -s none.err"
