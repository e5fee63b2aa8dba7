#!/bin/sh
# live.sh — the live view (KMM_LIVE=1, `kmm cat`, `kmm top`; docs/profiling.md,
# "Live view"): tests/progs/livephases allocates in phases, driven through a
# FIFO, and is read with `kmm cat` after each: live bytes and slab objects
# move by what the phase allocated, big blocks by theirs, and come back when
# freed; the slabinfo layout is the --stats report's; readers running in
# loops while 2 threads churn never get a torn copy and the program's
# blocks stay intact; a fork child has its own segment; the segment is
# 0600 and gone at exit; a SIGKILLed process's segment is called stale
# (and removed by the next KMM_LIVE process),
# and the other one-line answers (no such process, not running kmm,
# another user's, another layout version) are given; segments written by
# hand (tests/progs/livefake) check that the reader refuses a torn copy
# and a publication that never ends.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan_lazy

T=$KMM_TMP
LP=$KMM_PROGS/livephases
live() { with_timeout 30 "$KMM_TOOL" "$@"; }
# counter PID NAME: one number of `kmm cat PID counters`
counter() { live cat "$1" counters 2>/dev/null | awk -v k="$2" '$1 == k { print $2 }'; }
# slab_active PID CACHE: active objects of a slab cache in `kmm cat PID slabinfo`
slab_active() { live cat "$1" slabinfo 2>/dev/null | awk -v k="$2" '$1 == k { print $2 }'; }

# start: livephases under KMM_LIVE=1, its input a FIFO on fd 7, its answers
# in $T/out; cmd LINE: send one command, wait for its answer
mkfifo "$T/in"
start() {
	: >"$T/out"
	with_timeout 120 env LD_PRELOAD="$KMM_LIB" KMM_LIVE=1 KMM_OPTIONS=profile=kmm "$@" "$LP" <"$T/in" >"$T/out" 2>"$T/err" &
	lp_pid=$!
	exec 7>"$T/in"
	# (with_timeout's timeout execs env which execs the program: find the program's pid)
	pid=''
	for _i in $(seq 100); do
		pid=$(pgrep -n -f "^$LP\$" 2>/dev/null) || pid=''
		[ -n "$pid" ] && [ -e "/dev/shm/kmm.$pid" ] && break
		sleep 0.05
	done
}
cmd() {
	_n=$(wc -l <"$T/out")
	echo "$1" >&7
	for _i in $(seq 600); do
		[ "$(wc -l <"$T/out")" -gt "$_n" ] && break
		sleep 0.05
	done
	tail -n 1 "$T/out"
}

start
ok "livephases runs with a segment /dev/shm/kmm.PID" test -n "$pid" -a -e "/dev/shm/kmm.$pid"
seg=/dev/shm/kmm.$pid
is "$(stat -c '%a %u' "$seg" 2>/dev/null)" "600 $(id -u)" "the segment is mode 0600, owned by the process's user"

cmd poke >/dev/null
live0=$(counter "$pid" live_bytes)
objs0=$(slab_active "$pid" uslab-112)
big0=$(counter "$pid" big_count)
pub0=$(counter "$pid" publications)
live cat "$pid" counters >"$T/c0"
ok "kmm cat PID counters: a publication, check pair equal" \
	awk '$1 == "check_a" { a = $2 } $1 == "check_b" { b = $2 } END { exit !(a == b && a > 0) }' "$T/c0"

# phase 1: 1000 blocks of 100 bytes (slab objects of 112 bytes)
is "$(cmd 'alloc 1000 100')" "ok alloc 1000 100" "phase 1: 1000 x 100 bytes allocated"
cmd poke >/dev/null
live1=$(counter "$pid" live_bytes)
objs1=$(slab_active "$pid" uslab-112)
d=$((live1 - live0))
ok "phase 1: live bytes up by the phase's bytes (+$d; 1000 x 112-byte objects = 112000)" \
	test "$d" -ge 112000 -a "$d" -le 140000
d=$((objs1 - objs0))
ok "phase 1: uslab-112 active objects up by 1000 (+$d)" test "$d" -ge 1000 -a "$d" -le 1010
is "$(live cat "$pid" counters | awk '$1 == "cache_uslab-112" { print $3, $5, $7 }')" \
	"$(live cat "$pid" slabinfo | awk '$1 == "uslab-112" { print $2, $3, $4 }')" \
	"phase 1: the published uslab-112 row (active, total, size) is the slabinfo text's"
ok "phase 1: more publications than at phase 0" test "$(counter "$pid" publications)" -gt "$pub0"

# phase 2: 20 big blocks of 200000 bytes (vmalloc areas)
is "$(cmd 'alloc 20 200000')" "ok alloc 20 200000" "phase 2: 20 x 200000 bytes allocated"
cmd poke >/dev/null
live2=$(counter "$pid" live_bytes)
d=$((live2 - live1))
ok "phase 2: live bytes up by at least 20 x 200000 (+$d)" test "$d" -ge 4000000 -a "$d" -le 4400000
d=$(( $(counter "$pid" big_count) - big0 ))
is "$d" "20" "phase 2: big blocks up by 20"
ok "phase 2: kmm cat PID vmallocinfo lists the areas" \
	test "$(live cat "$pid" vmallocinfo | grep -c 'pages=49 ')" -ge 20

# phase 3: everything freed
is "$(cmd free)" "ok free" "phase 3: every block freed"
cmd poke >/dev/null
live3=$(counter "$pid" live_bytes)
d=$((live3 - live0)); [ "$d" -lt 0 ] && d=$((-d))
ok "phase 3: live bytes back to phase 0's (within 16 KiB: $live0 -> $live3)" test "$d" -le 16384
is "$(slab_active "$pid" uslab-112)" "${objs0:-0}" "phase 3: uslab-112 active objects back to phase 0's"
ok "the peak kept phase 2's live bytes" test "$(counter "$pid" live_peak)" -ge "$live2"

# the layouts of the --stats report
live cat "$pid" slabinfo >"$T/cat.slabinfo"
live cat "$pid" meminfo >"$T/cat.meminfo"
live cat "$pid" all >"$T/cat.all"
# (the same phases, then the report at exit)
printf 'alloc 1000 100\nalloc 20 200000\nfree\nquit\n' >"$T/phases"
with_timeout 60 env LD_PRELOAD="$KMM_LIB" KMM_OPTIONS=profile=kmm KMM_STATS="$T/stats" \
	KMM_STATS_REPORT=slabinfo,meminfo "$LP" <"$T/phases" >/dev/null 2>&1
# (the report's order: meminfo, then slabinfo)
sed -n '/^slabinfo - version/,$p' "$T/stats" >"$T/stats.slabinfo"
sed -n '/^meminfo$/,/^slabinfo - version/p' "$T/stats" | sed '$d' >"$T/stats.meminfo"
is "$(head -n 2 "$T/cat.slabinfo")" "$(head -n 2 "$T/stats.slabinfo")" "cat slabinfo: the report's two header lines"
is "$(awk '{ print $1, NF }' "$T/cat.slabinfo" | sed 1,2d | grep -v '^uslab-' | sort)" \
	"$(awk '{ print $1, NF }' "$T/stats.slabinfo" | sed 1,2d | grep -v '^uslab-' | sort)" \
	"cat slabinfo: the same caches and columns as KMM_STATS_REPORT=slabinfo (kmm's own caches)"
is "$(awk '{ print $1, NF }' "$T/cat.meminfo")" "$(awk '{ print $1, NF }' "$T/stats.meminfo")" \
	"cat meminfo: the same lines as KMM_STATS_REPORT=meminfo"
for s in summary meminfo buddyinfo slabinfo vmallocinfo maps; do
	ok "cat all holds $s" test -n "$(live cat "$pid" "$s")"
done
is "$(awk '/^heap \(main arena/ { print "summary" } /^meminfo$/ { print "meminfo" } /^buddyinfo \(/ { print "buddyinfo" }
	/^slabinfo - / { print "slabinfo" } /^vmallocinfo$/ { print "vmallocinfo" } /^maps$/ { print "maps" }' "$T/cat.all" | tr '\n' ' ')" \
	"summary meminfo buddyinfo slabinfo vmallocinfo maps " "cat all: the default report's sections, in order"

# kmm top, batch
live top -b >"$T/top" 2>&1
ok "kmm top -b: a line for the process" grep -qE "^ *$pid livephases " "$T/top"
live top -b -s peak -n 2 -d 0.2 >"$T/top2" 2>&1
is "$(grep -c '^kmm top - ' "$T/top2")" "2" "kmm top -b -n 2: two screens"
live top -b "$pid" >"$T/top1" 2>&1
ok "kmm top -b PID: one line per slab cache (uslab-112)" grep -qE ' uslab-112$' "$T/top1"
ok "kmm top -s with an unknown column: status 2" sh -c "! '$KMM_TOOL' top -b -s nope >/dev/null 2>&1"

# concurrent readers while 2 threads churn
echo 'churn 3' >&7
rpids=''
for r in 1 2 3; do
	(
		end=$(( $(date +%s) + 3 ))
		while [ "$(date +%s)" -le "$end" ]; do
			"$KMM_TOOL" cat "$pid" counters >"$T/r$r.cur" 2>&1
			echo "status $?" >>"$T/r$r.log"
			# one line: publications N check_a A check_b B
			awk '$1 == "check_a" || $1 == "check_b" || $1 == "publications"' "$T/r$r.cur" | tr '\n' ' ' >>"$T/r$r.log"
			echo >>"$T/r$r.log"
		done
	) &
	rpids="$rpids $!"
done
for _i in $(seq 300); do grep -q '^ok churn' "$T/out" && break; sleep 0.1; done
# shellcheck disable=SC2086
wait $rpids
churn=$(grep '^ok churn' "$T/out" | awk '{ print $3 }')
ok "churn: 2 threads made $churn allocations, every block intact (the program checks)" test "${churn:-0}" -gt 1000
reads=$(cat "$T"/r?.log | grep -c '^status 0')
ok "readers: $reads complete copies read while churning" test "$reads" -ge 10
is "$(cat "$T"/r?.log | grep '^status' | grep -vc '^status 0')" "0" "readers: every read succeeded (no torn or partial copy)"
is "$(cat "$T"/r?.log | awk '/check_a/ { if ($3 != "check_a" || $4 != $6) n++ } END { print n + 0 }')" "0" \
	"readers: check_a == check_b in every copy"
pubs=$(cat "$T"/r?.log | awk '/publications/ { print $2 }' | sort -un | wc -l)
ok "readers: saw $pubs different publications during the churn" test "$pubs" -ge 5

# exit: the segment is removed
is "$(cmd quit)" "ok quit" "livephases quits"
exec 7>&-
wait "$lp_pid" 2>/dev/null
ok "the segment is removed at exit" test ! -e "$seg"
live cat "$pid" meminfo >"$T/gone.out" 2>&1
is "$?:$(cat "$T/gone.out")" "2:kmm: pid $pid: no such process" "a process that exited: no such process (status 2)"

# fork: the child makes its own segment and leaves the parent's alone
if have python3; then
	with_timeout 60 env LD_PRELOAD="$KMM_LIB" KMM_LIVE=1 python3 -c '
import os, sys
parent = os.getpid()
pid = os.fork()
if pid == 0:
    child = os.getpid()
    junk = [bytearray(300000) for i in range(4)]   # slow paths: the segment is made on the first
    del junk
    ok = os.path.exists("/dev/shm/kmm.%d" % child) and os.path.exists("/dev/shm/kmm.%d" % parent)
    os._exit(0 if ok else 1)
_, st = os.waitpid(pid, 0)
print("child", os.waitstatus_to_exitcode(st), "parent", os.path.exists("/dev/shm/kmm.%d" % parent))
' >"$T/fork.out" 2>&1
	is "$(cat "$T/fork.out")" "child 0 parent True" "fork: the child has kmm.CHILDPID once it allocates, the parent's kmm.PID stays"
else
	skip "fork: the child has its own segment" "no python3"
fi

# a SIGKILLed process: its segment is stale
start
cmd poke >/dev/null
kpid=$pid
kill -9 "$kpid"
exec 7>&-
wait "$lp_pid" 2>/dev/null
for _i in $(seq 50); do kill -0 "$kpid" 2>/dev/null || break; sleep 0.05; done
ok "a killed process leaves its segment" test -e "/dev/shm/kmm.$kpid"
live cat "$kpid" meminfo >"$T/stale.out" 2>&1
is "$?" "2" "kmm cat of the killed process: status 2"
ok "kmm cat of the killed process: stale segment" grep -q "stale segment" "$T/stale.out"

# a segment whose pid is reused by a process that does not run kmm (start time differs)
sleep 30 &
spid=$!
cp "/dev/shm/kmm.$kpid" "/dev/shm/kmm.$spid"
live cat "$spid" meminfo >"$T/reused.out" 2>&1
ok "a segment of an earlier process with a live pid: stale" grep -q "stale segment.*earlier process" "$T/reused.out"
# another layout version
printf '\143' | dd of="/dev/shm/kmm.$spid" bs=1 seek=8 conv=notrunc 2>/dev/null
live cat "$spid" meminfo >"$T/version.out" 2>&1
ok "another layout version: said so (status 2)" grep -q "layout version 99" "$T/version.out"
# the next KMM_LIVE process of the user removes the dead process's segment
with_timeout 60 env LD_PRELOAD="$KMM_LIB" KMM_LIVE=1 true
ok "a new KMM_LIVE process removed the killed process's stale segment" test ! -e "/dev/shm/kmm.$kpid"
ok "... and left a live pid's segment alone" test -e "/dev/shm/kmm.$spid"
rm -f "/dev/shm/kmm.$spid" "/dev/shm/kmm.$kpid"
# not running kmm
live cat "$spid" meminfo >"$T/nokmm.out" 2>&1
is "$?:$(cat "$T/nokmm.out")" "2:kmm: pid $spid: not running kmm with KMM_LIVE=1 (no /dev/shm/kmm.$spid)" \
	"a process not running kmm: said so (status 2)"
kill "$spid" 2>/dev/null

# the reader's refusals, on segments written by hand (tests/progs/livefake)
fake() { # STATE: run livefake STATE, then kmm cat its pid's counters into $T/fake.out
	mkfifo "$T/fake.in.$1"
	"$KMM_PROGS/livefake" "$1" <"$T/fake.in.$1" >"$T/fake.ready" &
	_fp=$!
	exec 6>"$T/fake.in.$1"
	for _i in $(seq 100); do grep -q ready "$T/fake.ready" && break; sleep 0.05; done
	live cat "$_fp" counters >"$T/fake.out" 2>&1
	fake_status=$?
	exec 6>&-
	wait "$_fp"
}
fake good
is "$fake_status:$(awk '$1 == "live_bytes" { print $2 }' "$T/fake.out")" "0:4242" "a consistent segment written by hand is read (live_bytes 4242)"
fake torn
is "$fake_status" "3" "a torn copy (check_a != check_b): status 3"
ok "a torn copy: said so" grep -q "torn copy (check 1 != 2)" "$T/fake.out"
fake odd
is "$fake_status" "3" "a publication never finished (seq odd): status 3 after a second"
ok "a publication never finished: said so" grep -q "no complete publication" "$T/fake.out"

# another user's process
if [ "$(id -u)" = 0 ] && have setpriv && id nobody >/dev/null 2>&1; then
	start
	cmd poke >/dev/null
	setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups "$KMM_TOOL" cat "$pid" meminfo >"$T/other.out" 2>&1
	is "$?" "2" "another user's process: status 2"
	ok "another user's process: permission denied" grep -q "permission denied" "$T/other.out"
	cmd quit >/dev/null
	exec 7>&-
	wait "$lp_pid" 2>/dev/null
else
	skip "another user's process: permission denied" "not root, or no setpriv/nobody"
fi

# without KMM_LIVE: no segment
with_timeout 60 env LD_PRELOAD="$KMM_LIB" sh -c 'test ! -e /dev/shm/kmm.$$' 
is "$?" "0" "without KMM_LIVE: no segment"

done_testing
