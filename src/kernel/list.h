/*
 * list.h — circular doubly linked lists with the links embedded in the
 * listed objects (the kernel's list_head).
 */
#ifndef KMM_KERNEL_LIST_H
#define KMM_KERNEL_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/compiler.h"

struct kmm_list {
	struct kmm_list *next, *prev;
};

#define kmm_list_entry(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

KMM_INLINE void kmm_list_init(struct kmm_list *h)      { h->next = h->prev = h; }
KMM_INLINE bool kmm_list_empty(const struct kmm_list *h) { return h->next == h; }

KMM_INLINE void kmm_list_insert_between(struct kmm_list *n, struct kmm_list *prev,
					struct kmm_list *next)
{
	next->prev = n;
	n->next = next;
	n->prev = prev;
	prev->next = n;
}

/* after the head (LIFO use) */
KMM_INLINE void kmm_list_add(struct kmm_list *n, struct kmm_list *h)
{
	kmm_list_insert_between(n, h, h->next);
}

/* before the head (FIFO use) */
KMM_INLINE void kmm_list_add_tail(struct kmm_list *n, struct kmm_list *h)
{
	kmm_list_insert_between(n, h->prev, h);
}

KMM_INLINE void kmm_list_del(struct kmm_list *n)
{
	n->next->prev = n->prev;
	n->prev->next = n->next;
	n->next = n->prev = n;
}

#endif /* KMM_KERNEL_LIST_H */
