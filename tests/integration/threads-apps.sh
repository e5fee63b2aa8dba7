#!/bin/sh
# threads-apps.sh — real threaded programs under kmm: python3 threads and a
# multiprocessing pool (fork start method), sort --parallel=2, xz -T2, and a
# threaded C program that forks and execs (tests/progs/threadexec).  Each
# gives the output it gives with glibc's malloc (or the expected one), and
# each proves that kmm served its allocations (exit reports of KMM_STATS, or
# the counters of kmm_report() read inside a forked worker).
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan_lazy

# skip_all REASON DESCRIPTION...: one skipped check per description
skip_all() {
	_sn_r=$1; shift
	for _sn_d in "$@"; do skip "$_sn_d" "$_sn_r"; done
}

# stats_min_calls FILE COMM: the fewest allocations any report from COMM
# counted ("allocations served by", summed over mechanisms); 0 without one
stats_min_calls() {
	[ -f "$1" ] || { echo 0; return 0; }
	awk -v want="$2" '
	function flush() { if (cur == want) { if (!seen || sum < min) min = sum; seen = 1 } }
	/^== kmm .* report: pid [0-9]+ \(/ {
		if (have) flush()
		c = $0; sub(/^[^(]*\(/, "", c); sub(/\), [^,]*==$/, "", c); cur = c; sum = 0; have = 1
		next
	}
	/^allocations served by/ { served = 1; next }
	served && /^  / {
		s = $0; gsub(/\([^)]*\)/, "", s); gsub(/,/, "", s)
		n = split(s, f, " ")
		for (i = 2; i <= n; i += 2) sum += f[i]
		next
	}
	{ served = 0 }
	END { if (have) flush(); printf "%.0f\n", seen ? min : 0 }' "$1"
}

# ---- python3 ------------------------------------------------------------------
PY=
if have python3; then
	PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
fi
py_checks_threads='python threads: plain run sane
python threads: results under kmm match the sequential run
python threads: output identical under kmm
python threads: kmm served its mallocs'
py_checks_pool='python multiprocessing (fork): plain run sane
python multiprocessing (fork): results under kmm match the sequential run
python multiprocessing (fork): output identical under kmm
python multiprocessing (fork): kmm loaded in every worker, served allocations there
python multiprocessing (fork): the parent reported, kmm served its mallocs'

if [ -z "$PY" ] || [ ! -x "$PY" ]; then
	printf '%s\n%s\n' "$py_checks_threads" "$py_checks_pool" >"$KMM_TMP/py.names"
	while IFS= read -r d; do skip "$d" "no working python3"; done <"$KMM_TMP/py.names"
else
	PYTHONDONTWRITEBYTECODE=1
	export PYTHONDONTWRITEBYTECODE
	diag "python: $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"

	# four threads build and drop dicts and lists; what they build goes
	# through a queue to another thread, which checks and drops it (frees
	# of memory another thread allocated)
	cat >"$KMM_TMP/pthreads.py" <<'PYEOF'
import hashlib, queue, threading

N = 4
ROUNDS = 1500

def build(seed, j):
    d = {}
    for k in range(20 + (j * 7 + seed) % 40):
        key = "%d-%d-%d" % (seed, j, (k * 2654435761) % 10007)
        d[key] = [k, str(k) * (1 + k % 5), (seed, j)]
    return d

def digest_of(d):
    return hashlib.sha1(repr(sorted(d.items())).encode()).hexdigest()[:12]

def work(seed, inbox, outboxes, out):
    kept = []
    for j in range(ROUNDS):
        d = build(seed, j)
        lst = [x * x for x in range(j % 300)]
        if j % 3 == 0:
            # hand it to the next thread, which checks it and drops it
            outboxes[(seed + 1) % N].put((seed, j, d, digest_of(d)))
        else:
            kept.append((d, lst))
            if len(kept) > 50:
                del kept[:25]
        try:
            while True:
                s, jj, dd, dg = inbox.get_nowait()
                if digest_of(dd) != dg or s != (seed - 1) % N:
                    out["bad"] = out.get("bad", 0) + 1
                del dd
        except queue.Empty:
            pass
    out[seed] = (len(kept), sum(len(d) for d, _ in kept))

def run():
    boxes = [queue.Queue() for _ in range(N)]
    out = {}
    threads = [threading.Thread(target=work, args=(i, boxes[i], boxes, out)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # what is left in the queues, drained on the main thread
    left = 0
    for b in boxes:
        while not b.empty():
            s, jj, dd, dg = b.get()
            left += 1
            if digest_of(dd) != dg:
                out["bad"] = out.get("bad", 0) + 1
    return out, left

out, left = run()
ref = {}
for i in range(N):
    work(i, queue.Queue(), [queue.Queue() for _ in range(N)], ref)
for i in range(N):
    print(i, out[i][0], out[i][1])
handed = sum(1 for i in range(N) for j in range(ROUNDS) if j % 3 == 0)
print("handed over", handed)
print("threads", "ok" if all(out[i] == ref[i] for i in range(N)) and "bad" not in out else "MISMATCH")
PYEOF

	plain_run env PYTHONMALLOC=malloc "$PY" "$KMM_TMP/pthreads.py" >"$KMM_TMP/pt.plain" 2>&1
	echo "status $?" >>"$KMM_TMP/pt.plain"
	kmm_run "$KMM_TMP/pt.stats" env PYTHONMALLOC=malloc "$PY" "$KMM_TMP/pthreads.py" \
		>"$KMM_TMP/pt.kmm" 2>&1
	echo "status $?" >>"$KMM_TMP/pt.kmm"
	ok "python threads: plain run sane" grep -qx 'threads ok' "$KMM_TMP/pt.plain"
	ok "python threads: results under kmm match the sequential run" grep -qx 'threads ok' "$KMM_TMP/pt.kmm"
	ok "python threads: output identical under kmm" same_output "$KMM_TMP/pt.plain" "$KMM_TMP/pt.kmm"
	c=$(stats_calls "$KMM_TMP/pt.stats")
	ok "python threads: kmm served its mallocs ($c allocations)" test "$c" -gt 200000

	# a pool of forked workers (some replaced as they go, forked by the
	# pool's handler thread while the parent's other threads run); each
	# worker reads kmm's counters before and after its task
	cat >"$KMM_TMP/pool.py" <<'PYEOF'
import ctypes, hashlib, multiprocessing as mp, os, re, sys

lib = ctypes.CDLL(None)
KMM = hasattr(lib, "kmm_report")

def served():
    """allocations kmm served in this process so far (None without kmm)"""
    if not KMM:
        return None
    fd = os.memfd_create("kmm-report")
    try:
        if lib.kmm_report(fd, b"summary") != 0:
            return -1
        os.lseek(fd, 0, 0)
        text = b""
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            text += chunk
    finally:
        os.close(fd)
    total, inside = 0, False
    for line in text.decode().splitlines():
        if line.startswith("allocations served by"):
            inside = True
            continue
        if inside and line.startswith("  "):
            total += sum(int(n.replace(",", "")) for n in re.findall(r"[a-z]+ ([\d,]+)", line))
        else:
            inside = False
    return total

def task(i):
    before = served()
    d = {}
    for k in range(3000 + i * 50):
        d["%d:%d" % (i, k * 7919 % 100003)] = [k] * (k % 7) + [str(k)]
    rows = sorted(d.items())
    blob = ",".join("%s=%d" % (k, len(v)) for k, v in rows)
    digest = hashlib.sha256(blob.encode()).hexdigest()[:16]
    after = served()
    delta = None if before is None else after - before
    return i, len(d), digest, os.getpid(), KMM, delta

def main():
    ctx = mp.get_context("fork")
    with ctx.Pool(3, maxtasksperchild=4) as pool:
        res = pool.map(task, range(36), chunksize=1)
        res2 = list(pool.imap_unordered(task, range(36, 48)))
    res = sorted(res + res2)
    ref = [task(i)[:3] for i in range(48)]
    for r in res:
        print(r[0], r[1], r[2])
    print("pool", "ok" if [r[:3] for r in res] == ref else "MISMATCH")
    # what only kmm runs can say, to a side file
    pids = {r[3] for r in res}
    with open(sys.argv[1], "w") as f:
        f.write("workers %d\n" % len(pids))
        f.write("kmm-in-all %s\n" % ("yes" if all(r[4] for r in res) else "no"))
        deltas = [r[5] for r in res if r[5] is not None]
        f.write("min-served %d\n" % (min(deltas) if deltas else 0))
        f.write("tasks-measured %d\n" % len(deltas))

if __name__ == "__main__":
    main()
PYEOF

	plain_run env PYTHONMALLOC=malloc "$PY" "$KMM_TMP/pool.py" "$KMM_TMP/pool.side.plain" \
		>"$KMM_TMP/pool.plain" 2>&1
	echo "status $?" >>"$KMM_TMP/pool.plain"
	kmm_run "$KMM_TMP/pool.stats" env PYTHONMALLOC=malloc "$PY" "$KMM_TMP/pool.py" "$KMM_TMP/pool.side" \
		>"$KMM_TMP/pool.kmm" 2>&1
	echo "status $?" >>"$KMM_TMP/pool.kmm"
	ok "python multiprocessing (fork): plain run sane" grep -qx 'pool ok' "$KMM_TMP/pool.plain"
	ok "python multiprocessing (fork): results under kmm match the sequential run" \
		grep -qx 'pool ok' "$KMM_TMP/pool.kmm"
	ok "python multiprocessing (fork): output identical under kmm" \
		same_output "$KMM_TMP/pool.plain" "$KMM_TMP/pool.kmm"
	[ -f "$KMM_TMP/pool.side" ] && diag "pool under kmm: $(tr '\n' ' ' <"$KMM_TMP/pool.side")"
	pool_side_ok() {
		grep -qx 'kmm-in-all yes' "$KMM_TMP/pool.side" &&
		grep -qx 'tasks-measured 48' "$KMM_TMP/pool.side" &&
		awk '$1 == "workers" && $2 >= 3 { w = 1 }
		     $1 == "min-served" && $2 >= 1000 { s = 1 }
		     END { exit !(w && s) }' "$KMM_TMP/pool.side" && return 0
		cat "$KMM_TMP/pool.side" 2>/dev/null || echo "no side file"
		return 1
	}
	ok "python multiprocessing (fork): kmm loaded in every worker, served allocations there" pool_side_ok
	used_kmm "python multiprocessing (fork): the parent reported, kmm served its mallocs" "$KMM_TMP/pool.stats"
fi

# ---- sort --parallel=2 ---------------------------------------------------------------
if ! have sort || ! have awk || ! sort --parallel=2 </dev/null >/dev/null 2>&1; then
	skip_all "sort with --parallel not available" \
		"sort --parallel=2: output identical under kmm" \
		"sort --parallel=2: output is the expected order" \
		"sort --parallel=2: kmm served its mallocs"
else
	awk 'BEGIN {
		x = 987654321
		for (i = 1; i <= 200000; i++) {
			x = (x * 1103515245 + 12345) % 2147483648
			printf "%08d %s %d\n", x % 99999989, substr("qwertyuiopasdfghjklzxcvbnm", 1 + x % 20, 1 + i % 7), i
		}
	}' >"$KMM_TMP/lines.txt"
	diag "sort input: $(wc -l <"$KMM_TMP/lines.txt") lines, $(wc -c <"$KMM_TMP/lines.txt") bytes"
	plain_run sort --parallel=2 -S 64M -k1,1 -k2,2r -k3n "$KMM_TMP/lines.txt" >"$KMM_TMP/sorted.plain" 2>&1
	echo "status $?" >>"$KMM_TMP/sorted.plain"
	kmm_run "$KMM_TMP/sort.stats" sort --parallel=2 -S 64M -k1,1 -k2,2r -k3n "$KMM_TMP/lines.txt" \
		>"$KMM_TMP/sorted.kmm" 2>&1
	echo "status $?" >>"$KMM_TMP/sorted.kmm"
	ok "sort --parallel=2: output identical under kmm" same_output "$KMM_TMP/sorted.plain" "$KMM_TMP/sorted.kmm"
	sorted_as_expected() {
		# the keys (first field) ascending, every input line present once
		sed '$d' "$KMM_TMP/sorted.kmm" >"$KMM_TMP/sorted.body"
		awk 'NR > 1 && $1 < prev { print "line " NR " out of order"; exit 1 } { prev = $1 }' \
			"$KMM_TMP/sorted.body" || return 1
		LC_ALL=C sort --parallel=1 "$KMM_TMP/lines.txt" >"$KMM_TMP/a.txt"
		LC_ALL=C sort --parallel=1 "$KMM_TMP/sorted.body" >"$KMM_TMP/b.txt"
		cmp "$KMM_TMP/a.txt" "$KMM_TMP/b.txt" || { echo "lines lost or changed"; return 1; }
		test "$(tail -1 "$KMM_TMP/sorted.kmm")" = "status 0"
	}
	ok "sort --parallel=2: output is the expected order" sorted_as_expected
	used_kmm "sort --parallel=2: kmm served its mallocs" "$KMM_TMP/sort.stats" sort
fi

# ---- xz -T2 ----------------------------------------------------------------------------
xz_names='xz -T2: compressed file identical to the one made with glibc
xz -T2: several blocks (threads had work)
xz -T2 -d: round trip gives the input back
xz -T2: kmm served the compressor'"'"'s mallocs
xz -T2 -d: kmm served the decompressor'"'"'s mallocs'
if ! have xz || ! xz -T2 -c </dev/null >/dev/null 2>&1; then
	printf '%s\n' "$xz_names" >"$KMM_TMP/xz.names"
	while IFS= read -r d; do skip "$d" "xz (with -T) not installed"; done <"$KMM_TMP/xz.names"
else
	diag "$(xz --version | head -1)"
	# ~4 MB, compressible but not trivially: text with numbers, and
	# stretches of pseudo-random bytes
	awk 'BEGIN {
		x = 42
		for (i = 0; i < 60000; i++) {
			x = (x * 1103515245 + 12345) % 2147483648
			printf "%d,%s,%x,", i, substr("lorem ipsum dolor sit amet consectetur", 1 + x % 30), x
			for (j = 0; j < 6; j++) {
				x = (x * 1103515245 + 12345) % 2147483648
				printf "%c", 33 + x % 90
			}
			printf "\n"
		}
	}' >"$KMM_TMP/xz.in"
	diag "xz input: $(wc -c <"$KMM_TMP/xz.in") bytes"
	xz_args="-T2 -3 --block-size=256KiB -c"
	# shellcheck disable=SC2086
	plain_run xz $xz_args "$KMM_TMP/xz.in" >"$KMM_TMP/plain.xz"
	# shellcheck disable=SC2086
	kmm_run "$KMM_TMP/xzc.stats" xz $xz_args "$KMM_TMP/xz.in" >"$KMM_TMP/kmm.xz"
	st=$?
	same_xz() {
		status_is "$st" 0 || return 1
		cmp "$KMM_TMP/plain.xz" "$KMM_TMP/kmm.xz" && test -s "$KMM_TMP/kmm.xz"
	}
	ok "xz -T2: compressed file identical to the one made with glibc" same_xz
	blocks=$(xz --robot -lv "$KMM_TMP/kmm.xz" 2>/dev/null | awk '$1 == "totals" { print $3 }')
	ok "xz -T2: several blocks (threads had work) (${blocks:-?} blocks)" test "${blocks:-0}" -ge 4
	kmm_run "$KMM_TMP/xzd.stats" xz -T2 -dc "$KMM_TMP/kmm.xz" >"$KMM_TMP/xz.out"
	st=$?
	round_trip() {
		status_is "$st" 0 || return 1
		cmp "$KMM_TMP/xz.in" "$KMM_TMP/xz.out"
	}
	ok "xz -T2 -d: round trip gives the input back" round_trip
	used_kmm "xz -T2: kmm served the compressor's mallocs" "$KMM_TMP/xzc.stats" xz
	used_kmm "xz -T2 -d: kmm served the decompressor's mallocs" "$KMM_TMP/xzd.stats" xz
fi

# ---- a threaded C program that forks and execs (tests/progs/threadexec) ---------------
TX=$KMM_PROGS/threadexec
THREADS=4 FORKS=40 POPENS=10
KMM_TIMEOUT=60 plain_run "$TX" $THREADS $FORKS $POPENS >"$KMM_TMP/tx.plain" 2>&1
ok "threadexec passes with glibc's malloc" status_is $? 0
# the kids exit at the same time as others: each exit report is several
# write()s, and full reports (with "maps") of processes exiting together
# interleave mid-line in the shared file; the summary alone is one write
# after the header, so every report stays whole
KMM_TIMEOUT=60 kmm_run "$KMM_TMP/tx.stats" env KMM_STATS_REPORT=summary "$TX" $THREADS $FORKS $POPENS \
	>"$KMM_TMP/tx.kmm" 2>&1
st=$?
if [ $st -eq 124 ] || [ $st -eq 137 ]; then
	ok "threadexec under kmm finishes within 60 s (no deadlock)" false
	cat_diag "$KMM_TMP/tx.kmm"
else
	ok "threadexec under kmm finishes within 60 s (no deadlock)" true
fi
ok "threadexec under kmm: libkmm.so loaded" grep -qx 'kmm yes' "$KMM_TMP/tx.kmm"
ok "threadexec under kmm: $FORKS forked children allocated, exec'd a kid, all exited 0" \
	grep -qx "forks $FORKS/$FORKS clean" "$KMM_TMP/tx.kmm"
ok "threadexec under kmm: $POPENS kids run by popen from a worker thread, all clean" \
	grep -qx "popen $POPENS/$POPENS clean" "$KMM_TMP/tx.kmm"
ok "threadexec under kmm: threads saw no corruption, exit status 0" sh -c \
	"grep -qx 'threads $THREADS ok' '$KMM_TMP/tx.kmm' && test $st -eq 0"
[ $st -eq 0 ] || cat_diag "$KMM_TMP/tx.kmm" 20
n=$(stats_reports "$KMM_TMP/tx.stats" threadexec-kid)
ok "threadexec under kmm: every exec'd kid reported at exit ($n reports)" \
	test "$n" -eq $((FORKS + POPENS))
m=$(stats_min_calls "$KMM_TMP/tx.stats" threadexec-kid)
ok "threadexec under kmm: kmm served every kid's mallocs (at least $m each)" test "$m" -ge 1000
used_kmm "threadexec under kmm: kmm served the parent's mallocs" "$KMM_TMP/tx.stats" threadexec

done_testing
