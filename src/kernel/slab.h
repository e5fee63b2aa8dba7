/*
 * slab.h — SLUB-style slab caches and kmalloc: where all of kmm's own
 * metadata comes from.
 *
 * A kmem_cache hands out objects of one size, carved from slabs: blocks of
 * 2^order frames from the buddy allocator (the order chosen from the object
 * size so that a slab holds enough objects and wastes little).  Free objects
 * of a slab are chained through their first word (the freelist).
 *
 *   slab (order 0, kmalloc-512):  [obj][obj][obj][obj][obj][obj][obj][obj]
 *                                   ^ freelist -> obj 3 -> obj 5 -> NULL
 *
 * Every thread has, per cache, an active slab and a private freelist of its
 * objects (the kernel's per-CPU kmem_cache_cpu): allocation pops from it and
 * a free of an object of that slab pushes to it, without a lock.  Other
 * frees go to the owning slab's own freelist under the cache lock ("remote"
 * frees); the active thread collects them when its private list runs dry.
 * Slabs that are neither active nor full sit on the cache's partial list;
 * a slab whose objects are all free goes back to the buddy allocator once
 * the cache keeps min_partial partial slabs.
 *
 * kmalloc(n) rounds n up to one of the kmalloc-8 ... kmalloc-8192 caches;
 * bigger requests get whole pages from the buddy allocator.
 *
 * Locking: a lock per cache, taken before the zone lock (vmalloc lock >
 * cache locks > zone lock > region lock).
 */
#ifndef KMM_KERNEL_SLAB_H
#define KMM_KERNEL_SLAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "list.h"
#include "page_alloc.h"
#include "../util/lock.h"

struct kmm_buf;

#define KMM_MAX_CACHES      32
#define KMM_KMALLOC_MAX     8192
#define KMM_CACHE_NAME_LEN  24

struct kmm_kmem_cache {
	const char *name;        /* the creator's string, not a copy (as in Linux):
				  * reading a literal at start-up would map
				  * libkmm.so's .rodata into every process */
	uintptr_t random;        /* freelist pointer hardening (slab.c) */
	uint64_t rng;            /* slab_random's generator (cache lock) */
	size_t   object_size;    /* what users asked for */
	size_t   size;           /* stride of objects in a slab */
	size_t   align;
	unsigned order;          /* slab = 2^order frames */
	unsigned objects;        /* objects per slab */
	unsigned min_partial;    /* empty slabs kept before freeing to the buddy */
	int      index;          /* slot in the per-thread active-slab table */
	kmm_lock_t lock;
	struct kmm_list partial;
	size_t   nr_partial;
	size_t   nr_slabs;
	struct kmm_list list;    /* all caches */
	/* statistics */
	uint64_t alloc_fast, alloc_slow, free_fast, free_remote;
	uint64_t slabs_allocated, slabs_freed;
};

/* slab_random=on (SLAB_FREELIST_RANDOM): a new slab's objects go on its
 * freelist in a random order, not in address order, so that where the next
 * object lies cannot be told from where the last one did. */
extern bool kmm_slab_freelist_random;

/* slab_debug=on (the kernel's slab_debug=F, sanity checks): every free
 * searches both freelists of the object's slab for it, not only their first
 * entries, and every freelist entry read on allocation or free must be one
 * of its slab's objects.  Costs a walk of the freelists per free. */
extern bool kmm_slab_debug;

/* Create a cache (its descriptor comes from the "kmem_cache" cache).
 * `name` must stay valid while the cache exists: it is kept, not copied.
 * Objects up to 4 MiB (above 32 KiB, one per slab); `align` a power of
 * two up to a page.  NULL with errno EINVAL for other sizes or alignments,
 * ENOMEM if all KMM_MAX_CACHES slots are taken or memory ran out. */
struct kmm_kmem_cache *kmm_kmem_cache_create(const char *name, size_t size, size_t align);

/* Set the slab order of a cache that has no slabs yet (what writing
 * /sys/kernel/slab/NAME/order does): a cache of few, big objects that
 * every thread allocates rarely is better off with one-page slabs, since
 * each thread's active slab is touched whole when it is made.  Returns 0,
 * or -1 if the cache has slabs or an object does not fit the order. */
int kmm_kmem_cache_set_order(struct kmm_kmem_cache *c, unsigned order);
void *kmm_kmem_cache_alloc(struct kmm_kmem_cache *c);
void *kmm_kmem_cache_zalloc(struct kmm_kmem_cache *c);
/* Free an object of c (NULL: nothing).  Decided by ownership, from the
 * page descriptors, before anything in the object is read: a pointer that
 * is not the start of an object in one of c's slabs — in another cache's
 * slab, inside or past an object, misaligned, in a page that is not a slab
 * (free, vmalloc's, a large kmalloc block, a section's descriptors), or in
 * no section at all — aborts with "kmm: kmem_cache_free(NAME): invalid
 * pointer P (why)".  A double free aborts ("double free of P") when the
 * object is among the first few entries of the freelist it would join or
 * its slab has no object in use; with slab_debug=on, whenever it is on
 * either freelist of its slab (slab.c says which frees stay unseen). */
void  kmm_kmem_cache_free(struct kmm_kmem_cache *c, void *obj);

void *kmm_kmalloc(size_t size);
void *kmm_kzalloc(size_t size);
/* Free what kmalloc returned (NULL: nothing): the start of an object of any
 * slab (as Linux's kfree takes kmem_cache_alloc'ed objects), or the start
 * of a block of pages kmalloc handed out for more than KMM_KMALLOC_MAX.
 * Anything else aborts as kmem_cache_free does, naming kfree(). */
void  kmm_kfree(const void *obj);
/* Bytes usable in a kmalloc'ed object: the object size of its cache, or the
 * size of a large kmalloc block.  0 for anything kfree would refuse (a
 * pointer inside an object or a block, in no slab, in no section, NULL);
 * never aborts, never reads the object.  A freed object still answers its
 * cache's size. */
size_t kmm_ksize(const void *obj);

/* The calling thread is exiting: give its active slabs back. */
void kmm_slab_thread_exit(void);

/* One cache's line of slabinfo (kmm's own caches and the slab front
 * end's classes alike). */
struct kmm_slabinfo_row {
	char name[KMM_CACHE_NAME_LEN];
	size_t active_objs, num_objs, objsize, objperslab, pagesperslab, active_slabs, num_slabs;
};

/* /proc/slabinfo, version 2.1 */
void kmm_slab_report_slabinfo(struct kmm_buf *b);
/* One row in the layout of that report (the slab front end's rows too). */
void kmm_slabinfo_print_row(struct kmm_buf *b, const struct kmm_slabinfo_row *r);
/* kmm's own caches, as the report's rows: at most max; returns the number
 * of caches (may be more than max: the rest are not filled). */
size_t kmm_slab_rows(struct kmm_slabinfo_row *out, size_t max);
/* Totals for meminfo: bytes in slabs. */
size_t kmm_slab_total_bytes(void);

/* Invariant checker: partial lists hold partial, unfrozen slabs of their
 * cache; every freelist stays inside its slab on object boundaries, without
 * repeats, and its length matches the slab's in-use count; the slabs the
 * buddy allocator says belong to a cache match the cache's count.  Returns
 * the number of violations. */
int kmm_slab_check(int verbose);

/* For kfree's diagnostics: vmalloc.c (the layer above) registers how to
 * tell an address in its space; until then no address is. */
void kmm_slab_set_vmalloc_space_test(bool (*in_space)(const void *addr));

void kmm_slab_fork_prepare(void);
void kmm_slab_fork_parent(void);
void kmm_slab_fork_child(void);

#endif /* KMM_KERNEL_SLAB_H */
