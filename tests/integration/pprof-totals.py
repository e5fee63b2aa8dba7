#!/usr/bin/env python3
# pprof-totals.py PROFILE — the totals of a gzipped pprof profile
# (profile.proto), read with the standard library alone: one line per
# sample type ("alloc_space 201294359"), then the numbers of samples,
# locations and mappings and the period.  For tests/integration/sample.sh.
import gzip, sys
def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1; v |= (c & 0x7f) << s; s += 7
        if c < 0x80: return v, i
def fields(b):
    i = 0
    while i < len(b):
        k, i = varint(b, i); f, t = k >> 3, k & 7
        if t == 0: v, i = varint(b, i)
        elif t == 2:
            n, i = varint(b, i); v = b[i:i + n]; i += n
        elif t == 1: v = b[i:i + 8]; i += 8
        elif t == 5: v = b[i:i + 4]; i += 4
        else: raise ValueError("wire type %d" % t)
        yield f, t, v
def packed(t, v):
    if t == 0: return [v]
    out, i = [], 0
    while i < len(v):
        x, i = varint(v, i); out.append(x)
    return out
data = gzip.decompress(open(sys.argv[1], 'rb').read())
strings, types, sums, nsamples, nlocs, nmaps, period = [], [], None, 0, 0, 0, 0
for f, t, v in fields(data):
    if f == 6: strings.append(v.decode())
    elif f == 1: types.append(dict((ff, vv) for ff, _, vv in fields(v)))
    elif f == 2:
        vals = []
        for ff, tt, vv in fields(v):
            if ff == 2: vals += packed(tt, vv)
        sums = [0] * len(vals) if sums is None else sums
        sums = [a + b for a, b in zip(sums, vals)]; nsamples += 1
    elif f == 3: nmaps += 1
    elif f == 4: nlocs += 1
    elif f == 12: period = v
for ty, s in zip(types, sums or [0] * len(types)):
    print(strings[ty[1]], s)
print("samples", nsamples); print("locations", nlocs); print("mappings", nmaps); print("period", period)
