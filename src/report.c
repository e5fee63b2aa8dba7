/*
 * report.c — report sections and the exit report.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <string.h>

#include "report.h"
#include "sample.h"
#include "options.h"
#include "os.h"
#include "heap/arena.h"
#include "heap/heap.h"
#include "heap/big.h"
#include "heap/params.h"
#include "heap/thread.h"
#include "kernel/kernel.h"
#include "kernel/page_alloc.h"
#include "kernel/region.h"
#include "kernel/slab.h"
#include "kernel/uslab.h"
#include "kernel/vmalloc.h"
#include "util/format.h"

struct section {
	const char *name;
	const char *title;   /* the section's first line, or NULL: emit writes its own */
	void (*emit)(struct kmm_buf *b);
};

/* One line of the params section: the option's name as KMM_OPTIONS takes
 * it (every name of options.c's table is here: tests/unit/test_options.c
 * checks), then its value now. */
#define P(name, fmt, ...) kmm_buf_printf(b, "  %-22s" fmt "\n", name, __VA_ARGS__)

static const char *on_off(long long v)
{
	return v ? "on" : "off";
}

static KMM_COLD void watermark(struct kmm_buf *b, const char *name, size_t pages)
{
	if (kmm_zone.wmark_fixed)
		P(name, "%zu", pages * KMM_PAGE_SIZE);
	else
		P(name, "automatic (now %zu)", pages * KMM_PAGE_SIZE);
}

static KMM_COLD void emit_params(struct kmm_buf *b)
{
	const struct kmm_params *p = &kmm_params;
	bool fail_from;
	unsigned long long fail = kmm_os_fail_setting(&fail_from);
	static const char *const memcheck[] = { "on", "exact", "off" };
	kmm_buf_puts(b, "parameters\n");
	P("profile", "%s", kmm_profile_name(kmm_options.profile));
	kmm_buf_puts(b, "  [heap]\n");
	P("front", "%s", p->front == KMM_FRONT_SLAB_ ? "slab" : "tcache");
	P("mmap_threshold", "%zu (%s)", p->mmap_threshold, p->no_dyn_threshold ? "fixed" : "automatic");
	P("threshold_rule", "%s", p->threshold_rule == KMM_THRESHOLD_GLIBC ? "glibc" : "cache");
	P("trim_rule", "%s", p->trim_rule == KMM_TRIM_GLIBC ? "glibc" : "decay");
	if (p->trim_threshold == SIZE_MAX)
		P("trim_threshold", "%s", "-1 (never)");
	else
		P("trim_threshold", "%zu", p->trim_threshold);
	P("top_pad", "%zu", p->top_pad);
	P("mmap_max", "%d", p->n_mmaps_max);
	P("mxfast", "%zu", p->max_fast);
	P("tcache_count", "%zu", p->tcache_count);
	P("tcache_max", "%zu", p->tcache_max_bytes);
	P("tcache_unsorted_limit", "%zu", p->tcache_unsorted_limit);
	if (p->arena_max != 0)
		P("arena_max", "%zu", p->arena_max);
	else
		P("arena_max", "0 (no limit of its own: arena_test, then 8 x %d CPUs)", kmm_os_ncpus());
	P("arena_test", "%zu", p->arena_test);
	P("perturb", "%d", p->perturb_byte);
	P("zero_guard", "%s", on_off(p->zero_guard));
	kmm_buf_puts(b, "  [kernel side]\n");
	P("vmalloc_frames", "%s", on_off(kmm_vmalloc_params.frames));
	P("populate", "%s", on_off(kmm_vmalloc_params.populate));
	P("vmalloc_space", "%zu", kmm_vmalloc_params.space_size);
	if (kmm_vmalloc_params.lazy_max != 0)
		P("vmalloc_lazy_max", "%zu", kmm_vmalloc_params.lazy_max);
	else
		P("vmalloc_lazy_max", "%s", "automatic");
	watermark(b, "watermark_high", kmm_zone.wmark_high);
	watermark(b, "watermark_low", kmm_zone.wmark_low);
	watermark(b, "watermark_min", kmm_zone.wmark_min);
	P("slab_random", "%s", on_off(kmm_slab_freelist_random));
	P("page_shuffle", "%s", on_off(kmm_page_shuffle));
	P("slab_debug", "%s", on_off(kmm_slab_debug));
	kmm_buf_puts(b, "  [debugging & hardening]\n");
	P("poison", "%s", on_off(p->poison));
	P("init_on_alloc", "%s", on_off(p->init_on_alloc));
	P("init_on_free", "%s", on_off(p->init_on_free));
	P("memcheck", "%s (under valgrind only)",
	  p->memcheck >= KMM_MEMCHECK_ON && p->memcheck <= KMM_MEMCHECK_OFF ? memcheck[p->memcheck] : "?");
	if (p->guard_min == SIZE_MAX)
		P("guard", "%s", "off");
	else
		P("guard", "%zu", p->guard_min);
	P("redzone", "%s", on_off(p->redzone));
	P("quarantine", "%zu", p->quarantine);
	P("fail", "%llu", fail_from ? 0ull : fail);
	P("fail_from", "%llu", fail_from ? fail : 0ull);
	kmm_buf_puts(b, "  [profiling]\n");
	if (kmm_sample_period() != 0)
		P("sample", "%zu", kmm_sample_period());
	else
		P("sample", "%s", "0 (off)");
}

/* The heap's summary, then the sampled profile's counters (if sampling). */
static KMM_COLD void emit_summary(struct kmm_buf *b)
{
	kmm_heap_report_summary(b);
	kmm_sample_report(b);
}

#undef P

static void kb(struct kmm_buf *b, const char *key, unsigned long long bytes)
{
	kmm_buf_printf(b, "%-18s%10llu kB\n", key, bytes >> 10);
}

/* /proc/meminfo for kmm: where the process's memory is, heap and kernel
 * side together. */
static KMM_COLD void emit_meminfo(struct kmm_buf *b)
{
	struct mallinfo2 mi = kmm_heap_mallinfo2_arenas();
	struct kmm_uslab_stats us;
	struct kmm_vmalloc_stats vs;
	struct kmm_region_totals rt;
	unsigned long minflt, majflt;
	struct kmm_zone *z = &kmm_zone;
	kmm_vmalloc_stats(&vs);
	kmm_uslab_stats(&us);
	kmm_region_totals(&rt);
	kmm_os_faults(&minflt, &majflt);

	kmm_buf_puts(b, "meminfo\n");
	kb(b, "HeapTotal:", mi.arena);
	kb(b, "HeapInUse:", mi.uordblks);
	kb(b, "HeapFree:", mi.fordblks);
	kb(b, "HeapTop:", mi.keepcost);
	kb(b, "SlabFront:", us.bytes);
	kb(b, "SlabFrontInUse:", us.inuse_bytes);
	kb(b, "SlabFrontFree:", us.bytes - us.inuse_bytes);
	kb(b, "SlabFrontTouched:", us.resident);
	kb(b, "SlabFrontGivenBack:", us.released);
	kb(b, "BigBlocks:", mi.hblkhd);
	kmm_buf_printf(b, "%-18s%10zu\n", "BigBlockCount:", mi.hblks);
	kb(b, "VmallocTotal:", vs.space_bytes);
	kb(b, "VmallocUsed:", vs.busy_bytes);
	kb(b, "VmallocLazy:", vs.lazy_bytes);
	kb(b, "VmallocFree:", vs.free_bytes);
	kb(b, "VmallocCache:", vs.cache_budget);
	kb(b, "VmallocLazyMax:", vs.lazy_limit);
	kb(b, "Slab:", kmm_slab_total_bytes());
	kb(b, "BuddyTotal:", (unsigned long long)z->managed_pages * KMM_PAGE_SIZE);
	kb(b, "BuddyFree:", (unsigned long long)z->free_pages * KMM_PAGE_SIZE);
	kb(b, "BuddyFreeResident:", (unsigned long long)z->dirty_free_pages * KMM_PAGE_SIZE);
	kb(b, "BuddyHigh:", (unsigned long long)z->wmark_high * KMM_PAGE_SIZE);
	kb(b, "BuddyReleased:", (unsigned long long)z->st.released_pages * KMM_PAGE_SIZE);
	kmm_buf_printf(b, "%-18s%10zu\n", "Sections:", z->nr_sections);
	kmm_buf_printf(b, "%-18s%10llu (reused %llu, grown in place %llu, moved %llu)\n", "VmallocAllocs:",
		       (unsigned long long)vs.allocs, (unsigned long long)vs.reused,
		       (unsigned long long)vs.grown_in_place, (unsigned long long)vs.moved);
	kmm_buf_printf(b, "%-18s%10llu (purges %llu)\n", "VmallocPurged:", (unsigned long long)vs.purged_areas,
		       (unsigned long long)vs.purges);
	kmm_buf_printf(b, "%-18s%10llu (merged %llu, grown into lazy %llu, moved into lazy %llu)\n", "VmallocSplit:",
		       (unsigned long long)vs.split_areas, (unsigned long long)vs.merged_areas,
		       (unsigned long long)vs.grown_into_lazy, (unsigned long long)vs.moved_into_lazy);
	kb(b, "CallocAdvised:", vs.zero_advised * KMM_PAGE_SIZE);
	kb(b, "FramesFresh:", vs.frames_fresh * KMM_PAGE_SIZE);
	kb(b, "FramesRecycled:", vs.frames_recycled * KMM_PAGE_SIZE);
	kmm_buf_printf(b, "%-18s%10lu\n%-18s%10lu\n", "MinorFaults:", minflt, "MajorFaults:", majflt);
}

/* /proc/slabinfo: kmm's own caches, then the slab front end's classes */
static KMM_COLD void emit_slabinfo(struct kmm_buf *b)
{
	kmm_slab_report_slabinfo(b);
	kmm_uslab_report_slabinfo(b);
}

/* The invariant checkers (kmm_check's), violations described on fd 2.
 * Not part of "all": it is a test, not a view. */
static KMM_COLD void emit_check(struct kmm_buf *b)
{
	int h = kmm_heap_check(1), t = kmm_thread_check(1), k = kmm_kernel_check(1);
	kmm_buf_printf(b, "check: %d violations (heap %d, threads %d, kernel %d)\n", h + t + k, h, t, k);
	if (kmm_os_fail_calls() != 0)   /* (counted only under fail=, os.h) */
		kmm_buf_printf(b, "fail: %llu calls that may need memory\n", (unsigned long long)kmm_os_fail_calls());
}

static const struct section sections[] = {
	{ "summary",      NULL, emit_summary },
	{ "meminfo",      NULL, emit_meminfo },
	{ "buddyinfo",    "buddyinfo (free blocks of 4 KiB << order, orders 0..10)\n", kmm_buddy_report_buddyinfo },
	{ "pagetypeinfo", "pagetypeinfo\n", kmm_buddy_report_pagetypeinfo },
	{ "zoneinfo",     "zoneinfo\n", kmm_buddy_report_zoneinfo },
	{ "slabinfo",     NULL, emit_slabinfo },
	{ "vmallocinfo",  "vmallocinfo\n", kmm_vmalloc_report_vmallocinfo },
	{ "maps",         "maps\n", kmm_region_report_maps },
	{ "malloc_info",  NULL, kmm_heap_report_xml },
	{ "params",       NULL, emit_params },
	{ "check",        NULL, emit_check },   /* (last: "all" stops before it) */
};

static KMM_COLD void emit(struct kmm_buf *b, const struct section *s)
{
	if (s->title != NULL)
		kmm_buf_puts(b, s->title);
	s->emit(b);
}

static const struct section *find(const char *name, size_t len)
{
	for (size_t i = 0; i < KMM_ARRAY_SIZE(sections); i++)
		if (strlen(sections[i].name) == len && memcmp(sections[i].name, name, len) == 0)
			return &sections[i];
	return NULL;
}

static KMM_COLD int list_valid(const char *list)
{
	for (const char *p = list; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > 0 && kmm_report_section_bits(p, len) == 0) {
			errno = EINVAL;
			return 0;
		}
		p += len + (end ? 1 : 0);
	}
	return 1;
}

static KMM_COLD void emit_list(struct kmm_buf *b, const char *list)
{
	for (const char *p = list; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == 3 && memcmp(p, "all", 3) == 0) {
			for (size_t i = 0; i + 1 < KMM_ARRAY_SIZE(sections); i++)
				emit(b, &sections[i]);
		} else if (len > 0) {
			emit(b, find(p, len));
		}
		p += len + (end ? 1 : 0);
	}
}

_Static_assert(KMM_ARRAY_SIZE(sections) <= 32, "one bit per section in an unsigned");

KMM_COLD unsigned kmm_report_section_bits(const char *name, size_t len)
{
	if (len == 3 && memcmp(name, "all", 3) == 0)
		return (1u << (KMM_ARRAY_SIZE(sections) - 1)) - 1;   /* all but check, the last */
	const struct section *s = find(name, len);
	return s != NULL ? 1u << (s - sections) : 0;
}

KMM_COLD const char *kmm_report_known_sections(void)
{
	return "summary, meminfo, buddyinfo, pagetypeinfo, zoneinfo, slabinfo, vmallocinfo, maps, "
	       "malloc_info, params, all, check";
}

KMM_COLD size_t kmm_report_render(const char *name, char *dst, size_t cap, bool *cut)
{
	struct kmm_buf b;
	const struct section *s = find(name, strlen(name));
	*cut = false;
	if (s == NULL || cap == 0)
		return 0;
	kmm_buf_init(&b, dst, cap, -1);
	emit(&b, s);
	*cut = b.truncated != 0;
	return b.len;
}

KMM_COLD int kmm_report_sections(int fd, const char *list)
{
	char out[2048];
	struct kmm_buf b;

	if (list == NULL || *list == '\0')
		list = "summary";
	/* validate first: write nothing on error */
	if (!list_valid(list))
		return -1;
	kmm_buf_init(&b, out, sizeof out, fd);
	emit_list(&b, list);
	kmm_buf_flush(&b);
	return 0;
}

/* The exit report goes out in one write(2) when it fits the buffer (a
 * mapping of its own, 1 MiB, reserved without backing): processes that end
 * at the same time and append to one KMM_STATS file then do not mix their
 * lines. */
#define EXIT_BUF ((size_t)1 << 20)

KMM_COLD void kmm_report_exit(int fd, unsigned long long uptime_ns, unsigned list)
{
	char small[2048], comm[64] = "?";
	struct kmm_buf b;
	int cfd = kmm_os_open("/proc/self/comm", O_RDONLY, 0);
	if (cfd >= 0) {
		ssize_t n = kmm_os_read(cfd, comm, sizeof comm - 1);
		kmm_os_close(cfd);
		if (n > 0) {
			comm[n] = '\0';
			char *nl = strchr(comm, '\n');
			if (nl)
				*nl = '\0';
		}
	}
	char *big = kmm_os_map(EXIT_BUF, MAP_NORESERVE);
	if (big != NULL)
		kmm_buf_init(&b, big, EXIT_BUF, fd);
	else
		kmm_buf_init(&b, small, sizeof small, fd);
	kmm_buf_printf(&b, "== kmm %s report: pid %d (%s), %llu.%03llu s ==\n", PACKAGE_VERSION,
		       (int)kmm_os_getpid(), comm, uptime_ns / 1000000000ull,
		       (uptime_ns / 1000000ull) % 1000);
	for (size_t i = 0; i < KMM_ARRAY_SIZE(sections); i++)
		if (list & (1u << i))
			emit(&b, &sections[i]);
	kmm_buf_flush(&b);
	if (big != NULL)
		kmm_os_unmap(big, EXIT_BUF);
}
