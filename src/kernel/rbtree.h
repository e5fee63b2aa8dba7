/*
 * rbtree.h — an intrusive red-black tree, optionally augmented.
 *
 * THEORY
 *
 * A red-black tree is a binary search tree whose nodes are coloured so that
 *
 *   (1) the root is black,
 *   (2) a red node has no red child,
 *   (3) every path from a node down to a missing child (NULL) meets the same
 *       number of black nodes (the "black height").
 *
 * Together these bound the height by 2*log2(n+1), so lookups, insertions and
 * erasures are O(log n).  After a node is linked in as a red leaf, or after a
 * node is cut out, a short fix-up recolours nodes and makes at most two
 * (insert) or three (erase) rotations to restore the rules.
 *
 * The tree is intrusive: the caller embeds a struct kmm_rb_node in its own
 * object and gets the object back with kmm_rb_entry().  The tree itself never
 * compares keys: the caller walks down from the root, chooses where the new
 * node goes (so it decides the order, and what to do with equal keys), links
 * it with kmm_rb_link_node() and then calls kmm_rb_insert_color() to
 * rebalance.  Nothing here allocates, locks or prints.
 *
 *	struct thing { unsigned long key; struct kmm_rb_node rb; };
 *
 *	void thing_insert(struct kmm_rb_root *root, struct thing *t)
 *	{
 *		struct kmm_rb_node **link = &root->node, *parent = NULL;
 *
 *		while (*link) {
 *			parent = *link;
 *			if (t->key < kmm_rb_entry(parent, struct thing, rb)->key)
 *				link = &parent->left;
 *			else
 *				link = &parent->right;
 *		}
 *		kmm_rb_link_node(&t->rb, parent, link);
 *		kmm_rb_insert_color(&t->rb, root);
 *	}
 *
 * AUGMENTATION
 *
 * An augmented tree keeps in every node a value that summarises the node's
 * whole subtree, such as vmalloc's subtree_max_size (the largest free range
 * below and including the node).  Such a value only depends on the node's
 * own data and on its two children's values, and it changes only when the
 * shape of the tree changes, which happens in three ways, each reported to
 * the caller through one callback of struct kmm_rb_augment_ops:
 *
 *   - a node enters or leaves some subtree: the values on the path above it
 *     are stale and are recomputed bottom-up (propagate);
 *   - a rotation swaps a parent and a child: the subtree they head keeps the
 *     same nodes, so the child that moved up takes the old top's value, and
 *     only the node that moved down needs recomputing (rotate);
 *   - erasing a node with two children moves its in-order successor into its
 *     place (copy, followed by propagate).
 *
 * Recolouring never changes a value.  See struct kmm_rb_augment_ops for the
 * exact contract and a complete worked example.
 */
#ifndef KMM_KERNEL_RBTREE_H
#define KMM_KERNEL_RBTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/compiler.h"

/*
 * A tree node, embedded in the caller's object.  parent_color holds the
 * parent's address with the colour in bit 0 (0 = red, 1 = black); nodes are
 * therefore at least 2-byte aligned, which any struct holding pointers is.
 * The fields are the tree's business: use the accessors below.
 */
struct kmm_rb_node {
	uintptr_t parent_color;
	struct kmm_rb_node *left, *right;
};

/* The tree: a pointer to its root node, NULL when empty. */
struct kmm_rb_root {
	struct kmm_rb_node *node;
};

#define KMM_RB_RED	0u
#define KMM_RB_BLACK	1u

/* An empty tree, for initialisation: struct kmm_rb_root r = KMM_RB_ROOT; */
#define KMM_RB_ROOT	((struct kmm_rb_root){ NULL })

/*
 * The object that embeds the node `ptr` (a struct kmm_rb_node *) as its
 * member `member`: kmm_rb_entry(n, struct thing, rb).  ptr must not be NULL.
 */
#define kmm_rb_entry(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* As kmm_rb_entry(), but NULL gives NULL (handy for possibly-missing children). */
#define kmm_rb_entry_or_null(ptr, type, member) __extension__ ({ \
	struct kmm_rb_node *kmm_rb_p_ = (ptr); \
	kmm_rb_p_ ? kmm_rb_entry(kmm_rb_p_, type, member) : (type *)NULL; \
})

/* The parent of n, NULL for the root. */
KMM_INLINE struct kmm_rb_node *kmm_rb_parent(const struct kmm_rb_node *n)
{
	return (struct kmm_rb_node *)(n->parent_color & ~(uintptr_t)1);
}

/* Whether n is red; NULL (a missing child) counts as black. */
KMM_INLINE bool kmm_rb_is_red(const struct kmm_rb_node *n)
{
	return n && (n->parent_color & 1) == KMM_RB_RED;
}

/* Whether n is black; NULL counts as black. */
KMM_INLINE bool kmm_rb_is_black(const struct kmm_rb_node *n)
{
	return !kmm_rb_is_red(n);
}

/* Whether the tree holds no node. */
KMM_INLINE bool kmm_rb_empty(const struct kmm_rb_root *root)
{
	return root->node == NULL;
}

/*
 * Mark a node as "in no tree" (its parent pointer points to itself, which
 * never happens in a tree), so kmm_rb_node_is_clear() can tell later.  The
 * tree never does this by itself: kmm_rb_erase() leaves the erased node's
 * fields as they were; call this after erasing if you need the mark.
 */
KMM_INLINE void kmm_rb_clear_node(struct kmm_rb_node *n)
{
	n->parent_color = (uintptr_t)n;
}

/* Whether n was marked by kmm_rb_clear_node() (and not linked since). */
KMM_INLINE bool kmm_rb_node_is_clear(const struct kmm_rb_node *n)
{
	return n->parent_color == (uintptr_t)n;
}

/*
 * Step 1 of an insertion: put `node` at `*link`, which must be NULL and be
 * &parent->left, &parent->right, or &root->node with parent NULL.  The node
 * becomes a red leaf; the tree may now break rule (2) until step 2,
 * kmm_rb_insert_color() or kmm_rb_insert_augmented(), is called.
 */
KMM_INLINE void kmm_rb_link_node(struct kmm_rb_node *node, struct kmm_rb_node *parent,
				 struct kmm_rb_node **link)
{
	node->parent_color = (uintptr_t)parent;	/* red */
	node->left = node->right = NULL;
	*link = node;
}

/*
 * Step 2 of an insertion into a plain (non-augmented) tree: rebalance after
 * kmm_rb_link_node().  O(log n) recolourings, at most two rotations.
 */
void kmm_rb_insert_color(struct kmm_rb_node *node, struct kmm_rb_root *root);

/*
 * Remove `node` from a plain tree.  The node's own fields are left as they
 * were (see kmm_rb_clear_node()); every other node keeps its in-order
 * position.  O(log n), at most three rotations.
 */
void kmm_rb_erase(struct kmm_rb_node *node, struct kmm_rb_root *root);

/*
 * Callbacks that keep an augmented value right.  Write V(n) for node n's
 * stored value and F(n) for the value computed from n's own data and the
 * stored values of n's current children (a missing child contributes
 * nothing).  The tree is consistent when V(n) == F(n) for every n.
 *
 * propagate(node, stop)
 *	For n = node, then its parent, and so on, until n is `stop` or NULL
 *	(the parent of the root): set V(n) = F(n).  `stop` itself is not
 *	touched; stop == NULL means "up to and including the root".  The
 *	tree always passes a non-NULL node different from stop, and a stop
 *	that is NULL or an ancestor of node.
 *	Early exit is allowed: once a recomputed F(n) equals the V(n) already
 *	stored, propagate may return without visiting n's ancestors.  The
 *	tree only calls propagate where that is safe (every ancestor's value
 *	was computed from n's old value), and the caller may rely on the same
 *	when it changes a node's own data in place (see below).
 *
 * copy(from, to)
 *	Erase is removing `from`, which has two children, and `to`, its
 *	in-order successor, has just been moved into from's place: set
 *	V(to) = V(from).  The tree then calls propagate on the path from to's
 *	old position up through `to` to the root, fixing everything.
 *
 * rotate(from, to)
 *	A rotation has just made `to` (a child of `from`) take from's place,
 *	with `from` now a child of `to`.  The links are final when rotate is
 *	called.  Set V(to) = V(from) (the pair heads the same set of nodes
 *	as before), then V(from) = F(from) (from's children are already
 *	right).
 *
 * How the tree uses them:
 *   kmm_rb_insert_augmented(node):  propagate(node, parent(node)) (so the
 *	new node's value need not be initialised), then propagate(parent(node),
 *	NULL), then the rebalancing rotations, each followed by rotate().
 *   kmm_rb_erase_augmented(node):  after unlinking, propagate() from the
 *	lowest node whose subtree lost a node (with copy() first in the
 *	two-children case), then the rebalancing rotations with rotate().
 *
 * Changing a node's own data in place (e.g. growing a free range that stays
 * where it is in key order): store the new data, then run your propagate
 * function on the node with stop = NULL.  Changing a key so that the node
 * would move in key order requires erase + insert instead.
 *
 * Worked example: vmalloc-style free ranges keyed by start, augmented with
 * the largest size in each subtree (tests/unit/test_rbtree.c uses exactly
 * this).
 *
 *	struct range {
 *		struct kmm_rb_node rb;
 *		uintptr_t start;
 *		size_t size;
 *		size_t subtree_max_size;
 *	};
 *	#define RANGE(n) kmm_rb_entry(n, struct range, rb)
 *
 *	static size_t child_max(struct kmm_rb_node *n)
 *	{
 *		return n ? RANGE(n)->subtree_max_size : 0;
 *	}
 *
 *	static size_t range_compute(struct range *r)     // F(n)
 *	{
 *		size_t m = r->size;
 *		if (child_max(r->rb.left) > m)
 *			m = child_max(r->rb.left);
 *		if (child_max(r->rb.right) > m)
 *			m = child_max(r->rb.right);
 *		return m;
 *	}
 *
 *	static void range_propagate(struct kmm_rb_node *n, struct kmm_rb_node *stop)
 *	{
 *		for (; n != stop; n = kmm_rb_parent(n)) {
 *			struct range *r = RANGE(n);
 *			size_t m = range_compute(r);
 *			if (r->subtree_max_size == m)
 *				break;                  // early exit: allowed
 *			r->subtree_max_size = m;
 *		}
 *	}
 *
 *	static void range_copy(struct kmm_rb_node *from, struct kmm_rb_node *to)
 *	{
 *		RANGE(to)->subtree_max_size = RANGE(from)->subtree_max_size;
 *	}
 *
 *	static void range_rotate(struct kmm_rb_node *from, struct kmm_rb_node *to)
 *	{
 *		RANGE(to)->subtree_max_size = RANGE(from)->subtree_max_size;
 *		RANGE(from)->subtree_max_size = range_compute(RANGE(from));
 *	}
 *
 *	static const struct kmm_rb_augment_ops range_ops = {
 *		range_propagate, range_copy, range_rotate,
 *	};
 *
 * (Loop condition note: `n != stop` also ends at the root when stop is NULL,
 * because the root's parent is NULL.)
 */
struct kmm_rb_augment_ops {
	void (*propagate)(struct kmm_rb_node *node, struct kmm_rb_node *stop);
	void (*copy)(struct kmm_rb_node *from, struct kmm_rb_node *to);
	void (*rotate)(struct kmm_rb_node *from, struct kmm_rb_node *to);
};

/*
 * Step 2 of an insertion into an augmented tree: after kmm_rb_link_node(),
 * bring the values on the new node's path up to date and rebalance, keeping
 * them right (see struct kmm_rb_augment_ops).  The caller need not touch any
 * augmented value during its descent, nor initialise the new node's value.
 */
void kmm_rb_insert_augmented(struct kmm_rb_node *node, struct kmm_rb_root *root,
			     const struct kmm_rb_augment_ops *ops);

/*
 * Remove `node` from an augmented tree, keeping every remaining node's value
 * right (see struct kmm_rb_augment_ops).  The erased node's fields, value
 * included, are left as they were.
 */
void kmm_rb_erase_augmented(struct kmm_rb_node *node, struct kmm_rb_root *root,
			    const struct kmm_rb_augment_ops *ops);

/* The first (leftmost) node in order, NULL if the tree is empty.  O(log n). */
struct kmm_rb_node *kmm_rb_first(const struct kmm_rb_root *root);

/* The last (rightmost) node in order, NULL if the tree is empty.  O(log n). */
struct kmm_rb_node *kmm_rb_last(const struct kmm_rb_root *root);

/*
 * The node after `node` in order, NULL after the last.  O(1) amortised over
 * a whole traversal, O(log n) worst case.  The tree must not change between
 * the calls of a traversal (erase the current node only after stepping on).
 */
struct kmm_rb_node *kmm_rb_next(const struct kmm_rb_node *node);

/* The node before `node` in order, NULL before the first.  As kmm_rb_next(). */
struct kmm_rb_node *kmm_rb_prev(const struct kmm_rb_node *node);

/*
 * Check the red-black rules and the links (key order is the caller's
 * business): the root has no parent and is black, no red node has a red
 * child, every path has the same black height, every child's parent pointer
 * names its parent, no node has the same child twice, and the depth stays
 * within what a valid tree of any size can reach (so a cycle is reported,
 * not followed forever).  Returns the number of violations found (0 for a
 * valid tree); if `why` is not NULL it is set to a static string naming the
 * first violation, or to NULL when there is none.  O(n), no allocation.
 */
int kmm_rb_check(const struct kmm_rb_root *root, const char **why);

#endif /* KMM_KERNEL_RBTREE_H */
