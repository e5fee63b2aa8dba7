/*
 * fuzz_api.c — a fuzzer for kmm's prefixed API (docs/hardening.md,
 * "The fuzzer").
 *
 * One input is a program: a sequence of operations, each an opcode byte
 * followed by the bytes of its arguments (read as needed; a short input
 * reads zeros).  The operations drive every call of include/kmm.h over a
 * table of SLOTS blocks:
 *
 *   malloc calloc realloc reallocarray memalign posix_memalign
 *   aligned_alloc valloc pvalloc free malloc_usable_size mallopt
 *   malloc_trim reports (kmm_report, malloc_stats, malloc_info, mallinfo,
 *   mallinfo2, kmm_stats_get) — plus "another thread frees one block and
 *   allocates another" and "the next OS calls that may need memory fail"
 *   (kmm_os_fail_at, the fail= option's hook).
 *
 * Sizes come in classes that reach every path: the tcache and slab sizes,
 * small and large bins, the mmap threshold, big blocks (vmalloc areas) and
 * requests no allocator can serve (near SIZE_MAX and PTRDIFF_MAX).
 *
 * After each operation: every answer is checked against the contract in
 * docs/api.md (NULL only with ENOMEM or EINVAL, and ENOMEM only for a
 * request too large or while failures are injected; alignment; zeroed
 * calloc; usable size; realloc keeping the old contents, and on failure
 * the old block untouched), the ends of every live block are compared with
 * the pattern written into it (the whole block when it is freed or
 * reallocated), and kmm_check(1) must find no violation.  Anything else
 * aborts, which the fuzzer reports as a crash with the input.
 *
 * Built two ways (tests/fuzz/local.mk):
 *   kmm-fuzz     clang -fsanitize=fuzzer: libFuzzer's main, coverage guided
 *                (make fuzz, tests/integration/fuzz.sh)
 *   fuzz-replay  any compiler, with the main at the bottom of this file:
 *                runs the inputs named on its command line (files or
 *                directories), e.g. the seed corpus tests/fuzz/corpus/
 *                or a crash file; --seeds DIR writes the seed corpus.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmm.h"
#include "os.h"
#include "heap/params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SLOTS  32
#define BUDGET ((size_t)48 << 20)  /* bytes live at most (skip beyond) */
#define HUGE   ((size_t)1 << 46)   /* no request this large can succeed */
#define ENDS   32                  /* bytes compared at each end per step */

struct slot {
	unsigned char *p;
	size_t size;      /* bytes asked for: the pattern's length */
	unsigned seed;    /* pattern: byte i is pat(seed, i) */
};

static struct slot slot[SLOTS];
static size_t live;        /* sum of the slots' sizes */
static bool injecting;     /* OS failures injected during this operation */
static int devnull = -1;
static int verbose;        /* fuzz-replay -v: each operation on stderr */
static FILE *nullfp;

/* ---- the input --------------------------------------------------------- */

struct in {
	const uint8_t *p;
	size_t n;
};

static unsigned u8(struct in *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

static unsigned u16(struct in *in)
{
	unsigned lo = u8(in);
	return lo | u8(in) << 8;
}

/* A size from one of eight classes (one byte) and an offset (two bytes). */
static size_t pick_size(struct in *in)
{
	static const size_t edge[] = {
		0, 1, 8, 24, 25, 1024, 1032, 1033, 4072, 4096, 65536 - 8,
		(128 << 10) - 8, 128 << 10, (128 << 10) + 1, (4 << 20) + 1,
		(8 << 20), ((size_t)PTRDIFF_MAX) - 64, (size_t)PTRDIFF_MAX,
		(size_t)PTRDIFF_MAX + 1, SIZE_MAX - 4095, SIZE_MAX - 7, SIZE_MAX,
	};
	unsigned c = u8(in) & 7;
	size_t r = u16(in);
	switch (c) {
	case 0: return r % 17;
	case 1: return 17 + r % 112;
	case 2: return 129 + r % 896;
	case 3: return 1025 + r % 3072;
	case 4: return 4097 + r * 2 % ((128 << 10) - 4097);
	case 5: return (128 << 10) + r * 14;
	case 6: return (1 << 20) + r * 48;
	default: return edge[r % (sizeof edge / sizeof edge[0])];
	}
}

/* An alignment: mostly powers of two up to 1 MiB, sometimes not. */
static size_t pick_align(struct in *in)
{
	unsigned a = u8(in);
	if (a < 200)
		return (size_t)1 << (a % 21);
	if (a < 250)
		return (size_t)(a % 50) * 24 + 3;  /* not a power of two */
	return a == 250 ? 0 : a == 251 ? SIZE_MAX / 2 + 2 : (size_t)1 << 40;
}

/* ---- checks ------------------------------------------------------------- */

static void fail(const char *what, int i)
{
	char b[160];
	int n = snprintf(b, sizeof b, "fuzz_api: %s (slot %d)\n", what, i);
	if (n > 0)
		(void)!write(2, b, (size_t)n);
	abort();
}

/* The pattern: 8-byte words, word k of a block with seed s is
 * word(s, k), so a block's bytes say where they belong (a moved or shifted
 * copy does not match) and whole words are written and compared. */
static uint64_t word(unsigned seed, size_t k)
{
	return (seed * 0x0101010101010101ull) ^ (k * 0x9e3779b97f4a7c15ull);
}

/* An ENOMEM the harness did not expect: what kmm had, then fail(). */
static void fail_enomem(const char *what, int i, size_t size)
{
	char b[96];
	int n = snprintf(b, sizeof b, "fuzz_api: ENOMEM for %zu bytes; kmm's state:\n", size);
	if (n > 0)
		(void)!write(2, b, (size_t)n);
	kmm_report(2, "summary,meminfo,vmallocinfo,params");
	fail(what, i);
}

static unsigned char pat(unsigned seed, size_t i)
{
	return (unsigned char)(word(seed, i >> 3) >> (8 * (i & 7)));
}

/* Blocks are 16-byte aligned, so byte i of a block is in its word i/8. */
static void fill(unsigned char *p, size_t from, size_t to, unsigned seed)
{
	size_t i = from;
	for (; i < to && (i & 7); i++)
		p[i] = pat(seed, i);
	for (; i + 8 <= to; i += 8) {
		uint64_t w = word(seed, i >> 3);
		memcpy(p + i, &w, 8);
	}
	for (; i < to; i++)
		p[i] = pat(seed, i);
}

static bool same(const unsigned char *p, size_t from, size_t to, unsigned seed)
{
	size_t i = from;
	for (; i < to && (i & 7); i++)
		if (p[i] != pat(seed, i))
			return false;
	for (; i + 8 <= to; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		if (w != word(seed, i >> 3))
			return false;
	}
	for (; i < to; i++)
		if (p[i] != pat(seed, i))
			return false;
	return true;
}

static void verify_all_of(int i)
{
	if (slot[i].p && !same(slot[i].p, 0, slot[i].size, slot[i].seed))
		fail("a block's contents changed", i);
}

static void verify_ends(int i)
{
	struct slot *s = &slot[i];
	if (!s->p)
		return;
	size_t head = s->size < ENDS ? s->size : ENDS;
	size_t tail = s->size - head < ENDS ? s->size - head : ENDS;
	if (!same(s->p, 0, head, s->seed) || !same(s->p, s->size - tail, s->size, s->seed))
		fail("a block's contents changed", i);
}

/* A block just handed out for `size` bytes (NULL allowed: checked by the
 * caller's rules). */
static void check_block(void *p, size_t size, size_t align, int i)
{
	if (align > 1 && ((uintptr_t)p & (align - 1)))
		fail("misaligned block", i);
	if (((uintptr_t)p & 15))
		fail("block not 16-byte aligned", i);
	if (kmm_malloc_usable_size(p) < size)
		fail("usable size below the size asked for", i);
}

/* A NULL answer: allowed with ENOMEM for a request too large or while
 * failures are injected; with EINVAL only when `einval_ok`. */
static void check_null(int err, size_t size, bool einval_ok, int i)
{
	if (err == EINVAL && einval_ok)
		return;
	if (err != ENOMEM)
		fail("NULL without ENOMEM", i);
	if (size < HUGE && !injecting)
		fail_enomem("ENOMEM for a request that fits", i, size);
}

static bool zero(const unsigned char *p, size_t size)
{
	size_t i = 0;
	for (; i + 8 <= size; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		if (w)
			return false;
	}
	for (; i < size; i++)
		if (p[i])
			return false;
	return true;
}

static void release(int i)
{
	verify_all_of(i);
	kmm_free(slot[i].p);
	live -= slot[i].size;
	slot[i].p = NULL;
	slot[i].size = 0;
}

static void take(int i, void *p, size_t size, unsigned seed, bool zeroed)
{
	if (zeroed && !zero(p, size))
		fail("calloc's block not zeroed", i);
	slot[i].p = p;
	slot[i].size = size;
	slot[i].seed = seed;
	live += size;
	fill(p, 0, size, seed);
}

static bool affordable(size_t size)
{
	return size >= HUGE || live + size <= BUDGET;
}

/* ---- operations --------------------------------------------------------- */

#define SAY(...) do { if (verbose) fprintf(stderr, __VA_ARGS__); } while (0)

enum op {
	OP_MALLOC, OP_CALLOC, OP_REALLOC, OP_REALLOCARRAY, OP_MEMALIGN,
	OP_POSIX_MEMALIGN, OP_ALIGNED_ALLOC, OP_VALLOC, OP_PVALLOC, OP_FREE,
	OP_USABLE, OP_MALLOPT, OP_TRIM, OP_REPORT, OP_THREAD, OP_INJECT,
	OP_FREE_ALL, OP_NR
};

static void op_alloc(enum op op, int i, struct in *in)
{
	size_t size = pick_size(in), align = 0, n = 1, elem = size;
	unsigned seed = u8(in);
	void *p = NULL;
	int err;

	if (op == OP_CALLOC) {          /* n elements of elem bytes */
		n = u8(in);
		if (n == 255)
			n = SIZE_MAX / 2;
		if (n && elem > SIZE_MAX / n)
			size = SIZE_MAX;        /* overflows: expect ENOMEM */
		else
			size = elem * n;
	}
	if (op == OP_MEMALIGN || op == OP_POSIX_MEMALIGN || op == OP_ALIGNED_ALLOC)
		align = pick_align(in);
	if (slot[i].p)
		release(i);
	if (!affordable(size + align))
		return;

	errno = 0;
	switch (op) {
	case OP_MALLOC:
		p = kmm_malloc(size);
		break;
	case OP_CALLOC:
		p = kmm_calloc(n, elem);
		break;
	case OP_MEMALIGN:
		p = kmm_memalign(align, size);
		break;
	case OP_POSIX_MEMALIGN: {
		void *out = (void *)&slot;  /* must stay as it is on failure */
		int r = kmm_posix_memalign(&out, align, size);
		bool bad = align < sizeof(void *) || (align & (align - 1));
		if (r == 0) {
			if (bad)
				fail("posix_memalign accepted a bad alignment", i);
			p = out;
		} else {
			if (out != (void *)&slot)
				fail("posix_memalign changed *memptr on failure", i);
			if (bad ? r != EINVAL : r != ENOMEM)
				fail("posix_memalign: wrong error", i);
			if (!bad && size < HUGE && !injecting)
				fail_enomem("posix_memalign: ENOMEM for a request that fits", i, size);
			return;
		}
		break;
	}
	case OP_ALIGNED_ALLOC:
		p = kmm_aligned_alloc(align, size);
		if (!p && errno == EINVAL && (align == 0 || (align & (align - 1))))
			return;
		break;
	case OP_VALLOC:
		p = kmm_valloc(size);
		align = 4096;
		break;
	case OP_PVALLOC:
		p = kmm_pvalloc(size);
		align = 4096;
		if (p && size < HUGE && kmm_malloc_usable_size(p) < ((size + 4095) & ~(size_t)4095))
			fail("pvalloc did not round up to a page", i);
		break;
	default:
		return;
	}
	err = errno;
	SAY("  alloc op %d slot %d size %zu (n %zu) align %zu -> %p errno %d\n", op, i, size, n, align, p, err);
	if (!p) {
		bool einval = op == OP_MEMALIGN && align > SIZE_MAX / 2 + 1;
		check_null(err, size, einval, i);
		return;
	}
	if (size >= HUGE)
		fail("a request too large succeeded", i);
	if (align & (align - 1)) {          /* rounded up to a power of two */
		size_t a = 1;
		while (a && a < align)
			a <<= 1;
		align = a;
	}
	check_block(p, size, align, i);
	take(i, p, size, seed, op == OP_CALLOC);
}

static void op_realloc(enum op op, int i, struct in *in)
{
	size_t size = pick_size(in);
	unsigned seed = u8(in);
	struct slot old = slot[i];
	void *p;

	if (old.p)
		verify_all_of(i);
	if (!affordable(size > old.size ? size - old.size : 0))
		return;
	errno = 0;
	if (op == OP_REALLOCARRAY) {
		size_t n = (u8(in) & 3) + 1;
		if (size > SIZE_MAX / n)
			p = kmm_reallocarray(old.p, SIZE_MAX / 2 + 1, 4);
		else
			p = kmm_reallocarray(old.p, n, size / n), size = size / n * n;
	} else {
		p = kmm_realloc(old.p, size);
	}
	int err = errno;
	SAY("  realloc op %d slot %d %p (%zu) -> %zu: %p errno %d\n", op, i, (void *)old.p, old.size, size, p, err);
	if (!p) {
		if (old.p && size == 0) {   /* realloc(p, 0): freed */
			live -= old.size;
			slot[i].p = NULL;
			slot[i].size = 0;
			return;
		}
		check_null(err, size, false, i);
		if (old.p)
			verify_all_of(i);   /* untouched */
		return;
	}
	if (size >= HUGE)
		fail("a realloc too large succeeded", i);
	check_block(p, size, 0, i);
	slot[i].p = p;
	size_t kept = old.size < size ? old.size : size;
	if (!same(p, 0, kept, old.seed))
		fail("realloc lost the old contents", i);
	live = live - old.size + size;
	slot[i].size = size;
	/* the kept part keeps its seed; the rest gets the old seed too, so
	 * one seed describes the whole block */
	slot[i].seed = old.p ? old.seed : seed;
	fill(p, old.p ? kept : 0, size, slot[i].seed);
}

static void op_usable(int i)
{
	struct slot *s = &slot[i];
	size_t u = kmm_malloc_usable_size(s->p);
	if (!s->p) {
		if (u != 0)
			fail("malloc_usable_size(NULL) is not 0", i);
		return;
	}
	if (u < s->size)
		fail("usable size below the size asked for", i);
	/* the slack is the program's: write it, the checker must not mind */
	memset(s->p + s->size, 0xa5, u - s->size);
}

static void op_mallopt(struct in *in)
{
	static const int params[] = {
		M_MXFAST, M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD,
		M_MMAP_MAX, M_PERTURB, M_ARENA_TEST, M_ARENA_MAX,
		KMM_M_TCACHE_COUNT, KMM_M_TCACHE_MAX, KMM_M_TCACHE_UNSORTED_LIMIT,
		KMM_M_THRESHOLD_RULE, KMM_M_FRONT,
	};
	int param = params[u8(in) % (sizeof params / sizeof params[0])];
	int value = (int)(int16_t)u16(in);
	if (u8(in) & 1)
		value *= 1024;
	int r = kmm_mallopt(param, value);
	SAY("  mallopt(%d, %d) = %d\n", param, value, r);
}

static void op_report(struct in *in)
{
	static const char *const sections[] = {
		"summary", "meminfo", "buddyinfo", "pagetypeinfo", "zoneinfo",
		"slabinfo", "vmallocinfo", "maps", "malloc_info", "params", "all",
		"check", "nonsense",
	};
	unsigned k = u8(in) % 16;
	if (k < sizeof sections / sizeof sections[0]) {
		int r = kmm_report(devnull, sections[k]);
		if ((r != 0) != (strcmp(sections[k], "nonsense") == 0))
			fail("kmm_report: wrong answer", -1);
	} else if (k == 13) {
		int saved = dup(2);
		dup2(devnull, 2);
		kmm_malloc_stats();
		dup2(saved, 2);
		close(saved);
	} else if (k == 14) {
		if (kmm_malloc_info(0, nullfp) != 0)
			fail("malloc_info failed", -1);
	} else {
		struct kmm_stats st;
		struct mallinfo2 mi = kmm_mallinfo2();
		(void)kmm_mallinfo();
		if (kmm_stats_get(&st) != 0)
			fail("kmm_stats_get failed", -1);
		if (mi.uordblks + mi.hblkhd < live / 2)
			fail("mallinfo2: in use far below what is live", -1);
	}
}

/* Another thread frees slot a and allocates slot b: remote frees, the
 * thread's tcache and slabs torn down at its exit. */
struct thread_job {
	int a, b;
	size_t size;
	unsigned seed;
};

static void *thread_main(void *arg)
{
	struct thread_job *j = arg;
	if (slot[j->a].p)
		release(j->a);
	if (slot[j->b].p)
		release(j->b);
	if (!affordable(j->size))
		return NULL;
	errno = 0;
	void *p = kmm_malloc(j->size);
	if (!p) {
		check_null(errno, j->size, false, j->b);
		return NULL;
	}
	check_block(p, j->size, 0, j->b);
	take(j->b, p, j->size, j->seed, false);
	return NULL;
}

static void op_thread(struct in *in)
{
	struct thread_job j;
	j.a = u8(in) % SLOTS;
	j.b = u8(in) % SLOTS;
	j.size = pick_size(in);
	j.seed = u8(in);
	SAY("  thread: free %d, malloc %d (%zu)\n", j.a, j.b, j.size);
	pthread_t t;
	if (pthread_create(&t, NULL, thread_main, &j) != 0)
		return;
	pthread_join(t, NULL);
}

static void step(struct in *in)
{
	enum op op = (enum op)(u8(in) % OP_NR);
	int i = (int)(u8(in) % SLOTS);
	SAY("op %d slot %d%s\n", op, i, injecting ? " (injecting)" : "");

	switch (op) {
	case OP_MALLOC: case OP_CALLOC: case OP_MEMALIGN: case OP_POSIX_MEMALIGN:
	case OP_ALIGNED_ALLOC: case OP_VALLOC: case OP_PVALLOC:
		op_alloc(op, i, in);
		break;
	case OP_REALLOC: case OP_REALLOCARRAY:
		op_realloc(op, i, in);
		break;
	case OP_FREE:
		if (slot[i].p)
			release(i);
		else
			kmm_free(NULL);
		break;
	case OP_USABLE:
		op_usable(i);
		break;
	case OP_MALLOPT:
		op_mallopt(in);
		break;
	case OP_TRIM: {
		size_t pad = u16(in);
		pad <<= u8(in) & 15;
		int r = kmm_malloc_trim(pad);
		SAY("  trim(%zu) = %d\n", pad, r);
		break;
	}
	case OP_REPORT:
		op_report(in);
		break;
	case OP_THREAD:
		op_thread(in);
		break;
	case OP_INJECT: {
		/* the k-th next OS call that may need memory fails (and every
		 * later one too with the low bit), for the next operation */
		unsigned k = u8(in);
		kmm_os_fail_at(kmm_os_fail_calls() + 1 + (k >> 1) % 8, k & 1);
		injecting = true;
		step(in);
		kmm_os_fail_at(0, false);
		injecting = false;
		break;
	}
	case OP_FREE_ALL:
		for (int k = 0; k < SLOTS; k++)
			if (slot[k].p)
				release(k);
		break;
	default:
		break;
	}
}

/* kmm's parameters as the process started: each input starts from them
 * (mallopt of one input would otherwise change what the next one does,
 * and a crash would need the inputs before it to reproduce). */
static struct kmm_params initial_params;

static void setup(void)
{
	if (devnull < 0) {
		initial_params = kmm_params;
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		nullfp = fopen("/dev/null", "w");
		if (devnull < 0 || !nullfp)
			abort();
	}
}

/* KMM_FUZZ_LOG=FILE: every input this process runs is appended to FILE
 * (a 4-byte length, then the bytes), so that a failure that needs the
 * inputs before it replays with `fuzz-replay --log FILE`. */
static int input_log = -2;

static void log_input(const uint8_t *data, size_t size)
{
	if (input_log == -2) {
		const char *path = getenv("KMM_FUZZ_LOG");
		input_log = path ? open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
	}
	if (input_log < 0)
		return;
	uint32_t n = (uint32_t)size;
	(void)!write(input_log, &n, sizeof n);
	(void)!write(input_log, data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	setup();
	log_input(data, size);
	while (in.n > 0) {
		step(&in);
		for (int i = 0; i < SLOTS; i++)
			verify_ends(i);
		if (kmm_check(1) != 0)
			fail("kmm_check found violations (above)", -1);
	}
	for (int i = 0; i < SLOTS; i++)
		if (slot[i].p)
			release(i);
	kmm_params = initial_params;
	if (kmm_check(1) != 0)
		fail("kmm_check found violations at the end (above)", -1);
	return 0;
}

/* ---- fuzz-replay: run inputs without libFuzzer ------------------------- */
#ifdef KMM_FUZZ_REPLAY
#include <dirent.h>
#include <sys/stat.h>

static int run_file(const char *path)
{
	static uint8_t buf[1 << 20];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "fuzz-replay: %s: %s\n", path, strerror(errno));
		return 1;
	}
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	if (n < 0) {
		fprintf(stderr, "fuzz-replay: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (verbose)
		fprintf(stderr, "== %s\n", path);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	return 0;
}

/* --log FILE: the inputs KMM_FUZZ_LOG recorded, in order. */
static int run_log(const char *path, int *runs)
{
	static uint8_t buf[1 << 20];
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "fuzz-replay: %s: %s\n", path, strerror(errno));
		return 1;
	}
	uint32_t n;
	while (fread(&n, sizeof n, 1, f) == 1) {
		if (n > sizeof buf || fread(buf, 1, n, f) != n) {
			fprintf(stderr, "fuzz-replay: %s: truncated record\n", path);
			fclose(f);
			return 1;
		}
		if (verbose)
			fprintf(stderr, "== %s, input %d\n", path, *runs + 1);
		++*runs;
		LLVMFuzzerTestOneInput(buf, n);
	}
	fclose(f);
	return 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path, int *runs)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		fprintf(stderr, "fuzz-replay: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		++*runs;
		return run_file(path);
	}
	DIR *d = opendir(path);
	if (!d) {
		fprintf(stderr, "fuzz-replay: %s: %s\n", path, strerror(errno));
		return 1;
	}
	char *names[4096];
	size_t count = 0;
	struct dirent *e;
	while ((e = readdir(d)) && count < 4096)
		if (e->d_name[0] != '.')
			names[count++] = strdup(e->d_name);
	closedir(d);
	qsort(names, count, sizeof names[0], compare_names);
	int bad = 0;
	for (size_t k = 0; k < count; k++) {
		char full[4096];
		snprintf(full, sizeof full, "%s/%s", path, names[k]);
		bad |= run_path(full, runs);
		free(names[k]);
	}
	return bad;
}

/* The seed corpus: one short program per area of the allocator. */
static const struct seed {
	const char *name;
	size_t len;
	const uint8_t *bytes;
} seeds[] = {
#define SEED(name, ...) { name, sizeof((const uint8_t[]){ __VA_ARGS__ }), (const uint8_t[]){ __VA_ARGS__ } }
	/* small churn: malloc tcache/slab sizes, free, again */
	SEED("small-churn",
	     OP_MALLOC, 0, 0, 10, 0, 1, OP_MALLOC, 1, 1, 50, 0, 2, OP_MALLOC, 2, 2, 200, 1, 3,
	     OP_FREE, 1, OP_FREE, 0, OP_MALLOC, 3, 0, 12, 0, 4, OP_MALLOC, 4, 1, 50, 0, 5,
	     OP_FREE, 2, OP_FREE, 3, OP_FREE, 4),
	/* small and large bins: sizes past the tcache, freed out of order */
	SEED("bins",
	     OP_MALLOC, 0, 3, 0, 2, 1, OP_MALLOC, 1, 3, 0, 5, 2, OP_MALLOC, 2, 4, 0, 30, 3,
	     OP_MALLOC, 3, 3, 0, 1, 4, OP_FREE, 0, OP_FREE, 2, OP_MALLOC, 4, 3, 0, 1, 5,
	     OP_MALLOC, 5, 4, 0, 8, 6, OP_FREE, 1, OP_FREE, 3, OP_TRIM, 0, 0, 0),
	/* big blocks: vmalloc areas, realloc growing and shrinking them */
	SEED("big-realloc",
	     OP_MALLOC, 0, 5, 0, 10, 7, OP_REALLOC, 0, 6, 0, 40, 0, OP_REALLOC, 0, 5, 0, 2, 0,
	     OP_MALLOC, 1, 6, 0, 1, 8, OP_REALLOC, 1, 0, 5, 0, 0, OP_REALLOC, 0, 1, 0, 0, 0,
	     OP_FREE, 0, OP_FREE, 1),
	/* aligned requests of every kind, bad alignments included */
	SEED("aligned",
	     OP_MEMALIGN, 0, 2, 0, 1, 9, 12, OP_POSIX_MEMALIGN, 1, 3, 0, 3, 1, 3,
	     OP_ALIGNED_ALLOC, 2, 5, 0, 1, 2, 20, OP_MEMALIGN, 3, 1, 5, 0, 3, 210,
	     OP_POSIX_MEMALIGN, 4, 1, 5, 0, 4, 220, OP_ALIGNED_ALLOC, 5, 1, 1, 0, 5, 230,
	     OP_VALLOC, 6, 2, 9, 0, 6, OP_PVALLOC, 7, 1, 1, 0, 7, OP_MEMALIGN, 8, 0, 1, 0, 8, 251),
	/* requests no allocator can serve, calloc overflowing */
	SEED("too-large",
	     OP_MALLOC, 0, 7, 16, 0, 1, OP_MALLOC, 1, 7, 21, 0, 1, OP_CALLOC, 2, 4, 0, 200, 1, 255,
	     OP_REALLOC, 3, 7, 18, 0, 1, OP_REALLOCARRAY, 4, 6, 0, 1, 1, 3,
	     OP_MEMALIGN, 5, 7, 19, 0, 1, 200, OP_POSIX_MEMALIGN, 6, 7, 21, 0, 1, 4),
	/* calloc of every class, usable size and the slack written */
	SEED("calloc-usable",
	     OP_CALLOC, 0, 1, 3, 0, 1, 4, OP_CALLOC, 1, 3, 7, 0, 2, 3, OP_CALLOC, 2, 5, 0, 1, 3, 1,
	     OP_USABLE, 0, OP_USABLE, 1, OP_USABLE, 2, OP_FREE, 1, OP_CALLOC, 1, 3, 7, 0, 2, 3,
	     OP_USABLE, 3),
	/* mallopt while blocks are live: front, tcache, thresholds, perturb */
	SEED("mallopt",
	     OP_MALLOC, 0, 1, 9, 0, 1, OP_MALLOPT, 0, 12, 1, 0, 0, OP_MALLOC, 1, 1, 9, 0, 2,
	     OP_FREE, 0, OP_MALLOPT, 0, 8, 0, 0, 0, OP_MALLOPT, 0, 5, 0xaa, 0, 0,
	     OP_MALLOC, 2, 2, 0, 1, 3, OP_MALLOPT, 0, 3, 64, 0, 1, OP_MALLOC, 3, 4, 0, 40, 4,
	     OP_MALLOPT, 0, 12, 0, 0, 0, OP_FREE, 1, OP_FREE, 2, OP_FREE, 3),
	/* another thread frees and allocates */
	SEED("threads",
	     OP_MALLOC, 0, 0, 1, 0, 10, 0, OP_MALLOC, 1, 3, 0, 2, 11,
	     OP_THREAD, 0, 0, 2, 1, 20, 0, 12, OP_THREAD, 0, 1, 3, 5, 0, 1, 13,
	     OP_FREE, 2, OP_FREE, 3),
	/* failures injected under growth of the heap and of big blocks */
	SEED("inject",
	     OP_INJECT, 0, 0, OP_MALLOC, 0, 5, 0, 3, 1, OP_INJECT, 0, 1, OP_MALLOC, 1, 6, 0, 2, 2,
	     OP_MALLOC, 2, 6, 0, 3, 3, OP_INJECT, 0, 2, OP_REALLOC, 2, 6, 0, 90, 0,
	     OP_INJECT, 0, 3, OP_CALLOC, 3, 4, 0, 100, 4, 9, OP_INJECT, 0, 4, OP_THREAD, 0, 4, 5, 0, 1, 1),
	/* every report */
	SEED("reports",
	     OP_MALLOC, 0, 2, 1, 0, 1, OP_MALLOC, 1, 5, 1, 0, 1, OP_REPORT, 0, 0, OP_REPORT, 0, 1,
	     OP_REPORT, 0, 2, OP_REPORT, 0, 5, OP_REPORT, 0, 6, OP_REPORT, 0, 7, OP_REPORT, 0, 8,
	     OP_REPORT, 0, 9, OP_REPORT, 0, 11, OP_REPORT, 0, 12, OP_REPORT, 0, 13, OP_REPORT, 0, 14,
	     OP_REPORT, 0, 15, OP_FREE_ALL, 0),
#undef SEED
};

static int write_seeds(const char *dir)
{
	for (size_t k = 0; k < sizeof seeds / sizeof seeds[0]; k++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, seeds[k].name);
		FILE *f = fopen(path, "wb");
		if (!f || fwrite(seeds[k].bytes, 1, seeds[k].len, f) != seeds[k].len || fclose(f)) {
			fprintf(stderr, "fuzz-replay: %s: %s\n", path, strerror(errno));
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--seeds") == 0)
		return write_seeds(argv[2]);
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fprintf(argc < 2 ? stderr : stdout,
		        "usage: fuzz-replay [-v] FILE|DIR...  run fuzzer inputs (the seed corpus,\n"
		        "                                 a crash file) through kmm's API;\n"
		        "                                 -v: each operation on stderr\n"
		        "       fuzz-replay [-v] --log FILE  the inputs a run with KMM_FUZZ_LOG=FILE\n"
		        "                                 recorded, in their order\n"
		        "       fuzz-replay --seeds DIR   write the seed corpus into DIR\n");
		return argc < 2 ? 2 : 0;
	}
	int runs = 0, bad = 0, k = 1;
	if (strcmp(argv[1], "-v") == 0)
		verbose = 1, k++;
	for (; k < argc; k++) {
		if (strcmp(argv[k], "--log") == 0 && k + 1 < argc)
			bad |= run_log(argv[++k], &runs);
		else
			bad |= run_path(argv[k], &runs);
	}
	printf("fuzz-replay: %d inputs, no failure\n", runs);
	return bad;
}
#endif
