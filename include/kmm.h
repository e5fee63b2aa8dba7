/*
 * kmm.h — kmm's public API.
 *
 * libkmm.so is usually used without this header: preloaded
 * (LD_PRELOAD=libkmm.so or `kmm run -- CMD`), it replaces malloc, free and
 * the rest of glibc's malloc ABI in any program.  Linking with it
 * (`pkg-config --libs kmm`) does the same, since the library exports glibc's
 * names.  This header adds the same allocator under kmm_ names, for code that
 * wants to name it explicitly, and kmm's own entry points: statistics,
 * reports, the invariant checker, the leak scanner.  A preloaded program can reach them with
 * dlsym(RTLD_DEFAULT, "kmm_check") and friends.
 */
#ifndef KMM_H
#define KMM_H

#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KMM_VERSION "0.1.0"

/* The malloc family, with glibc's semantics (see docs/api.md). */
void  *kmm_malloc(size_t size);
void   kmm_free(void *ptr);
void  *kmm_calloc(size_t nmemb, size_t size);
void  *kmm_realloc(void *ptr, size_t size);
void  *kmm_reallocarray(void *ptr, size_t nmemb, size_t size);
void  *kmm_memalign(size_t alignment, size_t size);
int    kmm_posix_memalign(void **memptr, size_t alignment, size_t size);
void  *kmm_aligned_alloc(size_t alignment, size_t size);
void  *kmm_valloc(size_t size);
void  *kmm_pvalloc(size_t size);
size_t kmm_malloc_usable_size(void *ptr);
int    kmm_mallopt(int param, int value);
int    kmm_malloc_trim(size_t pad);
struct mallinfo  kmm_mallinfo(void);
struct mallinfo2 kmm_mallinfo2(void);
void   kmm_malloc_stats(void);
int    kmm_malloc_info(int options, FILE *fp);

/* kmm's own mallopt parameters (in addition to M_MXFAST ... M_ARENA_MAX). */
#define KMM_M_TCACHE_COUNT          (-100)
#define KMM_M_TCACHE_MAX            (-101)
#define KMM_M_TCACHE_UNSORTED_LIMIT (-102)
/* Whether freeing a big block raises the mmap threshold: */
#define KMM_M_THRESHOLD_RULE        (-103)
#define KMM_THRESHOLD_RULE_CACHE    0   /* no: kmm caches freed big blocks (default) */
#define KMM_THRESHOLD_RULE_GLIBC    1   /* glibc's dynamic threshold, at free() */
/* What serves small requests (docs/options.md, front=): */
#define KMM_M_FRONT                 (-109)
#define KMM_FRONT_TCACHE            0   /* the tcache and the arena's bins, as glibc */
#define KMM_FRONT_SLAB              1   /* per-thread slabs (profile=kmm) */
/* malloc(0): 1 a unique address no byte of which may be read or written
 * (default), 0 a 16-byte block as glibc's (docs/options.md, zero_guard=): */
#define KMM_M_ZERO_GUARD            (-111)

/* Which mechanism served allocations, as counted in struct kmm_stats. */
enum kmm_served_by {
	KMM_SERVED_TCACHE, KMM_SERVED_FASTBIN, KMM_SERVED_SMALLBIN, KMM_SERVED_UNSORTED,
	KMM_SERVED_REMAINDER, KMM_SERVED_LARGEBIN, KMM_SERVED_BINMAP, KMM_SERVED_TOP,
	KMM_SERVED_SYSMALLOC, KMM_SERVED_MMAP, KMM_SERVED_SLAB, KMM_SERVED_NR
};

/* A snapshot of what kmm did so far in this process. */
struct kmm_stats {
	/* program break (main arena) */
	uint64_t brk_grows, brk_grow_bytes;
	uint64_t brk_trims, brk_trim_bytes;
	/* chunks with their own mapping */
	uint64_t mmaps, munmaps, mremaps, mmap_bytes;
	size_t   mapped_chunks, mapped_bytes;
	size_t   mapped_chunks_peak, mapped_bytes_peak;
	size_t   mmap_threshold, trim_threshold;
	/* the heap: every arena, summed (the peak is the sum of the arenas'
	 * peaks).  heap_in_use counts, as glibc's mallinfo does, the header
	 * of each heap of a further arena: heap_headers bytes of it. */
	size_t   heap_system_bytes, heap_system_peak;
	size_t   heap_in_use, heap_free, heap_top;
	size_t   heap_headers;
	/* per-thread caches, summed over threads */
	uint64_t tcache_hits, tcache_misses;
	uint64_t tcache_free_cached, tcache_free_full;
	/* allocations by serving mechanism, all arenas */
	uint64_t served[KMM_SERVED_NR];
	/* arenas (the main one included) and frees of blocks of another
	 * thread's arena pushed on its remote list */
	size_t   arenas;
	uint64_t remote_frees;
	/* the slab front end (front=slab, the default): objects it handed
	 * out (also served[KMM_SERVED_SLAB]), frees of objects of other
	 * threads' slabs (pushed on the slab's remote list), its slabs now,
	 * their bytes, the bytes of their objects not free (objects waiting
	 * on a thread's list or a remote list count as not free) */
	uint64_t slab_allocs, slab_remote_frees;
	size_t   slabs, slab_bytes, slab_in_use;
};

/* Fill *st; returns 0.  In a fork child that kmm had to rescue (a fork
 * from a signal handler that interrupted kmm: its heap is never read
 * again), kmm_stats_get, kmm_report and kmm_leak_check return -1 with
 * errno = EAGAIN, and kmm_check returns 0. */
int kmm_stats_get(struct kmm_stats *st);

/* Write reports to file descriptor fd.  `sections` is a comma-separated
 * list of: "summary" (the heap side: break, big blocks, tcache, bins),
 * "meminfo" (where the memory is, heap and kernel side), "buddyinfo",
 * "pagetypeinfo", "zoneinfo" (the buddy allocator), "slabinfo" (the slab
 * caches), "vmallocinfo" (the vmalloc areas), "maps" (every region kmm
 * mapped, resident pages, page faults), "malloc_info" (glibc's XML),
 * "params" (every KMM_OPTIONS option with its value now), "all" (all of
 * those), or "check" (runs the invariant checkers, as kmm_check(1)).
 * `kmm run --stats` prints
 * summary,meminfo,buddyinfo,slabinfo,vmallocinfo,maps.  Returns 0, or -1
 * with errno = EINVAL for an unknown section (nothing is written). */
int kmm_report(int fd, const char *sections);

/* Run every invariant checker over kmm's structures.  Returns the number of
 * violations found (0: consistent); with verbose != 0 each is described on
 * standard error.  Safe to call at any time from any thread. */
int kmm_check(int verbose);

/* The leak scanner (docs/hardening.md, "The leak scanner"), in the style
 * of the kernel's kmemleak.  A process started with KMM_LEAKCHECK=1 in its
 * environment has every block it allocates tracked; this scans now: the
 * data and bss of every loaded object, every thread's stack and TLS and
 * the caller's registers are searched for pointers (to the start or the
 * inside of a block), then the blocks so found, until nothing new is
 * found.  Writes a report to fd (one paragraph per unreferenced block: its
 * address, size, allocation site and first bytes, then a summary line), or
 * nothing if fd is -1.  Returns the number of unreferenced blocks; -1
 * with errno = ENOSYS if tracking is off (it cannot start later: blocks
 * allocated before would be unknown), ENOMEM if the scan's index could not
 * be allocated.  Other threads keep running, but wait in malloc-family
 * calls while the scan looks at the blocks. */
int kmm_leak_check(int fd);

/* The sampled heap profile (KMM_SAMPLE=BYTES; docs/profiling.md): write
 * it now, as a gzipped pprof profile (profile.proto: alloc_objects,
 * alloc_space, inuse_objects, inuse_space), to `path`, or with path NULL
 * to KMM_PROFILE's file (default kmm-profile.PID.pb.gz in the directory
 * the process started in); an existing file is replaced.  Returns 0, or -1
 * with errno = ENOTSUP if the process does not sample (KMM_SAMPLE unset or
 * 0), EAGAIN in a fork child kmm had to rescue, or the error of opening or
 * writing the file. */
int kmm_profile_dump(const char *path);

/* "0.1.0" */
const char *kmm_version(void);

#ifdef __cplusplus
}
#endif

#endif /* KMM_H */
