/*
 * malloc_errors — how the malloc ABI fails, for tests/integration/errors.sh.
 *
 * Usage: malloc_errors MODE
 *   errno        each failing call with its result and errno, one per line
 *                ("malloc(SIZE_MAX): NULL ENOMEM"), and "kmm yes|no"
 *   double-free, double-free-unsorted, free-stack, free-stack-misaligned,
 *   free-middle, free-middle-misaligned
 *                misuse of free() that must abort the process; prints
 *                "survived" and exits 0 if it does not
 *   tcache-poison, fastbin-poison
 *                the classic attack on a freed block's list pointer: free
 *                two blocks, overwrite the first word of the last freed
 *                with the address of a global, malloc until that block
 *                comes back, and once more: prints "HIJACKED" and exits 3
 *                if malloc returned the global's address, "survived" and
 *                exits 0 if it returned anything else; safe-linking makes
 *                malloc abort instead (15 times in 16: see errors.sh)
 *   big-double-free, big-interior, big-misaligned, never-allocated,
 *   never-allocated-in-page, realloc-stack, realloc-freed (a freed 24-byte
 *   block, realloc to 48: in the tcache or on a slab list), realloc-freed-200
 *   (the same, 200 bytes), header-overflow, header-mbit
 *                more misuse that must abort under kmm: a second free of a
 *                1 MiB (vmalloc) block, a free of a pointer 4 KiB or 24
 *                bytes into one, of an address kmm never handed out (page
 *                aligned, or 16 bytes into an unmapped page), a
 *                realloc of a stack address, a free after an overflow
 *                overwrote the next block's header, and a free of a heap
 *                chunk whose header has the M bit set; "survived" if not
 *   xthread-cached, xthread-remote
 *                a 200-byte block freed twice by two threads: freed by a
 *                thread that stays alive (into its cache), then by the
 *                main thread; or freed by another thread first, then by
 *                the thread that allocated it; "survived" if not aborted
 *                (glibc 2.36 misses both: its tcache takes any block)
 *   free-kmm-metadata
 *                a free of kmm's own metadata: the arena kmm made for a
 *                second thread, a slab object in one of kmm's buddy
 *                sections, found from outside through kmm_report(fd,
 *                "maps") (the first word of an "arena heap" points at its
 *                arena, which must lie in a "buddy section"); must abort
 *                ("survived" if not); under another malloc, prints "kmm no"
 *                and exits 0; exits 1 if no such address is found
 *   uaf-write    malloc(48), free, write one byte at offset 30 of the freed
 *                block, malloc(48): aborts under KMM_OPTIONS=poison=on
 *   init-check   malloc(64) filled with 0x55, free, malloc(64): prints byte
 *                40 of the block after the free and after the malloc
 *                ("after-free 0x55 after-malloc 0x55"; zeroes under
 *                init_on_free / init_on_alloc)
 *   stats        some allocations, then malloc_stats() (on stderr)
 *   info         some allocations, then malloc_info(0, stdout), twice
 *   info-exact   a fixed pattern of allocations and frees, then malloc_info
 *                and malloc_stats, with stdio allocating nothing
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static void *volatile sink;
static _Alignas(64) char target[256];   /* where the attacker wants malloc to point */

/* free `n` blocks of `size` so that the last two freed are a, b (b on top
 * of its list), overwrite b's list pointer with &target, and allocate
 * until b came back and once more.  `fill` blocks are freed first to fill
 * the tcache, so that a and b go to the fastbin. */
/* xthread-*: the block, and the thread that frees it first */
static void *xblock;
static pthread_barrier_t xfreed, xdone;

static void *xthread_cached(void *arg)
{
	(void)arg;
	char *volatile b = malloc(200);   /* in this thread's arena */
	xblock = b;
	free(b);                          /* into this thread's cache */
	pthread_barrier_wait(&xfreed);
	pthread_barrier_wait(&xdone);     /* alive, holding it */
	return NULL;
}

static void *xthread_remote(void *arg)
{
	(void)arg;
	char *volatile b = xblock;
	free(b);                          /* a block of the main thread's */
	return NULL;
}

static void xthread(bool cached)
{
	pthread_t t;
	char *volatile b;
	if (cached) {
		pthread_barrier_init(&xfreed, NULL, 2);
		pthread_barrier_init(&xdone, NULL, 2);
		pthread_create(&t, NULL, xthread_cached, NULL);
		pthread_barrier_wait(&xfreed);
		b = xblock;
		free(b);
		sink = malloc(200);
		sink = malloc(200);
		pthread_barrier_wait(&xdone);
	} else {
		xblock = malloc(200);
		pthread_create(&t, NULL, xthread_remote, NULL);
		pthread_join(t, NULL);
		b = xblock;
		free(b);                      /* its owner frees it again */
		sink = malloc(200);
		sink = malloc(200);
	}
	if (cached)
		pthread_join(t, NULL);
}

static int poison(size_t size, int fill)
{
	void *blocks[16], *a, *b;
	for (int i = 0; i < fill; i++)
		blocks[i] = malloc(size);
	a = malloc(size);
	b = malloc(size);
	sink = malloc(size);     /* keeps a and b away from the top */
	for (int i = 0; i < fill; i++)
		free(blocks[i]);
	free(a);
	free(b);
	*(void *volatile *)b = target;   /* the use after free */
	for (int i = 0; i < fill; i++)
		sink = malloc(size);     /* empty the tcache */
	void *first = malloc(size), *second = malloc(size);
	if (first == target || second == target) {
		puts("HIJACKED");
		return 3;
	}
	return 0;
}

static const char *errname(int e)
{
	switch (e) {
	case 0: return "0";
	case ENOMEM: return "ENOMEM";
	case EINVAL: return "EINVAL";
	default: return "other";
	}
}

/* "NAME: NULL ENOMEM" or "NAME: ptr" (the errno only matters for NULL) */
static void show_ptr(const char *name, void *p, int err)
{
	if (p == NULL)
		printf("%s: NULL %s\n", name, errname(err));
	else
		printf("%s: ptr\n", name);
}

static void errno_cases(void)
{
	void *p;
	unsigned char *q;
	void *volatile vq;           /* hides the reuse after a failed realloc from -Wuse-after-free */
	int r;
	volatile size_t huge = SIZE_MAX, half = SIZE_MAX / 2 + 1, over = (size_t)PTRDIFF_MAX + 1;

	errno = 0; p = malloc(huge);
	show_ptr("malloc(SIZE_MAX)", p, errno);
	errno = 0; p = malloc(over);
	show_ptr("malloc(PTRDIFF_MAX+1)", p, errno);
	errno = 0; p = calloc(half, 2);
	show_ptr("calloc(SIZE_MAX/2+1, 2)", p, errno);
	errno = 0; p = calloc(2, half);
	show_ptr("calloc(2, SIZE_MAX/2+1)", p, errno);
	errno = 0; p = reallocarray(NULL, half, 2);
	show_ptr("reallocarray(NULL, SIZE_MAX/2+1, 2)", p, errno);

	/* a failed realloc leaves the block alone */
	vq = malloc(100);
	memset(vq, 0x42, 100);
	errno = 0; p = reallocarray(vq, half, 4);
	show_ptr("reallocarray(p, SIZE_MAX/2+1, 4)", p, errno);
	errno = 0; p = realloc(vq, huge);
	show_ptr("realloc(p, SIZE_MAX)", p, errno);
	q = vq;
	printf("block intact after failed reallocs: %s\n", q[0] == 0x42 && q[99] == 0x42 ? "yes" : "no");
	free(vq);

	p = (void *)&sink;
	r = posix_memalign(&p, 3, 8);
	printf("posix_memalign(3, 8): %s%s\n", errname(r), p == (void *)&sink ? "" : " (memptr changed)");
	r = posix_memalign(&p, 24, 8);
	printf("posix_memalign(24, 8): %s\n", errname(r));
	r = posix_memalign(&p, sizeof(void *) / 2, 8);
	printf("posix_memalign(sizeof(void *)/2, 8): %s\n", errname(r));
	r = posix_memalign(&p, 64, huge);
	printf("posix_memalign(64, SIZE_MAX): %s\n", errname(r));
	r = posix_memalign(&p, 4096, 100);
	printf("posix_memalign(4096, 100): %s%s\n", errname(r),
	       r == 0 && ((uintptr_t)p & 4095) == 0 ? " aligned" : "");
	if (r == 0)
		free(p);

	errno = 0; p = aligned_alloc(3, 8);
	show_ptr("aligned_alloc(3, 8)", p, errno);
	errno = 0; p = aligned_alloc(64, huge);
	show_ptr("aligned_alloc(64, SIZE_MAX)", p, errno);
	p = aligned_alloc(256, 1000);
	printf("aligned_alloc(256, 1000): %s\n", p && ((uintptr_t)p & 255) == 0 ? "aligned" : "not aligned");
	free(p);
	errno = 0; p = memalign(64, huge);
	show_ptr("memalign(64, SIZE_MAX)", p, errno);
	errno = 0; p = memalign(half, 8);
	show_ptr("memalign(SIZE_MAX/2+1, 8)", p, errno);
	errno = 0; p = memalign(huge, 8);
	show_ptr("memalign(SIZE_MAX, 8)", p, errno);
	r = posix_memalign(&p, half, 8);
	printf("posix_memalign(SIZE_MAX/2+1, 8): %s\n", errname(r));
	/* not a power of two: memalign takes the next one */
	p = memalign(24, 8);
	printf("memalign(24, 8): %s\n", p == NULL ? "NULL" : ((uintptr_t)p & 31) == 0 ? "ptr, 32-aligned" : "ptr, not 32-aligned");
	free(p);
	errno = 0; p = valloc(huge);
	show_ptr("valloc(SIZE_MAX)", p, errno);

	p = malloc(0);
	printf("malloc(0): %s\n", p ? "unique pointer" : "NULL");
	free(p);
	free(NULL);
	printf("malloc_usable_size(NULL): %zu\n", malloc_usable_size(NULL));
	p = realloc(NULL, 16);
	printf("realloc(NULL, 16): %s\n", p && malloc_usable_size(p) >= 16 ? "ptr" : "bad");
	printf("kmm %s\n", dlsym(RTLD_DEFAULT, "kmm_version") ? "yes" : "no");
	free(p);
}

static void *use_malloc(void *arg)
{
	sink = malloc(100);
	free(sink);
	return arg;
}

/* The address of the arena kmm made for a second thread, read from the
 * first word of its heap (kmm's struct kmm_heap_info begins with it), if it
 * lies in one of kmm's buddy sections; NULL otherwise. */
static void *kmm_metadata_address(int (*report)(int, const char *))
{
	static char maps[1 << 16];
	pthread_t t;
	int fd[2];
	if (pthread_create(&t, NULL, use_malloc, NULL) != 0 || pthread_join(t, NULL) != 0 || pipe(fd) != 0)
		return NULL;
	report(fd[1], "maps");
	close(fd[1]);
	size_t n = 0;
	ssize_t r;
	while (n < sizeof maps - 1 && (r = read(fd[0], maps + n, sizeof maps - 1 - n)) > 0)
		n += (size_t)r;
	maps[n] = '\0';
	close(fd[0]);
	/* lines "START-END PERM  KIND ..." (hex addresses) */
	uintptr_t heap = 0, lo[16], hi[16];
	size_t nsec = 0;
	for (char *line = maps, *next; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		next = next != NULL ? next + 1 : line + strlen(line);
		char *dash = strchr(line, '-');
		if (dash == NULL || dash > next)
			continue;
		uintptr_t start = (uintptr_t)strtoull(line, NULL, 16), end = (uintptr_t)strtoull(dash + 1, NULL, 16);
		char *kind = strstr(line, "  ");
		if (kind == NULL || kind > next)
			continue;
		if (strncmp(kind + 2, "arena heap", 10) == 0 && heap == 0)
			heap = start;
		else if (strncmp(kind + 2, "buddy section", 13) == 0 && nsec < 16) {
			lo[nsec] = start;
			hi[nsec++] = end;
		}
	}
	if (heap == 0)
		return NULL;
	void *arena = *(void **)heap;
	for (size_t i = 0; i < nsec; i++)
		if ((uintptr_t)arena >= lo[i] && (uintptr_t)arena < hi[i])
			return arena;
	return NULL;
}

static void allocate_some(void)
{
	static void *keep[64];
	for (int i = 0; i < 64; i++)
		keep[i] = malloc((size_t)(i + 1) * 24);
	for (int i = 0; i < 64; i += 3) {
		free(keep[i]);
		keep[i] = NULL;
	}
	sink = malloc(300000);    /* one mapped chunk */
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	char stack[256] __attribute__((aligned(64)));
	char *volatile bad;
	char *p;

	memset(stack, 0, sizeof stack);
	if (strncmp(mode, "double-free", 11) == 0 || strncmp(mode, "free-", 5) == 0 ||
	    strstr(mode, "-poison") != NULL || strcmp(mode, "uaf-write") == 0 ||
	    strncmp(mode, "big-", 4) == 0 || strncmp(mode, "never-allocated", 15) == 0 ||
	    strncmp(mode, "realloc-", 8) == 0 || strncmp(mode, "header-", 7) == 0 ||
	    strncmp(mode, "xthread-", 8) == 0)
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);     /* no core file */

	if (strcmp(mode, "errno") == 0) {
		errno_cases();
	} else if (strcmp(mode, "free-kmm-metadata") == 0) {
		int (*report)(int, const char *) = (int (*)(int, const char *))dlsym(RTLD_DEFAULT, "kmm_report");
		if (report == NULL) {
			puts("kmm no");
			return 0;
		}
		bad = kmm_metadata_address(report);
		if (bad == NULL) {
			fputs("malloc_errors: no arena of kmm's found in a buddy section\n", stderr);
			return 1;
		}
		free(bad);
	} else if (strcmp(mode, "big-double-free") == 0) {
		p = malloc(1 << 20);
		free(p);
		bad = p;
		free(bad);
	} else if (strcmp(mode, "big-interior") == 0) {
		p = malloc(1 << 20);
		bad = p + 4096;
		free(bad);
	} else if (strcmp(mode, "big-misaligned") == 0) {
		p = malloc(1 << 20);
		bad = p + 24;
		free(bad);
	} else if (strcmp(mode, "never-allocated") == 0) {
		bad = (char *)(uintptr_t)0x1000000;
		free(bad);
	} else if (strcmp(mode, "never-allocated-in-page") == 0) {
		/* where a chunk header would be read, were it trusted */
		bad = (char *)(uintptr_t)0x1000010;
		free(bad);
	} else if (strcmp(mode, "realloc-stack") == 0) {
		bad = stack + 64;
		sink = realloc(bad, 100);
	} else if (strcmp(mode, "realloc-freed") == 0 || strcmp(mode, "realloc-freed-200") == 0) {
		size_t n = mode[13] == '-' ? 200 : 24;
		p = malloc(n);
		sink = p;
		free(p);
		bad = p;
		sink = realloc(bad, 2 * n);   /* the misuse */
	} else if (strcmp(mode, "header-overflow") == 0) {
		p = malloc(40);
		char *q = malloc(40);
		memset(p, 'A', 56);         /* 16 bytes past the block: q's header */
		free(q);
		free(p);
	} else if (strcmp(mode, "header-mbit") == 0) {
		/* a heap chunk (above the slab front end's sizes) whose M bit
		 * is set: kmm never makes mapped chunks, and only a sampling
		 * process (KMM_SAMPLE) marks in-use chunks with that bit */
		p = malloc(5000);
		*(volatile size_t *)((uintptr_t)p - sizeof(size_t)) |= 2;   /* (its header) */
		free(p);
	} else if (strcmp(mode, "uaf-write") == 0) {
		p = malloc(48);
		sink = p;
		free(p);
		bad = p;
		bad[30] = 'A';              /* the use after free */
		sink = malloc(48);
	} else if (strcmp(mode, "init-check") == 0) {
		static char line[64];
		p = malloc(64);
		memset(p, 0x55, 64);
		free(p);
		bad = p;
		unsigned after_free = (unsigned char)bad[40];
		char *q = malloc(64);
		snprintf(line, sizeof line, "after-free 0x%02x after-malloc 0x%02x%s", after_free,
			 (unsigned char)q[40], q == p ? "" : " (another block)");
		puts(line);
		return 0;
	} else if (strcmp(mode, "tcache-poison") == 0) {
		if (poison(48, 0) != 0)
			return 3;
	} else if (strcmp(mode, "fastbin-poison") == 0) {
		if (poison(48, 7) != 0)
			return 3;
	} else if (strcmp(mode, "xthread-cached") == 0) {
		xthread(true);
	} else if (strcmp(mode, "xthread-remote") == 0) {
		xthread(false);
	} else if (strcmp(mode, "double-free") == 0) {
		p = malloc(32);             /* a tcache-sized block */
		free(p);
		bad = p;
		free(bad);
	} else if (strcmp(mode, "double-free-unsorted") == 0) {
		p = malloc(2000);           /* above the tcache limit */
		sink = malloc(2000);        /* keeps p away from the top */
		free(p);
		bad = p;
		free(bad);
	} else if (strcmp(mode, "free-stack") == 0) {
		bad = stack + 64;
		free(bad);
	} else if (strcmp(mode, "free-stack-misaligned") == 0) {
		bad = stack + 8;
		free(bad);
	} else if (strcmp(mode, "free-middle") == 0) {
		p = malloc(256);
		memset(p, 0, 256);
		bad = p + 64;
		free(bad);
	} else if (strcmp(mode, "free-middle-misaligned") == 0) {
		p = malloc(256);
		memset(p, 0, 256);
		bad = p + 8;
		free(bad);
	} else if (strcmp(mode, "stats") == 0) {
		allocate_some();
		malloc_stats();
	} else if (strcmp(mode, "info-exact") == 0) {
		/* The same allocations must leave the same heap under glibc and
		 * kmm, down to every bin: stdout gets a static buffer so stdio
		 * allocates nothing, then malloc_info and malloc_stats. */
		static char obuf[1 << 16];
		static void *keep[600];
		setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
		for (int i = 0; i < 600; i++)
			keep[i] = malloc((size_t)(i % 150 + 1) * 24);
		for (int i = 0; i < 600; i += 2)
			free(keep[i]);            /* tcache, fastbins, unsorted */
		sink = malloc(300000);            /* a mapped chunk */
		sink = malloc(5000);              /* sorts the unsorted bin */
		for (int i = 1; i < 600; i += 6)
			free(keep[i]);            /* coalescing with free neighbours */
		malloc_info(0, stdout);
		fflush(stdout);
		malloc_stats();
		return 0;
	} else if (strcmp(mode, "info") == 0) {
		sink = malloc(100);
		malloc_info(0, stdout);
		allocate_some();
		malloc_info(0, stdout);
		return 0;
	} else {
		fprintf(stderr, "malloc_errors: unknown mode '%s'\n", mode);
		return 2;
	}
	printf("survived\n");
	return 0;
}
