/*
 * mmap_threshold.c — requests under and at the 128 KiB mmap threshold.
 *
 * The seed slides: malloc uses brk() for requests under
 * DEFAULT_MMAP_THRESHOLD_MIN (128 KiB) and mmap() for requests at or above
 * it.  One detail the slides leave out: the threshold is only looked at
 * when the heap has to grow.  A request the free space at the end of the
 * heap (the "top chunk") can serve comes from the heap whatever its size
 * (step 2 below shows it).  So the program first uses up the top chunk,
 * and then:
 *
 *   malloc(128 KiB)          at the threshold: glibc gives it a mapping of
 *                            its own (mmap of 128 KiB + a 16-byte header,
 *                            rounded up to pages = 0x21000); kmm gives it a
 *                            vmalloc area (page frames moved with mremap
 *                            into kmm's reserved vmalloc space).  Either
 *                            way: not in [heap], and the break stays.
 *   malloc(128 KiB - 4 KiB)  just under: from the heap, the break grows
 *                            (by the request + 128 KiB of top pad).
 *
 * Where a block landed is read from /proc/self/maps: the [heap] line is
 * the brk heap, anything else is a mapping.
 *
 * Under strace (`strace -e trace=brk,mmap,munmap,mremap ./mmap_threshold`):
 * glibc shows mmap(NULL, 135168, ...) for the 128 KiB block (135168 =
 * 0x21000) and one brk(...) for the 124 KiB block.  Under kmm the first
 * big block sets kmm's kernel side up: an mmap of 128 MiB of page frames
 * (trimmed to an aligned 64 MiB with two munmaps) and the 4 GiB PROT_NONE
 * vmalloc space (mmap(NULL, 4294967296, PROT_NONE, ...)); the block itself
 * is one mremap(..., 131072, 131072, ...|MREMAP_DONTUNMAP, ...) moving 32
 * page frames into that space.  Then the same brk line as glibc.
 *
 * Whether kmm is there (dlsym(RTLD_DEFAULT, "kmm_report")) is only asked
 * at the end: under glibc a failed dlsym mallocs its error message, which
 * would change the heap we are watching.
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

#define KIB 1024

static char outbuf[8192];       /* printf must not malloc (see first_malloc.c) */
static char *start;             /* the initial break */
static int under_kmm;

static const char *size_str(size_t n)
{
	static char bufs[4][64];
	static unsigned i;
	char *b = bufs[i++ % 4];

	if (n % 4096 == 0)
		snprintf(b, 64, "%#zx = %zu KiB = %zu pages", n, n / 1024, n / 4096);
	else if (n % 1024 == 0)
		snprintf(b, 64, "%#zx = %zu KiB", n, n / 1024);
	else
		snprintf(b, 64, "%#zx = %zu bytes", n, n);
	return b;
}

/* Which line of /proc/self/maps holds p: "[heap]", "" (an anonymous
 * mapping), a file name, or NULL.  Read with open/read into a static
 * buffer: fopen would malloc. */
static const char *where(const void *p)
{
	static char maps[1 << 18];
	static char name[256];
	size_t len = 0;
	ssize_t n;
	int fd = open("/proc/self/maps", O_RDONLY);

	if (fd < 0)
		return NULL;
	while (len < sizeof maps - 1 && (n = read(fd, maps + len, sizeof maps - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	maps[len] = '\0';
	for (char *line = maps; *line; ) {
		char *eol = strchr(line, '\n');
		unsigned long lo, hi;
		if (eol)
			*eol = '\0';
		name[0] = '\0';
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %255[^\n]", &lo, &hi, name) >= 2 &&
		    (uintptr_t)p >= lo && (uintptr_t)p < hi)
			return name;
		if (!eol)
			break;
		line = eol + 1;
	}
	return NULL;
}

/* malloc(size) and say where the block went and what the break did. */
static void *try_malloc(size_t size, const char *why)
{
	char *before = sbrk(0);
	char *p = malloc(size);
	char *after = sbrk(0);
	const char *w;

	printf("\nmalloc(%zu) = %s: %s\n", size, size_str(size), why);
	if (!p) {
		printf("  malloc failed\n");
		exit(1);
	}
	w = where(p);
	if (w && !strcmp(w, "[heap]"))
		printf("  landed in [heap], at start + %#tx\n", p - start);
	else if (w && !*w)
		printf("  landed in an anonymous mapping, not in [heap]\n");
	else
		printf("  landed in %s\n", w ? w : "no mapping found in /proc/self/maps");
	if (after == before)
		printf("  the break did not move (start + %#tx)\n", after - start);
	else
		printf("  the break grew by %s, to start + %#tx\n",
		       size_str((size_t)(after - before)), after - start);
	return p;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: mmap_threshold\n"
"\n"
"Shows the 128 KiB mmap threshold: once the free space at the end of the\n"
"heap is used up, malloc(128 KiB) gets a mapping of its own (glibc: mmap;\n"
"kmm: a vmalloc area), while malloc(124 KiB) grows the heap with brk.\n"
"It also shows that a big request the heap can still serve comes from the\n"
"heap: the threshold only matters when the heap would have to grow.\n"
"\n"
"Try:  strace -e trace=brk,mmap,munmap,mremap ./mmap_threshold\n"
"      LD_PRELOAD=/path/to/libkmm.so ./mmap_threshold\n");
}

int main(int argc, char **argv)
{
	struct mallinfo2 mi;

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
	printf("offsets are from the initial break (\"start\")\n");

	/* 1. Set the heap up: the first malloc grows the break by 0x21000. */
	try_malloc(1 * KIB, "the first malloc, sets the heap up");
	mi = mallinfo2();
	printf("  free at the end of the heap (top chunk, mallinfo2 keepcost): %s\n",
	       size_str(mi.keepcost));

	/* 2. Use the top chunk up.  The request is over 128 KiB, yet it comes
	 *    from the heap: the top chunk can serve it, so the threshold is
	 *    not even looked at (the seed program's malloc(132000)). */
	try_malloc(mi.keepcost - 1 * KIB, "over the threshold, but the top chunk has room for it");
	mi = mallinfo2();
	printf("  free at the end of the heap now: %s\n", size_str(mi.keepcost));

	/* 3. At the threshold, with no room in the heap. */
	char *at = try_malloc(128 * KIB, "at the threshold, and the heap would have to grow");
	mi = mallinfo2();
	printf("  the block starts %zu bytes into its page; mallinfo2: %zu block(s) outside\n"
	       "  the heap, %s (hblks, hblkhd)\n",
	       (size_t)((uintptr_t)at % 4096), mi.hblks, size_str(mi.hblkhd));

	/* 4. Just under the threshold, with no room in the heap. */
	try_malloc(128 * KIB - 4 * KIB, "just under the threshold, and the heap would have to grow");
	printf("  from the heap: brk grew it by the request + 128 KiB of top pad,\n"
	       "  less the little that was left at the top, in whole pages\n");

	/* What the 128 KiB block is depends on the allocator. */
	under_kmm = dlsym(RTLD_DEFAULT, "kmm_report") != NULL;
	if (under_kmm)
		printf("\nkmm (kmm_report is defined): the 128 KiB block is a vmalloc area: 32 page\n"
		       "frames moved with mremap into kmm's vmalloc space.  It has no chunk header,\n"
		       "so it starts on a page and takes exactly 128 KiB (+ a guard page after it).\n");
	else
		printf("\nglibc (no kmm_report in this process): the 128 KiB block got an mmap of\n"
		       "its own: 128 KiB + its 16-byte chunk header, rounded up to pages = 0x21000\n"
		       "(strace: mmap(NULL, 135168, ...)); free() would munmap it.\n");
	return 0;
}
