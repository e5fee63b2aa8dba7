/*
 * forkstress — worker threads allocate and free without pause while the main
 * thread forks again and again; every child allocates, frees, checks what it
 * inherited and exits with a status that says whether all was well.
 *
 * Usage: forkstress NTHREADS NFORKS
 * Prints "kmm yes|no", "forks N/N clean", "threads T ok", and exits 0 only
 * if every child exited with status 0 and no thread saw corrupted memory.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SLOTS 64
#define INHERITED 32

static volatile int stop;

struct block { unsigned char *p; size_t size; unsigned char tag; };

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static size_t pick_size(uint64_t *rng)
{
	uint64_t r = next_rand(rng) % 100;
	if (r < 70)
		return 1 + next_rand(rng) % 512;            /* tcache, fastbins */
	if (r < 95)
		return 512 + next_rand(rng) % 16384;        /* small and large bins */
	if (r < 99)
		return 32768 + next_rand(rng) % 100000;     /* large, near the threshold */
	return 200000 + next_rand(rng) % 400000;        /* mmapped chunks */
}

/* fill all of a small block, the ends of a big one */
static void fill(struct block *b)
{
	if (b->size <= 4096) {
		memset(b->p, b->tag, b->size);
	} else {
		memset(b->p, b->tag, 2048);
		memset(b->p + b->size - 2048, b->tag, 2048);
	}
}

static int check_prefix(const unsigned char *p, size_t n, unsigned char tag)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != tag)
			return 0;
	return 1;
}

static int check(const struct block *b)
{
	if (b->size <= 4096)
		return check_prefix(b->p, b->size, b->tag);
	return check_prefix(b->p, 2048, b->tag) &&
	       check_prefix(b->p + b->size - 2048, 2048, b->tag);
}

/* one step on a table of blocks: free (after checking) or allocate */
static int churn(struct block *tab, int n, uint64_t *rng)
{
	struct block *b = &tab[next_rand(rng) % (uint64_t)n];
	if (b->p != NULL) {
		int good = check(b);
		if (next_rand(rng) % 8 == 0) {     /* grow or shrink in place or not */
			size_t size = pick_size(rng);
			unsigned char *q = realloc(b->p, size);
			if (q == NULL)
				return 0;
			/* the first bytes were filled, and must have moved along */
			size_t keep = size < b->size ? size : b->size;
			if (keep > 2048)
				keep = 2048;
			b->p = q;
			good = good && check_prefix(q, keep, b->tag);
			b->size = size;
			fill(b);
			return good;
		}
		free(b->p);
		b->p = NULL;
		return good;
	}
	b->size = pick_size(rng);
	b->tag = (unsigned char)(next_rand(rng) | 1);
	if (next_rand(rng) % 16 == 0) {
		b->p = calloc(1, b->size);
		if (b->p == NULL || b->p[0] != 0 || b->p[b->size - 1] != 0)
			return 0;
	} else if (next_rand(rng) % 16 == 0) {
		void *p;
		if (posix_memalign(&p, 64, b->size) != 0 || ((uintptr_t)p & 63) != 0)
			return 0;
		b->p = p;
	} else {
		b->p = malloc(b->size);
	}
	if (b->p == NULL)
		return 0;
	fill(b);
	return 1;
}

static void free_all(struct block *tab, int n)
{
	for (int i = 0; i < n; i++) {
		free(tab[i].p);
		tab[i].p = NULL;
	}
}

struct worker { pthread_t tid; int id; long ops; int bad; };

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct block tab[SLOTS];
	uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(w->id + 1);
	memset(tab, 0, sizeof tab);
	while (!stop) {
		if (!churn(tab, SLOTS, &rng))
			w->bad++;
		w->ops++;
	}
	for (int i = 0; i < SLOTS; i++)
		if (tab[i].p != NULL && !check(&tab[i]))
			w->bad++;
	free_all(tab, SLOTS);
	return NULL;
}

static void *child_thread(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg | 1;
	struct block tab[16];
	int good = 1;
	memset(tab, 0, sizeof tab);
	for (int i = 0; i < 2000; i++)
		good &= churn(tab, 16, &rng);
	free_all(tab, 16);
	return good ? arg : NULL;
}

/* what a child does: 0 if everything checked out */
static int child_main(int n, struct block *inherited)
{
	uint64_t rng = 0x2545f4914f6cdd1dull + (uint64_t)n;
	struct block tab[SLOTS];
	memset(tab, 0, sizeof tab);
	for (int i = 0; i < INHERITED; i++)
		if (inherited[i].p == NULL || !check(&inherited[i]))
			return 3;
	for (int i = 0; i < 3000; i++)
		if (!churn(tab, SLOTS, &rng))
			return 4;
	/* the parent's blocks are ours to free (and reuse) too */
	for (int i = 0; i < INHERITED; i += 2) {
		free(inherited[i].p);
		inherited[i].p = NULL;
	}
	if (n % 4 == 0) {        /* threads still work in the child */
		pthread_t t;
		void *res = NULL;
		if (pthread_create(&t, NULL, child_thread, (void *)(uintptr_t)(n + 1)) != 0)
			return 5;
		pthread_join(t, &res);
		if (res == NULL)
			return 6;
	}
	for (int i = 0; i < SLOTS; i++)
		if (tab[i].p != NULL && !check(&tab[i]))
			return 7;
	free_all(tab, SLOTS);
	free_all(inherited, INHERITED);
	return 0;
}

int main(int argc, char **argv)
{
	int nthreads = argc > 1 ? atoi(argv[1]) : 4;
	int nforks = argc > 2 ? atoi(argv[2]) : 100;
	struct worker *w = calloc((size_t)nthreads, sizeof *w);
	struct block inherited[INHERITED];
	uint64_t rng = 12345;
	int clean = 0, bad_inherited = 0;

	printf("kmm %s\n", dlsym(RTLD_DEFAULT, "kmm_version") ? "yes" : "no");
	fflush(stdout);
	memset(inherited, 0, sizeof inherited);
	for (int i = 0; i < nthreads; i++) {
		w[i].id = i;
		if (pthread_create(&w[i].tid, NULL, worker_main, &w[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	for (int n = 0; n < nforks; n++) {
		/* the parent's own blocks change between forks */
		free_all(inherited, INHERITED);
		for (int i = 0; i < INHERITED; i++) {
			struct block *b = &inherited[i];
			b->size = pick_size(&rng);
			b->tag = (unsigned char)(n + i) | 1;
			b->p = malloc(b->size);
			if (b->p == NULL)
				bad_inherited++;
			else
				fill(b);
		}
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			break;
		}
		if (pid == 0)
			exit(child_main(n, inherited));
		int status;
		if (waitpid(pid, &status, 0) != pid) {
			perror("waitpid");
			break;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			clean++;
		else if (WIFEXITED(status))
			printf("child %d: exit status %d\n", n, WEXITSTATUS(status));
		else
			printf("child %d: killed by signal %d\n", n, WTERMSIG(status));
	}
	stop = 1;
	long ops = 0;
	int bad = bad_inherited;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(w[i].tid, NULL);
		ops += w[i].ops;
		bad += w[i].bad;
	}
	free_all(inherited, INHERITED);
	free(w);
	printf("forks %d/%d clean\n", clean, nforks);
	if (bad == 0)
		printf("threads %d ok\n", nthreads);
	else
		printf("threads %d: %d corrupted blocks\n", nthreads, bad);
	fprintf(stderr, "forkstress: %ld operations in the threads\n", ops);
	return clean == nforks && bad == 0 ? 0 : 1;
}
