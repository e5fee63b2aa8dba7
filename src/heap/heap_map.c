/*
 * heap_map.c — the bitmap of arena heaps (one bit per 64 MiB of address
 * space: is a heap there?), read by free() to find a chunk's arena; see
 * arena_heap.h.
 *
 * Alone in its file, and this file last in the link, so that the map's
 * 256 KiB lie after all of kmm's other zero-initialised data: only the map
 * pages for the addresses in use ever become resident, and the few KiB of
 * variables every program writes stay on pages next to each other instead
 * of on both sides of the map (each side's pages counting in the RSS).
 */
#include "config.h"

#include "arena_heap.h"

uint64_t kmm_heap_map[KMM_HEAP_MAP_WORDS];
