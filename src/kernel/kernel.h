/*
 * kernel.h — the kernel side as one unit: its options, fork handlers,
 * thread-exit hook and invariant checkers, for the layers above it.
 *
 * The kernel side never calls the heap side; the heap side and the process
 * layer (init.c, report.c) call in here.
 *
 * Lock order: enum kmm_lock_rank in util/lock.h (the kernel side's locks
 * come after every heap-side lock).
 */
#ifndef KMM_KERNEL_KERNEL_H
#define KMM_KERNEL_KERNEL_H

#include <stdbool.h>
#include <stddef.h>

/* kernel-side option numbers (see docs/options.md) */
enum kmm_kparam {
	KMM_KP_VMALLOC_LAZY_MAX = 1,
	KMM_KP_VMALLOC_SPACE,
	KMM_KP_POPULATE,
	KMM_KP_WATERMARK_HIGH,
	KMM_KP_WATERMARK_LOW,
	KMM_KP_WATERMARK_MIN,
	KMM_KP_SLAB_RANDOM,       /* SLAB_FREELIST_RANDOM (slab.c) */
	KMM_KP_PAGE_SHUFFLE,      /* page allocator shuffling (page_alloc.c) */
	KMM_KP_SLAB_DEBUG,        /* slab_debug=F: full double free and freelist checks (slab.c) */
	KMM_KP_VMALLOC_FRAMES,    /* vmalloc areas from buddy frames (on) or demand-paged (off) */
};

/* Set a kernel-side option; returns 1, or 0 if the value is out of range. */
int kmm_kernel_param_set(int param, long long value);

/* fork: every kernel-side lock, in order / released / reset */
void kmm_kernel_fork_prepare(void);
void kmm_kernel_fork_parent(void);
void kmm_kernel_fork_child(void);

/* The calling thread is exiting. */
void kmm_kernel_thread_exit(void);

/* All kernel-side invariant checkers: buddy, slab, vmalloc, regions. */
int kmm_kernel_check(int verbose);

/* malloc_trim: purge every lazily freed vmalloc area and give every free
 * buddy block back to the OS.  Returns the bytes released. */
size_t kmm_kernel_trim(void);

#endif /* KMM_KERNEL_KERNEL_H */
