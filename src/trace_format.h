/*
 * trace_format.h — the binary format of the allocation trace log, version 1:
 * the one definition of it in code.  docs/trace.md describes it in prose
 * (tables of the same offsets, the meaning of every field): change both
 * together.  The _Static_asserts at the end pin the layout to the tables.
 *
 * Included by the writer (src/trace.c, through trace.h), the reader
 * (tools/trace/, kmm-trace) and the test generator (tests/progs/tracegen.c).
 * The reader and tracegen are plain programs built without kmm, so this
 * header is self-contained: C11 and <stddef.h>/<stdint.h> only, nothing of
 * kmm's.
 *
 * All integers in the file are little-endian.  The structs below have the
 * layout of the records in the file on a little-endian machine, with no
 * padding (asserted below): the writer copies them out as they are; the
 * reader and tracegen read and write the bytes at the offsetof() of each
 * field, so they work on either byte order.
 *
 *   file header (64 bytes)
 *   block header (16 bytes) + payload      } repeated to the end of the file
 *     events block: event records (56 bytes + 8 per backtrace frame)
 *     maps block:   a piece of /proc/self/maps
 *     end block:    struct kmm_trace_end
 *     info block:   "key=value\n" lines
 *     exec block:   "key=value\n" lines (file=, exe=): the successor's log
 *
 * A reader skips blocks of kinds it does not know: a new kind keeps the
 * version (docs/trace.md, "Compatibility").
 */
#ifndef KMM_TRACE_FORMAT_H
#define KMM_TRACE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define KMM_TRACE_VERSION 1

/* ---- file header ---------------------------------------------------------- */

#define KMM_TRACE_MAGIC "KMMTRACE" /* the first 8 bytes of a log (no NUL) */
#define KMM_TRACE_MAGIC_LEN 8

struct kmm_trace_file_header {
	char magic[KMM_TRACE_MAGIC_LEN]; /* KMM_TRACE_MAGIC */
	uint32_t version;                /* KMM_TRACE_VERSION */
	uint32_t header_size;            /* sizeof(struct kmm_trace_file_header) */
	uint32_t pid;
	uint32_t ppid;                   /* the parent, if forked while tracing, else 0 */
	uint32_t depth;                  /* backtrace frames asked for, 0 = none */
	uint32_t page_size;
	uint64_t start_mono;             /* CLOCK_MONOTONIC, ns: event times count from it */
	uint64_t start_real;             /* CLOCK_REALTIME, ns */
	uint64_t first_seq;              /* the sequence number of this process's first event */
	uint64_t reserved;               /* 0 */
};

/* ---- blocks ------------------------------------------------------------------- */

#define KMM_TRACE_BLOCK_MAGIC "KMMB"       /* the first 4 bytes of a block header */
#define KMM_TRACE_BLOCK_MAGIC_LEN 4
#define KMM_TRACE_BLOCK_MAGIC_U32 0x424d4d4bu /* the same, as a little-endian u32 */

struct kmm_trace_block_header {
	uint32_t magic;    /* KMM_TRACE_BLOCK_MAGIC */
	uint16_t kind;     /* enum kmm_trace_block_kind */
	uint16_t reserved; /* 0 */
	uint32_t tid;      /* the writer's thread id */
	uint32_t size;     /* payload bytes after this header */
};

enum kmm_trace_block_kind {
	KMM_TB_EVENTS = 1, /* event records of one thread */
	KMM_TB_MAPS = 2,   /* a piece of the text of /proc/self/maps */
	KMM_TB_END = 3,    /* struct kmm_trace_end: written once, at normal exit */
	KMM_TB_INFO = 4,   /* text, key=value lines: exe=, cmdline= */
	KMM_TB_EXEC = 5,   /* text, key=value lines: file=, exe=: this process exec'd,
			    * and its new image's log is file= (written by the new
			    * image, into this log, when its trace starts) */
};

/* The payload of an end block. */
struct kmm_trace_end {
	uint64_t events;   /* events written before it */
	uint64_t last_seq; /* the last sequence number taken */
};

/* ---- events ------------------------------------------------------------------- */

/* An event record (one event), followed by `nframes` u64 return addresses (innermost
 * first).  What a, b, c, d, aux and path hold depends on the type:
 * docs/trace.md, the table of event types. */
struct kmm_trace_record {
	uint64_t seq;     /* global sequence number */
	uint64_t time;    /* ns since the header's start_mono */
	uint8_t type;     /* enum kmm_trace_type */
	uint8_t path;     /* enum kmm_trace_path, or 0 */
	uint16_t nframes; /* backtrace frames after the record */
	uint32_t aux;
	uint64_t a, b, c, d;
};

#define KMM_TRACE_FRAME_SIZE 8 /* one backtrace frame: a u64 */

/* Event types. */
enum kmm_trace_type {
	/* malloc-family calls */
	KMM_TR_MALLOC = 1,
	KMM_TR_CALLOC = 2,
	KMM_TR_REALLOC = 3,
	KMM_TR_FREE = 4,
	KMM_TR_MEMALIGN = 5,
	/* system calls kmm made */
	KMM_TR_BRK = 16,
	KMM_TR_MMAP = 17,
	KMM_TR_MUNMAP = 18,
	KMM_TR_MPROTECT = 19,
	KMM_TR_MADVISE = 20,
	KMM_TR_MREMAP = 21,
	/* the regions of the fault-in model */
	KMM_TR_REGION_ADD = 32,
	KMM_TR_REGION_UPDATE = 33,
	KMM_TR_REGION_DEL = 34,
	KMM_TR_POPULATE = 35,
	/* kmm's own memory: slab objects and vmalloc areas */
	KMM_TR_SLAB_ALLOC = 48,
	KMM_TR_SLAB_FREE = 49,
	KMM_TR_VMALLOC = 50,
	KMM_TR_VFREE = 51,
	KMM_TR_VREALLOC = 52,
	/* threads and processes */
	KMM_TR_THREAD_START = 64,
	KMM_TR_THREAD_EXIT = 65,
	KMM_TR_FORK = 66,
	/* the process's memory as the kernel counts it (/proc/self/statm) */
	KMM_TR_RSS = 80,
	/* the free memory of one layer of the heap (enum kmm_trace_layer) */
	KMM_TR_LAYER = 81,
	KMM_TR_LAST = KMM_TR_LAYER /* the highest type */
};

/* A layer sample: one layer event per layer, written together (after a
 * malloc-family call, with the rss samples), all with the sample's number
 * in c.  aux names the layer; a is its bytes, b its blocks. */
enum kmm_trace_layer {
	KMM_TL_TCACHE = 1,         /* chunks in the threads' tcaches */
	KMM_TL_FASTBINS = 2,
	KMM_TL_UNSORTED = 3,       /* the unsorted bin */
	KMM_TL_SMALLBINS = 4,
	KMM_TL_LARGEBINS = 5,
	KMM_TL_TOP = 6,            /* the top chunks (blocks: arenas with one) */
	KMM_TL_REMOTE = 7,         /* chunks on the arenas' remote-free lists */
	KMM_TL_SLAB_FREE = 8,      /* free object slots in the slab front end's slabs */
	KMM_TL_BUDDY_FREE = 9,     /* the buddy allocator's free pages (blocks: pages) */
	KMM_TL_BUDDY_RESIDENT = 10,/* ... of them still resident (blocks: pages) */
	KMM_TL_VMALLOC_LAZY = 11,  /* areas in the vmalloc lazy-free cache */
	KMM_TL_ARENAS = 12,        /* the arenas' bytes from the OS (blocks: arenas) */
	KMM_TL_NR                  /* one more than the highest layer */
};

/* Event paths: for a malloc-family call the path that served it, for a
 * free where the block went, for a vmalloc whether its area is new. */
enum kmm_trace_path {
	KMM_TP_NONE = 0,
	KMM_TP_TCACHE = 1,
	KMM_TP_FASTBIN = 2,
	KMM_TP_SMALLBIN = 3,
	KMM_TP_UNSORTED = 4,
	KMM_TP_REMAINDER = 5,
	KMM_TP_LARGEBIN = 6,
	KMM_TP_BINMAP = 7,
	KMM_TP_TOP = 8,
	KMM_TP_BRK = 9,
	KMM_TP_ARENA_HEAP = 10,
	KMM_TP_VMALLOC_NEW = 11,
	KMM_TP_VMALLOC_REUSED = 12,
	KMM_TP_IN_PLACE = 13,
	KMM_TP_REMOTE = 14,
	KMM_TP_VFREE = 15,
	KMM_TP_SLAB = 16, /* the slab front end (kernel/uslab.h): served, or freed to its owner's lists */
	KMM_TP_ZERO = 17, /* a zero-size block (heap/zero.h): served or freed */
	KMM_TP_NR /* the number of paths */
};

/* ---- names (docs/trace.md, the "name" columns) ---------------------------------- */

/* Indexed by type; NULL where no type has that number. */
static const char *const kmm_trace_type_names[] = {
	[KMM_TR_MALLOC] = "malloc",
	[KMM_TR_CALLOC] = "calloc",
	[KMM_TR_REALLOC] = "realloc",
	[KMM_TR_FREE] = "free",
	[KMM_TR_MEMALIGN] = "memalign",
	[KMM_TR_BRK] = "brk",
	[KMM_TR_MMAP] = "mmap",
	[KMM_TR_MUNMAP] = "munmap",
	[KMM_TR_MPROTECT] = "mprotect",
	[KMM_TR_MADVISE] = "madvise",
	[KMM_TR_MREMAP] = "mremap",
	[KMM_TR_REGION_ADD] = "region add",
	[KMM_TR_REGION_UPDATE] = "region update",
	[KMM_TR_REGION_DEL] = "region delete",
	[KMM_TR_POPULATE] = "populate",
	[KMM_TR_SLAB_ALLOC] = "slab alloc",
	[KMM_TR_SLAB_FREE] = "slab free",
	[KMM_TR_VMALLOC] = "vmalloc",
	[KMM_TR_VFREE] = "vfree",
	[KMM_TR_VREALLOC] = "vrealloc",
	[KMM_TR_THREAD_START] = "thread start",
	[KMM_TR_THREAD_EXIT] = "thread exit",
	[KMM_TR_FORK] = "fork",
	[KMM_TR_RSS] = "rss",
	[KMM_TR_LAYER] = "layer",
};

/* Indexed by path; NULL for KMM_TP_NONE. */
static const char *const kmm_trace_path_names[] = {
	[KMM_TP_NONE] = NULL,
	[KMM_TP_TCACHE] = "tcache",
	[KMM_TP_FASTBIN] = "fastbin",
	[KMM_TP_SMALLBIN] = "smallbin",
	[KMM_TP_UNSORTED] = "unsorted",
	[KMM_TP_REMAINDER] = "remainder",
	[KMM_TP_LARGEBIN] = "largebin",
	[KMM_TP_BINMAP] = "binmap",
	[KMM_TP_TOP] = "top",
	[KMM_TP_BRK] = "brk",
	[KMM_TP_ARENA_HEAP] = "arena-heap",
	[KMM_TP_VMALLOC_NEW] = "vmalloc-new",
	[KMM_TP_VMALLOC_REUSED] = "vmalloc-reused",
	[KMM_TP_IN_PLACE] = "in-place",
	[KMM_TP_REMOTE] = "remote",
	[KMM_TP_VFREE] = "vfree",
	[KMM_TP_SLAB] = "slab",
	[KMM_TP_ZERO] = "zero",
};

/* Region kinds: field c of the region events (types 32-34), and the kinds
 * of the kernel side's region registry (kernel/region.h), whose maps
 * report prints the same names. */
enum kmm_region_kind {
	KMM_REGION_BRK_HEAP,      /* the main arena's heap over the program break */
	KMM_REGION_HEAP_SEGMENT,  /* a main-arena segment mapped when brk failed */
	KMM_REGION_ARENA_HEAP,    /* a heap of a further arena */
	KMM_REGION_VMALLOC_AREA,  /* a vmalloc area (a big malloc) */
	KMM_REGION_SECTION,       /* a memory section of the buddy allocator */
	KMM_REGION_KIND_NR
};

/* Indexed by layer (docs/trace.md, layer events). */
static const char *const kmm_trace_layer_names[] = {
	[0] = NULL,
	[KMM_TL_TCACHE] = "tcache",
	[KMM_TL_FASTBINS] = "fastbins",
	[KMM_TL_UNSORTED] = "unsorted bin",
	[KMM_TL_SMALLBINS] = "small bins",
	[KMM_TL_LARGEBINS] = "large bins",
	[KMM_TL_TOP] = "top chunk",
	[KMM_TL_REMOTE] = "remote lists",
	[KMM_TL_SLAB_FREE] = "slab free slots",
	[KMM_TL_BUDDY_FREE] = "buddy free",
	[KMM_TL_BUDDY_RESIDENT] = "buddy free resident",
	[KMM_TL_VMALLOC_LAZY] = "vmalloc lazy",
	[KMM_TL_ARENAS] = "arenas",
};

static const char *const kmm_region_kind_names[] = {
	[KMM_REGION_BRK_HEAP] = "brk heap",
	[KMM_REGION_HEAP_SEGMENT] = "heap segment",
	[KMM_REGION_ARENA_HEAP] = "arena heap",
	[KMM_REGION_VMALLOC_AREA] = "vmalloc area",
	[KMM_REGION_SECTION] = "buddy section",
};

/* The name of an event type or path, or NULL for a number that has none. */
static inline const char *kmm_trace_type_name(unsigned type)
{
	return type <= KMM_TR_LAST ? kmm_trace_type_names[type] : NULL;
}

static inline const char *kmm_trace_path_name(unsigned path)
{
	return path < KMM_TP_NR ? kmm_trace_path_names[path] : NULL;
}

static inline const char *kmm_trace_layer_name(unsigned layer)
{
	return layer < KMM_TL_NR ? kmm_trace_layer_names[layer] : NULL;
}

/* What a layer event's b counts. */
static inline const char *kmm_trace_layer_unit(unsigned layer)
{
	switch (layer) {
	case KMM_TL_TOP:
	case KMM_TL_ARENAS: return "arenas";
	case KMM_TL_SLAB_FREE: return "slots";
	case KMM_TL_BUDDY_FREE:
	case KMM_TL_BUDDY_RESIDENT: return "pages";
	case KMM_TL_VMALLOC_LAZY: return "areas";
	default: return "chunks";
	}
}

/* Whether an event type is a malloc-family call (it has a caller, may
 * have a backtrace, and its path is a serving path or where a free went). */
static inline int kmm_trace_is_call(unsigned type)
{
	return type >= KMM_TR_MALLOC && type <= KMM_TR_MEMALIGN;
}

/* ---- the layout, checked against docs/trace.md ---------------------------------- */

#define KMM_TRACE_AT_(type, field, off) \
	_Static_assert(offsetof(type, field) == (off), #type "." #field " is at offset " #off)

_Static_assert(sizeof(struct kmm_trace_file_header) == 64, "the file header is 64 bytes");
KMM_TRACE_AT_(struct kmm_trace_file_header, magic, 0);
KMM_TRACE_AT_(struct kmm_trace_file_header, version, 8);
KMM_TRACE_AT_(struct kmm_trace_file_header, header_size, 12);
KMM_TRACE_AT_(struct kmm_trace_file_header, pid, 16);
KMM_TRACE_AT_(struct kmm_trace_file_header, ppid, 20);
KMM_TRACE_AT_(struct kmm_trace_file_header, depth, 24);
KMM_TRACE_AT_(struct kmm_trace_file_header, page_size, 28);
KMM_TRACE_AT_(struct kmm_trace_file_header, start_mono, 32);
KMM_TRACE_AT_(struct kmm_trace_file_header, start_real, 40);
KMM_TRACE_AT_(struct kmm_trace_file_header, first_seq, 48);
KMM_TRACE_AT_(struct kmm_trace_file_header, reserved, 56);

_Static_assert(sizeof(struct kmm_trace_block_header) == 16, "a block header is 16 bytes");
KMM_TRACE_AT_(struct kmm_trace_block_header, magic, 0);
KMM_TRACE_AT_(struct kmm_trace_block_header, kind, 4);
KMM_TRACE_AT_(struct kmm_trace_block_header, reserved, 6);
KMM_TRACE_AT_(struct kmm_trace_block_header, tid, 8);
KMM_TRACE_AT_(struct kmm_trace_block_header, size, 12);
_Static_assert(sizeof KMM_TRACE_BLOCK_MAGIC - 1 == KMM_TRACE_BLOCK_MAGIC_LEN, "the block magic is 4 bytes");
_Static_assert(sizeof KMM_TRACE_MAGIC - 1 == KMM_TRACE_MAGIC_LEN, "the file magic is 8 bytes");

_Static_assert(sizeof(struct kmm_trace_end) == 16, "an end block's payload is 16 bytes");
KMM_TRACE_AT_(struct kmm_trace_end, events, 0);
KMM_TRACE_AT_(struct kmm_trace_end, last_seq, 8);

_Static_assert(sizeof(struct kmm_trace_record) == 56, "an event record is 56 bytes");
KMM_TRACE_AT_(struct kmm_trace_record, seq, 0);
KMM_TRACE_AT_(struct kmm_trace_record, time, 8);
KMM_TRACE_AT_(struct kmm_trace_record, type, 16);
KMM_TRACE_AT_(struct kmm_trace_record, path, 17);
KMM_TRACE_AT_(struct kmm_trace_record, nframes, 18);
KMM_TRACE_AT_(struct kmm_trace_record, aux, 20);
KMM_TRACE_AT_(struct kmm_trace_record, a, 24);
KMM_TRACE_AT_(struct kmm_trace_record, b, 32);
KMM_TRACE_AT_(struct kmm_trace_record, c, 40);
KMM_TRACE_AT_(struct kmm_trace_record, d, 48);
_Static_assert(KMM_TR_LAST <= UINT8_MAX && KMM_TP_NR - 1 <= UINT8_MAX, "types and paths fit in a byte");

/* One name per path; for the types (numbered with gaps) the table ends at
 * the highest one, so a type added after it without a name fails here. */
_Static_assert(sizeof kmm_trace_type_names / sizeof kmm_trace_type_names[0] == KMM_TR_LAST + 1,
	       "kmm_trace_type_names: one entry per event type");
_Static_assert(sizeof kmm_trace_path_names / sizeof kmm_trace_path_names[0] == KMM_TP_NR,
	       "kmm_trace_path_names: one entry per path");
_Static_assert(sizeof kmm_trace_layer_names / sizeof kmm_trace_layer_names[0] == KMM_TL_NR,
	       "kmm_trace_layer_names: one entry per layer");
_Static_assert(sizeof kmm_region_kind_names / sizeof kmm_region_kind_names[0] == KMM_REGION_KIND_NR,
	       "kmm_region_kind_names: one name per region kind");

#undef KMM_TRACE_AT_

#endif /* KMM_TRACE_FORMAT_H */
