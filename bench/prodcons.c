/*
 * bench/prodcons.c — workload "prodcons": producer/consumer threads.
 *
 * Producers allocate blocks (messages, requests, buffers), fill them and pass
 * them through a bounded queue; consumers check and free them.  Every block
 * is therefore freed by a different thread from the one that allocated it,
 * which is what per-thread caches and per-arena locks handle worst: memory
 * keeps flowing from one thread's heap to another's.
 *
 * With -t N (default 2): ceil(N/2) producers and floor(N/2) consumers, each
 * producer feeding one single-producer/single-consumer ring, consumer j
 * draining rings j, j+C, j+2C...  With -t 1 one thread alternately fills and
 * drains a ring.  The total number of messages does not depend on N.
 */
#include "common.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define MESSAGES  1200000   /* at scale 1, over all producers */
#define RING      1024      /* entries per queue (a power of two) */

struct msg {
	void *p;
	size_t n;
	uint64_t tag;
};

struct ring {
	_Alignas(64) _Atomic size_t head;   /* written by the producer */
	_Atomic int closed;
	_Alignas(64) _Atomic size_t tail;   /* written by the consumer */
	_Alignas(64) struct msg slot[RING];
};

struct worker {
	pthread_t tid;
	int id;
	uint64_t count;                     /* producer: messages to send */
	struct ring **rings;                /* consumer: rings to drain */
	int nrings;
	uint64_t sum;                       /* consumer: checksum part */
	uint64_t received;
};

static void relax(unsigned *spins)
{
	if (++*spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	} else {
		*spins = 0;
		sched_yield();
	}
}

static size_t pick_size(struct bench_rng *r)
{
	uint64_t u = bench_below(r, 100);

	if (u < 60)
		return bench_range(r, 16, 128);
	if (u < 90)
		return bench_range(r, 129, 512);
	return bench_range(r, 513, 4096);
}

static void make_msg(struct msg *m, struct bench_rng *r, int producer, uint64_t seq)
{
	m->n = pick_size(r);
	m->tag = ((uint64_t)producer << 40) | seq;
	m->p = bench_malloc(m->n);
	bench_fill(m->p, m->n, m->tag);
}

static uint64_t take_msg(const struct msg *m)
{
	uint64_t v = bench_verify(m->p, m->n, m->tag);

	free(m->p);
	return bench_mix(v + m->tag);
}

static void produce(struct ring *q, int producer, uint64_t count)
{
	struct bench_rng rng = { 0x70726f64ULL + (uint64_t)producer * 0x1000193 };
	size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
	size_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
	uint64_t seq;
	unsigned spins = 0;

	for (seq = 0; seq < count; seq++) {
		while (head - tail == RING) {
			tail = atomic_load_explicit(&q->tail, memory_order_acquire);
			if (head - tail == RING)
				relax(&spins);
		}
		make_msg(&q->slot[head % RING], &rng, producer, seq);
		head++;
		atomic_store_explicit(&q->head, head, memory_order_release);
	}
	atomic_store_explicit(&q->closed, 1, memory_order_release);
}

/* Take everything currently in q; return how many messages were taken. */
static size_t drain(struct ring *q, struct worker *w)
{
	size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
	size_t head = atomic_load_explicit(&q->head, memory_order_acquire);
	size_t n = head - tail;

	while (tail != head) {
		w->sum += take_msg(&q->slot[tail % RING]);
		tail++;
		atomic_store_explicit(&q->tail, tail, memory_order_release);
	}
	w->received += n;
	return n;
}

static void *producer_main(void *arg)
{
	struct worker *w = arg;

	produce(w->rings[0], w->id, w->count);
	return NULL;
}

static void *consumer_main(void *arg)
{
	struct worker *w = arg;
	unsigned spins = 0;
	int i, open;

	do {
		size_t got = 0;

		open = 0;
		for (i = 0; i < w->nrings; i++) {
			/* read `closed` before draining, so nothing sent before
			 * the close can be missed */
			int closed = atomic_load_explicit(&w->rings[i]->closed,
							  memory_order_acquire);

			got += drain(w->rings[i], w);
			if (!closed)
				open = 1;
		}
		if (got == 0 && open)
			relax(&spins);
	} while (open);
	return NULL;
}

/* -t 1: one thread plays both parts, a ring's worth at a time. */
static uint64_t run_single(uint64_t count)
{
	static struct ring q;
	struct bench_rng rng = { 0x70726f64ULL };
	struct worker w = { .sum = 0 };
	uint64_t seq = 0;

	while (seq < count) {
		size_t head = atomic_load_explicit(&q.head, memory_order_relaxed);
		size_t tail = atomic_load_explicit(&q.tail, memory_order_relaxed);

		while (head - tail < RING && seq < count) {
			make_msg(&q.slot[head % RING], &rng, 0, seq++);
			head++;
		}
		atomic_store_explicit(&q.head, head, memory_order_relaxed);
		drain(&q, &w);
	}
	return w.sum;
}

int main(int argc, char **argv)
{
	struct bench_args a;
	uint64_t total, sum = 0, received = 0;
	int np, nc, i, j, err;
	struct worker *prod, *cons;
	struct ring **rings;

	bench_parse(argc, argv,
		    "Producer threads malloc blocks and pass them through queues to\n"
		    "consumer threads, which check and free them.", 1, &a);
	total = bench_scaled(MESSAGES, a.scale);

	if (a.threads == 1) {
		bench_print_checksum(run_single(total) ^ total);
		return 0;
	}

	np = (a.threads + 1) / 2;
	nc = a.threads / 2;
	prod = calloc((size_t)np, sizeof *prod);
	cons = calloc((size_t)nc, sizeof *cons);
	rings = calloc((size_t)np, sizeof *rings);
	if (prod == NULL || cons == NULL || rings == NULL)
		bench_die("out of memory");
	for (i = 0; i < np; i++) {
		if (posix_memalign((void **)&rings[i], 64, sizeof **rings) != 0)
			bench_die("out of memory");
		memset(rings[i], 0, sizeof **rings);
	}
	for (j = 0; j < nc; j++) {
		cons[j].id = j;
		cons[j].rings = calloc((size_t)np, sizeof *rings);
		if (cons[j].rings == NULL)
			bench_die("out of memory");
	}
	for (i = 0; i < np; i++) {
		struct worker *c = &cons[i % nc];

		c->rings[c->nrings++] = rings[i];
		prod[i].id = i;
		prod[i].rings = &rings[i];
		prod[i].count = total / (uint64_t)np + ((uint64_t)i < total % (uint64_t)np);
	}

	for (j = 0; j < nc; j++)
		if ((err = pthread_create(&cons[j].tid, NULL, consumer_main, &cons[j])) != 0)
			bench_die("pthread_create: %s", strerror(err));
	for (i = 0; i < np; i++)
		if ((err = pthread_create(&prod[i].tid, NULL, producer_main, &prod[i])) != 0)
			bench_die("pthread_create: %s", strerror(err));
	for (i = 0; i < np; i++)
		pthread_join(prod[i].tid, NULL);
	for (j = 0; j < nc; j++) {
		pthread_join(cons[j].tid, NULL);
		sum += cons[j].sum;
		received += cons[j].received;
	}
	if (received != total)
		bench_die("%" PRIu64 " messages sent but %" PRIu64 " received", total, received);

	for (j = 0; j < nc; j++)
		free(cons[j].rings);
	for (i = 0; i < np; i++)
		free(rings[i]);
	free(rings);
	free(cons);
	free(prod);
	bench_print_checksum(sum ^ total);
	return 0;
}
