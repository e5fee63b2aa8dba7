#!/bin/sh
# bench/programs/redis.sh — program workload `redis`: Debian's
# redis-server, the program measured, on a unix socket in the run
# directory (no TCP port: `port 0`, `bind 127.0.0.1`), with no
# persistence.  Each run starts the server with the allocator preloaded,
# loads a generated data set into database 0 (strings, hashes, lists,
# sets and sorted sets, then deletes, appends and trims; fixed seed) with
# `redis-cli --pipe`, drives it with redis-benchmark (fixed -n/-c/-P/-r,
# random keys, in database 1), empties database 1, and takes `DEBUG
# DIGEST` of what is left (database 0) as the checksum.  The server is
# then shut down (SHUTDOWN NOSAVE) and must exit 0.  redis-cli and
# redis-benchmark run without the preload.
#
# Debian's redis-server is linked with libjemalloc.so.2, so with nothing
# preloaded it would run on jemalloc.  For the glibc column this script
# therefore preloads glibc's own libc.so.6, which puts glibc's malloc
# ahead of jemalloc's; a preloaded allocator likewise replaces malloc,
# calloc, realloc, free and malloc_usable_size.  redis still calls
# jemalloc's mallctl and nallocx (statistics, size hints), and starts
# jemalloc's background thread, under every allocator.
#
# The peak RSS printed ("maxrss") is the server's own (VmHWM just before
# the shutdown), not that of the whole run with its clients.
# Protocol: bench/programs/common.sh.
. "$(dirname "$0")/common.sh"

server=$(find_prog redis-server redis-server) || { echo "$server"; exit 77; }
cli=$(find_prog redis-cli redis-tools) || { echo "$cli"; exit 77; }
benchmark=$(find_prog redis-benchmark redis-tools) || { echo "$benchmark"; exit 77; }

case $mode in
check) exit 0 ;;
prepare)
	# glibc's libc.so.6 as the server loads it, for the glibc column
	if ldd "$server" 2>/dev/null | grep -q 'libjemalloc\.so'; then
		ldd "$server" | awk '$1 == "libc.so.6" { print $3 }' >"$data/libc"
		[ -s "$data/libc" ] || { echo "cannot find the libc.so.6 that $server uses"; exit 1; }
	fi
	keys=$(scaled 60000)
	# the data set, in the redis protocol
	awk -v keys="$keys" "$AWK_RND"'
	function cmd(n,    i, s) {
		s = "*" n "\r\n"
		for (i = 1; i <= n; i++) s = s "$" length(a[i]) "\r\n" a[i] "\r\n"
		printf "%s", s
	}
	BEGIN {
		seed = 8675309
		for (i = 0; i < keys; i++) {
			a[1] = "SET"; a[2] = "key:" i; a[3] = word(5 + rnd(200)); cmd(3)
		}
		for (i = 0; i < keys / 10; i++) {
			a[1] = "HSET"; a[2] = "hash:" i; n = 2
			for (f = 0; f < 2 + rnd(20); f++) { a[++n] = "field" f; a[++n] = word(2 + rnd(30)) }
			cmd(n)
		}
		for (i = 0; i < keys / 50; i++) {
			a[1] = "RPUSH"; a[2] = "list:" i; n = 2
			for (e = 0; e < 10 + rnd(100); e++) a[++n] = word(3 + rnd(20))
			cmd(n)
			a[1] = "SADD"; a[2] = "set:" i; n = 2
			for (e = 0; e < 5 + rnd(60); e++) a[++n] = word(2 + rnd(6))
			cmd(n)
			a[1] = "ZADD"; a[2] = "zset:" i; n = 2
			for (e = 0; e < 5 + rnd(80); e++) { a[++n] = rnd(100000); a[++n] = word(3 + rnd(8)) }
			cmd(n)
		}
		for (i = 0; i < keys / 4; i++) {
			k = rnd(keys); r = rnd(4)
			if (r == 0) { a[1] = "DEL"; a[2] = "key:" k; cmd(2) }
			else if (r == 1) { a[1] = "APPEND"; a[2] = "key:" k; a[3] = word(10 + rnd(300)); cmd(3) }
			else if (r == 2) { a[1] = "LTRIM"; a[2] = "list:" int(k / 50); a[3] = rnd(5); a[4] = 5 + rnd(90); cmd(4) }
			else { a[1] = "SET"; a[2] = "new:" k; a[3] = word(20 + rnd(1000)); cmd(3) }
		}
	}' >"$data/load.resp"
	;;
run)
	fresh_rundir
	sock=$rundir/redis.sock
	if [ -z "${KMM_BENCH_PRELOAD:-}" ] && [ -s "$data/libc" ]; then
		KMM_BENCH_PRELOAD=$(cat "$data/libc")
	fi
	preloaded "$server" --port 0 --bind 127.0.0.1 --unixsocket "$sock" --unixsocketperm 700 \
		--save "" --appendonly no --daemonize no --dir "$rundir" --logfile "$rundir/server.log" \
		--enable-debug-command local --databases 2 &
	job=$!
	trap 'kill $job 2>/dev/null || :' EXIT
	tries=0
	until [ -S "$sock" ] && "$cli" -s "$sock" ping >/dev/null 2>&1; do
		tries=$((tries + 1))
		if [ "$tries" -gt 1000 ] || ! kill -0 "$job" 2>/dev/null; then
			echo "redis-server did not start:"; cat "$rundir/server.log"; exit 1
		fi
		sleep 0.01
	done
	pid=$("$cli" -s "$sock" info server | tr -d '\r' | awk -F: '$1 == "process_id" { print $2 }')

	"$cli" -s "$sock" --pipe <"$data/load.resp" >"$rundir/load.out" ||
		{ cat "$rundir/load.out"; exit 1; }
	grep -q 'errors: 0,' "$rundir/load.out" || { cat "$rundir/load.out"; exit 1; }
	n=$(scaled 15000)
	"$benchmark" -s "$sock" --dbnum 1 -n "$n" -c 20 -P 16 -r 100000 -d 128 -q \
		-t set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,mset \
		>"$rundir/bench.out" 2>&1 || { cat "$rundir/bench.out"; exit 1; }
	"$cli" -s "$sock" -n 1 flushdb >/dev/null
	{
		"$cli" -s "$sock" dbsize
		"$cli" -s "$sock" debug digest
	} >"$rundir/out"
	awk '$1 == "VmHWM:" { print "maxrss", $2 }' "/proc/$pid/status"
	"$cli" -s "$sock" shutdown nosave >/dev/null 2>&1 || :
	trap - EXIT
	status=0
	wait "$job" || status=$?
	if [ "$status" != 0 ]; then
		echo "redis-server exited with status $status:"; tail -n 20 "$rundir/server.log"; exit 1
	fi
	checksum "$rundir/out"
	rm -rf "$rundir"
	;;
esac
