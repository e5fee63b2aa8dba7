/*
 * vg.c — the heap's part of running under valgrind's memcheck: whether
 * it does, and chunk headers no-access but for kmm's own accesses.  See
 * vg.h for the theory; the blocks themselves (MALLOCLIKE, the trailer,
 * the quarantine) are the observed mode's: src/memcheck.c.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "vg.h"
#include "chunk.h"
#include "params.h"
#include "thread.h"
#include "../util/lock.h"

bool kmm_vg_on;
bool kmm_vg_exact;

#if KMM_VALGRIND

#include <valgrind/memcheck.h>

/* ---- chunk headers: no-access except for the one access -------------------
 *
 * Open, access, close must not interleave with another thread's on the
 * same word (memcheck switches threads anywhere): a thread freeing a
 * block of another arena reads its header without that arena's lock,
 * while the arena's owner may be reading it as a neighbour.  One lock
 * for all headers: it is held for three client requests. */

static kmm_lock_t head_lock = KMM_LOCK_INIT_RANK(KMM_RANK_VG_HEAD);

KMM_COLD size_t kmm_vg_head_get(const struct kmm_chunk *p)
{
	bool locked = kmm_lock_fork_aware(&head_lock);
	VALGRIND_MAKE_MEM_DEFINED(&p->head, sizeof p->head);
	size_t h = p->head;
	VALGRIND_MAKE_MEM_NOACCESS(&p->head, sizeof p->head);
	kmm_unlock_if(&head_lock, locked);
	return h;
}

KMM_COLD void kmm_vg_head_set(struct kmm_chunk *p, size_t head)
{
	bool locked = kmm_lock_fork_aware(&head_lock);
	VALGRIND_MAKE_MEM_UNDEFINED(&p->head, sizeof p->head);
	p->head = head;
	VALGRIND_MAKE_MEM_NOACCESS(&p->head, sizeof p->head);
	kmm_unlock_if(&head_lock, locked);
}

KMM_COLD void kmm_vg_writable(void *p, size_t n)
{
	VALGRIND_MAKE_MEM_UNDEFINED(p, n);
}

KMM_HOT bool kmm_vg_start(void)
{
	if (!RUNNING_ON_VALGRIND || kmm_params.memcheck == KMM_MEMCHECK_OFF)
		return false;
	if (kmm_params.memcheck == KMM_MEMCHECK_EXACT)
		kmm_vg_exact = true;
	else   /* blocks from the heap only (vg.h) */
		kmm_params.n_mmaps_max = 0;
	/* memcheck tells a zero-size block's use itself: an ordinary one */
	kmm_params_set(KMM_P_ZERO_GUARD, 0);
	kmm_vg_on = true;
	return true;
}

void kmm_vg_fork_prepare(void)
{
	kmm_fork_lock(&head_lock);
}

void kmm_vg_fork_parent(void)
{
	kmm_unlock(&head_lock);
}

void kmm_vg_fork_child(void)
{
	kmm_lock_reset(&head_lock);
}

#endif /* KMM_VALGRIND (without valgrind's headers only the flags above
	* exist, always false) */
