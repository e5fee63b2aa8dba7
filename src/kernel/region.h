/*
 * region.h — kmm's record of every region of memory it maps, like the VMAs
 * of the seed slides: the brk heap, arena heaps, vmalloc areas and buddy
 * sections, each with its range, permissions and populate policy.
 *
 * The records are embedded in the objects that own the memory (the arena,
 * a vmalloc area's vmap_area, a section's header), so registering a region
 * never allocates; the registry keeps them in a red-black tree by address.
 *
 * The fault-in model: a region's pages are either demand-faulted (the
 * default, like the brk heap: "heap space is on-demand page") or populated
 * when the region is created (what kernel vmalloc does: "no page fault"),
 * for real, with MADV_POPULATE_WRITE.  The maps report shows each region
 * with its resident pages (mincore) and the process's page faults, so a user
 * sees where faults happen.
 *
 * The region lock is the last kernel-side lock (util/lock.h): it may be
 * taken with any other kmm lock held but memcheck's leaves.
 */
#ifndef KMM_KERNEL_REGION_H
#define KMM_KERNEL_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rbtree.h"
#include "../trace_format.h"

struct kmm_buf;

/* enum kmm_region_kind and kmm_region_kind_names: the trace format's
 * (trace_format.h), since the trace log records region kinds. */

enum kmm_populate {
	KMM_POPULATE_DEMAND,      /* pages faulted in on first touch */
	KMM_POPULATE_PREFAULT,    /* populated when mapped (MADV_POPULATE_WRITE) */
};

#define KMM_PROT_R 0x1
#define KMM_PROT_W 0x2

struct kmm_region {
	struct kmm_rb_node node;
	uintptr_t start, end;
	uint8_t kind;             /* enum kmm_region_kind */
	uint8_t prot;             /* KMM_PROT_* */
	uint8_t populate;         /* enum kmm_populate */
	uint8_t registered;
};


/* Register r (storage owned by the caller) for [start, end). */
void kmm_region_add(struct kmm_region *r, enum kmm_region_kind kind, uintptr_t start,
		    uintptr_t end, unsigned prot, enum kmm_populate populate);
/* The region moved or changed size (break growth, realloc of an area). */
void kmm_region_update(struct kmm_region *r, uintptr_t start, uintptr_t end);
void kmm_region_del(struct kmm_region *r);

/* Totals by kind, for reports: regions, bytes mapped. */
struct kmm_region_totals {
	size_t count[KMM_REGION_KIND_NR];
	size_t bytes[KMM_REGION_KIND_NR];
};
void kmm_region_totals(struct kmm_region_totals *t);

/* The ranges of the regions whose kind's bit (1u << kind) is in `kinds`,
 * in address order, as [start, end) pairs into out[0 .. max); returns how
 * many there are (more than max: only max were written).  For the leak
 * scanner, which must not take kmm's own memory for the program's. */
size_t kmm_region_ranges(uintptr_t (*out)[2], size_t max, unsigned kinds);

/* The maps report: one line per region, like /proc/self/maps with kmm's
 * kind, populate policy and resident pages, then the process's faults. */
void kmm_region_report_maps(struct kmm_buf *b);

/* Regions sorted and non-overlapping, tree colours right, counts right. */
int kmm_region_check(int verbose);

void kmm_region_fork_prepare(void);
void kmm_region_fork_parent(void);
void kmm_region_fork_child(void);

#endif /* KMM_KERNEL_REGION_H */
