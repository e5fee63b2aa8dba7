#!/bin/sh
# kernel.sh — the kernel side seen from a running program, through the
# /proc-style exit reports of `kmm run --stats --report=...`:
#   - the seed's example: malloc(8 MiB) is a vmalloc area of 2048 pages shown
#     with its guard page (size 0x801000 = 8392704), its caller, its pages;
#   - the fault-in model: pages fault in on demand (only what the program
#     touched is resident) unless populate=on prefaults the area; the maps
#     report says which, per region, with the process's minor faults;
#   - guard pages keep areas apart; realloc grows an area in place;
#   - the buddy allocator gives free memory above its high watermark back to
#     the OS: RSS falls after the program frees;
#   - buddyinfo, pagetypeinfo, zoneinfo, slabinfo and meminfo have the
#     kernel's layouts and agree with each other.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan 23

kmm() { with_timeout 60 "$KMM_TOOL" "$@"; }
HP=$KMM_PROGS/heapprobe
cd "$KMM_TMP" || exit 1

# vmallocinfo_line FILE CALLER-PREFIX SIZE: the vmallocinfo line of the area
# of SIZE bytes (guard page included) whose caller starts with CALLER-PREFIX
vmallocinfo_line() {
	awk -v who="$2" -v size="$3" '
	/^vmallocinfo$/ { on = 1; next }
	on && /^0x/ { if ($2 == size && index($3, who) == 1) print; next }
	on { on = 0 }' "$1"
}
field() { # LINE NAME: the value of NAME=... in LINE
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# --- the seed's 8 MiB example ------------------------------------------------------
kmm run --stats --report=vmallocinfo -- "$HP" m8m t0 >m8.out 2>m8.err
line=$(vmallocinfo_line m8.err heapprobe 8392704)
ok "malloc(8 MiB): vmallocinfo shows an area of size 8392704 (0x801000) called from heapprobe" \
	test -n "$line"
[ -n "$line" ] || sed 's/^/#   /' m8.err
is "$(field "$line" pages)" 2048 "malloc(8 MiB): pages=2048"
range=${line%% *}
len=$(( ${range#*-} - ${range%-*} ))
is "$len" 8392704 "malloc(8 MiB): the range covers 2048 pages and the guard page"
is "$(field "$line" resident)" 2048 "malloc(8 MiB), every page touched: resident=2048"
addr=$(awk '$1 == "m" { print $4 }' m8.out)
ok "malloc(8 MiB) returned the area's start (no header in front of a big block)" \
	sh -c "printf '%s\n' '$line' | grep -q '^0x0*${addr#0x}-'"

# --- the fault-in model ---------------------------------------------------------------
kmm run --report=vmallocinfo,maps -- "$HP" m8m >demand.out 2>demand.err
line=$(vmallocinfo_line demand.err heapprobe 8392704)
res=$(field "$line" resident)
ok "on demand: only the page heapprobe wrote is resident (resident=$res of 2048)" \
	test "${res:-9999}" -le 2
ok "on demand: the maps report shows the area 'on demand'" \
	grep -q 'vmalloc area *8192 kB .*on demand' demand.err
ok "maps: the brk heap is on demand, and the process's page faults are reported" sh -c \
	"grep -q 'brk heap .*on demand' demand.err && grep -q '^page faults of the process so far: [0-9]* minor' demand.err"
kmm run --options=populate=on --report=vmallocinfo,maps -- "$HP" m8m >pop.out 2>pop.err
line=$(vmallocinfo_line pop.err heapprobe 8392704)
is "$(field "$line" resident)" 2048 "populate=on: all 2048 pages resident without being touched"
ok "populate=on: the maps report shows the area 'prefault' with 8192 kB resident" \
	grep -q 'vmalloc area *8192 kB *8192 kB *prefault' pop.err

# --- guard pages, realloc in place, lazy reuse ---------------------------------------------
kmm run --report=vmallocinfo -- "$HP" m8m m8m r0,12m >areas.out 2>areas.err
a0=$(awk '$1 == "m" { print $4; exit }' areas.out)
a1=$(awk '$1 == "m" { n++ } $1 == "m" && n == 2 { print $4 }' areas.out)
gap=$(( a1 - a0 ))
ok "two 8 MiB blocks lie at least 8 MiB + a guard page apart ($gap bytes)" test "$gap" -ge 8392704
ok "realloc(8 MiB -> 12 MiB) of the lower block moved it (its neighbour is in the way)" \
	grep -q '^r 12582912 mmap .* moved$' areas.out
kmm run --profile=kmm -- "$HP" m256k f0 m256k >lazy.out 2>&1
is "$(awk '$1 == "m" { print $4 }' lazy.out | uniq | wc -l | tr -d ' ')" 1 \
	"a lazily freed 256 KiB area is taken back as it is by the next malloc(256 KiB)"
kmm run --profile=kmm --report=vmallocinfo -- "$HP" m8m t0 f0 m8m >recycle.out 2>recycle.err
line=$(vmallocinfo_line recycle.err heapprobe 8392704)
is "$(field "$line" resident)" 2048 \
	"free(8 MiB) then malloc(8 MiB): the new area is built from the resident frames (resident=2048, untouched)"
kmm run -- "$HP" m8m r0,12m r0,16m >grow.out 2>&1
ok "realloc of the last area grows it in place (8 -> 12 -> 16 MiB)" sh -c \
	"test \$(grep -c ' kept\$' grow.out) -eq 2"

# --- RSS falls after free ----------------------------------------------------------------
kmm run --options=watermark_high=4m,vmalloc_lazy_max=4m --report=meminfo -- \
	"$HP" m20m t0 m20m t1 m20m t2 R f0 f1 f2 R >rss.out 2>rss.err
peak=$(awk '$1 == "rss" { print $2; exit }' rss.out)
after=$(awk '$1 == "rss" { v = $2 } END { print v }' rss.out)
ok "watermarks: RSS $peak kB with 60 MiB touched, $after kB after free (falls by 50 MiB at least)" \
	test $(( ${peak:-0} - ${after:-0} )) -ge 51200
kmm run --report=meminfo -- "$HP" m20m t0 m20m t1 m20m t2 R f0 f1 f2 R >rssd.out 2>rssd.err
peak=$(awk '$1 == "rss" { print $2; exit }' rssd.out)
after=$(awk '$1 == "rss" { v = $2 } END { print v }' rssd.out)
budget=$(awk '$1 == "VmallocCache:" { print $2 }' rssd.err)
ok "default: RSS after free ($after kB) within the cache budget ($budget kB) + 8 MiB" \
	test "${after:-999999}" -le $(( ${budget:-0} + 8192 ))

# --- report layouts --------------------------------------------------------------------
kmm run --report=buddyinfo,pagetypeinfo,zoneinfo,slabinfo,meminfo -- "$HP" m8m n2000x100 >rep.out 2>rep.err
ok "buddyinfo: 'Node 0, zone   Normal' and 11 free-block counts (orders 0..10)" sh -c \
	"grep -E '^Node 0, zone +Normal( +[0-9]+){11}\$' rep.err"
free_pages=$(awk '/^Node 0, zone +Normal( +[0-9]+)+$/ && NF == 15 { s = 0; for (i = 5; i <= NF; i++) s += $i * 2 ^ (i - 5); print s }' rep.err)
zone_free=$(sed -n 's/.*managed [0-9]* pages, free \([0-9]*\),.*/\1/p' rep.err)
is "$free_pages" "$zone_free" "buddyinfo's blocks add up to zoneinfo's free pages"
ok "pagetypeinfo: per migrate type counts and pageblock order" sh -c \
	"grep -q '^Page block order: 9' rep.err && grep -q 'type      Movable' rep.err && grep -q 'type    Unmovable' rep.err"
ok "slabinfo: version 2.1 header and kmalloc-8 ... kmalloc-8192" sh -c \
	"grep -q '^slabinfo - version: 2.1' rep.err && test \$(grep -cE '^kmalloc-[0-9]+ ' rep.err) -eq 13"
ok "slabinfo: kmm's own metadata caches (kmem_cache, vmap_area) are in use" sh -c \
	"grep -qE '^kmem_cache +[1-9]' rep.err && grep -qE '^vmap_area +[1-9]' rep.err"
ok "meminfo: the 8 MiB block counted (BigBlocks: 8192 kB, VmallocUsed >= 8192 kB)" sh -c \
	"grep -qE '^BigBlocks: +8192 kB' rep.err && awk '\$1 == \"VmallocUsed:\" && \$2 >= 8192 { f = 1 } END { exit !f }' rep.err"
