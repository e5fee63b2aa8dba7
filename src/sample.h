/*
 * sample.h — the sampled heap profile (KMM_SAMPLE=BYTES): byte-weighted
 * Poisson sampling of allocations, as tcmalloc and jemalloc do, written as
 * a gzipped pprof profile (profile.proto) at exit (KMM_PROFILE=FILE,
 * default kmm-profile.PID.pb.gz in the start-up directory), on
 * kmm_profile_dump() and on a signal (KMM_PROFILE_SIGNAL).  See
 * docs/profiling.md, "Sampled profiles".
 *
 * Contract:
 *   - Each byte malloc, calloc, realloc (an allocation of its new size)
 *     or operator new hands out has probability 1/BYTES of being sampled:
 *     every thread counts down an exponentially distributed number of
 *     bytes (mean BYTES; its own xorshift generator, no libc rand, no
 *     libm) and samples the call that crosses zero.  A sample of S bytes
 *     stands for S / (1 - exp(-S/BYTES)) bytes and 1 / (1 - exp(-S/BYTES))
 *     blocks; it records its backtrace (backtrace.h), and its free.  The
 *     heap sees the sampler only through its hook table (heap.h,
 *     "sampling"), and serves a sampled call as a chunk with the M bit
 *     set (chunk.h) or a big block, whose frees take the slow path.
 *   - memalign and its kin are sampled too (an aligned chunk with the M
 *     bit); a sampled block that realloc resizes counts as freed.  An observed process (trace log, leak
 *     check, debug options, memcheck) does not sample.
 *   - No allocation: the tables are one anonymous mapping made at start,
 *     of fixed size (KMM_SAMPLE_STACKS distinct stacks, KMM_SAMPLE_LIVE
 *     live samples).  When full, samples are still counted (under one
 *     "dropped" stack, or not in use) and the drops are reported at exit;
 *     malloc itself is never affected.
 *   - Thread-safe: stacks are claimed by compare-and-swap and counted by
 *     atomic additions, live samples sit in 16 shards with a spin lock
 *     each; one lock (util/lock.h SAMPLE) serialises the dumps.  Fork-safe:
 *     the fork handlers take them all; a child keeps its parent's samples
 *     (its heap is a copy of the parent's), reseeds each thread's
 *     generator and writes its own file at exit: kmm-profile.CHILDPID.pb.gz,
 *     or FILE.CHILDPID when KMM_PROFILE=FILE.
 *   - The signal handler is async-signal-safe: it tries the dump lock and,
 *     if it gets it, writes the profile itself with raw system calls
 *     (open, read of /proc/self/maps, write, close: os.h) from the atomic
 *     counters; if the lock is busy (the signal interrupted a dump), the
 *     profile is written at the next sampled call or free of a sample.
 */
#ifndef KMM_SAMPLE_H
#define KMM_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kmm_buf;

#define KMM_SAMPLE_DEPTH  32      /* frames kept per sample */
#define KMM_SAMPLE_STACKS 4096    /* distinct stacks */
#define KMM_SAMPLE_LIVE   16384   /* samples live at once (8 GiB at 512k) */

/* The mean bytes between samples (0: off); set from the options. */
int    kmm_sample_set_period(int param, long long bytes);
size_t kmm_sample_period(void);

/* Whether sampling is on (the period is set). */
bool kmm_sample_on(void);

/* Start sampling if the period is set: the tables, the heap's hook, the
 * calling thread's countdown.  From kmm's initialisation (again from the
 * constructor when the options were read late); idempotent. */
void kmm_sample_start(void);
/* From the library constructor: install the dump signal's handler
 * (KMM_PROFILE_SIGNAL) when sampling. */
void kmm_sample_constructor(void);
/* From the destructor: the profile at exit; warnings about drops. */
void kmm_sample_exit(void);

/* Write the profile to path (NULL: KMM_PROFILE's file or the default).
 * 0, or -1 with errno (ENOTSUP: sampling is off; open/write errors). */
int kmm_sample_dump(const char *path);

/* Counters, in the estimated units (bytes, blocks) of the profile. */
struct kmm_sample_totals {
	uint64_t samples, frees;               /* sampled calls, their frees seen */
	uint64_t alloc_objects, alloc_bytes;   /* estimated allocated */
	uint64_t inuse_objects, inuse_bytes;   /* estimated live now */
	uint64_t stacks, live;                 /* table entries in use */
	uint64_t dropped_stacks, dropped_live; /* samples without their stack / free */
	uint64_t dumps;                        /* profiles written */
};
void kmm_sample_totals(struct kmm_sample_totals *t);
/* The "sampled heap profile" lines of the summary report. */
void kmm_sample_report(struct kmm_buf *b);

/* Fork handlers (init.c): the lock taken, released, reset. */
void kmm_sample_fork_prepare(void);
void kmm_sample_fork_parent(void);
void kmm_sample_fork_child(bool all_locks);

#endif /* KMM_SAMPLE_H */
