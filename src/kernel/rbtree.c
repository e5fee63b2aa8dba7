/*
 * rbtree.c — red-black tree rebalancing, erasure, traversal and checking.
 *
 * THEORY (the textbook algorithms, see rbtree.h for the rules)
 *
 * Insertion.  The new node z arrives as a red leaf, so only rule (2) can
 * break: z and its parent p are both red.  Then p is not the root, so the
 * grandparent g exists and is black.  Let u be p's sibling (z's uncle):
 *
 *   u red    recolour: p and u black, g red.  Black heights are unchanged;
 *            the problem (if any) moves two levels up, to g.  Repeat.
 *   u black  at most two rotations finish the job: if z is an "inner"
 *            grandchild (p's right child while p is g's left, or the mirror),
 *            rotate at p so that it becomes an outer one; then rotate at g,
 *            making p the head of the subtree, black, with g a red child.
 *
 * Finally the root is painted black (always allowed: it adds one to every
 * path).
 *
 * Erasure.  A node z with at most one child is spliced out: its child x (or
 * nothing) takes its place.  A node with two children is replaced by its
 * in-order successor y (the leftmost node of z's right subtree, which has
 * no left child): y is spliced out of its own spot, with y's right child x
 * taking that spot, and then y takes z's place and z's colour.  In both cases
 * one node disappears from x's spot; if it was red nothing changes, if it
 * was black every path through x is one black short.  If x is red, painting
 * it black settles that.  Otherwise x carries an "extra black" and, with w
 * its sibling (which exists, since w's side is at least one black taller):
 *
 *   w red                  rotate at x's parent to give x a black sibling,
 *                          then continue with one of the cases below;
 *   w black, both of its   paint w red (both sides of the parent are now
 *   children black         short) and move the extra black up to the parent;
 *   w black, w's outer     (after, if only w's inner child is red, a rotation
 *   child red              at w that makes it so) one rotation at the parent
 *                          moves a black node to x's side: done.
 *
 * The loop stops early at a red node (painted black) or at the root (where
 * an extra black can be dropped).  Since x may be a missing child, the code
 * carries x's parent alongside x.
 *
 * Augmentation (see struct kmm_rb_augment_ops).  Values depend only on the
 * shape, never on colours.  A rotation keeps the set of nodes under the
 * rotated pair, so the node moving up inherits the old top's value and only
 * the node moving down is recomputed.  Insertion and erasure first fix the
 * values for the new shape along the path that gained or lost a node, with
 * propagate(), before the rebalancing starts; from then on every rotation
 * reports itself, so the values stay right to the end.  The plain variants
 * run the same code with no callbacks (ops == NULL, folded away at compile
 * time).
 *
 * Nothing here allocates or takes locks: the caller serialises access.
 */
#include "config.h"

#include "rbtree.h"

/* Deepest path a valid tree can have: height <= 2*log2(n+1) <= 128. */
#define KMM_RB_CHECK_MAX_DEPTH	128u

/* --- colour and link helpers -------------------------------------------- */

KMM_INLINE unsigned rb_color(const struct kmm_rb_node *n)
{
	return (unsigned)(n->parent_color & 1);
}

KMM_INLINE void rb_set_black(struct kmm_rb_node *n)
{
	n->parent_color |= KMM_RB_BLACK;
}

KMM_INLINE void rb_set_red(struct kmm_rb_node *n)
{
	n->parent_color &= ~(uintptr_t)1;
}

KMM_INLINE void rb_set_color(struct kmm_rb_node *n, unsigned color)
{
	n->parent_color = (n->parent_color & ~(uintptr_t)1) | color;
}

/* Change n's parent, keeping n's colour. */
KMM_INLINE void rb_set_parent(struct kmm_rb_node *n, struct kmm_rb_node *parent)
{
	n->parent_color = (uintptr_t)parent | (n->parent_color & 1);
}

/* Make `new` (possibly NULL) take old's place under parent (or as the root). */
KMM_INLINE void rb_replace_child(struct kmm_rb_node *parent, struct kmm_rb_node *old,
				 struct kmm_rb_node *new, struct kmm_rb_root *root)
{
	if (!parent)
		root->node = new;
	else if (parent->left == old)
		parent->left = new;
	else
		parent->right = new;
}

/*
 * Rotations.  rotate_left(x): x's right child y moves up into x's place,
 * x becomes y's left child and y's old left subtree becomes x's right one.
 *
 *        x                y
 *       / \              / \
 *      a   y     =>     x   c
 *         / \          / \
 *        b   c        a   b
 */
KMM_INLINE void rb_rotate_left(struct kmm_rb_node *x, struct kmm_rb_root *root,
			       const struct kmm_rb_augment_ops *ops)
{
	struct kmm_rb_node *y = x->right, *parent = kmm_rb_parent(x);

	x->right = y->left;
	if (y->left)
		rb_set_parent(y->left, x);
	y->left = x;
	rb_set_parent(y, parent);
	rb_set_parent(x, y);
	rb_replace_child(parent, x, y, root);
	if (ops)
		ops->rotate(x, y);
}

/* The mirror image: x's left child y moves up into x's place. */
KMM_INLINE void rb_rotate_right(struct kmm_rb_node *x, struct kmm_rb_root *root,
				const struct kmm_rb_augment_ops *ops)
{
	struct kmm_rb_node *y = x->left, *parent = kmm_rb_parent(x);

	x->left = y->right;
	if (y->right)
		rb_set_parent(y->right, x);
	y->right = x;
	rb_set_parent(y, parent);
	rb_set_parent(x, y);
	rb_replace_child(parent, x, y, root);
	if (ops)
		ops->rotate(x, y);
}

/* --- insertion ---------------------------------------------------------- */

KMM_INLINE void rb_insert_fixup(struct kmm_rb_node *z, struct kmm_rb_root *root,
				const struct kmm_rb_augment_ops *ops)
{
	struct kmm_rb_node *p, *g, *u;

	while ((p = kmm_rb_parent(z)) && kmm_rb_is_red(p)) {
		g = kmm_rb_parent(p);	/* p is red, so not the root */
		if (p == g->left) {
			u = g->right;
			if (kmm_rb_is_red(u)) {
				rb_set_black(p);
				rb_set_black(u);
				rb_set_red(g);
				z = g;
				continue;
			}
			if (z == p->right) {
				rb_rotate_left(p, root, ops);
				z = p;
				p = kmm_rb_parent(z);
			}
			rb_set_black(p);
			rb_set_red(g);
			rb_rotate_right(g, root, ops);
		} else {
			u = g->left;
			if (kmm_rb_is_red(u)) {
				rb_set_black(p);
				rb_set_black(u);
				rb_set_red(g);
				z = g;
				continue;
			}
			if (z == p->left) {
				rb_rotate_right(p, root, ops);
				z = p;
				p = kmm_rb_parent(z);
			}
			rb_set_black(p);
			rb_set_red(g);
			rb_rotate_left(g, root, ops);
		}
		break;	/* p is now black at the head of the subtree */
	}
	rb_set_black(root->node);
}

KMM_HOT void kmm_rb_insert_color(struct kmm_rb_node *node, struct kmm_rb_root *root)
{
	rb_insert_fixup(node, root, NULL);
}

void kmm_rb_insert_augmented(struct kmm_rb_node *node, struct kmm_rb_root *root,
			     const struct kmm_rb_augment_ops *ops)
{
	struct kmm_rb_node *parent = kmm_rb_parent(node);

	/* The new leaf first (whatever its value held), then its ancestors. */
	ops->propagate(node, parent);
	if (parent)
		ops->propagate(parent, NULL);
	rb_insert_fixup(node, root, ops);
}

/* --- erasure ------------------------------------------------------------ */

/* x (possibly NULL, child of xp) is one black short on every path. */
KMM_INLINE void rb_erase_fixup(struct kmm_rb_node *x, struct kmm_rb_node *xp,
			       struct kmm_rb_root *root,
			       const struct kmm_rb_augment_ops *ops)
{
	struct kmm_rb_node *w;

	while (x != root->node && kmm_rb_is_black(x)) {
		/*
		 * x is not the root, so xp is a node, and x's sibling w exists.
		 * When x is NULL, xp->left == NULL tells the side correctly:
		 * both children of xp cannot be missing, w's side being taller.
		 */
		if (x == xp->left) {
			w = xp->right;
			if (kmm_rb_is_red(w)) {
				rb_set_black(w);
				rb_set_red(xp);
				rb_rotate_left(xp, root, ops);
				w = xp->right;
			}
			if (kmm_rb_is_black(w->left) && kmm_rb_is_black(w->right)) {
				rb_set_red(w);
				x = xp;
				xp = kmm_rb_parent(x);
				continue;
			}
			if (kmm_rb_is_black(w->right)) {
				rb_set_black(w->left);
				rb_set_red(w);
				rb_rotate_right(w, root, ops);
				w = xp->right;
			}
			rb_set_color(w, rb_color(xp));
			rb_set_black(xp);
			rb_set_black(w->right);
			rb_rotate_left(xp, root, ops);
		} else {
			w = xp->left;
			if (kmm_rb_is_red(w)) {
				rb_set_black(w);
				rb_set_red(xp);
				rb_rotate_right(xp, root, ops);
				w = xp->left;
			}
			if (kmm_rb_is_black(w->left) && kmm_rb_is_black(w->right)) {
				rb_set_red(w);
				x = xp;
				xp = kmm_rb_parent(x);
				continue;
			}
			if (kmm_rb_is_black(w->left)) {
				rb_set_black(w->right);
				rb_set_red(w);
				rb_rotate_left(w, root, ops);
				w = xp->left;
			}
			rb_set_color(w, rb_color(xp));
			rb_set_black(xp);
			rb_set_black(w->left);
			rb_rotate_right(xp, root, ops);
		}
		return;	/* the missing black was restored by the rotation */
	}
	if (x)
		rb_set_black(x);
}

KMM_INLINE void rb_erase(struct kmm_rb_node *z, struct kmm_rb_root *root,
			 const struct kmm_rb_augment_ops *ops)
{
	struct kmm_rb_node *parent = kmm_rb_parent(z), *x, *xp;
	unsigned removed;

	if (!z->left || !z->right) {
		/* Splice z out; its only child (or nothing) takes its place. */
		x = z->left ? z->left : z->right;
		xp = parent;
		removed = rb_color(z);
		if (x)
			rb_set_parent(x, xp);
		rb_replace_child(parent, z, x, root);
		if (ops && xp)
			ops->propagate(xp, NULL);
	} else {
		/* Move z's successor y into z's place, x into y's old spot. */
		struct kmm_rb_node *y = z->right;

		while (y->left)
			y = y->left;
		removed = rb_color(y);
		x = y->right;
		if (y == z->right) {
			xp = y;
		} else {
			xp = kmm_rb_parent(y);
			xp->left = x;
			if (x)
				rb_set_parent(x, xp);
			y->right = z->right;
			rb_set_parent(y->right, y);
		}
		y->left = z->left;
		rb_set_parent(y->left, y);
		y->parent_color = z->parent_color;	/* z's parent and colour */
		rb_replace_child(parent, z, y, root);
		if (ops) {
			/*
			 * y now heads z's old subtree minus z: start from z's
			 * value so that an early exit in propagate() at y means
			 * nothing above y changed; fix y's old path first.
			 */
			ops->copy(z, y);
			if (xp != y)
				ops->propagate(xp, y);
			ops->propagate(y, NULL);
		}
	}
	if (removed == KMM_RB_BLACK)
		rb_erase_fixup(x, xp, root, ops);
}

KMM_HOT void kmm_rb_erase(struct kmm_rb_node *node, struct kmm_rb_root *root)
{
	rb_erase(node, root, NULL);
}

void kmm_rb_erase_augmented(struct kmm_rb_node *node, struct kmm_rb_root *root,
			    const struct kmm_rb_augment_ops *ops)
{
	rb_erase(node, root, ops);
}

/* --- traversal ---------------------------------------------------------- */

struct kmm_rb_node *kmm_rb_first(const struct kmm_rb_root *root)
{
	struct kmm_rb_node *n = root->node;

	if (n)
		while (n->left)
			n = n->left;
	return n;
}

struct kmm_rb_node *kmm_rb_last(const struct kmm_rb_root *root)
{
	struct kmm_rb_node *n = root->node;

	if (n)
		while (n->right)
			n = n->right;
	return n;
}

struct kmm_rb_node *kmm_rb_next(const struct kmm_rb_node *node)
{
	struct kmm_rb_node *n, *p;

	if (node->right) {
		n = node->right;
		while (n->left)
			n = n->left;
		return n;
	}
	/* Climb while we come up from a right child. */
	n = (struct kmm_rb_node *)node;
	while ((p = kmm_rb_parent(n)) && n == p->right)
		n = p;
	return p;
}

struct kmm_rb_node *kmm_rb_prev(const struct kmm_rb_node *node)
{
	struct kmm_rb_node *n, *p;

	if (node->left) {
		n = node->left;
		while (n->right)
			n = n->right;
		return n;
	}
	n = (struct kmm_rb_node *)node;
	while ((p = kmm_rb_parent(n)) && n == p->left)
		n = p;
	return p;
}

/* --- checking ----------------------------------------------------------- */

struct rb_check {
	int violations;
	const char *why;
};

static void rb_flag(struct rb_check *c, const char *why)
{
	if (c->violations++ == 0)
		c->why = why;
}

/*
 * Black height of the subtree at n (missing children count 0), or -1 when it
 * could not be measured.  A child whose parent pointer is wrong is reported
 * and not entered: every node entered is then reached from the one parent
 * its own pointer names, so each is visited once and no cycle is followed.
 */
static KMM_COLD int rb_check_subtree(const struct kmm_rb_node *n, unsigned depth, struct rb_check *c)
{
	const uintptr_t stray = (_Alignof(struct kmm_rb_node) - 1) & ~(uintptr_t)1;
	const struct kmm_rb_node *kids[2] = { n->left, n->right };
	int h[2];

	if (depth > KMM_RB_CHECK_MAX_DEPTH) {
		rb_flag(c, "tree deeper than any valid red-black tree");
		return -1;
	}
	if (n->parent_color & stray)
		rb_flag(c, "stray low bits in a parent pointer");
	if (kids[0] && kids[0] == kids[1]) {
		rb_flag(c, "a node has the same child on both sides");
		kids[1] = NULL;
	}
	if (kmm_rb_is_red(n) && (kmm_rb_is_red(kids[0]) || kmm_rb_is_red(kids[1])))
		rb_flag(c, "red node with a red child");
	for (int i = 0; i < 2; i++) {
		if (!kids[i]) {
			h[i] = 0;
		} else if (kmm_rb_parent(kids[i]) != n) {
			rb_flag(c, "child's parent pointer does not name its parent");
			h[i] = -1;
		} else {
			h[i] = rb_check_subtree(kids[i], depth + 1, c);
		}
	}
	if (h[0] >= 0 && h[1] >= 0 && h[0] != h[1])
		rb_flag(c, "black heights differ between the two sides of a node");
	if (h[0] < 0 && h[1] < 0)
		return -1;
	return (h[0] > h[1] ? h[0] : h[1]) + (kmm_rb_is_black(n) ? 1 : 0);
}

KMM_COLD int kmm_rb_check(const struct kmm_rb_root *root, const char **why)
{
	struct rb_check c = { 0, NULL };
	const struct kmm_rb_node *r = root->node;

	if (r) {
		if (kmm_rb_parent(r))
			rb_flag(&c, "root has a parent");
		if (kmm_rb_is_red(r))
			rb_flag(&c, "root is red");
		rb_check_subtree(r, 1, &c);
	}
	if (why)
		*why = c.why;
	return c.violations;
}
