/*
 * leakcheck.c — the leak scanner, after the kernel's kmemleak
 * (KMM_LEAKCHECK=1, kmm_leak_check(); docs/hardening.md, "The leak
 * scanner").
 *
 * THEORY
 *
 * The table.  Every block an outermost malloc-family call hands out while
 * tracking is on is entered in a hash table, address -> (requested size,
 * the caller's return address), and leaves it before it is freed (the
 * observed calls of observe.c).  The table is 16 shards picked by the top
 * bits of a hash of the address, each an open-addressing table with
 * linear probing and backward-shift deletion under its own lock (skipped
 * while the process has one thread), so track and untrack are O(1) and
 * threads seldom meet on a lock.  A shard's array
 * comes from kmm's kernel side (kmm_vmalloc) and doubles when it is 70%
 * full; if that fails the block is counted as lost and the report says so.
 *
 * The scan, kmemleak's algorithm:
 *
 *   1. roots: the writable PT_LOAD segments (data, bss) of every loaded
 *      object but kmm's own (dl_iterate_phdr, before any lock of ours is
 *      taken); the stack of every thread kmm knows (the mapping of
 *      /proc/self/maps holding the address recorded when the thread set
 *      up its cache, and the one holding its thread pointer, which for a
 *      pthread is the top of its stack with its static TLS and struct
 *      pthread); the main thread's static TLS, which ld.so allocates apart
 *      from the stack (a window around the thread pointer, of the size
 *      _dl_get_tls_static_info gives); for the scanning thread itself, its
 *      callee-saved registers (spilled by __builtin_unwind_init) and its
 *      stack from there up; and the blocks the dynamic loader allocated
 *      (their caller lies in ld.so: the TLS blocks and DTVs that only
 *      glibc's cache of exited threads' stacks points to), which
 *      LeakSanitizer also takes as reachable.  Never kmm's own memory: its
 *      data and bss, its TLS block in every thread, its heaps, buddy
 *      sections and vmalloc spaces (the table and the scan's arrays live
 *      there) are cut out of every root range.
 *   2. index: with every shard locked (no tracked block can be freed or
 *      reallocated now: those calls wait), the tracked blocks are copied
 *      into an array sorted by address.  A word v marks block b when
 *      b.start <= v < b.start + size (interior pointers count, as in
 *      kmemleak): one binary search, after a range test that rejects most
 *      words.
 *   3. mark: every aligned word of the roots is tried; a block marked for
 *      the first time goes on the gray list; gray blocks are scanned the
 *      same way until the list is empty.
 *   4. report: the blocks never marked.  Their first 32 bytes are copied
 *      while the locks are held; symbols (dl_iterate_phdr, dladdr) are
 *      looked up after every lock of ours but scan_lock is dropped.
 *
 * Roots that may vanish under the scan (a library unloaded, a stack
 * unmapped by another thread) are read with process_vm_readv, which fails
 * instead of faulting; where that call is not allowed they are read
 * directly, clipped to the readable mappings /proc/self/maps listed.
 * Pages of a root that are neither present nor swapped out
 * (/proc/self/pagemap) were never written and are skipped: most of an
 * idle thread's stack.  Blocks are read directly: they cannot be freed
 * while the shards are locked.  Every array here is cleared before it goes
 * back to vmalloc (area_free says why).
 *
 * Other threads keep running: a block allocated during a scan may be
 * missing from it (allocations wait for the shard lock once they reach the
 * table), a block being reallocated is out of the table meanwhile, and a
 * pointer held only in another thread's registers is not seen; such blocks
 * may be missed or reported (docs/hardening.md).
 *
 * LOCKING (the order: util/lock.h): a scan holds scan_lock (one scan at a
 * time, also kept by fork), kmm_threads_lock (the threads stay, with their
 * stacks) and every shard lock; it allocates with kmm_vmalloc.  Tracking takes one
 * shard lock, with no other kmm lock held.  The dynamic loader's locks
 * (dl_iterate_phdr, dladdr) are only taken with scan_lock alone held:
 * a thread inside dlopen may be waiting in malloc for a shard lock.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stddef.h>
#include <string.h>
#include <sys/auxv.h>
#if HAVE_SYS_SINGLE_THREADED_H
#include <sys/single_threaded.h>
#endif

#include "leakcheck.h"
#include "observe.h"
#include "options.h"
#include "os.h"
#include "heap/params.h"
#include "heap/thread.h"
#include "kernel/region.h"
#include "kernel/vmalloc.h"
#include "util/format.h"
#include "util/lock.h"

/* ---- the table ------------------------------------------------------------------- */

#define SHARD_BITS 4
#define NSHARDS (1u << SHARD_BITS)
#define MIN_CAP 512

struct entry {
	uintptr_t addr;      /* 0: an empty slot */
	size_t size;         /* requested bytes */
	uintptr_t caller;    /* return address of the malloc-family call */
};

struct shard {
	kmm_lock_t lock;
	size_t count, cap;   /* cap: 0 or a power of two */
	struct entry *tab;   /* kmm_vmalloc'ed */
} __attribute__((aligned(64)));

/* each shard's lock ranked, its index its sub-rank (util/lock.h) */
#define SHARD(i) { .lock = KMM_LOCK_INIT_RANK_SUB(KMM_RANK_LEAK_SHARD, i) }
static struct shard shards[NSHARDS] = {
	SHARD(0), SHARD(1), SHARD(2),  SHARD(3),  SHARD(4),  SHARD(5),  SHARD(6),  SHARD(7),
	SHARD(8), SHARD(9), SHARD(10), SHARD(11), SHARD(12), SHARD(13), SHARD(14), SHARD(15),
};
#undef SHARD
_Static_assert(NSHARDS == 16, "one SHARD() initialiser per shard");
static uint64_t lost;              /* blocks not tracked: no memory for the table */
static kmm_lock_t scan_lock = KMM_LOCK_INIT_RANK(KMM_RANK_LEAK_SCAN);
static int exit_fd = -1;           /* private copy of stderr for the exit report */
static size_t tls_static_size;     /* _dl_get_tls_static_info, 0 if unknown */

/* splitmix64's finaliser of the address without its 4 alignment bits */
static inline uint64_t hash_addr(uintptr_t a)
{
	uint64_t x = (uint64_t)a >> 4;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static inline struct shard *shard_of(uint64_t h)
{
	return &shards[h >> (64 - SHARD_BITS)];
}

static void *area_alloc(size_t bytes)
{
	void *p = kmm_vmalloc(bytes, (const void *)area_alloc);
	if (p != NULL)
		kmm_vmalloc_zero(p, p, bytes);
	return p;
}

/* Every array here is full of addresses of the program's blocks (the
 * table, the index, copies of roots).  Freed as it is, its page frames
 * would go back to the buddy allocator and come out again in some big
 * block of the program, uninitialised: every block they name would look
 * referenced to the next scan.  So the bytes we wrote are cleared first. */
static void area_free(void *p, size_t used)
{
	if (p == NULL)
		return;
	memset(p, 0, used);
	kmm_vfree(p);
}

/* Put e into tab (no resize, no duplicate check); lock held. */
static void place(struct entry *tab, size_t cap, const struct entry *e)
{
	size_t mask = cap - 1, i = hash_addr(e->addr) & mask;
	while (tab[i].addr != 0)
		i = (i + 1) & mask;
	tab[i] = *e;
}

/* Double the shard's array (or make its first); lock held (shard_lock:
 * unless the process has a single thread). */
static bool shard_grow(struct shard *s)
{
#if HAVE_SYS_SINGLE_THREADED_H
	if (!__libc_single_threaded)
#endif
		kmm_lock_assert_held(&s->lock);
	size_t ncap = s->cap != 0 ? s->cap * 2 : MIN_CAP;
	struct entry *ntab = area_alloc(ncap * sizeof *ntab);
	if (ntab == NULL)
		return false;
	for (size_t i = 0; i < s->cap; i++)
		if (s->tab[i].addr != 0)
			place(ntab, ncap, &s->tab[i]);
	area_free(s->tab, s->cap * sizeof *s->tab);
	s->tab = ntab;
	s->cap = ncap;
	return true;
}

static struct entry *shard_find(struct shard *s, uintptr_t a, uint64_t h)
{
	if (s->cap == 0)
		return NULL;
	size_t mask = s->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		if (s->tab[i].addr == a)
			return &s->tab[i];
		if (s->tab[i].addr == 0)
			return NULL;
	}
}

/* Remove slot i, shifting back the entries after it that probed past it. */
static void shard_remove(struct shard *s, size_t i)
{
	size_t mask = s->cap - 1;
	for (;;) {
		size_t j = i;
		for (;;) {
			j = (j + 1) & mask;
			if (s->tab[j].addr == 0) {
				s->tab[i].addr = 0;
				s->count--;
				return;
			}
			size_t home = hash_addr(s->tab[j].addr) & mask;
			/* j stays if its home lies cyclically in (i, j] */
			bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
			if (!stays)
				break;
		}
		s->tab[i] = s->tab[j];
		i = j;
	}
}

/* A shard's lock, unless the process has a single thread (glibc's
 * __libc_single_threaded, as the arenas do): nobody can contend, not even
 * a scan, which this thread would be running. */
static inline bool shard_lock(struct shard *s)
{
#if HAVE_SYS_SINGLE_THREADED_H
	if (__libc_single_threaded)
		return false;
#endif
	return kmm_lock_fork_aware(&s->lock);
}

static void insert(uintptr_t a, size_t n, uintptr_t caller)
{
	uint64_t h = hash_addr(a);
	struct shard *s = shard_of(h);
	bool locked = shard_lock(s);
	struct entry *e = shard_find(s, a, h);
	if (e != NULL) {
		/* freed without our seeing it: cannot happen while every
		 * free is observed; keep the newer block */
		e->size = n;
		e->caller = caller;
	} else if ((s->count + 1) * 10 <= s->cap * 7 || shard_grow(s)) {
		struct entry ne = { a, n, caller };
		place(s->tab, s->cap, &ne);
		s->count++;
	} else {
		__atomic_add_fetch(&lost, 1, __ATOMIC_RELAXED);
	}
	kmm_unlock_if(&s->lock, locked);
}

void kmm_leakcheck_track(void *mem, size_t n, const void *caller)
{
	insert((uintptr_t)mem, n, (uintptr_t)caller);
}

bool kmm_leakcheck_untrack(const void *mem, struct kmm_leak_rec *rec)
{
	uintptr_t a = (uintptr_t)mem;
	uint64_t h = hash_addr(a);
	struct shard *s = shard_of(h);
	bool locked = shard_lock(s);
	struct entry *e = shard_find(s, a, h);
	if (e != NULL) {
		if (rec != NULL) {
			rec->size = e->size;
			rec->caller = (const void *)e->caller;
		}
		shard_remove(s, (size_t)(e - s->tab));
	}
	kmm_unlock_if(&s->lock, locked);
	return e != NULL;
}

void kmm_leakcheck_realloced(void *old, void *nmem, size_t n, const void *caller,
			     const struct kmm_leak_rec *rec)
{
	if (nmem != NULL)
		insert((uintptr_t)nmem, n, (uintptr_t)caller);
	else if (n != 0 && rec != NULL)   /* failed: the old block is still the program's */
		insert((uintptr_t)old, rec->size, (uintptr_t)rec->caller);
}

KMM_COLD size_t kmm_leakcheck_tracked(void)
{
	size_t n = 0;
	for (unsigned i = 0; i < NSHARDS; i++)
		n += __atomic_load_n(&shards[i].count, __ATOMIC_RELAXED);
	return n;
}

/* ---- starting, the exit report, fork ------------------------------------------------ */

KMM_COLD void kmm_leakcheck_start(void)
{
	if (!kmm_options.leakcheck || (kmm_params.observed & KMM_OBSERVE_LEAKS))
		return;
	kmm_observe_start(KMM_OBSERVE_LEAKS);
}

KMM_COLD void kmm_leakcheck_constructor(void)
{
	if (!(kmm_params.observed & KMM_OBSERVE_LEAKS))
		return;
	/* the static TLS size, as the sanitizers get it (glibc's private
	 * interface; absent elsewhere: a fixed window is scanned then) */
	void (*info)(size_t *, size_t *) = NULL;
	*(void **)&info = dlsym(RTLD_DEFAULT, "_dl_get_tls_static_info");
	if (info != NULL) {
		size_t size = 0, align = 0;
		info(&size, &align);
		tls_static_size = size;
	}
	/* programs close their stderr before our destructor runs */
	if (kmm_options.leakcheck_path[0] == '\0' && exit_fd < 0)
		exit_fd = kmm_os_dup_fd(2, 100);
}

static int scan_entry(int fd, bool at_exit);

KMM_COLD void kmm_leakcheck_exit(void)
{
	if (!(kmm_params.observed & KMM_OBSERVE_LEAKS) || !kmm_options.leakcheck)
		return;
	int fd = exit_fd >= 0 ? exit_fd : 2;
	if (kmm_options.leakcheck_path[0] != '\0') {
		fd = kmm_os_open(kmm_options.leakcheck_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd < 0) {
			kmm_warn("KMM_LEAKCHECK_FILE: cannot open %s", kmm_options.leakcheck_path);
			return;
		}
	}
	scan_entry(fd, true);
	if (fd != 2)
		kmm_os_close(fd);
	if (fd == exit_fd)
		exit_fd = -1;
}

KMM_COLD int kmm_leakcheck_scan(int fd)
{
	if (!(kmm_params.observed & KMM_OBSERVE_LEAKS)) {
		errno = ENOSYS;
		return -1;
	}
	return scan_entry(fd, false);
}

void kmm_leakcheck_fork_prepare_scan(void)
{
	kmm_fork_lock(&scan_lock);
}

void kmm_leakcheck_fork_prepare_table(void)
{
	for (unsigned i = 0; i < NSHARDS; i++)
		kmm_fork_lock(&shards[i].lock);
}

void kmm_leakcheck_fork_parent(void)
{
	for (unsigned i = NSHARDS; i-- > 0;)
		kmm_unlock(&shards[i].lock);
	kmm_unlock(&scan_lock);
}

void kmm_leakcheck_fork_child(void)
{
	for (unsigned i = 0; i < NSHARDS; i++)
		kmm_lock_reset(&shards[i].lock);
	kmm_lock_reset(&scan_lock);
}

/* ---- growable arrays from the kernel side ------------------------------------------- */

struct vec {
	void *p;
	size_t n, cap, esz;
	bool failed;
};

static void *vec_push(struct vec *v)
{
	if (v->n == v->cap) {
		size_t ncap = v->cap != 0 ? v->cap * 2 : (16384 + v->esz - 1) / v->esz;
		void *np = v->p != NULL ? kmm_vrealloc(v->p, ncap * v->esz) : area_alloc(ncap * v->esz);
		if (np == NULL) {
			v->failed = true;
			return NULL;
		}
		v->p = np;
		v->cap = ncap;
	}
	return (char *)v->p + v->n++ * v->esz;
}

static void vec_free(struct vec *v)
{
	area_free(v->p, v->n * v->esz);
	v->p = NULL;
	v->n = v->cap = 0;
}

struct range {
	uintptr_t lo, hi;
};

static void push_range(struct vec *v, uintptr_t lo, uintptr_t hi)
{
	if (hi <= lo)
		return;
	struct range *r = vec_push(v);
	if (r != NULL)
		*r = (struct range){ lo, hi };
}

/* ---- /proc/self/maps ----------------------------------------------------------------- */

static bool parse_hex(const char **s, const char *end, uintptr_t *out)
{
	uintptr_t v = 0;
	const char *p = *s;
	for (; p < end; p++) {
		unsigned d;
		if (*p >= '0' && *p <= '9') d = (unsigned)(*p - '0');
		else if (*p >= 'a' && *p <= 'f') d = (unsigned)(*p - 'a' + 10);
		else break;
		v = v << 4 | d;
	}
	if (p == *s)
		return false;
	*s = p;
	*out = v;
	return true;
}

/* "start-end rwxp ..." -> a readable mapping into maps */
static void maps_line(struct vec *maps, const char *s, const char *end)
{
	uintptr_t lo, hi;
	if (!parse_hex(&s, end, &lo) || s >= end || *s++ != '-' || !parse_hex(&s, end, &hi) ||
	    end - s < 2 || s[0] != ' ' || s[1] != 'r')
		return;
	push_range(maps, lo, hi);
}

/* The readable mappings, in address order (the kernel lists them so). */
static bool read_maps(struct vec *maps)
{
	char buf[4096];
	size_t have = 0;
	bool skipping = false;   /* the rest of a line longer than buf */
	int fd = kmm_os_open("/proc/self/maps", O_RDONLY, 0);
	if (fd < 0)
		return false;
	for (;;) {
		ssize_t r = kmm_os_read(fd, buf + have, sizeof buf - have);
		if (r <= 0)
			break;
		have += (size_t)r;
		size_t pos = 0;
		for (;;) {
			char *nl = memchr(buf + pos, '\n', have - pos);
			if (nl == NULL)
				break;
			if (!skipping)
				maps_line(maps, buf + pos, nl);
			skipping = false;
			pos = (size_t)(nl - buf) + 1;
		}
		if (pos == 0 && have == sizeof buf) {
			/* a path longer than the buffer: the range and the
			 * permissions come first */
			if (!skipping)
				maps_line(maps, buf, buf + have);
			skipping = true;
			pos = have;
		}
		memmove(buf, buf + pos, have - pos);
		have -= pos;
	}
	kmm_os_close(fd);
	return !maps->failed;
}

/* The mapping holding a, or NULL. */
static const struct range *mapping_of(const struct vec *maps, uintptr_t a)
{
	const struct range *m = maps->p;
	size_t lo = 0, hi = maps->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a < m[mid].lo)
			hi = mid;
		else if (a >= m[mid].hi)
			lo = mid + 1;
		else
			return &m[mid];
	}
	return NULL;
}

/* ---- the loaded objects ------------------------------------------------------------------ */

struct objects {
	struct vec *roots;     /* writable segments of the program's objects */
	struct vec *own;       /* kmm's own writable segments */
	uintptr_t own_code;    /* an address of kmm's code */
	uintptr_t own_tls;     /* kmm's TLS block in the calling thread (0: unknown) */
	size_t own_tls_size;
	uintptr_t loader_base; /* the dynamic loader's (AT_BASE) ... */
	uintptr_t loader_lo, loader_hi;   /* ... code */
};

static int collect_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct objects *o = arg;
	bool own = false;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && o->own_code - lo < ph->p_memsz)
			own = true;
	}
	/* kmm built into the program itself (the unit tests): its data
	 * cannot be told from the program's, and is scanned */
	if (own && (info->dlpi_name == NULL || info->dlpi_name[0] == '\0'))
		own = false;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W))
			push_range(own ? o->own : o->roots, lo, lo + ph->p_memsz);
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && o->loader_base != 0 &&
		    info->dlpi_addr == o->loader_base) {
			o->loader_lo = lo;
			o->loader_hi = lo + ph->p_memsz;
		}
		if (own && ph->p_type == PT_TLS &&
		    size >= offsetof(struct dl_phdr_info, dlpi_tls_data) + sizeof info->dlpi_tls_data &&
		    info->dlpi_tls_data != NULL) {
			o->own_tls = (uintptr_t)info->dlpi_tls_data;
			o->own_tls_size = ph->p_memsz;
		}
	}
	return 0;
}

/* ---- the scan ------------------------------------------------------------------------- */

struct obj {
	uintptr_t start;
	size_t size;            /* requested bytes */
	uintptr_t caller;
};

/* The bytes a pointer may point into: malloc(0)'s block has one. */
static inline uintptr_t obj_end(const struct obj *o)
{
	return o->start + (o->size != 0 ? o->size : 1);
}

struct leak {
	uintptr_t addr, caller;
	size_t size;
	unsigned char head[32];
};

#define READ_BUF (64u << 10)

struct scan {
	struct obj *objs;
	size_t n;
	uint8_t *mark;
	uint32_t *gray;
	size_t ngray;
	uintptr_t lo, span;           /* [lo, lo + span): from the first start to the last end */
	struct vec *maps, *excl;      /* readable mappings; what no root may include, merged */
	unsigned char *buf;           /* for process_vm_readv */
	bool direct;                  /* process_vm_readv refused: read roots directly */
	int pagemap;                  /* /proc/self/pagemap, or -1 */
	size_t root_bytes, root_skipped, block_bytes, blocks_scanned, root_ranges;
};

static inline void mark_word(struct scan *s, uintptr_t v)
{
	if (v - s->lo >= s->span)
		return;
	const struct obj *o = s->objs;
	size_t a = 0, b = s->n;   /* o[a].start <= v < o[b].start */
	while (b - a > 1) {
		size_t m = a + (b - a) / 2;
		if (o[m].start <= v)
			a = m;
		else
			b = m;
	}
	if (v < obj_end(&o[a]) && !s->mark[a]) {
		s->mark[a] = 1;
		s->gray[s->ngray++] = (uint32_t)a;
	}
}

static void scan_words(struct scan *s, const volatile uintptr_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mark_word(s, p[i]);
}

/* Read [lo, hi) (aligned) and try its words. */
static void read_range(struct scan *s, uintptr_t lo, uintptr_t hi)
{
	s->root_bytes += hi - lo;
	while (lo < hi && !s->direct) {
		size_t len = hi - lo < READ_BUF ? hi - lo : READ_BUF;
		long r = kmm_os_read_self(s->buf, (const void *)lo, len);
		if (r == -ENOSYS || r == -EPERM) {
			s->direct = true;
			break;
		}
		if (r < (long)sizeof(uintptr_t)) {   /* unmapped meanwhile: on with the next page */
			lo = KMM_ALIGN_DOWN(lo, 4096) + 4096;
			continue;
		}
		scan_words(s, (const uintptr_t *)s->buf, (size_t)r / sizeof(uintptr_t));
		lo += (uintptr_t)r & ~(uintptr_t)(sizeof(uintptr_t) - 1);
	}
	if (lo < hi)
		scan_words(s, (const uintptr_t *)lo, (hi - lo) / sizeof(uintptr_t));
}

#define PAGE 4096u
#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)

/* A piece of a root, with nothing excluded in it.  Pages that are neither
 * present nor swapped out (never written, as most of a thread's stack)
 * read as zeroes or as the unchanged file: they hold no pointer into the
 * heap, and /proc/self/pagemap says which they are without touching them. */
static void scan_piece(struct scan *s, uintptr_t lo, uintptr_t hi)
{
	lo = KMM_ALIGN_UP(lo, sizeof(uintptr_t));
	hi = KMM_ALIGN_DOWN(hi, sizeof(uintptr_t));
	if (hi <= lo)
		return;
	if (s->pagemap < 0 || hi - lo < 16 * PAGE) {
		read_range(s, lo, hi);
		return;
	}
	uint64_t ent[512];
	uintptr_t p = lo, run = 0;   /* run: start of pages to read, 0: none */
	while (p < hi) {
		uintptr_t page = KMM_ALIGN_DOWN(p, PAGE);
		size_t want = (size_t)(((hi - 1) / PAGE) - page / PAGE + 1);
		if (want > KMM_ARRAY_SIZE(ent))
			want = KMM_ARRAY_SIZE(ent);
		ssize_t r = kmm_os_pread(s->pagemap, ent, want * sizeof ent[0], (off_t)(page / PAGE * sizeof ent[0]));
		if (r < (ssize_t)sizeof ent[0]) {   /* no pagemap: read it all */
			read_range(s, run != 0 ? run : p, hi);
			return;
		}
		size_t got = (size_t)r / sizeof ent[0];
		for (size_t i = 0; i < got; i++) {
			uintptr_t plo = page + i * PAGE > p ? page + i * PAGE : p;
			uintptr_t phi = page + (i + 1) * PAGE < hi ? page + (i + 1) * PAGE : hi;
			if (ent[i] & (PM_PRESENT | PM_SWAPPED)) {
				if (run == 0)
					run = plo;
			} else {
				if (run != 0)
					read_range(s, run, plo);
				run = 0;
				s->root_skipped += phi - plo;
			}
		}
		p = page + got * PAGE;
	}
	if (run != 0)
		read_range(s, run, hi);
}

/* A root: its words in readable mappings, outside the excluded ranges. */
static void scan_root(struct scan *s, uintptr_t lo, uintptr_t hi)
{
	lo = KMM_ALIGN_UP(lo, sizeof(uintptr_t));
	hi = KMM_ALIGN_DOWN(hi, sizeof(uintptr_t));
	if (hi <= lo)
		return;
	s->root_ranges++;
	const struct range *m = s->maps->p, *x = s->excl->p;
	size_t nm = s->maps->n, nx = s->excl->n;
	/* the first mapping ending after lo, the first exclusion ending after lo */
	size_t a = 0, b = nm;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (m[mid].hi <= lo) a = mid + 1; else b = mid;
	}
	size_t j = 0, k = nx;
	while (j < k) {
		size_t mid = j + (k - j) / 2;
		if (x[mid].hi <= lo) j = mid + 1; else k = mid;
	}
	for (size_t i = a; i < nm && m[i].lo < hi; i++) {
		uintptr_t plo = m[i].lo > lo ? m[i].lo : lo, phi = m[i].hi < hi ? m[i].hi : hi;
		while (plo < phi) {
			while (j < nx && x[j].hi <= plo)
				j++;
			if (j < nx && x[j].lo <= plo) {   /* excluded from plo on */
				plo = x[j].hi;
				continue;
			}
			uintptr_t end = j < nx && x[j].lo < phi ? x[j].lo : phi;
			scan_piece(s, plo, end);
			plo = end;
		}
	}
}

/* Scan the gray blocks until there are none. */
static void drain(struct scan *s)
{
	while (s->ngray > 0) {
		const struct obj *o = &s->objs[s->gray[--s->ngray]];
		size_t words = o->size / sizeof(uintptr_t);
		s->block_bytes += o->size;
		s->blocks_scanned++;
		scan_words(s, (const volatile uintptr_t *)o->start, words);
	}
}

/* The tracked block holding a, or SIZE_MAX. */
static size_t block_of(const struct scan *s, uintptr_t a)
{
	if (s->n == 0 || a - s->lo >= s->span)
		return SIZE_MAX;
	size_t lo = 0, hi = s->n;
	while (hi - lo > 1) {
		size_t m = lo + (hi - lo) / 2;
		if (s->objs[m].start <= a) lo = m; else hi = m;
	}
	return a < obj_end(&s->objs[lo]) ? lo : SIZE_MAX;
}

/* Stable LSD radix sort of n elements of type T by their uintptr_t field
 * KEY, a byte at a time (a pass in which every key has the same byte is
 * skipped); tmp has room for n.  Returns where the sorted elements are: a
 * or tmp.  O(n): 200 000 blocks sort in a few milliseconds, where a
 * heapsort took a fifth of a second. */
#define DEFINE_RADIX_SORT(name, T, KEY)                                                    \
	static T *name(T *a, T *tmp, size_t n)                                             \
	{                                                                                  \
		for (unsigned shift = 0; shift < 8 * sizeof(uintptr_t); shift += 8) {     \
			size_t count[256] = { 0 };                                         \
			for (size_t i = 0; i < n; i++)                                     \
				count[(a[i].KEY >> shift) & 255]++;                        \
			if (n == 0 || count[(a[0].KEY >> shift) & 255] == n)              \
				continue;                                                  \
			size_t pos = 0;                                                    \
			for (unsigned d = 0; d < 256; d++) {                               \
				size_t c = count[d];                                       \
				count[d] = pos;                                            \
				pos += c;                                                  \
			}                                                                  \
			for (size_t i = 0; i < n; i++)                                     \
				tmp[count[(a[i].KEY >> shift) & 255]++] = a[i];            \
			T *t = a;                                                          \
			a = tmp;                                                           \
			tmp = t;                                                           \
		}                                                                          \
		return a;                                                                  \
	}

DEFINE_RADIX_SORT(sort_objs, struct obj, start)
/* leaks come in address order: sorted by site, stably */
DEFINE_RADIX_SORT(sort_leaks, struct leak, caller)

static void sift_ranges(struct range *r, size_t i, size_t n)
{
	struct range v = r[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && r[c + 1].lo > r[c].lo)
			c++;
		if (r[c].lo <= v.lo)
			break;
		r[i] = r[c];
		i = c;
	}
	r[i] = v;
}

/* Sort the excluded ranges and merge overlaps. */
static void merge_ranges(struct vec *v)
{
	struct range *r = v->p;
	for (size_t i = v->n / 2; i-- > 0;)
		sift_ranges(r, i, v->n);
	for (size_t end = v->n; end-- > 1;) {
		struct range t = r[0];
		r[0] = r[end];
		r[end] = t;
		sift_ranges(r, 0, end);
	}
	size_t out = 0;
	for (size_t i = 0; i < v->n; i++) {
		if (out > 0 && r[i].lo <= r[out - 1].hi) {
			if (r[i].hi > r[out - 1].hi)
				r[out - 1].hi = r[i].hi;
		} else {
			r[out++] = r[i];
		}
	}
	v->n = out;
}

/* kmm's own memory, into excl: its heaps, sections and vmalloc spaces. */
static void exclude_kmm_regions(struct vec *excl)
{
	uintptr_t ranges[256][2];
	unsigned kinds = 1u << KMM_REGION_BRK_HEAP | 1u << KMM_REGION_HEAP_SEGMENT |
			 1u << KMM_REGION_ARENA_HEAP | 1u << KMM_REGION_SECTION;
	size_t n = kmm_region_ranges(ranges, KMM_ARRAY_SIZE(ranges), kinds);
	if (n > KMM_ARRAY_SIZE(ranges)) {
		/* many: through an array of their own */
		struct vec big = { .esz = sizeof ranges[0] };
		for (size_t i = 0; i < n + 64; i++)
			if (vec_push(&big) == NULL)
				break;
		if (!big.failed) {
			n = kmm_region_ranges(big.p, big.n, kinds);
			uintptr_t (*r)[2] = big.p;
			for (size_t i = 0; i < n && i < big.n; i++)
				push_range(excl, r[i][0], r[i][1]);
		}
		vec_free(&big);
	} else {
		for (size_t i = 0; i < n; i++)
			push_range(excl, ranges[i][0], ranges[i][1]);
	}
	n = kmm_vmalloc_spaces(ranges, KMM_ARRAY_SIZE(ranges));
	for (size_t i = 0; i < n && i < KMM_ARRAY_SIZE(ranges); i++)
		push_range(excl, ranges[i][0], ranges[i][1]);
}

static inline uintptr_t thread_pointer(void)
{
#if defined(__x86_64__) || defined(__aarch64__)
	return (uintptr_t)__builtin_thread_pointer();
#else
	return 0;
#endif
}

/* A window of a thread's static TLS around its thread pointer: the TLS
 * blocks below it and struct pthread above it (x86-64), or the other way
 * round (aarch64); clipped to the mapping holding it. */
static void tls_window(struct vec *roots, const struct range *m, uintptr_t tp)
{
	size_t w = tls_static_size > 4096 ? tls_static_size : 4096;
	if (tls_static_size == 0)
		w = 64 << 10;
	uintptr_t lo = tp - m->lo > w ? tp - w : m->lo;
	uintptr_t hi = m->hi - tp > w ? tp + w : m->hi;
	push_range(roots, lo, hi);
}

struct thread_roots {
	struct vec *roots, *excl;
	const struct vec *maps;
	struct scan *s;
	uintptr_t own_tls;
	size_t own_tls_size;
	uintptr_t tp_delta;      /* thread pointer - &kmm_self, the same in every thread */
	pid_t pid;
};

/* A stack or TLS address of a thread: inside a block the program
 * allocated (a stack it gave the thread), that block is the root; else
 * the whole mapping holding it, or (the main thread's TLS) a window. */
static void thread_area(struct thread_roots *tr, uintptr_t a, uintptr_t from, bool window,
			const struct range **seen)
{
	size_t b = block_of(tr->s, a);
	if (b != SIZE_MAX) {
		if (!tr->s->mark[b]) {
			tr->s->mark[b] = 1;
			tr->s->gray[tr->s->ngray++] = (uint32_t)b;
		}
		return;
	}
	const struct range *m = mapping_of(tr->maps, a);
	if (m == NULL || m == *seen)
		return;
	*seen = m;
	if (window)
		tls_window(tr->roots, m, a);
	else
		push_range(tr->roots, from > m->lo ? from : m->lo, m->hi);
}

static void one_thread(struct thread_roots *tr, struct kmm_thread *t, uintptr_t stack_from)
{
	uintptr_t delta = (uintptr_t)t - (uintptr_t)&kmm_self;
	const struct range *seen = NULL;
	bool self = t == &kmm_self;
	uintptr_t hint = self ? stack_from : t->stack_hint;
	if (hint != 0)
		thread_area(tr, hint, self ? stack_from : 0, false, &seen);
	uintptr_t tp = (uintptr_t)t + tr->tp_delta;
	if (tr->tp_delta != 0) {
		/* a pthread's TLS is at the top of its stack; the main
		 * thread's was allocated by ld.so */
		bool main_thread = self ? kmm_os_gettid() == tr->pid : t->tid == tr->pid;
		thread_area(tr, tp, 0, main_thread, &seen);
	}
	/* kmm's own TLS block in this thread is not a root */
	if (tr->own_tls != 0)
		push_range(tr->excl, tr->own_tls + delta, tr->own_tls + delta + tr->own_tls_size);
	else
		push_range(tr->excl, (uintptr_t)t, (uintptr_t)(t + 1));
}

struct result {
	size_t live, leaked, leaked_bytes, threads, loader;
	uint64_t lost;
	uint64_t t_locked, t_total;
	bool direct;
	size_t root_bytes, root_skipped, root_ranges, block_bytes, blocks_scanned;
	struct vec leaks;
};

static void report(int fd, bool at_exit, struct result *r);

static void unlock_all(bool threads_locked)
{
	for (unsigned i = NSHARDS; i-- > 0;)
		kmm_unlock(&shards[i].lock);
	if (threads_locked)
		kmm_unlock(&kmm_threads_lock);
}

/* The scan proper.  stack_from: the lowest address of the calling thread's
 * stack that belongs to the program or holds its registers. */
static KMM_COLD int scan_locked(uintptr_t stack_from, struct result *res)
{
	uint64_t t0 = kmm_os_now_ns();
	struct vec maps = { .esz = sizeof(struct range) }, roots = { .esz = sizeof(struct range) };
	struct vec excl = { .esz = sizeof(struct range) };
	void *area = NULL;
	size_t area_bytes = 0;
	struct objects ob = { &roots, &excl, (uintptr_t)&scan_locked, 0, 0, getauxval(AT_BASE), 0, 0 };
	struct scan s = { .pagemap = -1 };
	int err = 0;

	/* the loaded objects and the mappings, before any lock of ours */
	dl_iterate_phdr(collect_object, &ob);
	if (!read_maps(&maps) || roots.failed || excl.failed) {
		err = ENOMEM;
		goto out;
	}
	s.buf = area_alloc(READ_BUF);
	if (s.buf == NULL) {
		err = ENOMEM;
		goto out;
	}
	s.pagemap = kmm_os_open("/proc/self/pagemap", O_RDONLY, 0);

	bool threads_locked = kmm_lock_fork_aware(&kmm_threads_lock);
	for (unsigned i = 0; i < NSHARDS; i++)
		kmm_lock(&shards[i].lock);
	uint64_t t1 = kmm_os_now_ns();

	/* the index */
	size_t n = 0;
	for (unsigned i = 0; i < NSHARDS; i++)
		n += shards[i].count;
	if (n >= UINT32_MAX) {
		unlock_all(threads_locked);
		err = ENOMEM;
		goto out;
	}
	res->live = n;
	res->lost = __atomic_load_n(&lost, __ATOMIC_RELAXED);
	/* two arrays of objects (the radix sort's), then the gray list and
	 * the marks: one area */
	size_t objs_bytes = KMM_ALIGN_UP((n + 1) * sizeof(struct obj), 64);
	area_bytes = 2 * objs_bytes + (n + 1) * (sizeof(uint32_t) + 1);
	area = area_alloc(area_bytes);
	if (area == NULL) {
		unlock_all(threads_locked);
		err = ENOMEM;
		goto out;
	}
	struct obj *o1 = area, *o2 = (struct obj *)((char *)area + objs_bytes);
	s.gray = (uint32_t *)((char *)area + 2 * objs_bytes);
	s.mark = (uint8_t *)(s.gray + n + 1);
	for (unsigned i = 0; i < NSHARDS; i++)
		for (size_t j = 0; j < shards[i].cap; j++) {
			const struct entry *e = &shards[i].tab[j];
			if (e->addr != 0)
				o1[s.n++] = (struct obj){ e->addr, e->size, e->caller };
		}
	s.objs = sort_objs(o1, o2, s.n);
	if (s.n > 0) {
		s.lo = s.objs[0].start;
		uintptr_t hi = 0;
		for (size_t i = 0; i < s.n; i++)
			if (obj_end(&s.objs[i]) > hi)
				hi = obj_end(&s.objs[i]);
		s.span = hi - s.lo;
	}

	/* the threads' stacks and TLS, and what no root may include */
	uintptr_t tp = thread_pointer();
	struct thread_roots tr = { &roots, &excl, &maps, &s, ob.own_tls, ob.own_tls_size,
				   tp != 0 ? tp - (uintptr_t)&kmm_self : 0, kmm_os_getpid() };
	bool self_listed = false;
	for (struct kmm_thread *t = kmm_thread_list(); t != NULL; t = t->next) {
		one_thread(&tr, t, stack_from);
		res->threads++;
		self_listed |= t == &kmm_self;
	}
	if (!self_listed) {
		one_thread(&tr, &kmm_self, stack_from);
		res->threads++;
	}
	/* what the dynamic loader allocated (its TLS blocks and DTVs, kept
	 * with the stacks of exited threads it caches) is reachable, as
	 * LeakSanitizer also assumes */
	for (size_t i = 0; i < s.n; i++)
		if (s.objs[i].caller - ob.loader_lo < ob.loader_hi - ob.loader_lo && !s.mark[i]) {
			s.mark[i] = 1;
			s.gray[s.ngray++] = (uint32_t)i;
			res->loader++;
		}
	exclude_kmm_regions(&excl);
	if (roots.failed || excl.failed) {
		unlock_all(threads_locked);
		err = ENOMEM;
		goto out;
	}
	merge_ranges(&excl);

	/* mark */
	s.maps = &maps;
	s.excl = &excl;
	const struct range *rr = roots.p;
	for (size_t i = 0; i < roots.n; i++) {
		scan_root(&s, rr[i].lo, rr[i].hi);
		drain(&s);
	}
	drain(&s);   /* blocks that are threads' stacks */

	/* the unreferenced blocks, with their first bytes */
	res->leaks.esz = sizeof(struct leak);
	for (size_t i = 0; i < s.n; i++) {
		if (s.mark[i])
			continue;
		res->leaked++;
		res->leaked_bytes += s.objs[i].size;
		struct leak *l = vec_push(&res->leaks);
		if (l == NULL)
			continue;
		l->addr = s.objs[i].start;
		l->caller = s.objs[i].caller;
		l->size = s.objs[i].size;
		size_t k = l->size < sizeof l->head ? l->size : sizeof l->head;
		memset(l->head, 0, sizeof l->head);
		memcpy(l->head, (const void *)l->addr, k);
	}
	res->t_locked = kmm_os_now_ns() - t1;
	unlock_all(threads_locked);

	res->direct = s.direct;
	res->root_bytes = s.root_bytes;
	res->root_skipped = s.root_skipped;
	res->root_ranges = s.root_ranges;
	res->block_bytes = s.block_bytes;
	res->blocks_scanned = s.blocks_scanned;
out:
	if (s.pagemap >= 0)
		kmm_os_close(s.pagemap);
	area_free(s.buf, s.buf != NULL ? READ_BUF : 0);
	area_free(area, area_bytes);
	vec_free(&maps);
	vec_free(&roots);
	vec_free(&excl);
	res->t_total = kmm_os_now_ns() - t0;
	if (err != 0) {
		vec_free(&res->leaks);
		errno = err;
		return -1;
	}
	return 0;
}

/* Called by scan_entry, whose frame holds the caller's callee-saved
 * registers: everything from this frame up belongs to the program. */
static KMM_COLD KMM_NOINLINE int scan_from_here(int fd, bool at_exit)
{
	uintptr_t stack_from = (uintptr_t)__builtin_frame_address(0);
	struct result res = { 0 };
	kmm_lock(&scan_lock);
	int r = scan_locked(stack_from, &res);
	if (r == 0) {
		if (fd >= 0)
			report(fd, at_exit, &res);
		r = res.leaked > (size_t)INT32_MAX ? INT32_MAX : (int)res.leaked;
	}
	vec_free(&res.leaks);
	kmm_unlock(&scan_lock);
	return r;
}

static KMM_COLD KMM_NOINLINE int scan_entry(int fd, bool at_exit)
{
	/* the caller's registers into this frame: a pointer the program
	 * keeps only in a callee-saved register is a root */
	__builtin_unwind_init();
	int r = scan_from_here(fd, at_exit);
	__asm__ __volatile__("" : "+r"(r) : : "memory");   /* no tail call */
	return r;
}

/* ---- the report ------------------------------------------------------------------------- */

struct where {
	uintptr_t addr, base;
	const char *name;   /* the object's path, "" for the program */
	bool found;
};

static int find_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct where *w = arg;
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && w->addr - lo < ph->p_memsz) {
			w->base = info->dlpi_addr;
			w->name = info->dlpi_name;
			w->found = true;
			return 1;
		}
	}
	return 0;
}

/* "(OBJECT+0xOFF, symbol+0xOFF)": the offset from the object's load
 * address (addr2line's for a shared object or PIE), the symbol if the
 * dynamic symbol table has one. */
static void put_site(struct kmm_buf *b, uintptr_t caller, const char *exe)
{
	struct where w = { caller, 0, NULL, false };
	dl_iterate_phdr(find_object, &w);
	if (!w.found) {
		kmm_buf_puts(b, "(unknown object)");
		return;
	}
	const char *name = w.name != NULL && w.name[0] != '\0' ? w.name : exe;
	kmm_buf_printf(b, "(%s+0x%lx", name, (unsigned long)(caller - w.base));
	Dl_info di;
	if (dladdr((void *)caller, &di) != 0 && di.dli_sname != NULL && di.dli_saddr != NULL)
		kmm_buf_printf(b, ", %s+0x%lx", di.dli_sname, (unsigned long)(caller - (uintptr_t)di.dli_saddr));
	kmm_buf_putc(b, ')');
}

static void hex_dump(struct kmm_buf *b, const struct leak *l)
{
	static const char digits[] = "0123456789abcdef";
	size_t n = l->size < sizeof l->head ? l->size : sizeof l->head;
	if (n == 0)
		return;
	kmm_buf_printf(b, "  hex dump (first %zu bytes):\n", n);
	for (size_t row = 0; row < n; row += 16) {
		/* "    xx xx ... xx  ascii": one line, one write */
		char line[4 + 16 * 3 + 2 + 16 + 1];
		size_t k = 0;
		memset(line, ' ', sizeof line);
		k = 3;
		for (size_t i = row; i < row + 16; i++, k += 3)
			if (i < n) {
				line[k + 1] = digits[l->head[i] >> 4];
				line[k + 2] = digits[l->head[i] & 15];
			}
		k += 2;
		for (size_t i = row; i < row + 16 && i < n; i++)
			line[k++] = l->head[i] >= 0x20 && l->head[i] < 0x7f ? (char)l->head[i] : '.';
		line[k++] = '\n';
		kmm_buf_write(b, line, k);
	}
}

static void read_small(const char *path, char *out, size_t cap, bool link)
{
	out[0] = '\0';
	long r;
	if (link) {
		r = kmm_os_readlink(path, out, cap - 1);
	} else {
		int fd = kmm_os_open(path, O_RDONLY, 0);
		if (fd < 0)
			return;
		r = kmm_os_read(fd, out, cap - 1);
		kmm_os_close(fd);
	}
	if (r < 0)
		r = 0;
	out[r] = '\0';
	while (r > 0 && out[r - 1] == '\n')
		out[--r] = '\0';
}

static KMM_COLD void report(int fd, bool at_exit, struct result *r)
{
	char data[4096], exe[1024], comm[64];
	struct kmm_buf b;
	kmm_buf_init(&b, data, sizeof data, fd);
	read_small("/proc/self/exe", exe, sizeof exe, true);
	read_small("/proc/self/comm", comm, sizeof comm, false);
	kmm_buf_printf(&b, "kmm leakcheck: pid %d (%s), scan %s\n", (int)kmm_os_getpid(), comm,
		       at_exit ? "at exit" : "on request");
	struct leak *l = r->leaks.p;
	void *tmp = r->leaks.n > 1 ? area_alloc(r->leaks.n * sizeof *l) : NULL;
	if (tmp != NULL) {
		l = sort_leaks(l, tmp, r->leaks.n);
		if (l != r->leaks.p)
			memcpy(r->leaks.p, l, r->leaks.n * sizeof *l);
		l = r->leaks.p;
		area_free(tmp, r->leaks.n * sizeof *l);
	}
	char site[1024];
	for (size_t i = 0; i < r->leaks.n; i++) {
		if (i == 0 || l[i].caller != l[i - 1].caller) {   /* looked up once per site */
			struct kmm_buf sb;
			kmm_buf_init(&sb, site, sizeof site, -1);
			put_site(&sb, l[i].caller, exe);
		}
		kmm_buf_printf(&b, "unreferenced object 0x%lx (size %zu): allocated at 0x%lx %s\n",
			       (unsigned long)l[i].addr, l[i].size, (unsigned long)l[i].caller, site);
		hex_dump(&b, &l[i]);
	}
	if (r->leaks.n < r->leaked)
		kmm_buf_printf(&b, "kmm leakcheck: %zu unreferenced blocks not listed (no memory for the list)\n",
			       r->leaked - r->leaks.n);
	if (r->lost != 0)
		kmm_buf_printf(&b, "kmm leakcheck: %llu blocks were never tracked (no memory for the table): "
			       "what they point to may be reported\n", (unsigned long long)r->lost);
	kmm_buf_printf(&b, "kmm leakcheck: %zu unreferenced block%s, %zu bytes (of %zu live block%s)\n", r->leaked,
		       r->leaked == 1 ? "" : "s", r->leaked_bytes, r->live, r->live == 1 ? "" : "s");
	kmm_buf_printf(&b, "kmm leakcheck: scanned %zu bytes of roots (%zu ranges, %zu threads, %zu bytes never "
		       "written skipped%s) and %zu bytes in %zu blocks (%zu of them the dynamic loader's) "
		       "in %llu.%03llu ms (%llu.%03llu ms with allocation stopped)\n",
		       r->root_bytes, r->root_ranges, r->threads, r->root_skipped, r->direct ? ", read directly" : "",
		       r->block_bytes, r->blocks_scanned, r->loader, (unsigned long long)(r->t_total / 1000000),
		       (unsigned long long)(r->t_total / 1000 % 1000), (unsigned long long)(r->t_locked / 1000000),
		       (unsigned long long)(r->t_locked / 1000 % 1000));
	kmm_buf_flush(&b);
}
