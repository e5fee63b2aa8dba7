/*
 * zero.h — zero-size blocks (zero_guard=on, the default but under
 * profile=glibc and valgrind): malloc(0) returns a unique address in a
 * range that is reserved with no access, so that reading or writing the
 * block faults at once instead of touching a neighbour (hardened_malloc's
 * and OpenBSD's choice).  zero.c says how.
 *
 * Which calls hand one out: malloc(0), calloc with a zero product,
 * realloc(NULL, 0), memalign/posix_memalign/aligned_alloc of 0 bytes with
 * an alignment of at most 16.  free() takes it back; realloc() to a size
 * above zero moves it (nothing to copy); malloc_usable_size() says 0.  A
 * second free of one, or a pointer inside the range no block starts at,
 * aborts.  When the range is full (KMM_ZERO_SLOTS blocks live at once) or
 * could not be mapped, the request gets an ordinary 16-byte block.
 */
#ifndef KMM_HEAP_ZERO_H
#define KMM_HEAP_ZERO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/compiler.h"

/* The reserved range: KMM_ZERO_SLOTS slots of 16 bytes (one block each). */
#define KMM_ZERO_SPACE ((size_t)16 << 20)
#define KMM_ZERO_SLOT  ((size_t)16)
#define KMM_ZERO_SLOTS (KMM_ZERO_SPACE / KMM_ZERO_SLOT)

/* Start of the range, 0 until the first zero-size block. */
extern uintptr_t kmm_zero_base;

/* Does mem lie in the range?  (Any pointer; slow paths only.) */
static inline bool kmm_zero_owns(const void *mem)
{
	uintptr_t base = __atomic_load_n(&kmm_zero_base, __ATOMIC_ACQUIRE);
	return base != 0 && (uintptr_t)mem - base < KMM_ZERO_SPACE;
}

/* A new zero-size block, or NULL (range full or not mapped: the caller
 * hands out an ordinary block).  Lock free: fork-safe at any point. */
void *kmm_zero_alloc(void);

/* Take back the block at mem (kmm_zero_owns(mem)); `who` names the call
 * ("free()", "realloc()") in the diagnostic for a pointer that is not a
 * live block. */
void kmm_zero_free(void *mem, const char *who);

/* Is mem a live zero-size block?  Aborts like kmm_zero_free if it is not
 * a block at all. */
bool kmm_zero_live(const void *mem, const char *who);

/* Blocks live now. */
size_t kmm_zero_count(void);

/* The checker: the bitmap's population equals the live counter; returns
 * the number of violations (details on stderr when verbose). */
int kmm_zero_check(int verbose);

#endif /* KMM_HEAP_ZERO_H */
