/*
 * slab.c — SLUB-style slab caches and kmalloc (see slab.h).
 *
 * THEORY
 *
 * A slab is frozen while it is some thread's active slab: that thread owns
 * the objects on its private freelist, the slab's inuse counts everything
 * not on the slab's own (shared) freelist, and the slab is on no list.
 * When the private freelist runs dry the thread takes the slab's shared
 * freelist (the remote frees) under the lock; if that is empty too, the
 * slab is full and is unfrozen (SLUB does not track full slabs), and the
 * thread freezes a partial slab or a new one.
 *
 *   alloc:  private freelist ─▶ slab's remote frees ─▶ partial slab ─▶ new slab
 *   free:   own active slab: private freelist (no lock)
 *           other slab: its freelist under the lock; full -> partial,
 *                       empty -> buddy (beyond min_partial)
 *
 * Bootstrap: the kmalloc caches and the "kmem_cache" cache (where further
 * cache descriptors come from) are static; the first allocation sets them
 * up.  Nothing here calls the heap side.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "slab.h"
#include "../trace.h"
#include "../os.h"
#include "../util/format.h"

struct cpu_slab {
	void *freelist;
	struct kmm_page *page;
	unsigned nfree;           /* objects on freelist */
};

static __thread struct cpu_slab cpu_slabs[KMM_MAX_CACHES] __attribute__((tls_model("initial-exec")));
/* set once this thread gave its active slabs back at exit */
static __thread bool slab_thread_dead __attribute__((tls_model("initial-exec")));

#define KMALLOC_SIZES(X) X(8) X(16) X(32) X(64) X(96) X(128) X(192) X(256) X(512) X(1024) \
			 X(2048) X(4096) X(8192)
#define KMALLOC_SIZE(n) n,
bool kmm_slab_freelist_random;
bool kmm_slab_debug;

static const size_t kmalloc_sizes[] = { KMALLOC_SIZES(KMALLOC_SIZE) };
#define NR_KMALLOC (sizeof kmalloc_sizes / sizeof kmalloc_sizes[0])

static struct kmm_kmem_cache kmalloc_caches[NR_KMALLOC];
static struct kmm_kmem_cache cache_cache;     /* "kmem_cache": descriptors of further caches */
static struct kmm_list cache_list;
static kmm_lock_t cache_list_lock = KMM_LOCK_INIT_RANK(KMM_RANK_SLAB_LIST);
static int next_index;
static int slab_ready;

/* ---- objects and slabs ------------------------------------------------------ */

/*
 * Freelist pointer hardening (the kernel's SLAB_FREELIST_HARDENED): a free
 * object's first word holds the next free object XORed with a random value
 * of the cache and with the byte-swapped address of that word.  An
 * overwrite of a freed object's first word (a use after free) no longer
 * points the freelist where the writer wants, and a leaked word reveals
 * neither heap addresses nor the random.  Freeing the object that heads
 * the freelist again is caught where it would make a loop (set_free).
 */
static inline void *freelist_ptr(const struct kmm_kmem_cache *c, uintptr_t ptr, uintptr_t where)
{
	return (void *)(ptr ^ c->random ^ __builtin_bswap64((uint64_t)where));
}

static inline void *get_free(const struct kmm_kmem_cache *c, const void *obj)
{
	return freelist_ptr(c, (uintptr_t) * (void *const *)obj, (uintptr_t)obj);
}

static inline void set_free(const struct kmm_kmem_cache *c, void *obj, void *next)
{
	if (KMM_UNLIKELY(obj == next))
		kmm_fatal("kmem_cache_free(%s): double free of %p", c->name, obj);
	*(void **)obj = freelist_ptr(c, (uintptr_t)next, (uintptr_t)obj);
}


static inline char *slab_base(const struct kmm_page *page)
{
	return kmm_page_address(page);
}

/* A freelist entry read from a free object is not one of its slab's
 * objects: the object's first word was overwritten (a write after free, or
 * an overflow of the object before it).  Checked on every entry with
 * slab_debug=on, by default only where a free's double free check is about
 * to follow the entry out of its slab. */
static KMM_COLD KMM_NORETURN void corrupt_freelist(const struct kmm_kmem_cache *c, const struct kmm_page *page,
						    const void *entry)
{
	kmm_fatal("kmem_cache(%s): freelist of the slab at %p corrupted (entry %p is not one of its objects; "
		  "a write after free?)", c->name, (void *)slab_base(page), entry);
}

static inline bool is_object(const struct kmm_kmem_cache *c, const struct kmm_page *page, const void *p)
{
	uintptr_t off = (uintptr_t)p - (uintptr_t)slab_base(page);
	return off % c->size == 0 && off / c->size < page->objects;
}

static KMM_COLD void debug_check_next(const struct kmm_kmem_cache *c, const struct kmm_page *page, const void *next)
{
	if (next != NULL && !is_object(c, page, next))
		corrupt_freelist(c, page, next);
}

/* The free object after obj on a freelist of `page`: checked under
 * slab_debug=on (by default a corrupted word goes unnoticed here, as in
 * the kernel without slub_debug). */
KMM_INLINE void *next_free(const struct kmm_kmem_cache *c, const struct kmm_page *page, const void *obj)
{
	void *next = get_free(c, obj);
	if (KMM_UNLIKELY(kmm_slab_debug))
		debug_check_next(c, page, next);
	return next;
}

static KMM_HOT void cache_setup(struct kmm_kmem_cache *c, const char *name, size_t size, size_t align)
{
	c->name = name;
	c->random = (uintptr_t)kmm_os_random();
	c->rng = kmm_os_random() | 1;
	if (align < sizeof(void *))
		align = sizeof(void *);
	c->object_size = size;
	c->align = align;
	c->size = KMM_ALIGN_UP(size < sizeof(void *) ? sizeof(void *) : size, align);
	/* the smallest order that holds enough objects and wastes at most an
	 * eighth of the slab */
	unsigned min_objects = c->size <= 256 ? 16 : c->size <= 1024 ? 8 : 4;
	unsigned order = 0;
	for (; order < 3; order++) {
		size_t slab = KMM_PAGE_SIZE << order;
		size_t objs = slab / c->size;
		if (objs >= min_objects && slab - objs * c->size <= slab / 8)
			break;
	}
	/* objects bigger than 32 KiB: one per slab of the order that holds it */
	while ((KMM_PAGE_SIZE << order) < c->size)
		order++;
	c->order = order;
	c->objects = (unsigned)((KMM_PAGE_SIZE << order) / c->size);
	c->min_partial = c->size >= 1024 ? 2 : 4;
	kmm_list_init(&c->partial);
	c->index = next_index++;
	kmm_lock_init(&c->lock, KMM_RANK_SLAB_CACHE, (unsigned)c->index);
	kmm_list_add_tail(&c->list, &cache_list);
}

KMM_HOT int kmm_kmem_cache_set_order(struct kmm_kmem_cache *c, unsigned order)
{
	int r = -1;
	bool locked = kmm_lock_fork_aware(&c->lock);
	if (c->nr_slabs == 0 && order < KMM_MAX_ORDER && (KMM_PAGE_SIZE << order) >= c->size) {
		c->order = order;
		c->objects = (unsigned)((KMM_PAGE_SIZE << order) / c->size);
		r = 0;
	}
	kmm_unlock_if(&c->lock, locked);
	return r;
}

static KMM_HOT void slab_init_slow(void)
{
	static kmm_lock_t once = KMM_LOCK_INIT_RANK(KMM_RANK_SLAB_INIT);
	kmm_lock(&once);
	if (!slab_ready) {
		kmm_list_init(&cache_list);
		cache_setup(&cache_cache, "kmem_cache", sizeof(struct kmm_kmem_cache), 64);
		/* unrolled, sizes and names as immediates: start-up reads no
		 * table and formats no name (util/compiler.h on .rodata);
		 * power-of-two sizes from 64 up are aligned to themselves */
		size_t i = 0;
#define KMALLOC_SETUP(n)                                                              \
	cache_setup(&kmalloc_caches[i++], "kmalloc-" #n, n,                            \
		    (n) >= 64 && ((n) & ((n) - 1)) == 0 ? ((n) > 4096 ? 4096 : (n)) : 8);
		KMALLOC_SIZES(KMALLOC_SETUP)
#undef KMALLOC_SETUP
		__atomic_store_n(&slab_ready, 1, __ATOMIC_RELEASE);
	}
	kmm_unlock(&once);
}

static inline void slab_init(void)
{
	if (KMM_UNLIKELY(!__atomic_load_n(&slab_ready, __ATOMIC_ACQUIRE)))
		slab_init_slow();
}

/* A new slab from the buddy allocator, all objects on its freelist.
 * Cache lock held (the zone lock nests inside it). */
static KMM_HOT struct kmm_page *new_slab(struct kmm_kmem_cache *c)
{
	kmm_lock_assert_held(&c->lock);
	struct kmm_page *page = kmm_alloc_pages(c->order, KMM_GFP_KERNEL | KMM_GFP_COMP, KMM_OWNER_SLAB);
	if (page == NULL)
		return NULL;
	char *base = slab_base(page);
	void *prev = NULL;
	if (KMM_UNLIKELY(kmm_slab_freelist_random)) {
		/* a Fisher-Yates shuffle of the object indices, from the
		 * cache's own generator (xorshift64*, under the cache lock) */
		uint16_t order[KMM_PAGE_SIZE / 8];
		unsigned n = c->objects < KMM_ARRAY_SIZE(order) ? c->objects : (unsigned)KMM_ARRAY_SIZE(order);
		for (unsigned i = 0; i < n; i++)
			order[i] = (uint16_t)i;
		for (unsigned i = n; i > 1; i--) {
			c->rng ^= c->rng >> 12;
			c->rng ^= c->rng << 25;
			c->rng ^= c->rng >> 27;
			unsigned j = (unsigned)((c->rng * 0x2545f4914f6cdd1dull) >> 33) % i;
			uint16_t t = order[i - 1];
			order[i - 1] = order[j];
			order[j] = t;
		}
		/* (a slab of more than 512 objects keeps the rest in order) */
		for (unsigned k = c->objects; k-- > 0;) {
			void *obj = base + (size_t)(k < n ? order[k] : k) * c->size;
			set_free(c, obj, prev);
			prev = obj;
		}
	} else {
		/* chain in address order, last object first in the list's tail */
		for (unsigned i = c->objects; i-- > 0;) {
			void *obj = base + (size_t)i * c->size;
			set_free(c, obj, prev);
			prev = obj;
		}
	}
	page->flags |= KMM_PG_SLAB;
	page->slab_cache = c;
	page->freelist = prev;
	page->inuse = 0;
	page->objects = (uint16_t)c->objects;
	page->frozen = 0;
	kmm_list_init(&page->lru);
	c->nr_slabs++;
	c->slabs_allocated++;
	return page;
}

/* Cache lock held. */
static void discard_slab(struct kmm_kmem_cache *c, struct kmm_page *page)
{
	kmm_lock_assert_held(&c->lock);
	c->nr_slabs--;
	c->slabs_freed++;
	page->flags &= ~KMM_PG_SLAB;
	page->slab_cache = NULL;
	page->freelist = NULL;
	kmm_free_pages(page, c->order);
}

/* A slab stopped being frozen, or lost an object: file it where it belongs.
 * `on_partial` says whether it is on the partial list now.  Lock held. */
static KMM_HOT void settle_slab(struct kmm_kmem_cache *c, struct kmm_page *page, bool on_partial)
{
	kmm_lock_assert_held(&c->lock);
	if (page->inuse == 0) {
		if (c->nr_partial >= c->min_partial + (on_partial ? 1 : 0)) {
			if (on_partial) {
				kmm_list_del(&page->lru);
				c->nr_partial--;
			}
			discard_slab(c, page);
			return;
		}
	}
	if (page->freelist != NULL && !on_partial) {
		kmm_list_add(&page->lru, &c->partial);
		c->nr_partial++;
	}
}

/* Give a frozen slab back: the private freelist returns to the slab.
 * Lock held. */
static KMM_HOT void deactivate(struct kmm_kmem_cache *c, struct cpu_slab *cs)
{
	kmm_lock_assert_held(&c->lock);
	struct kmm_page *page = cs->page;
	if (page == NULL)
		return;
	void *obj = cs->freelist;
	while (obj != NULL) {
		void *next = next_free(c, page, obj);
		set_free(c, obj, page->freelist);
		page->freelist = obj;
		page->inuse--;
		obj = next;
	}
	page->frozen = 0;
	cs->page = NULL;
	cs->freelist = NULL;
	cs->nfree = 0;
	settle_slab(c, page, false);
}

static KMM_HOT KMM_NOINLINE void *alloc_slow(struct kmm_kmem_cache *c, struct cpu_slab *cs)
{
	bool locked = kmm_lock_fork_aware(&c->lock);
	void *obj = NULL;
	c->alloc_slow++;

	if (slab_thread_dead) {
		/* exiting thread: no active slab any more, straight from a
		 * partial or new slab */
		struct kmm_page *page;
		if (!kmm_list_empty(&c->partial)) {
			page = kmm_list_entry(c->partial.next, struct kmm_page, lru);
		} else {
			page = new_slab(c);
			if (page == NULL)
				goto out;
			kmm_list_add(&page->lru, &c->partial);
			c->nr_partial++;
		}
		obj = page->freelist;
		page->freelist = next_free(c, page, obj);
		page->inuse++;
		if (page->freelist == NULL) {
			kmm_list_del(&page->lru);
			c->nr_partial--;
		}
		goto out;
	}

	if (cs->page != NULL) {
		struct kmm_page *page = cs->page;
		if (page->freelist != NULL) {
			/* collect the remote frees */
			cs->freelist = page->freelist;
			page->freelist = NULL;
			cs->nfree = 0;
			for (void *o = cs->freelist; o != NULL; o = next_free(c, page, o))
				if (KMM_UNLIKELY(++cs->nfree > page->objects))
					kmm_fatal("kmem_cache(%s): freelist of the slab at %p corrupted (longer "
						  "than the slab)", c->name, (void *)slab_base(page));
			page->inuse = (uint16_t)(page->inuse + cs->nfree);
		} else {
			deactivate(c, cs);   /* full: unfreeze */
		}
	}
	if (cs->freelist == NULL) {
		struct kmm_page *page;
		if (!kmm_list_empty(&c->partial)) {
			page = kmm_list_entry(c->partial.next, struct kmm_page, lru);
			kmm_list_del(&page->lru);
			c->nr_partial--;
		} else {
			page = new_slab(c);
			if (page == NULL)
				goto out;
		}
		/* freeze it: every object not on the private list is in use */
		page->frozen = 1;
		cs->page = page;
		cs->freelist = page->freelist;
		page->freelist = NULL;
		cs->nfree = (unsigned)(page->objects - page->inuse);
		page->inuse = page->objects;
	}
	obj = cs->freelist;
	cs->freelist = next_free(c, cs->page, obj);
	cs->nfree--;
out:
	kmm_unlock_if(&c->lock, locked);
	if (obj == NULL)
		errno = ENOMEM;
	return obj;
}

KMM_HOT void *kmm_kmem_cache_alloc(struct kmm_kmem_cache *c)
{
	struct cpu_slab *cs = &cpu_slabs[c->index];
	void *obj = cs->freelist;
	if (KMM_LIKELY(obj != NULL)) {
		cs->freelist = next_free(c, cs->page, obj);
		cs->nfree--;
		c->alloc_fast++;   /* racy statistic, like the kernel's */
	} else {
		obj = alloc_slow(c, cs);
	}
	KMM_TRACE(KMM_TR_SLAB_ALLOC, 0, (uint32_t)c->index, obj, c->object_size, 0, 0);
	return obj;
}

KMM_HOT void *kmm_kmem_cache_zalloc(struct kmm_kmem_cache *c)
{
	void *obj = kmm_kmem_cache_alloc(c);
	if (obj != NULL)
		memset(obj, 0, c->object_size);
	return obj;
}

/* ---- freeing: ownership first ---------------------------------------------------
 *
 * A free is decided by who owns the pointer, never by anything written in
 * the object: the section's descriptors say which block holds it
 * (kmm_virt_to_head_page reads no byte at the address and is safe for any
 * address), a slab's head page says which cache it belongs to and where
 * its objects lie.  Anything but the start of an object of the right cache
 * (kmem_cache_free), of any slab or a whole block of kmalloc'd pages
 * (kfree) aborts with one line naming the function and the pointer.
 *
 * Then the double free checks, cheap enough for every free: the object must
 * not be among the first FREE_CHECK_DEPTH entries of the freelist it is
 * about to join (the objects freed last, the likeliest to be freed twice),
 * and its slab must not have all its objects free already.  slab_debug=on
 * searches the whole of both freelists of the slab instead (the thread's
 * private one when the slab is its active slab, and the slab's own);
 * an object waiting on another thread's private freelist stays unseen.
 */

#define FREE_CHECK_DEPTH 4

/* "kfree()" (c NULL) or "kmem_cache_free(NAME)": WHAT ptr (WHY) */
static KMM_COLD KMM_NORETURN KMM_PRINTF(4, 5) void free_fatal(const struct kmm_kmem_cache *c, const char *what,
							       const void *ptr, const char *why, ...)
{
	char reason[160];
	struct kmm_buf b;
	va_list ap;
	kmm_buf_init(&b, reason, sizeof reason, -1);
	va_start(ap, why);
	kmm_buf_vprintf(&b, why, ap);
	va_end(ap);
	if (c == NULL)
		kmm_fatal("kfree(): %s %p (%s)", what, ptr, reason);
	kmm_fatal("kmem_cache_free(%s): %s %p (%s)", c->name, what, ptr, reason);
}

/* vmalloc.c, which allocates from slab caches, tells how to recognise its
 * address space (kmm_slab_set_vmalloc_space_test): the slab allocator never
 * calls up into vmalloc itself. */
static bool (*vmalloc_space_test)(const void *addr);

void kmm_slab_set_vmalloc_space_test(bool (*in_space)(const void *addr))
{
	__atomic_store_n(&vmalloc_space_test, in_space, __ATOMIC_RELEASE);
}

/* What holds addr, which is no slab object: its head page (NULL: addr is
 * in no section) says. */
static KMM_COLD const char *page_what(const void *addr, const struct kmm_page *page)
{
	if (page == NULL) {
		bool (*in_vmalloc)(const void *) = __atomic_load_n(&vmalloc_space_test, __ATOMIC_ACQUIRE);
		return in_vmalloc != NULL && in_vmalloc(addr) ? "in vmalloc space, not a slab"
							      : "not in kmm's memory";
	}
	if (kmm_page_reserved(page))
		return "in the header or page descriptors of a memory section";
	if (!(page->flags & KMM_PG_HEAD))
		return "in a free page";
	switch (page->owner) {
	case KMM_OWNER_VMALLOC:
		return "in a page of a vmalloc area";
	case KMM_OWNER_PAGES:
		return "in a block of whole pages, not a slab";
	default:
		return "in a page that is not a slab";
	}
}

/* obj lies in the slab `page` but is not an object `who` may free (who
 * NULL: kfree, which takes any slab's objects). */
static KMM_COLD KMM_NORETURN void bad_object(const struct kmm_kmem_cache *who, const struct kmm_page *page,
					     const void *obj)
{
	const struct kmm_kmem_cache *s = page->slab_cache;
	size_t off = (size_t)((uintptr_t)obj - (uintptr_t)slab_base(page));
	if (who != NULL && s != who)
		free_fatal(who, "invalid pointer", obj, "in a slab of %s", s->name);
	if ((uintptr_t)obj % sizeof(void *) != 0)
		free_fatal(who, "invalid pointer", obj, "misaligned");
	if (off / s->size >= page->objects)
		free_fatal(who, "invalid pointer", obj, "past the last object of a %s slab", s->name);
	free_fatal(who, "invalid pointer", obj, "%zu bytes into object %zu of a %s slab", off % s->size,
		   off / s->size, s->name);
}

static KMM_COLD KMM_NORETURN void double_free(const struct kmm_kmem_cache *who, const struct kmm_kmem_cache *c,
					      const void *obj, const char *where)
{
	if (who == NULL)
		free_fatal(NULL, "double free of", obj, "%s, %s", c->name, where);
	free_fatal(who, "double free of", obj, "%s", where);
}

/* The first `n` entries of a freelist of `page` (its objects from `base`)
 * do not hold obj.  An entry outside the slab ends the walk with a
 * diagnostic before it is read (the word that led there was overwritten). */
KMM_INLINE void check_freelist(const struct kmm_kmem_cache *who, const struct kmm_kmem_cache *c,
			       const struct kmm_page *page, uintptr_t base, const void *head, const void *obj,
			       unsigned n)
{
	uintptr_t bytes = KMM_PAGE_SIZE << c->order;
	const void *o = head;
#pragma GCC unroll 8
	for (unsigned i = 0; i < n && o != NULL; i++) {
		if (KMM_UNLIKELY(o == obj))
			double_free(who, c, obj, "already on its slab's freelist");
		if (i + 1 == n)
			break;
		/* the head is known good; the entries after it were read
		 * from objects' words */
		if (KMM_UNLIKELY(i > 0 && (uintptr_t)o - base >= bytes))
			corrupt_freelist(c, page, o);
		o = get_free(c, o);
	}
}

/* slab_debug=on: all of a freelist, every entry checked. */
static KMM_COLD void debug_check_freelist(const struct kmm_kmem_cache *who, const struct kmm_kmem_cache *c,
					  const struct kmm_page *page, const void *head, const void *obj)
{
	unsigned n = 0;
	for (const void *o = head; o != NULL; o = get_free(c, o)) {
		if (o == obj)
			double_free(who, c, obj, "already on its slab's freelist");
		if (!is_object(c, page, o))
			corrupt_freelist(c, page, o);
		if (++n > page->objects)
			kmm_fatal("kmem_cache(%s): freelist of the slab at %p corrupted (longer than the slab)",
				  c->name, (void *)slab_base(page));
	}
}

/* slab_debug=on, obj going back to this thread's active slab: its private
 * freelist, then the slab's own (remote frees, under the lock). */
static KMM_COLD void debug_free_active(const struct kmm_kmem_cache *who, struct kmm_kmem_cache *c,
				       const struct cpu_slab *cs, const void *obj)
{
	debug_check_freelist(who, c, cs->page, cs->freelist, obj);
	bool locked = kmm_lock_fork_aware(&c->lock);
	debug_check_freelist(who, c, cs->page, cs->page->freelist, obj);
	kmm_unlock_if(&c->lock, locked);
}

static KMM_NOINLINE void free_remote(const struct kmm_kmem_cache *who, struct kmm_kmem_cache *c,
				     struct kmm_page *page, void *obj)
{
	bool locked = kmm_lock_fork_aware(&c->lock);
	if (KMM_UNLIKELY(kmm_slab_debug))
		debug_check_freelist(who, c, page, page->freelist, obj);
	else
		check_freelist(who, c, page, (uintptr_t)slab_base(page), page->freelist, obj, FREE_CHECK_DEPTH);
	/* inuse counts what is not on the slab's own freelist (a frozen
	 * slab's private freelist included): 0 means every object is free */
	if (KMM_UNLIKELY(page->inuse == 0))
		double_free(who, c, obj, "every object of its slab is free");
	c->free_remote++;
	bool was_full = page->freelist == NULL && !page->frozen;
	set_free(c, obj, page->freelist);
	page->freelist = obj;
	page->inuse--;
	if (!page->frozen) {
		/* a full slab becomes partial; an empty one may go back */
		settle_slab(c, page, !was_full);
	}
	kmm_unlock_if(&c->lock, locked);
}

/* obj, in the slab `page` of c, goes back to it; `who` names the caller in
 * diagnostics (NULL: kfree). */
KMM_INLINE void slab_free(const struct kmm_kmem_cache *who, struct kmm_kmem_cache *c, struct kmm_page *page,
			  void *obj)
{
	uintptr_t base = (uintptr_t)slab_base(page), off = (uintptr_t)obj - base;
	if (KMM_UNLIKELY(page->slab_cache != c || off % c->size != 0 || off / c->size >= page->objects))
		bad_object(who, page, obj);
	KMM_TRACE(KMM_TR_SLAB_FREE, 0, (uint32_t)c->index, 0, c->object_size, obj, 0);
	struct cpu_slab *cs = &cpu_slabs[c->index];
	if (KMM_LIKELY(cs->page == page)) {
		if (KMM_UNLIKELY(kmm_slab_debug))
			debug_free_active(who, c, cs, obj);
		else
			check_freelist(who, c, page, base, cs->freelist, obj, FREE_CHECK_DEPTH);
		/* handed out = inuse - nfree (other threads only lower inuse,
		 * under the lock: a stale value is too high, never too low) */
		if (KMM_UNLIKELY(__atomic_load_n(&page->inuse, __ATOMIC_RELAXED) <= cs->nfree))
			double_free(who, c, obj, "every object of its slab is free");
		set_free(c, obj, cs->freelist);
		cs->freelist = obj;
		cs->nfree++;
		c->free_fast++;
		return;
	}
	free_remote(who, c, page, obj);
}

KMM_HOT void kmm_kmem_cache_free(struct kmm_kmem_cache *c, void *obj)
{
	if (obj == NULL)
		return;
	struct kmm_page *page = kmm_virt_to_head_page(obj);
	if (KMM_UNLIKELY(page == NULL || !(page->flags & KMM_PG_SLAB)))
		free_fatal(c, "invalid pointer", obj, "%s", page_what(obj, page));
	slab_free(c, c, page, obj);
}

KMM_HOT struct kmm_kmem_cache *kmm_kmem_cache_create(const char *name, size_t size, size_t align)
{
	if (size == 0 || size > (KMM_PAGE_SIZE << (KMM_MAX_ORDER - 1)) || (align & (align - 1)) != 0 ||
	    align > KMM_PAGE_SIZE) {
		errno = EINVAL;
		return NULL;
	}
	slab_init();
	struct kmm_kmem_cache *c = kmm_kmem_cache_zalloc(&cache_cache);
	if (c == NULL)
		return NULL;
	kmm_lock(&cache_list_lock);
	if (next_index >= KMM_MAX_CACHES) {
		kmm_unlock(&cache_list_lock);
		kmm_kmem_cache_free(&cache_cache, c);
		errno = ENOMEM;
		return NULL;
	}
	cache_setup(c, name, size, align);
	kmm_unlock(&cache_list_lock);
	return c;
}

/* ---- kmalloc ------------------------------------------------------------------ */

/* A chain of compares with the sizes as immediates, like the kernel's
 * kmalloc_index(): no table read (util/compiler.h on .rodata). */
static inline struct kmm_kmem_cache *kmalloc_cache(size_t size)
{
	size_t i = 0;
#define KMALLOC_PICK(n)                          \
	if (size <= (n))                         \
		return &kmalloc_caches[i];       \
	i++;
	KMALLOC_SIZES(KMALLOC_PICK)
#undef KMALLOC_PICK
	return NULL;
}

KMM_HOT void *kmm_kmalloc(size_t size)
{
	slab_init();
	if (size <= KMM_KMALLOC_MAX)
		return kmm_kmem_cache_alloc(kmalloc_cache(size == 0 ? 1 : size));
	/* bigger: whole pages from the buddy allocator */
	unsigned order = 0;
	while ((KMM_PAGE_SIZE << order) < size)
		order++;
	struct kmm_page *page = kmm_alloc_pages(order, KMM_GFP_KERNEL | KMM_GFP_COMP, KMM_OWNER_PAGES);
	return page != NULL ? kmm_page_address(page) : NULL;
}

KMM_HOT void *kmm_kzalloc(size_t size)
{
	void *p = kmm_kmalloc(size);
	if (p != NULL)
		memset(p, 0, size);
	return p;
}

KMM_HOT void kmm_kfree(const void *obj)
{
	if (obj == NULL)
		return;
	struct kmm_page *page = kmm_virt_to_head_page(obj);
	if (KMM_LIKELY(page != NULL && (page->flags & KMM_PG_SLAB))) {
		slab_free(NULL, page->slab_cache, page, (void *)obj);
		return;
	}
	if (KMM_UNLIKELY(page == NULL || !(page->flags & KMM_PG_HEAD) || page->owner != KMM_OWNER_PAGES))
		free_fatal(NULL, "invalid pointer", obj, "%s", page_what(obj, page));
	char *start = kmm_page_address(page);
	if (KMM_UNLIKELY(start != obj)) {
		if ((uintptr_t)obj % sizeof(void *) != 0)
			free_fatal(NULL, "invalid pointer", obj, "misaligned");
		free_fatal(NULL, "invalid pointer", obj, "%zu bytes into the %zu-page kmalloc block at %p",
			   (size_t)((const char *)obj - start), (size_t)1 << page->order, (void *)start);
	}
	kmm_free_pages(page, page->order);
}

size_t kmm_ksize(const void *obj)
{
	struct kmm_page *page = kmm_virt_to_head_page(obj);
	if (page == NULL)
		return 0;
	if (page->flags & KMM_PG_SLAB)
		return is_object(page->slab_cache, page, obj) ? page->slab_cache->object_size : 0;
	if ((page->flags & KMM_PG_HEAD) && page->owner == KMM_OWNER_PAGES && kmm_page_address(page) == obj)
		return KMM_PAGE_SIZE << page->order;
	return 0;
}

KMM_HOT void kmm_slab_thread_exit(void)
{
	if (!__atomic_load_n(&slab_ready, __ATOMIC_ACQUIRE))
		return;
	slab_thread_dead = true;
	kmm_lock(&cache_list_lock);
	for (struct kmm_list *l = cache_list.next; l != &cache_list; l = l->next) {
		struct kmm_kmem_cache *c = kmm_list_entry(l, struct kmm_kmem_cache, list);
		struct cpu_slab *cs = &cpu_slabs[c->index];
		if (cs->page == NULL)
			continue;
		bool locked = kmm_lock_fork_aware(&c->lock);
		deactivate(c, cs);
		kmm_unlock_if(&c->lock, locked);
	}
	kmm_unlock(&cache_list_lock);
}

/* ---- reports ------------------------------------------------------------------ */

/* active objects: everything except what is free on partial slabs (objects
 * on threads' private lists count as active, as in SLUB) */
static void snap_cache(struct kmm_kmem_cache *c, struct kmm_slabinfo_row *s)
{
	kmm_lock(&c->lock);
	size_t free_on_partial = 0;
	for (struct kmm_list *l = c->partial.next; l != &c->partial; l = l->next) {
		struct kmm_page *p = kmm_list_entry(l, struct kmm_page, lru);
		free_on_partial += (size_t)(p->objects - p->inuse);
	}
	size_t n = 0;
	while (n < sizeof s->name - 1 && c->name[n] != '\0')
		n++;
	memcpy(s->name, c->name, n);
	s->name[n] = '\0';
	s->num_slabs = c->nr_slabs;
	s->num_objs = c->nr_slabs * c->objects;
	s->active_objs = s->num_objs - free_on_partial;
	s->objsize = c->size;
	s->objperslab = c->objects;
	s->pagesperslab = (size_t)1 << c->order;
	s->active_slabs = c->nr_slabs;
	kmm_unlock(&c->lock);
}

KMM_COLD void kmm_slab_report_slabinfo(struct kmm_buf *b)
{
	slab_init();
	kmm_buf_puts(b, "slabinfo - version: 2.1\n");
	kmm_buf_puts(b, "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>"
			" : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs>"
			" <sharedavail>\n");
	kmm_lock(&cache_list_lock);
	for (struct kmm_list *l = cache_list.next; l != &cache_list; l = l->next) {
		struct kmm_slabinfo_row s;
		snap_cache(kmm_list_entry(l, struct kmm_kmem_cache, list), &s);
		kmm_slabinfo_print_row(b, &s);
	}
	kmm_unlock(&cache_list_lock);
}

KMM_COLD void kmm_slabinfo_print_row(struct kmm_buf *b, const struct kmm_slabinfo_row *s)
{
	kmm_buf_printf(b, "%-17s %6zu %6zu %6zu %4zu %4zu : tunables %4d %4d %4d : slabdata %6zu %6zu %6d\n",
		       s->name, s->active_objs, s->num_objs, s->objsize, s->objperslab, s->pagesperslab, 0, 0, 0,
		       s->active_slabs, s->num_slabs, 0);
}

KMM_COLD size_t kmm_slab_rows(struct kmm_slabinfo_row *out, size_t max)
{
	size_t n = 0;
	slab_init();
	kmm_lock(&cache_list_lock);
	for (struct kmm_list *l = cache_list.next; l != &cache_list; l = l->next, n++)
		if (n < max)
			snap_cache(kmm_list_entry(l, struct kmm_kmem_cache, list), &out[n]);
	kmm_unlock(&cache_list_lock);
	return n;
}

KMM_COLD size_t kmm_slab_total_bytes(void)
{
	size_t bytes = 0;
	if (!__atomic_load_n(&slab_ready, __ATOMIC_ACQUIRE))
		return 0;
	kmm_lock(&cache_list_lock);
	for (struct kmm_list *l = cache_list.next; l != &cache_list; l = l->next) {
		struct kmm_kmem_cache *c = kmm_list_entry(l, struct kmm_kmem_cache, list);
		bytes += c->nr_slabs * (KMM_PAGE_SIZE << c->order);
	}
	kmm_unlock(&cache_list_lock);
	return bytes;
}

/* ---- invariant checker ----------------------------------------------------------- */

#define slab_bad(verbose, errors, ...) kmm_check_fail(verbose, errors, "slab", __VA_ARGS__)

/* Walk a freelist of a slab: objects on boundaries, inside, no repeats.
 * Returns its length. */
static KMM_COLD size_t walk_freelist(struct kmm_kmem_cache *c, struct kmm_page *page, void *head, int verbose,
			    int *errors)
{
	char *base = slab_base(page);
	size_t n = 0;
	for (void *o = head; o != NULL; o = get_free(c, o)) {
		uintptr_t off = (uintptr_t)o - (uintptr_t)base;
		if ((uintptr_t)o < (uintptr_t)base || off % c->size != 0 || off / c->size >= page->objects) {
			slab_bad(verbose, errors, "%s: freelist entry %p outside its slab %p", c->name, o, (void *)base);
			break;
		}
		if (++n > page->objects) {
			slab_bad(verbose, errors, "%s: freelist of slab %p longer than the slab (a loop?)", c->name,
				 (void *)base);
			break;
		}
	}
	return n;
}

KMM_COLD int kmm_slab_check(int verbose)
{
	int errors = 0;
	size_t counted[KMM_MAX_CACHES] = { 0 };
	struct kmm_kmem_cache *by_index[KMM_MAX_CACHES] = { 0 };

	if (!__atomic_load_n(&slab_ready, __ATOMIC_ACQUIRE))
		return 0;
	kmm_lock(&cache_list_lock);
	for (struct kmm_list *l = cache_list.next; l != &cache_list; l = l->next) {
		struct kmm_kmem_cache *c = kmm_list_entry(l, struct kmm_kmem_cache, list);
		by_index[c->index] = c;
		kmm_lock(&c->lock);
		size_t np = 0;
		for (struct kmm_list *pl = c->partial.next; pl != &c->partial; pl = pl->next) {
			struct kmm_page *p = kmm_list_entry(pl, struct kmm_page, lru);
			np++;
			if (!(p->flags & KMM_PG_SLAB) || p->slab_cache != c || p->frozen)
				slab_bad(verbose, &errors, "%s: partial list holds a page that is not its unfrozen slab",
					 c->name);
			size_t nfree = walk_freelist(c, p, p->freelist, verbose, &errors);
			if (nfree == 0 || nfree != (size_t)(p->objects - p->inuse))
				slab_bad(verbose, &errors, "%s: partial slab %p: %zu free objects, inuse %u of %u",
					 c->name, (void *)slab_base(p), nfree, p->inuse, p->objects);
			if (np > c->nr_slabs)
				break;
		}
		if (np != c->nr_partial)
			slab_bad(verbose, &errors, "%s: %zu partial slabs listed, counter %zu", c->name, np,
				 c->nr_partial);
		/* this thread's active slab */
		struct cpu_slab *cs = &cpu_slabs[c->index];
		if (cs->page != NULL) {
			if (!cs->page->frozen || cs->page->slab_cache != c)
				slab_bad(verbose, &errors, "%s: the active slab is not frozen", c->name);
			size_t n = walk_freelist(c, cs->page, cs->freelist, verbose, &errors);
			if (n != cs->nfree)
				slab_bad(verbose, &errors, "%s: private freelist has %zu objects, count %u", c->name, n,
					 cs->nfree);
			walk_freelist(c, cs->page, cs->page->freelist, verbose, &errors);
		}
		kmm_unlock(&c->lock);
	}
	/* every slab the buddy allocator knows belongs to a cache that
	 * counts it (all cache locks held: no slab comes or goes meanwhile) */
	for (struct kmm_list *l = cache_list.next; l != &cache_list; l = l->next)
		kmm_lock(&kmm_list_entry(l, struct kmm_kmem_cache, list)->lock);
	kmm_lock(&kmm_zone.lock);
	for (struct kmm_mem_section *s = kmm_zone.sections; s != NULL; s = s->next)
		for (size_t i = s->reserved_pages; i < s->deferred;) {
			struct kmm_page *p = &s->mem_map[i];
			if ((p->flags & (KMM_PG_HEAD | KMM_PG_SLAB)) == (KMM_PG_HEAD | KMM_PG_SLAB)) {
				struct kmm_kmem_cache *c = p->slab_cache;
				if (c == NULL || c->index < 0 || c->index >= KMM_MAX_CACHES || by_index[c->index] != c)
					slab_bad(verbose, &errors, "slab page %zu points at no known cache", i);
				else
					counted[c->index]++;
			}
			i += (p->flags & (KMM_PG_BUDDY | KMM_PG_HEAD)) ? (size_t)1 << p->order : 1;
		}
	kmm_unlock(&kmm_zone.lock);
	for (int i = 0; i < KMM_MAX_CACHES; i++)
		if (by_index[i] != NULL && counted[i] != by_index[i]->nr_slabs)
			slab_bad(verbose, &errors, "%s: %zu slabs in the buddy allocator, counter %zu",
				 by_index[i]->name, counted[i], by_index[i]->nr_slabs);
	for (struct kmm_list *l = cache_list.next; l != &cache_list; l = l->next)
		kmm_unlock(&kmm_list_entry(l, struct kmm_kmem_cache, list)->lock);
	kmm_unlock(&cache_list_lock);
	return errors;
}

void kmm_slab_fork_prepare(void)
{
	slab_init();
	if (!kmm_fork_lock(&cache_list_lock))
		return;   /* (the fork gave up: util/lock.h) */
	for (struct kmm_list *l = cache_list.next; l != &cache_list; l = l->next)
		kmm_fork_lock(&kmm_list_entry(l, struct kmm_kmem_cache, list)->lock);
}

void kmm_slab_fork_parent(void)
{
	for (struct kmm_list *l = cache_list.next; l != &cache_list; l = l->next)
		kmm_unlock(&kmm_list_entry(l, struct kmm_kmem_cache, list)->lock);
	kmm_unlock(&cache_list_lock);
}

void kmm_slab_fork_child(void)
{
	for (struct kmm_list *l = cache_list.next; l != &cache_list; l = l->next)
		kmm_lock_reset(&kmm_list_entry(l, struct kmm_kmem_cache, list)->lock);
	kmm_lock_reset(&cache_list_lock);
}
