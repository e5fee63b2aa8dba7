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
summary_peak() { sed -n '/^live heap/,/^$/s/^  peak  *\([0-9]*\) bytes .*/\1/p' "$1"; }
# summary_rss SUM: the resident peak of a summary's rss samples (0: none)
summary_rss() { sed -n '/^resident memory/,/^$/s/^  peak  *\([0-9]*\) bytes .*/\1/p' "$1" | grep . || echo 0; }

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

# --- perfetto -----------------------------------------------------------------------
# summary_syscalls SUM: the calls of the system call table
summary_syscalls() {
	awk '/^system call/ { on = 1; next } on && /^  (brk|mmap|munmap|mremap|mprotect|madvise) / { n += $2 }
	     /^$/ { on = 0 } END { print n + 0 }' "$1"
}
# check.py JSON: the structure, then per process (pid): "PID max-live
# syscalls max-rss" (max-rss 0 without an rss track)
cat >"$T/check.py" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert set(d) == {"traceEvents", "displayTimeUnit"}, sorted(d)
assert d["displayTimeUnit"] == "ms"
ev = d["traceEvents"]
assert isinstance(ev, list) and ev
last, live, sysc, names, rss = {}, {}, {}, {}, {}
for e in ev:
    for k in ("ph", "ts", "pid", "name"):
        assert k in e, ("no %s" % k, e)
    assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0, e
    p = e["pid"]
    if e["ph"] == "M":
        assert e["name"] == "process_name" and e["args"]["name"], e
        names[p] = e["args"]["name"]
    elif e["ph"] == "C":
        key = (p, e["name"])
        assert e["ts"] >= last.get(key, 0), ("counter goes back in time", e)
        last[key] = e["ts"]
        assert list(e["args"]) == ["bytes"], e
        if e["name"] == "live heap bytes":
            live[p] = max(live.get(p, 0), e["args"]["bytes"])
        elif e["name"] == "rss bytes":
            rss[p] = max(rss.get(p, 0), e["args"]["bytes"])
        else:
            assert e["name"] in ("break bytes", "mapped bytes", "vmalloc bytes", "free: tcache and fastbins bytes",
                                 "free: bins bytes", "free: top chunk bytes", "free: slab slots bytes",
                                 "free: buddy resident bytes", "free: vmalloc lazy bytes"), e
    elif e["ph"] == "i":
        assert e["name"] in ("brk", "mmap", "munmap", "mprotect", "madvise", "mremap"), e
        assert "size" in e["args"] and "result" in e["args"] and "tid" in e, e
        sysc[p] = sysc.get(p, 0) + 1
    else:
        raise AssertionError(("unexpected ph", e))
for p in sorted(names):
    for c in ("live heap bytes", "break bytes", "mapped bytes", "vmalloc bytes"):
        assert (p, c) in last, ("no %s track" % c, p)
    print(p, live.get(p, 0), sysc.get(p, 0), rss.get(p, 0))
PY
# a run of two processes: traceprobe's threads and the child it forks
with_timeout 60 "$KMM_TOOL" trace -o "$T/t.trace" -- "$TP" threads >"$T/t.out" 2>/dev/null
child=$(awk '$1 == "child" { print $2 }' "$T/t.out")
if have python3; then
	reader export --format=perfetto -o "$T/k.json" "$T/k.trace" >"$T/k.json.out" 2>&1
	is "$?" "0" "export --format=perfetto exits 0"
	python3 "$T/check.py" "$T/k.json" >"$T/k.check" 2>&1
	is "$?" "0" "perfetto: valid trace-event JSON (every event has ph/ts/pid, counters in time order, four counter tracks)"
	cat_diag "$T/k.check"
	pid=$(od -An -t u4 -j 16 -N 4 "$T/k.trace" | tr -d ' ')
	is "$(cat "$T/k.check")" "$pid $(summary_peak "$T/k.sum") $(summary_syscalls "$T/k.sum") $(summary_rss "$T/k.sum")" \
		"perfetto: one process (the log's pid), its live-bytes maximum is the summary's peak, an instant per system call, its RSS track's maximum the summary's resident peak"
	# a run: the parent and the child it forked, one process each
	reader export --format=perfetto --run "$T/t.trace" >"$T/t.json" 2>/dev/null
	is "$?" "0" "perfetto --run exits 0"
	python3 "$T/check.py" "$T/t.json" >"$T/t.check" 2>&1
	is "$?" "0" "perfetto --run: valid trace-event JSON"
	cat_diag "$T/t.check"
	want=""
	for f in "$T/t.trace" "$T/t.trace.$child"; do
		reader summary "$f" >"$T/t1.sum" 2>/dev/null
		want="$want$(od -An -t u4 -j 16 -N 4 "$f" | tr -d ' ') $(summary_peak "$T/t1.sum") $(summary_syscalls "$T/t1.sum") $(summary_rss "$T/t1.sum")
"
	done
	is "$(sort -n "$T/t.check")" "$(printf '%s' "$want" | sort -n)" \
		"perfetto --run: a process per log (parent and forked child), each with its summary's peak and system calls"
	# a peak of a few microseconds in a log of 400 ms: the counters keep
	# each time slot's highest value
	with_timeout 60 "$KMM_TOOL" trace -o "$T/p.trace" -- "$HPR" n100x64 m100k f0 z400 n10x64 >/dev/null 2>&1
	reader export --format=perfetto -o "$T/p.json" "$T/p.trace" >/dev/null 2>&1
	python3 "$T/check.py" "$T/p.json" >"$T/p.check" 2>&1
	is "$(awk '{ print $2 }' "$T/p.check")" "108800" \
		"perfetto: a peak that lasted microseconds (100 KiB malloc'd and freed) is in the live-bytes track"
	ppid=$(od -An -t u4 -j 16 -N 4 "$T/t.trace" | tr -d ' ')
	ntid=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(len({e["tid"] for e in d["traceEvents"] if e["pid"] == int(sys.argv[2]) and e["ph"] == "C"}))' "$T/t.json" "$ppid" 2>&1)
	ok "perfetto: the parent's events carry its threads' tids (4 threads: $ntid)" test "$ntid" -ge 2
else
	skip "perfetto: the JSON checks" "no python3"
fi

# --- pprof --------------------------------------------------------------------------
reader export --format=pprof -o "$T/k.pb.gz" "$T/k.trace" >"$T/k.pb.out" 2>&1
is "$?" "0" "export --format=pprof exits 0"
ok "pprof: the file is gzip (stored blocks: gzip -t)" gzip -t "$T/k.pb.gz"
reader export --format=pprof "$T/k.trace" "$T/h.trace" >/dev/null 2>&1
is "$?" "2" "pprof: two logs are a usage error (go tool pprof merges profiles itself)"
if have go; then
	# go tool pprof: no symbolization (the profile has its functions), no
	# fetching, its cache in the test's directory
	gp() { with_timeout 120 env HOME="$T/gohome" GOCACHE="$T/gocache" GOFLAGS=-mod=mod PPROF_TMPDIR="$T" \
		go tool pprof -symbolize=none "$@"; }
	mkdir -p "$T/gohome"
	# gp_total INDEX FILE: the "Total samples = N" of -top, in bytes or counts
	gp_total() { gp -top -unit=B -sample_index="$1" "$2" 2>&1 | sed -n 's/.*Total samples = \([0-9]*\)B* *$/\1/p'; }
	alloc=$(awk '/^  (malloc|calloc|realloc|memalign) / { s += $4 } END { print s + 0 }' "$T/k.sum")
	calls=$(awk '/^  (malloc|calloc|realloc|memalign) / { s += $2 - $3 } END { print s + 0 }' "$T/k.sum")
	live=$(sed -n '/^live heap/,/^$/s/^  at end  *\([0-9]*\) bytes .*/\1/p' "$T/k.sum")
	blocks=$(sed -n 's/^  at end .* in \([0-9]*\) blocks)$/\1/p' "$T/k.sum")
	is "$(gp_total alloc_space "$T/k.pb.gz")" "$alloc" "go tool pprof -top: alloc_space is the summary's bytes allocated ($alloc)"
	is "$(gp_total alloc_objects "$T/k.pb.gz")" "$calls" "go tool pprof -top: alloc_objects is the summary's allocations ($calls)"
	is "$(gp_total inuse_space "$T/k.pb.gz")" "${live:-?}" "go tool pprof -top: inuse_space is the summary's live bytes at the end ($live)"
	is "$(gp_total inuse_objects "$T/k.pb.gz")" "${blocks:-?}" "go tool pprof -top: inuse_objects is the summary's live blocks at the end ($blocks)"
	gp -traces -sample_index=inuse_space "$T/k.pb.gz" >"$T/k.traces" 2>&1
	is "$?" "0" "go tool pprof -traces reads the profile"
	is "$(gp -traces -unit=B -sample_index=inuse_space "$T/k.pb.gz" 2>/dev/null |
	      awk '$2 == "leak_twice" { sub(/B$/, "", $1); s += $1 } END { print s + 0 }')" "8642" \
		"pprof -traces: leak_twice's stacks hold its 2 x 4321 live bytes"
	reader export --format=pprof -o "$T/h.pb.gz" "$T/h.trace" >/dev/null 2>&1
	gp -raw "$T/h.pb.gz" >"$T/h.raw" 2>&1
	ok "pprof: heapprobe's locations carry heapprobe.c lines and a mapping of the heapprobe file" \
		sh -c "grep -qE ' step heapprobe\\.c:[0-9]+' '$T/h.raw' && grep -qE '^[0-9]+: 0x[0-9a-f]+/0x[0-9a-f]+/0x[0-9a-f]+ [^ ]*/heapprobe( |\$)' '$T/h.raw'"
	is "$(gp_total inuse_space "$T/h.pb.gz")" "7040" "pprof: heapprobe's inuse_space is its 110 x 64 bytes left (7040)"
else
	skip "go tool pprof checks" "no go (Debian package golang-go)"
fi

# --- at WHEN: the heap at a moment ------------------------------------------------------
# heapprobe's phases 200 ms apart: 1 MiB; + 100 x 64 bytes; the 1 MiB freed;
# + 10 x 64; all 110 small blocks freed
# (kmm's profile: its layer samples below count slab slots and the vmalloc
# lazy-free cache, which profile=glibc does not use; its own check follows)
with_timeout 60 env KMM_OPTIONS=profile=kmm "$KMM_TOOL" trace -o "$T/z.trace" -- "$HPR" m1m z200 n100x64 z200 f0 z200 n10x64 z200 F >/dev/null 2>&1
is "$?" "0" "heapprobe with phases 200 ms apart runs under kmm trace -o"
reader dump "$T/z.trace" >"$T/z.dump" 2>/dev/null
# ms_of PATTERN: the time of the first dump line matching PATTERN, in ms (rounded down)
ms_of() { grep -m1 -E "$1" "$T/z.dump" | sed -n 's/^#[0-9]* +\([0-9]*\)\.\([0-9]\{3\}\).*/\1\2/p' | sed 's/^0*//;s/^$/0/'; }
seq_of() { grep -m1 -E "$1" "$T/z.dump" | sed -n 's/^#\([0-9]*\) .*/\1/p'; }
# live AT: "BYTES BLOCKS" of the live row of kmm trace at AT
live_at() { reader at "$1" "$T/z.trace" 2>/dev/null | awk '/^  live \(the program.s blocks\)/ { print $6, $5 }'; }
t1=$(ms_of ' malloc\(1048576\) = 0x')
t2=$(ms_of ' malloc\(64\) = 0x')
t3=$(ms_of ' free\(0x[0-9a-f]*\) 1048576 bytes')
fseq=$(seq_of ' free\(0x[0-9a-f]*\) 1048576 bytes')
diag "phases at $t1, $t2, $t3 ms; the free of the 1 MiB is #$fseq"
is "$(live_at "$((t1 + 100))ms")" "1048576 1" "at TIME: 100 ms into the first phase, the 1 MiB block alone"
is "$(live_at "$((t2 + 100))ms")" "1054976 101" "at TIME: in the second phase, 1 MiB and 100 x 64 bytes"
is "$(live_at "$((t3 + 100)).5ms")" "6400 100" "at TIME (with decimals): after the 1 MiB's free, 100 x 64 bytes"
is "$(live_at "#$fseq")" "6400 100" "at #SEQ: after the free's event"
is "$(live_at "#$((fseq - 1))")" "1054976 101" "at #SEQ: the event before it"
is "$(live_at peak)" "1054976 101" "at peak: the summary's peak"
is "$(live_at end)" "0 0" "at end: nothing live"
is "$(live_at 0ns)" "0 0" "at 0ns: before the first event"
reader at "$((t3 + 300))ms" "$T/z.trace" >"$T/z.at" 2>&1
ok "at: after the 10 more, the top site is heapprobe's 110 x 64 bytes" \
	grep -qE '^ +7040 +110  0x[0-9a-f]+ step\+0x[0-9a-f]+ at heapprobe\.c:[0-9]+' "$T/z.at"
reader at end "$T/z.trace" >"$T/z.end" 2>&1
is "$(sed -n '/^layers, from the events/,/^$/p' "$T/z.end" | awk '/^  tcache / || /^  fastbins / { n += $2 }
	/^  slab front end lists / { n += $5 } /^  remote lists / { n += $3 } END { print n + 0 }')" "110" \
	"at end: the 110 freed blocks are in the caches the frees named (tcache, fastbins, slab lists, remote), none handed out again"
# what no event says (bins, top, slab slots, buddy, vmalloc lazy-free): the
# layer samples.  slots AT / lazy AT: "BLOCKS BYTES" of that row at AT
layer_row() { reader at "$2" "$T/z.trace" 2>/dev/null | sed -n '/^layers, at the/,/^$/p' |
	awk -v r="$1" 'index($0, "  " r " ") == 1 { sub("^  " r " +", ""); print $1, $2; exit }'; }
s2=$(layer_row "slab front end free slots" "$((t2 + 100))ms")
s3=$(layer_row "slab front end free slots" "$((t3 + 100))ms")
s4=$(layer_row "slab front end free slots" "$((t3 + 300))ms")
se=$(layer_row "slab front end free slots" end)
diag "slab free slots: in phase 2 $s2, phase 3 $s3, phase 4 $s4, end $se"
is "$(( ${se% *} - ${s2% *} ))" "100" "at: layer samples: 100 fewer free slab slots while the 100 x 64 bytes live"
is "$(( ${se#* } - ${s2#* } ))" "6400" "at: layer samples: ... 6400 bytes of them"
is "$(( ${s3% *} - ${s4% *} ))" "10" "at: layer samples: 10 fewer after the 10 more"
is "$(layer_row "vmalloc lazy-free cache" "$((t2 + 100))ms")" "0 0" "at: layer samples: no area in the vmalloc lazy-free cache while the 1 MiB lives"
is "$(layer_row "vmalloc lazy-free cache" "$((t3 + 100))ms")" "1 1052672" \
	"at: layer samples: its area (1 MiB and a guard page) in the lazy-free cache once freed"
ok "at: the top chunk and the arenas' bytes are sampled (one arena, a top chunk)" sh -c \
	"'$KMM_TOOL' trace at end '$T/z.trace' | sed -n '/^layers, at the/,/^\$/p' | grep -qE '^  top chunk +1 +[1-9]' &&
	 '$KMM_TOOL' trace at end '$T/z.trace' | sed -n '/^layers, at the/,/^\$/p' | grep -qE '^  arenas \(from the OS\) +1 +[1-9]'"
# profile=glibc: 100 x 64 bytes freed go to the tcache (7 chunks of 80
# bytes) and the fastbins (93), as in glibc
with_timeout 60 env KMM_OPTIONS=profile=glibc "$KMM_TOOL" trace -o "$T/g.trace" -- "$HPR" n100x64 F >/dev/null 2>&1
reader summary "$T/g.trace" >"$T/g.sum" 2>/dev/null
is "$(sed -n '/^free memory by layer/,/^$/s/^  \(tcache\|fastbins\|slab free slots\)  *\([0-9]*\) bytes .* in \([0-9]*\) .*/\1 \2 \3/p' "$T/g.sum" | tr '\n' ' ')" \
	"tcache 560 7 fastbins 7440 93 slab free slots 0 0 " \
	"summary, profile=glibc: the 100 freed chunks of 80 bytes, 7 in the tcache and 93 in the fastbins (the last layer sample)"
ok "at TIME in an idle stretch: the sample the next call took first (nothing happened between)" \
	sh -c "'$KMM_TOOL' trace at '$((t2 + 100))ms' '$T/z.trace' | grep -q '^layers, at the layer sample right after it'"
ok "at #SEQ in a busy stretch: the last sample before it, and how many events later" \
	sh -c "'$KMM_TOOL' trace at '#$((fseq - 1))' '$T/z.trace' | grep -qE '^layers, at the last layer sample before it \(#[0-9]+ at \+[0-9.]+s; [0-9]+ events? came between\)'"
ok "at 0ns: no layer sample before it: 'none', bins and top 'not recorded'" sh -c \
	"'$KMM_TOOL' trace at 0ns '$T/z.trace' 2>/dev/null | grep -qE '^layers, at the last layer sample before it: none \(bins, top chunk'"
reader summary "$T/z.trace" >"$T/z.sum" 2>/dev/null
if have python3; then
	# the layer tracks: heapprobe's 1 MiB area enters the lazy-free cache,
	# the 110 x 64 bytes take and give back 110 slab slots
	reader export --format=perfetto -o "$T/z.json" "$T/z.trace" >/dev/null 2>&1
	is "$(python3 -c '
import json, sys
t = {}
for e in json.load(open(sys.argv[1]))["traceEvents"]:
    if e["ph"] == "C" and e["name"].startswith("free: "):
        t.setdefault(e["name"], []).append(e["args"]["bytes"])
lazy, slab = t["free: vmalloc lazy bytes"], t["free: slab slots bytes"]
print(len(t), lazy[0], max(lazy), max(slab) - min(v for v in slab if v))' "$T/z.json" 2>&1)" "6 0 1052672 7040" \
		"perfetto: six layer tracks; vmalloc lazy 0 then 1052672 (the 1 MiB's area), slab slots 7040 bytes apart (the 110 x 64 bytes)"
else
	skip "perfetto: the layer tracks" "no python3"
fi
# the summary's last layer sample: one arena, its bytes the break's growth
# (heapprobe's heap is brk memory alone)
brk_growth=$(sed -n 's/.*break at end: start+\([0-9]*\) .*/\1/p' "$T/z.sum")
is "$(sed -n '/^free memory by layer/,/^$/s/^  arenas  *\([0-9]*\) bytes .* in \([0-9]*\) arenas$/\1 \2/p' "$T/z.sum")" \
	"${brk_growth:-?} 1" "summary: the last layer sample's arenas (1, with the break's growth, ${brk_growth:-?} bytes)"
rss_end=$(sed -n '/^resident memory/,/^$/s/^  at end  *\([0-9]*\) bytes .*/\1/p' "$T/z.sum")
is "$(awk '/^  resident set size \(RSS\) / { print $5 }' "$T/z.end")" "${rss_end:-not}" \
	"at end: the RSS is the log's last rss sample (the summary's resident at end)"
ok "at 0ns: no rss sample before it: 'not recorded'" sh -c \
	"'$KMM_TOOL' trace at 0ns '$T/z.trace' 2>/dev/null | grep -qE '^  resident set size \\(RSS\\) .* not recorded'"
reader at end --run "$T/t.trace" >"$T/t.at" 2>&1
is "$?" "0" "at end --run: the forked run's logs"
is "$(grep -c '^kmm-trace at end: ' "$T/t.at")" "2" "at --run: the parent and the child, one report each"
reader at 1.5 "$T/z.trace" >/dev/null 2>&1
is "$?" "2" "at: a time without a unit is a usage error"
reader at "$T/z.trace" >/dev/null 2>&1
is "$?" "2" "at: no FILE after WHEN is a usage error"

done_testing
