/*
 * params.c — the heap parameters and mallopt() semantics (see params.h).
 */
#include "config.h"

#include "params.h"
#include "arena.h"
#include "chunk.h"
#include "tcache.h"
#include "../kernel/uslab.h"

struct kmm_params kmm_params = {
	.top_pad               = KMM_DEFAULT_TOP_PAD,
	.mmap_threshold        = KMM_DEFAULT_MMAP_THRESHOLD,
	.trim_threshold        = KMM_DEFAULT_TRIM_THRESHOLD,
	.n_mmaps_max           = KMM_DEFAULT_MMAP_MAX,
	.guard_min             = SIZE_MAX,
	.no_dyn_threshold      = 0,
	.arena_test            = 8,   /* NARENAS_FROM_NCORES(1) on 64-bit */
	.arena_max             = 0,
	.perturb_byte          = 0,
	.max_fast              = KMM_DEFAULT_MXFAST,
	.tcache_count          = KMM_DEFAULT_TCACHE_COUNT,
	.tcache_bins           = KMM_TCACHE_BINS,
	.tcache_max_bytes      = KMM_TCACHE_MAX_BYTES,
	.tcache_unsorted_limit = 0,
	.check_action          = 3,
	.threshold_rule        = KMM_THRESHOLD_CACHE,
	.trim_rule             = KMM_TRIM_DECAY,
	.front                 = KMM_FRONT_SLAB_,
	.zero_guard            = 1,
};

static size_t max_fast_for(long long v)
{
	/* glibc's set_max_fast: 0 disables fastbins (only chunks smaller than
	 * MINSIZE would qualify, i.e. none). */
	return v == 0 ? KMM_MINSIZE / 2 : (((size_t)v + KMM_SIZE_SZ) & ~KMM_ALIGN_MASK);
}

KMM_COLD int kmm_params_set(int param, long long value)
{
	struct kmm_params *p = &kmm_params;
	switch (param) {
	case KMM_P_MXFAST:
		if (value < 0 || (size_t)value > KMM_MAX_MXFAST)
			return 0;
		__atomic_store_n(&p->max_fast, max_fast_for(value), __ATOMIC_RELAXED);
		return 1;
	case KMM_P_TRIM_THRESHOLD:
		p->trim_threshold = (size_t)value;   /* -1 means "never trim", as in glibc */
		p->no_dyn_threshold = 1;
		return 1;
	case KMM_P_TOP_PAD:
		p->top_pad = (size_t)value;
		p->no_dyn_threshold = 1;
		return 1;
	case KMM_P_MMAP_THRESHOLD:
		/* glibc refuses thresholds above the largest dynamic value */
		if (value < 0 || (size_t)value > KMM_MMAP_THRESHOLD_MAX)
			return 0;
		p->mmap_threshold = (size_t)value;
		p->no_dyn_threshold = 1;
		return 1;
	case KMM_P_MMAP_MAX:
		if (value < 0 || value > 0x7fffffff)
			return 0;
		p->n_mmaps_max = (int)value;
		p->no_dyn_threshold = 1;
		return 1;
	case KMM_P_CHECK_ACTION:
		p->check_action = (int)value;
		return 1;
	case KMM_P_PERTURB:
		p->perturb_byte = (int)(value & 0xff);
		return 1;
	case KMM_P_ARENA_TEST:
		if (value <= 0)
			return 0;
		p->arena_test = (size_t)value;
		return 1;
	case KMM_P_ARENA_MAX:
		/* 0: no limit of its own, the default (arenas.c,
		 * kmm_arena_limit: arena_test arenas, then 8 x the CPUs).
		 * glibc's mallopt returns 1 for 0 but keeps the old value, and
		 * its tunable refuses 0 */
		if (value < 0)
			return 0;
		p->arena_max = (size_t)value;
		return 1;
	case KMM_P_TCACHE_COUNT:
		if (value < 0 || value > KMM_TCACHE_MAX_COUNT)
			return 0;
		__atomic_store_n(&p->tcache_count, (size_t)value, __ATOMIC_RELAXED);
		return 1;
	case KMM_P_TCACHE_MAX: {
		if (value < 0 || (size_t)value > KMM_TCACHE_MAX_BYTES)
			return 0;
		p->tcache_max_bytes = (size_t)value;
		/* bins needed for requests up to value: tidx of the largest */
		__atomic_store_n(&p->tcache_bins, kmm_req2tidx((size_t)value) + 1, __ATOMIC_RELAXED);
		return 1;
	}
	case KMM_P_THRESHOLD_RULE:
		if (value != KMM_THRESHOLD_CACHE && value != KMM_THRESHOLD_GLIBC)
			return 0;
		p->threshold_rule = (int)value;
		return 1;
	case KMM_P_TRIM_RULE:
		if (value != KMM_TRIM_DECAY && value != KMM_TRIM_GLIBC)
			return 0;
		p->trim_rule = (int)value;
		return 1;
	case KMM_P_GUARD:
		/* whole pages at least, and never the tcache's sizes */
		if (value < 0 || (value != 0 && (unsigned long long)value < KMM_GUARD_MIN))
			return 0;
		p->guard_min = value == 0 ? SIZE_MAX : (size_t)value;
		return 1;
	case KMM_P_MEMCHECK:
		if (value < KMM_MEMCHECK_ON || value > KMM_MEMCHECK_OFF)
			return 0;
		p->memcheck = (int)value;
		return 1;
	case KMM_P_POISON:
	case KMM_P_INIT_ON_ALLOC:
	case KMM_P_INIT_ON_FREE:
		if (value != 0 && value != 1)
			return 0;
		*(param == KMM_P_POISON ? &p->poison : param == KMM_P_INIT_ON_ALLOC ? &p->init_on_alloc
										 : &p->init_on_free) = (int)value;
		p->checked = p->poison | p->init_on_alloc | p->init_on_free;
		kmm_uslab_poison = p->poison ? KMM_POISON_FREE : -1;
		p->observed = (p->observed & ~KMM_OBSERVE_DEBUG) | (p->checked ? KMM_OBSERVE_DEBUG : 0);
		return 1;
	case KMM_P_FRONT:
		if (value != KMM_FRONT_TCACHE_ && value != KMM_FRONT_SLAB_)
			return 0;
		__atomic_store_n(&p->front, (int)value, __ATOMIC_RELAXED);
		return 1;
	case KMM_P_ZERO_GUARD:
		if (value != 0 && value != 1)
			return 0;
		p->zero_guard = (int)value;
		kmm_uslab_zero_class(p->zero_guard);
		return 1;
	case KMM_P_REDZONE:
		if (value != 0 && value != 1)
			return 0;
		p->redzone = (int)value;
		goto harden_bit;
	case KMM_P_QUARANTINE:
		if (value < 0)
			return 0;
		p->quarantine = (size_t)value;
	harden_bit:
		p->observed = (p->observed & ~KMM_OBSERVE_HARDEN) |
			      (p->redzone || p->quarantine ? KMM_OBSERVE_HARDEN : 0);
		return 1;
	case KMM_P_TCACHE_UNSORTED_LIMIT:
		if (value < 0)
			return 0;
		p->tcache_unsorted_limit = (size_t)value;
		return 1;
	default:
		return 0;
	}
}
