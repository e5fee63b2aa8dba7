/*
 * oom — out of memory and out of mappings, through every entry point.
 *
 *   oom as        RLIMIT_AS a little above what the process uses
 *   oom maps      vm.max_map_count used up by the program's own mappings
 *
 * For each kind of request (small, medium and big malloc, calloc, realloc
 * growing a big block, memalign, posix_memalign, aligned_alloc, valloc), it
 * allocates until the allocator says no, and checks: the failure is NULL
 * (or posix_memalign's return) with errno ENOMEM, nothing crashed, every
 * block handed out still holds what was written into it (a realloc that
 * failed left its block as it was), free() of every block succeeds and
 * leaves errno alone.  Then the limit is lifted (the mappings unmapped)
 * and each kind is allocated again, and kmm's checkers run (kmm_check,
 * when the allocator is kmm).
 *
 * Output: one line per kind, "KIND: N blocks, then ENOMEM, all intact",
 * and "recovered", "checkers clean" (or "checkers absent" without kmm).
 * Exit status 0 if every check held.
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAXBLK (1 << 20)

static void *blk[MAXBLK];
static size_t len[MAXBLK];
static int failures;

static void fail(const char *kind, const char *what)
{
	printf("%s: FAILED: %s\n", kind, what);
	failures++;
}

static unsigned char pat(size_t i, size_t off)
{
	return (unsigned char)(i * 31 + off);
}

static void mark(size_t i)
{
	unsigned char *p = blk[i];
	p[0] = pat(i, 0);
	p[len[i] / 2] = pat(i, 1);
	p[len[i] - 1] = pat(i, 2);
}

static int marked(size_t i)
{
	const unsigned char *p = blk[i];
	return p[0] == pat(i, 0) && p[len[i] / 2] == pat(i, 1) && p[len[i] - 1] == pat(i, 2);
}

enum kind { SMALL, MEDIUM, BIG, CALLOC, REALLOC, MEMALIGN, POSIX_MEMALIGN, ALIGNED_ALLOC, VALLOC, NKINDS };
static const char *const names[NKINDS] = {
	"malloc(64)", "malloc(4000)", "malloc(1 MiB)", "calloc(1, 100000)", "realloc growing a big block",
	"memalign(4096, 10000)", "posix_memalign(64, 3000)", "aligned_alloc(256, 512)", "valloc(20000)",
};

/* One request of the kind; NULL with errno on failure. */
static void *one(enum kind k, size_t *size, int *err)
{
	void *p = NULL;
	errno = 0;
	switch (k) {
	case SMALL: *size = 64; p = malloc(64); break;
	case MEDIUM: *size = 4000; p = malloc(4000); break;
	case BIG: *size = 1 << 20; p = malloc(1 << 20); break;
	case CALLOC:
		*size = 100000;
		p = calloc(1, 100000);
		if (p && ((unsigned char *)p)[99999] != 0)
			fail(names[k], "calloc's block is not zero");
		break;
	case REALLOC:   /* (grow(), below) */
		break;
	case MEMALIGN:
		*size = 10000;
		p = memalign(4096, 10000);
		if (p && ((uintptr_t)p & 4095))
			fail(names[k], "misaligned");
		break;
	case POSIX_MEMALIGN: {
		*size = 3000;
		int r = posix_memalign(&p, 64, 3000);
		*err = r;
		if (r != 0)
			p = NULL;
		return p;
	}
	case ALIGNED_ALLOC: *size = 512; p = aligned_alloc(256, 512); break;
	case VALLOC: *size = 20000; p = valloc(20000); break;
	default: break;
	}
	*err = p == NULL ? errno : 0;
	return p;
}

/* Allocate until refused; check the refusal and the blocks; free all. */
static void exhaust(enum kind k, size_t cap)
{
	size_t n = 0;
	int err = 0;
	for (;;) {
		size_t size;
		void *p = one(k, &size, &err);
		if (p == NULL)
			break;
		blk[n] = p;
		len[n] = size;
		mark(n);
		n++;
		if (n == cap || n == MAXBLK) {
			printf("%s: FAILED: no refusal after %zu blocks\n", names[k], n);
			failures++;
			break;
		}
	}
	if (err != ENOMEM)
		printf("%s: FAILED: refused with errno %d (%s), not ENOMEM\n", names[k], err, strerror(err));
	if (err != ENOMEM)
		failures++;
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		if (blk[i] != NULL && !marked(i))
			bad++;
	if (bad)
		printf("%s: FAILED: %zu blocks changed\n", names[k], bad);
	failures += bad != 0;
	int errno_changed = 0;
	for (size_t i = 0; i < n; i++) {
		errno = 4242;
		free(blk[i]);
		if (errno != 4242)
			errno_changed++;
		blk[i] = NULL;
	}
	if (errno_changed)
		printf("%s: FAILED: free changed errno %d times\n", names[k], errno_changed);
	failures += errno_changed != 0;
	if (err == ENOMEM && !bad && !errno_changed)
		printf("%s: %zu blocks, then ENOMEM, all intact\n", names[k], n);
}

/* realloc: one block (allocated before memory ran out) grown by 1 MiB at
 * a time until refused; what it held must survive every move, and the
 * refusal must leave it as it was. */
static void grow(void *first)
{
	const char *name = names[REALLOC];
	size_t n = 1 << 20, steps = 0;
	blk[0] = first;
	len[0] = n;
	if (blk[0] == NULL) {
		fail(name, "the first 1 MiB block, allocated before memory ran out");
		return;
	}
	mark(0);
	for (;;) {
		errno = 0;
		unsigned char *q = realloc(blk[0], n + (1 << 20));
		if (q == NULL)
			break;
		blk[0] = q;
		if (!marked(0)) {
			fail(name, "a realloc lost the block's contents");
			break;
		}
		n += 1 << 20;
		len[0] = n;
		mark(0);
		if (++steps == 1 << 16) {
			fail(name, "no refusal");
			break;
		}
	}
	int err = errno;
	if (err != ENOMEM)
		printf("%s: FAILED: refused with errno %d, not ENOMEM\n", name, err);
	failures += err != ENOMEM;
	if (!marked(0))
		fail(name, "the refused realloc changed the block");
	errno = 4242;
	free(blk[0]);
	if (errno != 4242)
		fail(name, "free changed errno");
	blk[0] = NULL;
	printf("%s: grown to %zu MiB, then ENOMEM, block intact\n", name, n >> 20);
}

/* ---- the two ways to run out -------------------------------------------- */

static size_t vm_size(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long pages = 0;
	if (f) {
		if (fscanf(f, "%lu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return pages * 4096;
}

static struct rlimit saved_as;

static void limit_as(void)
{
	getrlimit(RLIMIT_AS, &saved_as);
	struct rlimit r = saved_as;
	r.rlim_cur = vm_size() + (48 << 20);
	if (r.rlim_max != RLIM_INFINITY && r.rlim_cur > r.rlim_max)
		r.rlim_cur = r.rlim_max;   /* (under `ulimit -v`: the hard limit) */
	if (setrlimit(RLIMIT_AS, &r) != 0)
		perror("setrlimit");
}

static void unlimit_as(void)
{
	setrlimit(RLIMIT_AS, &saved_as);
}

/* Use up the process's mappings: one-page mappings, alternately readable
 * and not, so the kernel cannot merge them, until mmap refuses. */
static void **maps;
static size_t nmaps;

static void use_up_mappings(void)
{
	size_t cap = 1 << 20;
	maps = mmap(NULL, cap * sizeof *maps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (maps == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	char *hint = (char *)0x200000000000ul;
	while (nmaps < cap) {
		void *p = mmap(hint + nmaps * 8192, 4096, nmaps % 2 ? PROT_READ : PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (p == MAP_FAILED)
			break;
		maps[nmaps++] = p;
	}
}

static void give_back_mappings(void)
{
	/* a few at first, then every other one: munmap needs no new mapping */
	for (size_t i = 0; i < nmaps; i++)
		munmap(maps[i], 4096);
	nmaps = 0;
}

int main(int argc, char **argv)
{
	int as = argc == 2 && strcmp(argv[1], "as") == 0;
	int mp = argc == 2 && strcmp(argv[1], "maps") == 0;
	if (!as && !mp) {
		fprintf(stderr, "usage: oom as|maps\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);   /* stdio must not need memory later */
	void *volatile warm = malloc(1);     /* the heap set up (volatile: not optimised away) */
	free(warm);
	for (int k = 0; k < NKINDS; k++) {
		void *first = k == REALLOC ? malloc(1 << 20) : NULL;
		if (as)
			limit_as();
		else
			use_up_mappings();
		if (k == REALLOC)
			grow(first);
		else
			exhaust((enum kind)k, MAXBLK);
		if (as)
			unlimit_as();
		else
			give_back_mappings();
	}
	/* memory is back: every kind works again */
	int ok = 1;
	for (int k = 0; k < NKINDS; k++) {
		size_t size;
		int err;
		void *p = k == REALLOC ? realloc(malloc(10), 3 << 20) : one((enum kind)k, &size, &err);
		if (p == NULL)
			ok = 0;
		free(p);
	}
	if (ok)
		printf("recovered\n");
	else
		fail("after", "an allocation failed once memory was back");
	int (*check)(int) = (int (*)(int))dlsym(RTLD_DEFAULT, "kmm_check");
	if (check == NULL)
		printf("checkers absent\n");
	else if (check(1) == 0)
		printf("checkers clean\n");
	else
		fail("after", "kmm_check found errors");
	return failures ? 1 : 0;
}
