/*
 * bench/bintree.c — workload "bintree": binary trees, after the Computer
 * Language Benchmarks Game's binary-trees and Boehm's GCBench.
 *
 * Models programs built of many small linked nodes with nested lifetimes:
 * parse trees, DOMs, symbol tables, the per-request object graphs of
 * interpreters.  A tree is built bottom-up (children before their parent)
 * as a complete binary tree of 32-byte nodes (two child pointers, a name
 * pointer and a value), walked to check every node, and torn down again
 * (post-order: every node checked, then freed after its children).  Half
 * of the nodes also own a small string (strdup-like, 8..40 bytes with the
 * NUL), so two sizes interleave in the heap as in real node graphs.
 *
 * As in binary-trees: first one "stretch" tree of depth MAXDEPTH + 1 is
 * built, checked and freed; then one long-lived tree of depth MAXDEPTH is
 * built and kept to the end; meanwhile, for depths d = MINDEPTH, MINDEPTH +
 * 2, ... up to MAXDEPTH (4, 6, ..., 14), 2^(MAXDEPTH - d + MINDEPTH)
 * short-lived trees of depth d are built, checked and freed one after
 * another (about the same number of nodes per depth).  Unlike binary-trees it is single-threaded and its
 * nodes carry payload and strings that are written and checked; unlike
 * GCBench nothing is left to a collector: every node is freed explicitly.
 *
 * -s scales the number of short-lived trees of each depth (at least one).
 */
#include "common.h"
#include "align.h"

#define MINDEPTH 4
#define MAXDEPTH 15

struct node {
	struct node *left, *right;
	char *name;             /* NULL, or 8..40 bytes with the NUL */
	uint64_t val;
};

_Static_assert(sizeof(struct node) == 32, "32-byte nodes");

static inline uint64_t node_val(uint64_t seed, uint64_t idx)
{
	return bench_mix(seed ^ (idx * 0x9e3779b97f4a7c15ULL));
}

static inline char name_char(uint64_t val, size_t k)
{
	return (char)('a' + (val >> 8) % 7 + (k * 5 + (val >> 16)) % 19);
}

static inline size_t name_len(uint64_t val)
{
	return 7 + (size_t)((val >> 24) % 34);          /* 7..40 */
}

/* A complete tree of `depth` levels below its root; node idx's children
 * are 2 idx and 2 idx + 1 (the root is 1), and its value is derived from
 * the tree's seed and idx. */
static struct node *build(int depth, uint64_t idx, uint64_t seed)
{
	struct node *l = NULL, *r = NULL, *n;
	uint64_t val = node_val(seed, idx);
	char *name = NULL;

	if (depth > 0) {
		l = build(depth - 1, 2 * idx, seed);
		r = build(depth - 1, 2 * idx + 1, seed);
	}
	if (val & 1) {
		size_t len = name_len(val), k;

		name = bench_malloc(len + 1);
		bench_check_align(name, len + 1, bench_malloc_align(len + 1), "malloc");
		for (k = 0; k < len; k++)
			name[k] = name_char(val, k);
		name[len] = '\0';
	}
	n = bench_malloc(sizeof *n);
	bench_check_align(n, sizeof *n, bench_malloc_align(sizeof *n), "malloc");
	n->left = l;
	n->right = r;
	n->name = name;
	n->val = val;
	return n;
}

/* Check one node's own contents; return a checksum term. */
static uint64_t check_node(const struct node *n, int depth, uint64_t idx, uint64_t seed)
{
	uint64_t want = node_val(seed, idx), sum;
	size_t len, k;

	if (n->val != want)
		bench_die("tree node %p (depth %d, index %" PRIu64 ") corrupted: value", (void *)n,
			  depth, idx);
	if ((depth > 0) != (n->left != NULL && n->right != NULL) ||
	    (depth == 0 && (n->left != NULL || n->right != NULL)))
		bench_die("tree node %p (depth %d, index %" PRIu64 ") corrupted: children",
			  (void *)n, depth, idx);
	sum = want;
	if ((want & 1) != (n->name != NULL))
		bench_die("tree node %p (index %" PRIu64 ") corrupted: name pointer", (void *)n, idx);
	if (n->name != NULL) {
		len = name_len(want);
		for (k = 0; k < len; k++)
			if (n->name[k] != name_char(want, k))
				break;
		if (k < len || n->name[len] != '\0')
			bench_die("name %p of tree node %" PRIu64 " corrupted at byte %zu",
				  (void *)n->name, idx, k);
		sum += (unsigned char)n->name[len - 1];
	}
	return sum;
}

/* binary-trees' itemCheck: walk the whole tree. */
static uint64_t walk(const struct node *n, int depth, uint64_t idx, uint64_t seed)
{
	uint64_t sum = check_node(n, depth, idx, seed);

	if (depth > 0) {
		sum += walk(n->left, depth - 1, 2 * idx, seed);
		sum += walk(n->right, depth - 1, 2 * idx + 1, seed) * 3;
	}
	return sum;
}

static uint64_t teardown(struct node *n, int depth, uint64_t idx, uint64_t seed)
{
	uint64_t sum = check_node(n, depth, idx, seed);

	if (depth > 0) {
		sum += teardown(n->left, depth - 1, 2 * idx, seed);
		sum += teardown(n->right, depth - 1, 2 * idx + 1, seed);
	}
	free(n->name);
	free(n);
	return sum;
}

/* Build, walk and free one tree. */
static uint64_t one_tree(int depth, uint64_t seed)
{
	struct node *t = build(depth, 1, seed);
	uint64_t sum = walk(t, depth, 1, seed);

	return sum ^ teardown(t, depth, 1, seed);
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct node *longlived;
	uint64_t sum, seed_long = 0x6c6f6e67ULL, trees = 0;
	int d;

	bench_parse(argc, argv,
		    "Complete binary trees of 32-byte nodes (half with an 8..40-byte\n"
		    "string) built, walked and freed, depths 4..14, beside one long-lived\n"
		    "tree (binary-trees, GCBench).", 0, &a);

	sum = one_tree(MAXDEPTH + 1, 0x73747265746368ULL);
	longlived = build(MAXDEPTH, 1, seed_long);
	for (d = MINDEPTH; d <= MAXDEPTH; d += 2) {
		uint64_t n = bench_scaled((uint64_t)1 << (MAXDEPTH - d + MINDEPTH), a.scale), i;

		for (i = 0; i < n; i++)
			sum += bench_mix(one_tree(d, ((uint64_t)d << 32) | i) + (uint64_t)d);
		trees += n;
	}
	sum += walk(longlived, MAXDEPTH, 1, seed_long) * 5;
	sum += teardown(longlived, MAXDEPTH, 1, seed_long) * 7;
	bench_print_checksum(sum ^ trees);
	return 0;
}
