/*
 * region.c — the registry of mapped regions and the maps report (see
 * region.h).  A red-black tree of caller-owned records keyed by start
 * address; the lock is a leaf.
 */
#include "config.h"

#include <string.h>

#include "region.h"
#include "../trace.h"
#include "../os.h"
#include "../util/format.h"
#include "../util/lock.h"

static struct kmm_rb_root regions = KMM_RB_ROOT;
static size_t nr_regions;
static kmm_lock_t region_lock = KMM_LOCK_INIT_RANK(KMM_RANK_REGION);

static struct kmm_region *node_region(struct kmm_rb_node *n)
{
	return kmm_rb_entry(n, struct kmm_region, node);
}

static KMM_HOT void insert_locked(struct kmm_region *r)
{
	kmm_lock_assert_held(&region_lock);
	struct kmm_rb_node **link = &regions.node, *parent = NULL;
	while (*link != NULL) {
		parent = *link;
		if (r->start < node_region(parent)->start)
			link = &parent->left;
		else
			link = &parent->right;
	}
	kmm_rb_link_node(&r->node, parent, link);
	kmm_rb_insert_color(&r->node, &regions);
	nr_regions++;
}

KMM_HOT void kmm_region_add(struct kmm_region *r, enum kmm_region_kind kind, uintptr_t start,
		    uintptr_t end, unsigned prot, enum kmm_populate populate)
{
	bool locked = kmm_lock_fork_aware(&region_lock);
	if (!r->registered) {
		r->start = start;
		r->end = end;
		r->kind = (uint8_t)kind;
		r->prot = (uint8_t)prot;
		r->populate = (uint8_t)populate;
		insert_locked(r);
		__atomic_store_n(&r->registered, 1, __ATOMIC_RELEASE);
		KMM_TRACE(KMM_TR_REGION_ADD, 0, (uint32_t)prot | (uint32_t)populate << 8, start, end, kind, 0);
	}
	kmm_unlock_if(&region_lock, locked);
}

KMM_HOT void kmm_region_update(struct kmm_region *r, uintptr_t start, uintptr_t end)
{
	bool locked = kmm_lock_fork_aware(&region_lock);
	if (r->registered) {
		if (start != r->start) {
			kmm_rb_erase(&r->node, &regions);
			nr_regions--;
			r->start = start;
			r->end = end;
			insert_locked(r);
		} else {
			r->end = end;
		}
	}
	if (r->registered)
		KMM_TRACE(KMM_TR_REGION_UPDATE, 0, 0, r->start, r->end, r->kind, 0);
	kmm_unlock_if(&region_lock, locked);
}

KMM_HOT void kmm_region_del(struct kmm_region *r)
{
	bool locked = kmm_lock_fork_aware(&region_lock);
	if (r->registered) {
		kmm_rb_erase(&r->node, &regions);
		nr_regions--;
		r->registered = 0;
		KMM_TRACE(KMM_TR_REGION_DEL, 0, 0, r->start, r->end, r->kind, 0);
	}
	kmm_unlock_if(&region_lock, locked);
}

KMM_COLD void kmm_region_totals(struct kmm_region_totals *t)
{
	memset(t, 0, sizeof *t);
	kmm_lock(&region_lock);
	for (struct kmm_rb_node *n = kmm_rb_first(&regions); n != NULL; n = kmm_rb_next(n)) {
		struct kmm_region *r = node_region(n);
		t->count[r->kind]++;
		t->bytes[r->kind] += r->end - r->start;
	}
	kmm_unlock(&region_lock);
}

KMM_COLD size_t kmm_region_ranges(uintptr_t (*out)[2], size_t max, unsigned kinds)
{
	size_t n = 0;
	kmm_lock(&region_lock);
	for (struct kmm_rb_node *nd = kmm_rb_first(&regions); nd != NULL; nd = kmm_rb_next(nd)) {
		struct kmm_region *r = node_region(nd);
		if (!(kinds & (1u << r->kind)))
			continue;
		if (n < max) {
			out[n][0] = r->start;
			out[n][1] = r->end;
		}
		n++;
	}
	kmm_unlock(&region_lock);
	return n;
}

/* The report walks the tree in batches: mincore is a system call, and the
 * lock is a leaf other threads need, so it is not held across it. */
KMM_COLD void kmm_region_report_maps(struct kmm_buf *b)
{
	struct snap {
		uintptr_t start, end;
		uint8_t kind, prot, populate;
	} batch[64];
	uintptr_t next = 0;
	size_t total[KMM_REGION_KIND_NR] = { 0 }, resident[KMM_REGION_KIND_NR] = { 0 };
	unsigned long minflt, majflt;

	kmm_buf_puts(b, "start-end                             perm  kind           size       resident  populate\n");
	for (;;) {
		int n = 0;
		kmm_lock(&region_lock);
		for (struct kmm_rb_node *nd = kmm_rb_first(&regions); nd != NULL && n < 64; nd = kmm_rb_next(nd)) {
			struct kmm_region *r = node_region(nd);
			if (r->start < next)
				continue;
			batch[n++] = (struct snap){ r->start, r->end, r->kind, r->prot, r->populate };
		}
		kmm_unlock(&region_lock);
		if (n == 0)
			break;
		for (int i = 0; i < n; i++) {
			struct snap *s = &batch[i];
			long res = kmm_os_resident_pages((void *)s->start, s->end - s->start);
			size_t len = s->end - s->start;
			kmm_buf_printf(b, "%016lx-%016lx %c%c-p  %-13s ", (unsigned long)s->start,
				       (unsigned long)s->end, (s->prot & KMM_PROT_R) ? 'r' : '-',
				       (s->prot & KMM_PROT_W) ? 'w' : '-', kmm_region_kind_names[s->kind]);
			kmm_buf_printf(b, "%8zu kB %8ld kB  %s\n", len >> 10, res < 0 ? -1L : res * 4,
				       s->populate == KMM_POPULATE_PREFAULT ? "prefault" : "on demand");
			total[s->kind] += len;
			if (res > 0)
				resident[s->kind] += (size_t)res * 4096;
		}
		next = batch[n - 1].start + 1;
	}
	kmm_os_faults(&minflt, &majflt);
	kmm_buf_puts(b, "totals:");
	for (int k = 0; k < KMM_REGION_KIND_NR; k++)
		if (total[k] != 0)
			kmm_buf_printf(b, "  %s %zu kB (%zu kB resident)", kmm_region_kind_names[k], total[k] >> 10,
				       resident[k] >> 10);
	kmm_buf_printf(b, "\npage faults of the process so far: %lu minor, %lu major\n", minflt, majflt);
}

KMM_COLD int kmm_region_check(int verbose)
{
	int errors = 0;
	const char *why = NULL;
	size_t n = 0;
	uintptr_t prev_end = 0;

	kmm_lock(&region_lock);
	if (kmm_rb_check(&regions, &why) != 0) {
		errors++;
		if (verbose)
			kmm_warn("check: regions: tree: %s", why ? why : "?");
	}
	for (struct kmm_rb_node *nd = kmm_rb_first(&regions); nd != NULL; nd = kmm_rb_next(nd)) {
		struct kmm_region *r = node_region(nd);
		n++;
		if (r->end <= r->start || r->start < prev_end || !r->registered || r->kind >= KMM_REGION_KIND_NR) {
			errors++;
			if (verbose)
				kmm_warn("check: regions: [%p, %p) kind %u overlaps or is empty", (void *)r->start,
					 (void *)r->end, r->kind);
		}
		prev_end = r->end;
	}
	if (n != nr_regions) {
		errors++;
		if (verbose)
			kmm_warn("check: regions: %zu in the tree, counter says %zu", n, nr_regions);
	}
	kmm_unlock(&region_lock);
	return errors;
}

void kmm_region_fork_prepare(void)
{
	kmm_fork_lock(&region_lock);
}

void kmm_region_fork_parent(void)
{
	kmm_unlock(&region_lock);
}

void kmm_region_fork_child(void)
{
	kmm_lock_reset(&region_lock);
}
