#!/bin/sh
# trace.sh — the allocation trace log (KMM_TRACE, docs/trace.md) of real
# programs, read back with kmm-trace (through `kmm trace ...`) and checked
# against what the programs did: tests/progs/traceprobe (known calls and
# leaks, printed by the program itself), the same program under strace
# (the break growth events), a threaded program that forks, a program that
# ends with _exit, a shell that execs a program (the exec block), a run of
# several processes (summary --run), bash's forked child (mtrace(1) on a
# log with frees of its parent's blocks), python3, stripped /usr/bin/ls's
# site names, and the tracing switched off.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan_lazy

TP=$KMM_PROGS/traceprobe
T=$KMM_TMP

reader() { with_timeout 120 "$KMM_TOOL" trace "$@"; }
# count FILE PATTERN: lines of FILE matching the extended regex PATTERN
count() { grep -cE "$2" "$1" || :; }

# --- a program with known allocations and leaks ------------------------------------
with_timeout 60 env -u KMM_DEFAULT_PROFILE "$KMM_TOOL" trace -o "$T/k.trace" -- "$TP" known >"$T/k.out" 2>"$T/k.err"
is "$?" "0" "traceprobe known runs under kmm trace -o"
ok "the log exists and starts with the KMMTRACE header" sh -c "head -c 8 '$T/k.trace' | grep -q KMMTRACE"
reader summary "$T/k.trace" >"$T/k.sum" 2>"$T/k.sum.err"
ok "summary: the log is complete (end block)" grep -q '^log  *complete' "$T/k.sum"
is "$(grep -c 'cut short' "$T/k.sum.err")" "0" "summary: no cut-short warning"
# export --format=folded: the same totals as the summary
reader export --format=folded "$T/k.trace" >"$T/k.folded" 2>/dev/null
is "$?" "0" "export --format=folded exits 0"
ok "export folded: every line is PROGRAM;FRAME...;FRAME VALUE" sh -c \
	"test -s '$T/k.folded' && ! grep -vqE '^traceprobe(;[^;]+)+ [0-9]+\$' '$T/k.folded'"
want=$(awk '/^  (malloc|calloc|realloc|memalign) / { s += $4 } END { print s + 0 }' "$T/k.sum")
is "$(awk '{ s += $NF } END { print s + 0 }' "$T/k.folded")" "$want" \
	"export folded: the bytes add up to the summary's bytes allocated ($want)"
want=$(sed -n 's/^  at end .* in \([0-9]*\) blocks)$/\1/p' "$T/k.sum")
is "$(reader export --format=folded --live --count "$T/k.trace" 2>/dev/null | awk '{ s += $NF } END { print s + 0 }')" \
	"${want:-?}" "export folded --live --count: the blocks add up to the summary's live blocks at the end"
reader export --format=folded -o "$T/k2.folded" "$T/k.trace" >"$T/k2.out" 2>&1
ok "export -o FILE: the same lines in FILE, nothing on stdout" sh -c "cmp -s '$T/k.folded' '$T/k2.folded' && test ! -s '$T/k2.out'"
reader export --format=pprof-x "$T/k.trace" >/dev/null 2>&1
is "$?" "2" "export: an unknown format is a usage error (exit 2)"
# diff A B: what grew, by call stack
HPR=$KMM_PROGS/heapprobe
with_timeout 60 "$KMM_TOOL" trace -o "$T/da.trace" -- "$HPR" n100x64 >/dev/null 2>&1
with_timeout 60 "$KMM_TOOL" trace -o "$T/db.trace" -- "$HPR" n300x64 >/dev/null 2>&1
with_timeout 60 "$KMM_TOOL" trace -o "$T/dc.trace" -- "$HPR" n100x64 F >/dev/null 2>&1
reader diff "$T/da.trace" "$T/db.trace" >"$T/d.out" 2>&1
is "$?" "0" "diff A B exits 0"
ok "diff: 100 -> 300 blocks of 64 bytes: the stack grew by 200 calls, 6400 -> 19200 bytes" \
	grep -qE '^ +\+12\.5 KiB +\+200 +6400 +19200  heapprobe;' "$T/d.out"
ok "diff: the total line" grep -q '^total: +12.5 KiB (6400 -> 19200 bytes), +200 calls (100 -> 300)$' "$T/d.out"
reader diff "$T/db.trace" "$T/da.trace" >"$T/d2.out" 2>&1
ok "diff B A: the same stack shrank by 200 calls" grep -qE '^ +-12\.5 KiB +-200 +19200 +6400  heapprobe;' "$T/d2.out"
reader diff --live "$T/da.trace" "$T/dc.trace" >"$T/d3.out" 2>&1
ok "diff --live: the 100 blocks freed in B are 100 fewer live blocks" \
	grep -qE '^ +-6\.2 KiB +-100 +6400 +0  heapprobe;' "$T/d3.out"
reader diff "$T/da.trace" >/dev/null 2>&1
is "$?" "2" "diff with one FILE: a usage error (exit 2)"
# rss samples (/proc/self/statm): 32 MiB touched and kept to the end
with_timeout 60 "$KMM_TOOL" trace -o "$T/rss.trace" -- "$HPR" m32m t0 R >"$T/rss.out" 2>&1
reader summary "$T/rss.trace" >"$T/rss.sum" 2>&1
rss_kb=$(sed -n 's/^rss //p' "$T/rss.out")
end_b=$(sed -n '/^resident memory/,/^$/s/^  at end  *\([0-9]*\) bytes.*/\1/p' "$T/rss.sum")
ok "summary: resident memory at end (${end_b:-none} bytes) within 4 MiB of the VmRSS heapprobe read (${rss_kb:-?} KiB)" \
	awk -v e="${end_b:-0}" -v k="${rss_kb:-0}" 'BEGIN { d = e - k * 1024; exit !(k > 32768 && d < 4194304 && d > -4194304) }'
reader plot -o "$T/rss.svg" "$T/rss.trace" >/dev/null 2>&1
ok "plot: the resident memory line, with its peak" grep -q '>resident (RSS samples), peak [0-9.]* MiB<' "$T/rss.svg"
is "$(reader dump "$T/rss.trace" 2>/dev/null | grep -c ' rss .* resident')" \
	"$(sed -n 's/^resident memory (\([0-9]*\) samples.*/\1/p' "$T/rss.sum")" "dump: one line per rss sample, as the summary counts"
slab_served=$(sed -n '/^served by/,/^$/s/^  slab  *\([0-9]*\) .*/\1/p' "$T/k.sum")
ok "summary: 'served by' counts the slab front end's allocations (${slab_served:-none}; at least the 1000 malloc(1111))" \
	test "${slab_served:-0}" -ge 1000
reader dump "$T/k.trace" >"$T/k.dump" 2>"$T/k.dump.err"
is "$(count "$T/k.dump" ' malloc\(1111\) = 0x')" "1000" "dump: exactly the 1000 malloc(1111) calls"
# the pointers of those mallocs, and the frees of exactly those pointers
sed -n 's/.* malloc(1111) = \(0x[0-9a-f]*\) .*/\1/p' "$T/k.dump" | sort >"$T/k.m1111"
is "$(sort -u "$T/k.m1111" | wc -l | tr -d ' ')" "1000" "dump: 1000 distinct blocks (no block handed out twice while live)"
sed -n 's/.* free(\(0x[0-9a-f]*\)).*/\1/p' "$T/k.dump" | sort >"$T/k.freed"
is "$(comm -12 "$T/k.m1111" "$T/k.freed" | wc -l | tr -d ' ')" "1000" "dump: each of them freed"
is "$(count "$T/k.dump" ' calloc\(7, 77\) = 0x')" "40" "dump: exactly the 40 calloc(7, 77) calls"
is "$(count "$T/k.dump" ' realloc\(0x[0-9a-f]+, (200|400|800|1600|3200|6400)\) = 0x')" "6" \
	"dump: the six reallocs of the chain"
is "$(count "$T/k.dump" ' (memalign|posix_memalign|aligned_alloc)\(256, 3000\) = 0x')" "1" "dump: the posix_memalign(256, 3000)"
ok "dump: the 8 MiB block came from a new vmalloc area" grep -qE ' malloc\(8388608\) = 0x[0-9a-f]+ \[vmalloc-new\]' "$T/k.dump"
ok "dump: and went back with vfree" grep -qE 'free\(0x[0-9a-f]+\).*\[vfree\]' "$T/k.dump"
ok "dump: the malloc(1111) sites are symbolized (traceprobe.c)" grep -qE 'malloc\(1111\).*traceprobe\.c' "$T/k.dump"
# the default front end: small blocks come from slabs, and go back to them
ok "dump: the malloc(1111) calls were served by the slab front end ([slab])" \
	sh -c "test \$(grep -cE ' malloc\(1111\) = 0x[0-9a-f]+ \[slab\]' '$T/k.dump') -eq 1000"
ok "dump: frees of slab objects say where they went ([slab] or [remote])" \
	grep -qE 'free\(0x[0-9a-f]+\).*\[(slab|remote)\]' "$T/k.dump"

reader leaks "$T/k.trace" >"$T/k.leaks" 2>/dev/null
# exactly the program's three leaks, at its two sites
for a in $(awk '$1 == "leak" { print $2 }' "$T/k.out"); do
	ok "leaks: $a (printed by the program) is reported" grep -q "^ *$a " "$T/k.leaks"
done
is "$(grep -E '^[0-9]+ bytes in [0-9]+ blocks? allocated from .*(leak_twice|leak_once)' "$T/k.leaks" | sed 's/ allocated from .*\(leak_[a-z]*\).*/ \1/' | sort | tr '\n' ';')" \
	"1665 bytes in 1 block leak_once;8642 bytes in 2 blocks leak_twice;" "leaks: two sites, 2 blocks of 4321 and 1 of 1665"
is "$(grep -cE 'traceprobe\.c' "$T/k.leaks")" "2" "leaks: no other leak site in the program"

# break growth: the same events as strace sees
if [ -n "${STRACE:-}" ] && have "$STRACE"; then
	# -E: the traced program gets kmm and the log, strace itself not
	with_timeout 60 "$STRACE" -f -qq -e trace=brk -o "$T/s.strace" \
		-E LD_PRELOAD="$KMM_LIB" -E KMM_TRACE="$T/s.trace" "$TP" known >/dev/null 2>&1
	# brk(NULL) queries are the loader's and libc's, and move nothing
	st=$(grep -cE 'brk\(0x[0-9a-f]+\)' "$T/s.strace" || :)
	tr=$(reader dump "$T/s.trace" 2>/dev/null | grep -cE ' brk 0x' || :)
	is "$tr" "$st" "brk events in the log = brk calls strace saw ($st)"
	ok "at least one break growth" test "$st" -ge 1
else
	skip "brk events in the log = brk calls strace saw" "no strace"
	skip "at least one break growth" "no strace"
fi

# glibc's mtrace(1) reads the converted log and finds the program's leaks
reader mtrace "$T/k.trace" >"$T/k.mtrace" 2>/dev/null
ok "mtrace: the conversion starts with '= Start'" sh -c "head -1 '$T/k.mtrace' | grep -q '^= Start'"
if have mtrace && have perl; then
	mtrace "$TP" "$T/k.mtrace" >"$T/k.mtrace.out" 2>&1 || :
	for a in $(awk '$1 == "leak" { print $2 }' "$T/k.out"); do
		# mtrace(1) pads addresses with zeros: 0x00005555...
		ok "mtrace(1) lists $a as not freed" grep -qi "${a#0x}" "$T/k.mtrace.out"
	done
else
	skip "mtrace(1) lists the leaks" "no mtrace (libc-dev-bin) or perl"
fi

# plot: an SVG
reader plot -o "$T/k.svg" "$T/k.trace" >/dev/null 2>&1
ok "plot: writes an SVG" grep -q '<svg' "$T/k.svg"
if have python3; then
	ok "plot: the SVG is well-formed XML" python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$T/k.svg"
	# traceprobe's 8 MiB block: a vmalloc area in a 4 GiB PROT_NONE reservation
	ok "plot: committed bytes (kmm's regions) in MiB, not the 4 GiB vmalloc reservation" python3 -c '
import sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
texts = ["".join(t.itertext()) for t in ET.parse(sys.argv[1]).getroot().iter(ns + "text")]
c = [t for t in texts if t.startswith("committed (")]
assert c and c[0].endswith(" MiB"), texts
assert not any("GiB" in t for t in texts), texts
' "$T/k.svg"
else
	skip "plot: the SVG is well-formed XML" "no python3"
fi

# --- backtraces (libunwind) ---------------------------------------------------------------
unwind=
for d in /usr/lib/*-linux-gnu /usr/lib64 /usr/lib /lib/*-linux-gnu; do
	[ -e "$d/libunwind.so.8" ] && unwind=$d/libunwind.so.8 && break
done
if [ -n "$unwind" ]; then
	KMM_TRACE_BACKTRACE=4 with_timeout 60 "$KMM_TOOL" trace -o "$T/b.trace" -- "$TP" known >"$T/b.out" 2>"$T/b.err"
	reader leaks "$T/b.trace" >"$T/b.leaks" 2>/dev/null
	ok "backtraces: a leak's backtrace starts in leak_once" grep -qE '#0 0x[0-9a-f]+ leak_once' "$T/b.leaks"
	ok "backtraces: and goes on to its caller, known()" grep -qE '#1 0x[0-9a-f]+ known' "$T/b.leaks"
	is "$(grep -cE '^ +#4 ' "$T/b.leaks")" "0" "backtraces: at most KMM_TRACE_BACKTRACE=4 frames"
	is "$(grep -cE '^ +#[0-9]+ 0x[0-9a-f]+ .*\(libkmm' "$T/b.leaks")" "0" "backtraces: no frame of kmm's own"
	is "$(grep -c . "$T/b.err")" "0" "backtraces: no warning (libunwind found)"
	reader export --format=folded --live "$T/b.trace" >"$T/b.folded" 2>/dev/null
	ok "export folded --live: leak_twice's 2 x 4321 bytes under known() on one stack" \
		grep -qE '^traceprobe;.*;known;leak_twice 8642$' "$T/b.folded"
else
	skip "backtraces with libunwind" "no libunwind.so.8 (Debian package libunwind8)"
fi

# --- threads and fork ---------------------------------------------------------------
with_timeout 60 "$KMM_TOOL" trace -o "$T/t.trace" -- "$TP" threads >"$T/t.out" 2>"$T/t.err"
child=$(awk '$1 == "child" { print $2 }' "$T/t.out")
ok "threads: the program ran and forked" test -n "$child"
ok "fork: the child wrote its own log FILE.$child" test -f "$T/t.trace.$child"
reader summary "$T/t.trace" >"$T/t.sum" 2>&1
ok "threads: the parent's log is complete" grep -q '^log  *complete' "$T/t.sum"
reader dump "$T/t.trace" >"$T/t.dump" 2>/dev/null
is "$(count "$T/t.dump" ' malloc\(2222\) = 0x')" "1500" "threads: 3 x 500 malloc(2222) in the parent's log"
is "$(awk '/ malloc\(2222\) = 0x/ { print $4 }' "$T/t.dump" | sort -u | wc -l | tr -d ' ')" "3" \
	"threads: they come from three threads"
is "$(count "$T/t.dump" ' thread exit')" "3" "threads: three thread exits recorded"
is "$(count "$T/t.dump" ' malloc\(4444\)')" "0" "fork: none of the child's mallocs in the parent's log"
ok "fork: the parent's log records the fork" grep -q ' fork' "$T/t.dump"
reader leaks "$T/t.trace" >"$T/t.leaks" 2>/dev/null
for a in $(awk '$1 == "leak" { print $2 }' "$T/t.out"); do
	ok "threads: leak $a (3333 bytes, a worker's) is reported" grep -q "^ *$a .*3333 bytes" "$T/t.leaks"
done
reader summary "$T/t.trace.$child" >"$T/c.sum" 2>&1
ok "fork: the child's log is complete" grep -q '^log  *complete' "$T/c.sum"
reader dump "$T/t.trace.$child" >"$T/c.dump" 2>/dev/null
is "$(count "$T/c.dump" ' malloc\(4444\) = 0x')" "100" "fork: the child's 100 malloc(4444) in its own log"
is "$(count "$T/c.dump" ' malloc\(2222\)')" "0" "fork: none of the parent's events in the child's log"
ok "fork: the child's log names its parent" grep -qE "forked from [0-9]+" "$T/c.sum"

# --- a process that ends with _exit: the log says it was cut short ---------------------
with_timeout 60 "$KMM_TOOL" trace -o "$T/x.trace" -- "$TP" cut >/dev/null 2>&1
reader summary "$T/x.trace" >"$T/x.sum" 2>"$T/x.sum.err"
ok "_exit: the reader says the log was cut short" grep -qi 'cut short' "$T/x.sum.err"

# --- exec: the old image's log names the new one's -----------------------------------
# sh writes the log and execs the program, whose log is FILE.PID (same pid)
with_timeout 60 "$KMM_TOOL" trace -o "$T/e.trace" -- sh -c "exec '$TP' known" >"$T/e.out" 2>&1
pid=$(ls "$T" | sed -n 's/^e\.trace\.\([0-9][0-9]*\)$/\1/p' | head -1)
ok "exec: the exec'd program wrote FILE.PID" test -n "$pid"
reader summary "$T/e.trace" >"$T/e.sum" 2>"$T/e.sum.err"
ok "exec: the summary of the shell's log says it exec'd traceprobe and names FILE.$pid" \
	grep -qE "^log +exec'd [^ ]*traceprobe: continued in [^ ]*e\.trace\.$pid " "$T/e.sum"
is "$(grep -c 'CUT SHORT' "$T/e.sum")" "0" "exec: the shell's log is not called CUT SHORT"
ok "exec: the stderr note names the successor too" grep -q "continues in .*e\.trace\.$pid" "$T/e.sum.err"
reader summary "$T/e.trace.$pid" >"$T/e2.sum" 2>/dev/null
ok "exec: the successor's log is complete" grep -q '^log  *complete' "$T/e2.sum"

# --- a run of several processes: summary --run ------------------------------------------
with_timeout 60 "$KMM_TOOL" trace -o "$T/r.trace" -- sh -c "ls / | sort -r >/dev/null; exec '$TP' known >/dev/null" 2>/dev/null
reader summary --run "$T/r.trace" >"$T/r.sum" 2>"$T/r.sum.err"
is "$?" "0" "run: kmm trace summary --run exits 0"
nlogs=$(ls "$T" | grep -cE '^r\.trace(\.[0-9]+(\.[0-9]+)?)?$')
ok "run: the header counts every log of the run ($nlogs)" grep -q "^kmm-trace summary: $nlogs logs" "$T/r.sum"
for prog in ls sort traceprobe; do
	ok "run: a line for $prog, with its pid and events" grep -qE "^ +[0-9]+ +r\.trace[.0-9]* +[0-9]+ +[-0-9]+ +$prog +[0-9]+ " "$T/r.sum"
done
# the totals are the sums of the process lines (allocations: malloc+calloc+realloc+memalign)
sum_allocs=$(awk '$1 ~ /^[0-9]+$/ && $2 ~ /^r\.trace/ { n += $7 } END { print n + 0 }' "$T/r.sum")
tot_allocs=$(awk '/^total of the/ { on = 1 } on && $1 ~ /^(malloc|calloc|realloc|memalign)$/ { n += $2 } /^live heap/ { on = 0 } END { print n + 0 }' "$T/r.sum")
is "$tot_allocs" "$sum_allocs" "run: the total allocations are the sum of the process lines"
ok "run: traceprobe's 1000 malloc(1111) are in the total (more than 1000 allocations)" test "${tot_allocs:-0}" -gt 1000

# --- mtrace of a forked child: its parent's blocks ------------------------------------------
# bash forks for $(...) after it allocated: the child frees blocks of its
# parent, which its own log never saw allocated; mtrace(1) must not call
# them errors, and kmm-trace says on stderr how many it left out
if have bash; then
	with_timeout 60 "$KMM_TOOL" trace -o "$T/f.trace" -- bash -c 'x=$(echo hi); echo "$x" >/dev/null' 2>/dev/null
	child=
	for f in "$T"/f.trace.*; do
		[ -f "$f" ] || continue
		reader summary "$f" >"$T/f.sum" 2>/dev/null
		if grep -qE 'not in this log: [1-9][0-9]* frees' "$T/f.sum"; then
			child=$f
			break
		fi
	done
	ok "mtrace: bash's forked child frees blocks its log never saw allocated" test -n "$child"
	if [ -n "$child" ]; then
		# a single-threaded fork skips kmm's prepare handler: the child
		# finds its parent with getppid
		ok "fork: a single-threaded fork's child names its parent too" grep -q 'forked from [1-9]' "$T/f.sum"
		n=$(sed -n 's/.*not in this log: \([0-9]*\) frees.*/\1/p' "$T/f.sum")
		reader mtrace "$child" >"$T/f.mtrace" 2>"$T/f.mtrace.err"
		ok "mtrace: stderr says the $n frees were left out, and why" \
			grep -q "left out $n frees and .* (allocated by its parent, pid [0-9]*, before the fork)" "$T/f.mtrace.err"
		if have mtrace && have perl; then
			mtrace "$T/f.mtrace" >"$T/f.mtrace.out" 2>&1
			is "$(grep -c "never alloc'd" "$T/f.mtrace.out")" "0" "mtrace(1) on the child's log: no \"was never alloc'd\""
		else
			skip "mtrace(1) on the child's log" "no mtrace (libc-dev-bin) or perl"
		fi
	fi
else
	skip "mtrace of a forked child" "no bash"
fi

# --- python3 ----------------------------------------------------------------------------
# the interpreter itself (python3 may be a wrapper script, as pyenv's is:
# its shell would write the log and python FILE.PID.N)
py=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || :)
if [ -n "$py" ] && [ -x "$py" ]; then
	with_timeout 120 "$KMM_TOOL" trace -o "$T/p.trace" -- "$py" -c '
import json
d = [{"k": i, "v": "x" * (i % 300)} for i in range(20000)]
s = json.dumps(d)
assert json.loads(s) == d
print(len(s))' >"$T/p.out" 2>"$T/p.err"
	ok "python3 ran under kmm trace" test -s "$T/p.out"
	reader summary "$T/p.trace" >"$T/p.sum" 2>&1
	ok "python3: the log is complete" grep -q '^log  *complete' "$T/p.sum"
	n=$(awk '$1 == "malloc" { print $2; exit }' "$T/p.sum")
	ok "python3: thousands of mallocs recorded ($n)" test "${n:-0}" -ge 1000
	events=$(sed -n 's/^duration .*, \([0-9]*\) events.*/\1/p' "$T/p.sum")
	is "$(reader dump --no-symbols "$T/p.trace" 2>/dev/null | grep -c '^#')" "$events" \
		"python3: dump prints one line per event ($events)"
else
	skip "python3 under kmm trace" "no python3"
fi

# --- a stripped binary: sites are not named after a far dynamic symbol ------------------
# /usr/bin/ls has only dynamic symbols; most of its code is static functions
# past them.  A site in it is NAME+0xOFF only when OFF < NAME's st_size
# (nm -D -S), else ls+0xOFF (the link-time address); never a bare NAME
# (addr2line's nearest symbol below, however far).
lsbin=/usr/bin/ls
if [ -x "$lsbin" ] && have nm && [ -z "$(nm "$lsbin" 2>/dev/null)" ]; then
	with_timeout 60 "$KMM_TOOL" trace -o "$T/l.trace" -- "$lsbin" -la / >/dev/null 2>&1
	reader summary --top 1000 "$T/l.trace" >"$T/l.sum" 2>/dev/null
	# the sites in ls itself: "0xADDR NAME+0xOFF" with no "(libX)" after
	awk '/^top [0-9]+ allocation site/ { on = 1; next } on && NF >= 4 && $3 ~ /^0x/ && $0 !~ /\(lib/ { print $4 }' \
		"$T/l.sum" >"$T/l.sites"
	ok "stripped ls: some allocation sites are in ls itself" test -s "$T/l.sites"
	ok "stripped ls: sites past the dynamic symbols are named ls+0xOFF" grep -q '^ls+0x[0-9a-f]*$' "$T/l.sites"
	nm -D -S --defined-only "$lsbin" | awk 'NF == 4 { print $4, $2 }' >"$T/l.syms"
	bad=
	while read -r site; do
		case $site in ls+0x*) continue ;; esac
		name=${site%%+0x*}
		off=${site#"$name"}; off=${off#+}
		# a bare name: no ELF symbol held the address (addr2line's guess)
		[ -n "$off" ] || { bad="$bad $site"; continue; }
		size=$(awk -v n="$name" '$1 == n { print $2; exit }' "$T/l.syms")
		if [ -z "$size" ] || [ $((off)) -ge $((0x$size)) ]; then bad="$bad $site"; fi
	done <"$T/l.sites"
	is "$bad" "" "stripped ls: no site is named after a dynamic symbol that does not hold it"
else
	skip "stripped ls: site names" "no stripped /usr/bin/ls, or no nm"
fi

# --- tracing off: no log, no file ---------------------------------------------------------
rm -f "$T/none.trace"
with_timeout 60 env LD_PRELOAD="$KMM_LIB" "$TP" known >/dev/null 2>&1
ok "without KMM_TRACE nothing is written" test ! -e "$T/none.trace"

done_testing
