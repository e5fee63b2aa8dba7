/*
 * test_rbtree.c — the intrusive red-black tree of the kernel side
 * (src/kernel/rbtree.c): plain and augmented, against brute-force models.
 *
 * Every test ends with kmm_rb_check() reporting no violation.  Random tests
 * print their seed in every failure message; rerun one by editing seeds[].
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/rbtree.h"
#include "ktest.h"

/* --- helpers ------------------------------------------------------------ */

static void shuffle(size_t *a, size_t n, uint64_t *s)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = rng_below(s, i), t = a[i - 1];

		a[i - 1] = a[j];
		a[j] = t;
	}
}

/* kmm_rb_check() must find nothing; fmt, ... describe the moment. */
#define CHECK_TREE(root, fmt, ...) do { \
	const char *why_ = NULL; \
	int v_ = kmm_rb_check(root, &why_); \
	cr_assert_eq(v_, 0, "%d rb violation(s), first: %s; at " fmt, \
		     v_, why_ ? why_ : "-", ##__VA_ARGS__); \
} while (0)

/* Height (in nodes) of the tree. */
static unsigned height(const struct kmm_rb_node *n)
{
	unsigned l, r;

	if (!n)
		return 0;
	l = height(n->left);
	r = height(n->right);
	return 1 + (l > r ? l : r);
}

/* height <= 2*log2(n+1)  <=>  2^height <= (n+1)^2 */
static bool height_ok(unsigned h, size_t n)
{
	unsigned __int128 lim = (unsigned __int128)(n + 1) * (n + 1);

	return h < 128 && ((unsigned __int128)1 << h) <= lim;
}

/* --- plain nodes keyed by an integer ------------------------------------ */

struct knode {
	long key;
	struct kmm_rb_node rb;
	bool in;
};

#define KNODE(n) kmm_rb_entry(n, struct knode, rb)

/* Equal keys go right: a new node follows the equal keys already there. */
static void k_insert(struct kmm_rb_root *root, struct knode *k)
{
	struct kmm_rb_node **link = &root->node, *parent = NULL;

	while (*link) {
		parent = *link;
		if (k->key < KNODE(parent)->key)
			link = &parent->left;
		else
			link = &parent->right;
	}
	kmm_rb_link_node(&k->rb, parent, link);
	kmm_rb_insert_color(&k->rb, root);
	k->in = true;
}

static void k_erase(struct kmm_rb_root *root, struct knode *k)
{
	kmm_rb_erase(&k->rb, root);
	k->in = false;
}

/* The model: the tree's nodes in order, as a sorted array. */
struct kmodel {
	struct knode **v;
	size_t n;
};

static void model_insert(struct kmodel *m, struct knode *k)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {	/* upper bound: after the equal keys */
		size_t mid = (lo + hi) / 2;

		if (m->v[mid]->key <= k->key)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&m->v[lo + 1], &m->v[lo], (m->n - lo) * sizeof *m->v);
	m->v[lo] = k;
	m->n++;
}

static void model_remove_at(struct kmodel *m, size_t i)
{
	memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof *m->v);
	m->n--;
}

static void verify_plain(const struct kmm_rb_root *root, const struct kmodel *m,
			 uint64_t seed, size_t op)
{
	const struct kmm_rb_node *n;
	size_t i = 0;

	for (n = kmm_rb_first(root); n; n = kmm_rb_next(n), i++) {
		cr_assert_lt(i, m->n, "seed %llu op %zu: next() walks past %zu nodes",
			     (unsigned long long)seed, op, m->n);
		cr_assert_eq(KNODE(n), m->v[i], "seed %llu op %zu: next() order wrong at %zu",
			     (unsigned long long)seed, op, i);
	}
	cr_assert_eq(i, m->n, "seed %llu op %zu: next() saw %zu of %zu nodes",
		     (unsigned long long)seed, op, i, m->n);
	for (n = kmm_rb_last(root); n; n = kmm_rb_prev(n)) {
		cr_assert_gt(i, 0, "seed %llu op %zu: prev() walks past the first",
			     (unsigned long long)seed, op);
		i--;
		cr_assert_eq(KNODE(n), m->v[i], "seed %llu op %zu: prev() order wrong at %zu",
			     (unsigned long long)seed, op, i);
	}
	cr_assert_eq(i, 0, "seed %llu op %zu: prev() missed %zu nodes",
		     (unsigned long long)seed, op, i);
	cr_assert_eq(kmm_rb_empty(root), m->n == 0);
	CHECK_TREE(root, "seed %llu op %zu", (unsigned long long)seed, op);
}

/* Test 1: random inserts and erases against the sorted-array model. */
Test(rbtree, random_vs_model)
{
	static const uint64_t seeds[] = { 1, 2, 3, 42, 0xdeadbeef, 20240601 };
	enum { POOL = 3000, OPS = 40000, EVERY = 7 };

	for (size_t s = 0; s < KMM_ARRAY_SIZE(seeds); s++) {
		uint64_t seed = seeds[s], st = seed;
		struct knode *pool = calloc(POOL, sizeof *pool);
		struct knode **freel = malloc(POOL * sizeof *freel);
		struct kmodel m = { malloc(POOL * sizeof *m.v), 0 };
		struct kmm_rb_root root = KMM_RB_ROOT;
		size_t nfree = POOL;
		/* Odd seeds use few distinct keys, so many keys are equal. */
		long keyrange = (seed & 1) ? 64 : 1000000;

		cr_assert(pool && freel && m.v);
		for (size_t i = 0; i < POOL; i++)
			freel[i] = &pool[i];
		for (size_t op = 0; op < OPS; op++) {
			/* Phases: grow, shrink to little, grow, churn. */
			unsigned phase = (unsigned)(op * 4 / OPS);
			unsigned pins = phase == 1 ? 20 : phase == 3 ? 50 : 75;
			bool ins = m.n == 0 || (nfree > 0 && rng_below(&st, 100) < pins);

			if (ins) {
				size_t j = rng_below(&st, nfree);
				struct knode *k = freel[j];

				freel[j] = freel[--nfree];
				k->key = (long)rng_below(&st, (size_t)keyrange) - keyrange / 2;
				k_insert(&root, k);
				model_insert(&m, k);
			} else {
				size_t i = rng_below(&st, m.n);
				struct knode *k = m.v[i];

				k_erase(&root, k);
				model_remove_at(&m, i);
				freel[nfree++] = k;
			}
			if (op % EVERY == 0 || m.n < 8)
				verify_plain(&root, &m, seed, op);
		}
		/* Erase what is left, from the front, then check the empty tree. */
		while (m.n) {
			k_erase(&root, m.v[0]);
			model_remove_at(&m, 0);
			if (m.n % 64 == 0)
				verify_plain(&root, &m, seed, OPS);
		}
		verify_plain(&root, &m, seed, OPS);
		cr_assert_null(root.node);
		free(pool);
		free(freel);
		free(m.v);
	}
}

/* --- augmented: vmalloc-style free ranges ------------------------------- */

/*
 * A free range keyed by start.  Two augmented values, maintained by
 * different callback sets: smax (vmalloc's subtree_max_size) and cnt (the
 * number of nodes in the subtree, which every shape change alters, so it
 * catches a missed update that a max might hide).
 */
struct range {
	struct kmm_rb_node rb;
	uintptr_t start;
	size_t size;
	size_t smax;
	size_t cnt;
	bool in;
};

#define RANGE(n) kmm_rb_entry(n, struct range, rb)

/* subtree_max_size: the worked example of rbtree.h. */
static size_t smax_of(const struct kmm_rb_node *n)
{
	return n ? RANGE(n)->smax : 0;
}

static size_t smax_compute(const struct range *r)
{
	size_t m = r->size;

	if (smax_of(r->rb.left) > m)
		m = smax_of(r->rb.left);
	if (smax_of(r->rb.right) > m)
		m = smax_of(r->rb.right);
	return m;
}

static void smax_propagate(struct kmm_rb_node *n, struct kmm_rb_node *stop)
{
	for (; n != stop; n = kmm_rb_parent(n)) {
		struct range *r = RANGE(n);
		size_t m = smax_compute(r);

		if (r->smax == m)
			break;	/* early exit: nothing above changes */
		r->smax = m;
	}
}

/* The same without the early exit. */
static void smax_propagate_full(struct kmm_rb_node *n, struct kmm_rb_node *stop)
{
	for (; n != stop; n = kmm_rb_parent(n))
		RANGE(n)->smax = smax_compute(RANGE(n));
}

static void smax_copy(struct kmm_rb_node *from, struct kmm_rb_node *to)
{
	RANGE(to)->smax = RANGE(from)->smax;
}

static void smax_rotate(struct kmm_rb_node *from, struct kmm_rb_node *to)
{
	RANGE(to)->smax = RANGE(from)->smax;
	RANGE(from)->smax = smax_compute(RANGE(from));
}

static const struct kmm_rb_augment_ops smax_ops = {
	smax_propagate, smax_copy, smax_rotate,
};
static const struct kmm_rb_augment_ops smax_full_ops = {
	smax_propagate_full, smax_copy, smax_rotate,
};

/* Subtree node count, with early exit. */
static size_t cnt_of(const struct kmm_rb_node *n)
{
	return n ? RANGE(n)->cnt : 0;
}

static size_t cnt_compute(const struct range *r)
{
	return 1 + cnt_of(r->rb.left) + cnt_of(r->rb.right);
}

static void cnt_propagate(struct kmm_rb_node *n, struct kmm_rb_node *stop)
{
	for (; n != stop; n = kmm_rb_parent(n)) {
		struct range *r = RANGE(n);
		size_t c = cnt_compute(r);

		if (r->cnt == c)
			break;
		r->cnt = c;
	}
}

static void cnt_copy(struct kmm_rb_node *from, struct kmm_rb_node *to)
{
	RANGE(to)->cnt = RANGE(from)->cnt;
}

static void cnt_rotate(struct kmm_rb_node *from, struct kmm_rb_node *to)
{
	RANGE(to)->cnt = RANGE(from)->cnt;
	RANGE(from)->cnt = cnt_compute(RANGE(from));
}

static const struct kmm_rb_augment_ops cnt_ops = {
	cnt_propagate, cnt_copy, cnt_rotate,
};

static void r_insert(struct kmm_rb_root *root, struct range *r,
		     const struct kmm_rb_augment_ops *ops)
{
	struct kmm_rb_node **link = &root->node, *parent = NULL;

	while (*link) {
		parent = *link;
		if (r->start < RANGE(parent)->start)
			link = &parent->left;
		else
			link = &parent->right;
	}
	kmm_rb_link_node(&r->rb, parent, link);
	kmm_rb_insert_augmented(&r->rb, root, ops);
	r->in = true;
}

static void r_erase(struct kmm_rb_root *root, struct range *r,
		    const struct kmm_rb_augment_ops *ops)
{
	kmm_rb_erase_augmented(&r->rb, root, ops);
	r->in = false;
}

/* The lowest-start range with size >= want (find_vmap_lowest_match). */
static struct range *lowest_match(const struct kmm_rb_root *root, size_t want)
{
	struct kmm_rb_node *n = root->node;

	while (n) {
		if (smax_of(n->left) >= want)
			n = n->left;
		else if (RANGE(n)->size >= want)
			return RANGE(n);
		else if (smax_of(n->right) >= want)
			n = n->right;
		else
			return NULL;
	}
	return NULL;
}

/* The k-th range in order (0-based), by subtree counts. */
static struct range *select_kth(const struct kmm_rb_root *root, size_t k)
{
	struct kmm_rb_node *n = root->node;

	while (n) {
		size_t l = cnt_of(n->left);

		if (k < l) {
			n = n->left;
		} else if (k == l) {
			return RANGE(n);
		} else {
			k -= l + 1;
			n = n->right;
		}
	}
	return NULL;
}

/* Recompute both values from scratch; count nodes whose stored one differs. */
static void oracle(const struct kmm_rb_node *n, size_t *smax, size_t *cnt,
		   size_t *bad_smax, size_t *bad_cnt)
{
	size_t lm = 0, lc = 0, rm = 0, rc = 0, m;
	const struct range *r;

	if (!n) {
		*smax = *cnt = 0;
		return;
	}
	r = RANGE(n);
	oracle(n->left, &lm, &lc, bad_smax, bad_cnt);
	oracle(n->right, &rm, &rc, bad_smax, bad_cnt);
	m = r->size;
	if (lm > m)
		m = lm;
	if (rm > m)
		m = rm;
	*smax = m;
	*cnt = 1 + lc + rc;
	*bad_smax += r->smax != *smax;
	*bad_cnt += r->cnt != *cnt;
}

enum { AUG_SMAX = 1, AUG_CNT = 2 };

static size_t random_size(uint64_t *st)
{
	switch (rng_below(st, 8)) {
	case 0:
		return 1 + rng_below(st, 100000);	/* a rare big one */
	case 1:
		return 1;
	default:
		return 1 + rng_below(st, 512);
	}
}

/* Give a node about to be inserted a stale augmented value. */
static void poison(struct range *r, uint64_t *st)
{
	switch (rng_below(st, 3)) {
	case 0:
		r->smax = r->size;	/* what it will be as a leaf */
		r->cnt = 1;
		break;
	case 1:
		r->smax = 0;
		r->cnt = 0;
		break;
	default:
		r->smax = rng_next(st);
		r->cnt = rng_next(st);
		break;
	}
}

static void verify_aug(const struct kmm_rb_root *root, const struct range *pool, size_t npool,
		       size_t nin, unsigned what, uint64_t *st, uint64_t seed, size_t op)
{
	size_t smax, cnt, bad_smax = 0, bad_cnt = 0, i = 0;
	const struct kmm_rb_node *n;

	oracle(root->node, &smax, &cnt, &bad_smax, &bad_cnt);
	cr_assert_eq(cnt, nin, "seed %llu op %zu: %zu nodes in tree, model has %zu",
		     (unsigned long long)seed, op, cnt, nin);
	if (what & AUG_SMAX)
		cr_assert_eq(bad_smax, 0, "seed %llu op %zu: %zu stale subtree_max_size",
			     (unsigned long long)seed, op, bad_smax);
	if (what & AUG_CNT)
		cr_assert_eq(bad_cnt, 0, "seed %llu op %zu: %zu stale subtree counts",
			     (unsigned long long)seed, op, bad_cnt);

	/* In order = ascending pool index (start = index * stride). */
	n = kmm_rb_first(root);
	for (size_t j = 0; j < npool; j++) {
		if (!pool[j].in)
			continue;
		cr_assert_eq(n, &pool[j].rb, "seed %llu op %zu: in-order walk wrong at #%zu",
			     (unsigned long long)seed, op, i);
		if (what & AUG_CNT)
			cr_assert_eq(select_kth(root, i), &pool[j],
				     "seed %llu op %zu: select(%zu) wrong",
				     (unsigned long long)seed, op, i);
		n = kmm_rb_next(n);
		i++;
	}
	cr_assert_null(n, "seed %llu op %zu: in-order walk too long", (unsigned long long)seed, op);
	if (what & AUG_CNT)
		cr_assert_null(select_kth(root, i));

	/* Lowest-match queries, against a linear scan; the last one asks for
	 * the largest size exactly or one more (no fit). */
	for (size_t q = 0; q < 4; q++) {
		size_t want = q == 3 ? smax + 1 - (smax > 0 && rng_below(st, 2))
				     : random_size(st);
		const struct range *expect = NULL;

		for (size_t j = 0; j < npool && !expect; j++)
			if (pool[j].in && pool[j].size >= want)
				expect = &pool[j];
		if (what & AUG_SMAX)
			cr_assert_eq(lowest_match(root, want), expect,
				     "seed %llu op %zu: lowest_match(%zu) wrong (expected %s)",
				     (unsigned long long)seed, op, want,
				     expect ? "a range" : "no fit");
	}
	CHECK_TREE(root, "seed %llu op %zu", (unsigned long long)seed, op);
}

static void run_augmented(const struct kmm_rb_augment_ops *ops, unsigned what)
{
	static const uint64_t seeds[] = { 7, 99, 123456789 };
	enum { POOL = 1024, OPS = 12000, STRIDE = 1 << 20 };

	for (size_t s = 0; s < KMM_ARRAY_SIZE(seeds); s++) {
		uint64_t seed = seeds[s], st = seed;
		struct range *pool = calloc(POOL, sizeof *pool);
		size_t *inl = malloc(POOL * sizeof *inl), nin = 0;
		size_t *outl = malloc(POOL * sizeof *outl), nout = POOL;
		struct kmm_rb_root root = KMM_RB_ROOT;

		cr_assert(pool && inl && outl);
		for (size_t i = 0; i < POOL; i++) {
			pool[i].start = (uintptr_t)(i + 1) * STRIDE;
			outl[i] = i;
		}
		verify_aug(&root, pool, POOL, 0, what, &st, seed, 0);
		for (size_t op = 0; op < OPS; op++) {
			unsigned phase = (unsigned)(op * 4 / OPS);
			unsigned pins = phase == 1 ? 25 : phase == 3 ? 50 : 70;
			unsigned dice = (unsigned)rng_below(&st, 100);

			if (nin > 0 && dice < 10) {
				/* Resize in place (a free range grows or shrinks
				 * where it is), then propagate as the header says. */
				struct range *r = &pool[inl[rng_below(&st, nin)]];

				r->size = random_size(&st);
				ops->propagate(&r->rb, NULL);
			} else if (nin == 0 || (nout > 0 && dice < 10 + pins * 90 / 100)) {
				size_t j = rng_below(&st, nout), id = outl[j];

				outl[j] = outl[--nout];
				inl[nin++] = id;
				pool[id].size = random_size(&st);
				poison(&pool[id], &st);
				r_insert(&root, &pool[id], ops);
			} else {
				size_t j = rng_below(&st, nin), id = inl[j];

				inl[j] = inl[--nin];
				outl[nout++] = id;
				r_erase(&root, &pool[id], ops);
			}
			verify_aug(&root, pool, POOL, nin, what, &st, seed, op + 1);
		}
		while (nin) {
			size_t id = inl[--nin];

			r_erase(&root, &pool[id], ops);
			verify_aug(&root, pool, POOL, nin, what, &st, seed, OPS);
		}
		cr_assert_null(root.node);
		free(pool);
		free(inl);
		free(outl);
	}
}

/* Test 2: vmalloc's free-area tree, with the early-exit propagate. */
Test(rbtree, augmented_subtree_max)
{
	run_augmented(&smax_ops, AUG_SMAX);
}

/* Same, with a propagate that never exits early. */
Test(rbtree, augmented_subtree_max_full_propagate)
{
	run_augmented(&smax_full_ops, AUG_SMAX);
}

/* Subtree counts: every structural change shows; select(k) vs the model. */
Test(rbtree, augmented_subtree_count)
{
	run_augmented(&cnt_ops, AUG_CNT);
}

/* --- edge cases --------------------------------------------------------- */

Test(rbtree, empty_and_single)
{
	struct kmm_rb_root root = KMM_RB_ROOT;
	struct knode a = { .key = 5 };
	const char *why = "x";

	cr_assert(kmm_rb_empty(&root));
	cr_assert_null(kmm_rb_first(&root));
	cr_assert_null(kmm_rb_last(&root));
	cr_assert_eq(kmm_rb_check(&root, &why), 0);
	cr_assert_null(why);

	k_insert(&root, &a);
	cr_assert_eq(root.node, &a.rb);
	cr_assert(!kmm_rb_is_red(&a.rb), "the root must be black");
	cr_assert_null(kmm_rb_parent(&a.rb));
	cr_assert_eq(kmm_rb_first(&root), &a.rb);
	cr_assert_eq(kmm_rb_last(&root), &a.rb);
	cr_assert_null(kmm_rb_next(&a.rb));
	cr_assert_null(kmm_rb_prev(&a.rb));
	CHECK_TREE(&root, "single");

	k_erase(&root, &a);
	cr_assert(kmm_rb_empty(&root));
	kmm_rb_clear_node(&a.rb);
	cr_assert(kmm_rb_node_is_clear(&a.rb));
	k_insert(&root, &a);
	cr_assert(!kmm_rb_node_is_clear(&a.rb));
	cr_assert(!kmm_rb_is_red(NULL) && kmm_rb_is_black(NULL));
	CHECK_TREE(&root, "reinserted");
}

enum { K_ROOT, K_LEAF, K_ONE_CHILD, K_TWO_NEAR, K_TWO_DEEP, K_NR };

static const char *const kind_names[K_NR] = {
	"root", "leaf", "one child", "two children, successor is the right child",
	"two children, successor deeper",
};

static bool is_kind(const struct kmm_rb_node *n, int kind)
{
	switch (kind) {
	case K_ROOT:
		return kmm_rb_parent(n) == NULL;
	case K_LEAF:
		return !n->left && !n->right;
	case K_ONE_CHILD:
		return !n->left != !n->right;
	case K_TWO_NEAR:
		return n->left && n->right && !n->right->left;
	default:
		return n->left && n->right && n->right->left;
	}
}

/*
 * Build trees of every size up to 80 (and a few larger) from a shuffled
 * insertion order, erase one node of each kind, and check order and rules.
 */
Test(rbtree, erase_each_kind)
{
	static const size_t sizes_extra[] = { 100, 127, 128, 129, 255, 256, 1000 };
	size_t hits[K_NR] = { 0 };
	uint64_t st = 77;

	for (size_t t = 1; t <= 80 + KMM_ARRAY_SIZE(sizes_extra); t++) {
		size_t n = t <= 80 ? t : sizes_extra[t - 81];

		for (int kind = 0; kind < K_NR; kind++) {
			struct knode *pool = calloc(n, sizeof *pool);
			struct kmodel m = { malloc(n * sizeof *m.v), 0 };
			struct kmm_rb_root root = KMM_RB_ROOT;
			size_t *order = malloc(n * sizeof *order), victim = n;

			cr_assert(pool && m.v && order);
			for (size_t i = 0; i < n; i++)
				order[i] = i;
			shuffle(order, n, &st);
			for (size_t i = 0; i < n; i++) {
				pool[order[i]].key = (long)order[i];
				k_insert(&root, &pool[order[i]]);
			}
			for (size_t i = 0; i < n; i++)
				m.v[i] = &pool[i];
			m.n = n;
			verify_plain(&root, &m, 77, n);
			for (size_t i = 0; i < n && victim == n; i++)
				if (is_kind(&pool[i].rb, kind))
					victim = i;
			if (victim < n) {
				hits[kind]++;
				k_erase(&root, &pool[victim]);
				model_remove_at(&m, victim);
				verify_plain(&root, &m, 77, n * 10 + (size_t)kind);
			}
			free(pool);
			free(m.v);
			free(order);
		}
	}
	for (int kind = 0; kind < K_NR; kind++)
		cr_assert_gt(hits[kind], 10, "never erased a node of kind \"%s\"", kind_names[kind]);
}

/* Erase the root until the tree is empty; then leaves until empty. */
Test(rbtree, erase_root_and_leaves_until_empty)
{
	enum { N = 600 };
	static struct knode pool[N];
	static struct knode *mv[N];
	uint64_t st = 5;

	for (int pass = 0; pass < 2; pass++) {
		struct kmm_rb_root root = KMM_RB_ROOT;
		struct kmodel m = { mv, 0 };
		size_t order[N];

		for (size_t i = 0; i < N; i++)
			order[i] = i;
		shuffle(order, N, &st);
		for (size_t i = 0; i < N; i++) {
			pool[order[i]].key = (long)order[i];
			k_insert(&root, &pool[order[i]]);
		}
		for (size_t i = 0; i < N; i++)
			mv[i] = &pool[i];
		m.n = N;
		verify_plain(&root, &m, 5, 0);
		while (m.n) {
			struct knode *k;
			size_t i;

			if (pass == 0) {
				k = KNODE(root.node);
			} else {
				struct kmm_rb_node *n = root.node;

				while (n->left || n->right)	/* down to some leaf */
					n = n->left && (!n->right || rng_below(&st, 2)) ? n->left
											   : n->right;
				k = KNODE(n);
			}
			for (i = 0; m.v[i] != k; i++)
				;
			k_erase(&root, k);
			model_remove_at(&m, i);
			verify_plain(&root, &m, 5, N - m.n);
		}
		cr_assert_null(root.node);
		CHECK_TREE(&root, "pass %d", pass);
	}
}

/* Ascending and descending insertions keep the height logarithmic. */
Test(rbtree, sorted_sequences_stay_balanced)
{
	enum { N = 100000 };
	struct knode *pool = calloc(N, sizeof *pool);

	cr_assert(pool);
	for (int dir = 0; dir < 2; dir++) {
		struct kmm_rb_root root = KMM_RB_ROOT;

		for (size_t i = 0; i < N; i++) {
			struct knode *k = &pool[i];

			k->key = dir == 0 ? (long)i : -(long)i;
			k_insert(&root, k);
			if (((i + 1) & i) == 0 || i + 1 == N) {	/* sizes 1, 2, 4, ... */
				unsigned h = height(root.node);

				cr_assert(height_ok(h, i + 1), "%s: height %u for %zu nodes",
					  dir ? "descending" : "ascending", h, i + 1);
				CHECK_TREE(&root, "dir %d size %zu", dir, i + 1);
			}
		}
		/* In order: ascending keys. */
		long prev = 0;
		size_t cnt = 0;

		for (struct kmm_rb_node *n = kmm_rb_first(&root); n; n = kmm_rb_next(n), cnt++) {
			cr_assert(cnt == 0 || KNODE(n)->key > prev);
			prev = KNODE(n)->key;
		}
		cr_assert_eq(cnt, N);
		/* Erase from the smallest key up, i.e. always the first node. */
		for (size_t left = N; left > 0; left--) {
			struct kmm_rb_node *first = kmm_rb_first(&root);

			k_erase(&root, KNODE(first));
			if (((left - 1) & (left - 2)) == 0 && left > 1) {
				unsigned h = height(root.node);

				cr_assert(height_ok(h, left - 1), "erasing: height %u for %zu nodes",
					  h, left - 1);
				CHECK_TREE(&root, "dir %d erasing, %zu left", dir, left - 1);
			}
		}
		cr_assert_null(root.node);
		CHECK_TREE(&root, "dir %d empty", dir);
	}
	free(pool);
}

/* The checker itself finds each kind of damage, in hand-built trees. */
Test(rbtree, checker_detects_violations)
{
	struct kmm_rb_node a, b, c, d;
	struct kmm_rb_root root = { &a };
	const char *why;

#define LINK(n, p, color, l, r) do { \
	(n)->parent_color = (uintptr_t)(p) | (color); \
	(n)->left = (l); \
	(n)->right = (r); \
} while (0)

	/* A valid three-node tree, then each damage on a copy of it. */
	LINK(&a, NULL, KMM_RB_BLACK, &b, &c);
	LINK(&b, &a, KMM_RB_RED, NULL, NULL);
	LINK(&c, &a, KMM_RB_RED, NULL, NULL);
	cr_assert_eq(kmm_rb_check(&root, &why), 0);
	cr_assert_null(why);

	LINK(&a, NULL, KMM_RB_RED, &b, &c);
	cr_assert_geq(kmm_rb_check(&root, &why), 1);
	cr_assert_str_eq(why, "root is red");

	LINK(&a, &d, KMM_RB_BLACK, &b, &c);
	cr_assert_eq(kmm_rb_check(&root, &why), 1);
	cr_assert_str_eq(why, "root has a parent");

	LINK(&a, NULL, KMM_RB_BLACK, &b, &c);
	LINK(&c, &b, KMM_RB_RED, NULL, NULL);	/* wrong parent */
	cr_assert_eq(kmm_rb_check(&root, &why), 1);
	cr_assert_str_eq(why, "child's parent pointer does not name its parent");

	LINK(&a, NULL, KMM_RB_BLACK, &b, &b);	/* same child twice */
	cr_assert_geq(kmm_rb_check(&root, &why), 1);
	cr_assert_str_eq(why, "a node has the same child on both sides");

	LINK(&a, NULL, KMM_RB_BLACK, &b, NULL);	/* red, red */
	LINK(&b, &a, KMM_RB_RED, &c, NULL);
	LINK(&c, &b, KMM_RB_RED, NULL, NULL);
	cr_assert_eq(kmm_rb_check(&root, &why), 1);
	cr_assert_str_eq(why, "red node with a red child");

	LINK(&a, NULL, KMM_RB_BLACK, &b, NULL);	/* black heights 1 and 0 */
	LINK(&b, &a, KMM_RB_BLACK, NULL, NULL);
	cr_assert_eq(kmm_rb_check(&root, &why), 1);
	cr_assert_str_eq(why, "black heights differ between the two sides of a node");

	LINK(&a, NULL, KMM_RB_BLACK, &b, NULL);	/* a cycle back to the root */
	LINK(&b, &a, KMM_RB_RED, &a, NULL);
	cr_assert_geq(kmm_rb_check(&root, &why), 1);
	cr_assert_str_eq(why, "child's parent pointer does not name its parent");

	LINK(&a, NULL, KMM_RB_BLACK, &b, NULL);	/* a cycle with right parents */
	LINK(&b, &a, KMM_RB_BLACK, &c, NULL);
	LINK(&c, &b, KMM_RB_BLACK, &b, NULL);
	cr_assert_geq(kmm_rb_check(&root, &why), 1);
	cr_assert_not_null(why);

	/* A chain too deep for any valid tree: stopped, not walked to the end. */
	enum { CHAIN = 300 };
	static struct kmm_rb_node chain[CHAIN];

	for (size_t i = 0; i < CHAIN; i++)
		LINK(&chain[i], i ? &chain[i - 1] : NULL, KMM_RB_BLACK,
		     i + 1 < CHAIN ? &chain[i + 1] : NULL, NULL);
	root.node = &chain[0];
	cr_assert_geq(kmm_rb_check(&root, &why), 1);
	cr_assert_str_eq(why, "tree deeper than any valid red-black tree");
	cr_assert_geq(kmm_rb_check(&root, NULL), 1);

	/* And the empty tree is fine. */
	root.node = NULL;
	CHECK_TREE(&root, "empty");
#undef LINK
}

/* --- scale -------------------------------------------------------------- */

/* Test 4: a million random inserts, then erasing them all in another order. */
Test(rbtree, million_nodes)
{
	enum { N = 1000000 };
	struct knode *pool = calloc(N, sizeof *pool);
	size_t *order = malloc(N * sizeof *order);
	struct kmm_rb_root root = KMM_RB_ROOT;
	uint64_t st = 1000003;
	size_t cnt = 0;
	long prev = 0;

	cr_assert(pool && order);
	for (size_t i = 0; i < N; i++)
		order[i] = i;
	shuffle(order, N, &st);
	for (size_t i = 0; i < N; i++) {
		pool[order[i]].key = (long)order[i];
		k_insert(&root, &pool[order[i]]);
	}
	CHECK_TREE(&root, "after %d inserts", N);
	cr_assert(height_ok(height(root.node), N));
	for (struct kmm_rb_node *n = kmm_rb_first(&root); n; n = kmm_rb_next(n), cnt++) {
		cr_assert(cnt == 0 || KNODE(n)->key > prev);
		prev = KNODE(n)->key;
	}
	cr_assert_eq(cnt, N);
	shuffle(order, N, &st);
	for (size_t i = 0; i < N; i++) {
		k_erase(&root, &pool[order[i]]);
		if (i == N / 2)
			CHECK_TREE(&root, "half erased");
	}
	cr_assert_null(root.node);
	CHECK_TREE(&root, "after erasing all");
	free(pool);
	free(order);
}

/* The same at scale with the augmented tree (oracle walks at a few points). */
Test(rbtree, million_ranges_augmented)
{
	enum { N = 1000000 };
	struct range *pool = calloc(N, sizeof *pool);
	size_t *order = malloc(N * sizeof *order);
	struct kmm_rb_root root = KMM_RB_ROOT;
	uint64_t st = 31337;
	size_t smax, cnt, bad_smax = 0, bad_cnt = 0;

	cr_assert(pool && order);
	for (size_t i = 0; i < N; i++) {
		order[i] = i;
		pool[i].start = (uintptr_t)(i + 1) << 12;
		pool[i].size = random_size(&st);
		pool[i].cnt = 1;
	}
	shuffle(order, N, &st);
	for (size_t i = 0; i < N; i++)
		r_insert(&root, &pool[order[i]], &smax_ops);
	oracle(root.node, &smax, &cnt, &bad_smax, &bad_cnt);
	cr_assert_eq(cnt, N);
	cr_assert_eq(bad_smax, 0);
	/* Queries against a linear scan. */
	for (int q = 0; q < 20; q++) {
		size_t want = q == 0 ? smax + 1 : random_size(&st), j = 0;

		while (j < N && pool[j].size < want)
			j++;
		cr_assert_eq(lowest_match(&root, want), j < N ? &pool[j] : NULL,
			     "lowest_match(%zu)", want);
	}
	CHECK_TREE(&root, "after %d inserts", N);
	shuffle(order, N, &st);
	for (size_t i = 0; i < N; i++) {
		r_erase(&root, &pool[order[i]], &smax_ops);
		if (i == N / 2) {
			bad_smax = bad_cnt = 0;
			oracle(root.node, &smax, &cnt, &bad_smax, &bad_cnt);
			cr_assert_eq(cnt, N - N / 2 - 1);
			cr_assert_eq(bad_smax, 0);
			CHECK_TREE(&root, "half erased");
		}
	}
	cr_assert_null(root.node);
	CHECK_TREE(&root, "after erasing all");
	free(pool);
	free(order);
}
