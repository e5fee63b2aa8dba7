/*
 * zero.c — zero-size blocks (zero.h).
 *
 *   kmm_zero_base                                   + KMM_ZERO_SPACE
 *   |  16 |  16 |  16 |  16 |  ...                              |
 *   +-----+-----+-----+-----+-------------------------------------+
 *   | blk |     | blk | blk |   PROT_NONE, MAP_NORESERVE: no page  |
 *   +-----+-----+-----+-----+-------------------------------------+
 *      1     0     1     1     bitmap (its own read-write mapping)
 *
 * 1. A block is a 16-byte slot of a reserved range that is never made
 *    accessible: its address is unique while it lives (C requires that of
 *    malloc(0)), and any load or store through it faults.
 * 2. Which slots are live is a bitmap, one bit per slot, changed only by
 *    atomic or/and: no lock, so a fork (from a signal handler too) finds
 *    it consistent, and no thread ever waits here.
 * 3. A new block takes the first free slot at or after a cursor that
 *    advances by one per allocation, wrapping around: a freed slot is
 *    handed out again only after every other slot was, so a stale pointer
 *    to a freed zero-size block stays a freed one for a long time, and a
 *    second free of it aborts (its bit is clear).
 * 4. The checker compares the bitmap's population with the live counter
 *    only when no call ran meanwhile (`busy` and `ops` unchanged, zero
 *    busy): threads allocating while another checks are not violations.
 * 5. The range and the bitmap are mapped by the first zero-size request.
 *    Only one thread maps them (a compare-and-swap of `state`); a request
 *    meeting the mapping under way, or a failed one, gets an ordinary
 *    block, never a wait (a fork child of a thread that was mapping would
 *    otherwise wait forever).
 */
#include "config.h"

#include <sys/mman.h>

#include "zero.h"
#include "../os.h"
#include "../util/format.h"

#define WORD_BITS 64
#define WORDS     (KMM_ZERO_SLOTS / WORD_BITS)

enum { UNMAPPED, MAPPING, READY, FAILED };

uintptr_t kmm_zero_base;
static uint64_t *bitmap;
static int state;
static size_t cursor;   /* next slot to try (atomic, wraps) */
static size_t live;     /* blocks live (atomic) */
/* for the checker, which compares only a quiet moment's bitmap and count:
 * calls under way, and calls done */
static size_t busy, ops;

static inline void op_begin(void)
{
	__atomic_fetch_add(&busy, 1, __ATOMIC_SEQ_CST);
}

static inline void op_end(void)
{
	__atomic_fetch_add(&ops, 1, __ATOMIC_SEQ_CST);
	__atomic_fetch_sub(&busy, 1, __ATOMIC_SEQ_CST);
}

static KMM_COLD bool setup(void)
{
	int expect = UNMAPPED;
	if (!__atomic_compare_exchange_n(&state, &expect, MAPPING, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return expect == READY;
	uint64_t *map = kmm_os_map(WORDS * sizeof(uint64_t), MAP_NORESERVE);
	void *range = map != NULL ? kmm_os_map_at(NULL, KMM_ZERO_SPACE, PROT_NONE, MAP_NORESERVE) : NULL;
	if (range == NULL) {
		if (map != NULL)
			kmm_os_unmap(map, WORDS * sizeof(uint64_t));
		__atomic_store_n(&state, FAILED, __ATOMIC_RELEASE);
		return false;
	}
	bitmap = map;
	__atomic_store_n(&kmm_zero_base, (uintptr_t)range, __ATOMIC_RELEASE);
	__atomic_store_n(&state, READY, __ATOMIC_RELEASE);
	return true;
}

void *kmm_zero_alloc(void)
{
	if (KMM_UNLIKELY(__atomic_load_n(&state, __ATOMIC_ACQUIRE) != READY) && !setup())
		return NULL;
	op_begin();
	size_t s = __atomic_fetch_add(&cursor, 1, __ATOMIC_RELAXED) % KMM_ZERO_SLOTS;
	for (size_t tried = 0; tried < KMM_ZERO_SLOTS;) {
		uint64_t *w = &bitmap[s / WORD_BITS];
		uint64_t bit = (uint64_t)1 << (s % WORD_BITS);
		if (__atomic_load_n(w, __ATOMIC_RELAXED) == ~(uint64_t)0) {
			/* a full word: on to the next one */
			size_t skip = WORD_BITS - s % WORD_BITS;
			tried += skip;
			s = (s + skip) % KMM_ZERO_SLOTS;
			continue;
		}
		if (!(__atomic_fetch_or(w, bit, __ATOMIC_ACQ_REL) & bit)) {
			__atomic_fetch_add(&live, 1, __ATOMIC_RELAXED);
			op_end();
			return (void *)(kmm_zero_base + s * KMM_ZERO_SLOT);
		}
		tried++;
		s = (s + 1) % KMM_ZERO_SLOTS;
	}
	op_end();
	return NULL;   /* every slot live */
}

/* The slot of mem, or an abort if no block starts there. */
static size_t slot_of(const void *mem, const char *who)
{
	uintptr_t off = (uintptr_t)mem - kmm_zero_base;
	if (off % KMM_ZERO_SLOT != 0)
		kmm_printerr_ptr(who, "invalid pointer", mem, "inside a zero-size block");
	return off / KMM_ZERO_SLOT;
}

void kmm_zero_free(void *mem, const char *who)
{
	size_t s = slot_of(mem, who);
	uint64_t bit = (uint64_t)1 << (s % WORD_BITS);
	op_begin();
	if (!(__atomic_fetch_and(&bitmap[s / WORD_BITS], ~bit, __ATOMIC_ACQ_REL) & bit))
		kmm_printerr("free(): double free detected", " (zero-size block %p, freed already)", mem);
	__atomic_fetch_sub(&live, 1, __ATOMIC_RELAXED);
	op_end();
}

bool kmm_zero_live(const void *mem, const char *who)
{
	size_t s = slot_of(mem, who);
	return (__atomic_load_n(&bitmap[s / WORD_BITS], __ATOMIC_ACQUIRE) >> (s % WORD_BITS)) & 1;
}

size_t kmm_zero_count(void)
{
	return __atomic_load_n(&live, __ATOMIC_RELAXED);
}

KMM_COLD int kmm_zero_check(int verbose)
{
	if (__atomic_load_n(&state, __ATOMIC_ACQUIRE) != READY)
		return 0;
	size_t busy0 = __atomic_load_n(&busy, __ATOMIC_SEQ_CST), ops0 = __atomic_load_n(&ops, __ATOMIC_SEQ_CST);
	size_t n = 0;
	for (size_t i = 0; i < WORDS; i++)
		n += (size_t)__builtin_popcountll(__atomic_load_n(&bitmap[i], __ATOMIC_RELAXED));
	size_t want = kmm_zero_count();
	/* (other threads at it meanwhile: nothing to compare) */
	if (n == want || busy0 != 0 || __atomic_load_n(&busy, __ATOMIC_SEQ_CST) != 0 ||
	    __atomic_load_n(&ops, __ATOMIC_SEQ_CST) != ops0)
		return 0;
	if (verbose)
		kmm_warn("check: zero-size blocks: %zu slots marked live, counter says %zu", n, want);
	return 1;
}
