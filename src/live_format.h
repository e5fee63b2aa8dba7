/*
 * live_format.h — the layout of the live view's shared-memory segment,
 * /dev/shm/kmm.PID (KMM_LIVE=1: src/live.c writes it; tools/live/kmm-live.c,
 * behind `kmm cat` and `kmm top`, reads it).
 *
 * Shared by the library and the reader, so self-contained: C11 and
 * <stdint.h> only, fixed-width fields, no pointers, offsets from the start
 * of the segment.  Any change to the layout bumps KMM_LIVE_VERSION; a
 * reader refuses another version with a one-line message.
 *
 * The segment: one struct kmm_live_header, then at text_off (page aligned) the rendered
 * report sections (text[i].off/len, relative to text_off), KMM_LIVE_TEXT_CAP
 * bytes at most.  The numbers (struct kmm_live_counters, slabinfo's rows
 * included) are what `kmm top` sorts and shows; the text is what `kmm cat`
 * prints, rendered by the same code as the --stats report (src/report.c),
 * so the two cannot differ.
 *
 * Consistency (a seqlock): the writer makes seq odd, issues a release
 * fence, writes the counters and text, issues a release fence and makes
 * seq even (seq / 2 is the number of publications).  A reader loads seq
 * with acquire, retries while it is odd, copies the segment, issues an
 * acquire fence and loads seq again: equal means the copy is one
 * publication.  Besides, the counters start and end with check_a and
 * check_b, which the writer sets to the same value each time: a copy
 * whose two differ is torn (the reader says so; the tests look for it).
 */
#ifndef KMM_LIVE_FORMAT_H
#define KMM_LIVE_FORMAT_H

#include <stdint.h>

#define KMM_LIVE_MAGIC    0x004556494c4d4d4bull   /* "KMMLIVE\0" read as a little-endian uint64_t */
#define KMM_LIVE_VERSION  1u
#define KMM_LIVE_PREFIX   "/dev/shm/kmm."          /* + the decimal pid */

#define KMM_LIVE_ORDERS   11u     /* buddy orders 0..10 (KMM_MAX_ORDER) */
#define KMM_LIVE_ARENAS   64u     /* arenas with a row of their own (more: summed in the last) */
#define KMM_LIVE_CACHES   96u     /* slab caches with a row (kmm's own first, then the front end's) */

/* The system calls counted by the OS layer (src/os.c), in this order. */
enum kmm_live_syscall {
	KMM_LIVE_SC_BRK, KMM_LIVE_SC_MMAP, KMM_LIVE_SC_MUNMAP, KMM_LIVE_SC_MREMAP,
	KMM_LIVE_SC_MPROTECT, KMM_LIVE_SC_MADVISE, KMM_LIVE_SC_MINCORE, KMM_LIVE_SC_FUTEX,
	KMM_LIVE_SC_NR
};
#define KMM_LIVE_SYSCALL_NAMES { "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mincore", "futex" }

/* The report sections carried as text, in this order ("all" prints them
 * in this order too: the --stats default report). */
enum kmm_live_section {
	KMM_LIVE_SUMMARY, KMM_LIVE_MEMINFO, KMM_LIVE_BUDDYINFO, KMM_LIVE_SLABINFO,
	KMM_LIVE_VMALLOCINFO, KMM_LIVE_MAPS, KMM_LIVE_SECTIONS
};
#define KMM_LIVE_SECTION_NAMES { "summary", "meminfo", "buddyinfo", "slabinfo", "vmallocinfo", "maps" }

#define KMM_LIVE_TEXT_CAP ((uint64_t)1 << 20)   /* bytes of text at most (longer: cut, marked) */

struct kmm_live_arena {
	uint64_t system, in_use, free;   /* bytes, as the summary's "arenas" rows */
};

struct kmm_live_cache {             /* one slabinfo line */
	char     name[24];               /* NUL-terminated */
	uint64_t active_objs, num_objs, objsize, objperslab, pagesperslab, num_slabs;
};

struct kmm_live_counters {
	uint64_t check_a;                /* == check_b in a consistent copy */
	/* meminfo (bytes) */
	uint64_t heap_total, heap_in_use, heap_free, heap_top;
	uint64_t slab_front, slab_front_in_use;
	uint64_t big_bytes, big_count;
	uint64_t vmalloc_total, vmalloc_used, vmalloc_lazy, vmalloc_free;
	uint64_t slab_bytes;             /* kmm's own caches (kmem_cache, kmalloc-N) */
	uint64_t buddy_total, buddy_free, buddy_free_resident;
	uint64_t minor_faults, major_faults;
	/* buddyinfo: free blocks per order */
	uint64_t buddy_free_blocks[KMM_LIVE_ORDERS];
	/* slabinfo: per cache */
	uint64_t nr_caches;              /* rows used in cache[] */
	uint64_t caches_left_out;        /* caches past KMM_LIVE_CACHES (in the text only) */
	struct kmm_live_cache cache[KMM_LIVE_CACHES];
	/* vmallocinfo summary */
	uint64_t vmalloc_regions, vmalloc_bytes, vmalloc_lazy_regions, vmalloc_lazy_bytes;
	/* arenas */
	uint64_t nr_arenas;              /* rows used in arena[] */
	struct kmm_live_arena arena[KMM_LIVE_ARENAS];
	/* the malloc fronts */
	uint64_t tcache_hits, tcache_misses;
	uint64_t slab_allocs, slabs;
	uint64_t threads;
	/* system calls of the OS layer so far */
	uint64_t syscalls[KMM_LIVE_SC_NR];
	/* live bytes: handed out and not freed (heap in use + slab objects in
	 * use + big blocks); peak: the highest value published */
	uint64_t live_bytes, live_peak;
	uint64_t check_b;
};

struct kmm_live_text {
	uint32_t off, len;               /* relative to text_off */
};

struct kmm_live_header {
	uint64_t magic;                  /* KMM_LIVE_MAGIC */
	uint32_t version;                /* KMM_LIVE_VERSION */
	uint32_t header_size;            /* sizeof(struct kmm_live_header) */
	uint64_t size;                   /* bytes of the segment */
	int32_t  pid;                    /* the writer */
	uint32_t uid;                    /* its real user id */
	uint64_t start_time;             /* its start, clock ticks after boot
					    (/proc/PID/stat field 22): tells a
					    reused pid from the writer */
	uint64_t seq;                    /* the seqlock: odd while writing */
	uint64_t publish_ns;             /* CLOCK_MONOTONIC of the last publication */
	uint64_t start_ns;               /* CLOCK_MONOTONIC when the segment was made */
	uint64_t text_off;               /* where the text starts */
	uint32_t exiting;                /* 1: the last publication, at exit */
	uint32_t pad;
	struct kmm_live_counters c;
	struct kmm_live_text text[KMM_LIVE_SECTIONS];
};

_Static_assert(sizeof(struct kmm_live_arena) == 24, "kmm_live_arena layout");
_Static_assert(sizeof(struct kmm_live_counters) % 8 == 0, "kmm_live_counters layout");
_Static_assert(sizeof(struct kmm_live_header) % 8 == 0, "kmm_live_header layout");
_Static_assert(sizeof(struct kmm_live_cache) == 72, "kmm_live_cache layout");
_Static_assert(sizeof(struct kmm_live_header) < 65536, "the header is small: the text starts on the page after it");
_Static_assert(sizeof(uint64_t) == 8, "64-bit sequence, lock-free on the supported targets");

#endif /* KMM_LIVE_FORMAT_H */
