/*
 * guardprobe — what a write just outside a block does, for
 * tests/integration/guard.sh (KMM_OPTIONS=guard=SIZE, docs/hardening.md).
 *
 * Usage: guardprobe MODE SIZE
 *   over     malloc(SIZE), write the byte just past malloc_usable_size
 *   under    malloc(SIZE), write the byte just before the block
 *   where    malloc(SIZE): print "page-aligned" or "in-page" and the
 *            usable size
 * The writes kill the process with SIGSEGV when a guard page is there;
 * otherwise it prints "survived" and leaves with _exit(0), without freeing
 * (the write may have broken a chunk header).
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: guardprobe over|under|where SIZE\n");
		return 2;
	}
	size_t size = strtoul(argv[2], NULL, 0);
	volatile char *p = malloc(size);
	if (p == NULL) {
		perror("malloc");
		return 2;
	}
	size_t usable = malloc_usable_size((void *)p);
	if (strcmp(argv[1], "where") == 0) {
		printf("%s %zu\n", ((uintptr_t)p & 4095) == 0 ? "page-aligned" : "in-page", usable);
		return 0;
	}
	fflush(stdout);
	if (strcmp(argv[1], "over") == 0)
		p[usable] = 1;
	else if (strcmp(argv[1], "under") == 0)
		/* the byte before the block, as an address: p[-1] is outside
		 * the object malloc returned (-Warray-bounds) */
		*(volatile char *)((uintptr_t)p - 1) = 1;
	else
		return 2;
	printf("survived\n");
	fflush(stdout);
	_exit(0);
}
