#!/bin/sh
# python.sh — python3 workloads (dict/list/str churn, threads) give the same
# output under kmm.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan 8

# python3 may be a pyenv shim (a bash script that execs the real python):
# resolve the interpreter once and run that directly.
PY=
if have python3; then
	PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
fi
if [ -z "$PY" ] || [ ! -x "$PY" ]; then
	for t in 1 2 3 4 5 6 7 8; do skip "python3 check $t" "no working python3"; done
	exit 0
fi
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
diag "python: $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"

cat >"$KMM_TMP/churn.py" <<'PYEOF'
import hashlib, random, sys

rng = random.Random(20240611)
h = hashlib.sha256()

# dicts of growing and shrinking size, keys of every length
d = {}
keys = []
for i in range(60000):
    k = "k%x" % rng.getrandbits(20) * (1 + i % 5)
    d[k] = [i, str(i), (i, -i)]
    keys.append(k)
    if i % 3 == 0:
        d.pop(keys[i // 2], None)
print("dict", len(d))
for k in sorted(d)[::997]:
    h.update(k.encode())

# lists: append, slicing, sort, comprehension churn
lst = []
for i in range(80000):
    lst.append(rng.random())
    if i % 7 == 0:
        del lst[len(lst) // 2]
lst.sort()
print("list", len(lst), "%.6f" % sum(lst[::1000]))
h.update(repr(lst[::5000]).encode())
squares = [[j * j for j in range(i % 50)] for i in range(20000)]
print("nested", sum(map(len, squares)))

# strings: concatenation, join, split, replace, formatting, bytes
s = ""
for i in range(30000):
    s += "%d," % (i * 7919 % 10007)
parts = s.split(",")
print("str", len(s), len(parts), parts[12345])
joined = "-".join(p[::-1] for p in parts)
print("joined", len(joined), joined.count("9"))
big = ("x" * 1000 + "y") * 3000
print("big", len(big.replace("y", "zz")), big.upper().count("Y"))
blob = b"".join(bytes([i % 256]) * (i % 300) for i in range(5000))
print("bytes", len(blob), hashlib.md5(blob).hexdigest())
ba = bytearray()
for i in range(2000):
    ba += bytes(range(i % 256))
    if len(ba) > 200000:
        del ba[:100000]
print("bytearray", len(ba), sum(ba) % 65521)

# sets, tuples, objects with __dict__
class Node:
    def __init__(self, v):
        self.v = v
        self.children = []
root = Node(0)
nodes = [root]
for i in range(1, 20000):
    n = Node(i)
    nodes[rng.randrange(len(nodes))].children.append(n)
    nodes.append(n)
def depth(n):
    best, stack = 0, [(n, 0)]
    while stack:
        n, dpt = stack.pop()
        best = max(best, dpt)
        stack.extend((c, dpt + 1) for c in n.children)
    return best
print("tree", len(nodes), depth(root))
st = set()
for i in range(50000):
    st.add((i % 1000, str(i % 777)))
print("set", len(st))
print("digest", h.hexdigest())
PYEOF

cat >"$KMM_TMP/threads.py" <<'PYEOF'
import hashlib, threading

def work(seed, out):
    d = {}
    acc = []
    for j in range(15000):
        key = "%d:%d" % (seed, (j * 2654435761) % 100003)
        d[key] = [j] * (j % 9) + [key * (1 + j % 3)]
        if j % 4 == 0:
            acc.append("".join(sorted(key)))
        if len(d) > 3000:
            for k in list(d)[:1000]:
                del d[k]
    blob = ",".join(sorted(d)) + "|" + "".join(acc)
    out[seed] = (len(d), hashlib.sha1(blob.encode()).hexdigest())

N = 6
out = {}
threads = [threading.Thread(target=work, args=(i, out)) for i in range(N)]
for t in threads:
    t.start()
for t in threads:
    t.join()
ref = {}
for i in range(N):
    work(i, ref)
for i in range(N):
    print(i, out[i][0], out[i][1])
print("threads", "ok" if out == ref else "MISMATCH")
PYEOF

# py_both NAME SCRIPT [ENV=VALUE...]
py_both() {
	_n=$1 _s=$2; shift 2
	plain_run env "$@" "$PY" "$_s" >"$KMM_TMP/$_n.plain" 2>&1
	echo "status $?" >>"$KMM_TMP/$_n.plain"
	kmm_run "$KMM_TMP/$_n.stats" env "$@" "$PY" "$_s" >"$KMM_TMP/$_n.kmm" 2>&1
	echo "status $?" >>"$KMM_TMP/$_n.kmm"
}

py_both churn "$KMM_TMP/churn.py"
ok "python churn: plain run sane" grep -q '^digest [0-9a-f]*$' "$KMM_TMP/churn.plain"
ok "python churn: output identical under kmm" same_output "$KMM_TMP/churn.plain" "$KMM_TMP/churn.kmm"
used_kmm "python churn: kmm served its mallocs" "$KMM_TMP/churn.stats"

# every object through malloc, not python's own small-object allocator
py_both churnm "$KMM_TMP/churn.py" PYTHONMALLOC=malloc
ok "python churn, PYTHONMALLOC=malloc: output identical under kmm" \
	same_output "$KMM_TMP/churnm.plain" "$KMM_TMP/churnm.kmm"

py_both threads "$KMM_TMP/threads.py" PYTHONMALLOC=malloc
ok "python threads: plain run sane" grep -qx 'threads ok' "$KMM_TMP/threads.plain"
ok "python threads: results under kmm match the sequential run" grep -qx 'threads ok' "$KMM_TMP/threads.kmm"
ok "python threads: output identical under kmm" same_output "$KMM_TMP/threads.plain" "$KMM_TMP/threads.kmm"
c=$(stats_calls "$KMM_TMP/threads.stats")
ok "python threads: kmm served its mallocs ($c allocations)" test "$c" -gt 1000000
