/*
 * uslab.c — the slab front end: per-thread slabs for small user requests
 * (see uslab.h for the layout and the fast paths).
 *
 * THEORY
 *
 * 1. Classes and slabs.  A request of n <= KMM_USLAB_MAX bytes gets an
 *    object of the smallest class that holds it (uslab.h lists them: 8,
 *    then multiples of 16, four classes per doubling above 128, so that
 *    no more than a fifth of an object is slack past 128 bytes and none
 *    is a header).  A slab is a 64 KiB block of the buddy allocator,
 *    aligned to 64 KiB, cut into objects of one class; its head page
 *    descriptor holds everything about it (page_alloc.h, the us_* fields)
 *    and KMM_PG_USLAB.  Objects past us_bump were never handed out: a new
 *    slab writes nothing into its frames, and a thread carves objects
 *    when it needs them: a page's worth (`batch`) or as many as were
 *    carved before, whichever is more, so a slab costs resident memory
 *    only about as far as it was used, and a thread that goes through a
 *    whole slab takes the slow path about five times for it, not sixteen
 *    (sh6bench, 1..1000-byte blocks: a slow path, with its lock, every
 *    eight mallocs while it carved page by page).
 *
 * 2. Where a free object is.  Exactly one of:
 *      - the TLS list of the thread that owns its slab, if the slab is that
 *        thread's active slab of its class (cpu[cls].free); only the owner
 *        touches it, with no lock and no atomic instruction;
 *      - the slab's own list us_lfree (us_nfree long), also the owner's
 *        only: its frees into its slabs that are not active;
 *      - the slab's remote list us_rfree: other threads push onto it with
 *        one compare-and-swap; only the owner takes it, all at once
 *        (exchange with 0), so there is no ABA;
 *      - the unused part (index >= us_bump);
 *      - a page of a partial slab given back to the OS (THEORY 9), if the
 *        object starts there: on no list, counted in us_nfree.
 *    A slab is empty when us_nfree == us_bump (nothing handed out, nothing
 *    on the remote list, nothing on a TLS list).
 *
 * 3. The owner's view of its slabs (us_where), under its record's lock
 *    (taken by its slow paths only; fork takes them all):
 *      ACTIVE   cpu[cls].slab of the owning thread (and active[cls] of its
 *               record): malloc pops from the TLS list; when that is dry
 *               the slow path refills it from us_lfree, else by taking the
 *               remote list, else by carving, else the slab is full;
 *      PARTIAL  on the record's partial list of its class: it has free
 *               objects on us_lfree or the remote list;
 *      FULL     on the record's full list: it had no free object when it
 *               stopped being active (one bit in us_rfree says so, see 4).
 *    When the active slab is full the thread takes, in order: a partial
 *    slab of its own, a partial slab of an idle record (5), a new slab.
 *    Full slabs are on no list the allocator looks at, so they cost
 *    nothing; they must be found again when an object of them is freed.
 *
 * 4. The first free into a full slab.  Parking a slab as full is a
 *    compare-and-swap of us_rfree from 0 (no remote frees) to FULL; if it
 *    fails, remote frees came in, and the owner takes them instead.  A
 *    remote free swaps its object in and the FULL bit out in the same
 *    compare-and-swap, so exactly one freer sees the bit: that freer
 *    pushes the slab on its owner record's `returned` stack (again one
 *    compare-and-swap; the record is never freed, so the pointer is always
 *    good).  The owner's next slow path drains the stack and moves those
 *    slabs from its full list to its partial lists.  The owner's own frees
 *    into a full slab go onto its own list, as into a partial one, until
 *    an eighth of its objects are free (kmm_uslab_class.unpark); the free
 *    that reaches that swaps FULL -> 0 itself and moves the slab; if a
 *    remote freer won that race, the slab is on the stack already and
 *    stays on the full list until the drain.  Moved at the first free, a
 *    slab would be taken again with one free object and parked again: a
 *    program that frees at random among slabs its live objects fill
 *    (larson) took a slow path, with its lock and compare-and-swap, for
 *    one malloc in six; and an eighth of a slab is the most this leaves
 *    unused.  A slab is pushed once per
 *    FULL episode, and only the owner parks, so it is never on the stack
 *    twice.
 *
 * 5. Owner records and thread exit.  A thread's first slow path gives it
 *    a record (struct kmm_uslab_owner, from a kmem_cache): an idle one if
 *    any, else a new one.  Records are never freed.  At exit the thread
 *    puts its TLS lists back on their slabs, its active slabs on its
 *    partial lists, collects their remote frees, gives its empty slabs
 *    back, and puts its record on the idle list, slabs and all: the
 *    next thread to start takes the record over (as glibc gives a dead
 *    thread's arena to the next new thread).  Meanwhile other threads'
 *    frees into its slabs are remote frees as before, and a thread that
 *    needs a slab takes a partial one of an idle record (under owners_lock,
 *    which guards idle records; a partial slab has no FULL bit, so no
 *    freer reads its owner while it changes hands).  A thread's frees after
 *    its exit (glibc frees after the TLS destructors ran) find id 0 and
 *    free remotely; its mallocs get NULL here and go to the heap.
 *
 * 6. Fork.  The prepare handler takes every record's lock and owners_lock,
 *    so no list is half changed; the child's thread keeps its record, and
 *    every other live record becomes idle, its active slabs moved to its
 *    partial lists.  The objects on the TLS lists of the threads that do
 *    not exist in the child stay allocated there (as glibc's tcaches do).
 *
 * 7. Empty slabs.  A slab found empty on a partial list is kept if its
 *    owner keeps fewer than KEEP_EMPTY empty slabs of that class, else it
 *    goes back to the buddy allocator (whose watermarks decide when its
 *    frames go back to the OS).  malloc_trim releases every empty slab of
 *    the caller and of the idle records.
 *
 * 8. Hardening.  Every list word is obfuscated (uslab.h, as slab.c's:
 *    XOR with a random value and the byte-swapped address of the word),
 *    and a word read from a list must point into the same 64 KiB slab,
 *    else the list was overwritten (abort).  free() decides from the
 *    address: section table, head descriptor, then the offset must be an
 *    object start below us_bump (else "invalid pointer").  A free object
 *    carries a random mark in its second word (every object handed out has
 *    it cleared): a free that finds it takes the slow path, which looks for
 *    the object on every list of the slab it may walk (all of them for the
 *    owner, the remote list for others) and aborts with "double free" if
 *    it is there; a remote free that cannot look further aborts too
 *    ("probable"); an owner that does not find it goes on (the mark was
 *    the program's data).  A slab's own list may not hold more objects
 *    than were handed out.  (Objects carved from frames that were zero
 *    carry the mark with bit 0 flipped: calloc need not clear them.)  kmm_check() walks every list of the caller and
 *    the idle records (no object twice, each marked, counts right).
 *
 * 9. Pages given back inside partly used slabs.  One object in use keeps
 *    a whole 64 KiB slab; malloc_trim (as glibc's, which gives back the
 *    free pages inside its heap) also looks at every partial slab of the
 *    caller and of the idle records: the pages that no object in use
 *    touches go back to the OS (madvise DONTNEED, one call per run).  The
 *    free objects that start in them leave the slab's list first (their
 *    list words go with the pages) and stay counted in us_nfree; the mask
 *    of such pages is in the slab's second page descriptor (us_released).
 *    While a slab has pages given back its us_limit is 0, so every free
 *    into it takes the slow path, where a free of an object that starts
 *    in such a page is a double free (the page reads as zero: the freed
 *    mark cannot tell).  When the slab becomes active again, the objects
 *    of those pages go back on its list and the pages fault in as they
 *    are used.  This is not done on the way (it would be cheap to decide,
 *    but madvise costs some 40 us a call on this project's VM, and a
 *    workload that pins a few objects per slab needs a call per run
 *    between them: bench/fragment ran 1.5 to 1.9 times as long for 13 to
 *    17 % less peak RSS).
 *
 * Lock order (util/lock.h): owners_lock, a record's lock, then the slab
 * caches' (records come from one) and the zone lock (slabs).  A thread
 * that needs an idle record's slab drops its record's lock to take
 * owners_lock.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "uslab.h"
#include "slab.h"
#include "../os.h"
#include "../util/format.h"

/* remote list state bit (THEORY 4) */
#define RFREE_FULL ((uintptr_t)1)

/* empty slabs a record keeps per class (THEORY 7) */
#define KEEP_EMPTY 1


__thread struct kmm_uslab_tls kmm_uslab_tls __attribute__((tls_model("initial-exec")));

struct kmm_uslab_class kmm_uslab_classes[KMM_USLAB_CLASSES];
uint8_t kmm_uslab_class_of[KMM_USLAB_MAX / 16 + 1];
uintptr_t kmm_uslab_random;
uintptr_t kmm_uslab_key;
int kmm_uslab_poison = -1;

static kmm_lock_t owners_lock = KMM_LOCK_INIT_RANK(KMM_RANK_USLAB);
static struct kmm_uslab_owner *owners_all;    /* every record, oldest (index 0) first */
static struct kmm_uslab_owner **owners_tail = &owners_all;
static struct kmm_uslab_owner *owners_idle;   /* records with no thread */
static size_t nr_owners, nr_idle;
static struct kmm_kmem_cache *owner_cache;
static int uslab_ready;

/* slabs of each class in use (any state): slow paths only */
static size_t nr_slabs[KMM_USLAB_CLASSES];
/* all classes, their peak (decaying), and the share of the buddy
 * allocator's high watermark asked for (THEORY 7) */
static size_t slabs_total, slabs_peak, target_asked;
/* remote frees by threads without a record (exited, or never allocated),
 * on counters a line apart picked by a hash of the thread's TLS address:
 * one shared counter was a third of the time of the consumer threads of
 * xmalloc-test, which only free */
#define UNOWNED_STRIPES 16
static struct {
	uint64_t n;
} __attribute__((aligned(64))) remote_frees_unowned[UNOWNED_STRIPES];

static inline void count_unowned_free(const struct kmm_uslab_tls *t)
{
	size_t i = (size_t)(((uint64_t)(uintptr_t)t * 0x9e3779b97f4a7c15ULL) >> 60) % UNOWNED_STRIPES;
	__atomic_add_fetch(&remote_frees_unowned[i].n, 1, __ATOMIC_RELAXED);
}

/* The buddy allocator keeps up to slabs_peak slabs' frames resident when
 * they are free (at most 64 MiB), so that a program whose slabs come and
 * go in waves (whole structures built and freed) does not fault them in
 * again each time.  Asked for again when it moved by an eighth. */
static void slab_target_update(void)
{
	size_t t = __atomic_load_n(&slabs_peak, __ATOMIC_RELAXED) * KMM_USLAB_PAGES;
	if (t > ((size_t)64 << 20) / KMM_PAGE_SIZE)
		t = ((size_t)64 << 20) / KMM_PAGE_SIZE;
	size_t a = __atomic_load_n(&target_asked, __ATOMIC_RELAXED);
	if (t > a + a / 8 || t + t / 8 < a) {
		__atomic_store_n(&target_asked, t, __ATOMIC_RELAXED);
		kmm_buddy_set_slab_target(t);
	}
}
/* statistics of records' counters merged at fork (a record is never lost:
 * nothing to merge otherwise) */

static const char *const class_names[KMM_USLAB_CLASSES] = {
#define KMM_USLAB_NAME_(n) "uslab-" #n,
	KMM_USLAB_SIZES(KMM_USLAB_NAME_)
#undef KMM_USLAB_NAME_
};

/* ---- set-up ------------------------------------------------------------------------ */

/* The class tables: at kmm's start-up, before any request is classed
 * (no allocation, no system call: profile=glibc must not notice). */
KMM_COLD void kmm_uslab_zero_class(bool on)
{
	if (kmm_uslab_classes[0].size != 0)   /* (else kmm_uslab_init's caller sets it) */
		kmm_uslab_class_of[0] = on ? KMM_USLAB_EMPTY : 0;
}

KMM_HOT void kmm_uslab_init(void)
{
	if (kmm_uslab_classes[0].size != 0)
		return;
	size_t i = 0;
#define KMM_USLAB_SETUP_(n) kmm_uslab_classes[i++].size = (n);
	KMM_USLAB_SIZES(KMM_USLAB_SETUP_)
#undef KMM_USLAB_SETUP_
	size_t cls = 0;
	for (size_t w = 0; w <= KMM_USLAB_MAX / 16; w++) {
		while (kmm_uslab_classes[cls].size < w * 16)
			cls++;
		kmm_uslab_class_of[w] = (uint8_t)cls;
	}
	for (i = 0; i < KMM_USLAB_CLASSES; i++) {
		struct kmm_uslab_class *k = &kmm_uslab_classes[i];
		k->recip = (uint32_t)((((uint64_t)1 << 32) + k->size - 1) / k->size);
		k->objects = (uint16_t)(KMM_USLAB_BYTES / k->size);
		size_t batch = KMM_PAGE_SIZE / k->size;
		k->batch = (uint16_t)(batch < 1 ? 1 : batch);
		k->unpark = (uint16_t)(k->objects / 8 < 1 ? 1 : k->objects / 8);
	}
}

/* The first slab: the random value and the records' cache.  owners_lock
 * held. */
static KMM_HOT void uslab_init(void)
{
	if (uslab_ready)
		return;
	kmm_uslab_init();
	kmm_uslab_random = (uintptr_t)kmm_os_random();
	/* bits 0 and 1 set: neither mark is 0, which handed-out objects hold */
	kmm_uslab_key = (uintptr_t)kmm_os_random() | 3;
	owner_cache = kmm_kmem_cache_create("uslab_owner", sizeof(struct kmm_uslab_owner), 64);
	__atomic_store_n(&uslab_ready, 1, __ATOMIC_RELEASE);
}

static KMM_HOT struct kmm_uslab_owner *owner_new(void)
{
	struct kmm_uslab_owner *o = kmm_kmem_cache_zalloc(owner_cache);
	if (o == NULL)
		return NULL;
	kmm_lock_init(&o->lock, KMM_RANK_USLAB_OWNER, (unsigned)nr_owners);
	o->index = (unsigned)nr_owners;
	for (size_t k = 0; k < KMM_USLAB_CLASSES; k++)
		kmm_list_init(&o->partial[k]);
	kmm_list_init(&o->full);
	*owners_tail = o;
	owners_tail = &o->next_all;
	nr_owners++;
	return o;
}

/* The calling thread's first slow path: a record for it. */
static KMM_HOT KMM_NOINLINE struct kmm_uslab_owner *owner_attach(struct kmm_uslab_tls *t, bool fast)
{
	bool locked = kmm_lock_fork_aware(&owners_lock);
	uslab_init();
	struct kmm_uslab_owner *o = owners_idle;
	if (o != NULL) {
		owners_idle = o->next_idle;
		o->next_idle = NULL;
		nr_idle--;
	} else if (owner_cache != NULL) {
		o = owner_new();
	}
	if (o != NULL) {
		o->live = true;
		o->tls = t;
	}
	kmm_unlock_if(&owners_lock, locked);
	if (o == NULL)
		return NULL;
	/* a record idle since a fork may still have active slabs */
	for (size_t k = 0; k < KMM_USLAB_CLASSES; k++) {
		t->cpu[k].slab = o->active[k];
		t->cpu[k].free = NULL;
	}
	t->owner = o;
	t->slow_only = !fast;
	t->id = fast ? (uintptr_t)o : 0;
	return o;
}

/* ---- slabs ------------------------------------------------------------------------- */

static inline char *slab_base(const struct kmm_page *s)
{
	return kmm_page_address(s);
}

/* The slab's second page descriptor: its slow-path state (page_alloc.h). */
static inline struct kmm_page *ext(const struct kmm_page *s)
{
	return (struct kmm_page *)s + 1;
}

/* Whether the object at obj starts in a page of s given back to the OS
 * (a free of it is a double free).  Others than the owner read the mask
 * racily: it changes only while no object in use starts in those pages. */
static inline bool obj_released(const struct kmm_page *s, const void *obj)
{
	unsigned mask = __atomic_load_n(&ext(s)->us_released, __ATOMIC_RELAXED);
	return (mask >> (((uintptr_t)obj & (KMM_USLAB_BYTES - 1)) >> KMM_PAGE_SHIFT)) & 1;
}

/* The carved objects of s that start in its page p: [*first, *end). */
static void page_objects(const struct kmm_page *s, size_t p, size_t *first, size_t *end)
{
	size_t size = kmm_uslab_classes[s->us_class].size;
	*first = (p * KMM_PAGE_SIZE + size - 1) / size;
	*end = ((p + 1) * KMM_PAGE_SIZE + size - 1) / size;
	if (*end > s->us_bump)
		*end = s->us_bump;
}

/* The free objects of s that start in pages given back (THEORY 9). */
static size_t released_objects(const struct kmm_page *s)
{
	unsigned mask = ext(s)->us_released;
	size_t n = 0;
	for (size_t p = 0; mask != 0; p++, mask >>= 1) {
		size_t first, end;
		page_objects(s, p, &first, &end);
		if ((mask & 1) && end > first)
			n += end - first;
	}
	return n;
}

static KMM_COLD KMM_NORETURN void list_corrupt(const struct kmm_page *s, const void *entry, const char *which)
{
	kmm_fatal("malloc(): %s list of the %s slab at %p corrupted (entry %p is not one of its objects; a write "
		  "after free?)",
		  which, class_names[s->us_class], (void *)slab_base(s), entry);
}

KMM_NORETURN KMM_COLD void kmm_uslab_corrupt(const void *obj, const void *next)
{
	kmm_fatal("malloc(): free list corrupted at %p (its next pointer %p leaves the slab; a write after free?)",
		  obj, next);
}

void kmm_uslab_check_tls_lists(size_t depth)
{
	struct kmm_uslab_tls *t = &kmm_uslab_tls;
	for (size_t cls = 0; cls < KMM_USLAB_CLASSES; cls++) {
		struct kmm_uslab_free_obj *obj = t->cpu[cls].free;
		for (size_t i = 0; obj != NULL && i < depth; i++) {
			void *next = kmm_uslab_next(obj);
			if (KMM_UNLIKELY(!kmm_uslab_next_ok(obj, next)))
				kmm_uslab_corrupt(obj, next);
			obj = next;
		}
	}
}

/* The length of a list of slab s, each entry checked to be one of its
 * objects handed out before (else the list was overwritten: abort). */
static KMM_HOT size_t list_count(const struct kmm_page *s, const void *head, const char *which)
{
	uintptr_t base = (uintptr_t)slab_base(s);
	size_t n = 0, cls = s->us_class;
	for (const void *o = head; o != NULL; o = kmm_uslab_next(o)) {
		uintptr_t off = (uintptr_t)o - base;
		if (KMM_UNLIKELY(off >= KMM_USLAB_BYTES || (unsigned long)kmm_uslab_index(cls, off) >= s->us_bump ||
				 ++n > s->us_bump))
			list_corrupt(s, o, which);
	}
	return n;
}

static KMM_HOT struct kmm_page *slab_new(struct kmm_uslab_owner *o, size_t cls)
{
	struct kmm_page *s = kmm_alloc_pages(KMM_USLAB_ORDER, KMM_GFP_USER | KMM_GFP_HOT, KMM_OWNER_USLAB);
	if (s == NULL)
		return NULL;
	s->us_lfree = NULL;
	s->us_owner = o;
	s->us_bump = 0;
	s->us_nfree = 0;
	s->us_class = (uint8_t)cls;
	s->us_where = 0;
	s->us_limit = 0;
	ext(s)->us_clean = !(s->flags & KMM_PG_DIRTY);
	ext(s)->us_released = 0;
	s->us_next = NULL;
	__atomic_store_n(&s->us_rfree, 0, __ATOMIC_RELAXED);
	kmm_list_init(&s->lru);
	/* last: a lookup that sees the flag sees the rest */
	__atomic_store_n(&s->flags, s->flags | KMM_PG_USLAB, __ATOMIC_RELEASE);
	__atomic_add_fetch(&nr_slabs[cls], 1, __ATOMIC_RELAXED);
	o->slabs_made++;
	size_t total = __atomic_add_fetch(&slabs_total, 1, __ATOMIC_RELAXED);
	if (total > __atomic_load_n(&slabs_peak, __ATOMIC_RELAXED)) {
		__atomic_store_n(&slabs_peak, total, __ATOMIC_RELAXED);
		slab_target_update();
	}
	return s;
}

/* An empty slab on no list goes back to the buddy allocator. */
static KMM_HOT void slab_release(struct kmm_uslab_owner *o, struct kmm_page *s)
{
	KMM_ASSERT(s->us_nfree == s->us_bump && __atomic_load_n(&s->us_rfree, __ATOMIC_RELAXED) == 0);
	size_t cls = s->us_class;
	__atomic_store_n(&s->flags, s->flags & ~KMM_PG_USLAB, __ATOMIC_RELAXED);
	s->us_owner = NULL;
	s->us_lfree = NULL;
	/* the pages past the last object carved were never touched */
	size_t touched = ((size_t)s->us_bump * kmm_uslab_classes[cls].size + KMM_PAGE_SIZE - 1) >> KMM_PAGE_SHIFT;
	touched -= (size_t)__builtin_popcount(ext(s)->us_released & ((1u << touched) - 1));
	ext(s)->us_released = 0;
	ext(s)->us_clean = 0;
	kmm_free_pages_resident(s, KMM_USLAB_ORDER, touched);
	__atomic_sub_fetch(&nr_slabs[cls], 1, __ATOMIC_RELAXED);
	o->slabs_freed++;
	/* the peak decays slowly while fewer slabs are in use */
	__atomic_sub_fetch(&slabs_total, 1, __ATOMIC_RELAXED);
	size_t peak = __atomic_load_n(&slabs_peak, __ATOMIC_RELAXED);
	__atomic_store_n(&slabs_peak, peak - (peak >> 12), __ATOMIC_RELAXED);
	slab_target_update();
}

/* Slab s of record o (on its partial list) is empty: keep it, or release
 * it if o keeps enough empty slabs of its class. */
static KMM_HOT void slab_emptied(struct kmm_uslab_owner *o, struct kmm_page *s)
{
	size_t cls = s->us_class;
	if (o->nempty[cls] < KEEP_EMPTY) {
		o->nempty[cls]++;
		/* last in line: fuller slabs are used first */
		kmm_list_del(&s->lru);
		kmm_list_add_tail(&s->lru, &o->partial[cls]);
		return;
	}
	kmm_list_del(&s->lru);
	slab_release(o, s);
}

/* Take a slab off its record's partial list (it becomes active, or moves). */
static KMM_HOT void partial_del(struct kmm_uslab_owner *o, struct kmm_page *s)
{
	if (s->us_nfree == s->us_bump)
		o->nempty[s->us_class]--;
	kmm_list_del(&s->lru);
}

/* The remote list of s onto its own list (owner, or idle record under
 * owners_lock). */
static KMM_HOT void collect_to_lfree(struct kmm_uslab_owner *o, struct kmm_page *s)
{
	uintptr_t r = __atomic_load_n(&s->us_rfree, __ATOMIC_RELAXED);
	if ((r & ~RFREE_FULL) == 0)
		return;
	r = __atomic_exchange_n(&s->us_rfree, 0, __ATOMIC_ACQUIRE);
	void *list = (void *)(r & ~RFREE_FULL);
	size_t n = list_count(s, list, "remote");
	/* append our own list after the collected one */
	void *last = list;
	for (void *nx; (nx = kmm_uslab_next(last)) != NULL;)
		last = nx;
	*(uintptr_t *)last = kmm_uslab_protect(last, s->us_lfree);
	s->us_lfree = list;
	s->us_nfree = (uint16_t)(s->us_nfree + n);
	o->collected++;
}

/* Partial slab s: the owner's fast free leaves for the slow path when
 * the slab would be empty, or at every free while it has pages given back
 * (THEORY 9). */
static KMM_HOT void set_limit(struct kmm_page *s)
{
	s->us_limit = ext(s)->us_released != 0 ? 0 : s->us_bump;
}

/* The free objects of s that start in page p back on its list (the page
 * faults in again as they are written). */
static void relist_page(struct kmm_page *s, size_t p)
{
	size_t size = kmm_uslab_classes[s->us_class].size, first, end;
	page_objects(s, p, &first, &end);
	char *base = slab_base(s);
	for (size_t idx = end; idx-- > first;) {
		char *obj = base + idx * size;
		if (KMM_UNLIKELY(kmm_uslab_poison >= 0))
			memset(obj + sizeof(struct kmm_uslab_free_obj), kmm_uslab_poison,
			       size - sizeof(struct kmm_uslab_free_obj));
		kmm_uslab_push(&s->us_lfree, obj);
	}
}

/* Slab s leaves its partial list to become active: the objects of its
 * pages given back go back on its list. */
static KMM_NOINLINE void restore_pages(struct kmm_page *s)
{
	unsigned mask = ext(s)->us_released;
	for (size_t p = KMM_USLAB_PAGES; p-- > 0;)
		if ((mask >> p) & 1)
			relist_page(s, p);
	ext(s)->us_released = 0;
}

/* Partial slab s of o (o's lock held, or o idle under owners_lock): the
 * pages that no object in use touches go back to the OS, and the free
 * objects that start in them leave its list (THEORY 9). */
static KMM_COLD size_t release_free_pages(struct kmm_uslab_owner *o, struct kmm_page *s)
{
	collect_to_lfree(o, s);
	size_t cls = s->us_class, size = kmm_uslab_classes[cls].size, bump = s->us_bump;
	uintptr_t base = (uintptr_t)slab_base(s);
	uint64_t isfree[KMM_USLAB_BYTES / 16 / 64] = { 0 };
	size_t n = 0;
	for (const void *f = s->us_lfree; f != NULL; f = kmm_uslab_next(f)) {
		long idx = kmm_uslab_index(cls, (uintptr_t)f - base);
		if ((uintptr_t)f - base >= KMM_USLAB_BYTES || idx < 0 || (size_t)idx >= bump || ++n > bump)
			list_corrupt(s, f, "own");
		isfree[idx / 64] |= (uint64_t)1 << (idx % 64);
	}
	/* the pages objects in use touch; the carved part's pages */
	unsigned busy = 0, released = ext(s)->us_released;
	for (size_t idx = 0; idx < bump; idx++)
		if (!((isfree[idx / 64] >> (idx % 64)) & 1) && !obj_released(s, (void *)(base + idx * size))) {
			size_t first = (idx * size) >> KMM_PAGE_SHIFT, last = (idx * size + size - 1) >> KMM_PAGE_SHIFT;
			busy |= ((2u << last) - 1) & ~((1u << first) - 1);
		}
	size_t carved = (bump * size + KMM_PAGE_SIZE - 1) >> KMM_PAGE_SHIFT;
	unsigned give = ((1u << carved) - 1) & ~busy & ~released;
	if (give == 0)
		return 0;
	/* the free objects starting in those pages leave the list first (their
	 * words go with the pages); they stay counted in us_nfree */
	void *prev = NULL;
	for (void *f = s->us_lfree, *next; f != NULL; f = next) {
		next = kmm_uslab_next(f);
		if ((give >> (((uintptr_t)f - base) >> KMM_PAGE_SHIFT)) & 1)
			continue;
		if (prev == NULL)
			s->us_lfree = f;
		else
			*(uintptr_t *)prev = kmm_uslab_protect(prev, f);
		prev = f;
	}
	if (prev == NULL)
		s->us_lfree = NULL;
	else
		*(uintptr_t *)prev = kmm_uslab_protect(prev, NULL);
	/* one madvise per run of pages; a run that stays gets its objects
	 * back on the list */
	for (unsigned p = 0; p < KMM_USLAB_PAGES;) {
		if (!((give >> p) & 1)) {
			p++;
			continue;
		}
		unsigned q = p;
		while (q < KMM_USLAB_PAGES && ((give >> q) & 1))
			q++;
		if (kmm_os_advise((void *)(base + ((uintptr_t)p << KMM_PAGE_SHIFT)), (size_t)(q - p) << KMM_PAGE_SHIFT,
				  MADV_DONTNEED) == 0) {
			o->page_releases++;
		} else {
			for (unsigned r = p; r < q; r++)
				relist_page(s, r);
			give &= ~(((1u << q) - 1) & ~((1u << p) - 1));
		}
		p = q;
	}
	ext(s)->us_released = (uint16_t)(released | give);
	o->pages_released += (uint64_t)__builtin_popcount(give);
	set_limit(s);
	return (size_t)__builtin_popcount(give) << KMM_PAGE_SHIFT;
}


/* The slabs that got their first remote free while full (THEORY 4): from
 * the full list to the partial lists.  o's lock held (or o idle, under
 * owners_lock). */
static KMM_HOT KMM_NOINLINE void drain_returned(struct kmm_uslab_owner *o)
{
	struct kmm_page *s = __atomic_exchange_n(&o->returned, NULL, __ATOMIC_ACQUIRE);
	while (s != NULL) {
		struct kmm_page *next = s->us_next;
		s->us_next = NULL;
		KMM_ASSERT(s->us_where == KMM_USLAB_FULL && s->us_owner == o);
		kmm_list_del(&s->lru);
		s->us_where = KMM_USLAB_PARTIAL;
		set_limit(s);
		kmm_list_add(&s->lru, &o->partial[s->us_class]);
		o->returned_n++;
		if (s->us_nfree == s->us_bump && __atomic_load_n(&s->us_rfree, __ATOMIC_RELAXED) == 0)
			slab_emptied(o, s);
		s = next;
	}
}

/* A partial slab of class cls from an idle record, now o's (THEORY 5). */
static KMM_NOINLINE struct kmm_page *steal_idle(struct kmm_uslab_owner *o, size_t cls)
{
	struct kmm_page *s = NULL;
	bool locked = kmm_lock_fork_aware(&owners_lock);
	for (struct kmm_uslab_owner *i = owners_idle; i != NULL && s == NULL; i = i->next_idle) {
		if (i->returned != NULL)
			drain_returned(i);
		if (!kmm_list_empty(&i->partial[cls])) {
			s = kmm_list_entry(i->partial[cls].next, struct kmm_page, lru);
			partial_del(i, s);
		}
	}
	if (s != NULL)
		s->us_owner = o;
	kmm_unlock_if(&owners_lock, locked);
	return s;
}

/* Owner: the next active slab of class cls (a partial one, an idle
 * record's, a new one), or NULL if memory ran out.  o's lock is held
 * (*locked: whether taken); it is dropped to take owners_lock (the lock
 * order), the stolen slab on no list meanwhile. */
static KMM_HOT struct kmm_page *next_slab(struct kmm_uslab_owner *o, size_t cls, bool *locked)
{
	struct kmm_page *s = NULL;
	if (!kmm_list_empty(&o->partial[cls])) {
		s = kmm_list_entry(o->partial[cls].next, struct kmm_page, lru);
		partial_del(o, s);
	} else {
		if (__atomic_load_n(&nr_idle, __ATOMIC_RELAXED) != 0) {
			kmm_unlock_if(&o->lock, *locked);
			s = steal_idle(o, cls);
			*locked = kmm_lock_fork_aware(&o->lock);
		}
		if (s == NULL)
			s = slab_new(o, cls);
		if (s == NULL)
			return NULL;
	}
	if (ext(s)->us_released != 0)
		restore_pages(s);
	s->us_where = KMM_USLAB_ACTIVE;
	return s;
}

/* Carve the next batch of unused objects of s into a list (THEORY 1). */
static KMM_HOT void *carve(struct kmm_page *s, size_t *count)
{
	const struct kmm_uslab_class *k = &kmm_uslab_classes[s->us_class];
	size_t i = s->us_bump, m = k->objects - i, want = i > k->batch ? i : k->batch;
	if (m > want)
		m = want;
	char *first = slab_base(s) + i * k->size, *obj = first;
	/* the fresh mark on what comes from zero frames (not under poison=on,
	 * which fills it) */
	uintptr_t mark = ext(s)->us_clean && kmm_uslab_poison < 0 ? kmm_uslab_key ^ 1 : kmm_uslab_key;
	for (size_t j = 1; j < m; j++, obj += k->size) {
		((struct kmm_uslab_free_obj *)obj)->next = kmm_uslab_protect(obj, obj + k->size);
		((struct kmm_uslab_free_obj *)obj)->key = mark;
	}
	((struct kmm_uslab_free_obj *)obj)->next = kmm_uslab_protect(obj, NULL);
	((struct kmm_uslab_free_obj *)obj)->key = mark;
	if (KMM_UNLIKELY(kmm_uslab_poison >= 0))
		for (size_t j = 0; j < m; j++)
			memset(first + j * k->size + sizeof(struct kmm_uslab_free_obj), kmm_uslab_poison,
			       k->size - sizeof(struct kmm_uslab_free_obj));
	s->us_bump = (uint16_t)(i + m);
	*count = m;
	return first;
}

/* Owner: a list of free objects of the active slab of class cls (which
 * may change), taken out of the slab; NULL if memory ran out.  *count is
 * its length, if count is not NULL: a remote list taken for the TLS list
 * is not walked here (its words are checked as the objects are popped, and
 * walking a list another thread just wrote is a cache miss per object:
 * sh8bench spent a quarter of its time so). */
static KMM_HOT void *refill(struct kmm_uslab_owner *o, struct kmm_uslab_tls *t, size_t cls, size_t *count,
			    bool *locked)
{
	size_t dummy;
	if (count == NULL)
		count = &dummy;
	struct kmm_page *s = t->cpu[cls].slab;
	for (;;) {
		if (s == NULL) {
			s = next_slab(o, cls, locked);
			if (s == NULL)
				return NULL;
			t->cpu[cls].slab = s;
			o->active[cls] = s;
		}
		if (s->us_lfree != NULL) {
			void *list = s->us_lfree;
			*count = s->us_nfree;
			s->us_lfree = NULL;
			s->us_nfree = 0;
			return list;
		}
		if ((__atomic_load_n(&s->us_rfree, __ATOMIC_RELAXED) & ~RFREE_FULL) != 0) {
			void *list = (void *)__atomic_exchange_n(&s->us_rfree, 0, __ATOMIC_ACQUIRE);
			if (count != &dummy)
				*count = list_count(s, list, "remote");
			o->collected++;
			return list;
		}
		if (s->us_bump < kmm_uslab_classes[cls].objects) {
			return carve(s, count);
		}
		/* full: park it (THEORY 4), unless remote frees came in */
		uintptr_t expect = 0;
		if (!__atomic_compare_exchange_n(&s->us_rfree, &expect, RFREE_FULL, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_RELAXED))
			continue;
		s->us_where = KMM_USLAB_FULL;
		s->us_limit = s->us_bump;   /* the unpark count decides (THEORY 4) */
		kmm_list_add(&s->lru, &o->full);
		o->parked++;
		t->cpu[cls].slab = NULL;
		o->active[cls] = NULL;
		s = NULL;
	}
}

KMM_HOT void *kmm_uslab_alloc(size_t cls, bool fast, bool *fresh)
{
	struct kmm_uslab_tls *t = &kmm_uslab_tls;
	struct kmm_uslab_owner *o = t->owner;
	if (KMM_UNLIKELY(o == NULL)) {
		if (t->dead)
			return NULL;
		o = owner_attach(t, fast);
		if (o == NULL) {
			errno = ENOMEM;
			return NULL;
		}
	}
	if (KMM_UNLIKELY(!fast && !t->slow_only))
		kmm_uslab_fast_paths_off();
	bool locked = kmm_lock_fork_aware(&o->lock);
	o->alloc_slow++;
	if (__atomic_load_n(&o->returned, __ATOMIC_RELAXED) != NULL)
		drain_returned(o);
	void *obj;
	struct kmm_uslab_cpu *c = &t->cpu[cls];
	if (!fast && c->slab != NULL && c->slab->us_lfree != NULL) {
		/* fast paths off: the active slab's own list is the list */
		struct kmm_page *s = c->slab;
		obj = s->us_lfree;
		void *next = kmm_uslab_next(obj);
		if (KMM_UNLIKELY(!kmm_uslab_next_ok(obj, next)))
			kmm_uslab_corrupt(obj, next);
		s->us_lfree = next;
		s->us_nfree--;
	} else if (fast && c->free != NULL) {
		/* (a caller that found the list empty, then set the thread up
		 * or drained its returned slabs: nothing to refill) */
		obj = c->free;
		void *next = kmm_uslab_next(obj);
		if (KMM_UNLIKELY(!kmm_uslab_next_ok(obj, next)))
			kmm_uslab_corrupt(obj, next);
		c->free = next;
	} else {
		size_t n = 0;
		obj = refill(o, t, cls, fast ? NULL : &n, &locked);
		if (obj != NULL) {
			void *next = kmm_uslab_next(obj);
			if (KMM_UNLIKELY(!kmm_uslab_next_ok(obj, next)))
				kmm_uslab_corrupt(obj, next);
			if (fast) {
				c->free = next;
			} else {
				c->slab->us_lfree = next;
				c->slab->us_nfree = (uint16_t)(n - 1);
			}
		}
	}
	kmm_unlock_if(&o->lock, locked);
	if (obj == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	if (fresh != NULL)
		*fresh = ((struct kmm_uslab_free_obj *)obj)->key == (kmm_uslab_key ^ 1);
	((struct kmm_uslab_free_obj *)obj)->key = 0;
	t->allocs++;
	return obj;
}

/* ---- free ------------------------------------------------------------------------------ */

static KMM_COLD KMM_NORETURN void bad_pointer(const struct kmm_page *s, const void *obj, const char *who)
{
	size_t cls = s->us_class, size = kmm_uslab_classes[cls].size;
	size_t off = (size_t)((uintptr_t)obj & (KMM_USLAB_BYTES - 1));
	if ((uintptr_t)obj % 8 != 0)
		kmm_fatal("%s: invalid pointer %p (misaligned)", who, obj);
	if (off / size >= s->us_bump)
		kmm_fatal("%s: invalid pointer %p (object %zu of a %s slab, never handed out)", who, obj, off / size,
			  class_names[cls]);
	kmm_fatal("%s: invalid pointer %p (%zu bytes into object %zu of a %s slab)", who, obj, off % size, off / size,
		  class_names[cls]);
}

static KMM_COLD KMM_NORETURN void double_free(const struct kmm_page *s, const void *obj, const char *who,
					      const char *where)
{
	kmm_fatal("%s: double free detected (pointer %p, %s, %s)", who, obj, class_names[s->us_class], where);
}

/* Whether a list of slab s holds obj (walked whole: at most the slab's
 * objects; an entry outside the slab ends it with a diagnostic). */
static KMM_COLD bool list_holds(const struct kmm_page *s, const void *head, const void *obj)
{
	size_t n = 0;
	for (const void *o = head; o != NULL; o = kmm_uslab_next(o)) {
		if (o == obj)
			return true;
		const void *next = kmm_uslab_next(o);
		if (!kmm_uslab_next_ok(o, next) || ++n > s->us_bump)
			kmm_uslab_corrupt(o, next);
	}
	return false;
}

KMM_HOT struct kmm_page *kmm_uslab_head(const void *addr)
{
	struct kmm_page *p = kmm_uslab_head_fast((uintptr_t)addr);
	if (KMM_LIKELY(p != NULL))
		return p;
	/* a section the table does not know (its slot was taken)? */
	p = kmm_virt_to_page(addr);
	if (p == NULL || kmm_section_fast((uintptr_t)addr) != NULL)
		return NULL;
	p -= ((uintptr_t)addr >> KMM_PAGE_SHIFT) & (KMM_USLAB_PAGES - 1);
	return (__atomic_load_n(&p->flags, __ATOMIC_ACQUIRE) & KMM_PG_USLAB) ? p : NULL;
}

/* obj must be a handed-out object of s: its index. */
static KMM_HOT size_t object_index(const struct kmm_page *s, const void *obj, const char *who)
{
	long idx = kmm_uslab_index(s->us_class, (uintptr_t)obj & (KMM_USLAB_BYTES - 1));
	if (KMM_UNLIKELY((unsigned long)idx >= s->us_bump))
		bad_pointer(s, obj, who);
	return (size_t)idx;
}

KMM_HOT size_t kmm_uslab_usable(struct kmm_page *page, const void *obj, const char *who)
{
	object_index(page, obj, who);
	return kmm_uslab_classes[page->us_class].size;
}

/* Another thread's slab (or an idle record's, or this thread's after its
 * exit): onto the remote list (THEORY 4). */
static KMM_HOT void remote_free(struct kmm_page *s, void *obj, const char *who)
{
	struct kmm_uslab_free_obj *f = obj;
	if (KMM_UNLIKELY(obj_released(s, obj)))
		double_free(s, obj, who, "its page was given back to the OS");
	uintptr_t old = __atomic_load_n(&s->us_rfree, __ATOMIC_RELAXED);
	if (KMM_UNLIKELY(kmm_uslab_marked(obj))) {
		/* marked free: on the remote list (whose entries stay in the
		 * slab while the owner takes them: the walk is safe), or on
		 * one of the owner's, which only the owner may walk */
		if (list_holds(s, (void *)(old & ~RFREE_FULL), obj))
			double_free(s, obj, who, "already on its slab's remote list");
		double_free(s, obj, who, "probable: it carries the freed mark");
	}
	f->key = kmm_uslab_key;
	for (;;) {
		void *head = (void *)(old & ~RFREE_FULL);
		f->next = kmm_uslab_protect(obj, head);
		if (__atomic_compare_exchange_n(&s->us_rfree, &old, (uintptr_t)obj, true, __ATOMIC_RELEASE,
						__ATOMIC_RELAXED))
			break;
	}
	struct kmm_uslab_tls *t = &kmm_uslab_tls;
	if (t->owner != NULL)
		t->owner->remote_frees++;
	else
		count_unowned_free(t);
	if (old & RFREE_FULL) {
		/* the first free into a parked slab: tell its owner */
		struct kmm_uslab_owner *o = s->us_owner;
		struct kmm_page *top = __atomic_load_n(&o->returned, __ATOMIC_RELAXED);
		do {
			s->us_next = top;
		} while (!__atomic_compare_exchange_n(&o->returned, &top, s, true, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
	}
}

/* This thread's own slab, o's lock held. */
static KMM_HOT void local_free(struct kmm_uslab_owner *o, struct kmm_uslab_tls *t, struct kmm_page *s, void *obj,
			       const char *who)
{
	size_t cls = s->us_class;
	bool tls = t->cpu[cls].slab == s && !t->slow_only;
	o->free_slow++;
	if (KMM_UNLIKELY(obj_released(s, obj)))
		double_free(s, obj, who, "its page was given back to the OS");
	if (KMM_UNLIKELY(kmm_uslab_marked(obj))) {
		/* marked free: look on every list it could be on (all of them
		 * this thread's to walk); not there, the mark was user data */
		if (tls && list_holds(s, t->cpu[cls].free, obj))
			double_free(s, obj, who, "already on this thread's list");
		if (list_holds(s, s->us_lfree, obj))
			double_free(s, obj, who, "already on its slab's list");
		if (list_holds(s, (void *)(__atomic_load_n(&s->us_rfree, __ATOMIC_ACQUIRE) & ~RFREE_FULL), obj))
			double_free(s, obj, who, "already on its slab's remote list");
	}
	if (tls) {
		kmm_uslab_push(&t->cpu[cls].free, obj);
		return;
	}
	if (KMM_UNLIKELY(s->us_nfree >= s->us_bump))
		double_free(s, obj, who, "every object of its slab is free");
	kmm_uslab_push(&s->us_lfree, obj);
	s->us_nfree++;
	if (s->us_where == KMM_USLAB_FULL) {
		uintptr_t expect = RFREE_FULL;
		if (!__atomic_compare_exchange_n(&s->us_rfree, &expect, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			return;   /* a remote freer pushed it on o->returned: the drain moves it */
		kmm_list_del(&s->lru);
		s->us_where = KMM_USLAB_PARTIAL;
		set_limit(s);
		kmm_list_add(&s->lru, &o->partial[cls]);
	}
	if (s->us_where != KMM_USLAB_PARTIAL)
		return;
	if (s->us_nfree == s->us_bump)
		slab_emptied(o, s);
}

KMM_HOT bool kmm_uslab_free(struct kmm_page *s, void *obj, const char *who)
{
	object_index(s, obj, who);
	struct kmm_uslab_tls *t = &kmm_uslab_tls;
	struct kmm_uslab_owner *o = t->owner;
	if (o != NULL && s->us_owner == o) {
		bool locked = kmm_lock_fork_aware(&o->lock);
		local_free(o, t, s, obj, who);
		kmm_unlock_if(&o->lock, locked);
		return true;
	}
	remote_free(s, obj, who);
	return false;
}

/* ---- thread states --------------------------------------------------------------------- */

/* The TLS list of class cls back onto its slab's own list; the slab stays
 * active.  o's lock held. */
static void give_back_list(struct kmm_uslab_tls *t, size_t cls)
{
	struct kmm_page *s = t->cpu[cls].slab;
	void *list = t->cpu[cls].free;
	t->cpu[cls].free = NULL;
	if (s == NULL || list == NULL)
		return;
	size_t n = list_count(s, list, "thread's");
	void *last = list;
	for (void *nx; (nx = kmm_uslab_next(last)) != NULL;)
		last = nx;
	*(uintptr_t *)last = kmm_uslab_protect(last, s->us_lfree);
	s->us_lfree = list;
	s->us_nfree = (uint16_t)(s->us_nfree + n);
}

KMM_COLD void kmm_uslab_fast_paths_off(void)
{
	struct kmm_uslab_tls *t = &kmm_uslab_tls;
	t->slow_only = true;
	t->id = 0;
	struct kmm_uslab_owner *o = t->owner;
	if (o == NULL)
		return;
	bool locked = kmm_lock_fork_aware(&o->lock);
	for (size_t k = 0; k < KMM_USLAB_CLASSES; k++)
		give_back_list(t, k);
	kmm_unlock_if(&o->lock, locked);
}

/* A rescued fork child (heap/rescue.c): this thread's lists are left as
 * they are, never given back (that takes its record's lock, which the
 * interrupted call may hold); the fast paths are off from now on. */
KMM_COLD void kmm_uslab_abandon_lists(void)
{
	struct kmm_uslab_tls *t = &kmm_uslab_tls;
	t->slow_only = true;
	t->id = 0;
	for (size_t k = 0; k < KMM_USLAB_CLASSES; k++) {
		t->cpu[k].free = NULL;
		t->cpu[k].slab = NULL;
	}
}

/* Active slab s of o goes to its partial list (o's lock held, or o idle
 * under owners_lock). */
static void deactivate(struct kmm_uslab_owner *o, struct kmm_page *s)
{
	s->us_where = KMM_USLAB_PARTIAL;
	set_limit(s);
	kmm_list_add(&s->lru, &o->partial[s->us_class]);
	if (s->us_nfree == s->us_bump && __atomic_load_n(&s->us_rfree, __ATOMIC_RELAXED) == 0)
		slab_emptied(o, s);
}

/* Every partial slab of o: remote frees collected, empty ones released,
 * and with `pages` the free pages of the others given back (THEORY 9).
 * Returns the bytes released. */
static KMM_HOT size_t trim_owner(struct kmm_uslab_owner *o, bool pages)
{
	size_t released = 0;
	if (o->returned != NULL)
		drain_returned(o);
	for (size_t k = 0; k < KMM_USLAB_CLASSES; k++) {
		struct kmm_list *h = &o->partial[k];
		for (struct kmm_list *l = h->next, *n; l != h; l = n) {
			n = l->next;
			struct kmm_page *s = kmm_list_entry(l, struct kmm_page, lru);
			bool was_empty = s->us_nfree == s->us_bump;
			collect_to_lfree(o, s);
			if (s->us_nfree == s->us_bump) {
				if (was_empty)
					o->nempty[k]--;
				kmm_list_del(&s->lru);
				slab_release(o, s);
				released += KMM_USLAB_BYTES;
			} else if (pages) {
				released += release_free_pages(o, s);
			}
		}
	}
	return released;
}

KMM_HOT void kmm_uslab_thread_exit(void)
{
	struct kmm_uslab_tls *t = &kmm_uslab_tls;
	struct kmm_uslab_owner *o = t->owner;
	t->dead = true;
	t->id = 0;
	if (o == NULL)
		return;
	bool locked = kmm_lock_fork_aware(&o->lock);
	for (size_t k = 0; k < KMM_USLAB_CLASSES; k++) {
		give_back_list(t, k);
		struct kmm_page *s = t->cpu[k].slab;
		t->cpu[k].slab = NULL;
		o->active[k] = NULL;
		if (s != NULL)
			deactivate(o, s);
	}
	/* empty slabs are no use to an idle record: back to the buddy
	 * allocator, and the remote frees collected (the next owner may be
	 * long in coming) */
	trim_owner(o, false);
	kmm_unlock_if(&o->lock, locked);
	t->owner = NULL;
	locked = kmm_lock_fork_aware(&owners_lock);
	o->allocs += t->allocs;
	t->allocs = 0;
	o->tls = NULL;
	o->live = false;
	o->next_idle = owners_idle;
	owners_idle = o;
	nr_idle++;
	kmm_unlock_if(&owners_lock, locked);
}

/* ---- trim ------------------------------------------------------------------------------- */

KMM_COLD size_t kmm_uslab_trim(void)
{
	if (!__atomic_load_n(&uslab_ready, __ATOMIC_ACQUIRE))
		return 0;
	size_t released = 0;
	struct kmm_uslab_tls *t = &kmm_uslab_tls;
	struct kmm_uslab_owner *o = t->owner;
	if (o != NULL) {
		bool locked = kmm_lock_fork_aware(&o->lock);
		released += trim_owner(o, true);
		kmm_unlock_if(&o->lock, locked);
	}
	bool locked = kmm_lock_fork_aware(&owners_lock);
	for (struct kmm_uslab_owner *i = owners_idle; i != NULL; i = i->next_idle) {
		/* active slabs of a record idle since a fork */
		for (size_t k = 0; k < KMM_USLAB_CLASSES; k++) {
			struct kmm_page *s = i->active[k];
			i->active[k] = NULL;
			if (s != NULL)
				deactivate(i, s);
		}
		released += trim_owner(i, true);
	}
	kmm_unlock_if(&owners_lock, locked);
	return released;
}

/* ---- statistics and reports ---------------------------------------------------------------- */

struct class_snap {
	size_t slabs, inuse, touched, released;
};

/* The length of a slab's remote list, as far as it can be told without
 * owning the slab: its owner may take the list meanwhile and reuse the
 * objects, so the walk stops at an entry outside the slab or past the
 * slab's count (every word read is one of the slab's: no fault). */
static size_t remote_count(const struct kmm_page *p)
{
	const void *o = (const void *)(__atomic_load_n(&p->us_rfree, __ATOMIC_ACQUIRE) & ~RFREE_FULL);
	size_t n = 0;
	while (o != NULL && n < p->us_bump) {
		n++;
		const void *next = kmm_uslab_next(o);
		if (!kmm_uslab_next_ok(o, next))
			break;
		o = next;
	}
	return n;
}

/* The free objects on the live threads' TLS lists, per class: exact for
 * the caller's own, as far as can be told for the others', whose owners
 * change them meanwhile (the walk stays in the list's slab and stops past
 * its count: no fault, at worst a wrong count).  owners_lock held: a
 * record's tls stays valid. */
static void tls_free_counts(size_t n[KMM_USLAB_CLASSES])
{
	for (struct kmm_uslab_owner *o = owners_all; o != NULL; o = o->next_all) {
		struct kmm_uslab_tls *t = o->tls;
		if (t == NULL)
			continue;
		for (size_t k = 0; k < KMM_USLAB_CLASSES; k++) {
			struct kmm_page *s = __atomic_load_n(&t->cpu[k].slab, __ATOMIC_RELAXED);
			const void *obj = __atomic_load_n(&t->cpu[k].free, __ATOMIC_RELAXED);
			size_t c = 0;
			while (s != NULL && obj != NULL && c < kmm_uslab_classes[k].objects) {
				c++;
				const void *next = kmm_uslab_next(obj);
				if (!kmm_uslab_next_ok(obj, next))
					break;
				obj = next;
			}
			n[k] += c;
		}
	}
}

/* Walk every slab's head descriptor: slabs, objects not free (on their
 * own list, remote list or a TLS list) nor past us_bump, and bytes of the
 * pages ever touched, per class.  owners_lock and the zone lock held: no
 * slab comes or goes. */
static void snap_classes(struct class_snap snap[KMM_USLAB_CLASSES])
{
	memset(snap, 0, sizeof(struct class_snap) * KMM_USLAB_CLASSES);
	size_t on_tls[KMM_USLAB_CLASSES] = { 0 };
	tls_free_counts(on_tls);
	struct kmm_zone *z = &kmm_zone;
	for (struct kmm_mem_section *s = z->sections; s != NULL; s = s->next)
		for (size_t i = s->reserved_pages; i < s->deferred;) {
			struct kmm_page *p = &s->mem_map[i];
			if ((p->flags & (KMM_PG_HEAD | KMM_PG_USLAB)) == (KMM_PG_HEAD | KMM_PG_USLAB) &&
			    p->us_class < KMM_USLAB_CLASSES) {
				struct class_snap *c = &snap[p->us_class];
				size_t bump = __atomic_load_n(&p->us_bump, __ATOMIC_RELAXED);
				size_t nfree = __atomic_load_n(&p->us_nfree, __ATOMIC_RELAXED);
				size_t rfree = remote_count(p);
				c->slabs++;
				c->inuse += nfree + rfree <= bump ? bump - nfree - rfree : 0;
				size_t pages = KMM_ALIGN_UP(bump * kmm_uslab_classes[p->us_class].size, KMM_PAGE_SIZE) >>
					       KMM_PAGE_SHIFT;
				size_t gone = (size_t)__builtin_popcount(
					__atomic_load_n(&ext(p)->us_released, __ATOMIC_RELAXED) & ((1u << pages) - 1));
				c->touched += (pages - gone) << KMM_PAGE_SHIFT;
				c->released += gone << KMM_PAGE_SHIFT;
			}
			i += (p->flags & (KMM_PG_BUDDY | KMM_PG_HEAD)) ? (size_t)1 << p->order : 1;
		}
	for (size_t k = 0; k < KMM_USLAB_CLASSES; k++)
		snap[k].inuse -= on_tls[k] <= snap[k].inuse ? on_tls[k] : snap[k].inuse;
}

KMM_COLD void kmm_uslab_stats(struct kmm_uslab_stats *st)
{
	memset(st, 0, sizeof *st);
	if (!__atomic_load_n(&uslab_ready, __ATOMIC_ACQUIRE))
		return;
	struct class_snap snap[KMM_USLAB_CLASSES];
	bool locked = kmm_lock_fork_aware(&owners_lock);
	for (struct kmm_uslab_owner *o = owners_all; o != NULL; o = o->next_all) {
		st->owners++;
		st->idle_owners += !o->live;
		st->allocs += o->allocs + (o->tls != NULL ? __atomic_load_n(&o->tls->allocs, __ATOMIC_RELAXED) : 0);
		st->alloc_slow += o->alloc_slow;
		st->free_slow += o->free_slow;
		st->remote_frees += o->remote_frees;
		st->slabs_made += o->slabs_made;
		st->slabs_freed += o->slabs_freed;
		st->parked += o->parked;
		st->returned += o->returned_n;
		st->pages_released += o->pages_released;
		st->page_releases += o->page_releases;
	}
	st->slabs_peak = __atomic_load_n(&slabs_peak, __ATOMIC_RELAXED);
	/* the dead threads' frees, counted nowhere else */
	for (size_t i = 0; i < UNOWNED_STRIPES; i++)
		st->remote_frees += __atomic_load_n(&remote_frees_unowned[i].n, __ATOMIC_RELAXED);
	bool zl = kmm_lock_fork_aware(&kmm_zone.lock);
	snap_classes(snap);
	kmm_unlock_if(&kmm_zone.lock, zl);
	kmm_unlock_if(&owners_lock, locked);
	for (size_t k = 0; k < KMM_USLAB_CLASSES; k++) {
		size_t size = kmm_uslab_classes[k].size;
		st->slabs += snap[k].slabs;
		st->classes += snap[k].slabs != 0;
		st->objects += snap[k].slabs * kmm_uslab_classes[k].objects;
		st->inuse_objects += snap[k].inuse;
		st->inuse_bytes += snap[k].inuse * size;
		st->free_bytes += (snap[k].slabs * kmm_uslab_classes[k].objects - snap[k].inuse) * size;
		st->resident += snap[k].touched;
		st->released += snap[k].released;
	}
	st->bytes = st->slabs * KMM_USLAB_BYTES;
}

KMM_COLD size_t kmm_uslab_rows(struct kmm_slabinfo_row *out, size_t max)
{
	if (!__atomic_load_n(&uslab_ready, __ATOMIC_ACQUIRE))
		return 0;
	struct class_snap snap[KMM_USLAB_CLASSES];
	bool locked = kmm_lock_fork_aware(&owners_lock);
	bool zl = kmm_lock_fork_aware(&kmm_zone.lock);
	snap_classes(snap);
	kmm_unlock_if(&kmm_zone.lock, zl);
	kmm_unlock_if(&owners_lock, locked);
	size_t n = 0;
	for (size_t k = 0; k < KMM_USLAB_CLASSES && n < max; k++) {
		const struct kmm_uslab_class *c = &kmm_uslab_classes[k];
		if (snap[k].slabs == 0)
			continue;
		struct kmm_slabinfo_row *r = &out[n++];
		memset(r, 0, sizeof *r);
		kmm_snprintf(r->name, sizeof r->name, "%s", class_names[k]);
		r->active_objs = snap[k].inuse;
		r->num_objs = snap[k].slabs * c->objects;
		r->objsize = c->size;
		r->objperslab = c->objects;
		r->pagesperslab = KMM_USLAB_PAGES;
		r->active_slabs = r->num_slabs = snap[k].slabs;
	}
	return n;
}

KMM_COLD void kmm_uslab_report_slabinfo(struct kmm_buf *b)
{
	struct kmm_slabinfo_row rows[KMM_USLAB_CLASSES];
	size_t n = kmm_uslab_rows(rows, KMM_USLAB_CLASSES);
	for (size_t i = 0; i < n; i++)
		kmm_slabinfo_print_row(b, &rows[i]);
}

/* ---- invariant checker --------------------------------------------------------------------- */

#define us_bad(verbose, errors, ...) kmm_check_fail(verbose, errors, "uslab", __VA_ARGS__)

/* Mark the objects of a list of s in `seen`; each must be a handed-out
 * object, seen on no list before.  Returns the length. */
static KMM_COLD size_t check_walk(const struct kmm_page *s, const void *head, uint64_t *seen, const char *which,
				  int verbose, int *errors)
{
	uintptr_t base = (uintptr_t)slab_base(s);
	size_t n = 0;
	for (const void *o = head; o != NULL; o = kmm_uslab_next(o)) {
		uintptr_t off = (uintptr_t)o - base;
		long idx = off < KMM_USLAB_BYTES ? kmm_uslab_index(s->us_class, off) : -1;
		if (idx < 0 || (unsigned long)idx >= s->us_bump) {
			us_bad(verbose, errors, "%s slab %p: %s list entry %p is not a handed-out object",
			       class_names[s->us_class], (void *)base, which, o);
			break;
		}
		if (obj_released(s, o)) {
			us_bad(verbose, errors, "%s slab %p: %s list entry %p starts in a page given back to the OS",
			       class_names[s->us_class], (void *)base, which, o);
			break;
		}
		if (seen[idx / 64] & ((uint64_t)1 << (idx % 64))) {
			us_bad(verbose, errors, "%s slab %p: object %p twice on its lists (%s list)",
			       class_names[s->us_class], (void *)base, o, which);
			break;
		}
		seen[idx / 64] |= (uint64_t)1 << (idx % 64);
		if (!kmm_uslab_marked(o))
			us_bad(verbose, errors, "%s slab %p: free object %p (%s list) lost its freed mark (a write after "
			       "free?)", class_names[s->us_class], (void *)base, o, which);
		n++;
	}
	return n;
}

/* One slab of record o, whose lists are stable (o is the caller's, or
 * idle); `tls_list` is the TLS list if s is the caller's active slab. */
static KMM_COLD void check_slab(const struct kmm_uslab_owner *o, const struct kmm_page *s, const void *tls_list,
				int verbose, int *errors)
{
	uint64_t seen[KMM_USLAB_BYTES / 8 / 64] = { 0 };
	if (s->us_owner != o || !(s->flags & KMM_PG_USLAB) || s->us_class >= KMM_USLAB_CLASSES) {
		us_bad(verbose, errors, "slab %p on the lists of record %u is not its user slab", (void *)slab_base(s),
		       o->index);
		return;
	}
	if (s->us_bump > kmm_uslab_classes[s->us_class].objects)
		us_bad(verbose, errors, "%s slab %p: %u objects carved of %u", class_names[s->us_class],
		       (void *)slab_base(s), s->us_bump, kmm_uslab_classes[s->us_class].objects);
	size_t gone = released_objects(s);
	size_t n = check_walk(s, s->us_lfree, seen, "own", verbose, errors);
	if (n + gone != s->us_nfree)
		us_bad(verbose, errors, "%s slab %p: own list holds %zu objects and %zu start in pages given back, count %u",
		       class_names[s->us_class], (void *)slab_base(s), n, gone, s->us_nfree);
	if (ext(s)->us_released != 0 && (s->us_where != KMM_USLAB_PARTIAL || s->us_limit != 0))
		us_bad(verbose, errors, "%s slab %p: pages given back (%#x) but %s", class_names[s->us_class],
		       (void *)slab_base(s), ext(s)->us_released,
		       s->us_where != KMM_USLAB_PARTIAL ? "not partial" : "the fast free path is open");
	uintptr_t r = __atomic_load_n(&s->us_rfree, __ATOMIC_ACQUIRE);
	n += check_walk(s, (void *)(r & ~RFREE_FULL), seen, "remote", verbose, errors);
	n += check_walk(s, tls_list, seen, "thread's", verbose, errors);
	if (n + gone > s->us_bump)
		us_bad(verbose, errors, "%s slab %p: %zu free of %u handed out", class_names[s->us_class],
		       (void *)slab_base(s), n + gone, s->us_bump);
	if ((r & RFREE_FULL) && (s->us_where != KMM_USLAB_FULL || (r & ~RFREE_FULL) != 0))
		us_bad(verbose, errors, "%s slab %p: marked full but %s", class_names[s->us_class],
		       (void *)slab_base(s), s->us_where != KMM_USLAB_FULL ? "not on the full list" : "has remote frees");
}

/* Record o's lists: every slab where us_where says, of o, of the list's
 * class; nempty right; active[] matches `cpu` (the caller's TLS) if given. */
static KMM_COLD void check_owner(const struct kmm_uslab_owner *o, const struct kmm_uslab_tls *t, int verbose,
				 int *errors, size_t *counted)
{
	for (size_t k = 0; k < KMM_USLAB_CLASSES; k++) {
		size_t empties = 0, n = 0;
		const struct kmm_list *h = &o->partial[k];
		for (const struct kmm_list *l = h->next; l != h; l = l->next) {
			const struct kmm_page *s = kmm_list_entry(l, struct kmm_page, lru);
			if (s->us_where != KMM_USLAB_PARTIAL || s->us_class != k)
				us_bad(verbose, errors, "record %u: partial list %s holds a slab marked %u of class %u",
				       o->index, class_names[k], s->us_where, s->us_class);
			check_slab(o, s, NULL, verbose, errors);
			empties += s->us_nfree == s->us_bump;
			(*counted)++;
			if (++n > 1000000)
				break;
		}
		if (empties != o->nempty[k])
			us_bad(verbose, errors, "record %u: %zu empty %s slabs, count %u", o->index, empties,
			       class_names[k], o->nempty[k]);
		const struct kmm_page *a = o->active[k];
		if (t != NULL && a != t->cpu[k].slab)
			us_bad(verbose, errors, "record %u: active %s slab %p, the thread's is %p", o->index,
			       class_names[k], (const void *)a, (const void *)t->cpu[k].slab);
		if (a != NULL) {
			if (a->us_where != KMM_USLAB_ACTIVE || a->us_class != k)
				us_bad(verbose, errors, "record %u: active %s slab marked %u of class %u", o->index,
				       class_names[k], a->us_where, a->us_class);
			check_slab(o, a, t != NULL ? t->cpu[k].free : NULL, verbose, errors);
			(*counted)++;
		}
	}
	size_t n = 0;
	for (const struct kmm_list *l = o->full.next; l != &o->full; l = l->next) {
		const struct kmm_page *s = kmm_list_entry(l, struct kmm_page, lru);
		if (s->us_where != KMM_USLAB_FULL)
			us_bad(verbose, errors, "record %u: full list holds a slab marked %u", o->index, s->us_where);
		check_slab(o, s, NULL, verbose, errors);
		(*counted)++;
		if (++n > 1000000)
			break;
	}
}

KMM_COLD int kmm_uslab_check(int verbose)
{
	int errors = 0;
	if (!__atomic_load_n(&uslab_ready, __ATOMIC_ACQUIRE))
		return 0;
	struct kmm_uslab_tls *t = &kmm_uslab_tls;
	struct kmm_uslab_owner *me = t->owner;
	size_t counted = 0, listed_owned = 0;
	bool locked = kmm_lock_fork_aware(&owners_lock);
	bool ml = me != NULL && kmm_lock_fork_aware(&me->lock);
	size_t all = 0, idle = 0;
	for (struct kmm_uslab_owner *o = owners_all; o != NULL; o = o->next_all) {
		all++;
		idle += !o->live;
	}
	size_t listed_idle = 0;
	for (struct kmm_uslab_owner *o = owners_idle; o != NULL; o = o->next_idle) {
		if (o->live || ++listed_idle > all) {
			us_bad(verbose, &errors, "the idle list holds a live record (or loops)");
			break;
		}
	}
	if (all != nr_owners || idle != nr_idle || listed_idle != idle)
		us_bad(verbose, &errors, "records: %zu (count %zu), idle %zu listed %zu (count %zu)", all, nr_owners,
		       idle, listed_idle, nr_idle);
	if (me != NULL) {
		if (!me->live)
			us_bad(verbose, &errors, "the caller's record %u is not live", me->index);
		check_owner(me, t, verbose, &errors, &counted);
	}
	for (struct kmm_uslab_owner *o = owners_idle; o != NULL; o = o->next_idle)
		check_owner(o, NULL, verbose, &errors, &counted);
	/* every slab in the buddy allocator belongs to a record; those of the
	 * records checked are on their lists (slabs on a returned stack are
	 * still on the full list) */
	bool zl = kmm_lock_fork_aware(&kmm_zone.lock);
	size_t found = 0, per_class[KMM_USLAB_CLASSES] = { 0 };
	for (struct kmm_mem_section *s = kmm_zone.sections; s != NULL; s = s->next)
		for (size_t i = s->reserved_pages; i < s->deferred;) {
			struct kmm_page *p = &s->mem_map[i];
			if ((p->flags & KMM_PG_USLAB) && !(p->flags & KMM_PG_HEAD))
				us_bad(verbose, &errors, "frame %zu carries the user slab flag but is no block head", i);
			if ((p->flags & (KMM_PG_HEAD | KMM_PG_USLAB)) == (KMM_PG_HEAD | KMM_PG_USLAB)) {
				found++;
				if (p->order != KMM_USLAB_ORDER || p->owner != KMM_OWNER_USLAB ||
				    p->us_class >= KMM_USLAB_CLASSES || p->us_owner == NULL) {
					us_bad(verbose, &errors, "user slab at frame %zu: order %u owner %u class %u record %p", i,
					       p->order, p->owner, p->us_class, (void *)p->us_owner);
				} else {
					per_class[p->us_class]++;
					if (p->us_owner == me || !p->us_owner->live)
						listed_owned++;
				}
			}
			i += (p->flags & (KMM_PG_BUDDY | KMM_PG_HEAD)) ? (size_t)1 << p->order : 1;
		}
	kmm_unlock_if(&kmm_zone.lock, zl);
	if (ml)
		kmm_unlock_if(&me->lock, ml);
	kmm_unlock_if(&owners_lock, locked);
	/* the counters change outside the zone lock (slab_new, slab_release):
	 * compared only when no other thread owns slabs */
	bool alone = __atomic_load_n(&nr_owners, __ATOMIC_RELAXED) - __atomic_load_n(&nr_idle, __ATOMIC_RELAXED) <= 1;
	for (size_t k = 0; alone && k < KMM_USLAB_CLASSES; k++)
		if (per_class[k] != __atomic_load_n(&nr_slabs[k], __ATOMIC_RELAXED))
			us_bad(verbose, &errors, "%s: %zu slabs in the buddy allocator, count %zu", class_names[k],
			       per_class[k], nr_slabs[k]);
	if (listed_owned != counted)
		us_bad(verbose, &errors, "%zu slabs of the caller and idle records, %zu on their lists", listed_owned,
		       counted);
	(void)found;
	return errors;
}

/* ---- fork ------------------------------------------------------------------------------- */

void kmm_uslab_fork_prepare(void)
{
	/* owners_lock first: no record is made meanwhile; then every
	 * record, in index order (the list's) */
	if (!kmm_fork_lock(&owners_lock))
		return;   /* (the fork gave up: util/lock.h) */
	for (struct kmm_uslab_owner *o = owners_all; o != NULL; o = o->next_all)
		kmm_fork_lock(&o->lock);
}

void kmm_uslab_fork_parent(void)
{
	for (struct kmm_uslab_owner *o = owners_all; o != NULL; o = o->next_all)
		kmm_unlock(&o->lock);
	kmm_unlock(&owners_lock);
}

void kmm_uslab_fork_child(void)
{
	struct kmm_uslab_owner *me = kmm_uslab_tls.owner;
	kmm_lock_reset(&owners_lock);
	for (struct kmm_uslab_owner *o = owners_all; o != NULL; o = o->next_all) {
		kmm_lock_reset(&o->lock);
		if (o == me || !o->live)
			continue;
		/* its thread does not exist here (THEORY 6) */
		for (size_t k = 0; k < KMM_USLAB_CLASSES; k++) {
			struct kmm_page *s = o->active[k];
			o->active[k] = NULL;
			if (s != NULL)
				deactivate(o, s);
		}
		if (o->tls != NULL)   /* (its TLS is still mapped in the child) */
			o->allocs += o->tls->allocs;
		o->tls = NULL;
		o->live = false;
		o->next_idle = owners_idle;
		owners_idle = o;
		nr_idle++;
	}
}
