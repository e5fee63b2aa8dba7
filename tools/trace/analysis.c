/*
 * analysis.c — one pass over the events in sequence order into struct
 * stats: calls, bytes and paths per operation, live blocks (an
 * open-addressing hash table), peak, allocation sites, system calls,
 * kmm's slab, vmalloc and regions.
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

static inline size_t lt_home(const struct stats *s, uint64_t p)
{
	return (size_t)((p * 0x9E3779B97F4A7C15ULL) >> (64 - s->ltbits));
}

static void lt_grow(struct stats *s)
{
	size_t ncap = s->ltcap ? 2 * s->ltcap : 1u << 16;
	unsigned nbits = s->ltbits ? s->ltbits + 1 : 16;
	struct lent *old = s->lt;
	size_t ocap = s->ltcap;
	s->lt = kt_xcalloc(ncap, sizeof *s->lt);
	s->ltcap = ncap;
	s->ltbits = nbits;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].ptr) {
			size_t h = lt_home(s, old[i].ptr);
			while (s->lt[h].ptr)
				h = (h + 1) & (ncap - 1);
			s->lt[h] = old[i];
		}
	free(old);
}

/* insert; returns the replaced entry's size + 1, or 0 */
uint64_t kt_lt_put(struct stats *s, uint64_t ptr, uint64_t size, const uint8_t *rec, uint32_t tid)
{
	if (2 * (s->ltn + 1) > s->ltcap)
		lt_grow(s);
	size_t mask = s->ltcap - 1, h = lt_home(s, ptr);
	while (s->lt[h].ptr) {
		if (s->lt[h].ptr == ptr) {
			uint64_t old = s->lt[h].size;
			s->lt[h].size = size;
			s->lt[h].rec = rec;
			s->lt[h].tid = tid;
			s->lt[h].pad = 0;
			return old + 1;
		}
		h = (h + 1) & mask;
	}
	s->lt[h].ptr = ptr;
	s->lt[h].size = size;
	s->lt[h].rec = rec;
	s->lt[h].tid = tid;
	s->lt[h].pad = 0;
	s->ltn++;
	return 0;
}

struct lent *kt_lt_get(struct stats *s, uint64_t ptr)
{
	if (!s->ltcap || !ptr)
		return NULL;
	size_t mask = s->ltcap - 1, i = lt_home(s, ptr);
	while (s->lt[i].ptr != ptr) {
		if (!s->lt[i].ptr)
			return NULL;
		i = (i + 1) & mask;
	}
	return &s->lt[i];
}

/* remove; returns the size + 1, or 0 if it was not live */
uint64_t kt_lt_del(struct stats *s, uint64_t ptr)
{
	if (!s->ltcap || !ptr)
		return 0;
	size_t mask = s->ltcap - 1, i = lt_home(s, ptr);
	while (s->lt[i].ptr != ptr) {
		if (!s->lt[i].ptr)
			return 0;
		i = (i + 1) & mask;
	}
	uint64_t size = s->lt[i].size;
	/* backward-shift deletion */
	size_t j = i;
	for (;;) {
		j = (j + 1) & mask;
		if (!s->lt[j].ptr)
			break;
		size_t k = lt_home(s, s->lt[j].ptr);
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		s->lt[i] = s->lt[j];
		i = j;
	}
	s->lt[i].ptr = 0;
	s->ltn--;
	return size + 1;
}

/* the live regions: a (start -> size, kind in tid) table of their own;
 * an update keeps the start (trace.c) */
static void region(struct stats *s, const struct ev *e)
{
	if (!e->a || e->b < e->a)
		return;
	if (!s->regs)
		s->regs = kt_xcalloc(1, sizeof *s->regs);
	struct stats *r = s->regs;
	if (r->ltcap) { /* the old size and kind, if live */
		size_t mask = r->ltcap - 1, h = lt_home(r, e->a);
		while (r->lt[h].ptr && r->lt[h].ptr != e->a)
			h = (h + 1) & mask;
		if (r->lt[h].ptr == e->a)
			s->reg_bytes[r->lt[h].tid & 7] -= (int64_t)r->lt[h].size;
	}
	kt_lt_del(r, e->a);
	if (e->type == KMM_TR_REGION_DEL)
		return;
	kt_lt_put(r, e->a, e->b - e->a, NULL, (uint32_t)(e->c & 7));
	s->reg_bytes[e->c & 7] += (int64_t)(e->b - e->a);
}

static void site_add(struct stats *s, uint64_t caller, uint64_t bytes)
{
	if (2 * (s->stn + 1) > s->stcap) {
		size_t ncap = s->stcap ? 2 * s->stcap : 256;
		struct site *nt = kt_xcalloc(ncap, sizeof *nt);
		for (size_t i = 0; i < s->stcap; i++)
			if (s->st[i].used) {
				size_t h = hash64(s->st[i].caller) & (ncap - 1);
				while (nt[h].used)
					h = (h + 1) & (ncap - 1);
				nt[h] = s->st[i];
			}
		free(s->st);
		s->st = nt;
		s->stcap = ncap;
	}
	size_t h = hash64(caller) & (s->stcap - 1);
	while (s->st[h].used && s->st[h].caller != caller)
		h = (h + 1) & (s->stcap - 1);
	if (!s->st[h].used) {
		s->st[h].used = 1;
		s->st[h].caller = caller;
		s->stn++;
	}
	s->st[h].calls++;
	s->st[h].bytes += bytes;
}

static unsigned size_class(uint64_t n)
{
	if (n <= 16)
		return 0;
	unsigned k = 64 - (unsigned)__builtin_clzll(n - 1); /* 2^(k-1) < n <= 2^k */
	return k - 4;
}

static void st_alloc(struct stats *s, const struct ev *e, uint64_t ptr, uint64_t size)
{
	uint64_t old = kt_lt_put(s, ptr, size, e->rec, e->tid);
	if (old) {
		s->dup_alloc++;
		s->live -= old - 1;
	} else
		s->live_blocks++;
	s->live += size;
	if (s->live > s->peak) {
		s->peak = s->live;
		s->peak_blocks = s->live_blocks;
		s->peak_seq = e->seq;
		s->peak_time = e->time;
	}
	site_add(s, e->d, size);
	s->sclass[size_class(size)]++;
	s->apath[e->path].calls++;
	s->apath[e->path].bytes += size;
}

static int st_free(struct stats *s, uint64_t ptr)
{
	uint64_t old = kt_lt_del(s, ptr);
	if (!old)
		return 0;
	s->live -= old - 1;
	s->live_blocks--;
	return 1;
}

/* A layer event: a sample is complete when every layer this reader knows
 * has been seen (the writer sends them together, but another thread's
 * events may come between them in sequence order). */
void kt_layer_event(struct stats *s, const struct ev *e)
{
	const uint32_t all = ((1u << KMM_TL_NR) - 1) & ~1u;
	if (e->aux == 0 || e->aux >= KMM_TL_NR)
		return;   /* a layer a newer writer added */
	if (e->c != s->lay_cur_no || !s->lay_mask) {
		s->lay_cur_no = e->c;
		s->lay_mask = 0;
	}
	s->lay_cur_bytes[e->aux] = e->a;
	s->lay_cur_blocks[e->aux] = e->b;
	s->lay_mask |= 1u << e->aux;
	if (s->lay_mask == all) {
		s->layer_samples++;
		s->lay_no = e->c;
		s->lay_time = e->time;
		s->lay_nevents = s->nevents;
		memcpy(s->lay_bytes, s->lay_cur_bytes, sizeof s->lay_bytes);
		memcpy(s->lay_blocks, s->lay_cur_blocks, sizeof s->lay_blocks);
		s->lay_mask = 0;
	}
}

void kt_analyze_event(struct stats *s, const struct ev *e)
{
	s->nevents++;
	if (e->time > s->tlast)
		s->tlast = e->time;
	switch (e->type) {
	case KMM_TR_MALLOC:
	case KMM_TR_CALLOC:
	case KMM_TR_MEMALIGN:
		s->op[e->type].calls++;
		if (!e->a)
			s->op[e->type].failed++;
		else {
			s->op[e->type].bytes += e->b;
			st_alloc(s, e, e->a, e->b);
		}
		break;
	case KMM_TR_REALLOC:
		s->op[KMM_TR_REALLOC].calls++;
		if (!e->a) {
			if (e->b == 0 && e->c) /* realloc(p, 0) freed p */
				st_free(s, e->c);
			else
				s->op[KMM_TR_REALLOC].failed++;
		} else {
			s->op[KMM_TR_REALLOC].bytes += e->b;
			if (e->c && !st_free(s, e->c))
				s->unknown_realloc++;
			st_alloc(s, e, e->a, e->b);
		}
		break;
	case KMM_TR_FREE:
		s->op[KMM_TR_FREE].calls++;
		s->op[KMM_TR_FREE].bytes += e->b;
		s->fpath[e->path].calls++;
		s->fpath[e->path].bytes += e->b;
		if (!st_free(s, e->c))
			s->unknown_free++;
		break;
	case KMM_TR_BRK:
		s->sc[SC_BRK].calls++;
		if (!s->brk_seen) {
			s->brk_seen = 1;
			s->brk_first = s->brk_cur = e->a;
		}
		if (kt_is_err(e->d))
			s->sc[SC_BRK].failed++;
		else {
			if (e->d > e->a)
				s->brk_grew += e->d - e->a;
			else
				s->brk_shrank += e->a - e->d;
			s->brk_cur = e->d;
		}
		break;
	case KMM_TR_MMAP:
		s->sc[SC_MMAP].calls++;
		if (kt_is_err(e->d))
			s->sc[SC_MMAP].failed++;
		else {
			s->sc[SC_MMAP].bytes += e->b;
			s->mapped += (int64_t)e->b;
		}
		break;
	case KMM_TR_MUNMAP:
	case KMM_TR_MPROTECT:
	case KMM_TR_MADVISE: {
		int k = e->type == KMM_TR_MUNMAP ? SC_MUNMAP : e->type == KMM_TR_MPROTECT ? SC_MPROTECT : SC_MADVISE;
		s->sc[k].calls++;
		if (kt_is_err(e->d))
			s->sc[k].failed++;
		else {
			s->sc[k].bytes += e->b;
			if (k == SC_MUNMAP)
				s->mapped -= (int64_t)e->b;
		}
		break;
	}
	case KMM_TR_MREMAP:
		s->sc[SC_MREMAP].calls++;
		if (kt_is_err(e->d))
			s->sc[SC_MREMAP].failed++;
		else {
			if (e->c > e->b)
				s->mremap_grew += e->c - e->b;
			else
				s->mremap_shrank += e->b - e->c;
			s->sc[SC_MREMAP].bytes += e->c;
			s->mapped += (int64_t)(e->c - e->b);
		}
		break;
	case KMM_TR_REGION_ADD:
	case KMM_TR_REGION_UPDATE:
	case KMM_TR_REGION_DEL:
		if (e->type == KMM_TR_REGION_ADD)
			s->reg_add++;
		else if (e->type == KMM_TR_REGION_UPDATE)
			s->reg_upd++;
		else
			s->reg_del++;
		region(s, e);
		break;
	case KMM_TR_POPULATE:
		s->populates++;
		if (e->d != UINT64_MAX)
			s->pop_pages += e->d;
		break;
	case KMM_TR_SLAB_ALLOC:
		s->slab_allocs++;
		s->slab_alloc_bytes += e->b;
		s->slab_live += (int64_t)e->b;
		break;
	case KMM_TR_SLAB_FREE:
		s->slab_frees++;
		s->slab_free_bytes += e->b;
		s->slab_live -= (int64_t)e->b;
		break;
	case KMM_TR_VMALLOC:
		if (e->path == KMM_TP_VMALLOC_REUSED)
			s->vm_reused++;
		else
			s->vm_new++;
		s->vm_bytes += e->b;
		s->vm_live += (int64_t)e->b;
		if (s->vm_live > 0 && (uint64_t)s->vm_live > s->vm_peak)
			s->vm_peak = (uint64_t)s->vm_live;
		break;
	case KMM_TR_VFREE:
		s->vm_frees++;
		s->vm_free_bytes += e->b;
		s->vm_live -= (int64_t)e->b;
		break;
	case KMM_TR_VREALLOC:   /* an area grown or shrunk (in place or moved) */
		s->vm_live += (int64_t)e->b - (int64_t)e->d;
		if (s->vm_live > 0 && (uint64_t)s->vm_live > s->vm_peak)
			s->vm_peak = (uint64_t)s->vm_live;
		break;
	case KMM_TR_THREAD_START: s->thr_start++; break;
	case KMM_TR_THREAD_EXIT: s->thr_exit++; break;
	case KMM_TR_FORK: s->forks++; break;
	case KMM_TR_RSS:
		s->rss_samples++;
		s->rss = e->a;
		s->rss_shared = e->b;
		s->rss_size = e->c;
		if (e->a > s->rss_peak) {
			s->rss_peak = e->a;
			s->rss_peak_time = e->time;
		}
		break;
	case KMM_TR_LAYER:
		kt_layer_event(s, e);
		break;
	default: s->unknown_types++;
	}
	if (s->mapped > 0 && (uint64_t)s->mapped > s->mapped_peak)
		s->mapped_peak = (uint64_t)s->mapped;
	if (s->plot)
		kt_plot_sample(s, e);
	if (s->each)
		s->each(s, e, s->each_ctx);
}

void kt_analyze(const struct log *L, struct stats *s)
{
	struct merge M;
	kt_merge_init(&M, L);
	struct ev e;
	while (!s->stop && kt_merge_next(&M, &e))
		kt_analyze_event(s, &e);
	kt_merge_free(&M);
}

void kt_stats_free(struct stats *s)
{
	free(s->lt);
	free(s->st);
	if (s->regs) {
		free(s->regs->lt);
		free(s->regs);
	}
	free(s);
}
