#!/bin/sh
# options.sh — kmm's options (KMM_OPTIONS) and glibc's (GLIBC_TUNABLES
# glibc.malloc.*, MALLOC_*_) take effect, and glibc's have the same effect
# under kmm as under glibc.  Uses tests/progs/heapprobe: "m" lines say where
# a block landed, "brk" how far the break moved, "stats" kmm's counters.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan 37

HP=$KMM_PROGS/heapprobe

# probe NAME plain|kmm 'VAR=VALUE ...' STEPS...: output in $KMM_TMP/NAME.MODE
probe() {
	_pn=$1 _pm=$2 _pe=$3; shift 3
	if [ "$_pm" = kmm ]; then
		with_timeout 60 env LD_PRELOAD="$KMM_LIB" $_pe "$HP" "$@" >"$KMM_TMP/$_pn.kmm" 2>"$KMM_TMP/$_pn.kmm.err"
	else
		with_timeout 60 env $_pe "$HP" "$@" >"$KMM_TMP/$_pn.plain" 2>"$KMM_TMP/$_pn.plain.err"
	fi
}
# kinds FILE: where the blocks landed, e.g. "heap,mmap"
kinds() { awk '$1 == "m" { printf "%s%s", sep, $3; sep = "," } END { print "" }' "$1"; }
# growth FILE: the first "brk" line's value
growth() { sed -n 's/^brk //p' "$1" | head -1; }
# stat FILE KEY: a counter from the "stats" line
stat() { tr ' ' '\n' <"$1" | sed -n "s/^$2=//p"; }

# --- mmap_threshold -------------------------------------------------------------
# Two requests of 100 KiB: the first always comes from the top (the first
# small allocation, the tcache, grew the heap by 132 KiB); the second does
# not fit in what is left: with the default threshold (128 KiB) the heap
# grows, with a threshold of 64 KiB it gets its own mapping.
probe thr0 kmm '' m100k m100k s k
is "$(kinds "$KMM_TMP/thr0.kmm") $(stat "$KMM_TMP/thr0.kmm" mmaps) $(sed -n 's/^kmm //p' "$KMM_TMP/thr0.kmm")" \
	"heap,heap 0 yes" "kmm, default threshold: two 100 KiB blocks from the heap, no mmap"

probe thr1 kmm 'KMM_OPTIONS=mmap_threshold=64k' m100k m100k s
is "$(kinds "$KMM_TMP/thr1.kmm") $(stat "$KMM_TMP/thr1.kmm" mmaps) $(stat "$KMM_TMP/thr1.kmm" mmap_threshold)" \
	"heap,mmap 1 65536" "KMM_OPTIONS=mmap_threshold=64k: the second 100 KiB block is mmapped"

probe thr2 kmm 'GLIBC_TUNABLES=glibc.malloc.mmap_threshold=65536' m100k m100k s
probe thr2 plain 'GLIBC_TUNABLES=glibc.malloc.mmap_threshold=65536' m100k m100k
is "$(kinds "$KMM_TMP/thr2.kmm") $(stat "$KMM_TMP/thr2.kmm" mmaps) $(stat "$KMM_TMP/thr2.kmm" mmap_threshold)" \
	"heap,mmap 1 65536" "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=65536: honoured by kmm"
is "$(kinds "$KMM_TMP/thr2.kmm")" "$(kinds "$KMM_TMP/thr2.plain")" \
	"GLIBC_TUNABLES mmap_threshold: same placement as glibc"

probe thr3 kmm 'MALLOC_MMAP_THRESHOLD_=65536' m100k m100k s
probe thr3 plain 'MALLOC_MMAP_THRESHOLD_=65536' m100k m100k
is "$(kinds "$KMM_TMP/thr3.kmm")/$(stat "$KMM_TMP/thr3.kmm" mmaps)" "$(kinds "$KMM_TMP/thr3.plain")/1" \
	"MALLOC_MMAP_THRESHOLD_=65536: same placement as glibc, mmapped under kmm"

# with no top_pad the first growth is small, and the very first 100 KiB
# request is mmapped
probe thr4 kmm 'KMM_OPTIONS=top_pad=0,mmap_threshold=64k' m100k s
probe thr4 plain 'MALLOC_TOP_PAD_=0 MALLOC_MMAP_THRESHOLD_=65536' m100k
is "$(kinds "$KMM_TMP/thr4.kmm") $(stat "$KMM_TMP/thr4.kmm" mmaps)/$(kinds "$KMM_TMP/thr4.plain")" \
	"mmap 1/mmap" "top_pad=0,mmap_threshold=64k: a first 100 KiB request is mmapped (as glibc's)"

# --- top_pad: the first growth ----------------------------------------------------
probe pad0 plain 'MALLOC_TOP_PAD_=0' m16 b
probe pad0 kmm 'MALLOC_TOP_PAD_=0' m16 b
g=$(growth "$KMM_TMP/pad0.plain")
ok "glibc, MALLOC_TOP_PAD_=0: the first malloc(16) grows the break less than 132 KiB ($g)" \
	test "${g:-0}" -gt 0 -a "${g:-0}" -lt 135168
is "$(growth "$KMM_TMP/pad0.kmm")" "$g" "kmm, MALLOC_TOP_PAD_=0: the same first growth as glibc"
probe pad1 kmm 'KMM_OPTIONS=top_pad=0' m16 b
is "$(growth "$KMM_TMP/pad1.kmm")" "$g" "kmm, KMM_OPTIONS=top_pad=0: the same first growth as glibc's MALLOC_TOP_PAD_=0"
probe pad2 plain 'GLIBC_TUNABLES=glibc.malloc.top_pad=0' m16 b
probe pad2 kmm 'GLIBC_TUNABLES=glibc.malloc.top_pad=0' m16 b
is "$(growth "$KMM_TMP/pad2.kmm")" "$(growth "$KMM_TMP/pad2.plain")" \
	"GLIBC_TUNABLES=glibc.malloc.top_pad=0: the same first growth as glibc"
probe pad3 plain 'MALLOC_TOP_PAD_=1048576' m16 b
probe pad3 kmm 'KMM_OPTIONS=top_pad=1m' m16 b
g=$(growth "$KMM_TMP/pad3.plain")
is "$(growth "$KMM_TMP/pad3.kmm")" "$g" "KMM_OPTIONS=top_pad=1m: the same first growth as glibc's MALLOC_TOP_PAD_=1048576 ($g)"

# --- mmap_max, trim_threshold -----------------------------------------------------------
probe max0 plain 'MALLOC_MMAP_MAX_=0' m256k
probe max0 kmm 'KMM_OPTIONS=mmap_max=0' m256k s
is "$(kinds "$KMM_TMP/max0.kmm") $(stat "$KMM_TMP/max0.kmm" mmaps)/$(kinds "$KMM_TMP/max0.plain")" \
	"heap 0/heap" "mmap_max=0: 256 KiB from the heap, as glibc's MALLOC_MMAP_MAX_=0"
# (small blocks in the heap: profile=glibc's front end; by default they
# come from slabs, and the break does not move for them)
probe trim0 plain 'MALLOC_TRIM_THRESHOLD_=67108864' n4000x512 b F b
probe trim0 kmm 'KMM_OPTIONS=profile=glibc,trim_threshold=64m' n4000x512 b F b s
trims() { sed -n 's/^brk //p' "$1" | tr '\n' ' '; }
is "$(trims "$KMM_TMP/trim0.kmm")/$(stat "$KMM_TMP/trim0.kmm" brk_trims)" "$(trims "$KMM_TMP/trim0.plain")/0" \
	"trim_threshold=64m: the break stays up after freeing 2 MiB, as glibc's MALLOC_TRIM_THRESHOLD_"
probe trim1 kmm 'KMM_OPTIONS=front=tcache,trim_rule=glibc' n4000x512 b F b
ok "trim_threshold default (128 KiB), front=tcache, trim_rule=glibc: the break comes down after freeing 2 MiB" sh -c "
	sed -n 's/^brk //p' '$KMM_TMP/trim1.kmm' | tr '\n' ' ' | awk '{ exit !(NF == 2 && \$2 < \$1) }'"
probe trim2 kmm 'KMM_OPTIONS=profile=kmm,front=tcache' n4000x512 b F b
ok "profile=kmm, front=tcache (trim_rule=decay): the break stays after freeing the 2 MiB this period reached" sh -c "
	sed -n 's/^brk //p' '$KMM_TMP/trim2.kmm' | tr '\n' ' ' | awk '{ exit !(NF == 2 && \$2 == \$1 && \$1 > 2097152) }'"

# --- bad options: a warning, and the program runs --------------------------------
probe bad1 kmm 'KMM_OPTIONS=no_such_option=1,top_pad=0' m16 b k
ok "KMM_OPTIONS with an unknown name: a 'kmm: ' warning naming it" \
	grep -q '^kmm: .*no_such_option' "$KMM_TMP/bad1.kmm.err"
is "$(growth "$KMM_TMP/bad1.kmm") $(sed -n 's/^kmm //p' "$KMM_TMP/bad1.kmm")" "$(growth "$KMM_TMP/pad0.plain") yes" \
	"KMM_OPTIONS with an unknown name: the program runs, the other options apply"
probe bad2 kmm 'KMM_OPTIONS=top_pad=lots' m16 b
ok "KMM_OPTIONS with a bad value: a 'kmm: ' warning, the value ignored" sh -c "
	grep -q '^kmm: .*top_pad' '$KMM_TMP/bad2.kmm.err' && grep -qx 'brk 135168' '$KMM_TMP/bad2.kmm'"

# --- profiles: a bundle applied first, whatever its place in KMM_OPTIONS ------------
# params OPTS: the "parameters" report section of /bin/true under kmm
params() {
	with_timeout 60 env -u KMM_DEFAULT_PROFILE LD_PRELOAD="$KMM_LIB" KMM_OPTIONS="$1" KMM_STATS=1 \
		KMM_STATS_REPORT=params ${2:+KMM_DEFAULT_PROFILE="$2"} /bin/true 2>&1 | awk '$1 == "profile" || $1 == "threshold_rule" { printf "%s%s=%s", sep, $1, $2; sep = " " }'
}
is "$(params '')" "profile=kmm threshold_rule=cache" "the default profile is kmm's (threshold_rule cache)"
is "$(params profile=glibc)" "profile=glibc threshold_rule=glibc" "profile=glibc sets glibc's threshold rule"
is "$(params threshold_rule=cache,profile=glibc) / $(params profile=glibc,threshold_rule=cache)" \
	"profile=glibc threshold_rule=cache / profile=glibc threshold_rule=cache" \
	"an option changes what the profile set, before or after it in KMM_OPTIONS"
with_timeout 60 env LD_PRELOAD="$KMM_LIB" KMM_OPTIONS=profile=nosuch /bin/true 2>"$KMM_TMP/prof.err"
is "$(cat "$KMM_TMP/prof.err") | $(params profile=nosuch 2>/dev/null)" \
	"kmm: KMM_OPTIONS: unknown profile 'nosuch' (ignored; kmm, glibc or hardened) | profile=kmm threshold_rule=cache" \
	"an unknown profile: a warning, kmm's defaults"
is "$(params '' glibc) / $(params threshold_rule=cache glibc) / $(params profile=kmm glibc)" \
	"profile=glibc threshold_rule=glibc / profile=glibc threshold_rule=cache / profile=kmm threshold_rule=cache" \
	"KMM_DEFAULT_PROFILE=glibc: the profile when KMM_OPTIONS names none, under its options"
with_timeout 60 env LD_PRELOAD="$KMM_LIB" KMM_DEFAULT_PROFILE=nosuch /bin/true 2>"$KMM_TMP/prof2.err"
is "$(cat "$KMM_TMP/prof2.err") | $(params '' nosuch 2>/dev/null)" \
	"kmm: KMM_DEFAULT_PROFILE: unknown profile 'nosuch' (ignored; kmm, glibc or hardened) | profile=kmm threshold_rule=cache" \
	"KMM_DEFAULT_PROFILE=nosuch: a warning, kmm's defaults"
is "$(with_timeout 60 "$KMM_TOOL" run --profile=glibc --report=params -- /bin/true 2>&1 |
	awk '$1 == "profile" { print $2 }')" "glibc" "kmm run --profile=glibc"

# --- what the options say, and when (issue 16) ----------------------------------------
# ls closes its stderr before kmm's destructor runs: what kmm has to say
# about the options is said at start-up, and the report goes to its own
# copy of fd 2.
KNOWN="summary, meminfo, buddyinfo, pagetypeinfo, zoneinfo, slabinfo, vmallocinfo, maps, malloc_info, params, all, check"
with_timeout 60 env LD_PRELOAD="$KMM_LIB" KMM_STATS=1 KMM_STATS_REPORT=buddyinfo,vmalocinfo ls / \
	>/dev/null 2>"$KMM_TMP/sect.err"
is "$(head -1 "$KMM_TMP/sect.err")" \
	"kmm: KMM_STATS_REPORT: unknown section 'vmalocinfo' (ignored; known: $KNOWN)" \
	"KMM_STATS_REPORT=buddyinfo,vmalocinfo, ls: the unknown section named at start-up"
ok "KMM_STATS_REPORT=buddyinfo,vmalocinfo, ls: the report has the buddyinfo section" sh -c "
	grep -q '^buddyinfo (free blocks' '$KMM_TMP/sect.err' && grep -qE '^Node 0, zone +Normal' '$KMM_TMP/sect.err'"

params_line() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }'; }
with_timeout 60 env LD_PRELOAD="$KMM_LIB" KMM_OPTIONS=arena_max=4,arena_max=0 KMM_STATS=1 KMM_STATS_REPORT=params \
	/bin/true 2>"$KMM_TMP/amax.err"
is "$(grep -c '^kmm:' "$KMM_TMP/amax.err") $(params_line arena_max <"$KMM_TMP/amax.err" | cut -d' ' -f1)" "0 0" \
	"KMM_OPTIONS=arena_max=0: no warning, the default (0) in force"

with_timeout 60 env LD_PRELOAD="$KMM_LIB" KMM_OPTIONS=tcache_count=70000,mxfast=0x100 /bin/true 2>"$KMM_TMP/range.err"
is "$(cat "$KMM_TMP/range.err")" "kmm: KMM_OPTIONS: tcache_count=70000 out of range (0..65535; ignored)
kmm: KMM_OPTIONS: mxfast=0x100 out of range (0..160; ignored)" \
	"an out-of-range value: the warning gives the range"

# a relative KMM_STATS is the start-up directory's, for the process that
# moves (bash: dash ends with _exit, no report) and the programs it starts
# afterwards (ls)
mkdir -p "$KMM_TMP/start/elsewhere"
if have bash; then
	(cd "$KMM_TMP/start" && with_timeout 60 env LD_PRELOAD="$KMM_LIB" KMM_STATS=rel.stats \
		bash -c 'cd elsewhere; ls >/dev/null; exit 0')
	is "$(stats_reports "$KMM_TMP/start/rel.stats" bash)/$(stats_reports "$KMM_TMP/start/rel.stats" ls)/$(ls "$KMM_TMP/start/elsewhere")" \
		"1/1/" "KMM_STATS=rel.stats, bash -c 'cd elsewhere; ls': both reports in the start directory, none elsewhere"
else
	skip "KMM_STATS=rel.stats, bash -c 'cd elsewhere; ls': both reports in the start directory" "no bash"
fi

with_timeout 60 env LD_PRELOAD="$KMM_LIB" KMM_STATS=/nonexistent/dir/x ls / >/dev/null 2>"$KMM_TMP/nodir.err"
is "$(cat "$KMM_TMP/nodir.err")" \
	"kmm: KMM_STATS: cannot open /nonexistent/dir/x: No such file or directory (the report will be lost)" \
	"KMM_STATS=/nonexistent/dir/x, ls: a warning at start-up, while stderr is open"

# a FIFO is not opened at start-up: its reader would see the end of its
# input before the report
if mkfifo "$KMM_TMP/fifo" 2>/dev/null; then
	with_timeout 30 cat "$KMM_TMP/fifo" >"$KMM_TMP/fifo.out" &
	_cat=$!
	with_timeout 20 env LD_PRELOAD="$KMM_LIB" KMM_STATS="$KMM_TMP/fifo" KMM_STATS_REPORT=summary /bin/true
	wait $_cat
	is "$(stats_reports "$KMM_TMP/fifo.out" true)" 1 "KMM_STATS=FIFO: its reader gets the report"
else
	skip "KMM_STATS=FIFO: its reader gets the report" "no mkfifo"
fi

# --- what docs/api.md says ----------------------------------------------------------------
# malloc_usable_size: a big block (200000 bytes: above the mmap threshold)
# reports its whole pages (49 pages: 200704), a heap chunk its size - 8
probe usable kmm 'KMM_OPTIONS=front=tcache,redzone=off' m200000 u0 m100 u1
probe usable plain '' m200000 u0
is "$(sed -n 's/^u //p' "$KMM_TMP/usable.kmm" | tr '\n' ' ')" "200000 200704 100 104 " \
	"malloc_usable_size: a big block's page-rounded size, a heap chunk's size - 8 (api.md)"
is "$(sed -n 's/^u //p' "$KMM_TMP/usable.plain")" "200000 200688" \
	"glibc's mapped chunk: its size - 16 (api.md's difference)"
# arenas: each thread that allocates gets one of its own, as in glibc
# (up to 8 x cores: 4 threads fit any machine's limit); malloc_info
# lists a heap per arena
probe arenas kmm '' a4
probe arenas plain '' a4
is "$(cat "$KMM_TMP/arenas.kmm")/$(cat "$KMM_TMP/arenas.plain")" "arenas 5/arenas 5" \
	"4 threads allocating at once: 5 arenas in malloc_info (main + 4), as glibc's"
probe arenas2 kmm 'KMM_OPTIONS=arena_max=2' a4
is "$(cat "$KMM_TMP/arenas2.kmm")" "arenas 2" "arena_max=2: 4 threads share 2 arenas"

# --- the same in the system calls --------------------------------------------------
if strace_ok; then
	trace_heap "$KMM_TMP/trace.kmm" -E LD_PRELOAD="$KMM_LIB" -E KMM_OPTIONS=top_pad=0,mmap_threshold=64k \
		"$HP" M m100k M >"$KMM_TMP/tprobe.kmm" 2>/dev/null
	ok "strace, KMM_OPTIONS=top_pad=0,mmap_threshold=64k: a first 100 KiB request is a vmalloc area" \
		mapped_by_vmalloc "$KMM_TMP/trace.kmm" 1 "$(cut -d' ' -f4 "$KMM_TMP/tprobe.kmm")"
else
	skip "strace, KMM_OPTIONS=top_pad=0,mmap_threshold=64k: a first 100 KiB request is a vmalloc area" \
		"strace not available"
fi
