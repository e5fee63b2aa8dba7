/*
 * threadexec — a threaded program that forks and execs, as servers and
 * build tools do: worker threads allocate without pause; meanwhile the main
 * thread forks children that allocate (with a thread of their own) and then
 * exec this program again, and one worker runs it through popen(3)
 * (posix_spawn) now and then.  The exec'd copies ("kids") load the
 * allocator afresh (LD_PRELOAD is inherited), allocate from two threads,
 * and exit with a status that says whether all was well.
 *
 * Usage: threadexec NTHREADS NFORKS NPOPEN
 *        threadexec kid ID KMM(0|1)          (what the children exec)
 * Prints "kmm yes|no", "forks N/N clean", "popen M/M clean",
 * "threads T ok"; exits 0 only if everything checked out.
 * The kids name themselves "threadexec-kid" (their exit reports say so).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int stop;
static const char *self;
static int have_kmm;

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* a block: [size][tag] then bytes derived from the tag */
struct blk { unsigned char *p; size_t n; unsigned tag; };

static void fill(struct blk *b)
{
	for (size_t i = 0; i < b->n; i++)
		b->p[i] = (unsigned char)(b->tag * 131u + i * 7u);
}

static int check(const struct blk *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->p[i] != (unsigned char)(b->tag * 131u + i * 7u))
			return 0;
	return 1;
}

static size_t pick_size(uint64_t *r)
{
	uint64_t c = next_rand(r) % 100;
	if (c < 75)
		return 1 + next_rand(r) % 600;
	if (c < 98)
		return 600 + next_rand(r) % 20000;
	return 140000 + next_rand(r) % 300000;        /* big blocks */
}

/* steps on a table of blocks; returns the number of corrupted blocks */
static int churn(struct blk *tab, int slots, uint64_t *r, long steps)
{
	int bad = 0;
	for (long i = 0; i < steps; i++) {
		struct blk *b = &tab[next_rand(r) % (uint64_t)slots];
		if (b->p != NULL) {
			bad += !check(b);
			if (next_rand(r) % 6 == 0) {
				size_t m = pick_size(r), keep = m < b->n ? m : b->n;
				unsigned char *q = realloc(b->p, m);
				if (q == NULL)
					return bad + 1;
				b->p = q;
				b->n = keep;
				bad += !check(b);
				b->n = m;
				fill(b);
			} else {
				free(b->p);
				b->p = NULL;
			}
			continue;
		}
		b->n = pick_size(r);
		b->tag = (unsigned)next_rand(r);
		b->p = next_rand(r) % 10 == 0 ? calloc(1, b->n) : malloc(b->n);
		if (b->p == NULL)
			return bad + 1;
		fill(b);
	}
	return bad;
}

static int release(struct blk *tab, int slots)
{
	int bad = 0;
	for (int i = 0; i < slots; i++) {
		if (tab[i].p != NULL)
			bad += !check(&tab[i]);
		free(tab[i].p);
		tab[i].p = NULL;
	}
	return bad;
}

/* ---- the exec'd kid ---------------------------------------------------------- */

static void *kid_thread(void *arg)
{
	uint64_t r = (uint64_t)(uintptr_t)arg * 2654435761u + 1;
	struct blk tab[32];
	memset(tab, 0, sizeof tab);
	int bad = churn(tab, 32, &r, 1500) + release(tab, 32);
	return bad ? (void *)1 : NULL;
}

static int kid_main(int id, int want_kmm)
{
	prctl(PR_SET_NAME, "threadexec-kid", 0, 0, 0);
	if (have_kmm != want_kmm) {
		fprintf(stderr, "kid %d: kmm %s, expected %s\n", id, have_kmm ? "loaded" : "absent",
			want_kmm ? "loaded" : "absent");
		return 2;
	}
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, kid_thread, (void *)(uintptr_t)(id * 2 + i + 1)) != 0)
			return 3;
	int bad = 0;
	for (int i = 0; i < 2; i++) {
		void *res;
		pthread_join(t[i], &res);
		bad += res != NULL;
	}
	if (bad)
		return 4;
	printf("kid %d ok\n", id);
	return 0;
}

/* ---- the parent ----------------------------------------------------------------- */

struct worker { pthread_t tid; int id, npopen, popen_ok, bad; };

/* run a kid through popen (posix_spawn from a thread) and read its line */
static int popen_kid(int id)
{
	char cmd[4096], line[128] = "", want[64];
	snprintf(cmd, sizeof cmd, "'%s' kid %d %d", self, id, have_kmm);
	FILE *f = popen(cmd, "r");
	if (f == NULL)
		return 0;
	if (fgets(line, sizeof line, f) == NULL)
		line[0] = '\0';
	int st = pclose(f);
	snprintf(want, sizeof want, "kid %d ok\n", id);
	return st == 0 && strcmp(line, want) == 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t r = 0x9e3779b97f4a7c15ull * (uint64_t)(w->id + 1);
	struct blk tab[64];
	memset(tab, 0, sizeof tab);
	/* busy all along, but the children and kids come first */
	setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
	while (!stop) {
		w->bad += churn(tab, 64, &r, 2000);
		if (w->npopen > 0 && w->popen_ok >= 0) {
			w->npopen--;
			w->popen_ok += popen_kid(1000 * (w->id + 1) + w->npopen);
		}
	}
	w->bad += release(tab, 64);
	return NULL;
}

/* a forked child: check what it inherited, allocate with a thread of its
 * own, then exec a kid */
static void child_main(int n, struct blk *inherited, int ninh)
{
	uint64_t r = (uint64_t)n * 0x2545f4914f6cdd1dull + 7;
	struct blk tab[32];
	memset(tab, 0, sizeof tab);
	for (int i = 0; i < ninh; i++)
		if (!check(&inherited[i]))
			_exit(10);
	if (churn(tab, 32, &r, 500) != 0)
		_exit(11);
	pthread_t t;
	void *res = (void *)1;
	if (pthread_create(&t, NULL, kid_thread, (void *)(uintptr_t)(n + 77)) != 0)
		_exit(12);
	pthread_join(t, &res);
	if (res != NULL)
		_exit(13);
	if (release(tab, 32) != 0 || release(inherited, ninh) != 0)
		_exit(14);
	char id[32], k[4];
	snprintf(id, sizeof id, "%d", n);
	snprintf(k, sizeof k, "%d", have_kmm);
	/* the kid's stdout is ours: keep it out of the parent's report */
	if (freopen("/dev/null", "w", stdout) == NULL)
		_exit(15);
	execl(self, self, "kid", id, k, (char *)NULL);
	_exit(127);
}

int main(int argc, char **argv)
{
	self = argv[0];
	have_kmm = dlsym(RTLD_DEFAULT, "kmm_version") != NULL;
	if (argc == 4 && strcmp(argv[1], "kid") == 0)
		return kid_main(atoi(argv[2]), atoi(argv[3]));
	if (argc != 4) {
		fprintf(stderr, "usage: threadexec NTHREADS NFORKS NPOPEN\n");
		return 2;
	}
	int nthreads = atoi(argv[1]), nforks = atoi(argv[2]), npopen = atoi(argv[3]);
	struct worker *w = calloc((size_t)nthreads, sizeof *w);
	uint64_t r = 4242;
	int clean = 0;

	printf("kmm %s\n", have_kmm ? "yes" : "no");
	fflush(stdout);
	for (int i = 0; i < nthreads; i++) {
		w[i].id = i;
		w[i].npopen = i == 0 ? npopen : 0;
		if (pthread_create(&w[i].tid, NULL, worker_main, &w[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	for (int n = 0; n < nforks; n++) {
		struct blk inherited[16];
		memset(inherited, 0, sizeof inherited);
		for (int i = 0; i < 16; i++) {
			inherited[i].n = pick_size(&r);
			inherited[i].tag = (unsigned)(n * 16 + i);
			inherited[i].p = malloc(inherited[i].n);
			if (inherited[i].p == NULL)
				return 1;
			fill(&inherited[i]);
		}
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			break;
		}
		if (pid == 0)
			child_main(n, inherited, 16);
		int st;
		if (waitpid(pid, &st, 0) != pid) {
			perror("waitpid");
			break;
		}
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			clean++;
		else if (WIFEXITED(st))
			printf("child %d: exit status %d\n", n, WEXITSTATUS(st));
		else
			printf("child %d: killed by signal %d\n", n, WTERMSIG(st));
		release(inherited, 16);
	}
	/* let the popen worker finish its runs */
	while (nthreads > 0 && __atomic_load_n(&w[0].npopen, __ATOMIC_RELAXED) > 0)
		usleep(10000);
	stop = 1;
	int bad = 0, popen_ok = 0;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(w[i].tid, NULL);
		bad += w[i].bad;
		popen_ok += w[i].popen_ok;
	}
	free(w);
	printf("forks %d/%d clean\n", clean, nforks);
	printf("popen %d/%d clean\n", popen_ok, nthreads > 0 ? npopen : 0);
	if (bad == 0)
		printf("threads %d ok\n", nthreads);
	else
		printf("threads %d: %d corrupted blocks\n", nthreads, bad);
	return clean == nforks && bad == 0 && popen_ok == (nthreads > 0 ? npopen : 0) ? 0 : 1;
}
