/*
 * pprof.h — a streaming writer of pprof profiles (profile.proto, gzipped),
 * shared by the library (the sampled heap profile, KMM_SAMPLE) and the
 * trace reader (kmm trace export --format=pprof).
 *
 * Contract:
 *   - No allocation, no stdio, no system call: every output byte goes
 *     through the caller's sink.  Safe from inside the allocator; the
 *     writer's state (struct kmm_pprof, ~70 KiB) is the caller's to place
 *     (static, mmap'd or on a thread's stack if large enough).
 *   - Streaming: every message of the profile is written as it is given,
 *     in any order (protobuf merges repeated fields), so memory does not
 *     grow with the profile.  Strings are added to the string table as
 *     they are given and named by the index returned; index 0 is "" and
 *     written by kmm_pprof_begin.  The writer does not deduplicate
 *     strings, locations, functions or mappings: the caller gives each id
 *     once.
 *   - The output is a gzip member (RFC 1952) of stored deflate blocks
 *     (RFC 1951 BTYPE=00): valid for gunzip, go tool pprof and every
 *     profile.proto reader, larger than compressed output.
 *   - Errors: a sink that returns nonzero, or a message too large for the
 *     writer's message buffer, makes the writer sticky-failed: further
 *     calls do nothing and kmm_pprof_end returns -1.
 *
 * The field numbers are profile.proto's (github.com/google/pprof,
 * proto/profile.proto): Profile 1 sample_type, 2 sample, 3 mapping,
 * 4 location, 5 function, 6 string_table, 9 time_nanos, 10 duration_nanos,
 * 11 period_type, 12 period, 14 default_sample_type; ValueType 1 type,
 * 2 unit; Sample 1 location_id (packed), 2 value (packed); Mapping 1 id,
 * 2 memory_start, 3 memory_limit, 4 file_offset, 5 filename, 6 build_id,
 * 7 has_functions; Location 1 id, 2 mapping_id, 3 address, 4 line;
 * Line 1 function_id, 2 line; Function 1 id, 2 name, 3 system_name,
 * 4 filename, 5 start_line.
 */
#ifndef KMM_UTIL_PPROF_H
#define KMM_UTIL_PPROF_H

#include <stddef.h>
#include <stdint.h>

/* Where the bytes go: return 0 when all `len` bytes were written. */
typedef int (*kmm_pprof_sink)(void *ctx, const void *buf, size_t len);

#define KMM_PPROF_BLOCK 65535u   /* a stored deflate block's largest size */
#define KMM_PPROF_MSG   4096u    /* largest message (a sample, a location) */

struct kmm_pprof {
	kmm_pprof_sink sink;
	void *ctx;
	int failed;
	uint32_t crc;              /* CRC-32 of the uncompressed bytes */
	uint64_t isize;            /* their count */
	int64_t nstrings;          /* string-table entries written */
	size_t blen;               /* bytes in blk */
	unsigned char blk[KMM_PPROF_BLOCK];
	size_t mlen;               /* bytes in msg (the message being built) */
	unsigned char msg[KMM_PPROF_MSG];
};

/* Start a profile: the gzip header and string 0 (""). */
void kmm_pprof_begin(struct kmm_pprof *pp, kmm_pprof_sink sink, void *ctx);

/* Add a string to the string table; returns its index (for the calls
 * below).  `len` bytes of `s` (no NUL needed). */
int64_t kmm_pprof_string(struct kmm_pprof *pp, const char *s, size_t len);
/* The same for a NUL-terminated string. */
int64_t kmm_pprof_cstring(struct kmm_pprof *pp, const char *s);

/* A sample type (one per value column, in the order of the values of
 * every sample), e.g. ("alloc_space", "bytes"). */
void kmm_pprof_sample_type(struct kmm_pprof *pp, int64_t type, int64_t unit);

/* One sample: its stack (location ids, innermost first) and one value per
 * sample type. */
void kmm_pprof_sample(struct kmm_pprof *pp, const uint64_t *locs, size_t nlocs,
		      const int64_t *values, size_t nvalues);

/* A mapping: [start, limit) of file `filename` (string index) mapped from
 * `offset`; build_id a string index (0: none).  has_functions: the
 * locations in it carry function names. */
void kmm_pprof_mapping(struct kmm_pprof *pp, uint64_t id, uint64_t start,
		       uint64_t limit, uint64_t offset, int64_t filename,
		       int64_t build_id, int has_functions);

/* A location: `address` in mapping `mapping_id` (0: none) and its lines,
 * innermost (inlined) first: function ids and line numbers (0: unknown). */
void kmm_pprof_location(struct kmm_pprof *pp, uint64_t id, uint64_t mapping_id,
			uint64_t address, const uint64_t *function_ids,
			const int64_t *lines, size_t nlines);

/* A function: its name, system name, source file (string indexes; 0: none)
 * and first line (0: unknown). */
void kmm_pprof_function(struct kmm_pprof *pp, uint64_t id, int64_t name,
			int64_t system_name, int64_t filename, int64_t start_line);

/* The profile's time (ns since the epoch), duration (ns), period type
 * (string indexes), period, and default sample type (string index; 0:
 * the last). */
void kmm_pprof_meta(struct kmm_pprof *pp, int64_t time_nanos,
		    int64_t duration_nanos, int64_t period_type,
		    int64_t period_unit, int64_t period,
		    int64_t default_sample_type);

/* Finish: the last block and the gzip trailer.  0 when every byte reached
 * the sink, -1 otherwise. */
int kmm_pprof_end(struct kmm_pprof *pp);

#endif /* KMM_UTIL_PPROF_H */
