/*
 * test_region.c — the registry of mapped regions of the kernel side
 * (src/kernel/region.c): add/update/del with caller-owned records, the
 * checker on valid and invalid use, totals, the maps report with its kind
 * names, and the regions that vmalloc areas, buddy sections and the heap
 * register.
 *
 * criterion runs every Test() in a fresh process.  Every test ends with
 * kmm_region_check(1) and kmm_kernel_check(1) (the kernel side's checkers) returning 0.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "kernel/kernel.h"
#include "kernel/page_alloc.h"
#include "kernel/region.h"
#include "kernel/slab.h"
#include "kernel/vmalloc.h"
#include "util/format.h"
#include "ktest.h"


#define CHECK_REGIONS() do { \
	cr_assert_eq(kmm_region_check(1), 0, "region invariants violated (see stderr)"); \
	cr_assert_eq(kmm_kernel_check(1), 0, "kernel-side invariants violated (see stderr)"); \
} while (0)

/* ---- helpers ---------------------------------------------------------------- */

/* Address space nothing else uses: test records describe ranges in it. */
static char *reserve(size_t len)
{
	void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	return p;
}

static char maps_text[1 << 18];

static const char *maps_report(void)
{
	struct kmm_buf b;
	kmm_buf_init(&b, maps_text, sizeof maps_text, -1);
	kmm_region_report_maps(&b);
	cr_assert(!b.truncated, "maps report truncated");
	return maps_text;
}

struct maps_line {
	uintptr_t start, end;
	char perm[5];
	char kind[32];
	size_t size_kb;
	long resident_kb;
	char populate[16];
};

/* Parse one region line of the maps report. */
static int parse_maps_line(const char *l, struct maps_line *m)
{
	unsigned long s, e;
	int off = 0;
	if (sscanf(l, "%16lx-%16lx %4s %n", &s, &e, m->perm, &off) != 3 || off == 0)
		return 0;
	m->start = s;
	m->end = e;
	/* the kind name may hold a space: it ends where the size begins */
	const char *k = l + off, *kb = strstr(k, " kB ");
	if (kb == NULL)
		return 0;
	const char *num = kb;
	while (num > k && num[-1] != ' ')
		num--;
	const char *kend = num;
	while (kend > k && kend[-1] == ' ')
		kend--;
	size_t klen = (size_t)(kend - k);
	if (klen == 0 || klen >= sizeof m->kind)
		return 0;
	memcpy(m->kind, k, klen);
	m->kind[klen] = '\0';
	if (sscanf(num, "%zu kB %ld kB %15s", &m->size_kb, &m->resident_kb, m->populate) != 3)
		return 0;
	if (strcmp(m->populate, "on") == 0)
		strcpy(m->populate, "on demand");
	return 1;
}

/* The report's line for the region starting at `start`; 0 if none. */
static int find_maps_line(const void *start, struct maps_line *out)
{
	char key[24];
	snprintf(key, sizeof key, "%016lx-", (unsigned long)(uintptr_t)start);
	const char *text = maps_report();
	for (const char *l = text; *l != '\0';) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		if (strncmp(l, key, strlen(key)) == 0) {
			char line[256];
			cr_assert(len < sizeof line);
			memcpy(line, l, len);
			line[len] = '\0';
			cr_assert(parse_maps_line(line, out), "maps line does not parse: %s", line);
			return 1;
		}
		l += len + (nl != NULL);
	}
	return 0;
}

/* Every region line parses, lines are sorted and do not overlap; returns
 * the number of region lines. */
static size_t check_maps_report(void)
{
	const char *text = maps_report();
	cr_assert_eq(strncmp(text, "start-end", 9), 0, "header: %.80s", text);
	size_t n = 0;
	uintptr_t prev_end = 0;
	int totals = 0, faults = 0;
	const char *l = strchr(text, '\n') + 1;
	while (*l != '\0') {
		const char *nl = strchr(l, '\n');
		cr_assert_not_null(nl, "the report ends with a newline");
		char line[256];
		size_t len = (size_t)(nl - l);
		cr_assert(len < sizeof line);
		memcpy(line, l, len);
		line[len] = '\0';
		struct maps_line m;
		if (strncmp(line, "totals:", 7) == 0) {
			totals = 1;
		} else if (strncmp(line, "page faults of the process so far:", 34) == 0) {
			unsigned long minflt, majflt;
			cr_assert_eq(sscanf(line, "page faults of the process so far: %lu minor, %lu major", &minflt, &majflt), 2,
				     "%s", line);
			faults = 1;
		} else {
			cr_assert(!totals, "a region line after the totals: %s", line);
			cr_assert(parse_maps_line(line, &m), "maps line does not parse: %s", line);
			cr_assert(m.start < m.end, "%s", line);
			cr_assert(m.start >= prev_end, "lines not sorted or overlapping: %s", line);
			cr_assert_eq(m.size_kb, (m.end - m.start) >> 10, "%s", line);
			int known = 0;
			for (int k = 0; k < KMM_REGION_KIND_NR; k++)
				known |= strcmp(m.kind, kmm_region_kind_names[k]) == 0;
			cr_assert(known, "unknown kind '%s': %s", m.kind, line);
			cr_assert(strcmp(m.populate, "on demand") == 0 || strcmp(m.populate, "prefault") == 0, "%s", line);
			cr_assert(m.resident_kb >= -1 && (size_t)(m.resident_kb < 0 ? 0 : m.resident_kb) <= m.size_kb, "%s",
				  line);
			prev_end = m.end;
			n++;
		}
		l = nl + 1;
	}
	cr_assert(totals && faults, "the totals and faults lines end the report");
	return n;
}

static size_t total_count(void)
{
	struct kmm_region_totals t;
	kmm_region_totals(&t);
	size_t n = 0;
	for (int k = 0; k < KMM_REGION_KIND_NR; k++)
		n += t.count[k];
	return n;
}

/* ---- caller-owned records ---------------------------------------------------------- */

Test(region, kind_names)
{
	cr_assert_str_eq(kmm_region_kind_names[KMM_REGION_BRK_HEAP], "brk heap");
	cr_assert_str_eq(kmm_region_kind_names[KMM_REGION_HEAP_SEGMENT], "heap segment");
	cr_assert_str_eq(kmm_region_kind_names[KMM_REGION_ARENA_HEAP], "arena heap");
	cr_assert_str_eq(kmm_region_kind_names[KMM_REGION_VMALLOC_AREA], "vmalloc area");
	cr_assert_str_eq(kmm_region_kind_names[KMM_REGION_SECTION], "buddy section");
	CHECK_REGIONS();
}

Test(region, add_update_del)
{
	char *r = reserve(4 * MiB);
	uintptr_t R = (uintptr_t)r;
	static struct kmm_region a, b, c;
	struct kmm_region_totals t0, t;
	kmm_region_totals(&t0);

	kmm_region_add(&a, KMM_REGION_BRK_HEAP, R, R + 64 * 1024, KMM_PROT_R | KMM_PROT_W, KMM_POPULATE_DEMAND);
	kmm_region_add(&b, KMM_REGION_ARENA_HEAP, R + MiB, R + 2 * MiB, KMM_PROT_R, KMM_POPULATE_PREFAULT);
	kmm_region_add(&c, KMM_REGION_HEAP_SEGMENT, R + 3 * MiB, R + 3 * MiB + PG, KMM_PROT_R | KMM_PROT_W,
		       KMM_POPULATE_DEMAND);
	cr_assert(a.registered && b.registered && c.registered);
	cr_assert_eq(a.start, R);
	cr_assert_eq(a.end, R + 64 * 1024);
	cr_assert_eq(a.kind, KMM_REGION_BRK_HEAP);
	cr_assert_eq(b.prot, KMM_PROT_R);
	cr_assert_eq(b.populate, KMM_POPULATE_PREFAULT);
	cr_assert_eq(kmm_region_check(1), 0);
	kmm_region_totals(&t);
	cr_assert_eq(t.count[KMM_REGION_BRK_HEAP], t0.count[KMM_REGION_BRK_HEAP] + 1);
	cr_assert_eq(t.count[KMM_REGION_ARENA_HEAP], t0.count[KMM_REGION_ARENA_HEAP] + 1);
	cr_assert_eq(t.count[KMM_REGION_HEAP_SEGMENT], t0.count[KMM_REGION_HEAP_SEGMENT] + 1);
	cr_assert_eq(t.bytes[KMM_REGION_ARENA_HEAP], t0.bytes[KMM_REGION_ARENA_HEAP] + MiB);

	/* the maps report shows them with kind, permissions and policy */
	struct maps_line m;
	cr_assert(find_maps_line(r, &m), "%s", maps_text);
	cr_assert_eq(m.end, R + 64 * 1024);
	cr_assert_str_eq(m.perm, "rw-p");
	cr_assert_str_eq(m.kind, "brk heap");
	cr_assert_eq(m.size_kb, 64);
	cr_assert_eq(m.resident_kb, 0, "nothing resident in a PROT_NONE reservation");
	cr_assert_str_eq(m.populate, "on demand");
	cr_assert(find_maps_line(r + MiB, &m));
	cr_assert_str_eq(m.perm, "r--p");
	cr_assert_str_eq(m.kind, "arena heap");
	cr_assert_eq(m.size_kb, 1024);
	cr_assert_str_eq(m.populate, "prefault");
	cr_assert(find_maps_line(r + 3 * MiB, &m));
	cr_assert_str_eq(m.kind, "heap segment");
	cr_assert_eq(m.size_kb, 4);
	cr_assert_not_null(strstr(maps_text, "totals:"));
	cr_assert_not_null(strstr(maps_text, "  arena heap "));
	check_maps_report();

	/* adding a registered record again changes nothing */
	kmm_region_add(&a, KMM_REGION_SECTION, R + 2 * MiB, R + 3 * MiB, 0, KMM_POPULATE_PREFAULT);
	cr_assert_eq(a.start, R);
	cr_assert_eq(a.kind, KMM_REGION_BRK_HEAP);
	kmm_region_totals(&t);
	cr_assert_eq(t.count[KMM_REGION_BRK_HEAP], t0.count[KMM_REGION_BRK_HEAP] + 1);
	cr_assert_eq(t.count[KMM_REGION_SECTION], t0.count[KMM_REGION_SECTION]);

	/* grow in place (the break moved) */
	kmm_region_update(&a, R, R + 512 * 1024);
	cr_assert_eq(a.end, R + 512 * 1024);
	cr_assert(find_maps_line(r, &m));
	cr_assert_eq(m.size_kb, 512);
	cr_assert_eq(kmm_region_check(1), 0);
	/* move (an area moved by realloc): re-sorted after c */
	kmm_region_update(&b, R + 3 * MiB + 2 * PG, R + 3 * MiB + 10 * PG);
	cr_assert_eq(b.start, R + 3 * MiB + 2 * PG);
	cr_assert(!find_maps_line(r + MiB, &m), "the old start is gone");
	cr_assert(find_maps_line(r + 3 * MiB + 2 * PG, &m));
	cr_assert_eq(m.size_kb, 32);
	cr_assert_str_eq(m.kind, "arena heap");
	cr_assert_eq(kmm_region_check(1), 0);
	check_maps_report();
	kmm_region_totals(&t);
	cr_assert_eq(t.bytes[KMM_REGION_ARENA_HEAP], t0.bytes[KMM_REGION_ARENA_HEAP] + 8 * PG);

	/* delete; deleting or updating an unregistered record is a no-op */
	size_t n = total_count();
	kmm_region_del(&b);
	cr_assert_eq(b.registered, 0);
	cr_assert_eq(total_count(), n - 1);
	kmm_region_del(&b);
	cr_assert_eq(total_count(), n - 1);
	kmm_region_update(&b, R + MiB, R + 2 * MiB);
	cr_assert_eq(total_count(), n - 1);
	cr_assert(!find_maps_line(r + MiB, &m));
	cr_assert_eq(kmm_region_check(1), 0);
	/* and a deleted record can be added again */
	kmm_region_add(&b, KMM_REGION_VMALLOC_AREA, R + 2 * MiB, R + 2 * MiB + PG, KMM_PROT_R | KMM_PROT_W,
		       KMM_POPULATE_DEMAND);
	cr_assert_eq(total_count(), n);
	cr_assert(find_maps_line(r + 2 * MiB, &m));
	cr_assert_str_eq(m.kind, "vmalloc area");
	cr_assert_eq(kmm_region_check(1), 0);

	kmm_region_del(&a);
	kmm_region_del(&b);
	kmm_region_del(&c);
	cr_assert_eq(total_count(), n - 3);
	kmm_region_totals(&t);
	cr_assert_arr_eq(&t, &t0, sizeof t, "totals back to where they were");
	check_maps_report();
	munmap(r, 4 * MiB);
	CHECK_REGIONS();
}

Test(region, check_detects_overlap_and_empty_ranges)
{
	char *r = reserve(MiB);
	uintptr_t R = (uintptr_t)r;
	static struct kmm_region a, b, e;
	kmm_region_add(&a, KMM_REGION_ARENA_HEAP, R, R + 8 * PG, KMM_PROT_R | KMM_PROT_W, KMM_POPULATE_DEMAND);
	kmm_region_add(&b, KMM_REGION_ARENA_HEAP, R + 4 * PG, R + 12 * PG, KMM_PROT_R | KMM_PROT_W, KMM_POPULATE_DEMAND);
	cr_assert_gt(kmm_region_check(0), 0, "overlapping regions go unnoticed");
	kmm_region_update(&b, R + 8 * PG, R + 12 * PG);
	cr_assert_eq(kmm_region_check(1), 0, "adjacent regions are fine");
	kmm_region_add(&e, KMM_REGION_ARENA_HEAP, R + 20 * PG, R + 20 * PG, KMM_PROT_R, KMM_POPULATE_DEMAND);
	cr_assert_gt(kmm_region_check(0), 0, "an empty region goes unnoticed");
	kmm_region_del(&e);
	cr_assert_eq(kmm_region_check(1), 0);
	kmm_region_del(&a);
	kmm_region_del(&b);
	munmap(r, MiB);
	CHECK_REGIONS();
}

Test(region, many_records_random)
{
	enum { SLOTS = 600 };
	char *r = reserve(SLOTS * 16 * PG);
	uintptr_t R = (uintptr_t)r;
	static struct kmm_region rec[SLOTS];
	static size_t len[SLOTS];
	uint64_t rs = 99;
	size_t n0 = total_count(), live = 0, bytes = 0, bytes0 = 0;
	struct kmm_region_totals t0;
	kmm_region_totals(&t0);
	for (int k = 0; k < KMM_REGION_KIND_NR; k++)
		bytes0 += t0.bytes[k];

	for (int op = 0; op < 20000; op++) {
		size_t i = rng_below(&rs, SLOTS);
		uintptr_t base = R + i * 16 * PG;
		size_t act = rng_below(&rs, 3);
		if (!rec[i].registered) {
			len[i] = (1 + rng_below(&rs, 16)) * PG;
			kmm_region_add(&rec[i], (enum kmm_region_kind)rng_below(&rs, KMM_REGION_KIND_NR), base, base + len[i],
				       KMM_PROT_R | (unsigned)rng_below(&rs, 2) * KMM_PROT_W,
				       (enum kmm_populate)rng_below(&rs, 2));
			live++;
			bytes += len[i];
		} else if (act == 0) {
			kmm_region_del(&rec[i]);
			live--;
			bytes -= len[i];
		} else {
			/* resize or move within its slot */
			size_t off = rng_below(&rs, 8) * PG, nl = (1 + rng_below(&rs, 8)) * PG;
			kmm_region_update(&rec[i], base + off, base + off + nl);
			bytes = bytes - len[i] + nl;
			len[i] = nl;
		}
		if (op % 1000 == 999) {
			cr_assert_eq(kmm_region_check(1), 0, "op %d", op);
			cr_assert_eq(total_count(), n0 + live, "op %d", op);
			size_t tb = 0;
			struct kmm_region_totals t;
			kmm_region_totals(&t);
			for (int k = 0; k < KMM_REGION_KIND_NR; k++)
				tb += t.bytes[k];
			cr_assert_eq(tb, bytes0 + bytes, "op %d: totals %zu bytes, model %zu", op, tb, bytes0 + bytes);
		}
	}
	cr_assert_eq(check_maps_report(), n0 + live);
	for (size_t i = 0; i < SLOTS; i++)
		kmm_region_del(&rec[i]);
	cr_assert_eq(total_count(), n0);
	munmap(r, SLOTS * 16 * PG);
	CHECK_REGIONS();
}

/* ---- regions kmm registers ------------------------------------------------------------ */

Test(region, vmalloc_areas_and_sections_appear)
{
	kmm_vmalloc_params.lazy_max = 64 * MiB;   /* freed areas stay lazily freed until purged */
	struct kmm_region_totals t;
	kmm_region_totals(&t);
	cr_assert_eq(t.count[KMM_REGION_VMALLOC_AREA], 0, "a fresh process has no vmalloc area");
	cr_assert_eq(t.count[KMM_REGION_SECTION], 0);

	char *p = kmm_vmalloc(MiB + 100, NULL);
	cr_assert_not_null(p);
	kmm_region_totals(&t);
	cr_assert_eq(t.count[KMM_REGION_VMALLOC_AREA], 1);
	cr_assert_eq(t.bytes[KMM_REGION_VMALLOC_AREA], MiB + PG, "the mapped bytes, without the guard page");
	cr_assert_eq(t.count[KMM_REGION_SECTION], 1, "the frames came from a new section");
	cr_assert_eq(t.bytes[KMM_REGION_SECTION], KMM_SECTION_SIZE);

	struct maps_line m;
	cr_assert(find_maps_line(p, &m), "no maps line for the area:\n%s", maps_text);
	cr_assert_eq(m.end, (uintptr_t)p + MiB + PG);
	cr_assert_str_eq(m.kind, "vmalloc area");
	cr_assert_str_eq(m.perm, "rw-p");
	cr_assert_str_eq(m.populate, "on demand");
	cr_assert_eq(m.resident_kb, 0);
	memset(p, 1, 40 * PG);
	cr_assert(find_maps_line(p, &m));
	cr_assert_eq(m.resident_kb, 160, "40 pages touched: %ld kB resident", m.resident_kb);

	char *base = kmm_zone.sections->base;
	cr_assert(find_maps_line(base, &m), "no maps line for the section:\n%s", maps_text);
	cr_assert_str_eq(m.kind, "buddy section");
	cr_assert_eq(m.size_kb, 65536);
	cr_assert_eq(m.end, (uintptr_t)base + KMM_SECTION_SIZE);
	cr_assert_not_null(strstr(maps_text, "  vmalloc area 1028 kB (160 kB resident)"), "%s", maps_text);
	cr_assert_not_null(strstr(maps_text, "  buddy section 65536 kB"), "%s", maps_text);
	check_maps_report();
	cr_assert_eq(kmm_region_check(1), 0);

	/* populate: the region says so */
	kmm_vmalloc_params.populate = true;
	char *q = kmm_vmalloc(64 * PG, NULL);
	kmm_vmalloc_params.populate = false;
	cr_assert(find_maps_line(q, &m));
	cr_assert_str_eq(m.populate, "prefault");
	cr_assert_eq(m.resident_kb, 256);

	/* resizing updates the region: grown in place, moved, shrunk */
	char *g = kmm_vrealloc(q, 128 * PG);
	cr_assert_eq(g, q);
	cr_assert(find_maps_line(g, &m));
	cr_assert_eq(m.end, (uintptr_t)g + kmm_vmalloc_size(g));
	char *blocker = kmm_vmalloc(PG, NULL);
	char *mv = kmm_vrealloc(p, 3 * MiB);
	cr_assert_neq(mv, p, "moved");
	cr_assert(!find_maps_line(p, &m), "the region left the old address");
	cr_assert(find_maps_line(mv, &m));
	cr_assert_eq(m.end, (uintptr_t)mv + kmm_vmalloc_size(mv));
	cr_assert_str_eq(m.kind, "vmalloc area");
	char *sh = kmm_vrealloc(mv, MiB);
	cr_assert_eq(sh, mv);
	cr_assert(find_maps_line(sh, &m));
	cr_assert_eq(m.size_kb, 1024, "shrunk to 1 MiB");
	cr_assert_eq(kmm_region_check(1), 0);
	check_maps_report();

	/* freed areas stay until purged */
	kmm_vfree(sh);
	cr_assert(find_maps_line(sh, &m), "a lazily freed area still holds its frames");
	kmm_vmalloc_purge(true);
	cr_assert(!find_maps_line(sh, &m), "purged: the region is gone");
	kmm_vfree(g);
	kmm_vfree(blocker);
	kmm_vmalloc_purge(true);
	kmm_region_totals(&t);
	cr_assert_eq(t.count[KMM_REGION_SECTION], 1, "sections stay");
	check_maps_report();
	CHECK_REGIONS();
}

Test(region, second_section_appears)
{
	struct kmm_page *blk[16];
	for (int i = 0; i < 16; i++) {
		blk[i] = kmm_alloc_pages(10, KMM_GFP_KERNEL, KMM_OWNER_PAGES);
		cr_assert_not_null(blk[i]);
	}
	cr_assert_eq(kmm_zone.nr_sections, 2);
	struct kmm_region_totals t;
	kmm_region_totals(&t);
	cr_assert_eq(t.count[KMM_REGION_SECTION], 2);
	struct maps_line m;
	for (struct kmm_mem_section *s = kmm_zone.sections; s != NULL; s = s->next) {
		cr_assert(s->region.registered);
		cr_assert(find_maps_line(s->base, &m));
		cr_assert_str_eq(m.kind, "buddy section");
	}
	for (int i = 0; i < 16; i++)
		kmm_free_pages(blk[i], 10);
	CHECK_REGIONS();
}

/* ---- threads -------------------------------------------------------------------------- */

enum { RTHREADS = 3, RSLOTS = 200 };
static uintptr_t rbase;
static int rstop;

static void *region_thread(void *arg)
{
	int id = (int)(uintptr_t)arg;
	static struct kmm_region rec[RTHREADS][RSLOTS];
	uint64_t rs = 5 + (uint64_t)id;
	for (int op = 0; op < 30000 && !__atomic_load_n(&rstop, __ATOMIC_RELAXED); op++) {
		size_t i = rng_below(&rs, RSLOTS);
		uintptr_t base = rbase + ((size_t)id * RSLOTS + i) * 4 * PG;
		if (!rec[id][i].registered)
			kmm_region_add(&rec[id][i], KMM_REGION_ARENA_HEAP, base, base + PG, KMM_PROT_R, KMM_POPULATE_DEMAND);
		else if (rng_below(&rs, 2))
			kmm_region_update(&rec[id][i], base + PG, base + (1 + rng_below(&rs, 3)) * PG + PG);
		else
			kmm_region_del(&rec[id][i]);
	}
	for (size_t i = 0; i < RSLOTS; i++)
		kmm_region_del(&rec[id][i]);
	return NULL;
}

Test(region_threads, concurrent_add_del_with_reports, .timeout = 30)
{
	char *r = reserve((size_t)RTHREADS * RSLOTS * 4 * PG);
	rbase = (uintptr_t)r;
	size_t n0 = total_count();
	pthread_t t[RTHREADS];
	for (int i = 0; i < RTHREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, region_thread, (void *)(uintptr_t)i), 0);
	for (int k = 0; k < 200; k++) {
		cr_assert_eq(kmm_region_check(1), 0, "check %d during concurrent updates", k);
		if (k % 20 == 0)
			check_maps_report();
	}
	__atomic_store_n(&rstop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < RTHREADS; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(total_count(), n0);
	munmap(r, (size_t)RTHREADS * RSLOTS * 4 * PG);
	CHECK_REGIONS();
}

/* vmalloc areas that move and shrink in other threads: the registry must
 * stay free of overlaps for a checker (or a maps report) running meanwhile */
static int vstop;

static void *vmalloc_thread(void *arg)
{
	int id = (int)(uintptr_t)arg;
	uint64_t rs = 3 + (uint64_t)id;
	char *small[8] = { 0 };
	while (!__atomic_load_n(&vstop, __ATOMIC_RELAXED)) {
		if (id < 2) {
			/* shrink big areas (the tail goes back to the free tree)
			 * and move them (the old range goes back) */
			char *p = kmm_vmalloc((64 + rng_below(&rs, 512)) * PG, NULL);
			if (p == NULL)
				break;
			p[0] = 1;
			p = kmm_vrealloc(p, (1 + rng_below(&rs, 8)) * PG);
			char *blocker = kmm_vmalloc(PG, NULL);
			p = kmm_vrealloc(p, (64 + rng_below(&rs, 64)) * PG);
			if (p == NULL || blocker == NULL)
				break;
			kmm_vfree(blocker);
			kmm_vfree(p);
		} else {
			/* small areas: they land in the lowest free ranges */
			size_t i = rng_below(&rs, 8);
			kmm_vfree(small[i]);
			small[i] = kmm_vmalloc((1 + rng_below(&rs, 4)) * PG, NULL);
			if (small[i] == NULL)
				break;
		}
	}
	for (int i = 0; i < 8; i++)
		kmm_vfree(small[i]);
	kmm_slab_thread_exit();
	return NULL;
}

Test(region_threads, check_while_vmalloc_areas_move_and_shrink, .timeout = 30)
{
	kmm_vmalloc_params.lazy_max = PG;   /* no lazy reuse: every area takes the lowest free range */
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, vmalloc_thread, (void *)(uintptr_t)i), 0);
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int bad = 0;
	unsigned long checks = 0;
	do {
		bad = kmm_region_check(1);
		checks++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (bad == 0 && (now.tv_sec - t0.tv_sec) * 1000000000L + (now.tv_nsec - t0.tv_nsec) < 3000000000L);
	__atomic_store_n(&vstop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(bad, 0,
		     "region check %lu found %d violation(s) while other threads resized vmalloc areas "
		     "(a moved or shrunk area's range is reusable before its region is updated; see stderr)",
		     checks, bad);
	CHECK_REGIONS();
}
