/*
 * heap.h — the heap side's entry points: what the public kmm_* API
 * (src/api.c) and the preload layer (preload/preload.c) call.  All hidden;
 * malloc and free themselves are the inline fast paths of fastpath.h.
 *
 * Semantics are glibc's, function by function (see docs/api.md); errors are
 * reported as glibc does: NULL with errno = ENOMEM or EINVAL, or for a
 * corrupted heap or an invalid pointer, a one-line "kmm: ..." diagnostic and
 * abort().
 */
#ifndef KMM_HEAP_HEAP_H
#define KMM_HEAP_HEAP_H

#include <malloc.h>
#include <stddef.h>
#include <stdio.h>

#include "../util/compiler.h"

struct kmm_buf;

/* `caller` is the return address of the exported function (for the
 * vmallocinfo report and, later, the trace log). */
void  *kmm_heap_malloc_slow(size_t n, const void *caller);
void   kmm_heap_free_slow(void *mem);
void  *kmm_heap_calloc(size_t n, size_t size, const void *caller);
void  *kmm_heap_realloc(void *mem, size_t n, const void *caller);
void  *kmm_heap_reallocarray(void *mem, size_t n, size_t size, const void *caller);
void  *kmm_heap_memalign(size_t alignment, size_t n, const void *caller);
int    kmm_heap_posix_memalign(void **out, size_t alignment, size_t n, const void *caller);
void  *kmm_heap_aligned_alloc(size_t alignment, size_t n, const void *caller);
void  *kmm_heap_valloc(size_t n, const void *caller);
void  *kmm_heap_pvalloc(size_t n, const void *caller);
size_t kmm_heap_usable_size(const void *mem);
int    kmm_heap_mallopt(int param, int value);
int    kmm_heap_trim(size_t pad);
struct mallinfo2 kmm_heap_mallinfo2(void);
/* Every arena's counters added up, and the sum of their peak system bytes. */
struct kmm_arena_stats;
void kmm_heap_arena_stats_total(struct kmm_arena_stats *sum, size_t *max_system_mem);
/* Bytes of the headers of the further arenas' heaps. */
size_t kmm_heap_headers_total(void);
struct mallinfo  kmm_heap_mallinfo(void);
void   kmm_heap_malloc_stats(void);
int    kmm_heap_malloc_info(int options, FILE *fp);

/* Reports (stats.c): the human-readable summary kmm run --stats prints,
 * and glibc's malloc_info XML. */
void   kmm_heap_report_summary(struct kmm_buf *b);
void   kmm_heap_report_xml(struct kmm_buf *b);

/* Invariant checker (check.c): walks every segment, bin, fastbin and
 * tcache of the heap and checks them against each other.  Returns the
 * number of violations, each described on fd 2 if `verbose`. */
int    kmm_heap_check(int verbose);

#endif /* KMM_HEAP_HEAP_H */
