/*
 * stackid.c — small numbers for the distinct stacks (caller and
 * backtrace) of a log's events: kt_stackid gives the same id to events
 * with the same stack, and keeps one record of each as its representative.
 *
 * Contract: ids are 1, 2, ... in the order the stacks are first met (0 is
 * never an id: a live block's lent.pad of 0 means "none"); the memory is
 * that of the distinct stacks.  A reader that gives each allocation an id
 * while it reads the events (whose records are then in memory) can later
 * group the live blocks by stack without reading their records again:
 * random reads all over a large mapped log would fault its pages back in.
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

uint32_t kt_stackid(struct kt_stackids *S, const uint8_t *rec)
{
	if (2 * (S->n + 1) > S->tcap) {
		size_t ncap = S->tcap ? 2 * S->tcap : 1024;
		uint32_t *nt = kt_xcalloc(ncap, sizeof *nt);
		for (size_t i = 0; i < S->tcap; i++)
			if (S->tab[i]) {
				size_t k = kt_stack_hash(S->rec[S->tab[i] - 1]) & (ncap - 1);
				while (nt[k])
					k = (k + 1) & (ncap - 1);
				nt[k] = S->tab[i];
			}
		free(S->tab);
		S->tab = nt;
		S->tcap = ncap;
	}
	size_t k = kt_stack_hash(rec) & (S->tcap - 1);
	while (S->tab[k] && !kt_same_stack(S->rec[S->tab[k] - 1], rec))
		k = (k + 1) & (S->tcap - 1);
	if (!S->tab[k]) {
		GROW(S->rec, S->n, S->cap);
		S->rec[S->n++] = rec;
		S->tab[k] = (uint32_t)S->n;
	}
	return S->tab[k];
}

void *kt_stack_slot(struct kt_stackids *S, const uint8_t *rec, void **arr, size_t *cap, size_t elem)
{
	uint32_t id = kt_stackid(S, rec);
	if (id > *cap) {
		size_t ncap = *cap ? 2 * *cap : 1024;
		while (ncap < id)
			ncap *= 2;
		*arr = kt_xrealloc(*arr, ncap * elem);
		memset((char *)*arr + *cap * elem, 0, (ncap - *cap) * elem);
		*cap = ncap;
	}
	return (char *)*arr + (size_t)(id - 1) * elem;
}

void kt_stackids_free(struct kt_stackids *S)
{
	free(S->rec);
	free(S->tab);
	memset(S, 0, sizeof *S);
}
