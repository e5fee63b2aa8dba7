/*
 * harden.c — redzones and the quarantine of freed blocks (harden.h says
 * what each does; observe.c calls them, in the observed mode).
 *
 * A block under redzone=on, n bytes asked, U usable (the heap's size):
 *
 *   mem                     mem+n                          mem+U-8   mem+U
 *   | the program's n bytes | canary bytes (>= 40)          | trailer |
 *   +-----------------------+-------------------------------+---------+
 *                                   trailer = slack ^ secret ^ &trailer
 *                                   slack   = U - 8 - n (the canary's length)
 *
 * The trailer needs nothing but its own address to be decoded, and a
 * random secret (from the tcache key, itself from AT_RANDOM) keeps an
 * overflow from forging it.  The canary byte is the secret's, with the top
 * bit set (never 0: an overflow writing zeroes is seen).
 *
 * The quarantine is a ring of (block, usable, flags), oldest at `tail`.  A
 * heap block in it is all zeroes (its trailer too: a second free or a
 * realloc finds no trailer and aborts); a big block (a vmalloc area) of 64
 * KiB or more is PROT_NONE instead, so that any touch faults, and gets its
 * access back just before the heap takes it; a smaller one is zeroed.  The
 * big blocks waiting are also in a hash set, since they have no trailer to
 * tell a second free by.  A thread gathers its frees of heap blocks in a
 * batch of 16 (its TLS) and pushes them into the ring under one lock; the
 * newest block of its batch is what its next allocation checks.  Big
 * blocks go to the ring one by one (see kmm_harden_free).  Blocks leave when the bytes waiting pass
 * `quarantine=` or the ring is full, a batch at a time, and are checked
 * (zeroes) after the lock is dropped, then freed.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "harden.h"
#include "os.h"
#include "heap/big.h"
#include "heap/chunk.h"
#include "heap/heap.h"
#include "heap/params.h"
#include "heap/tcache.h"
#include "heap/zero.h"
#include "kernel/uslab.h"
#include "kernel/vmalloc.h"
#include "util/format.h"
#include "util/lock.h"

/* ---- redzones ------------------------------------------------------------------ */

static inline uint64_t secret(void)
{
	return (uint64_t)kmm_tcache_key * 0x9e3779b97f4a7c15ull;
}

static inline uint8_t canary_byte(void)
{
	return (uint8_t)(secret() >> 56) | 0x80;
}

size_t kmm_redzone_pad(size_t n)
{
	/* a zero-size block has no bytes to guard; a guarded big block
	 * (guard=) has its guard page, which padding would move away from
	 * its end: a request that padding would take to guard= or beyond is
	 * made a guarded block of at least that size.  Every other request
	 * is padded, so that every heap chunk made with redzone=on has its
	 * trailer (a big block made without guard= carries none, whatever
	 * its padding: has_trailer) */
	size_t g = kmm_params.guard_min;
	if (!kmm_params.redzone || n == 0 || n > KMM_MAX_REQUEST - KMM_REDZONE || n >= g)
		return n;
	return n + KMM_REDZONE >= g ? g : n + KMM_REDZONE;
}

/* Does the block at mem carry a trailer?  Not a zero-size block, a big
 * block (harden.h), or a slab object: the slab front end serves only
 * requests made before the options were read (a malloc from the dynamic
 * loader, before libc set up `environ`), since the observed mode's
 * front is the tcache's. */
static uintptr_t early_end;   /* kmm_harden_early */

static bool has_trailer(const void *mem)
{
	return !kmm_zero_owns(mem) && !kmm_big_owns(mem) && kmm_uslab_head(mem) == NULL;
}

KMM_COLD void kmm_harden_early(uintptr_t end)
{
	early_end = end;
}

void kmm_redzone_set(void *mem, size_t n)
{
	if (!kmm_params.redzone || !has_trailer(mem))
		return;
	size_t usable = kmm_heap_block_usable(mem, "malloc()");
	if (usable < n + KMM_REDZONE)
		return;   /* asked for without room (the zero-size fallback) */
	uint64_t *tr = (uint64_t *)((char *)mem + usable - 8);
	size_t slack = usable - 8 - n;
	memset((char *)mem + n, canary_byte(), slack);
	*tr = slack ^ secret() ^ (uintptr_t)tr;
}

/* Are the `len` bytes at p all `byte`?  Returns the offset of the first
 * that is not, or len. */
static size_t first_not(const void *p, size_t len, uint8_t byte)
{
	const unsigned char *s = p;
	size_t i = 0;
	uint64_t pat = byte * 0x0101010101010101ull;
	for (; i < len && ((uintptr_t)(s + i) & 7); i++)
		if (s[i] != byte)
			return i;
	for (; i + 8 <= len; i += 8)
		if (*(const uint64_t *)(const void *)(s + i) != pat)
			break;
	for (; i < len; i++)
		if (s[i] != byte)
			return i;
	return len;
}

size_t kmm_redzone_check(void *mem, const char *who)
{
	if (kmm_zero_owns(mem))
		return 0;
	size_t usable = kmm_heap_block_usable(mem, who);
	if (!kmm_params.redzone || usable < KMM_REDZONE || !has_trailer(mem))
		return usable;
	uint64_t *tr = (uint64_t *)((char *)mem + usable - 8);
	uint64_t slack = *tr ^ secret() ^ (uintptr_t)tr;
	if (slack > usable - 8 && (uintptr_t)mem < early_end && *tr != 0)
		return usable;   /* (a block from before the options were read) */
	if (slack > usable - 8) {
		if (*tr == 0 && kmm_params.quarantine != 0)
			kmm_fatal("%s: double free or use after free: the %zu-byte block at %p was freed already "
				  "(it waits in the quarantine)", who, usable, mem);
		kmm_fatal("%s: heap overflow: the trailer of the block at %p (%zu usable bytes) was overwritten",
			  who, mem, usable);
	}
	size_t n = usable - 8 - (size_t)slack;
	size_t bad = first_not((char *)mem + n, (size_t)slack, canary_byte());
	if (bad != slack)
		kmm_fatal("%s: heap overflow: byte %zu past the end of the %zu-byte block at %p is 0x%02x, "
			  "not the redzone's 0x%02x", who, bad, n, mem, ((unsigned char *)mem)[n + bad],
			  canary_byte());
	return n;
}

/* ---- the quarantine ----------------------------------------------------------- */

#define SLOTS         ((size_t)1 << 16)
#define RELEASE_BATCH 16
/* Big blocks from this size on wait with no access; smaller ones zeroed,
 * like heap blocks: in this VM two mprotect calls and their TLB flushes
 * cost more than clearing and checking 64 KiB (bench glibc-simple, 4 KiB
 * blocks: 17.0 s with every big block protected) */
#define PROTECT_MIN   ((size_t)64 << 10)

enum { Q_PROTECTED = 1, Q_CHECKED = 2, Q_BIG = 4 };

struct qslot {
	void  *mem;
	size_t usable;   /* low bits: Q_* (usable is a multiple of 8) */
};

/* This thread's frees not yet in the ring: pushed 16 at a time, under one
 * lock (the ring's lock at every free was 42% of bench `threads`).  After
 * the thread's exit hook (`dead`) frees go to the ring one by one. */
#define BATCH 16
static __thread struct {
	struct qslot s[BATCH];
	unsigned n;
	bool dead;
	void *last_big;   /* this thread's last free, a big block sent to the ring at once */
} batch __attribute__((tls_model("initial-exec")));

static struct qslot *ring;   /* SLOTS slots, from vmalloc */
/* The big blocks waiting (a big block has no trailer to tell a second
 * free by): an open-addressing set, twice the ring's size, so at most half
 * full; linear probing, deletion by shifting back.  Under qlock. */
#define HSLOTS (2 * SLOTS)
#define HBITS  17
_Static_assert(HSLOTS == (size_t)1 << HBITS, "HBITS");
static const void **bigset;
static size_t bigset_n;   /* entries in it */
static size_t head, tail;    /* next slot to fill, oldest (counters) */
static size_t bytes;         /* usable bytes waiting */
static kmm_lock_t qlock = KMM_LOCK_INIT_RANK(KMM_RANK_QUARANTINE);

static size_t qlen(const struct qslot *s)
{
	return s->usable & ~(size_t)7;
}

static size_t page_round(size_t n)
{
	return KMM_ALIGN_UP(n, kmm_os_page_size());
}

static size_t hidx(const void *p)
{
	return (size_t)((((uintptr_t)p >> 12) * 0x9e3779b97f4a7c15ull) >> (64 - HBITS));
}

static bool set_has(const void *p)
{
	for (size_t i = hidx(p);; i = (i + 1) & (HSLOTS - 1)) {
		if (bigset[i] == p)
			return true;
		if (bigset[i] == NULL)
			return false;
	}
}

static void set_add(const void *p)
{
	size_t i = hidx(p);
	while (bigset[i] != NULL)
		i = (i + 1) & (HSLOTS - 1);
	bigset[i] = p;
	bigset_n++;
}

static void set_del(const void *p)
{
	size_t i = hidx(p);
	while (bigset[i] != p) {
		if (bigset[i] == NULL)
			return;
		i = (i + 1) & (HSLOTS - 1);
	}
	/* shift back every entry after it whose probe would cross the hole */
	for (size_t j = (i + 1) & (HSLOTS - 1); bigset[j] != NULL; j = (j + 1) & (HSLOTS - 1)) {
		size_t k = hidx(bigset[j]);
		bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (!stays) {
			bigset[i] = bigset[j];
			i = j;
		}
	}
	bigset[i] = NULL;
	bigset_n--;
}

/* A heap block waiting must still read as zeroes. */
static void check_zeroes(const struct qslot *s, const char *when)
{
	size_t len = qlen(s);
	size_t bad = first_not(s->mem, len, 0);
	if (bad != len)
		kmm_fatal("write after free: byte %zu of the %zu-byte block at %p, freed earlier, is 0x%02x, "
			  "not 0 (found %s)", bad, len, s->mem, ((unsigned char *)s->mem)[bad], when);
}

static void release(const struct qslot *s, void (*free_now)(void *))
{
	if (s->usable & Q_PROTECTED) {
		if (kmm_os_protect(s->mem, page_round(qlen(s)), PROT_READ | PROT_WRITE) != 0)
			return;   /* (no access back: kept, never reused) */
	} else {
		check_zeroes(s, "when it left the quarantine");
	}
	free_now(s->mem);
}

static bool ring_ready(void)
{
	if (__atomic_load_n(&ring, __ATOMIC_ACQUIRE) != NULL)
		return true;
	/* the ring, then the set, in one area */
	size_t ring_bytes = SLOTS * sizeof(struct qslot);
	char *r = kmm_vmalloc(ring_bytes + HSLOTS * sizeof(void *), NULL);
	if (r == NULL)
		return false;
	bool locked = kmm_lock_fork_aware(&qlock);
	if (ring == NULL) {
		bigset = (const void **)(void *)(r + ring_bytes);
		__atomic_store_n(&ring, (struct qslot *)(void *)r, __ATOMIC_RELEASE);
		r = NULL;
	}
	kmm_unlock_if(&qlock, locked);
	if (r != NULL)
		kmm_vfree(r);
	return true;
}

/* The oldest block out of the ring, into *out.  qlock held. */
static void evict(struct qslot *out)
{
	struct qslot *s = &ring[tail++ % SLOTS];
	*out = *s;
	bytes -= qlen(s);
	if (s->usable & Q_BIG)
		set_del(s->mem);
	*s = (struct qslot){ NULL, 0 };
}

/* Into the ring, oldest first; then out of it while it holds too much,
 * checked and freed after the lock is dropped. */
static void push(const struct qslot *in, unsigned n, void (*free_now)(void *))
{
	struct qslot out[BATCH + RELEASE_BATCH];
	unsigned nout = 0;
	bool locked = kmm_lock_fork_aware(&qlock);
	for (unsigned i = 0; i < n; i++) {
		if (head - tail == SLOTS)   /* a full ring: its oldest leaves now */
			evict(&out[nout++]);
		ring[head++ % SLOTS] = in[i];
		bytes += qlen(&in[i]);
	}
	while (nout < BATCH + RELEASE_BATCH && tail != head && bytes > kmm_params.quarantine)
		evict(&out[nout++]);
	kmm_unlock_if(&qlock, locked);
	for (unsigned i = 0; i < nout; i++)
		release(&out[i], free_now);
}

void kmm_harden_free(void *mem, void (*free_now)(void *))
{
	if (kmm_zero_owns(mem)) {   /* (no bytes: its own double free check) */
		free_now(mem);
		return;
	}
	kmm_redzone_check(mem, "free()");
	if (kmm_params.quarantine == 0 || !ring_ready()) {
		free_now(mem);
		return;
	}
	size_t usable = kmm_heap_block_usable(mem, "free()");
	struct qslot in = { mem, usable };
	if (kmm_big_owns(mem)) {
		/* a big block has no trailer: is it waiting already?  Entered
		 * in the set now, so that a second free racing with this one
		 * is seen too */
		bool locked = kmm_lock_fork_aware(&qlock);
		if (set_has(mem)) {
			kmm_unlock_if(&qlock, locked);
			kmm_fatal("free(): double free: the %zu-byte block at %p was freed already "
				  "(it waits in the quarantine)", usable, mem);
		}
		/* (at most three quarters full: beyond, thousands of threads
		 * each hold a batch of big blocks, and these go unrecorded) */
		if (bigset_n < HSLOTS / 4 * 3) {
			set_add(mem);
			in.usable |= Q_BIG;
		}
		kmm_unlock_if(&qlock, locked);
	}
	if ((in.usable & Q_BIG) && usable >= PROTECT_MIN &&
	    kmm_os_protect(mem, page_round(usable), PROT_NONE) == 0)
		in.usable |= Q_PROTECTED;
	else
		memset(mem, 0, usable);

	/* a big block joins the ring at once: one vfree per free keeps
	 * vmalloc reusing the area just freed (in batches of 16, the freed
	 * areas merged and were split again: 1.27 million mmap calls in
	 * bench glibc-simple -s 0.3 instead of 736 000) */
	if (batch.dead || kmm_big_owns(mem)) {
		batch.last_big = mem;
		push(&in, 1, free_now);
		return;
	}
	batch.last_big = NULL;
	batch.s[batch.n++] = in;
	if (batch.n == BATCH) {
		batch.n = 0;   /* (first: the releases below free through here) */
		struct qslot full[BATCH];
		memcpy(full, batch.s, sizeof full);
		push(full, BATCH, free_now);
	}
}

void kmm_harden_thread_exit(void)
{
	unsigned n = batch.n;
	batch.n = 0;
	batch.dead = true;
	if (n != 0)
		push(batch.s, n, kmm_heap_free_unobserved);
}

void kmm_harden_on_alloc(void)
{
	/* the newest block this thread freed, once: a big one in the ring,
	 * if it is still the ring's newest (under the lock: another thread
	 * may push it out and free it) */
	if (batch.last_big != NULL) {
		void *mem = batch.last_big;
		batch.last_big = NULL;
		if (kmm_trylock(&qlock)) {
			struct qslot *s = &ring[(head - 1) % SLOTS];
			if (head != tail && s->mem == mem && !(s->usable & (Q_PROTECTED | Q_CHECKED))) {
				check_zeroes(s, "at the next allocation");
				s->usable |= Q_CHECKED;
			}
			kmm_unlock(&qlock);
		}
		return;
	}
	/* else it is still in the batch, which only this thread touches (no
	 * lock) */
	if (batch.n == 0)
		return;
	struct qslot *s = &batch.s[batch.n - 1];
	if (!(s->usable & (Q_PROTECTED | Q_CHECKED))) {
		check_zeroes(s, "at the next allocation");
		s->usable |= Q_CHECKED;
	}
}

void *kmm_harden_realloc(void *mem, size_t n, const void *caller)
{
	if (mem == NULL)
		return kmm_heap_malloc_unobserved(kmm_redzone_pad(n), caller);
	if (n == 0) {
		kmm_harden_free(mem, kmm_heap_free_unobserved);
		return NULL;
	}
	size_t old_n = kmm_redzone_check(mem, "realloc()");
	if (n > KMM_MAX_REQUEST) {
		errno = ENOMEM;
		return NULL;
	}
	if (!kmm_zero_owns(mem)) {
		size_t usable = kmm_heap_block_usable(mem, "realloc()");
		/* in place while it holds n and the redzone, and is not more
		 * than twice what is needed */
		if (n + KMM_REDZONE <= usable && usable <= 2 * (n + KMM_REDZONE)) {
			kmm_redzone_set(mem, n);
			return mem;
		}
	}
	void *nmem = kmm_heap_malloc_unobserved(kmm_redzone_pad(n), caller);
	if (nmem == NULL)
		return NULL;
	kmm_redzone_set(nmem, n);
	memcpy(nmem, mem, old_n < n ? old_n : n);
	kmm_harden_free(mem, kmm_heap_free_unobserved);
	return nmem;
}

KMM_COLD int kmm_harden_check(int verbose)
{
	if (__atomic_load_n(&ring, __ATOMIC_ACQUIRE) == NULL)
		return 0;
	int errors = 0;
	bool locked = kmm_lock_fork_aware(&qlock);
	size_t sum = 0;
	if (head - tail > SLOTS) {
		errors++;
		if (verbose)
			kmm_warn("check: quarantine: %zu blocks waiting in a ring of %zu", head - tail, SLOTS);
	} else {
		for (size_t i = tail; i != head; i++) {
			struct qslot *s = &ring[i % SLOTS];
			sum += qlen(s);
			if (s->mem == NULL) {
				errors++;
				if (verbose)
					kmm_warn("check: quarantine: slot %zu is empty", i);
			} else if (!(s->usable & Q_PROTECTED) && first_not(s->mem, qlen(s), 0) != qlen(s)) {
				errors++;
				if (verbose)
					kmm_warn("check: quarantine: the block at %p was written after its free", s->mem);
			}
		}
		size_t nbig = 0, inset = 0;
		for (size_t i = tail; i != head; i++)
			if (ring[i % SLOTS].usable & Q_BIG) {
				nbig++;
				inset += set_has(ring[i % SLOTS].mem);
			}
		size_t setn = 0;
		for (size_t i = 0; i < HSLOTS; i++)
			setn += bigset[i] != NULL;
		/* (the set also holds big blocks in threads' batches) */
		if (inset != nbig || setn < nbig) {
			errors++;
			if (verbose)
				kmm_warn("check: quarantine: %zu big blocks waiting, %zu of them in the set of %zu",
					 nbig, inset, setn);
		}
		if (sum != bytes) {
			errors++;
			if (verbose)
				kmm_warn("check: quarantine: %zu bytes waiting, the counter says %zu", sum, bytes);
		}
	}
	kmm_unlock_if(&qlock, locked);
	/* and this thread's batch (the others' are theirs to read) */
	for (unsigned i = 0; i < batch.n; i++) {
		const struct qslot *s = &batch.s[i];
		if (!(s->usable & Q_PROTECTED) && first_not(s->mem, qlen(s), 0) != qlen(s)) {
			errors++;
			if (verbose)
				kmm_warn("check: quarantine: the block at %p was written after its free", s->mem);
		}
	}
	return errors;
}

void kmm_harden_fork_prepare(void)
{
	kmm_fork_lock(&qlock);
}

void kmm_harden_fork_parent(void)
{
	kmm_unlock(&qlock);
}

void kmm_harden_fork_child(void)
{
	kmm_lock_reset(&qlock);
}
