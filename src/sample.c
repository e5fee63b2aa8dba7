/*
 * sample.c — the sampled heap profile (see sample.h): the per-thread
 * countdown's draws, the tables of stacks and live samples, and the pprof
 * output (util/pprof.h) with the mappings of /proc/self/maps.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "sample.h"
#include "backtrace.h"
#include "options.h"
#include "os.h"
#include "heap/heap.h"
#include "heap/rescue.h"
#include "heap/thread.h"
#include "util/format.h"
#include "util/lock.h"
#include "util/pprof.h"

/* Estimates are kept in fixed point, so that threads add them up with
 * atomic additions: blocks in 1/65536ths, bytes in 1/256ths. */
#define FX_OBJS  65536.0
#define FX_BYTES 256.0

/* A stack: published (hash >= 2) once its frames are written; its
 * counters only grow (in use = allocated - freed). */
#define STACK_BUSY 1u
struct stack {
	uint32_t depth;
	uint64_t frames[KMM_SAMPLE_DEPTH];
	uint64_t alloc_objs, alloc_bytes, free_objs, free_bytes;
};

struct live {
	uintptr_t addr;                /* 0: a free slot */
	uint32_t stack;
	uint64_t objs, bytes;          /* (fixed point) */
};

/* The live samples, in shards by address, each with its own spin lock. */
#define SHARDS      16
#define SHARD_SLOTS (KMM_SAMPLE_LIVE / SHARDS)
struct shard {
	volatile int lock;
	uint32_t n;                    /* entries in use */
	uint64_t samples, frees;       /* sampled calls of its addresses, their frees seen */
	char pad[40];
};

/* Stack 0 is where samples go when the stack table is full (no frames).
 * The stacks' hashes are apart, so that lookups and the dump's scan touch
 * 32 KiB, not every stack's page. */
struct tables {
	uint64_t hashes[KMM_SAMPLE_STACKS];   /* 0: a free slot; STACK_BUSY: being written */
	struct stack stacks[KMM_SAMPLE_STACKS];
	struct live live[SHARDS][SHARD_SLOTS];
};

static size_t period;
static struct tables *tab;
static struct shard shards[SHARDS] __attribute__((aligned(64)));
/* The profile's writer and buffers (below); tried by the signal handler. */
static kmm_lock_t lock = KMM_LOCK_INIT_RANK(KMM_RANK_SAMPLE);
static struct kmm_sample_totals tot;   /* counters (atomic), estimates aside */
static volatile int dump_pending;      /* a signal found the dump lock busy */
static pid_t start_pid;
static uint64_t start_ns;
static char start_dir[1024];
static KMM_TLS uint64_t rng;           /* the thread's generator (0: not seeded) */

#define ADD(v, n) __atomic_add_fetch(&(v), (n), __ATOMIC_RELAXED)
#define GET(v)    __atomic_load_n(&(v), __ATOMIC_RELAXED)

/* The shards' spin locks (not kmm_lock_t: there are 16 of them, held for
 * a few instructions).  Counted busy as util/lock.h says; a thread that
 * is forking (kmm_in_fork) holds them all already: not taken (false). */
static bool spin_lock(volatile int *l)
{
	kmm_busy++;
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE) != 0) {
		if (kmm_in_fork) {
			kmm_busy--;
			return false;
		}
		for (int i = 0; i < 128 && *l != 0; i++)
			kmm_cpu_relax();
		if (*l != 0)
			kmm_os_yield();
	}
	return true;
}

static void spin_unlock(volatile int *l, bool locked)
{
	if (!locked)
		return;
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
	kmm_busy--;
}

/* ---- arithmetic without libm ------------------------------------------------ */

#define LN2 0.69314718055994530942

/* 1/k for the series below: multiplications, not divisions. */
static const double inv[18] = {
	0, 1, 1 / 2.0, 1 / 3.0, 1 / 4.0, 1 / 5.0, 1 / 6.0, 1 / 7.0, 1 / 8.0, 1 / 9.0,
	1 / 10.0, 1 / 11.0, 1 / 12.0, 1 / 13.0, 1 / 14.0, 1 / 15.0, 1 / 16.0, 1 / 17.0,
};

/* ln(x) for x > 0: x = m 2^e with m in [sqrt(1/2), sqrt(2)), then
 * ln(m) = 2 atanh(z), z = (m - 1) / (m + 1), |z| < 0.172: eight terms. */
static double ln(double x)
{
	union { double d; uint64_t u; } v = { x };
	int e = (int)((v.u >> 52) & 0x7ff) - 1023;
	v.u = (v.u & ((1ull << 52) - 1)) | (1023ull << 52);
	double m = v.d;
	if (m > 1.4142135623730951) {
		m *= 0.5;
		e++;
	}
	double z = (m - 1) / (m + 1), z2 = z * z, t = z, s = 0;
	for (int k = 1; k <= 17; k += 2) {
		s += t * inv[k];
		t *= z2;
	}
	return 2 * s + e * LN2;
}

/* exp(-y) for y >= 0: y = k ln2 + r with |r| <= ln2/2, a Taylor series
 * for exp(-r), times 2^-k. */
static double exp_neg(double y)
{
	if (y > 700)
		return 0;
	int k = (int)(y * (1 / LN2) + 0.5);
	double r = y - k * LN2, term = 1, sum = 1;
	for (int i = 1; i <= 14; i++) {
		term *= -r * inv[i];
		sum += term;
	}
	union { double d; uint64_t u; } scale = { .u = (uint64_t)(1023 - k) << 52 };
	return sum * scale.d;
}

/* 1 - exp(-y), without the cancellation for small y. */
static double one_minus_exp_neg(double y)
{
	if (y >= 0.5)
		return 1 - exp_neg(y);
	double term = y, sum = y;
	for (int i = 2; i <= 16; i++) {
		term *= -y * inv[i];
		sum += term;
	}
	return sum;
}

static uint64_t next_random(void)
{
	uint64_t x = rng;   /* xorshift64* */
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

static void seed(void)
{
	uint64_t s = kmm_os_random() ^ (uintptr_t)&rng ^ ((uint64_t)kmm_os_gettid() << 32);
	rng = s != 0 ? s : 0x9e3779b97f4a7c15ull;
}

/* Bytes until the next sample: exponential with mean `period`. */
static int64_t draw(void)
{
	double u = (double)((next_random() >> 11) + 1) * (1.0 / 9007199254740992.0);   /* (0, 1] */
	double d = -ln(u) * (double)period;
	if (d < 1)
		return 1;
	if (d > 4e18)
		return (int64_t)4e18;
	return (int64_t)d;
}

/* ---- the tables ------------------------------------------------------------------ */

static uint64_t stack_hash(const uint64_t *frames, unsigned depth)
{
	uint64_t h = 0xcbf29ce484222325ull ^ depth;
	for (unsigned i = 0; i < depth; i++) {
		h ^= frames[i];
		h *= 0x100000001b3ull;
		h ^= h >> 29;
	}
	return h | 2;   /* (never 0 nor STACK_BUSY) */
}

/* The stack's slot (1...), added if new; 0 when the table is full.
 * Lock free: a slot is claimed by a compare-and-swap, written, then
 * published.  A slot still being written is passed over (its stack may
 * then have two slots, which pprof adds up: never a wait, so a fork child
 * whose parent was half way through one is not stuck). */
static uint32_t stack_find(const uint64_t *frames, unsigned depth)
{
	uint64_t h = stack_hash(frames, depth);
	uint32_t mask = KMM_SAMPLE_STACKS - 1;
	for (uint32_t i = (uint32_t)h & mask, n = 0; n < KMM_SAMPLE_STACKS; i = (i + 1) & mask, n++) {
		if (i == 0)
			continue;
		struct stack *s = &tab->stacks[i];
		uint64_t cur = __atomic_load_n(&tab->hashes[i], __ATOMIC_ACQUIRE);
		if (cur == h && s->depth == depth && memcmp(s->frames, frames, depth * sizeof *frames) == 0)
			return i;
		if (cur != 0)
			continue;
		if (GET(tot.stacks) >= KMM_SAMPLE_STACKS * 7 / 8)
			break;   /* (keeps the probes short) */
		uint64_t zero = 0;
		if (!__atomic_compare_exchange_n(&tab->hashes[i], &zero, STACK_BUSY, false, __ATOMIC_ACQUIRE,
						 __ATOMIC_RELAXED)) {
			i = (i - 1) & mask;   /* (taken meanwhile: look at it again) */
			n--;
			continue;
		}
		s->depth = depth;
		memcpy(s->frames, frames, depth * sizeof *frames);
		__atomic_store_n(&tab->hashes[i], h, __ATOMIC_RELEASE);
		ADD(tot.stacks, 1);
		return i;
	}
	ADD(tot.dropped_stacks, 1);
	return 0;
}

static uint64_t addr_hash(uintptr_t addr)
{
	/* (sampled heap chunks may share a page: every 16-byte unit counts) */
	return (uint64_t)(addr >> 4) * 0x9e3779b97f4a7c15ull;
}

/* Insert into / remove from addr's shard; its lock held. */
static bool live_insert(struct shard *sh, struct live *slots, uintptr_t addr, uint32_t stack, uint64_t objs,
			uint64_t bytes)
{
	if (sh->n >= SHARD_SLOTS * 7 / 8)
		return false;
	uint32_t i = (uint32_t)addr_hash(addr) & (SHARD_SLOTS - 1);
	while (slots[i].addr != 0)
		i = (i + 1) & (SHARD_SLOTS - 1);
	slots[i] = (struct live){ addr, stack, objs, bytes };
	__atomic_store_n(&sh->n, sh->n + 1, __ATOMIC_RELAXED);
	return true;
}

/* Linear probing's deletion: the entries after the hole that would no
 * longer be found move back into it. */
static bool live_remove(struct shard *sh, struct live *slots, uintptr_t addr, struct live *out)
{
	uint32_t mask = SHARD_SLOTS - 1, i = (uint32_t)addr_hash(addr) & mask;
	while (slots[i].addr != addr) {
		if (slots[i].addr == 0)
			return false;
		i = (i + 1) & mask;
	}
	*out = slots[i];
	for (uint32_t j = (i + 1) & mask; slots[j].addr != 0; j = (j + 1) & mask) {
		uint32_t home = (uint32_t)addr_hash(slots[j].addr) & mask;
		/* j's entry may move to the hole at i unless its home lies
		 * cyclically in (i, j] */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			slots[i] = slots[j];
			i = j;
		}
	}
	slots[i].addr = 0;
	__atomic_store_n(&sh->n, sh->n - 1, __ATOMIC_RELAXED);
	sh->frees++;
	return true;
}

static uint32_t shard_of(uintptr_t addr)
{
	return (uint32_t)(addr_hash(addr) >> 60);   /* (the top 4 bits: SHARDS) */
}

/* ---- the heap's hooks (heap.h) ------------------------------------------------ */

static void dump_if_pending(void);

static bool due(size_t n)
{
	struct kmm_thread *t = &kmm_self;
	if (KMM_UNLIKELY(period == 0 || tab == NULL)) {
		t->sample_left = INT64_MAX;
		return false;
	}
	if (KMM_UNLIKELY(rng == 0)) {
		/* the thread's first countdown (its first malloc took the
		 * initial 0 below zero): this call is sampled if it crosses
		 * the countdown just drawn */
		seed();
		t->sample_left = draw() - (int64_t)n;
		if (t->sample_left >= 0)
			return false;
	}
	t->sample_left = draw();
	return n != 0;
}

static void made(void *mem, size_t n, const void *caller)
{
	uint64_t frames[KMM_SAMPLE_DEPTH];
	unsigned depth = kmm_backtrace(frames, KMM_SAMPLE_DEPTH);
	if (depth == 0 && caller != NULL) {
		frames[0] = (uint64_t)(uintptr_t)caller;   /* (no unwinder: the caller alone) */
		depth = 1;
	}
	double w = 1 / one_minus_exp_neg((double)n / (double)period);
	uint64_t objs = (uint64_t)(w * FX_OBJS), bytes = (uint64_t)(w * (double)n * FX_BYTES);
	uint32_t si = stack_find(frames, depth);
	struct stack *s = &tab->stacks[si];
	ADD(s->alloc_objs, objs);
	ADD(s->alloc_bytes, bytes);
	uint32_t k = shard_of((uintptr_t)mem);
	bool locked = spin_lock(&shards[k].lock);
	shards[k].samples++;
	bool kept = live_insert(&shards[k], tab->live[k], (uintptr_t)mem, si, objs, bytes);
	spin_unlock(&shards[k].lock, locked);
	if (!kept) {
		/* no room to hear of its free: not counted in use */
		ADD(tot.dropped_live, 1);
		ADD(s->free_objs, objs);
		ADD(s->free_bytes, bytes);
	}
	dump_if_pending();
}

static void gone(void *mem)
{
	struct live e;
	uint32_t k = shard_of((uintptr_t)mem);
	if (GET(shards[k].n) == 0)
		return;
	bool locked = spin_lock(&shards[k].lock);
	bool found = live_remove(&shards[k], tab->live[k], (uintptr_t)mem, &e);
	spin_unlock(&shards[k].lock, locked);
	if (found) {
		struct stack *s = &tab->stacks[e.stack];
		ADD(s->free_objs, e.objs);
		ADD(s->free_bytes, e.bytes);
	}
	dump_if_pending();
}

static const struct kmm_heap_sampler hooks = { due, made, gone };

/* ---- the profile ------------------------------------------------------------------ */

#define MAX_MAPS 1024
struct map {
	uint64_t start, limit, offset;
};
static struct map maps[MAX_MAPS];
static unsigned nmaps;
static struct kmm_pprof pp;   /* (~70 KiB: static, under the lock) */

static int sink(void *ctx, const void *buf, size_t len)
{
	return kmm_os_write_all(*(int *)ctx, buf, len);
}

static uint64_t hex(const char **p, const char *end)
{
	uint64_t v = 0;
	for (; *p < end; (*p)++) {
		char c = **p;
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16;
		if (d == 16)
			break;
		v = v << 4 | d;
	}
	return v;
}

/* One line of /proc/self/maps: an executable mapping of a file becomes a
 * pprof mapping (its id: its index + 1). */
static void map_line(const char *l, const char *end)
{
	const char *p = l;
	uint64_t start = hex(&p, end);
	if (p < end && *p == '-')
		p++;
	uint64_t limit = hex(&p, end);
	if (end - p < 6 || p[3] != 'x')   /* " r-xp " */
		return;
	p += 6;
	uint64_t offset = hex(&p, end);
	for (int field = 0; field < 2; field++) {   /* dev, inode */
		while (p < end && *p == ' ')
			p++;
		while (p < end && *p != ' ')
			p++;
	}
	while (p < end && *p == ' ')
		p++;
	if (p == end || *p != '/' || nmaps == MAX_MAPS)
		return;   /* anonymous, [vdso]...: no file to symbolize with */
	maps[nmaps] = (struct map){ start, limit, offset };
	nmaps++;
	kmm_pprof_mapping(&pp, nmaps, start, limit, offset, kmm_pprof_string(&pp, p, (size_t)(end - p)), 0, 0);
}

static void write_mappings(void)
{
	static char buf[4096], line[4096 + 256];
	size_t len = 0;
	nmaps = 0;
	int fd = kmm_os_open("/proc/self/maps", O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return;
	for (;;) {
		ssize_t got = kmm_os_read(fd, buf, sizeof buf);
		if (got <= 0)
			break;
		for (ssize_t i = 0; i < got; i++) {
			if (buf[i] == '\n') {
				map_line(line, line + len);
				len = 0;
			} else if (len < sizeof line) {
				line[len++] = buf[i];
			}
		}
	}
	kmm_os_close(fd);
}

static uint64_t mapping_of(uint64_t addr)
{
	for (unsigned i = 0; i < nmaps; i++)
		if (addr >= maps[i].start && addr < maps[i].limit)
			return i + 1;
	return 0;
}

static int64_t rounded(double v)
{
	return v > 0 ? (int64_t)(v + 0.5) : 0;
}

/* A stack's four values (alloc_objects, alloc_space, inuse_objects,
 * inuse_space), rounded; frees read first, so in use is never negative. */
static void stack_values(const struct stack *s, int64_t v[4])
{
	uint64_t fo = GET(s->free_objs), fb = GET(s->free_bytes);
	uint64_t ao = GET(s->alloc_objs), ab = GET(s->alloc_bytes);
	v[0] = rounded((double)ao / FX_OBJS);
	v[1] = rounded((double)ab / FX_BYTES);
	v[2] = ao > fo ? rounded((double)(ao - fo) / FX_OBJS) : 0;
	v[3] = ab > fb ? rounded((double)(ab - fb) / FX_BYTES) : 0;
}

/* The profile to fd; lock held.  0 or -1. */
static int write_profile(int fd)
{
	kmm_pprof_begin(&pp, sink, &fd);
	int64_t count = kmm_pprof_cstring(&pp, "count"), bytes = kmm_pprof_cstring(&pp, "bytes");
	kmm_pprof_sample_type(&pp, kmm_pprof_cstring(&pp, "alloc_objects"), count);
	kmm_pprof_sample_type(&pp, kmm_pprof_cstring(&pp, "alloc_space"), bytes);
	kmm_pprof_sample_type(&pp, kmm_pprof_cstring(&pp, "inuse_objects"), count);
	int64_t inuse_space = kmm_pprof_cstring(&pp, "inuse_space");
	kmm_pprof_sample_type(&pp, inuse_space, bytes);
	write_mappings();
	for (uint32_t si = 0; si < KMM_SAMPLE_STACKS; si++) {
		uint64_t h = __atomic_load_n(&tab->hashes[si], __ATOMIC_ACQUIRE);
		if (si != 0 && h < 2)
			continue;   /* (free, or still being written) */
		const struct stack *s = &tab->stacks[si];
		if (GET(s->alloc_objs) == 0)
			continue;
		unsigned depth = si != 0 ? s->depth : 0;
		uint64_t locs[KMM_SAMPLE_DEPTH];
		for (unsigned i = 0; i < depth; i++) {
			/* a return address: the call is the byte before */
			uint64_t addr = s->frames[i] - 1;
			locs[i] = (uint64_t)si * KMM_SAMPLE_DEPTH + i + 1;
			kmm_pprof_location(&pp, locs[i], mapping_of(addr), addr, NULL, NULL, 0);
		}
		int64_t v[4];
		stack_values(s, v);
		kmm_pprof_sample(&pp, locs, depth, v, 4);
	}
	uint64_t now = kmm_os_now_ns();
	kmm_pprof_meta(&pp, (int64_t)kmm_os_realtime_ns(), (int64_t)(now - start_ns), kmm_pprof_cstring(&pp, "space"),
		       bytes, (int64_t)period, inuse_space);
	return kmm_pprof_end(&pp);
}

/* The file: path, or KMM_PROFILE's (FILE.PID in a fork child), or
 * START-UP-DIR/kmm-profile.PID.pb.gz. */
static int dump_locked(const char *path)
{
	char name[sizeof kmm_options.profile_path + 32];
	pid_t pid = kmm_os_getpid();
	if (path == NULL) {
		if (kmm_options.profile_path[0] != '\0')
			kmm_snprintf(name, sizeof name, pid == start_pid ? "%s" : "%s.%d", kmm_options.profile_path,
				     (int)pid);
		else
			kmm_snprintf(name, sizeof name, "%s%skmm-profile.%d.pb.gz", start_dir,
				     start_dir[0] != '\0' ? "/" : "", (int)pid);
		path = name;
	}
	int fd = kmm_os_open_err(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		errno = -fd;
		return -1;
	}
	int r = write_profile(fd);
	int err = errno;
	kmm_os_close(fd);
	if (r != 0) {
		errno = err != 0 ? err : EIO;
		return -1;
	}
	ADD(tot.dumps, 1);
	return 0;
}

static void dump_if_pending(void)
{
	if (KMM_LIKELY(!dump_pending))
		return;
	bool locked = kmm_lock_fork_aware(&lock);
	if (dump_pending) {
		dump_pending = 0;
		(void)dump_locked(NULL);
	}
	kmm_unlock_if(&lock, locked);
}

/* KMM_PROFILE_SIGNAL's handler (sample.h says what it may do). */
static void on_signal(int sig)
{
	(void)sig;
	int saved = errno;
	if (tab != NULL) {
		if (kmm_trylock(&lock)) {
			dump_pending = 0;
			(void)dump_locked(NULL);
			kmm_unlock(&lock);
		} else {
			dump_pending = 1;
		}
	}
	errno = saved;
}

/* ---- the rest of sample.h ------------------------------------------------------- */

int kmm_sample_set_period(int param, long long bytes)
{
	(void)param;
	if (bytes < 0)
		return 0;
	period = (size_t)bytes;
	return 1;
}

size_t kmm_sample_period(void)
{
	return period;
}

bool kmm_sample_on(void)
{
	return period != 0;
}

KMM_COLD void kmm_sample_start(void)
{
	if (period == 0 || kmm_rescued())
		return;
	if (tab == NULL) {
		struct tables *t = kmm_os_map(KMM_ALIGN_UP(sizeof *t, kmm_os_page_size()), 0);
		if (t == NULL) {
			kmm_warn("KMM_SAMPLE: no memory for the sample tables (sampling off)");
			period = 0;
			return;
		}
		start_pid = kmm_os_getpid();
		start_ns = kmm_os_now_ns();
		long n = kmm_os_getcwd(start_dir, sizeof start_dir);
		if (n < 0)
			start_dir[0] = '\0';
		__atomic_store_n(&tab, t, __ATOMIC_RELEASE);
		kmm_heap_set_sampler(&hooks);
	}
	/* (a countdown set while there was no sampler is INT64_MAX) */
	kmm_self.sample_left = 0;
}

KMM_COLD void kmm_sample_constructor(void)
{
	if (tab != NULL && kmm_options.profile_signal > 0 &&
	    kmm_os_set_signal(kmm_options.profile_signal, on_signal) != 0)
		kmm_warn("KMM_PROFILE_SIGNAL: cannot handle signal %d", kmm_options.profile_signal);
}

KMM_COLD int kmm_sample_dump(const char *path)
{
	if (kmm_rescued()) {
		errno = EAGAIN;
		return -1;
	}
	if (tab == NULL) {
		errno = ENOTSUP;
		return -1;
	}
	bool locked = kmm_lock_fork_aware(&lock);
	int r = dump_locked(path);
	int err = errno;
	kmm_unlock_if(&lock, locked);
	errno = err;
	return r;
}

KMM_COLD void kmm_sample_exit(void)
{
	if (tab == NULL || kmm_rescued())
		return;
	if (kmm_sample_dump(NULL) != 0) {
		char err[32];
		kmm_warn("KMM_PROFILE: cannot write the profile: %s", kmm_strerror(errno, err, sizeof err));
	}
	if (GET(tot.dropped_stacks) != 0 || GET(tot.dropped_live) != 0)
		kmm_warn("KMM_SAMPLE: tables full: %llu samples without their stack, %llu without their free "
			 "(counted in use until exit)",
			 (unsigned long long)tot.dropped_stacks, (unsigned long long)tot.dropped_live);
}

KMM_COLD void kmm_sample_totals(struct kmm_sample_totals *out)
{
	memset(out, 0, sizeof *out);
	if (tab == NULL)
		return;
	for (uint32_t i = 0; i < KMM_SAMPLE_STACKS; i++) {
		int64_t v[4];
		if (i != 0 && __atomic_load_n(&tab->hashes[i], __ATOMIC_ACQUIRE) < 2)
			continue;
		stack_values(&tab->stacks[i], v);
		out->alloc_objects += (uint64_t)v[0];
		out->alloc_bytes += (uint64_t)v[1];
		out->inuse_objects += (uint64_t)v[2];
		out->inuse_bytes += (uint64_t)v[3];
	}
	for (int k = 0; k < SHARDS; k++) {
		out->samples += GET(shards[k].samples);
		out->frees += GET(shards[k].frees);
		out->live += GET(shards[k].n);
	}
	out->stacks = GET(tot.stacks);
	out->dropped_stacks = GET(tot.dropped_stacks);
	out->dropped_live = GET(tot.dropped_live);
	out->dumps = GET(tot.dumps);
}

KMM_COLD void kmm_sample_report(struct kmm_buf *b)
{
	struct kmm_sample_totals t;
	if (tab == NULL)
		return;
	kmm_sample_totals(&t);
	kmm_buf_printf(b, "sampled heap profile (KMM_SAMPLE=%zu): %llu samples, %llu of them freed\n", period,
		       (unsigned long long)t.samples, (unsigned long long)t.frees);
	kmm_buf_printf(b, "  estimated allocated: %llu bytes in %llu blocks\n", (unsigned long long)t.alloc_bytes,
		       (unsigned long long)t.alloc_objects);
	kmm_buf_printf(b, "  estimated in use:    %llu bytes in %llu blocks\n", (unsigned long long)t.inuse_bytes,
		       (unsigned long long)t.inuse_objects);
	kmm_buf_printf(b, "  tables: %llu stacks, %llu live samples; dropped: %llu stacks, %llu frees\n",
		       (unsigned long long)t.stacks, (unsigned long long)t.live,
		       (unsigned long long)t.dropped_stacks, (unsigned long long)t.dropped_live);
	kmm_buf_printf(b, "  profiles written: %llu\n", (unsigned long long)t.dumps);
}

/* (Without sampling nothing takes the shards' locks: a fork need not
 * either, nor log them.) */
void kmm_sample_fork_prepare(void)
{
	kmm_fork_lock(&lock);
	if (tab != NULL)
		for (int k = 0; k < SHARDS; k++)
			kmm_fork_spin_lock(&shards[k].lock);
}

void kmm_sample_fork_parent(void)
{
	if (tab != NULL)
		for (int k = SHARDS - 1; k >= 0; k--)
			spin_unlock(&shards[k].lock, true);
	kmm_unlock(&lock);
}

void kmm_sample_fork_child(bool all_locks)
{
	if (all_locks) {
		if (tab != NULL)
			for (int k = 0; k < SHARDS; k++)
				shards[k].lock = 0;
		kmm_lock_reset(&lock);
	}
	rng = 0;   /* (reseeded: not the parent's sequence) */
}
