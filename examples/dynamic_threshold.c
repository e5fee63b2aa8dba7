/*
 * dynamic_threshold.c — glibc's dynamic mmap threshold.
 *
 * The seed slides note: "glibc uses the dynamic mmap threshold" (man
 * mallopt).  The threshold starts at 128 KiB; when a block that got its
 * own mapping is freed, glibc raises the threshold to that block's size
 * (up to 32 MiB) and the trim threshold to twice that.  The next malloc of
 * the same size is then under the threshold and comes from the heap: the
 * break grows instead of a new mmap.
 *
 * This program: malloc(1 KiB) to set the heap up, malloc(1 MiB) (a
 * mapping), free it, malloc(1 MiB) again, free it; it reports where each
 * block landed and what the break did.
 *
 * kmm's default (threshold_rule=cache) keeps the threshold at 128 KiB: the
 * freed block's page frames stay in kmm's page cache, in memory, and the
 * second malloc(1 MiB) is again a vmalloc area: the same area, with the
 * same frames.  KMM_OPTIONS=profile=glibc gives glibc's rule: run it
 * both ways.
 *
 * Under strace (`strace -e trace=brk,mmap,munmap,mremap ./dynamic_threshold`):
 *   glibc:  mmap(NULL, 1052672, ...)   the first 1 MiB (+ header, in pages)
 *           munmap(..., 1052672)       its free
 *           brk(...)                   the second 1 MiB, from the heap
 *   kmm:    mremap(F, 1048576, 1048576, ..., A)   the first block: frames F
 *                                                 moved to the area A
 *           mmap(A, 1048576, PROT_NONE, ...)      its free: A emptied, the
 *                                                 frames stay at F
 *           mremap(F, 1048576, 1048576, ..., A)   the second block: the same
 *           (before the first block, kmm's one-time set-up: mmaps of its
 *           frame pool and of its 4 GiB vmalloc space); no brk.  With
 *           profile=glibc the second malloc is a brk(...) line, as
 *           under glibc.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* RTLD_DEFAULT */
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB (1024 * 1024)

static char outbuf[8192];       /* printf must not malloc (see first_malloc.c) */
static char *start;             /* the initial break */

static const char *size_str(size_t n)
{
	static char bufs[4][64];
	static unsigned i;
	char *b = bufs[i++ % 4];

	if (n % 4096 == 0)
		snprintf(b, 64, "%#zx = %zu KiB = %zu pages", n, n / 1024, n / 4096);
	else
		snprintf(b, 64, "%#zx = %zu bytes", n, n);
	return b;
}

/* Is p inside the [heap] line of /proc/self/maps?  (Read with open/read:
 * fopen would malloc.) */
static int in_heap(const void *p)
{
	static char maps[1 << 18];
	size_t len = 0;
	ssize_t n;
	int fd = open("/proc/self/maps", O_RDONLY);

	if (fd < 0)
		return 0;
	while (len < sizeof maps - 1 && (n = read(fd, maps + len, sizeof maps - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	maps[len] = '\0';
	for (char *line = maps; line && *line; ) {
		unsigned long lo, hi;
		char *eol = strchr(line, '\n');
		if (eol)
			*eol = '\0';
		if (strstr(line, "[heap]") && sscanf(line, "%lx-%lx", &lo, &hi) == 2)
			return (uintptr_t)p >= lo && (uintptr_t)p < hi;
		line = eol ? eol + 1 : NULL;
	}
	return 0;
}

/* Say where p landed and how the break moved since `before`. */
static void report(const char *what, const char *p, const char *before)
{
	char *after = sbrk(0);

	printf("%s\n", what);
	if (p) {
		if (in_heap(p))
			printf("  landed in [heap], at start + %#tx\n", p - start);
		else
			printf("  landed in a mapping, not in [heap]\n");
	}
	if (after == before)
		printf("  the break did not move (start + %#tx)\n", after - start);
	else if (after > before)
		printf("  the break grew by %s, to start + %#tx\n",
		       size_str((size_t)(after - before)), after - start);
	else
		printf("  the break went down by %s, to start + %#tx\n",
		       size_str((size_t)(before - after)), after - start);
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: dynamic_threshold\n"
"\n"
"Shows glibc's dynamic mmap threshold: malloc(1 MiB) gets a mapping; once it\n"
"is freed, glibc raises the threshold to its size, so the next malloc(1 MiB)\n"
"comes from the heap (the break grows).  kmm's default keeps the threshold\n"
"and gives the same vmalloc area back; KMM_OPTIONS=profile=glibc\n"
"makes kmm behave like glibc.\n"
"\n"
"Try:  strace -e trace=brk,mmap,munmap,mremap ./dynamic_threshold\n"
"      LD_PRELOAD=/path/to/libkmm.so ./dynamic_threshold\n"
"      LD_PRELOAD=/path/to/libkmm.so KMM_OPTIONS=profile=glibc ./dynamic_threshold\n");
}

int main(int argc, char **argv)
{
	char *before, *first, *second;

	if (argc > 1) {
		if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
			usage(stdout);
			return 0;
		}
		usage(stderr);
		return 2;
	}
	setvbuf(stdout, outbuf, _IOLBF, sizeof outbuf);
	start = sbrk(0);
	printf("offsets are from the initial break (\"start\")\n\n");

	before = sbrk(0);
	char *small = malloc(1024);
	report("malloc(1 KiB): sets the heap up", small, before);

	before = sbrk(0);
	first = malloc(MIB);
	if (!first)
		return 1;
	report("\nmalloc(1 MiB): over the 128 KiB threshold, the top chunk has no room", first, before);

	before = sbrk(0);
	free(first);
	report("\nfree() of that block", NULL, before);

	before = sbrk(0);
	second = malloc(MIB);
	if (!second)
		return 1;
	report("\nmalloc(1 MiB) again", second, before);
	int heap2 = in_heap(second);
	if (second == first)
		printf("  at the same address as the first 1 MiB block\n");

	before = sbrk(0);
	free(second);
	report("\nfree() of the second block", NULL, before);

	/* Asked last: under glibc a failed dlsym mallocs its error message. */
	int under_kmm = dlsym(RTLD_DEFAULT, "kmm_report") != NULL;
	printf("\n");
	if (!under_kmm && heap2)
		printf("glibc: freeing the mapped 1 MiB block raised the mmap threshold to its\n"
		       "size (1 MiB + a 4 KiB page for the header) and the trim threshold to\n"
		       "twice that.  So the second malloc(1 MiB) was under the threshold and came\n"
		       "from the heap (the break grew), and freeing it kept the memory: the free\n"
		       "space at the top stayed under the raised trim threshold.\n");
	else if (!under_kmm)
		printf("glibc: the second block got a mapping too: the dynamic threshold is off\n"
		       "(M_MMAP_THRESHOLD or MALLOC_MMAP_THRESHOLD_ was set?).\n");
	else if (!heap2)
		printf("kmm, default rule (threshold_rule=cache): the threshold stays 128 KiB.\n"
		       "free() kept the block's page frames in kmm's page cache, still in memory\n"
		       "(strace: one mmap(PROT_NONE) emptying the area), and the second\n"
		       "malloc(1 MiB) was a vmalloc area again: the same area, the same frames\n"
		       "moved back (one mremap).  Neither moved the break.  Run with\n"
		       "KMM_OPTIONS=profile=glibc to see glibc's behaviour.\n");
	else
		printf("kmm with profile=glibc: as glibc, freeing the big block raised\n"
		       "the threshold to its size, so the second malloc(1 MiB) came from the heap\n"
		       "and the break grew; freeing it kept the memory (trim threshold raised too).\n");
	return 0;
}
