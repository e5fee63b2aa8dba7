/*
 * rescue.c — the rescue heap of a fork child whose heap cannot be trusted
 * (rescue.h says when).
 *
 * THEORY
 *
 * 1. Why.  A signal handler that interrupted malloc may call fork (glibc's
 *    tst-mallocfork2), and the child may call malloc before it calls exec
 *    or _exit.  The child is a copy of the parent at the instant of the
 *    fork: a bin half unlinked by the interrupted call, locks held by the
 *    interrupted call or by threads that do not exist in the child.  Any
 *    use of that heap may loop, crash or hand a block out twice.
 *
 * 2. What.  The child leaves the inherited heap alone.  Each allocation is
 *    a mapping of its own, from the OS layer; freeing one unmaps it.  A free
 *    of an inherited block does nothing (the block stays where it is, and
 *    the parent's copy is the parent's): counted as dropped.  realloc of an
 *    inherited block copies it into a new mapping.  No lock is taken: the
 *    calls share nothing but three counters.  Such a child is expected to
 *    exec or _exit soon; a long-lived one pays a system call per call.
 *
 * 3. How calls get here.  Through the observed mode's one door (heap.h):
 *    KMM_OBSERVE_RESCUE is set and this table installed, so every entry
 *    point that can allocate comes here, and the fast paths are off: the
 *    forking thread's tcache pointer goes back to the empty tcache and its
 *    slab front end lists are abandoned (never given back: that takes a
 *    lock).  Threads the child starts later start with the fast paths off.
 *
 * 4. Telling blocks apart.  The 16 bytes before a rescue block hold a tag,
 *    the block's address mixed with a per-process random key, and the
 *    mapping's base; the mapping's first word holds its length.  Before
 *    reading them, an address in vmalloc's space (a big block: the word
 *    before it is a guard page) or in a slab section is known inherited
 *    from the address alone.  An inherited heap chunk's two header words
 *    match the tag with probability 2^-64.
 *
 *        base                                   p = the user's block
 *        | length | ...alignment padding... | tag | base | ...n bytes...
 *
 * 5. Sizes.  An inherited block's size is read where no lock guards it (a
 *    heap chunk's header, a slab's class); a big block's, only if vmalloc's
 *    lock is free (in this child a free lock means a consistent tree: no
 *    thread is left to be half way through a change it guards).  Otherwise
 *    realloc copies what can be read, at most the new size, through
 *    process_vm_readv (which stops at the guard page); if even that is not
 *    allowed, realloc fails with ENOMEM and the block stays as it was.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "rescue.h"
#include "big.h"
#include "chunk.h"
#include "heap.h"
#include "thread.h"
#include "tcache.h"
#include "../os.h"
#include "../kernel/uslab.h"
#include "../kernel/vmalloc.h"

#define HDR ((size_t)2 * sizeof(uintptr_t))

static uintptr_t rescue_key;
static unsigned long n_maps, n_unmaps, n_dropped, n_copied;

static void count(unsigned long *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

/* A block of n bytes at an address aligned to `align` (a power of two of
 * 16 or more), or NULL with errno = ENOMEM. */
static void *map_block(size_t n, size_t align)
{
	size_t ps = kmm_os_page_size();
	size_t len;
	if (KMM_UNLIKELY(n > KMM_MAX_REQUEST || align > KMM_MAX_REQUEST ||
			 __builtin_add_overflow(n, sizeof(size_t) + HDR + (align - 1) + (ps - 1), &len))) {
		errno = ENOMEM;
		return NULL;
	}
	len &= ~(ps - 1);
	char *base = kmm_os_map(len, 0);
	if (base == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	uintptr_t p = KMM_ALIGN_UP((uintptr_t)base + sizeof(size_t) + HDR, align);
	*(size_t *)base = len;
	uintptr_t *hdr = (uintptr_t *)(p - HDR);
	hdr[0] = rescue_key ^ p;
	hdr[1] = (uintptr_t)base;
	count(&n_maps);
	return (void *)p;
}

/* The mapping's base if mem is a rescue block, else NULL (inherited). */
static char *rescue_base(const void *mem)
{
	uintptr_t p = (uintptr_t)mem;
	if ((p & (KMM_MINSIZE - 1)) != 0 || kmm_big_owns(mem) || kmm_vmalloc_in_space(mem) ||
	    kmm_uslab_head(mem) != NULL)
		return NULL;
	const uintptr_t *hdr = (const uintptr_t *)(p - HDR);
	return hdr[0] == (rescue_key ^ p) ? (char *)hdr[1] : NULL;
}

static size_t rescue_usable(const void *mem, const char *base)
{
	return *(const size_t *)base - (size_t)((const char *)mem - base);
}

/* An inherited block's usable size without waiting for a lock, or
 * SIZE_MAX if it cannot be known that way (point 5). */
static size_t inherited_usable(const void *mem)
{
	if (kmm_big_owns(mem)) {
		size_t n = kmm_vmalloc_size_try(mem);
		return n != 0 ? n : SIZE_MAX;
	}
	return kmm_heap_usable_size_unobserved(mem);
}

static void *rescue_malloc(size_t n, const void *caller)
{
	(void)caller;
	return map_block(n, KMM_MINSIZE);
}

static void rescue_free(void *mem, const void *caller)
{
	(void)caller;
	if (mem == NULL)
		return;
	char *base = rescue_base(mem);
	if (base == NULL) {
		count(&n_dropped);
		return;
	}
	int saved = errno;   /* free leaves errno alone */
	((uintptr_t *)mem)[-2] = 0;   /* a second free is dropped, not an unmap of whatever is there */
	kmm_os_unmap(base, *(size_t *)base);
	count(&n_unmaps);
	errno = saved;
}

static void *rescue_calloc(size_t n, size_t size, const void *caller)
{
	size_t bytes;
	if (__builtin_mul_overflow(n, size, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	return rescue_malloc(bytes, caller);   /* fresh mappings read as zero */
}

static void *rescue_memalign(size_t alignment, size_t n, const void *caller)
{
	(void)caller;
	if (KMM_UNLIKELY(alignment > SIZE_MAX / 2 + 1)) {
		errno = EINVAL;
		return NULL;
	}
	size_t a = KMM_MINSIZE;
	while (a < alignment)
		a <<= 1;
	return map_block(n, a);
}

static size_t rescue_usable_size(const void *mem)
{
	if (mem == NULL)
		return 0;
	char *base = rescue_base(mem);
	if (base != NULL)
		return rescue_usable(mem, base);
	size_t n = inherited_usable(mem);
	return n == SIZE_MAX ? 0 : n;
}

static void *rescue_realloc(void *mem, size_t n, const void *caller)
{
	if (mem == NULL)
		return rescue_malloc(n, caller);
	if (n == 0) {   /* glibc's realloc(p, 0): a free */
		rescue_free(mem, caller);
		return NULL;
	}
	char *base = rescue_base(mem);
	size_t old = base != NULL ? rescue_usable(mem, base) : inherited_usable(mem);
	if (old != SIZE_MAX && n <= old && base != NULL)
		return mem;
	void *nmem = map_block(n, KMM_MINSIZE);
	if (nmem == NULL)
		return NULL;
	if (old != SIZE_MAX) {
		memcpy(nmem, mem, old < n ? old : n);
	} else if (kmm_os_read_self(nmem, mem, n) < 0) {
		rescue_free(nmem, caller);   /* the block stays as it was */
		errno = ENOMEM;
		return NULL;
	}
	if (base != NULL)
		rescue_free(mem, caller);
	else
		count(&n_copied);
	return nmem;
}

static const struct kmm_heap_observer rescue_observer = {
	.malloc = rescue_malloc,
	.free = rescue_free,
	.calloc = rescue_calloc,
	.realloc = rescue_realloc,
	.memalign = rescue_memalign,
	.usable_size = rescue_usable_size,
};

KMM_COLD void kmm_rescue_start(void)
{
	if (kmm_rescued())
		return;
	rescue_key = (uintptr_t)kmm_os_random() | 1;
	kmm_heap_set_observer(&rescue_observer);
	kmm_params.observed |= KMM_OBSERVE_RESCUE;
	kmm_uslab_abandon_lists();
	if (kmm_tcache_is_real(kmm_self.tc))
		kmm_self.tc = &kmm_tcache_empty;
}

KMM_COLD void kmm_rescue_stats(struct kmm_rescue_stats *st)
{
	st->maps = __atomic_load_n(&n_maps, __ATOMIC_RELAXED);
	st->unmaps = __atomic_load_n(&n_unmaps, __ATOMIC_RELAXED);
	st->dropped = __atomic_load_n(&n_dropped, __ATOMIC_RELAXED);
	st->copied = __atomic_load_n(&n_copied, __ATOMIC_RELAXED);
}
