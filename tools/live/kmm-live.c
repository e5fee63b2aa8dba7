/*
 * kmm-live.c — the reader of the live view (`kmm cat`, `kmm top`): reads
 * the segments /dev/shm/kmm.PID that processes running kmm with KMM_LIVE=1
 * publish (layout: src/live_format.h; writer: src/live.c).
 *
 *   kmm-live cat PID SECTION     one report section, as --stats prints it
 *                                (summary, meminfo, buddyinfo, slabinfo,
 *                                vmallocinfo, maps, all), or `counters`:
 *                                the published numbers, one NAME VALUE a line
 *   kmm-live top [-d SECS] [-n ITER] [-s COLUMN] [-b] [PID...]
 *                                one line per process (every readable
 *                                segment when no PID is given), or, for one
 *                                PID, one line per slab cache (as slabtop)
 *
 * Contract: it never writes a segment (opened O_RDONLY, mapped PROT_READ)
 * and never signals a process (kill with signal 0 only asks whether it
 * exists), so it cannot crash or slow the writer.  It copies a segment
 * under the writer's seqlock (retrying while a publication is under way,
 * giving up after about a second) and refuses a copy whose check counters
 * differ (torn).  Each failure is one line on standard error and exit
 * status 2: no such process, not running kmm (no segment), permission
 * denied (another user's), stale (the process is gone or its pid was
 * reused), layout version mismatch; 3: torn or still being written.
 *
 * The text of each section was rendered by the writer with the --stats
 * report's own code (see src/live.c for why): `cat` prints it unchanged;
 * `top` shows the published numbers (per process, and slabinfo's rows).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "live_format.h"

static const char *const section_names[KMM_LIVE_SECTIONS] = KMM_LIVE_SECTION_NAMES;
static const char *const syscall_names[KMM_LIVE_SC_NR] = KMM_LIVE_SYSCALL_NAMES;

/* A consistent copy of one segment. */
struct snap {
	int pid;
	struct kmm_live_header h;
	char *text;          /* h.text[i] index it (malloc'd) */
	size_t text_len;
	char comm[64];
};

static void snap_free(struct snap *s)
{
	free(s->text);
	s->text = NULL;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* Field 22 of /proc/PID/stat, or 0. */
static uint64_t proc_start_time(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (p == NULL)
		return 0;
	for (int field = 2; field < 22 && *p != '\0'; p++)
		if (*p == ' ')
			field++;
	return strtoull(p, NULL, 10);
}

static void proc_comm(int pid, char *out, size_t cap)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/comm", pid);
	snprintf(out, cap, "?");
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return;
	if (fgets(out, (int)cap, f) != NULL)
		out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

/* Read PID's segment into s.  0, or an exit status after one line on
 * stderr (quiet: no line; top skips what it cannot read). */
static int snap_read(int pid, struct snap *s, int quiet)
{
	char path[64];
	int alive, err = 0;
	memset(s, 0, sizeof *s);
	s->pid = pid;
	snprintf(path, sizeof path, "%s%d", KMM_LIVE_PREFIX, pid);
	alive = kill(pid, 0) == 0 || errno == EPERM;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		err = errno;
	if (!alive) {
		if (fd >= 0 || err == EACCES) {
			if (!quiet)
				fprintf(stderr, "kmm: pid %d: stale segment %s (the process is gone: killed?)\n", pid, path);
			if (fd >= 0)
				close(fd);
			return 2;
		}
		if (!quiet)
			fprintf(stderr, "kmm: pid %d: no such process\n", pid);
		return 2;
	}
	if (fd < 0) {
		if (!quiet) {
			if (err == ENOENT)
				fprintf(stderr, "kmm: pid %d: not running kmm with KMM_LIVE=1 (no %s)\n", pid, path);
			else if (err == EACCES || err == EPERM)
				fprintf(stderr, "kmm: pid %d: permission denied: %s belongs to another user\n", pid, path);
			else
				fprintf(stderr, "kmm: pid %d: cannot open %s: %s\n", pid, path, strerror(err));
		}
		return 2;
	}
	struct stat st;
	/* a segment being made is empty until its ftruncate: wait for it a little */
	for (int tries = 0; tries < 200 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0; tries++)
		nap_ms(5);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size < sizeof(struct kmm_live_header)) {
		if (!quiet)
			fprintf(stderr, "kmm: pid %d: %s is not a kmm live segment\n", pid, path);
		close(fd);
		return 2;
	}
	size_t size = (size_t)st.st_size;
	const char *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		if (!quiet)
			fprintf(stderr, "kmm: pid %d: cannot map %s: %s\n", pid, path, strerror(errno));
		return 2;
	}
	const struct kmm_live_header *h = (const void *)m;
	int rc = 0;
	for (int tries = 0; tries < 200 && __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == 0; tries++)
		nap_ms(5);   /* (its header is written after the ftruncate) */
	if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != KMM_LIVE_MAGIC) {
		if (!quiet)
			fprintf(stderr, "kmm: pid %d: %s is not a kmm live segment\n", pid, path);
		rc = 2;
		goto out;
	}
	if (h->version != KMM_LIVE_VERSION || h->header_size != sizeof(struct kmm_live_header)) {
		if (!quiet)
			fprintf(stderr, "kmm: pid %d: layout version %u of %s, this reader knows version %u "
				"(use the kmm of that process)\n", pid, h->version, path, KMM_LIVE_VERSION);
		rc = 2;
		goto out;
	}
	if (h->pid != pid || h->start_time != proc_start_time(pid)) {
		if (!quiet)
			fprintf(stderr, "kmm: pid %d: stale segment %s (written by an earlier process with this pid)\n",
				pid, path);
		rc = 2;
		goto out;
	}
	if (h->text_off > size || size - h->text_off > KMM_LIVE_TEXT_CAP) {
		if (!quiet)
			fprintf(stderr, "kmm: pid %d: %s is not a kmm live segment\n", pid, path);
		rc = 2;
		goto out;
	}
	s->text_len = size - h->text_off;
	s->text = malloc(s->text_len + 1);
	if (s->text == NULL) {
		rc = 2;
		goto out;
	}
	/* the seqlock: up to ~1 s of retries */
	rc = 3;
	for (int tries = 0; tries < 1000; tries++) {
		uint64_t s1 = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);
		if (s1 == 0 || (s1 & 1)) {   /* nothing published yet, or a publication under way */
			nap_ms(1);
			continue;
		}
		memcpy(&s->h, h, sizeof s->h);
		size_t used = 0;
		for (unsigned i = 0; i < KMM_LIVE_SECTIONS; i++) {
			uint64_t end = (uint64_t)s->h.text[i].off + s->h.text[i].len;
			if (end > used && end <= s->text_len)
				used = (size_t)end;
		}
		memcpy(s->text, m + h->text_off, used);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		uint64_t s2 = __atomic_load_n(&h->seq, __ATOMIC_RELAXED);
		if (s1 != s2)
			continue;
		if (s->h.c.check_a != s->h.c.check_b) {
			if (!quiet)
				fprintf(stderr, "kmm: pid %d: torn copy (check %llu != %llu)\n", pid,
					(unsigned long long)s->h.c.check_a, (unsigned long long)s->h.c.check_b);
			rc = 3;
			break;
		}
		for (unsigned i = 0; i < KMM_LIVE_SECTIONS; i++)
			if ((uint64_t)s->h.text[i].off + s->h.text[i].len > used)
				s->h.text[i].off = s->h.text[i].len = 0;
		s->text[used] = '\0';
		rc = 0;
		break;
	}
	if (rc == 3 && s->h.c.check_a == s->h.c.check_b && !quiet)
		fprintf(stderr, "kmm: pid %d: no complete publication in 1 s (the process is stopped mid-write, "
			"or has not published yet)\n", pid);
out:
	munmap((void *)m, size);
	if (rc != 0)
		snap_free(s);
	else
		proc_comm(pid, s->comm, sizeof s->comm);
	return rc;
}

static int parse_pid(const char *arg)
{
	char *end;
	long v = strtol(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || v <= 0 || v > 0x3fffffff) {
		fprintf(stderr, "kmm: '%s' is not a process id\n", arg);
		exit(2);
	}
	return (int)v;
}

static void print_counters(const struct snap *s)
{
	const struct kmm_live_counters *c = &s->h.c;
	uint64_t now = now_ns();
#define C(name) printf("%-22s %llu\n", #name, (unsigned long long)c->name)
	printf("%-22s %d\n", "pid", s->pid);
	printf("%-22s %s\n", "comm", s->comm);
	printf("%-22s %llu\n", "publications", (unsigned long long)(s->h.seq / 2));
	printf("%-22s %llu\n", "age_ms",
	       (unsigned long long)(now > s->h.publish_ns ? (now - s->h.publish_ns) / 1000000 : 0));
	printf("%-22s %u\n", "exiting", s->h.exiting);
	C(check_a); C(check_b);
	C(live_bytes); C(live_peak);
	C(heap_total); C(heap_in_use); C(heap_free); C(heap_top);
	C(slab_front); C(slab_front_in_use); C(slab_allocs); C(slabs);
	C(big_bytes); C(big_count);
	C(vmalloc_total); C(vmalloc_used); C(vmalloc_lazy); C(vmalloc_free);
	C(vmalloc_regions); C(vmalloc_bytes); C(vmalloc_lazy_regions); C(vmalloc_lazy_bytes);
	C(slab_bytes); C(buddy_total); C(buddy_free); C(buddy_free_resident);
	C(minor_faults); C(major_faults);
	C(tcache_hits); C(tcache_misses); C(threads); C(nr_arenas);
#undef C
	for (unsigned o = 0; o < KMM_LIVE_ORDERS; o++)
		printf("buddy_free_order_%-5u %llu\n", o, (unsigned long long)c->buddy_free_blocks[o]);
	for (uint64_t i = 0; i < c->nr_arenas && i < KMM_LIVE_ARENAS; i++)
		printf("arena_%-3llu               system %llu in_use %llu free %llu\n", (unsigned long long)i,
		       (unsigned long long)c->arena[i].system, (unsigned long long)c->arena[i].in_use,
		       (unsigned long long)c->arena[i].free);
	for (unsigned i = 0; i < KMM_LIVE_SC_NR; i++)
		printf("syscall_%-14s %llu\n", syscall_names[i], (unsigned long long)c->syscalls[i]);
	printf("%-22s %llu\n", "nr_caches", (unsigned long long)c->nr_caches);
	for (uint64_t i = 0; i < c->nr_caches && i < KMM_LIVE_CACHES; i++)
		printf("cache_%-16.24s active %llu total %llu objsize %llu slabs %llu\n", c->cache[i].name,
		       (unsigned long long)c->cache[i].active_objs, (unsigned long long)c->cache[i].num_objs,
		       (unsigned long long)c->cache[i].objsize, (unsigned long long)c->cache[i].num_slabs);
}

static void print_section(const struct snap *s, unsigned i)
{
	fwrite(s->text + s->h.text[i].off, 1, s->h.text[i].len, stdout);
}

static int cmd_cat(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: kmm cat PID slabinfo|buddyinfo|vmallocinfo|meminfo|maps|summary|all|counters\n");
		return 2;
	}
	const char *what = argv[2];
	int idx = -1;
	for (unsigned i = 0; i < KMM_LIVE_SECTIONS; i++)
		if (strcmp(what, section_names[i]) == 0)
			idx = (int)i;
	if (idx < 0 && strcmp(what, "all") != 0 && strcmp(what, "counters") != 0) {
		fprintf(stderr, "kmm cat: unknown section '%s' (slabinfo, buddyinfo, vmallocinfo, meminfo, maps, "
			"summary, all, counters)\n", what);
		return 2;
	}
	struct snap s;
	int rc = snap_read(parse_pid(argv[1]), &s, 0);
	if (rc != 0)
		return rc;
	if (strcmp(what, "counters") == 0)
		print_counters(&s);
	else if (idx >= 0)
		print_section(&s, (unsigned)idx);
	else
		for (unsigned i = 0; i < KMM_LIVE_SECTIONS; i++)
			print_section(&s, i);
	snap_free(&s);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- top -------------------------------------------------------------------- */

struct proc_row {
	int pid;
	char comm[32];
	uint64_t live, peak, heap, slab, big, vmalloc_lazy, threads, syscalls, age_ms;
	double hit;   /* tcache + slab front hits, % of front-end allocations (-1: none) */
};

struct cache_row {
	char name[40];
	uint64_t active, objs, size, slabs, per_slab, cache_bytes;
};

static const char *sort_key = NULL;

/* Rows that fit the terminal below `header` lines (interactive mode), or
 * all of them (batch mode, or not a terminal). */
static size_t fit_rows(size_t n, int batch, int header)
{
	struct winsize ws;
	if (batch || ioctl(1, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0)
		return n;
	size_t room = ws.ws_row > header + 1 ? (size_t)(ws.ws_row - header - 1) : 1;
	return n < room ? n : room;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? 1 : a > b ? -1 : 0;   /* biggest first */
}

static int cmp_proc(const void *pa, const void *pb)
{
	const struct proc_row *a = pa, *b = pb;
	const char *k = sort_key ? sort_key : "live";
	if (strcmp(k, "pid") == 0)
		return a->pid - b->pid;
	if (strcmp(k, "peak") == 0)
		return cmp_u64(a->peak, b->peak);
	if (strcmp(k, "heap") == 0)
		return cmp_u64(a->heap, b->heap);
	if (strcmp(k, "slab") == 0)
		return cmp_u64(a->slab, b->slab);
	if (strcmp(k, "big") == 0)
		return cmp_u64(a->big, b->big);
	if (strcmp(k, "syscalls") == 0)
		return cmp_u64(a->syscalls, b->syscalls);
	if (strcmp(k, "age") == 0)
		return cmp_u64(a->age_ms, b->age_ms);
	if (strcmp(k, "comm") == 0)
		return strcmp(a->comm, b->comm);
	return cmp_u64(a->live, b->live);
}

static int cmp_cache(const void *pa, const void *pb)
{
	const struct cache_row *a = pa, *b = pb;
	const char *k = sort_key ? sort_key : "objs";
	if (strcmp(k, "active") == 0)
		return cmp_u64(a->active, b->active);
	if (strcmp(k, "size") == 0)
		return cmp_u64(a->size, b->size);
	if (strcmp(k, "slabs") == 0)
		return cmp_u64(a->slabs, b->slabs);
	if (strcmp(k, "cache") == 0)
		return cmp_u64(a->cache_bytes, b->cache_bytes);
	if (strcmp(k, "name") == 0)
		return strcmp(a->name, b->name);
	if (strcmp(k, "use") == 0) {
		double ua = a->objs ? (double)a->active / a->objs : 0, ub = b->objs ? (double)b->active / b->objs : 0;
		return ua < ub ? 1 : ua > ub ? -1 : 0;
	}
	return cmp_u64(a->objs, b->objs);
}

static const char *const proc_keys[] = { "pid", "comm", "live", "peak", "heap", "slab", "big", "syscalls", "age", NULL };
static const char *const cache_keys[] = { "objs", "active", "use", "size", "slabs", "cache", "name", NULL };

static int key_valid(const char *k, const char *const *keys)
{
	for (; *keys; keys++)
		if (strcmp(k, *keys) == 0)
			return 1;
	return 0;
}

static void fill_proc(struct proc_row *r, const struct snap *s)
{
	const struct kmm_live_counters *c = &s->h.c;
	uint64_t now = now_ns();
	memset(r, 0, sizeof *r);
	r->pid = s->pid;
	snprintf(r->comm, sizeof r->comm, "%.31s", s->comm);
	r->live = c->live_bytes;
	r->peak = c->live_peak;
	r->heap = c->heap_total;
	r->slab = c->slab_front + c->slab_bytes;
	r->big = c->big_bytes;
	r->vmalloc_lazy = c->vmalloc_lazy_bytes;
	r->threads = c->threads;
	for (unsigned i = 0; i < KMM_LIVE_SC_NR; i++)
		r->syscalls += c->syscalls[i];
	r->age_ms = now > s->h.publish_ns ? (now - s->h.publish_ns) / 1000000 : 0;
	uint64_t hits = c->tcache_hits + c->slab_allocs, all = hits + c->tcache_misses;
	r->hit = all ? 100.0 * (double)hits / (double)all : -1;
}

static void human(char *out, size_t cap, uint64_t bytes)
{
	static const char unit[] = "BKMGTP";
	double v = (double)bytes;
	int u = 0;
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, cap, "%lluB", (unsigned long long)bytes);
	else
		snprintf(out, cap, "%.1f%c", v, unit[u]);
}

/* One screen of process rows; the count of processes shown. */
static int show_procs(int npids, const int *pids, int batch)
{
	struct proc_row *rows = NULL;
	size_t n = 0, cap = 0;
	int *list = NULL, nlist = 0;
	if (npids > 0) {
		list = (int *)pids;
		nlist = npids;
	} else {
		DIR *d = opendir("/dev/shm");
		struct dirent *e;
		size_t lcap = 0;
		while (d != NULL && (e = readdir(d)) != NULL) {
			char *end;
			if (strncmp(e->d_name, "kmm.", 4) != 0)
				continue;
			long v = strtol(e->d_name + 4, &end, 10);
			if (*end != '\0' || v <= 0)
				continue;
			if ((size_t)nlist == lcap) {
				lcap = lcap ? 2 * lcap : 16;
				list = realloc(list, lcap * sizeof *list);
			}
			list[nlist++] = (int)v;
		}
		if (d != NULL)
			closedir(d);
	}
	for (int i = 0; i < nlist; i++) {
		struct snap s;
		if (snap_read(list[i], &s, npids == 0) != 0)
			continue;   /* (said on stderr when asked for by pid) */
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			rows = realloc(rows, cap * sizeof *rows);
		}
		fill_proc(&rows[n++], &s);
		snap_free(&s);
	}
	if (npids == 0)
		free(list);
	qsort(rows, n, sizeof *rows, cmp_proc);
	printf("kmm top - %zu process%s running kmm with KMM_LIVE=1%s\n", n, n == 1 ? "" : "es",
	       batch ? "" : " (q quits)");
	printf("%7s %-15s %9s %9s %9s %9s %9s %9s %4s %6s %9s %7s\n", "PID", "COMM", "LIVE", "PEAK", "HEAP", "SLAB",
	       "BIG", "LAZY", "THR", "HIT%", "SYSCALLS", "AGE");
	size_t shown = fit_rows(n, batch, 2);
	for (size_t i = 0; i < shown; i++) {
		struct proc_row *r = &rows[i];
		char live[16], peak[16], heap[16], slab[16], big[16], lazy[16], hit[16];
		human(live, sizeof live, r->live);
		human(peak, sizeof peak, r->peak);
		human(heap, sizeof heap, r->heap);
		human(slab, sizeof slab, r->slab);
		human(big, sizeof big, r->big);
		human(lazy, sizeof lazy, r->vmalloc_lazy);
		if (r->hit < 0)
			snprintf(hit, sizeof hit, "-");
		else
			snprintf(hit, sizeof hit, "%.1f", r->hit);
		printf("%7d %-15.15s %9s %9s %9s %9s %9s %9s %4llu %6s %9llu %6.1fs\n", r->pid, r->comm, live, peak,
		       heap, slab, big, lazy, (unsigned long long)r->threads, hit, (unsigned long long)r->syscalls,
		       (double)r->age_ms / 1000);
	}
	free(rows);
	return (int)n;
}

/* The published slabinfo rows (kmm's own caches, then the front end's). */
static size_t cache_rows(const struct snap *sn, struct cache_row **out)
{
	const struct kmm_live_counters *c = &sn->h.c;
	size_t n = c->nr_caches < KMM_LIVE_CACHES ? (size_t)c->nr_caches : KMM_LIVE_CACHES;
	struct cache_row *rows = calloc(n + 1, sizeof *rows);
	for (size_t i = 0; i < n; i++) {
		const struct kmm_live_cache *lc = &c->cache[i];
		snprintf(rows[i].name, sizeof rows[i].name, "%.*s", (int)sizeof lc->name, lc->name);
		rows[i].active = lc->active_objs;
		rows[i].objs = lc->num_objs;
		rows[i].size = lc->objsize;
		rows[i].per_slab = lc->objperslab;
		rows[i].slabs = lc->num_slabs;
		rows[i].cache_bytes = lc->num_slabs * lc->pagesperslab * 4096;
	}
	*out = rows;
	return n;
}

static int show_caches(int pid, int batch)
{
	struct snap s;
	int rc = snap_read(pid, &s, 0);
	if (rc != 0)
		return -rc;
	struct cache_row *rows;
	size_t n = cache_rows(&s, &rows);
	qsort(rows, n, sizeof *rows, cmp_cache);
	uint64_t objs = 0, active = 0, bytes = 0, used = 0;
	for (size_t i = 0; i < n; i++) {
		objs += rows[i].objs;
		active += rows[i].active;
		bytes += rows[i].cache_bytes;
		used += rows[i].active * rows[i].size;
	}
	char live[16], b1[16], b2[16];
	struct proc_row pr;
	fill_proc(&pr, &s);
	human(live, sizeof live, pr.live);
	human(b1, sizeof b1, used);
	human(b2, sizeof b2, bytes);
	printf("kmm top - pid %d (%s), live %s, published %.1fs ago%s\n", pid, s.comm, live, (double)pr.age_ms / 1000,
	       batch ? "" : " (q quits)");
	printf(" Active / Total Objects (%% used)    : %llu / %llu (%.1f%%)\n", (unsigned long long)active,
	       (unsigned long long)objs, objs ? 100.0 * (double)active / (double)objs : 0.0);
	printf(" Active / Total Size (%% used)       : %s / %s (%.1f%%)\n", b1, b2,
	       bytes ? 100.0 * (double)used / (double)bytes : 0.0);
	printf("\n%9s %9s %4s %8s %6s %8s %10s %s\n", "OBJS", "ACTIVE", "USE", "OBJ SIZE", "SLABS", "OBJ/SLAB",
	       "CACHE SIZE", "NAME");
	size_t shown = fit_rows(n, batch, 5);
	for (size_t i = 0; i < shown; i++) {
		struct cache_row *r = &rows[i];
		char cs[16];
		human(cs, sizeof cs, r->cache_bytes);
		printf("%9llu %9llu %3.0f%% %8llu %6llu %8llu %10s %s\n", (unsigned long long)r->objs,
		       (unsigned long long)r->active, r->objs ? 100.0 * (double)r->active / (double)r->objs : 0.0,
		       (unsigned long long)r->size, (unsigned long long)r->slabs, (unsigned long long)r->per_slab, cs,
		       r->name);
	}
	free(rows);
	snap_free(&s);
	return 0;
}

static struct termios saved_tty;
static int tty_raw;

static void tty_restore(void)
{
	if (tty_raw)
		tcsetattr(0, TCSANOW, &saved_tty);
	tty_raw = 0;
}

static void on_signal(int sig)
{
	tty_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int cmd_top(int argc, char **argv)
{
	double delay = 1.0;
	long iters = -1;
	int batch = 0, opt;
	while ((opt = getopt(argc, argv, "+d:n:s:bh")) != -1) {
		switch (opt) {
		case 'd':
			delay = atof(optarg);
			if (delay <= 0) {
				fprintf(stderr, "kmm top: -d wants a positive number of seconds\n");
				return 2;
			}
			break;
		case 'n':
			iters = atol(optarg);
			break;
		case 's':
			sort_key = optarg;
			break;
		case 'b':
			batch = 1;
			break;
		default:
			fprintf(stderr, "usage: kmm top [-d SECS] [-n ITER] [-s COLUMN] [-b] [PID...]\n");
			return 2;
		}
	}
	int npids = argc - optind;
	int *pids = calloc((size_t)npids + 1, sizeof *pids);
	for (int i = 0; i < npids; i++)
		pids[i] = parse_pid(argv[optind + i]);
	int per_cache = npids == 1;
	if (sort_key != NULL && !key_valid(sort_key, per_cache ? cache_keys : proc_keys)) {
		const char *const *k = per_cache ? cache_keys : proc_keys;
		fprintf(stderr, "kmm top: unknown column '%s' (", sort_key);
		for (int i = 0; k[i]; i++)
			fprintf(stderr, "%s%s", i ? ", " : "", k[i]);
		fprintf(stderr, ")\n");
		return 2;
	}
	if (batch && iters < 0)
		iters = 1;
	if (!batch && isatty(0) && tcgetattr(0, &saved_tty) == 0) {
		struct termios raw = saved_tty;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		if (tcsetattr(0, TCSANOW, &raw) == 0) {
			tty_raw = 1;
			atexit(tty_restore);
			signal(SIGINT, on_signal);
			signal(SIGTERM, on_signal);
		}
	}
	int rc = 0;
	for (long it = 0; iters < 0 || it < iters; it++) {
		if (!batch)
			fputs("\033[H\033[2J", stdout);
		else if (it > 0)
			putchar('\n');
		if (per_cache) {
			int r = show_caches(pids[0], batch);
			if (r < 0) {
				rc = -r;
				break;
			}
		} else {
			show_procs(npids, pids, batch);
		}
		fflush(stdout);
		if (iters >= 0 && it + 1 >= iters)
			break;
		if (batch) {
			nap_ms((int)(delay * 1000));
			continue;
		}
		struct pollfd pfd = { 0, POLLIN, 0 };
		uint64_t until = now_ns() + (uint64_t)(delay * 1e9);
		int quit = 0;
		for (uint64_t t = now_ns(); t < until && !quit; t = now_ns()) {
			if (poll(&pfd, 1, (int)((until - t) / 1000000) + 1) > 0) {
				char ch;
				if (read(0, &ch, 1) != 1)
					pfd.fd = -1;   /* end of input: keep refreshing */
				else if (ch == 'q' || ch == 'Q')
					quit = 1;
			}
		}
		if (quit)
			break;
	}
	tty_restore();
	free(pids);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "cat") == 0)
		return cmd_cat(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "top") == 0)
		return cmd_top(argc - 1, argv + 1);
	fprintf(stderr, "usage: kmm-live cat PID SECTION | kmm-live top [-d SECS] [-n ITER] [-s COLUMN] [-b] [PID...]\n");
	return 2;
}
