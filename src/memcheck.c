/*
 * memcheck.c — the observed mode under valgrind's memcheck: each block
 * announced at the size asked for (MALLOCLIKE, the trailer word), resized
 * in place or moved, and freed through a quarantine.  See heap/vg.h for
 * the theory (what is no-access when); the heap's own part, chunk headers
 * no-access, is heap/vg.c; observe.c calls the functions here.
 *
 * Lock order: the quarantine lock is a leaf but for heap/vg.c's header
 * lock (util/lock.h): it is held only to push and pop; blocks pushed out
 * are freed after it is dropped.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "memcheck.h"
#include "observe.h"
#include "heap/chunk.h"
#include "heap/params.h"
#include "kernel/vmalloc.h"
#include "util/lock.h"

#if KMM_VALGRIND

#include <valgrind/memcheck.h>

/* ---- the quarantine ------------------------------------------------------------
 *
 * A ring of freed blocks, oldest at `tail`.  Blocks leave it when the bytes
 * waiting exceed KMM_VG_QUARANTINE_BYTES (memcheck's own --freelist-vol
 * default) or the ring is full. */

#define KMM_VG_QUARANTINE_BYTES ((size_t)20000000)
#define KMM_VG_QUARANTINE_SLOTS ((size_t)1 << 18)
#define KMM_VG_RELEASE_BATCH    16

struct qslot {
	void  *mem;
	size_t usable;
};

static struct qslot *ring;     /* KMM_VG_QUARANTINE_SLOTS slots, from vmalloc */
static size_t head, tail;      /* next slot to fill, oldest slot (counters) */
static size_t bytes;           /* usable bytes waiting */
static kmm_lock_t qlock = KMM_LOCK_INIT_RANK(KMM_RANK_VG_QUARANTINE);

/* Before kmm takes a block back: everything the program left in it is
 * undefined (and so never a pointer to the leak check); the tcache key
 * word is written, since free() reads it. */
static void release(struct qslot *s, void (*free_now)(void *))
{
	if (kmm_vg_exact) {
		/* as without valgrind: free() looks at the key (double free) */
		VALGRIND_MAKE_MEM_DEFINED(s->mem, s->usable);
		free_now(s->mem);
		return;
	}
	VALGRIND_MAKE_MEM_UNDEFINED(s->mem, s->usable);
	if (s->usable >= 2 * sizeof(void *))
		((void **)s->mem)[1] = NULL;
	free_now(s->mem);
}

bool kmm_vg_freelike(void *mem)
{
	unsigned before = VALGRIND_COUNT_ERRORS;
	VALGRIND_FREELIKE_BLOCK(mem, 0);
	return VALGRIND_COUNT_ERRORS == before;   /* else "Invalid free()" */
}

void kmm_vg_quarantine(void *mem, size_t usable, void (*free_now)(void *))
{
	/* the bytes past n (and the trailer) were no-access already */
	VALGRIND_MAKE_MEM_NOACCESS(mem, usable);
	if (ring == NULL) {
		/* no quarantine (memcheck=exact, or its ring could not be
		 * mapped) */
		struct qslot s = { mem, usable };
		release(&s, free_now);
		return;
	}
	struct qslot out[KMM_VG_RELEASE_BATCH];
	int nout = 0;
	bool locked = kmm_lock_fork_aware(&qlock);
	ring[head++ % KMM_VG_QUARANTINE_SLOTS] = (struct qslot){ mem, usable };
	bytes += usable;
	while (nout < KMM_VG_RELEASE_BATCH && tail != head &&
	       (bytes > KMM_VG_QUARANTINE_BYTES || head - tail >= KMM_VG_QUARANTINE_SLOTS)) {
		struct qslot *s = &ring[tail++ % KMM_VG_QUARANTINE_SLOTS];
		out[nout++] = *s;
		bytes -= s->usable;
		*s = (struct qslot){ NULL, 0 };   /* no stale pointer for the leak check */
	}
	kmm_unlock_if(&qlock, locked);
	for (int i = 0; i < nout; i++)
		release(&out[i], free_now);
}

/* ---- blocks ------------------------------------------------------------------ */

static size_t *trailer(const void *mem, size_t usable)
{
	return (size_t *)((uintptr_t)mem + usable - KMM_VG_EXTRA);
}

void kmm_vg_alloc(void *mem, size_t n, size_t usable, bool zeroed)
{
	if (kmm_vg_exact) {
		VALGRIND_MALLOCLIKE_BLOCK(mem, usable, 0, zeroed);
		return;
	}
	size_t *tr = trailer(mem, usable);
	VALGRIND_MAKE_MEM_UNDEFINED(tr, sizeof *tr);
	*tr = n;
	VALGRIND_MALLOCLIKE_BLOCK(mem, n, 0, zeroed);
	VALGRIND_MAKE_MEM_NOACCESS((char *)mem + n, usable - n);
}

size_t kmm_vg_requested(const void *mem, size_t usable)
{
	if (kmm_vg_exact)
		return usable;
	size_t *tr = trailer(mem, usable);
	VALGRIND_MAKE_MEM_DEFINED(tr, sizeof *tr);
	size_t n = *tr;
	VALGRIND_MAKE_MEM_NOACCESS(tr, sizeof *tr);
	return n;
}

void kmm_vg_resize(void *mem, size_t old_n, size_t n, size_t usable)
{
	VALGRIND_RESIZEINPLACE_BLOCK(mem, old_n, n, 0);
	size_t *tr = trailer(mem, usable);
	VALGRIND_MAKE_MEM_UNDEFINED(tr, sizeof *tr);
	*tr = n;
	VALGRIND_MAKE_MEM_NOACCESS((char *)mem + n, usable - n);
}

void kmm_vg_moved(void *old, size_t old_usable, bool old_big, void *mem, size_t usable, bool zeroed)
{
	VALGRIND_FREELIKE_BLOCK(old, 0);
	if (!old_big)   /* kmm's free memory now, as a released block's */
		VALGRIND_MAKE_MEM_DEFINED(old, old_usable);
	VALGRIND_MALLOCLIKE_BLOCK(mem, usable, 0, zeroed);
}

void kmm_vg_resized(void *mem, size_t old_usable, size_t usable, bool big)
{
	VALGRIND_RESIZEINPLACE_BLOCK(mem, old_usable, usable, 0);
	/* a shrink freed the tail of a chunk: past the new free chunk's
	 * header, kmm's free memory */
	if (!big && usable + KMM_SIZE_SZ < old_usable)
		VALGRIND_MAKE_MEM_DEFINED((char *)mem + usable + KMM_SIZE_SZ, old_usable - usable - KMM_SIZE_SZ);
}

bool kmm_vg_is_live(void *mem)
{
	/* a freed block is no-access: memcheck reports the check */
	return VALGRIND_CHECK_MEM_IS_ADDRESSABLE(mem, 1) == 0;
}

void kmm_memcheck_start(void)
{
	/* the ring is kmm's own memory: memcheck leaves it alone */
	if (!kmm_vg_exact)
		ring = kmm_vmalloc(KMM_VG_QUARANTINE_SLOTS * sizeof *ring, NULL);
	kmm_observe_start(KMM_OBSERVE_MEMCHECK);
}

void kmm_memcheck_fork_prepare(void)
{
	kmm_fork_lock(&qlock);
}

void kmm_memcheck_fork_parent(void)
{
	kmm_unlock(&qlock);
}

void kmm_memcheck_fork_child(void)
{
	kmm_lock_reset(&qlock);
}

#endif /* KMM_VALGRIND */
