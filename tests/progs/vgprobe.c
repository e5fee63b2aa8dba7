/*
 * vgprobe — a program with the bugs memcheck exists to find, for
 * tests/integration/memcheck-*.sh: run under valgrind with libkmm.so
 * preloaded, memcheck must report each at the line marked BUG-n below, and
 * nothing else.  Each bug is in its own noinline function so that the
 * reports name it.
 *
 * Usage: vgprobe          all of them, then checks on what must still work
 *                         (realloc keeps bytes and their definedness, calloc
 *                         is zeroed and defined); exits 0 unless a check fails
 */
/* as written: no inlining, no tail calls, no store dropped, so that the
 * reports name the functions and lines below whatever CFLAGS say */
#pragma GCC optimize("O0")

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *volatile sink;
char *vgprobe_global_block;   /* referenced from a global: not a leak */

__attribute__((noinline)) static void overflow_by_one(void)
{
	char *p = malloc(40);
	p[40] = 1;                                   /* BUG-1 invalid write, 0 bytes after 40 */
	free(p);
}

__attribute__((noinline)) static void use_after_free(void)
{
	char *p = malloc(56);
	memset(p, 0, 56);
	free(p);
	void *q = malloc(56);                        /* another block of the same size */
	p[3] = 2;                                    /* BUG-2 invalid write, inside a freed block */
	free(q);
}

__attribute__((noinline)) static int uninitialised_read(void)
{
	int *u = malloc(64 * sizeof(int));
	int r = 0;
	if (u[5] == 7)                               /* BUG-3 conditional jump on uninitialised */
		r = 1;
	free(u);
	return r;
}

__attribute__((noinline)) static void leak(void)
{
	sink = malloc(123);                          /* BUG-4 definitely lost: 123 bytes */
	sink = NULL;
}

__attribute__((noinline)) static void double_free(void)
{
	char *p = malloc(24);
	free(p);
	free(p);                                     /* BUG-5 invalid free */
}

/* Past the block's end and its slack lies the next chunk's header: read
 * and written back unchanged, so that kmm's own checks stay quiet. */
__attribute__((noinline)) static void header_overwrite(void)
{
	char *p = malloc(100);
	char *q = malloc(100);
	size_t next_header = (size_t)(q - p) - 8;    /* under glibc: its own layout */
	volatile char *h = p + next_header;
	char c = *h;                                 /* BUG-6 invalid read: q's header */
	*h = c;                                      /* BUG-7 invalid write: q's header */
	free(q);
	free(p);
}

/* What must keep working: no report from here. */
__attribute__((noinline)) static int still_works(void)
{
	int bad = 0;
	char *r = malloc(10);
	strcpy(r, "hello");
	r = realloc(r, 5000);                        /* moves */
	bad |= strcmp(r, "hello") != 0;
	r = realloc(r, 20);                          /* in place */
	bad |= strcmp(r, "hello") != 0;
	r = realloc(r, 30);                          /* in place again */
	bad |= r[0] != 'h';
	free(r);
	unsigned char *c = calloc(100, 10);
	for (int i = 0; i < 1000; i++)
		bad |= c[i] != 0;                    /* defined zeroes */
	free(c);
	vgprobe_global_block = malloc(77);
	memset(vgprobe_global_block, 1, 77);
	void *big = malloc(4 << 20);                 /* above the mmap threshold */
	memset(big, 3, 4 << 20);
	free(big);
	void *al;
	if (posix_memalign(&al, 4096, 1000) != 0 || ((unsigned long)al & 4095) != 0)
		bad = 1;
	else
		free(al);
	free(realloc(NULL, 33));
	bad |= realloc(malloc(8), 0) != NULL;
	return bad;
}

int main(void)
{
	overflow_by_one();
	use_after_free();
	int r = uninitialised_read();
	leak();
	double_free();
	header_overwrite();
	int bad = still_works();
	printf("vgprobe: %s\n", bad ? "FAILED" : "done");
	return bad ? 1 : r * 0;
}
