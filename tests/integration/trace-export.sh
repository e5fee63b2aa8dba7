#!/bin/sh
# trace-export.sh — kmm trace export's massif, perfetto and pprof formats
# and kmm trace at, on the logs of programs with known allocations
# (tests/progs/traceprobe known, tests/progs/heapprobe phases), checked
# against kmm trace summary and with the tools that read those formats:
# ms_print (valgrind), python3's json, go tool pprof (golang-go); each check
# is skipped where its tool is missing.  (export --format=folded and diff
# are trace.sh's.)
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan_lazy

TP=$KMM_PROGS/traceprobe
HPR=$KMM_PROGS/heapprobe
T=$KMM_TMP

reader() { with_timeout 120 "$KMM_TOOL" trace "$@"; }

# the logs: traceprobe's known calls (with backtraces where libunwind is
# installed), and heapprobe's phases: 1 MiB, 100 x 64 bytes, the 1 MiB
# freed, 10 x 64 more: peak 1048576 + 6400 = 1054976 bytes, 7040 at the end
with_timeout 60 env KMM_TRACE_BACKTRACE=6 "$KMM_TOOL" trace -o "$T/k.trace" -- "$TP" known >/dev/null 2>&1
is "$?" "0" "traceprobe known runs under kmm trace -o"
reader summary "$T/k.trace" >"$T/k.sum" 2>/dev/null
with_timeout 60 "$KMM_TOOL" trace -o "$T/h.trace" -- "$HPR" m1m n100x64 f0 n10x64 >/dev/null 2>&1
is "$?" "0" "heapprobe m1m n100x64 f0 n10x64 runs under kmm trace -o"
reader summary "$T/h.trace" >"$T/h.sum" 2>/dev/null
# summary_peak SUM: the peak live bytes of a summary
summary_peak() { sed -n 's/^  peak  *\([0-9]*\) bytes .*/\1/p' "$1"; }

# --- massif -------------------------------------------------------------------------
# massif_peak FILE: the mem_heap_B of the heap_tree=peak snapshot
massif_peak() { awk -F= '/^mem_heap_B=/ { b = $2 } /^heap_tree=peak/ { print b }' "$1"; }
for x in k h; do
	reader export --format=massif -o "$T/$x.massif" "$T/$x.trace" >"$T/$x.massif.out" 2>&1
	is "$?" "0" "export --format=massif ($x.trace) exits 0"
	want=$(summary_peak "$T/$x.sum")
	is "$(massif_peak "$T/$x.massif")" "${want:-?}" \
		"massif ($x.trace): the peak snapshot's mem_heap_B is the summary's peak live bytes ($want)"
	n=$(grep -c '^snapshot=' "$T/$x.massif")
	ok "massif ($x.trace): 2 to 50 snapshots ($n)" test "$n" -ge 2 -a "$n" -le 50
	ok "massif ($x.trace): the header (desc:, cmd:, time_unit: ms)" sh -c \
		"head -1 '$T/$x.massif' | grep -q '^desc: ' && sed -n 2p '$T/$x.massif' | grep -q '^cmd: ' &&
		 sed -n 3p '$T/$x.massif' | grep -qx 'time_unit: ms'"
	ok "massif ($x.trace): detailed snapshots, and their nodes are 'nN: BYTES 0xADDR: ...'" sh -c \
		"grep -q '^heap_tree=detailed' '$T/$x.massif' &&
		 ! awk '/^heap_tree=(detailed|peak)/ { t = 1; next } /^#/ { t = 0 }
		      t && !/^ *n[0-9]+: [0-9]+ (\\(heap allocation functions\\)|0x[0-9A-F]+: |in [0-9]+ places?, all below)/ { print; bad = 1 }
		      END { exit !bad }' '$T/$x.massif'"
	if have ms_print; then
		ms_print "$T/$x.massif" >"$T/$x.msp" 2>&1
		is "$?" "0" "ms_print reads the massif file of $x.trace"
		ok "ms_print ($x.trace): 'Detailed snapshots' with the peak" grep -qE '^ Detailed snapshots: \[.*\(peak\)' "$T/$x.msp"
	else
		skip "ms_print reads the massif file of $x.trace" "no ms_print (valgrind)"
		skip "ms_print ($x.trace): 'Detailed snapshots' with the peak" "no ms_print (valgrind)"
	fi
done
is "$(massif_peak "$T/h.massif")" "1054976" "massif: heapprobe's peak is its 1 MiB and 100 x 64 bytes (1054976)"
ok "massif: heapprobe's peak tree holds the 1 MiB block's site (1048576 bytes in step, heapprobe.c)" \
	sh -c "awk '/^heap_tree=peak/ { t = 1; next } /^#/ { t = 0 } t' '$T/h.massif' | grep -qE '^ n[0-9]+: 1048576 0x[0-9A-F]+: step( \\(heapprobe\\.c:[0-9]+\\))?\$'"
is "$(awk -F= '/^mem_heap_B=/ { b = $2 } END { print b }' "$T/h.massif")" "7040" "massif: heapprobe's last snapshot is the 110 x 64 bytes left (7040)"
ok "massif: the traceprobe peak tree names known() (the caller, or in the backtrace)" \
	sh -c "awk '/^heap_tree=peak/ { t = 1; next } /^#/ { t = 0 } t' '$T/k.massif' | grep -q ': known '"
reader export --format=massif "$T/k.trace" "$T/h.trace" >/dev/null 2>&1
is "$?" "2" "massif: two logs are a usage error (one heap per file)"
reader export --format=massif --live "$T/k.trace" >/dev/null 2>&1
is "$?" "2" "massif: --live (folded's option) is a usage error"

done_testing
