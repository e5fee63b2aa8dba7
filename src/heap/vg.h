/*
 * vg.h — telling valgrind's memcheck about kmm's blocks.
 *
 * Built when configure finds <valgrind/memcheck.h> (Debian's valgrind
 * package; KMM_VALGRIND); switched on at start-up only when the process
 * runs under valgrind (RUNNING_ON_VALGRIND), so that a normal run pays one
 * never-taken branch per header access in the slow paths and nothing in
 * the fast paths.  docs/hardening.md, "Valgrind", says how to run it.
 *
 * Memcheck replaces glibc's malloc with its own; with kmm preloaded and
 * --soname-synonyms=somalloc=nouserintercepts it leaves kmm's alone, and
 * kmm describes its memory with client requests.  Under memcheck every
 * call takes the observed slow paths (src/observe.c), and:
 *
 *   - a block of n bytes is announced with VALGRIND_MALLOCLIKE_BLOCK(mem,
 *     n): memcheck sees exactly the bytes asked for, undefined (malloc) or
 *     defined (calloc).  kmm asks its heap for n + 8 bytes and keeps n in
 *     the last word of the chunk (the trailer); the bytes past n, trailer
 *     included, are no-access, so an overflow by even one byte is an
 *     invalid write.  Requests are served from the heap only (M_MMAP_MAX is
 *     0 under memcheck): vmalloc's records of a big block would otherwise
 *     count for memcheck's leak check as a pointer to it.
 *
 *         chunk:  | prev_size | head |  n bytes (the program's)  | slack | n |
 *                             ^^^^^^ ^                           ^^^^^^^^^^^^^
 *                           no-access mem                          no-access
 *
 *   - every chunk header word (head) is no-access: kmm's own accesses go
 *     through chunk.h's head accessors, which open the word for the one
 *     access (kmm_vg_head_get/set).  A program that overflows into the next
 *     chunk's header gets an invalid write.  Where kmm first writes its free
 *     list words into memory (fd/bk, the foot, tcache and remote links) it
 *     makes the words addressable (KMM_VG_WRITABLE): they may lie where the
 *     header of a chunk merged away used to be.
 *
 *   - free: VALGRIND_FREELIKE_BLOCK (the block becomes no-access), then the
 *     block waits in a quarantine until 20 MB of later frees pushed it out,
 *     as memcheck's own --freelist-vol does; only then does kmm take it
 *     back (its bytes marked undefined: old contents are never reported as
 *     pointers by the leak check).  A use after free within those 20 MB is
 *     an invalid read or write.  A free memcheck rejects (double free,
 *     never allocated) is reported by memcheck and otherwise ignored, as
 *     memcheck's own free does.
 *
 *   - realloc: in place when the new size still fits the chunk
 *     (VALGRIND_RESIZEINPLACE_BLOCK), otherwise a new block, a copy of the
 *     program's bytes (their definedness travels with them) and a free.
 *
 * Where: this header and vg.c, the heap's part (whether memcheck runs, the
 * header accessors); src/memcheck.[ch], the observed mode's (announcing
 * blocks, the trailer, the quarantine), which src/observe.c calls.
 *
 * Lock order: util/lock.h.  The quarantine lock (memcheck.c) is held only
 * to push and pop (blocks pushed out are freed after it is dropped); the
 * header lock, under any arena lock, for one header access.
 */
#ifndef KMM_HEAP_VG_H
#define KMM_HEAP_VG_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>

#include "../util/compiler.h"

#if HAVE_VALGRIND_MEMCHECK_H && !defined(KMM_NO_VALGRIND)
#define KMM_VALGRIND 1
#else
#define KMM_VALGRIND 0
#endif

struct kmm_chunk;

/* True while the process runs under memcheck (set once at start-up), and
 * memcheck=exact (below). */
extern bool kmm_vg_on;
extern bool kmm_vg_exact;

/* Bytes kmm adds to each request under memcheck: the trailer word. */
#define KMM_VG_EXTRA ((size_t)8)

#if KMM_VALGRIND
size_t kmm_vg_head_get(const struct kmm_chunk *p);
void   kmm_vg_head_set(struct kmm_chunk *p, size_t head);
void   kmm_vg_writable(void *p, size_t n);
#define KMM_VG_WRITABLE(p, n)                          \
	do {                                           \
		if (KMM_UNLIKELY(kmm_vg_on))           \
			kmm_vg_writable((p), (n));     \
	} while (0)
#else
#define KMM_VG_WRITABLE(p, n) ((void)0)
#endif

#if KMM_VALGRIND
/* At start-up: under memcheck, switch the above on (and M_MMAP_MAX to 0).
 * Returns kmm_vg_on; the caller then starts the observed mode's part
 * (src/memcheck.h). */
bool kmm_vg_start(void);
#endif

#if KMM_VALGRIND
/* fork: the header lock */
void kmm_vg_fork_prepare(void);
void kmm_vg_fork_parent(void);
void kmm_vg_fork_child(void);
#endif

#endif /* KMM_HEAP_VG_H */
