/*
 * params.h — the heap's tunable parameters (glibc's mp_), their defaults and
 * the one function that changes them, with mallopt() semantics.
 *
 * Sources, lowest precedence first: the defaults below; GLIBC_TUNABLES
 * (glibc.malloc.*); glibc's MALLOC_*_ variables; KMM_OPTIONS; mallopt() at
 * run time.  See docs/options.md.
 */
#ifndef KMM_HEAP_PARAMS_H
#define KMM_HEAP_PARAMS_H

#include <stddef.h>

#define KMM_DEFAULT_TOP_PAD          ((size_t)128 * 1024)
#define KMM_DEFAULT_MMAP_THRESHOLD   ((size_t)128 * 1024)
#define KMM_DEFAULT_TRIM_THRESHOLD   ((size_t)128 * 1024)
#define KMM_MMAP_THRESHOLD_MAX       ((size_t)32 * 1024 * 1024)  /* 4 * 1024 * 1024 * sizeof(long) */
#define KMM_DEFAULT_MMAP_MAX         65536
#define KMM_DEFAULT_TCACHE_COUNT     7
#define KMM_TCACHE_MAX_COUNT         65535
#define KMM_TCACHE_BINS              64
#define KMM_TCACHE_MAX_BYTES         ((size_t)1032)   /* largest request a tcache bin holds */
#define KMM_DEFAULT_MXFAST           ((size_t)128)    /* 64 * sizeof(size_t) / 4 */
#define KMM_MAX_MXFAST               ((size_t)160)    /* 80 * sizeof(size_t) / 4 */
#define KMM_MMAP_AS_MORECORE_SIZE    ((size_t)1024 * 1024)

/* mallopt parameter numbers (glibc's <malloc.h> values). */
enum kmm_param {
	KMM_P_MXFAST          = 1,
	KMM_P_TRIM_THRESHOLD  = -1,
	KMM_P_TOP_PAD         = -2,
	KMM_P_MMAP_THRESHOLD  = -3,
	KMM_P_MMAP_MAX        = -4,
	KMM_P_CHECK_ACTION    = -5,
	KMM_P_PERTURB         = -6,
	KMM_P_ARENA_TEST      = -7,
	KMM_P_ARENA_MAX       = -8,
	/* kmm's own, not in glibc's mallopt: */
	KMM_P_TCACHE_COUNT    = -100,
	KMM_P_TCACHE_MAX      = -101,
	KMM_P_TCACHE_UNSORTED_LIMIT = -102,
	KMM_P_THRESHOLD_RULE        = -103,
	KMM_P_POISON                = -104,
	KMM_P_INIT_ON_ALLOC         = -105,
	KMM_P_INIT_ON_FREE          = -106,
	KMM_P_MEMCHECK              = -107,
	KMM_P_GUARD                 = -108,
	KMM_P_FRONT                 = -109,
	KMM_P_TRIM_RULE             = -110,
	KMM_P_ZERO_GUARD            = -111,
	KMM_P_REDZONE               = -112,
	KMM_P_QUARANTINE            = -113,
};

/* front= (include/kmm.h's KMM_FRONT_*): what serves small requests */
enum kmm_front {
	KMM_FRONT_TCACHE_ = 0,   /* tcache, fastbins, bins: glibc's ptmalloc */
	KMM_FRONT_SLAB_ = 1,     /* the slab front end (kernel/uslab.h) */
};

/* memcheck= (vg.h): what kmm does when it runs under valgrind */
enum kmm_memcheck_mode {
	KMM_MEMCHECK_ON,      /* quarantine, exact sizes, trailers, heap only */
	KMM_MEMCHECK_EXACT,   /* allocate exactly as without valgrind; tell memcheck */
	KMM_MEMCHECK_OFF,     /* no client requests */
};

/* whether freeing a big chunk raises the mmap threshold (big.h) */
enum kmm_threshold_rule {
	KMM_THRESHOLD_CACHE,      /* kmm: no; vmalloc keeps freed blocks resident instead */
	KMM_THRESHOLD_GLIBC,      /* glibc's dynamic rule, applied at free() */
};

/* how much of the top a trim gives back (arena.c, kmm_trim_pad) */
enum kmm_trim_rule {
	KMM_TRIM_DECAY,           /* kmm: all but what the program reached into the top
				     since the last trim decision (at most KMM_TRIM_DECAY_MAX) */
	KMM_TRIM_GLIBC,           /* glibc's: all but top_pad, at once */
};
#define KMM_TRIM_DECAY_MAX ((size_t)32 << 20)

struct kmm_params {
	size_t top_pad;
	size_t mmap_threshold;
	size_t trim_threshold;
	int    n_mmaps_max;
	int    no_dyn_threshold;   /* set once the user fixed any threshold */
	size_t arena_test;
	size_t arena_max;          /* 0: none of its own: arena_test arenas, then 8 x cores (arenas.c) */
	int    perturb_byte;
	size_t max_fast;           /* largest chunk size kept in fastbins (0: none) */
	size_t tcache_count;       /* entries per tcache bin */
	size_t tcache_bins;        /* bins in use (requests up to tcache_max_bytes) */
	size_t tcache_max_bytes;
	size_t tcache_unsorted_limit;
	int    check_action;       /* accepted for compatibility; kmm always aborts */
	int    threshold_rule;     /* enum kmm_threshold_rule */
	int    trim_rule;          /* enum kmm_trim_rule */
	/* debug options (docs/hardening.md): any of them takes every call
	 * through the slow paths, like the trace log (thread.h) */
	int    poison;             /* fill freed heap blocks, check on reuse */
	int    init_on_alloc;      /* zero every block handed out */
	int    init_on_free;       /* zero every block freed */
	int    checked;            /* any of the three */
	int    memcheck;           /* enum kmm_memcheck_mode */
	size_t guard_min;          /* guard=: chunks of this size or more are big
				      blocks, between guard pages (SIZE_MAX: off) */
	/* KMM_OBSERVE_* bits: while any is set, every malloc-family call
	 * goes to the observer (heap.h, src/observe.c) and the fast paths are off
	 * (thread.h, `tc`) */
	unsigned observed;
	int    front;              /* enum kmm_front */
	int    zero_guard;         /* malloc(0): a no-access zero-size block (zero.h) */
	int    redzone;            /* canary past every block (src/harden.h) */
	size_t quarantine;         /* bytes of freed blocks held back (src/harden.h; 0: none) */
};

#define KMM_OBSERVE_TRACE    1u   /* the trace log (trace.h) */
#define KMM_OBSERVE_DEBUG    2u   /* poison, init_on_alloc, init_on_free */
#define KMM_OBSERVE_LEAKS    4u   /* the leak scanner (leakcheck.h) */
#define KMM_OBSERVE_MEMCHECK 8u   /* running under valgrind's memcheck (vg.h) */
#define KMM_OBSERVE_RESCUE  16u   /* a fork child's rescue heap (rescue.h) */
#define KMM_OBSERVE_HARDEN  32u   /* redzone, quarantine (src/harden.h) */

/* The smallest guard= size: a page (smaller blocks would pay a page and a
 * guard page each, and the tcache's sizes never reach the arena). */
#define KMM_GUARD_MIN ((size_t)4096)

/* The byte freed heap blocks are filled with under poison=on (the
 * kernel's POISON_FREE). */
#define KMM_POISON_FREE 0x6b



extern struct kmm_params kmm_params;

/* The trim threshold the heap applies.  With the slab front end
 * (front=slab) the heap serves only blocks above 4 KiB, whose frees empty
 * its top chunk again and again; unless a threshold was set (by an option,
 * mallopt or glibc's variables: no_dyn_threshold), it keeps up to
 * KMM_SLAB_FRONT_TRIM of its top instead of glibc's 128 KiB (bench
 * rptest -t 2: 1.64 s -> 0.76 s, glibc 0.83 s; a trim is an madvise or a
 * brk and the page faults of growing again). */
#define KMM_SLAB_FRONT_TRIM ((size_t)4 << 20)

static inline size_t kmm_trim_threshold(void)
{
	const struct kmm_params *p = &kmm_params;
	if (p->front == KMM_FRONT_SLAB_ && !p->no_dyn_threshold && p->trim_threshold < KMM_SLAB_FRONT_TRIM)
		return KMM_SLAB_FRONT_TRIM;
	return p->trim_threshold;
}

/* Set one parameter with mallopt semantics: returns 1 on success, 0 if the
 * value is out of range (the parameter is then unchanged).  `from_user`
 * disables the dynamic mmap threshold for the threshold parameters, as
 * glibc's mallopt and environment variables do.  Caller holds no lock. */
int kmm_params_set(int param, long long value);

#endif /* KMM_HEAP_PARAMS_H */
