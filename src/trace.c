/*
 * trace.c — the allocation trace log writer.  Format: trace_format.h, which
 * docs/trace.md describes.
 *
 * Theory.  Every event gets a number from one process-wide counter (an
 * atomic add), so the order of events across threads is exact, and goes
 * into its thread's buffer; buffers are written out as blocks, each with
 * one writev() on a file opened O_APPEND, so blocks never mix.  The reader
 * sorts events by number.
 *
 *   thread A:  [events 3 7 8 ...............]   -> block (tid A) when full
 *   thread B:  [events 4 5 6 9 ..............]  -> block (tid B) when full
 *
 * A buffer (64 KiB) is a slab object the heap side hands over through the
 * provider (trace.h): asking for it records slab events, and events a
 * thread makes before its buffer exists go to a few slots of staging in
 * its TLS record.  The owner appends without a lock and publishes its fill
 * level with a release store; writing a buffer out takes the buffer's
 * flush lock, so at process exit the exiting thread can write out the
 * events other threads have published, without stopping them.
 *
 * Locks: the registry lock (list of buffers) and a buffer's flush lock,
 * leaves in that order (util/lock.h, KMM_RANK_TRACE_*): hooks run with
 * arena, zone and slab locks held.  They are spin locks with sched_yield: held
 * only around one writev or a list update.
 *
 * Files: docs/trace.md, "Files".  fork: the child drops every buffer but
 * its own, empties that one (the parent writes those events) and starts a
 * file of its own.  Crash, kill, _exit or exec: the buffers not yet
 * written are lost, and the log has no end block, which the reader reports.
 * exec: the new image's trace starts in FILE.PID[.N] and appends an exec
 * block to the old image's log naming it (note_exec).
 */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/uio.h>
#include <time.h>

#include "trace.h"
#include "backtrace.h"
#include "sys.h"
#include "util/lock.h"

bool kmm_trace_on;

/* ---- state ----------------------------------------------------------------- */

struct tbuf {
	struct tbuf *next, *prev;     /* the registry */
	volatile int flush_lock;
	uint32_t tid;
	uint32_t pos;                 /* bytes of events; written by the owner only */
	uint32_t flushed;             /* bytes of them written out (flush lock) */
	uint64_t count;               /* events appended (owner) */
	uint64_t count_flushed;       /* of them written out (flush lock) */
};
#define TBUF_DATA_OFF ((sizeof(struct tbuf) + 63) & ~(size_t)63)
#define TBUF_CAP                                                                                    \
	((uint32_t)((KMM_TRACE_BUF_SIZE - TBUF_DATA_OFF) / sizeof(struct kmm_trace_record) *        \
		    sizeof(struct kmm_trace_record)))

#define STAGE_EVENTS 4

struct tthread {
	struct tbuf *buf;
	uint32_t tid;
	uint8_t providing;            /* asking the provider for a buffer now */
	uint8_t exited;               /* after kmm_trace_thread_exit: unbuffered */
	uint8_t vmalloc_path;
	uint8_t stage_len;
	struct kmm_trace_record stage[STAGE_EVENTS];
};

static __thread struct tthread tself __attribute__((tls_model("initial-exec")));

static int trace_fd = -1;
static char trace_path[4096];
static unsigned trace_depth;
static uint64_t start_mono;
static struct kmm_trace_provider provider;
/* The process-wide event counter, alone on its cache line: every event of
 * every thread adds to it, and the read-mostly settings next to it would
 * otherwise miss in every other thread's cache each time. */
static struct {
	uint64_t v;
	char pad[56];
} seq_line __attribute__((aligned(64)));
#define next_seq (seq_line.v)
static uint64_t first_seq;
static uint64_t events_written;
static volatile int registry_lock;
static struct tbuf *registry;
static bool finished;
static int parent_pid;               /* saved in fork prepare */
static uint64_t sample_next;         /* coarse clock (ns) of the next rss and layer sample */
static uint64_t layer_samples;       /* layer samples taken (the last one's number) */

/* ---- small helpers (no libc beyond memcpy and clock_gettime) ------------------- */

static void spin_lock(volatile int *l)
{
	kmm_busy++;   /* (util/lock.h, "BUSY") */
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE) != 0)
		KMM_RAW0(SYS_sched_yield);
}

static void spin_unlock(volatile int *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
	kmm_busy--;
}

static uint64_t clock_ns(clockid_t which)
{
	struct timespec ts;
	clock_gettime(which, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Event times.  clock_gettime costs a fifth of a traced run on some
 * machines (a slow vDSO clock source under virtualisation), so where the
 * CPU's time stamp counter runs at a constant rate in every state
 * (constant_tsc and nonstop_tsc in /proc/cpuinfo) events read it and
 * convert with a factor measured against CLOCK_MONOTONIC at start. */
#if defined(__x86_64__)
static bool use_tsc;
static uint64_t tsc_start;
static double ns_per_tick;

static inline uint64_t read_tsc(void)
{
	uint32_t lo, hi;
	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static bool cpuinfo_has(const char *buf, const char *flag)
{
	size_t n = strlen(flag);
	for (const char *p = buf; (p = strstr(p, flag)) != NULL; p += n)
		if ((p == buf || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

static void tsc_setup(void)
{
	char buf[8192];
	size_t len = 0;
	long fd = KMM_RAW5(SYS_openat, AT_FDCWD, "/proc/cpuinfo", O_RDONLY | O_CLOEXEC, 0, 0);
	if (fd < 0)
		return;
	for (;;) {
		long r = KMM_RAW3(SYS_read, fd, buf + len, sizeof buf - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len == sizeof buf - 1)
			break;
	}
	KMM_RAW3(SYS_close, fd, 0, 0);
	buf[len] = '\0';
	/* the first CPU's flags line */
	const char *flags = strstr(buf, "\nflags");
	if (flags == NULL)
		return;
	const char *end = strchr(flags + 1, '\n');
	if (end == NULL)
		return;
	char line[4096];
	size_t n = (size_t)(end - flags) < sizeof line - 1 ? (size_t)(end - flags) : sizeof line - 1;
	memcpy(line, flags, n);
	line[n] = '\0';
	if (!cpuinfo_has(line, "constant_tsc") || !cpuinfo_has(line, "nonstop_tsc"))
		return;
	/* 2 ms against the monotonic clock */
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC), c0 = read_tsc(), t1, c1;
	do {
		t1 = clock_ns(CLOCK_MONOTONIC);
		c1 = read_tsc();
	} while (t1 - t0 < 2000000);
	if (c1 <= c0)
		return;
	ns_per_tick = (double)(t1 - t0) / (double)(c1 - c0);
	tsc_start = c0 - (uint64_t)((double)(t0 - start_mono) / ns_per_tick);
	use_tsc = true;
}

static inline uint64_t event_time(void)
{
	if (KMM_LIKELY(use_tsc))
		return (uint64_t)((double)(read_tsc() - tsc_start) * ns_per_tick);
	return clock_ns(CLOCK_MONOTONIC) - start_mono;
}
#else
static void tsc_setup(void)
{
}

static inline uint64_t event_time(void)
{
	return clock_ns(CLOCK_MONOTONIC) - start_mono;
}
#endif

static uint32_t my_tid(struct tthread *ts)
{
	if (ts->tid == 0)
		ts->tid = (uint32_t)KMM_RAW0(SYS_gettid);
	return ts->tid;
}

static char *put_uint(char *p, uint64_t v)
{
	char tmp[24];
	int n = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/* Write all of iov to the log (one writev, continued if short). */
static void write_iov(struct iovec *iov, int n)
{
	if (trace_fd < 0)
		return;
	while (n > 0) {
		long r = KMM_RAW3(SYS_writev, trace_fd, iov, n);
		if (r == -EINTR)
			continue;
		if (r <= 0)
			return;
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= (long)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
}

static void write_block(unsigned kind, uint32_t tid, const void *data, size_t size)
{
	struct kmm_trace_block_header h = { KMM_TRACE_BLOCK_MAGIC_U32, (uint16_t)kind, 0, tid, (uint32_t)size };
	struct iovec iov[2] = { { &h, sizeof h }, { (void *)data, size } };
	write_iov(iov, size > 0 ? 2 : 1);
}

static long open_at(const char *path, int flags, int mode)
{
	return KMM_RAW5(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, mode, 0);
}

/* ---- file, header, info, maps ----------------------------------------------------- */

/* FILE, else FILE.PID, else FILE.PID.N (docs/trace.md, "Files").  The first
 * try is skipped for a forked child.  *k: 0 for FILE, 1 for FILE.PID, N
 * for FILE.PID.N; the name taken is in created_path. */
static char created_path[sizeof trace_path + 48];

static int create_log(bool may_take_plain, uint32_t pid, unsigned *k_out)
{
	char name[sizeof trace_path + 48];
	size_t n = strlen(trace_path);
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_APPEND;
	if (may_take_plain) {
		long fd = open_at(trace_path, flags, 0644);
		if (fd >= 0 || fd != -EEXIST) {
			memcpy(created_path, trace_path, n + 1);
			*k_out = 0;
			return (int)fd;
		}
	}
	memcpy(name, trace_path, n);
	char *p = name + n;
	*p++ = '.';
	p = put_uint(p, pid);
	for (unsigned k = 1; k < 1000; k++) {
		char *q = p;
		if (k > 1) {
			*q++ = '.';
			q = put_uint(q, k);
		}
		*q = '\0';
		long fd = open_at(name, flags, 0644);
		if (fd >= 0 || fd != -EEXIST) {
			memcpy(created_path, name, (size_t)(q - name) + 1);
			*k_out = k;
			return (int)fd;
		}
	}
	return -1;
}

/* ---- exec: the predecessor's log names this one ------------------------------------ */

/* The name FILE.PID.K would have (K 0: FILE, 1: FILE.PID) into name. */
static void log_name(char *name, uint32_t pid, unsigned k)
{
	size_t n = strlen(trace_path);
	memcpy(name, trace_path, n);
	char *p = name + n;
	if (k > 0) {
		*p++ = '.';
		p = put_uint(p, pid);
	}
	if (k > 1) {
		*p++ = '.';
		p = put_uint(p, k);
	}
	*p = '\0';
}

/* When this process started, as CLOCK_MONOTONIC ns (0 if unknown):
 * /proc/self/stat's starttime (clock ticks since boot, which exec keeps)
 * less the time the machine was suspended (BOOTTIME - MONOTONIC). */
static uint64_t process_start_mono(void)
{
	char buf[1024];
	long fd = open_at("/proc/self/stat", O_RDONLY, 0);
	if (fd < 0)
		return 0;
	long r = KMM_RAW3(SYS_read, fd, buf, sizeof buf - 1);
	KMM_RAW3(SYS_close, fd, 0, 0);
	if (r <= 0)
		return 0;
	buf[r] = '\0';
	/* after "(comm)", which may hold spaces and parentheses: field 3 on */
	const char *p = NULL;
	for (long i = r - 1; i >= 0; i--)
		if (buf[i] == ')') {
			p = buf + i + 1;
			break;
		}
	if (p == NULL)
		return 0;
	/* starttime is field 22: the 20th after the ')' */
	for (int field = 3; field < 22; field++) {
		while (*p == ' ')
			p++;
		while (*p != ' ' && *p != '\0')
			p++;
	}
	while (*p == ' ')
		p++;
	uint64_t ticks = 0;
	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		ticks = ticks * 10 + (uint64_t)(*p++ - '0');
	unsigned long hz = getauxval(AT_CLKTCK);
	if (hz == 0)
		hz = 100;
	uint64_t boot = ticks * (1000000000u / hz);
	uint64_t mono = clock_ns(CLOCK_MONOTONIC), since_boot = clock_ns(CLOCK_BOOTTIME);
	uint64_t suspended = since_boot > mono ? since_boot - mono : 0;
	return boot > suspended ? boot - suspended : 1;
}

/* This image's log is FILE.PID.K (k >= 1).  If the log named just before
 * it (FILE.PID.K-1, FILE.PID, or FILE) is this same process's, from
 * before an exec (the same pid in its header, and started after this
 * process did: not a log of an earlier process that had the same pid),
 * append an exec block to it naming this log, so that its reader finds
 * where the process went on. */
static void note_exec(uint32_t pid, unsigned k, uint32_t tid)
{
	char prev[sizeof created_path];
	log_name(prev, pid, k - 1);
	long fd = open_at(prev, O_RDWR | O_APPEND, 0);
	if (fd < 0)
		return;
	struct kmm_trace_file_header h;
	long r = KMM_RAW6(SYS_pread64, fd, &h, sizeof h, 0, 0, 0);
	uint64_t started = process_start_mono();
	/* starttime counts in clock ticks: 10 ms at 100 Hz, 20 ms of slack */
	if (r != (long)sizeof h || memcmp(h.magic, KMM_TRACE_MAGIC, KMM_TRACE_MAGIC_LEN) != 0 ||
	    h.version != KMM_TRACE_VERSION || h.pid != pid || started == 0 || h.start_mono + 20000000u < started) {
		KMM_RAW3(SYS_close, fd, 0, 0);
		return;
	}
	char buf[4096 + sizeof created_path];
	size_t n = 0;
	const char *base = created_path;
	for (const char *c = created_path; *c; c++)
		if (*c == '/')
			base = c + 1;
	size_t bl = strlen(base);
	memcpy(buf, "file=", 5);
	n = 5;
	memcpy(buf + n, base, bl);
	n += bl;
	memcpy(buf + n, "\nexe=", 5);
	n += 5;
	r = KMM_RAW6(SYS_readlinkat, AT_FDCWD, "/proc/self/exe", buf + n, 4000, 0, 0);
	if (r > 0)
		n += (size_t)r;
	buf[n++] = '\n';
	struct kmm_trace_block_header bh = { KMM_TRACE_BLOCK_MAGIC_U32, KMM_TB_EXEC, 0, tid, (uint32_t)n };
	struct iovec iov[2] = { { &bh, sizeof bh }, { buf, n } };
	/* one writev on O_APPEND: the old image's threads are gone */
	KMM_RAW3(SYS_writev, fd, iov, 2);
	KMM_RAW3(SYS_close, fd, 0, 0);
}

static void write_header(uint32_t pid, uint32_t ppid)
{
	struct kmm_trace_file_header h;
	memset(&h, 0, sizeof h);
	memcpy(h.magic, KMM_TRACE_MAGIC, KMM_TRACE_MAGIC_LEN);
	h.version = KMM_TRACE_VERSION;
	h.header_size = sizeof h;
	h.pid = pid;
	h.ppid = ppid;
	h.depth = trace_depth;
	h.page_size = 4096;
	h.start_mono = start_mono;
	h.start_real = clock_ns(CLOCK_REALTIME);
	h.first_seq = first_seq;
	struct iovec iov = { &h, sizeof h };
	write_iov(&iov, 1);
}

static void write_info(uint32_t tid)
{
	char buf[4096];
	size_t n = 0;
	memcpy(buf, "exe=", 4);
	n = 4;
	long r = KMM_RAW6(SYS_readlinkat, AT_FDCWD, "/proc/self/exe", buf + n, sizeof buf / 2, 0, 0);
	if (r > 0)
		n += (size_t)r;
	buf[n++] = '\n';
	memcpy(buf + n, "cmdline=", 8);
	n += 8;
	long fd = open_at("/proc/self/cmdline", O_RDONLY, 0);
	if (fd >= 0) {
		r = KMM_RAW3(SYS_read, fd, buf + n, sizeof buf - n - 1);
		if (r > 0) {
			for (long i = 0; i < r; i++)
				if (buf[n + (size_t)i] == '\0' || buf[n + (size_t)i] == '\n')
					buf[n + (size_t)i] = ' ';
			while (r > 0 && buf[n + (size_t)r - 1] == ' ')
				r--;
			n += (size_t)r;
		}
		KMM_RAW3(SYS_close, fd, 0, 0);
	}
	buf[n++] = '\n';
	write_block(KMM_TB_INFO, tid, buf, n);
}

/* /proc/self/maps, as blocks of whole lines. */
static void write_maps(uint32_t tid)
{
	char buf[4096];
	long fd = open_at("/proc/self/maps", O_RDONLY, 0);
	if (fd < 0)
		return;
	for (;;) {
		long r = KMM_RAW3(SYS_read, fd, buf, sizeof buf);
		if (r == -EINTR)
			continue;
		if (r <= 0)
			break;
		write_block(KMM_TB_MAPS, tid, buf, (size_t)r);
	}
	KMM_RAW3(SYS_close, fd, 0, 0);
}

bool kmm_trace_start(const char *path, unsigned depth, const struct kmm_trace_provider *prov)
{
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof trace_path || kmm_trace_on)
		return false;
	memcpy(trace_path, path, n + 1);
	trace_depth = depth;
	provider = *prov;
	uint32_t pid = (uint32_t)KMM_RAW0(SYS_getpid);
	unsigned k = 0;
	int fd = create_log(true, pid, &k);
	if (fd < 0)
		return false;
	trace_fd = fd;
	start_mono = clock_ns(CLOCK_MONOTONIC);
	tsc_setup();
	first_seq = next_seq;
	uint32_t tid = my_tid(&tself);
	write_header(pid, 0);
	write_info(tid);
	write_maps(tid);
	if (k > 0)
		note_exec(pid, k, tid);
	__atomic_store_n(&kmm_trace_on, true, __ATOMIC_RELEASE);
	return true;
}

/* ---- buffers ------------------------------------------------------------------ */

static inline unsigned char *tbuf_data(struct tbuf *b)
{
	return (unsigned char *)b + TBUF_DATA_OFF;
}

/* Write out what b holds beyond what was written.  Flush lock held. */
static void tbuf_write_locked(struct tbuf *b)
{
	uint32_t pos = __atomic_load_n(&b->pos, __ATOMIC_ACQUIRE);
	uint64_t count = __atomic_load_n(&b->count, __ATOMIC_ACQUIRE);
	if (pos > b->flushed) {
		write_block(KMM_TB_EVENTS, b->tid, tbuf_data(b) + b->flushed, pos - b->flushed);
		__atomic_add_fetch(&events_written, count - b->count_flushed, __ATOMIC_RELAXED);
	}
	b->flushed = pos;
	b->count_flushed = count;
}

static void registry_add(struct tbuf *b)
{
	spin_lock(&registry_lock);
	b->prev = NULL;
	b->next = registry;
	if (registry != NULL)
		registry->prev = b;
	registry = b;
	spin_unlock(&registry_lock);
}

static void registry_del(struct tbuf *b)
{
	spin_lock(&registry_lock);
	if (b->prev != NULL)
		b->prev->next = b->next;
	else
		registry = b->next;
	if (b->next != NULL)
		b->next->prev = b->prev;
	spin_unlock(&registry_lock);
}

static void write_stage(struct tthread *ts)
{
	if (ts->stage_len == 0)
		return;
	write_block(KMM_TB_EVENTS, my_tid(ts), ts->stage, ts->stage_len * sizeof(struct kmm_trace_record));
	__atomic_add_fetch(&events_written, ts->stage_len, __ATOMIC_RELAXED);
	ts->stage_len = 0;
}

static void append_to(struct tbuf *b, const struct kmm_trace_record *e, const uint64_t *frames)
{
	uint32_t pos = b->pos;
	uint32_t len = (uint32_t)(sizeof *e + e->nframes * sizeof(uint64_t));
	if (KMM_UNLIKELY(pos + len > TBUF_CAP)) {
		spin_lock(&b->flush_lock);
		tbuf_write_locked(b);
		b->flushed = 0;
		__atomic_store_n(&b->pos, 0, __ATOMIC_RELEASE);
		spin_unlock(&b->flush_lock);
		pos = 0;
	}
	memcpy(tbuf_data(b) + pos, e, sizeof *e);
	if (e->nframes > 0)
		memcpy(tbuf_data(b) + pos + sizeof *e, frames, e->nframes * sizeof(uint64_t));
	__atomic_store_n(&b->count, b->count + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&b->pos, pos + len, __ATOMIC_RELEASE);
}

static KMM_NOINLINE void get_buffer(struct tthread *ts)
{
	ts->providing = 1;
	void *m = provider.alloc();
	ts->providing = 0;
	if (m == NULL)
		return;
	struct tbuf *b = m;
	memset(b, 0, sizeof *b);
	b->tid = my_tid(ts);
	registry_add(b);
	ts->buf = b;
	for (unsigned i = 0; i < ts->stage_len; i++)
		append_to(b, &ts->stage[i], NULL);
	ts->stage_len = 0;
}

/* e (and its e->nframes frames) into this thread's buffer. */
static void append(struct tthread *ts, struct kmm_trace_record *e, const uint64_t *frames)
{
	if (KMM_UNLIKELY(ts->buf == NULL)) {
		/* staged (without its backtrace, if it has one) before asking
		 * for a buffer: the events that asking records come after it,
		 * and a block holds its events in sequence order */
		if (ts->stage_len == STAGE_EVENTS)
			write_stage(ts);
		ts->stage[ts->stage_len] = *e;
		ts->stage[ts->stage_len++].nframes = 0;
		if (!ts->providing && !ts->exited && !finished && provider.alloc != NULL)
			get_buffer(ts);
		if (ts->buf == NULL && (ts->exited || finished))
			write_stage(ts);
		return;
	}
	if (KMM_UNLIKELY(__atomic_load_n(&finished, __ATOMIC_ACQUIRE))) {
		/* after the end block: one block per event */
		e->nframes = 0;
		write_block(KMM_TB_EVENTS, my_tid(ts), e, sizeof *e);
		__atomic_add_fetch(&events_written, 1, __ATOMIC_RELAXED);
		return;
	}
	append_to(ts->buf, e, frames);
}

static void fill(struct kmm_trace_record *e, uint64_t seq, unsigned type, unsigned path, uint32_t aux, uint64_t a,
		 uint64_t b, uint64_t c, uint64_t d)
{
	e->seq = seq == KMM_TRACE_SEQ_NOW ? __atomic_fetch_add(&next_seq, 1, __ATOMIC_RELAXED) : seq;
	e->time = event_time();
	e->type = (uint8_t)type;
	e->path = (uint8_t)path;
	e->nframes = 0;
	e->aux = aux;
	e->a = a;
	e->b = b;
	e->c = c;
	e->d = d;
}

KMM_NOINLINE void kmm_trace_event(unsigned type, unsigned path, uint32_t aux, uint64_t a, uint64_t b,
				  uint64_t c, uint64_t d)
{
	struct tthread *ts = &tself;
	struct kmm_trace_record e;
	fill(&e, KMM_TRACE_SEQ_NOW, type, path, aux, a, b, c, d);
	if (type == KMM_TR_VMALLOC)
		ts->vmalloc_path = (uint8_t)path;
	append(ts, &e, NULL);
}

/* ---- rss and layer samples ----------------------------------------------------- */

#define SAMPLE_EVERY_NS 10000000ull  /* 10 ms */
/* A layer sample walks every bin (trace_layers.c): the next one waits at
 * least this many times as long as the last one took, so that samples
 * cost at most 2% of the time even when the heap is large. */
#define LAYERS_SPACING 50

/* An rss event: /proc/self/statm's size, resident and shared pages. */
static KMM_NOINLINE void rss_sample(void)
{
	char buf[128];
	long fd = open_at("/proc/self/statm", O_RDONLY, 0);
	if (fd < 0)
		return;
	long r;
	do
		r = KMM_RAW3(SYS_read, fd, buf, sizeof buf - 1);
	while (r == -EINTR);
	KMM_RAW3(SYS_close, fd, 0, 0);
	if (r <= 0)
		return;
	uint64_t v[3] = { 0, 0, 0 };
	unsigned k = 0;
	for (long i = 0; i < r && k < 3; i++) {
		if (buf[i] >= '0' && buf[i] <= '9')
			v[k] = v[k] * 10 + (uint64_t)(buf[i] - '0');
		else if (buf[i] == ' ')
			k++;
	}
	kmm_trace_event(KMM_TR_RSS, 0, 0, v[1] * 4096, v[2] * 4096, v[0] * 4096, 0);
}

/* The layer events of one sample; returns the time it took. */
static KMM_NOINLINE uint64_t layers_sample(void)
{
	if (provider.layers == NULL)
		return 0;
	uint64_t t0 = event_time();
	provider.layers(__atomic_add_fetch(&layer_samples, 1, __ATOMIC_RELAXED));
	uint64_t t1 = event_time();
	return t1 > t0 ? t1 - t0 : 0;
}

/* At the start of a malloc-family call (no kmm lock held): samples when
 * 10 ms have passed since the last ones (one thread takes them).  The
 * clock here is the coarse one (a few ns, no TSC read: this runs on every
 * traced call; reading the event clock here cost 6-11% of a traced run,
 * bench/bin/mixed); its resolution, a few ms, is plenty for the spacing. */
void kmm_trace_tick(void)
{
	uint64_t now = clock_ns(CLOCK_MONOTONIC_COARSE);
	uint64_t next = __atomic_load_n(&sample_next, __ATOMIC_RELAXED);
	if (KMM_LIKELY(now < next))
		return;
	if (!__atomic_compare_exchange_n(&sample_next, &next, now + SAMPLE_EVERY_NS, false, __ATOMIC_RELAXED,
					 __ATOMIC_RELAXED))
		return;
	rss_sample();
	uint64_t took = layers_sample();
	if (took * LAYERS_SPACING > SAMPLE_EVERY_NS)
		__atomic_store_n(&sample_next, now + took * LAYERS_SPACING, __ATOMIC_RELAXED);
}

uint64_t kmm_trace_reserve(void)
{
	return __atomic_fetch_add(&next_seq, 1, __ATOMIC_RELAXED);
}

KMM_NOINLINE void kmm_trace_call_at(uint64_t seq, unsigned type, unsigned path, uint32_t aux, uint64_t a,
				    uint64_t b, uint64_t c, uint64_t d)
{
	struct tthread *ts = &tself;
	uint64_t frames[KMM_TRACE_MAX_FRAMES];
	/* the backtrace first: what the unwinder records (it may allocate)
	 * comes before this event, without a backtrace of its own */
	unsigned n = trace_depth > 0 ? kmm_backtrace(frames, trace_depth) : 0;
	struct kmm_trace_record e;
	fill(&e, seq, type, path, aux, a, b, c, d);
	e.nframes = (uint16_t)n;
	append(ts, &e, frames);
}

unsigned kmm_trace_last_vmalloc_path(void)
{
	return tself.vmalloc_path;
}

void kmm_trace_thread_exit(void)
{
	struct tthread *ts = &tself;
	if (!kmm_trace_on || ts->exited)
		return;
	kmm_trace_event(KMM_TR_THREAD_EXIT, 0, 0, 0, 0, 0, 0);
	struct tbuf *b = ts->buf;
	ts->exited = 1;
	if (b != NULL) {
		spin_lock(&b->flush_lock);
		tbuf_write_locked(b);
		spin_unlock(&b->flush_lock);
		registry_del(b);
		ts->buf = NULL;
		/* the slab free this records is written at once (exited) */
		provider.free(b);
	}
	write_stage(ts);
}

void kmm_trace_finish(void)
{
	if (!kmm_trace_on || finished)
		return;
	struct tthread *ts = &tself;
	uint32_t tid = my_tid(ts);
	rss_sample();
	if (kmm_busy == 0)   /* (not an exit from a handler that interrupted kmm: its locks) */
		layers_sample();
	write_maps(tid);
	spin_lock(&registry_lock);
	for (struct tbuf *b = registry; b != NULL; b = b->next) {
		spin_lock(&b->flush_lock);
		tbuf_write_locked(b);
		spin_unlock(&b->flush_lock);
	}
	__atomic_store_n(&finished, true, __ATOMIC_RELEASE);
	spin_unlock(&registry_lock);
	write_stage(ts);
	struct kmm_trace_end end = { __atomic_load_n(&events_written, __ATOMIC_RELAXED),
				     __atomic_load_n(&next_seq, __ATOMIC_RELAXED) - 1 };
	write_block(KMM_TB_END, tid, &end, sizeof end);
}

/* ---- fork ------------------------------------------------------------------ */

void kmm_trace_fork_prepare(void)
{
	if (!kmm_trace_on)
		return;
	parent_pid = (int)KMM_RAW0(SYS_getpid);
	kmm_fork_spin_lock(&registry_lock);   /* (counted busy: util/lock.h) */
}

void kmm_trace_fork_parent(void)
{
	if (!kmm_trace_on)
		return;
	parent_pid = 0;
	spin_unlock(&registry_lock);
}

void kmm_trace_fork_child(void)
{
	if (!kmm_trace_on)
		return;
	struct tthread *ts = &tself;
	/* a single-threaded fork skips the prepare handler (init.c): the
	 * parent is then the process that made this one */
	if (parent_pid == 0)
		parent_pid = (int)KMM_RAW0(SYS_getppid);
	registry_lock = 0;
	/* the other threads do not exist here, and the parent writes out
	 * what every buffer holds: keep only ours, empty */
	registry = NULL;
	ts->tid = 0;
	ts->stage_len = 0;
	if (ts->buf != NULL) {
		struct tbuf *b = ts->buf;
		memset(b, 0, sizeof *b);
		b->tid = my_tid(ts);
		registry = b;
	}
	events_written = 0;
	finished = false;
	if (trace_fd >= 0)
		KMM_RAW3(SYS_close, trace_fd, 0, 0);
	uint32_t pid = (uint32_t)KMM_RAW0(SYS_getpid);
	unsigned k;
	trace_fd = create_log(false, pid, &k);
	if (trace_fd < 0) {
		kmm_trace_on = false;
		return;
	}
	first_seq = next_seq;
	uint32_t tid = my_tid(ts);
	write_header(pid, (uint32_t)parent_pid);
	write_info(tid);
	write_maps(tid);
	kmm_trace_event(KMM_TR_FORK, 0, 0, (uint64_t)parent_pid, 0, 0, 0);
	parent_pid = 0;
	sample_next = 0;                     /* the child's first samples: soon */
}
