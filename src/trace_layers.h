/*
 * trace_layers.h — the heap's layers for the trace log: where its free
 * memory sits (tcaches, fastbins, bins, top chunks, remote lists, the slab
 * front end's free slots, the buddy allocator's free pages, the vmalloc
 * lazy-free cache), recorded as layer events (trace_format.h,
 * KMM_TR_LAYER; docs/trace.md).  The log's other events say where each
 * free went, not what merging, splitting, consolidation and trimming did
 * afterwards; these samples say what the layers held.
 */
#ifndef KMM_TRACE_LAYERS_H
#define KMM_TRACE_LAYERS_H

#include <stdint.h>

/* Record one sample, numbered `sample` (one layer event per layer).
 * Takes each arena's lock, the thread list's, the slab front end's, the
 * zone's and vmalloc's in turn: called with no kmm lock held (trace.c
 * calls it after a malloc-family call finished).  Does nothing in a
 * rescued fork child (heap/rescue.h), whose heap is not trusted. */
void kmm_trace_layers_record(uint64_t sample);

#endif
