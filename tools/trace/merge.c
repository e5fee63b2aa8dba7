/*
 * merge.c — all events in global sequence order: a k-way merge (a binary
 * heap keyed by the next sequence number) over the threads' streams of
 * ordered runs, without copying events.
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

struct stream {
	size_t seg;
	const uint8_t *cur, *end;
	uint64_t key;
	uint32_t tid;
};

static inline int st_less(const struct merge *M, uint32_t x, uint32_t y)
{
	const struct stream *a = &M->s[x], *b = &M->s[y];
	return a->key < b->key || (a->key == b->key && x < y);
}

static void sift_down(struct merge *M, size_t i)
{
	uint32_t *h = M->heap;
	size_t n = M->nh;
	uint32_t v = h[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && st_less(M, h[c + 1], h[c]))
			c++;
		if (!st_less(M, h[c], v))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = v;
}

static void stream_enter(struct merge *M, struct stream *s, size_t sg)
{
	const struct seg *g = &M->L->sg[sg];
	s->seg = sg;
	s->cur = g->p;
	s->end = g->end;
	s->key = rec_seq(s->cur);
}

/* Streams: the event blocks (runs) of one thread in file order, as long as
 * their sequence numbers keep growing (a run that starts below the end of
 * the thread's stream starts a stream of its own, so the merge stays right
 * whatever the file holds). */
void kt_merge_init(struct merge *M, const struct log *L)
{
	memset(M, 0, sizeof *M);
	M->L = L;
	size_t cap = 16;
	while (cap < 2 * (L->nsg + 1))
		cap *= 2;
	struct { uint32_t tid; uint32_t used; size_t stream, last; } *tt = kt_xcalloc(cap, sizeof *tt);
	size_t capstreams = 0;
	struct seg *B = (struct seg *)L->sg;
	for (size_t i = 0; i < L->nsg; i++) {
		size_t h = hash64(B[i].tid) & (cap - 1);
		while (tt[h].used && tt[h].tid != B[i].tid)
			h = (h + 1) & (cap - 1);
		if (tt[h].used && B[tt[h].last].last_seq < B[i].first_seq) {
			B[tt[h].last].next = i;
			tt[h].last = i;
			continue;
		}
		GROW(M->s, M->ns, capstreams);
		M->s[M->ns].tid = B[i].tid;
		M->s[M->ns].seg = i;
		tt[h].used = 1;
		tt[h].tid = B[i].tid;
		tt[h].stream = M->ns;
		tt[h].last = i;
		M->ns++;
	}
	free(tt);
	M->heap = kt_xcalloc(M->ns, sizeof *M->heap);
	for (size_t i = 0; i < M->ns; i++) {
		stream_enter(M, &M->s[i], M->s[i].seg);
		M->heap[M->nh++] = (uint32_t)i;
	}
	for (size_t i = M->nh / 2; i-- > 0;)
		sift_down(M, i);
}

int kt_merge_next(struct merge *M, struct ev *e)
{
	if (!M->nh)
		return 0;
	struct stream *s = &M->s[M->heap[0]];
	ev_decode(s->cur, s->tid, e);
	size_t sz = rec_size(s->cur);
	s->cur += sz;
	kt_log_progress(M->L, sz);
	if (s->cur >= s->end) {
		size_t nx = M->L->sg[s->seg].next;
		if (nx != NONE)
			stream_enter(M, s, nx);
		else {
			M->heap[0] = M->heap[--M->nh];
			if (M->nh)
				sift_down(M, 0);
			return 1;
		}
	} else
		s->key = rec_seq(s->cur);
	sift_down(M, 0);
	return 1;
}

void kt_merge_free(struct merge *M)
{
	free(M->s);
	free(M->heap);
}

/* all events, in file order (no merge): for collecting addresses */
