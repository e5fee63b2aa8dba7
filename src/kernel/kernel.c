/*
 * kernel.c — the kernel side as one unit (see kernel.h).
 */
#include "config.h"

#include "kernel.h"
#include "page_alloc.h"
#include "region.h"
#include "slab.h"
#include "uslab.h"
#include "vmalloc.h"

KMM_COLD int kmm_kernel_param_set(int param, long long value)
{
	switch (param) {
	case KMM_KP_VMALLOC_LAZY_MAX:
		if (value < 0)
			return 0;
		kmm_vmalloc_params.lazy_max = (size_t)value;
		return 1;
	case KMM_KP_VMALLOC_SPACE:
		if (value < (64ll << 20))
			return 0;
		kmm_vmalloc_params.space_size = (size_t)value;
		return 1;
	case KMM_KP_POPULATE:
		if (value != 0 && value != 1)
			return 0;
		kmm_vmalloc_params.populate = value != 0;
		return 1;
	case KMM_KP_VMALLOC_FRAMES:
		if (value != 0 && value != 1)
			return 0;
		kmm_vmalloc_params.frames = value != 0;
		return 1;
	case KMM_KP_WATERMARK_HIGH:
	case KMM_KP_WATERMARK_LOW:
	case KMM_KP_WATERMARK_MIN: {
		static size_t wm[3];
		if (value < 0)
			return 0;
		wm[param - KMM_KP_WATERMARK_HIGH] = (size_t)value / KMM_PAGE_SIZE;
		kmm_buddy_set_watermarks(wm[2], wm[1], wm[0]);
		kmm_buddy_auto_target = wm[0] == 0;
		return 1;
	}
	case KMM_KP_SLAB_RANDOM:
	case KMM_KP_PAGE_SHUFFLE:
	case KMM_KP_SLAB_DEBUG:
		if (value != 0 && value != 1)
			return 0;
		*(param == KMM_KP_SLAB_RANDOM ? &kmm_slab_freelist_random
		  : param == KMM_KP_PAGE_SHUFFLE ? &kmm_page_shuffle : &kmm_slab_debug) = value != 0;
		return 1;
	default:
		return 0;
	}
}

void kmm_kernel_fork_prepare(void)
{
	kmm_vmalloc_fork_prepare();
	kmm_uslab_fork_prepare();
	kmm_slab_fork_prepare();
	kmm_buddy_fork_prepare();
	kmm_region_fork_prepare();
}

void kmm_kernel_fork_parent(void)
{
	kmm_region_fork_parent();
	kmm_buddy_fork_parent();
	kmm_slab_fork_parent();
	kmm_uslab_fork_parent();
	kmm_vmalloc_fork_parent();
}

void kmm_kernel_fork_child(void)
{
	kmm_region_fork_child();
	kmm_buddy_fork_child();
	kmm_slab_fork_child();
	kmm_uslab_fork_child();
	kmm_vmalloc_fork_child();
}

KMM_HOT void kmm_kernel_thread_exit(void)
{
	kmm_uslab_thread_exit();
	kmm_slab_thread_exit();
}

KMM_COLD int kmm_kernel_check(int verbose)
{
	return kmm_buddy_check(verbose) + kmm_slab_check(verbose) + kmm_uslab_check(verbose) +
	       kmm_vmalloc_check(verbose) + kmm_region_check(verbose);
}

size_t kmm_kernel_trim(void)
{
	size_t bytes = kmm_uslab_trim();
	bytes += kmm_vmalloc_purge(true);
	bytes += kmm_buddy_release_all(0) * KMM_PAGE_SIZE;
	return bytes;
}
