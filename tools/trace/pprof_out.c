/*
 * pprof_out.c — kmm-trace export --format=pprof: the log as a gzipped
 * profile.proto heap profile, for go tool pprof, speedscope, Pyroscope.
 *
 * Contract:
 *   - One log.  Four sample types, in this order: alloc_objects/count,
 *     alloc_space/bytes (every allocation of the log: malloc, calloc,
 *     realloc, memalign; their requested bytes, as the summary counts
 *     them), inuse_objects/count, inuse_space/bytes (the blocks live at the
 *     end of the log); the default is inuse_space, as in Go's heap
 *     profiles; period type space/bytes, period 1 (every call is in the
 *     log: nothing sampled, nothing to scale).
 *   - One sample per distinct stack (caller and backtrace), its locations
 *     innermost first: the backtrace's frames, or the caller alone when
 *     the log has no backtraces.
 *   - One location per distinct address, with its lines from the
 *     symbolizer (symbols.c: the log's maps snapshot, ELF symbols,
 *     addr2line), inlined functions first; one function per distinct name
 *     and source file; one mapping per mapped object (the lowest and
 *     highest address of its ranges in the snapshot that holds the
 *     address, the offset of its lowest range); an address outside every
 *     file mapping has no mapping.  Strings are written once each.
 *   - The writer is src/util/pprof.h's (streaming, stored deflate blocks);
 *     the memory here is that of the distinct stacks, addresses, functions
 *     and strings, not of the events.
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"
#include "util/pprof.h"

/* ---- the stacks ------------------------------------------------------------------ */

/* the values of a distinct stack (by kt_stackid): allocations and their
 * bytes, blocks live at the end and theirs */
struct pent { uint64_t ao, as, io, is; };

/* ---- strings, functions, locations: each given to the writer once ------------------ */

struct sent { char *s; int64_t idx; };
struct aent { uint64_t key, id; int used; };

static struct {
	struct kmm_pprof pp; /* ~70 KiB: static */
	struct sent *str;
	size_t strcap, strn;
	struct aent *loc, *fn; /* address -> location; (name, file) -> function */
	size_t loccap, locn, fncap, fnn;
	uint64_t *objmap; /* object index -> mapping id (0: none yet) */
	size_t nobjmap;
	uint64_t nmappings;
	const struct log *L;
} P;

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int64_t str_idx(const char *s)
{
	if (!s[0])
		return 0;
	if (2 * (P.strn + 1) > P.strcap) {
		size_t ncap = P.strcap ? 2 * P.strcap : 1024;
		struct sent *nv = kt_xcalloc(ncap, sizeof *nv);
		for (size_t i = 0; i < P.strcap; i++)
			if (P.str[i].s) {
				size_t k = str_hash(P.str[i].s) & (ncap - 1);
				while (nv[k].s)
					k = (k + 1) & (ncap - 1);
				nv[k] = P.str[i];
			}
		free(P.str);
		P.str = nv;
		P.strcap = ncap;
	}
	size_t k = str_hash(s) & (P.strcap - 1);
	while (P.str[k].s && strcmp(P.str[k].s, s))
		k = (k + 1) & (P.strcap - 1);
	if (!P.str[k].s) {
		P.str[k].s = kt_xstrdup(s);
		P.str[k].idx = kmm_pprof_cstring(&P.pp, s);
		P.strn++;
	}
	return P.str[k].idx;
}

/* the entry of key in an (key -> id) table, inserted unused if new */
static struct aent *atab_slot(struct aent **t, size_t *cap, size_t *n, uint64_t key)
{
	if (2 * (*n + 1) > *cap) {
		size_t ncap = *cap ? 2 * *cap : 1024;
		struct aent *nv = kt_xcalloc(ncap, sizeof *nv);
		for (size_t i = 0; i < *cap; i++)
			if ((*t)[i].used) {
				size_t k = hash64((*t)[i].key) & (ncap - 1);
				while (nv[k].used)
					k = (k + 1) & (ncap - 1);
				nv[k] = (*t)[i];
			}
		free(*t);
		*t = nv;
		*cap = ncap;
	}
	size_t k = hash64(key) & (*cap - 1);
	while ((*t)[k].used && (*t)[k].key != key)
		k = (k + 1) & (*cap - 1);
	if (!(*t)[k].used) {
		(*t)[k].used = 1;
		(*t)[k].key = key;
		(*n)++;
	}
	return &(*t)[k];
}

static uint64_t function_id(const char *name, const char *file)
{
	int64_t ni = str_idx(name), fi = str_idx(file);
	struct aent *f = atab_slot(&P.fn, &P.fncap, &P.fnn, (uint64_t)ni << 32 ^ (uint64_t)fi);
	if (!f->id) {
		f->id = P.fnn;
		kmm_pprof_function(&P.pp, f->id, ni, ni, fi, 0);
	}
	return f->id;
}

/* the mapping of address a's object (0: none): written when first met */
static uint64_t mapping_id(uint64_t a)
{
	const struct maprange *r = kt_find_range(P.L, a);
	if (!r || r->obj < 0)
		return 0;
	if ((size_t)r->obj >= P.nobjmap) {
		size_t n = (size_t)r->obj + 64;
		P.objmap = kt_xrealloc(P.objmap, n * sizeof *P.objmap);
		memset(P.objmap + P.nobjmap, 0, (n - P.nobjmap) * sizeof *P.objmap);
		P.nobjmap = n;
	}
	if (P.objmap[r->obj])
		return P.objmap[r->obj];
	/* the object's ranges in the snapshot that holds r */
	uint64_t lo = r->start, hi = r->end, off = r->off;
	for (size_t si = 0; si < P.L->nsnaps; si++) {
		const struct snap *sn = &P.L->snaps[si];
		if (r < sn->r || r >= sn->r + sn->n)
			continue;
		for (size_t i = 0; i < sn->n; i++)
			if (sn->r[i].obj == r->obj) {
				if (sn->r[i].start < lo) {
					lo = sn->r[i].start;
					off = sn->r[i].off;
				}
				if (sn->r[i].end > hi)
					hi = sn->r[i].end;
			}
	}
	uint64_t id = ++P.nmappings;
	P.objmap[r->obj] = id;
	kmm_pprof_mapping(&P.pp, id, lo, hi, off, str_idx(kt_objs[r->obj].path), 0, 1);
	return id;
}

static uint64_t location_id(uint64_t a)
{
	struct aent *l = atab_slot(&P.loc, &P.loccap, &P.locn, a);
	if (l->id)
		return l->id;
	l->id = P.locn;
	uint64_t id = l->id; /* l moves when the table grows below: keep the id */
	struct kt_symline lines[16];
	uint64_t fids[16];
	int64_t nums[16];
	size_t n = kt_sym_lines(a, lines, 16);
	for (size_t i = 0; i < n; i++) {
		fids[i] = function_id(lines[i].func, lines[i].file);
		nums[i] = lines[i].line;
	}
	kmm_pprof_location(&P.pp, id, mapping_id(a), a, fids, nums, n);
	return id;
}

static int sink(void *ctx, const void *buf, size_t len)
{
	return fwrite(buf, 1, len, ctx) == len ? 0 : -1;
}

int kt_export_pprof(struct log *L, FILE *o)
{
	memset(&P, 0, sizeof P);
	P.L = L;
	struct kt_stackids S = {0};
	struct pent *t = NULL;
	size_t tcap = 0;
	struct ev e;
	FOR_EACH_EVENT_IN_FILE(L, e)
	{
		int alloc = e.type == KMM_TR_MALLOC || e.type == KMM_TR_CALLOC || e.type == KMM_TR_MEMALIGN ||
			    e.type == KMM_TR_REALLOC;
		if (alloc && e.a) {
			struct pent *p = kt_stack_slot(&S, e.rec, (void **)&t, &tcap, sizeof *t);
			p->ao++;
			p->as += e.b;
		}
	}
	struct stats *s = kt_xcalloc(1, sizeof *s);
	kt_analyze(L, s);
	for (size_t i = 0; i < s->ltcap; i++)
		if (s->lt[i].ptr && s->lt[i].rec) {
			struct pent *p = kt_stack_slot(&S, s->lt[i].rec, (void **)&t, &tcap, sizeof *t);
			p->io++;
			p->is += s->lt[i].size;
		}
	uint64_t tlast = s->tlast;
	kt_stats_free(s);

	for (size_t i = 0; i < S.n; i++) {
		ev_decode(S.rec[i], 0, &e);
		kt_sym_want(e.d);
		for (unsigned k = 0; k < e.nframes; k++)
			kt_sym_want(ev_frame(&e, k));
	}
	kt_sym_resolve();

	kmm_pprof_begin(&P.pp, sink, o);
	static const char *const types[4][2] = {
		{"alloc_objects", "count"}, {"alloc_space", "bytes"}, {"inuse_objects", "count"}, {"inuse_space", "bytes"}};
	for (int i = 0; i < 4; i++)
		kmm_pprof_sample_type(&P.pp, str_idx(types[i][0]), str_idx(types[i][1]));
	kmm_pprof_meta(&P.pp, (int64_t)L->start_real, (int64_t)tlast, str_idx("space"), str_idx("bytes"), 1,
		       str_idx("inuse_space"));
	uint64_t locs[KMM_PPROF_MSG / 8];
	for (size_t i = 0; i < S.n; i++) {
		const struct pent *p = &t[i];
		ev_decode(S.rec[i], 0, &e);
		size_t n = 0;
		if (!e.nframes)
			locs[n++] = location_id(e.d);
		for (unsigned k = 0; k < e.nframes && n < sizeof locs / sizeof locs[0] - 8; k++)
			locs[n++] = location_id(ev_frame(&e, k));
		int64_t v[4] = {(int64_t)p->ao, (int64_t)p->as, (int64_t)p->io, (int64_t)p->is};
		kmm_pprof_sample(&P.pp, locs, n, v, 4);
	}
	int rc = kmm_pprof_end(&P.pp);
	free(t);
	kt_stackids_free(&S);
	for (size_t i = 0; i < P.strcap; i++)
		free(P.str[i].s);
	free(P.str);
	free(P.loc);
	free(P.fn);
	free(P.objmap);
	if (rc)
		kt_fatal("export: writing the pprof profile failed (a write error, or a stack too deep for one message)");
	return 0;
}
