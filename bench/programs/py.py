# bench/programs/py.py — the `py` program workload (bench/programs/py.sh):
# Python object churn.  Run with PYTHONMALLOC=malloc, so every object goes
# through malloc/free instead of Python's own small-object arenas.
#
#     python3 py.py SCALE
#
# Each round builds records (dicts holding strings, lists, tuples and
# floats), instances of a small class, sets and joined/split strings,
# groups and sorts them, keeps a slowly replaced cache of some of them
# alive across rounds, and drops the rest.  Everything printed (counts,
# sums, a running hash) depends only on SCALE.

import sys

MOD = (1 << 61) - 1


class Rng:
    """minstd, like the awk generators of the other workloads"""

    def __init__(self, seed):
        self.x = seed

    def below(self, n):
        self.x = self.x * 48271 % 2147483647
        return self.x * n // 2147483647


class Item:
    def __init__(self, key, parts, weight):
        self.key = key
        self.parts = parts
        self.weight = weight
        self.links = []

    def describe(self):
        return "%s:%d:%s" % (self.key, len(self.parts), "/".join(self.parts[:3]))


SYL = ["ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "zu", "ba", "ek"]


def name(rng, n):
    return "".join(SYL[rng.below(len(SYL))] for _ in range(n))


def fold(h, s):
    for ch in s.encode():
        h = (h * 131 + ch) % MOD
    return h


def one_round(r, rng, cache, h):
    n = 6000
    records = []
    for i in range(n):
        k = name(rng, 2 + rng.below(4))
        rec = {
            "id": r * n + i,
            "name": k,
            "tags": [name(rng, 1 + rng.below(2)) for _ in range(rng.below(6))],
            "pos": (rng.below(1000), rng.below(1000)),
            "score": rng.below(100000) / 7.0,
        }
        if rng.below(4) == 0:
            rec["note"] = ("%s-%d " % (k, i)) * (1 + rng.below(20))
        records.append(rec)

    # group by the first syllable, sort each group
    groups = {}
    for rec in records:
        groups.setdefault(rec["name"][:2], []).append(rec)
    for key in sorted(groups):
        g = sorted(groups[key], key=lambda x: (x["score"], x["id"]))
        h = fold(h, "%s %d %.3f" % (key, len(g), g[0]["score"]))

    # objects with attributes and links between them
    items = [Item(rec["name"], rec["tags"] + [rec["name"]], rec["score"]) for rec in records]
    for it in items:
        for _ in range(rng.below(4)):
            it.links.append(items[rng.below(len(items))])
    total = 0
    for it in items[:: 7]:
        s = it.describe()
        total += len(s) + sum(len(o.key) for o in it.links)
    h = (h * 31 + total) % MOD

    # strings: build, split, join, replace
    text = " ".join(rec["name"] + "=" + ",".join(rec["tags"]) for rec in records)
    words = text.split(" ")
    pairs = [w.split("=", 1) for w in words]
    rebuilt = ";".join(a.upper() + ":" + b.replace(",", "|") for a, b in pairs)
    h = fold(h, rebuilt[-200:])
    h = (h * 31 + len(rebuilt)) % MOD

    # sets and dict comprehensions
    seen = set(rec["name"] for rec in records)
    tagset = {t for rec in records for t in rec["tags"]}
    counts = {}
    for rec in records:
        for t in rec["tags"]:
            counts[t] = counts.get(t, 0) + 1
    h = (h * 31 + len(seen) * 1000 + len(tagset) + sum(counts.values())) % MOD

    # a cache kept across rounds: a few records replace old ones
    for rec in records[:: 5]:
        slot = rng.below(4000)
        if slot < len(cache):
            cache[slot] = rec
        else:
            cache.append(rec)
    h = (h * 31 + sum(len(c["tags"]) for c in cache)) % MOD
    return h


def main():
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    rounds = max(1, int(round(12 * scale)))
    rng = Rng(12345)
    cache = []
    h = 0
    for r in range(rounds):
        h = one_round(r, rng, cache, h)
    print("rounds %d cache %d hash %d" % (rounds, len(cache), h))


main()
