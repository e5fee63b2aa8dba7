#!/bin/sh
# trace-reader.sh — kmm-trace, the reader of the allocation trace log
# (docs/trace.md), against synthetic logs written by tests/progs/tracegen:
#   known  a log with known contents: the exact dump; the counts per
#          operation, path, size class and system call; peak and live
#          bytes; kmm's slab/vmalloc/regions; the exact leaks and their
#          sites; mtrace(1) on the converted log; a well-formed SVG plot
#   cut    the same log cut short (no end block, a truncated last block)
#   unordered  the known log with sequence numbers going backwards in a block
#   run    three processes' logs (a shell that forks a child and execs a
#          program): summary --run (a line per process, totals), the exec
#          block naming the successor, several FILEs, dump/leaks/plot of
#          all; mtrace(1) without "was never alloc'd" for the frees of
#          blocks from before the trace
#   big    10,000,000 random events: summary within 60 s, and its totals
# plus bad usage, invalid files, truncated and corrupted logs (never a crash).
# The reader is $KMM_TRACE_TOOL, else $KMM_PROGS/../../tools/kmm-trace.
# Set KMM_TRACE_BIG=N for a smaller speed test (10000000 by default).

# this test runs no program under kmm: tap.sh only needs KMM_LIB set
KMM_LIB=${KMM_LIB:-unused}
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan_lazy

RD=${KMM_TRACE_TOOL:-$KMM_PROGS/../../tools/kmm-trace}
GEN=$KMM_PROGS/tracegen
BIG=${KMM_TRACE_BIG:-10000000}
cd "$KMM_TMP" || exit 1

if [ ! -x "$RD" ] || [ ! -x "$GEN" ]; then
	ok "kmm-trace ($RD) and tracegen ($GEN) are built" false
	done_testing
	exit 1
fi

# rd ARGS...: the reader, with a time limit
rd() { with_timeout 120 "$RD" "$@"; }
# same EXPECTED GOT: for ok; the difference on failure
same() { diff -u "$1" "$2" && return 0; return 1; }
# section FILE HEADING: the indented lines under HEADING in a summary
section() { awk -v h="$2" 'index($0, h) == 1 { on = 1; next } /^[^ ]/ || /^$/ { on = 0 } on' "$1"; }
# squeeze: one space between fields
squeeze() { sed 's/^ *//; s/  */ /g'; }

# --- the known log ----------------------------------------------------------------
"$GEN" known known.log >gen.out 2>gen.err
ok "tracegen known writes a log" sh -c "test $? -eq 0 && test -s known.log"
events=$(sed -n 's/^events //p' gen.out)
is "$events" 43 "tracegen known: 43 events"
# the call sites: real return addresses inside tracegen (ASLR: read them)
# sites_sed GENOUT: a sed script putting them into the dump template
sites_sed() {
	awk '$1 == "site" { n = substr($2, 12); printf "s/@%s@/%s/g\ns/@%s.out@/%s/g\n", n, $3, n, $5 }' "$1"
}
sites_sed gen.out >sites.sed
site() { awk -v n="alloc_site_$1" '$1 == "site" && $2 == n { print $3 }' gen.out; }
rel() { awk -v n="alloc_site_$1" '$1 == "site" && $2 == n { print $4 }' gen.out; }

# --- dump -----------------------------------------------------------------------------
rd dump --no-symbols known.log >dump.out 2>dump.err
ok "dump exits 0, nothing on stderr" sh -c "test $? -eq 0 && test ! -s dump.err"
is "$(grep -c '^#' dump.out)" "$events" "dump: one line per event ($events)"
is "$(awk '/^#/ { s = substr($1, 2) + 0; if (s != ++n) bad = 1 } END { print bad ? "no" : "yes" }' dump.out)" yes \
	"dump: events in sequence order 1..$events, though the two threads' blocks are out of order in the file"
cat >dump.tpl <<'EOF'
#1 +0.000001s tid 4242 brk 0x55d0c0a00000 -> 0x55d0c0a21000 (+132 KiB) = 0x55d0c0a21000
#2 +0.000002s tid 4242 region add 0x55d0c0a00000-0x55d0c0a21000 (132 KiB) brk heap, rw, on demand
#3 +0.000003s tid 4242 slab alloc 0x7f5a00001000 64 bytes (cache 2)
#4 +0.000004s tid 4242 malloc(32) = 0x55d0c0a002a0 [brk] from @a@
        #0 @a@
        #1 @a.out@
#5 +0.000005s tid 4242 malloc(100) = 0x55d0c0a002d0 [top] from @b@
        #0 @b@
        #1 @b.out@
#6 +0.000006s tid 4242 calloc(10, 8) = 0x55d0c0a00340 [top] from @c@
        #0 @c@
        #1 @c.out@
#7 +0.000007s tid 4243 thread start
#8 +0.000008s tid 4243 mmap(NULL, 67108864, none, private|anonymous|noreserve) = 0x7f5a10000000
#9 +0.000009s tid 4243 mprotect(0x7f5a10000000, 135168, rw) = 0
#10 +0.000010s tid 4243 region add 0x7f5a10000000-0x7f5a10021000 (132 KiB) arena heap, rw, on demand
#11 +0.000011s tid 4243 malloc(40) = 0x7f5a100008c0 [arena-heap] from @g@
        #0 @g@
        #1 @g.out@
#12 +0.000012s tid 4242 realloc(0x55d0c0a002a0, 200) = 0x55d0c0a003a0 [top] from @d@
        #0 @d@
        #1 @d.out@
#13 +0.000013s tid 4242 memalign(64, 256) = 0x55d0c0a00480 [top] from @e@
        #0 @e@
        #1 @e.out@
#14 +0.000014s tid 4243 free(0x55d0c0a00340) 88 bytes [remote] from @h@
        #0 @h@
        #1 @h.out@
#15 +0.000015s tid 4242 mmap(NULL, 8392704, rw, private|anonymous) = 0x7f5a20000000
#16 +0.000016s tid 4242 region add 0x7f5a20000000-0x7f5a20801000 (8.0 MiB) vmalloc area, rw, populated when mapped
#17 +0.000017s tid 4242 vmalloc 0x7f5a20000000 2101248 bytes for 2097152 (new area)
#18 +0.000018s tid 4242 populate 0x7f5a20000000 2097152 bytes, populated when mapped: 512 pages resident
#19 +0.000019s tid 4242 malloc(2000000) = 0x7f5a20000010 [vmalloc-new] from @f@
        #0 @f@
        #1 @f.out@
#20 +0.000020s tid 4243 calloc(3, 16) = 0x7f5a10000900 [top] from @c@
        #0 @c@
        #1 @c.out@
#21 +0.000021s tid 4242 realloc(0x55d0c0a003a0, 180) = 0x55d0c0a003a0 [in-place] from @d@
        #0 @d@
        #1 @d.out@
#22 +0.000022s tid 4242 madvise(0x7f5a20001000, 2093056, dontneed) = 0
#23 +0.000023s tid 4242 vfree 0x7f5a20000000 2101248 bytes
#24 +0.000024s tid 4242 free(0x7f5a20000010) 2097136 bytes [vfree] from @h@
        #0 @h@
        #1 @h.out@
#25 +0.000025s tid 4242 mmap(NULL, 1099511762944, rw, private|anonymous) = -ENOMEM
#26 +0.000026s tid 4242 malloc(1099511627776) = NULL from @i@
        #0 @i@
        #1 @i.out@
#27 +0.000027s tid 4243 mmap(NULL, 65536, rw, private|anonymous) = 0x7f5a30000000
#28 +0.000028s tid 4243 mremap(0x7f5a30000000, 65536, 131072, maymove) = 0x7f5a30100000
#29 +0.000029s tid 4243 munmap(0x7f5a30100000, 131072) = 0
#30 +0.000030s tid 4243 malloc(24) = 0x7f5a10000940 [tcache] from @a@
        #0 @a@
        #1 @a.out@
#31 +0.000031s tid 4243 free(0x7f5a10000940) 24 bytes [tcache] from @h@
        #0 @h@
        #1 @h.out@
#32 +0.000032s tid 4243 thread exit
#33 +0.000033s tid 4242 brk 0x55d0c0a21000 -> 0x55d0c0a20000 (-4 KiB) = 0x55d0c0a20000
#34 +0.000034s tid 4242 region update 0x55d0c0a00000-0x55d0c0a20000 (128 KiB) brk heap
#35 +0.000035s tid 4242 brk 0x55d0c0a20000 -> 0x55d0c1a00000 (+15.9 MiB) = -ENOMEM
#36 +0.000036s tid 4242 slab free 0x7f5a00001000 64 bytes (cache 2)
#37 +0.000037s tid 4242 vmalloc 0x7f5a20000000 1052672 bytes for 1048576 (reused area)
#38 +0.000038s tid 4242 malloc(1000000) = 0x7f5a20000010 [vmalloc-reused] from @f@
        #0 @f@
        #1 @f.out@
#39 +0.000039s tid 4242 fork: a child was made
#40 +0.000040s tid 4242 free(0x55d0c0a003a0) 184 bytes [unsorted] from @h@
        #0 @h@
        #1 @h.out@
#41 +0.000041s tid 4242 region delete 0x7f5a10000000-0x7f5a10021000 (132 KiB) arena heap
#42 +0.000042s tid 4242 malloc(100) = 0x55d0c0a005a0 [tcache] from @b@
        #0 @b@
        #1 @b.out@
#43 +0.000043s tid 4242 malloc(8) = 0x55d0c0a00700 [tcache] from @b@
        #0 @b@
        #1 @b.out@
EOF
sed -f sites.sed dump.tpl >dump.exp
ok "dump --no-symbols: exactly the events tracegen wrote" same dump.exp dump.out

rd dump known.log >dumps.out 2>&1
if have addr2line; then
	ok "dump: the callers are symbolized (function and source line, by addr2line)" \
		grep -q "^#4 .* from $(site a) (alloc_site_a[.a-z0-9]*+0x[0-9a-f]* at tracegen.c:[0-9]*)\$" dumps.out
else
	ok "dump: the callers are symbolized (function, from the ELF symbols)" \
		grep -q "^#4 .* from $(site a) (alloc_site_a[.a-z0-9]*+0x[0-9a-f]*)\$" dumps.out
fi
ok "dump: backtrace frames symbolized on indented lines" \
	grep -q "^        #1 $(awk '$2 == "alloc_site_a" { print $5 }' gen.out) collect_sites" dumps.out

# --- summary --------------------------------------------------------------------------
rd summary known.log >sum.out 2>sum.err
ok "summary exits 0, nothing on stderr" sh -c "test $? -eq 0 && test ! -s sum.err"
is "$(section sum.out operation | squeeze | cut -d' ' -f1-4 | tr '\n' ';')" \
	"malloc 9 1 3000304;calloc 2 0 128;realloc 2 0 380;memalign 1 0 256;free 4 0 2097432;" \
	"summary: calls, failures and bytes per operation"
is "$(section sum.out 'served by' | squeeze | tr '\n' ';')" \
	"tcache 3 132;top 5 684;brk 1 32;arena-heap 1 40;vmalloc-new 1 2000000;vmalloc-reused 1 1000000;in-place 1 180;" \
	"summary: calls and bytes per serving path"
is "$(section sum.out 'freed to' | squeeze | tr '\n' ';')" \
	"tcache 1 24;unsorted 1 184;remote 1 88;vfree 1 2097136;" \
	"summary: calls and bytes per place frees went"
is "$(section sum.out 'size (up to)' | squeeze | tr '\n' ';')" \
	"<=16 1;<=32 2;<=64 2;<=128 3;<=256 3;<=1M 1;<=2M 1;" \
	"summary: allocations per power-of-two size class"
is "$(section sum.out 'live heap' | squeeze | grep '^peak' | cut -d' ' -f2,10-)" \
	"2000644 +0.000020s seq 20" "summary: peak live bytes 2000644 at +0.000020s, seq 20"
is "$(section sum.out 'live heap' | squeeze | grep '^at end' | cut -d' ' -f3,8)" \
	"1000552 7" "summary: 1000552 bytes live at the end, in 7 blocks"
is "$(section sum.out 'system call' | squeeze | tr '\n' ';')" \
"brk 3 1 grew 135168, shrank 4096, break at end: start+131072 (128 KiB);\
mmap 4 1 75567104 bytes mapped (72.1 MiB);\
munmap 1 0 131072 bytes unmapped (128 KiB);\
mremap 1 0 grew 65536, shrank 0;\
mprotect 1 0 135168 bytes;\
madvise 1 0 2093056 bytes;\
mapped at end: 75501568 bytes (72.0 MiB), peak 75632640 bytes (72.1 MiB); address space, PROT_NONE reservations included;\
committed at end: 8523776 bytes (8.1 MiB): kmm's regions, made readable and writable;" \
	"summary: system calls, failures and bytes; break and mapped bytes at the end; committed: brk heap 128 KiB + vmalloc area 8 MiB + 4 KiB"
is "$(section sum.out "kmm's own memory" | squeeze | tr '\n' ';')" \
"slab allocs 1 (64 bytes), frees 1 (64 bytes), live at end 0 bytes;\
vmalloc areas 2 (new 1, reused 1; 3153920 bytes), vfrees 1 (2101248 bytes), live at end 1052672 bytes, peak 2101248 (2.0 MiB);\
regions added 3, updated 1, deleted 1; populate 1 (512 pages resident);" \
	"summary: kmm's own slab, vmalloc and region events"
is "$(grep '^threads' sum.out | squeeze)" "threads 2: 4242 4243 (thread start 1, thread exit 1, fork 1)" \
	"summary: the threads seen"
is "$(grep '^log' sum.out | squeeze)" "log complete: end block after 42 events (last seq 42), 1 event after it" \
	"summary: the log is complete; the event after the end block counts"
is "$(section sum.out 'top 7 allocation sites' | squeeze | sed 1d | cut -d' ' -f1-3 | tr '\n' ';')" \
	"3000000 2 $(site f);380 2 $(site d);256 1 $(site e);208 3 $(site b);128 2 $(site c);56 2 $(site a);40 1 $(site g);" \
	"summary: the allocation sites by bytes"
ok "summary: the top site is symbolized" grep -q "^ *3000000 *2  $(site f) alloc_site_f" sum.out

# --- leaks ----------------------------------------------------------------------------
rd leaks --no-symbols known.log >leaks.out 2>leaks.err
ok "leaks exits 0, nothing on stderr" sh -c "test $? -eq 0 && test ! -s leaks.err"
is "$(head -1 leaks.out)" "kmm-trace leaks: known.log: 7 blocks, 1000552 bytes (977.1 KiB) never freed, from 5 sites" \
	"leaks: 7 blocks, 1000552 bytes, 5 sites"
is "$(grep '^[0-9]' leaks.out | tr '\n' ';')" \
"1000000 bytes in 1 block allocated from $(site f);\
256 bytes in 1 block allocated from $(site e);\
208 bytes in 3 blocks allocated from $(site b);\
48 bytes in 1 block allocated from $(site c);\
40 bytes in 1 block allocated from $(site g);" \
	"leaks: the leaking sites (by caller), largest first"
is "$(grep '^    0x' leaks.out | squeeze | cut -d' ' -f1,2,4,6 | tr '\n' ';')" \
"0x7f5a20000010 1000000 malloc 38;0x55d0c0a00480 256 memalign 13;\
0x55d0c0a002d0 100 malloc 5;0x55d0c0a005a0 100 malloc 42;0x55d0c0a00700 8 malloc 43;\
0x7f5a10000900 48 calloc 20;0x7f5a100008c0 40 malloc 11;" \
	"leaks: exactly the blocks never freed (realloc'ed and freed ones are not)"
rd leaks known.log >leakss.out 2>&1
ok "leaks: sites and backtraces symbolized" sh -c \
	"grep -q '^1000000 bytes in 1 block allocated from $(site f) alloc_site_f' leakss.out &&
	 grep -q '^      #1 0x[0-9a-f]* collect_sites' leakss.out"

# --- mtrace ---------------------------------------------------------------------------
rd mtrace known.log >known.mtrace 2>mt.err
ok "mtrace exits 0, nothing on stderr" sh -c "test $? -eq 0 && test ! -s mt.err"
is "$(head -1 known.mtrace)/$(tail -1 known.mtrace)/$(wc -l <known.mtrace | tr -d ' ')" "= Start/= End/22" \
	"mtrace: = Start, 20 lines for 18 malloc-family events (2 reallocs: < and >), = End"
ok "mtrace: lines as glibc writes them (@ FILE:(SYM+OFF)[REL] + PTR SIZE)" \
	grep -q "^@ [^ ]*tracegen:(alloc_site_e[.a-z0-9]*+0x[0-9a-f]*)\[$(rel e)\] + 0x55d0c0a00480 0x100\$" known.mtrace
if have mtrace && have perl; then
	mtrace known.mtrace >mtrace.out 2>&1
	st=$?
	printf '%s\n' \
		"0x000055d0c0a002d0 0x64 at $(rel b)" \
		"0x000055d0c0a00480 0x100 at $(rel e)" \
		"0x000055d0c0a005a0 0x64 at $(rel b)" \
		"0x000055d0c0a00700 0x8 at $(rel b)" \
		"0x00007f5a100008c0 0x28 at $(rel g)" \
		"0x00007f5a10000900 0x30 at $(rel c)" \
		"0x00007f5a20000010 0xf4240 at $(rel f)" >mtrace.exp
	grep '^0x' mtrace.out | squeeze >mtrace.got
	mtrace_ok() {
		same mtrace.exp mtrace.got && ! grep -e 'never alloc' -e duplicate mtrace.out && test "$st" -eq 1
	}
	ok "glibc's mtrace(1) reads the converted log: exactly the 7 known leaks, nothing else (status $st)" mtrace_ok
else
	skip "glibc's mtrace(1) reads the converted log" "no mtrace (Debian: libc-dev-bin) or perl"
fi

# --- plot -----------------------------------------------------------------------------
rd plot known.log >plot.out 2>plot.err
ok "plot exits 0 and writes FILE.svg" sh -c "test $? -eq 0 && test -s known.log.svg && test ! -s plot.err"
rd plot -o "$KMM_TMP/other.svg" known.log >/dev/null 2>&1
ok "plot -o OUT writes OUT" test -s other.svg
if have python3; then
	ok "plot: a well-formed SVG with axes, a legend, 5 lines and the program in the title" python3 -c '
import sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == ns + "svg", root.tag
texts = ["".join(t.itertext()) for t in root.iter(ns + "text")]
paths = [p for p in root.iter(ns + "path") if p.get("stroke")]
assert len(paths) == 5, len(paths)
assert any("tracegen" in t for t in texts), texts[:3]
for want in ("live heap", "break size", "vmalloc", "arena heaps", "committed", "MiB", "\u00b5s"):
    assert any(want in t for t in texts), want
' known.log.svg
	# the known log: events at 1..43 us after the trace started; the peak
	# (seq 20) at 20 us, so 19 us after the first event
	ok "plot: the x axis starts at the first event, and says so" python3 -c '
import sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
texts = ["".join(t.itertext()) for t in ET.parse(sys.argv[1]).getroot().iter(ns + "text")]
assert any(t.startswith("time since the first event (which came 1.0 \u00b5s after the trace started)") for t in texts), texts
assert any(t.startswith("live heap, peak 1.9 MiB at 19.0 \u00b5s") for t in texts), texts
' known.log.svg
	# regions: brk heap 132 KiB (then 128), arena heap 132 KiB (seq 10-41),
	# vmalloc area 8 MiB + 4 KiB: 8.3 MiB committed at most; the 64 MiB
	# PROT_NONE mmap (an arena's reservation) is not in it (old: 72.1 MiB mapped)
	ok "plot: arena heaps (132 KiB) and committed bytes (8.3 MiB), not the 64 MiB reservation as mapped" python3 -c '
import sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
texts = ["".join(t.itertext()) for t in ET.parse(sys.argv[1]).getroot().iter(ns + "text")]
assert any(t == "arena heaps, peak 132 KiB" for t in texts), texts
assert any(t.startswith("committed (") and "not reservations" in t and t.endswith("peak 8.3 MiB") for t in texts), texts
assert not any("72.1 MiB" in t or "mapped" in t for t in texts), texts
' known.log.svg
else
	skip "plot: a well-formed SVG" "no python3"
fi

# --- the log cut short ----------------------------------------------------------------
"$GEN" cut cut.log >cgen.out 2>&1
cevents=$(sed -n 's/^events //p' cgen.out)
is "$cevents" 27 "tracegen cut: 27 events in complete blocks"
rd summary cut.log >csum.out 2>csum.err
ok "summary of a log cut short exits 0" test $? -eq 0
ok "a log cut short: the warning on stderr" grep -qx \
	"kmm-trace: cut.log was cut short: no end block (the process crashed, was killed or called _exit); up to one buffer per thread may be missing" \
	csum.err
ok "a log cut short: the summary says CUT SHORT" grep -q '^log  *CUT SHORT: no end block' csum.out
is "$(grep '^duration' csum.out | squeeze)" "duration 0.000032 s, 27 events (seq 1-32)" \
	"a log cut short: the events of complete blocks (27) are read"
rd dump --no-symbols cut.log >cdump.out 2>/dev/null
is "$(grep -c '^#' cdump.out)" "$cevents" "a log cut short: dump line count == event count"
rd leaks --no-symbols cut.log >cleaks.out 2>/dev/null
is "$(head -1 cleaks.out)" "kmm-trace leaks: cut.log: 6 blocks, 2000624 bytes (1.9 MiB) never freed, from 6 sites" \
	"a log cut short: the blocks freed in the lost block show as leaks"

# --- sequence numbers going backwards inside a block (a free's or realloc's event after
# --- the events made inside it, docs/trace.md "Order"): merged ---------------------------
"$GEN" unordered unordered.log >ugen.out 2>&1
sites_sed ugen.out >usites.sed
sed -f usites.sed dump.tpl >udump.exp
rd dump --no-symbols unordered.log >udump.out 2>udump.err
ok "a block with sequence numbers going backwards: the same dump, in order" same udump.exp udump.out
is "$(grep -c 'backwards\|order' udump.err)" "0" "a block with sequence numbers going backwards: no warning (it is the format)"

# --- invalid files and usage ----------------------------------------------------------
: >empty.log
rd summary empty.log >/dev/null 2>err.out
st=$?
ok "an empty file: exit 2 with a one-line message" sh -c "test $st -eq 2 && test \$(wc -l <err.out) -eq 1"
printf 'hello, world\n%.0s' 1 2 3 4 5 6 >text.log
rd dump text.log >/dev/null 2>err.out
st=$?
ok "a file that is not a log: exit 2 with a one-line message" sh -c \
	"test $st -eq 2 && test \$(wc -l <err.out) -eq 1 && grep -q 'not a kmm trace log' err.out"
rd leaks "$KMM_TMP/missing.log" >/dev/null 2>err.out
ok "a missing file: exit 2" sh -c "test $? -eq 2 && grep -q 'missing.log' err.out"
dd if=known.log of=hdr.log bs=64 count=1 2>/dev/null
rd summary hdr.log >hdr.out 2>hdr.err
ok "a header without blocks: exit 0, cut short, 0 events" sh -c \
	"test $? -eq 0 && grep -q 'cut short' hdr.err && grep -q '^duration .* 0 events' hdr.out"
rd >/dev/null 2>&1
st1=$?
rd frobnicate known.log >/dev/null 2>&1
st2=$?
rd summary --frobnicate known.log >/dev/null 2>&1
st3=$?
rd summary --run known.log known2.log >/dev/null 2>&1
st4=$?
is "$st1 $st2 $st3 $st4" "2 2 2 2" "bad usage (no command, unknown command, unknown option, --run with two files): exit 2"
rd --help >help.out 2>&1
st1=$?
rd leaks --help >lhelp.out 2>&1
ok "--help and COMMAND --help exit 0" sh -c \
	"test $st1 -eq 0 && test $? -eq 0 && grep -q summary help.out && grep -q -- --all lhelp.out"

# garbage after the last block: read up to it, reported
{ cat known.log; printf 'garbage after the log'; } >garbage.log
rd summary garbage.log >gsum.out 2>gsum.err
ok "garbage after the last block: exit 0, all $events events read, reported" sh -c \
	"test $? -eq 0 && grep -q '^duration .* $events events' gsum.out && grep -q 'stopped at offset' gsum.err"

# truncated anywhere, or bytes overwritten: never a crash
size=$(wc -c <known.log | tr -d ' ')
crash=
n=0

# read_all FILE WHERE: every command on FILE must exit 0 or 2 (counts runs
# in $n, collects crashes in $crash)
read_all() {
	for c in summary dump leaks mtrace plot; do
		rd $c "$1" >/dev/null 2>&1
		st=$?
		n=$((n + 1))
		[ $st -eq 0 ] || [ $st -eq 2 ] || crash="$crash $c@$2:$st"
	done
}
for cut in 0 10 63 64 65 79 80 100 200 300 500 777 1000 1500 2000 2500 3000 3500 4000 4500 5000 \
	$((size - 1000)) $((size - 500)) $((size - 100)) $((size - 57)) $((size - 17)) $((size - 1)); do
	[ "$cut" -ge 0 ] && [ "$cut" -lt "$size" ] || continue
	dd if=known.log of=trunc.log bs=1 count="$cut" 2>/dev/null
	read_all trunc.log "$cut"
done
ok "truncated logs ($n runs): exit 0 or 2, never a crash${crash:+ (crashes:$crash)}" test -z "$crash"
crash=
n=0
i=0
for pos in 20 70 75 90 100 104 120 150 400 700 1000 1100 1234 1500 2000 2345 3000 3333 3600 4000 4400 4800; do
	[ "$pos" -lt "$size" ] || continue
	i=$((i + 1))
	cp known.log bad.log
	printf '\377\377\377\377\377\377\377\377' | dd of=bad.log bs=1 seek="$pos" conv=notrunc 2>/dev/null
	printf '\000\020' | dd of=bad.log bs=1 seek=$(((pos * 7) % size)) conv=notrunc 2>/dev/null
	read_all bad.log "$pos"
done
ok "corrupted logs ($n runs): exit 0 or 2, never a crash${crash:+ (crashes:$crash)}" test -z "$crash"

# --- a run: several processes' logs ---------------------------------------------------
"$GEN" run run.log >rgen.out 2>&1
ok "tracegen run writes three logs" test -s run.log -a -s run.log.5000 -a -s run.log.5001
rd summary --run run.log >rsum.out 2>rsum.err
is "$?" 0 "summary --run: exit 0"
# the process lines: file pid parent program events allocs bytes frees peak live log
is "$(awk '$1 ~ /^[0-9]+$/ && $2 ~ /^run\.log/ { $1 = ""; print }' rsum.out | squeeze | tr '\n' ';')" \
	"run.log 5000 - tg-shell 5 3 600 1 600 600 exec'd /usr/bin/tg-prog: continued in run.log.5000;run.log.5000 5000 - tg-prog 3 2 1100 1 1100 100 complete;run.log.5001 5001 5000 tg-child 5 3 12288 1 12288 8192 complete;" \
	"summary --run: a line per process: pid, parent, program, events, allocations, bytes, frees, peak, live, how the log ends"
is "$(awk '/^total of the 3 logs: 13 events/ { on = 1; next } on && /^operation/ { t = 1; next } t && /^  [a-z]/ { print $1, $2, $4 } /^live heap/ { t = 0 }' rsum.out | tr '\n' ';')" \
	"malloc 6 13588;calloc 1 100;realloc 1 300;memalign 0 0;free 3 5128;" \
	"summary --run: the totals of the three logs (13 events, calls and bytes per operation)"
ok "summary --run: the top sites name their program" grep -qE '^ +12288 +3 +alloc_site_c.*\(tg-child\)$' rsum.out
is "$(grep -c 'CUT SHORT' rsum.out) $(grep -c "exec'd" rsum.out)" "0 1" "summary --run: the shell's log, which exec'd, says so and is not CUT SHORT"
rd summary run.log >rsum1.out 2>rsum1.err
ok "summary of the shell's log alone: it exec'd tg-prog, continued in run.log.5000" \
	grep -qE "^log +exec'd /usr/bin/tg-prog: continued in run\.log\.5000 " rsum1.out
ok "summary of one log: stderr points to the 2 other logs of the run and to --run" \
	grep -q '2 more logs of this run beside run.log.*summary --run run.log' rsum1.err
rd summary run.log.5001 run.log >rsum2.out 2>/dev/null
is "$(awk '$1 ~ /^[0-9]+$/ && $2 ~ /^run\.log/ { print $2 }' rsum2.out | tr '\n' ' ')" "run.log.5001 run.log run.log.5000 " \
	"summary FILE FILE: those logs in that order, and the one the exec'd shell names after it"
rd dump --run run.log >rdump.out 2>/dev/null
is "$(grep '^== ' rdump.out | tr '\n' ';')" \
	"== run.log: pid 5000 (tg-shell) ==;== run.log.5000: pid 5000 (tg-prog) ==;== run.log.5001: pid 5001 (tg-child) ==;" \
	"dump --run: each log after a heading"
is "$(grep -c '^#' rdump.out)" "13" "dump --run: all 13 events"
rd leaks --run run.log >rleaks.out 2>/dev/null
is "$(grep '^kmm-trace leaks:' rleaks.out | sed 's/ never freed.*//' | tr '\n' ';')" \
	"kmm-trace leaks: run.log: 3 blocks, 600 bytes (600 B);kmm-trace leaks: run.log.5000: 1 block, 100 bytes (100 B);kmm-trace leaks: run.log.5001: 2 blocks, 8192 bytes (8 KiB);" \
	"leaks --run: each process's leaks"
rd plot --run run.log >/dev/null 2>&1
ok "plot --run: an SVG per log" sh -c 'grep -q "<svg" run.log.svg && grep -q "<svg" run.log.5000.svg && grep -q "<svg" run.log.5001.svg'
# a log of an earlier run beside them (kmm trace -o removes FILE only):
# its header's wall-clock start (offset 40) before FILE's
cp run.log.5001 run.log.4999
printf '\000\000\000\000\000\000\000\000' | dd of=run.log.4999 bs=1 seek=40 conv=notrunc 2>/dev/null
rd summary --run run.log >rstale.out 2>rstale.err
is "$(grep -c '^kmm-trace summary: 3 logs' rstale.out) $(grep -c 'run\.log\.4999' rstale.out)" "1 0" \
	"summary --run: a log that started before FILE (an earlier run's) is left out"
ok "summary --run: and stderr says so" grep -q 'left out 1 log named run.log.PID\[.N\] that started before run.log' rstale.err
rm -f run.log.4999
rd mtrace run.log run.log.5001 >/dev/null 2>&1
is "$?" 2 "mtrace of two logs: exit 2 (mtrace(1) reads one process)"
# mtrace: the shell frees a block and reallocs one from before its trace
rd mtrace run.log >run.mtrace 2>rmt.err
ok "mtrace: stderr counts the free and the realloc left out" grep -q 'left out 1 free and 1 realloc of blocks this log never saw allocated' rmt.err
is "$(grep -c '0x55d0c0a00010\|0x55d0c0a00020' run.mtrace)" "0" "mtrace: neither pre-trace block is in the conversion"
if have mtrace && have perl; then
	mtrace run.mtrace >run.mtrace.out 2>&1
	is "$(grep -c "never alloc'd" run.mtrace.out)" "0" "mtrace(1): no \"was never alloc'd\" for the blocks from before the trace"
	is "$(grep -oiE '^0x0*55d0c0a00[0-9a-f]+ +0x[0-9a-f]+' run.mtrace.out | squeeze | tr '\n' ';')" \
		"0x000055d0c0a00100 0x64;0x000055d0c0a00200 0xc8;0x000055d0c0a00800 0x12c;" \
		"mtrace(1): the shell's three blocks not freed, the realloc'd one among them"
else
	skip "mtrace(1) on the run's shell log" "no mtrace (libc-dev-bin) or perl"
fi

# --- a big log: speed -----------------------------------------------------------------
now_ms() { date +%s%N 2>/dev/null | awk '{ if ($1 ~ /N/) print 0; else printf "%.0f\n", $1 / 1000000 }'; }
t0=$(now_ms)
with_timeout 300 "$GEN" big "$BIG" big.log >bgen.out 2>&1
t1=$(now_ms)
ok "tracegen big $BIG writes a log ($(wc -c <big.log | tr -d ' ') bytes, $(((t1 - t0) / 1000)) s)" \
	test "$(sed -n 's/^events //p' bgen.out)" = "$BIG"
t0=$(now_ms)
with_timeout 120 "$RD" summary big.log >bsum.out 2>bsum.err
st=$?
t1=$(now_ms)
ms=$((t1 - t0))
secs=$(awk -v ms="$ms" 'BEGIN { printf "%.1f", ms / 1000 }')
diag "summary of $BIG events: $secs s"
ok "summary of $BIG events finishes in well under 60 s ($secs s)" sh -c "test $st -eq 0 && test $ms -lt 60000"
is "$(section bsum.out operation | squeeze | awk '$1 == "malloc" || $1 == "free" { print $1, $2 }' | tr '\n' ' ')" \
	"malloc $(sed -n 's/^malloc //p' bgen.out) free $(sed -n 's/^free //p' bgen.out) " \
	"big log: malloc and free counts as generated"
is "$(section bsum.out 'live heap' | squeeze | awk '{ printf "%s ", $1 == "peak" ? $2 " " $NF : $3 }')" \
	"$(awk '$1 == "peak" { p = $2 " " $3 } $1 == "live_bytes" { l = $2 } END { print p " " l " " }' bgen.out)" \
	"big log: peak live bytes, its seq, and live bytes at the end as generated"
rd plot -o big.svg big.log >/dev/null 2>&1
bsz=$(wc -c <big.svg 2>/dev/null | tr -d ' ')
ok "plot of $BIG events: a small SVG (${bsz:-no} bytes, downsampled)" test "${bsz:-999999}" -lt 200000

# --- a big log: bounded memory ----------------------------------------------------
# The readers map the log; the pages a pass read are dropped every 32 MiB
# (log.c) and the tables hold distinct stacks and live blocks, not events
# (`at` is left out: it keeps every address freed and not reused, which in
# this synthetic log, whose addresses are never reused, is every free):
# the peak RSS stays far below the log's size (it was the log's size, plus
# 16 bytes an allocation for export, before).
maxrss_mb() { # the child's peak RSS in MiB, its stdout in rss.out
	python3 -c 'import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdout=open("rss.out", "w"), stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024 if r.returncode == 0 else 99999)' "$@"
}
bigmb=$(( $(wc -c <big.log) >> 20 ))
if have python3; then
	with_timeout 300 "$GEN" big $((BIG / 2)) big2.log >/dev/null 2>&1
	for cmd in "summary" "export --format=folded" "export --format=folded --live" "export --format=massif" \
		"export --format=perfetto" "export --format=pprof" "leaks" "diff"; do
		case $cmd in diff) args="big2.log big.log" ;; *) args=big.log ;; esac
		# shellcheck disable=SC2086
		mb=$(maxrss_mb "$RD" $cmd $args)
		ok "$cmd of a $bigmb MiB log: peak RSS $mb MiB, under 128 MiB" test "$mb" -lt 128
	done
	maxrss_mb "$RD" export --format=folded big.log >/dev/null
	is "$(awk '{ s += $NF } END { printf "%.0f\n", s }' rss.out)" \
		"$(section bsum.out operation | squeeze | awk '$1 == "malloc" { print $4 }')" \
		"export of the big log: the folded bytes add up to the summary's malloc bytes"
else
	skip "peak RSS of the readers on a big log" "no python3"
fi
rm -f big.log big2.log rss.out

done_testing
