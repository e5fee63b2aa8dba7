/*
 * trace_layers.c — a layer sample for the trace log (trace_layers.h).
 *
 * The numbers are the reports': the arenas' as mallinfo walks them
 * (heap/stats.c, kmm_heap_layers), the threads' tcache counts, the slab
 * front end's and vmalloc's statistics, the buddy zone's counters.  Each
 * source is read under its own lock, one after the other, so a sample is
 * not one consistent cut: a block another thread moves meanwhile may count
 * in two layers or in none.  The cost is a walk of every bin: trace.c
 * spaces the samples by the time the last one took.
 */
#include "config.h"

#include "trace_layers.h"
#include "trace.h"
#include "heap/heap.h"
#include "heap/rescue.h"
#include "kernel/page_alloc.h"
#include "kernel/uslab.h"
#include "kernel/vmalloc.h"
#include "util/compiler.h"
#include "util/lock.h"

static void layer(uint64_t sample, unsigned id, uint64_t bytes, uint64_t blocks)
{
	kmm_trace_event(KMM_TR_LAYER, 0, id, bytes, blocks, sample, 0);
}

KMM_COLD void kmm_trace_layers_record(uint64_t sample)
{
	if (kmm_rescued())
		return;
	struct kmm_heap_layers h;
	struct kmm_uslab_stats us;
	struct kmm_vmalloc_stats vs;
	kmm_heap_layers(&h);
	kmm_uslab_stats(&us);
	kmm_vmalloc_stats(&vs);
	size_t free_pages = __atomic_load_n(&kmm_zone.free_pages, __ATOMIC_RELAXED);
	size_t dirty_pages = __atomic_load_n(&kmm_zone.dirty_free_pages, __ATOMIC_RELAXED);

	layer(sample, KMM_TL_TCACHE, h.tcache_bytes, h.tcache_n);
	layer(sample, KMM_TL_FASTBINS, h.fast_bytes, h.fast_n);
	layer(sample, KMM_TL_UNSORTED, h.bin_bytes[0], h.bin_n[0]);
	layer(sample, KMM_TL_SMALLBINS, h.bin_bytes[1], h.bin_n[1]);
	layer(sample, KMM_TL_LARGEBINS, h.bin_bytes[2], h.bin_n[2]);
	layer(sample, KMM_TL_TOP, h.top_bytes, h.top_n);
	layer(sample, KMM_TL_REMOTE, h.remote_bytes, h.remote_n);
	layer(sample, KMM_TL_SLAB_FREE, us.free_bytes, us.objects - us.inuse_objects);
	layer(sample, KMM_TL_BUDDY_FREE, (uint64_t)free_pages * KMM_PAGE_SIZE, free_pages);
	layer(sample, KMM_TL_BUDDY_RESIDENT, (uint64_t)dirty_pages * KMM_PAGE_SIZE, dirty_pages);
	layer(sample, KMM_TL_VMALLOC_LAZY, vs.lazy_bytes, vs.lazy_areas);
	layer(sample, KMM_TL_ARENAS, h.system, h.arenas);
}
