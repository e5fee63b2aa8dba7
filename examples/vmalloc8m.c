/*
 * vmalloc8m.c — an 8 MiB block: the seed's vmalloc example, in user space.
 *
 * The seed slides follow vmalloc(8 MB) in the kernel: alloc_vmap_area()
 * finds a virtual range (va_start .. va_end), the vm_struct has
 * size = 0x801000 ("w/ guard page": 8 MiB + one unmapped 4 KiB page that
 * catches overruns) and nr_pages = 0x800 (2048) page frames, each mapped
 * at once.  /proc/vmallocinfo lists such areas.
 *
 * Under kmm (LD_PRELOAD=libkmm.so) malloc(8 MiB) is exactly that: a
 * vmalloc area in kmm's reserved vmalloc space, 2048 pages and a guard page
 * after them.  kmm_report(fd, "vmallocinfo") prints kmm's /proc/vmallocinfo:
 * look for the line with 8392704 (= 0x801000) and pages=2048.  With
 * KMM_OPTIONS=vmalloc_frames=on (or profile=glibc, as `kmm compare` runs
 * it) the pages are 2048 page frames of kmm's buddy allocator moved in with
 * mremap, and the pages[] array that lists them (2048 pointers = 16 KiB,
 * more than a page) is a vmalloc area too, as in the kernel: the
 * "vmalloc:pages[]" line.  By default the area is demand-paged: its range
 * is made read-write in place, no frames, no pages[].
 *
 * Under glibc, malloc(8 MiB) is an mmap of 8 MiB + the 16-byte chunk
 * header, rounded up to pages: 0x801000 as well, but the extra page holds
 * the header and the block's end, it is no guard.  There is no
 * vmallocinfo: that part needs kmm.
 *
 * Under strace (`strace -e trace=mmap,munmap,mremap ./vmalloc8m`):
 *   glibc: mmap(NULL, 8392704, PROT_READ|PROT_WRITE, ...)   (8392704 = 0x801000)
 *   kmm:   after its one-time set-up (mmaps of its frame pool and of its
 *          4 GiB PROT_NONE vmalloc space), by default
 *          mmap(va_start, 8388608, PROT_READ|PROT_WRITE, MAP_FIXED...);
 *          with vmalloc_frames=on mremap(..., 16384, ...) for
 *          pages[], then mremap(..., 8388608, 8388608, ...|MREMAP_DONTUNMAP,
 *          va_start): the 2048 frames moved in (one call per run of
 *          contiguous frames).  At the end, free(): mremaps moving the frames
 *          back and an mmap(va_start, 8388608, PROT_NONE, ...) emptying the
 *          area.
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

#define SIZE (8u * 1024 * 1024)

static char outbuf[8192];       /* printf must not malloc (see first_malloc.c) */

/* "rw-p, 0x801000 bytes, anonymous": one line of /proc/self/maps in words,
 * without its addresses (they change from run to run). */
static void describe(const char *l, char *out, size_t n, size_t *size)
{
	unsigned long lo = 0, hi = 0;
	char one[512], perms[8] = "?", name[256] = "";

	snprintf(one, sizeof one, "%.*s", (int)strcspn(l, "\n"), l);  /* this line only */
	if (sscanf(one, "%lx-%lx %7s %*s %*s %*s %255[^\n]", &lo, &hi, perms, name) < 3) {
		snprintf(out, n, "(none)");
		*size = 0;
		return;
	}
	*size = hi - lo;
	snprintf(out, n, "%s, %#lx bytes, %s", perms, hi - lo, *name ? name : "anonymous");
}

/* The mapping holding p and the one after it, from /proc/self/maps (read
 * with open/read: fopen would malloc).  Returns 0 if p is in no mapping. */
static int mapping_of(const void *p, char *line, char *next, size_t n, size_t *size)
{
	static char maps[1 << 18];
	size_t len = 0, nsize;
	ssize_t r;
	int fd = open("/proc/self/maps", O_RDONLY);

	if (fd < 0)
		return 0;
	while (len < sizeof maps - 1 && (r = read(fd, maps + len, sizeof maps - 1 - len)) > 0)
		len += (size_t)r;
	close(fd);
	maps[len] = '\0';
	for (char *l = maps; l && *l; ) {
		unsigned long lo, hi;
		char *eol = strchr(l, '\n');
		if (eol)
			*eol = '\0';
		if (sscanf(l, "%lx-%lx", &lo, &hi) == 2 && (uintptr_t)p >= lo && (uintptr_t)p < hi) {
			describe(l, line, n, size);
			describe(eol ? eol + 1 : "", next, n, &nsize);
			return 1;
		}
		l = eol ? eol + 1 : NULL;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: vmalloc8m\n"
"\n"
"malloc(8 MiB), the seed's vmalloc example.  Under kmm the block is a vmalloc\n"
"area: kmm_report(1, \"vmallocinfo\") shows it as 8392704 bytes = 0x801000\n"
"(8 MiB + one guard page) with pages=2048.  Under glibc it is an mmap of\n"
"0x801000 bytes (8 MiB + a page for the 16-byte chunk header); the\n"
"vmallocinfo part needs kmm.\n"
"\n"
"Try:  LD_PRELOAD=/path/to/libkmm.so ./vmalloc8m\n"
"      strace -e trace=mmap,munmap,mremap ./vmalloc8m\n");
}

int main(int argc, char **argv)
{
	char line[512], next[512];

	if (argc > 1) {
		if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
			usage(stdout);
			return 0;
		}
		usage(stderr);
		return 2;
	}
	setvbuf(stdout, outbuf, _IOLBF, sizeof outbuf);

	char *p = malloc(SIZE);
	if (!p) {
		perror("malloc");
		return 1;
	}
	/* Touch every page, as vmalloc maps every page at once. */
	memset(p, 0x5a, SIZE);

	struct mallinfo2 mi = mallinfo2();
	printf("malloc(8 MiB = %#x bytes)\n", SIZE);
	printf("  the block starts %zu bytes into a page\n", (size_t)((uintptr_t)p % 4096));
	printf("  mallinfo2: %zu block(s) outside the heap, %#zx bytes (hblks, hblkhd)\n",
	       mi.hblks, mi.hblkhd);
	size_t vma = 0;
	if (mapping_of(p, line, next, sizeof line, &vma))
		printf("  /proc/self/maps: the mapping holding it: %s\n"
		       "                   the next one:          %s\n", line, next);

	/* Asked after the malloc: under glibc a failed dlsym mallocs. */
	int (*report)(int, const char *) =
		(int (*)(int, const char *))dlsym(RTLD_DEFAULT, "kmm_report");

	if (report) {
		printf("\nkmm: the block is a vmalloc area\n");
		printf("  va_start = %p\n  va_end   = %p  (va_start + 0x801000: 8 MiB + the guard page)\n",
		       (void *)p, (void *)(p + SIZE + 4096));
		printf("  in /proc/self/maps: 8 MiB read/write, then ---p: the guard page is the\n"
		       "  first page of the reserved, inaccessible vmalloc space after it\n");
		printf("\nkmm_report(1, \"vmallocinfo\"):\n");
		fflush(stdout);
		report(1, "vmallocinfo");
		printf("\n8392704 = 0x801000 = 0x800000 + one 4 KiB guard page; pages=2048 =\n"
		       "8 MiB / 4 KiB pages (the seed: size = 0x801000, nr_pages = 0x800);\n"
		       "resident=2048: all in memory, this program touched every page.  With\n"
		       "KMM_OPTIONS=vmalloc_frames=on (profile=glibc) the pages are buddy frames\n"
		       "moved in with mremap, and a vmalloc:pages[] line is the array of the\n"
		       "2048 frames: 16 KiB, more than a page, so it is a vmalloc area too (with\n"
		       "its own guard page).  By default the area is demand-paged: its range was\n"
		       "made read-write in place, without frames or pages[].\n");
	} else {
		printf("\nglibc: the block has an mmap of its own: 8 MiB + the 16-byte chunk header,\n"
		       "rounded up to pages = %#zx bytes (strace: mmap(NULL, 8392704, ...)).\n"
		       "The extra page holds the header and the end of the block: it is no guard\n"
		       "page.  The vmallocinfo part of this experiment needs kmm:\n"
		       "LD_PRELOAD=libkmm.so ./vmalloc8m\n", mi.hblkhd);
		if (vma > mi.hblkhd)
			printf("(The maps line is %#zx bytes more: the kernel merged the mapping\n"
			       "with an anonymous mapping next to it.)\n", vma - mi.hblkhd);
	}
	free(p);
	return 0;
}
