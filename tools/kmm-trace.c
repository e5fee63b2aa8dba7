/*
 * kmm-trace — the reader of kmm's allocation trace log (docs/trace.md).
 *
 *     kmm-trace dump|summary|leaks|plot|mtrace [OPTIONS] FILE
 *
 * dump     one line per event, in global sequence order, symbolized
 * summary  counts and bytes per operation, serving path, size class and
 *          system call; peak live bytes; kmm's own slab and vmalloc use;
 *          the top allocation sites; threads; whether the log was cut short
 * leaks    blocks never freed, grouped by allocation site or backtrace
 * plot     an SVG of live heap bytes, break size, vmalloc and mapped bytes
 * mtrace   the log in glibc's mtrace(3) text format, for mtrace(1)
 *
 * How it works: the log is mapped read-only and its blocks are indexed and
 * validated in one pass (the first truncated or foreign block ends the log:
 * it was cut short).  The event blocks of each thread form a stream already
 * in sequence order; a k-way merge over the streams (a binary heap keyed by
 * the next sequence number) delivers all events in global order without
 * copying them.  Live blocks are kept in an open-addressing hash table, so
 * nothing is allocated per event.
 *
 * Symbols: an address is looked up in the last complete /proc/self/maps
 * snapshot of the log (older snapshots as a fallback), which gives a file
 * and a file offset; the file's ELF program headers turn the offset into a
 * link-time address, its symbol table gives name+offset, and one
 * `addr2line -a -f -C -i -s -e FILE` process per file (run through popen,
 * the addresses in a temporary file) gives function and source line.
 *
 * Only libc is used (plus addr2line from binutils, when installed).
 * Exit status: 0 on success (a log that was cut short is read up to where
 * it ends, with a warning), 2 on bad usage or an unreadable or invalid file.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "trace_format.h"

#define PROG "kmm-trace"

/* ====================================================================== */
/* utilities                                                              */
/* ====================================================================== */

static void fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fatal(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		fatal("out of memory (%zu bytes)", n);
	return q;
}

static void *xcalloc(size_t n, size_t s)
{
	void *p = calloc(n ? n : 1, s ? s : 1);
	if (!p)
		fatal("out of memory (%zu x %zu bytes)", n, s);
	return p;
}

static char *xstrndup(const char *s, size_t n)
{
	char *p = xrealloc(NULL, n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

static char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("formatting failed");
	char *p = xrealloc(NULL, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

#define GROW(arr, n, cap)                                                    \
	do {                                                                 \
		if ((n) >= (cap)) {                                          \
			(cap) = (cap) ? 2 * (cap) : 16;                      \
			(arr) = xrealloc((arr), (cap) * sizeof *(arr));      \
		}                                                            \
	} while (0)

/* little-endian fields (the log is little-endian) */
static inline uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}
static inline uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}
static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static inline uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* "1.5 KiB": human-readable bytes */
static const char *hbytes(double v, char *buf, size_t n)
{
	static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	int i = 0;
	double a = v < 0 ? -v : v;
	while (a >= 1024 && i < 5) {
		a /= 1024;
		v /= 1024;
		i++;
	}
	if (i == 0 || v == (double)(int64_t)v)
		snprintf(buf, n, "%.0f %s", v, unit[i]);
	else
		snprintf(buf, n, "%.1f %s", v, unit[i]);
	return buf;
}

/* ns as "S.UUUUUU" (seconds, microseconds) */
static const char *hsecs(uint64_t ns, char *buf, size_t n)
{
	snprintf(buf, n, "%" PRIu64 ".%06" PRIu64, ns / 1000000000u, ns % 1000000000u / 1000u);
	return buf;
}

/* a system call result: -errno in [-4095, -1] */
static int is_err(uint64_t r) { return (int64_t)r < 0 && (int64_t)r >= -4095; }

static const char *errname(int e)
{
	static const struct { int e; const char *n; } t[] = {
		{EPERM, "EPERM"}, {ENOENT, "ENOENT"}, {EINTR, "EINTR"}, {EBADF, "EBADF"},
		{EAGAIN, "EAGAIN"}, {ENOMEM, "ENOMEM"}, {EACCES, "EACCES"}, {EFAULT, "EFAULT"},
		{EBUSY, "EBUSY"}, {EEXIST, "EEXIST"}, {EINVAL, "EINVAL"}, {EFBIG, "EFBIG"},
		{ENOSPC, "ENOSPC"}, {ENOSYS, "ENOSYS"}, {EOVERFLOW, "EOVERFLOW"},
		{EOPNOTSUPP, "EOPNOTSUPP"},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (t[i].e == e)
			return t[i].n;
	return NULL;
}

/* "0x7f..." or "-ENOMEM" */
static const char *hresult(uint64_t r, char *buf, size_t n)
{
	if (is_err(r)) {
		const char *en = errname((int)-(int64_t)r);
		if (en)
			snprintf(buf, n, "-%s", en);
		else
			snprintf(buf, n, "-%" PRId64, -(int64_t)r);
	} else
		snprintf(buf, n, "0x%" PRIx64, r);
	return buf;
}

/* ====================================================================== */
/* the log: header, blocks, streams                                       */
/* ====================================================================== */

/* The format is src/trace_format.h: sizes, and where a field is in the file */
enum {
	HDR_SIZE = sizeof(struct kmm_trace_file_header),
	BLK_HDR = sizeof(struct kmm_trace_block_header),
	EV_SIZE = sizeof(struct kmm_trace_record),
};
#define FH_AT(f) offsetof(struct kmm_trace_file_header, f)
#define BH_AT(f) offsetof(struct kmm_trace_block_header, f)
#define EV_AT(f) offsetof(struct kmm_trace_record, f)
#define END_AT(f) offsetof(struct kmm_trace_end, f)

/* fields of an event record at r (no decoding of the rest) */
static inline uint64_t rec_seq(const uint8_t *r) { return rd64(r + EV_AT(seq)); }
static inline uint64_t rec_time(const uint8_t *r) { return rd64(r + EV_AT(time)); }
static inline unsigned rec_type(const uint8_t *r) { return r[EV_AT(type)]; }
static inline uint64_t rec_caller(const uint8_t *r) { return rd64(r + EV_AT(d)); }
static inline unsigned rec_nframes(const uint8_t *r) { return rd16(r + EV_AT(nframes)); }
static inline const uint8_t *rec_frames(const uint8_t *r) { return r + EV_SIZE; }
/* the record with its backtrace */
static inline size_t rec_size(const uint8_t *r) { return EV_SIZE + KMM_TRACE_FRAME_SIZE * (size_t)rec_nframes(r); }

#define NONE ((size_t)-1)

struct ev {
	uint64_t seq, time, a, b, c, d;
	uint32_t aux, tid;
	unsigned type, path, nframes;
	const uint8_t *rec; /* the record; frames at rec_frames(rec) */
};

static inline void ev_decode(const uint8_t *p, uint32_t tid, struct ev *e)
{
	e->seq = rd64(p + EV_AT(seq));
	e->time = rd64(p + EV_AT(time));
	e->type = p[EV_AT(type)];
	e->path = p[EV_AT(path)];
	e->nframes = rd16(p + EV_AT(nframes));
	e->aux = rd32(p + EV_AT(aux));
	e->a = rd64(p + EV_AT(a));
	e->b = rd64(p + EV_AT(b));
	e->c = rd64(p + EV_AT(c));
	e->d = rd64(p + EV_AT(d));
	e->tid = tid;
	e->rec = p;
}

static inline uint64_t ev_frame(const struct ev *e, unsigned i)
{
	return rd64(rec_frames(e->rec) + KMM_TRACE_FRAME_SIZE * (size_t)i);
}

struct block {
	uint64_t off; /* of the block header */
	uint32_t size, tid;
	uint16_t kind;
	uint32_t nev;
};

/* a run of events in sequence order: a whole event block, or a part of one
 * whose sequence numbers go backwards somewhere */
struct seg {
	const uint8_t *p, *end;
	uint32_t tid;
	uint64_t first_seq, last_seq;
	size_t next; /* the next run of the same stream */
};

struct maprange {
	uint64_t start, end, off;
	uint64_t base; /* lowest start - offset of the same file in the snapshot */
	int32_t obj;   /* index in the objects, -1: no file */
	const char *name;
};

struct snap {
	struct maprange *r;
	size_t n;
	int complete;
};

struct log {
	const char *path;
	const uint8_t *m;
	size_t size;
	uint32_t version, hdrsize, pid, ppid, btdepth, pagesize;
	uint64_t start_mono, start_real, first_seq;

	struct block *b;
	size_t nb, capb;
	struct seg *sg;
	size_t nsg, capsg;
	uint64_t unordered; /* event blocks whose sequence numbers go backwards */
	uint64_t nevents, tmax, seq_min, seq_max;

	int have_end;
	uint64_t end_written, end_lastseq, after_end; /* events in blocks after it */
	int bad;       /* stopped at a bad block */
	uint64_t bad_off;
	char bad_why[160];
	unsigned unknown_kinds;

	char *exe, *cmdline;
	struct snap *snaps;
	size_t nsnaps, capsnaps;
	size_t primary; /* the snapshot used first */
	uint32_t *tids;
	size_t ntids;
};

static int log_cut(const struct log *L) { return !L->have_end || L->bad; }

static void add_seg(struct log *L, const uint8_t *p, const uint8_t *end, uint32_t tid, uint64_t first, uint64_t last)
{
	GROW(L->sg, L->nsg, L->capsg);
	struct seg *g = &L->sg[L->nsg++];
	g->p = p;
	g->end = end;
	g->tid = tid;
	g->first_seq = first;
	g->last_seq = last;
	g->next = NONE;
	if (first < L->seq_min)
		L->seq_min = first;
	if (last > L->seq_max)
		L->seq_max = last;
}

/* validate the events of a block (they must tile it exactly) and add its
 * runs of increasing sequence numbers; fills nev.  Nothing is added when
 * the block is invalid. */
static int scan_events(struct log *L, const uint8_t *p, uint32_t size, struct block *b, const char **why)
{
	const uint8_t *q = p, *end = p + size;
	uint32_t n = 0;
	uint64_t tmax = L->tmax;
	while (q < end) {
		size_t left = (size_t)(end - q);
		if (left < EV_SIZE) {
			*why = "an event record is cut in the middle";
			return -1;
		}
		size_t rl = rec_size(q);
		if (rl > left) {
			*why = "an event's backtrace runs past the block";
			return -1;
		}
		uint64_t t = rec_time(q);
		if (t > tmax)
			tmax = t;
		q += rl;
		n++;
	}
	b->nev = n;
	L->tmax = tmax;
	/* the runs */
	const uint8_t *run = p;
	uint64_t first = n ? rec_seq(p) : 0, last = first;
	int backwards = 0;
	for (q = p; q < end; q += rec_size(q)) {
		uint64_t sq = rec_seq(q);
		if (q != run && sq <= last) {
			add_seg(L, run, q, b->tid, first, last);
			run = q;
			first = sq;
			backwards = 1;
		}
		last = sq;
	}
	if (n)
		add_seg(L, run, end, b->tid, first, last);
	L->unordered += (uint64_t)backwards;
	return 0;
}

static void parse_info(struct log *L, const uint8_t *p, uint32_t size)
{
	char *t = xstrndup((const char *)p, size);
	for (char *line = t, *nl; line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = 0;
		if (!strncmp(line, "exe=", 4)) {
			free(L->exe);
			L->exe = xstrdup(line + 4);
		} else if (!strncmp(line, "cmdline=", 8)) {
			free(L->cmdline);
			L->cmdline = xstrdup(line + 8);
		}
	}
	free(t);
}

static void mark_bad(struct log *L, uint64_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void mark_bad(struct log *L, uint64_t off, const char *fmt, ...)
{
	va_list ap;
	L->bad = 1;
	L->bad_off = off;
	va_start(ap, fmt);
	vsnprintf(L->bad_why, sizeof L->bad_why, fmt, ap);
	va_end(ap);
}

static void parse_maps(struct log *L);

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	return a < b ? -1 : a > b;
}

static void log_open(struct log *L, const char *path)
{
	memset(L, 0, sizeof *L);
	L->path = path;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		fatal("%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0)
		fatal("%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		fatal("%s: not a regular file", path);
	if ((uint64_t)st.st_size < HDR_SIZE)
		fatal("%s: not a kmm trace log (%lld bytes, shorter than the %d-byte header)", path,
		      (long long)st.st_size, (int)HDR_SIZE);
	L->size = (size_t)st.st_size;
	void *m = mmap(NULL, L->size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		fatal("%s: cannot map it: %s", path, strerror(errno));
	close(fd);
	madvise(m, L->size, MADV_WILLNEED);
	L->m = m;

	const uint8_t *h = L->m;
	if (memcmp(h + FH_AT(magic), KMM_TRACE_MAGIC, KMM_TRACE_MAGIC_LEN))
		fatal("%s: not a kmm trace log (no " KMM_TRACE_MAGIC " magic)", path);
	L->version = rd32(h + FH_AT(version));
	L->hdrsize = rd32(h + FH_AT(header_size));
	if (L->version != KMM_TRACE_VERSION)
		fatal("%s: trace log version %u; this kmm-trace reads version %d", path, L->version,
		      KMM_TRACE_VERSION);
	if (L->hdrsize < HDR_SIZE || L->hdrsize > L->size)
		fatal("%s: invalid trace log (header size %u)", path, L->hdrsize);
	L->pid = rd32(h + FH_AT(pid));
	L->ppid = rd32(h + FH_AT(ppid));
	L->btdepth = rd32(h + FH_AT(depth));
	L->pagesize = rd32(h + FH_AT(page_size));
	L->start_mono = rd64(h + FH_AT(start_mono));
	L->start_real = rd64(h + FH_AT(start_real));
	L->first_seq = rd64(h + FH_AT(first_seq));
	L->seq_min = UINT64_MAX;

	uint64_t off = L->hdrsize;
	while (off < L->size) {
		size_t left = L->size - (size_t)off;
		const uint8_t *bh = L->m + off;
		if (left < BLK_HDR) {
			mark_bad(L, off, "a block header is cut short (%zu bytes left)", left);
			break;
		}
		if (memcmp(bh + BH_AT(magic), KMM_TRACE_BLOCK_MAGIC, KMM_TRACE_BLOCK_MAGIC_LEN)) {
			mark_bad(L, off, "no block magic there");
			break;
		}
		struct block b = {0};
		b.off = off;
		b.kind = rd16(bh + BH_AT(kind));
		b.tid = rd32(bh + BH_AT(tid));
		b.size = rd32(bh + BH_AT(size));
		if (b.size > left - BLK_HDR) {
			mark_bad(L, off, "a block of %u bytes, only %zu left in the file", b.size, left - BLK_HDR);
			break;
		}
		const uint8_t *pl = bh + BLK_HDR;
		if (b.kind == KMM_TB_EVENTS) {
			const char *why = NULL;
			if (scan_events(L, pl, b.size, &b, &why) < 0) {
				mark_bad(L, off, "invalid event block: %s", why);
				break;
			}
			L->nevents += b.nev;
			if (L->have_end)
				L->after_end += b.nev;
		} else if (b.kind == KMM_TB_END) {
			if (b.size < sizeof(struct kmm_trace_end)) {
				mark_bad(L, off, "an end block of %u bytes", b.size);
				break;
			}
			L->have_end = 1;
			L->end_written = rd64(pl + END_AT(events));
			L->end_lastseq = rd64(pl + END_AT(last_seq));
		} else if (b.kind == KMM_TB_INFO) {
			parse_info(L, pl, b.size);
		} else if (b.kind != KMM_TB_MAPS) {
			L->unknown_kinds++;
		}
		GROW(L->b, L->nb, L->capb);
		L->b[L->nb++] = b;
		off += BLK_HDR + b.size;
	}
	if (L->seq_min == UINT64_MAX)
		L->seq_min = 0;

	/* threads: the writers of event blocks */
	uint32_t *t = NULL;
	size_t nt = 0, cap = 0;
	for (size_t i = 0; i < L->nb; i++)
		if (L->b[i].kind == KMM_TB_EVENTS && L->b[i].nev) {
			GROW(t, nt, cap);
			t[nt++] = L->b[i].tid;
		}
	if (nt) {
		qsort(t, nt, sizeof *t, cmp_u32);
		size_t k = 1;
		for (size_t i = 1; i < nt; i++)
			if (t[i] != t[k - 1])
				t[k++] = t[i];
		nt = k;
	}
	L->tids = t;
	L->ntids = nt;
	parse_maps(L);
}

/* the stderr warning of a cut-short log */
static void warn_cut(const struct log *L)
{
	if (!L->have_end)
		fprintf(stderr,
			PROG ": %s was cut short: no end block (the process crashed, was killed or called _exit); "
			"up to one buffer per thread may be missing\n",
			L->path);
	if (L->bad)
		fprintf(stderr, PROG ": %s: stopped at offset %" PRIu64 " of %zu: %s; the rest is ignored\n",
			L->path, L->bad_off, L->size, L->bad_why);
}

/* ---- streams and the k-way merge --------------------------------------- */

struct stream {
	size_t seg;
	const uint8_t *cur, *end;
	uint64_t key;
	uint32_t tid;
};

struct merge {
	const struct log *L;
	struct stream *s;
	size_t ns;
	uint32_t *heap;
	size_t nh;
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
static void merge_init(struct merge *M, const struct log *L)
{
	memset(M, 0, sizeof *M);
	M->L = L;
	size_t cap = 16;
	while (cap < 2 * (L->nsg + 1))
		cap *= 2;
	struct { uint32_t tid; uint32_t used; size_t stream, last; } *tt = xcalloc(cap, sizeof *tt);
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
	M->heap = xcalloc(M->ns, sizeof *M->heap);
	for (size_t i = 0; i < M->ns; i++) {
		stream_enter(M, &M->s[i], M->s[i].seg);
		M->heap[M->nh++] = (uint32_t)i;
	}
	for (size_t i = M->nh / 2; i-- > 0;)
		sift_down(M, i);
}

static int merge_next(struct merge *M, struct ev *e)
{
	if (!M->nh)
		return 0;
	struct stream *s = &M->s[M->heap[0]];
	ev_decode(s->cur, s->tid, e);
	s->cur += rec_size(s->cur);
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

static void merge_free(struct merge *M)
{
	free(M->s);
	free(M->heap);
}

/* all events, in file order (no merge): for collecting addresses */
#define FOR_EACH_EVENT_IN_FILE(L, e)                                                      \
	for (size_t bi_ = 0; bi_ < (L)->nb; bi_++)                                        \
		if ((L)->b[bi_].kind == KMM_TB_EVENTS)                                         \
			for (const uint8_t *p_ = (L)->m + (L)->b[bi_].off + BLK_HDR,      \
					   *pe_ = p_ + (L)->b[bi_].size;                   \
			     p_ < pe_ && (ev_decode(p_, (L)->b[bi_].tid, &(e)), 1);       \
			     p_ += rec_size(p_))

/* ====================================================================== */
/* maps snapshots, ELF files, symbols                                     */
/* ====================================================================== */

struct fsym {
	uint64_t value, size;
	const char *name;
};

struct obj {
	char *path;
	const char *base; /* basename */
	int is_exe;
	int elf_tried, elf_ok;
	const uint8_t *img;
	size_t imgsize;
	struct lseg { uint64_t off, filesz, vaddr; } *seg;
	size_t nseg;
	struct fsym *fs;
	size_t nfs;
};

static struct obj *g_obj;
static size_t g_nobj, g_capobj;

static int32_t obj_intern(const char *path)
{
	for (size_t i = 0; i < g_nobj; i++)
		if (!strcmp(g_obj[i].path, path))
			return (int32_t)i;
	GROW(g_obj, g_nobj, g_capobj);
	struct obj *o = &g_obj[g_nobj];
	memset(o, 0, sizeof *o);
	o->path = xstrdup(path);
	const char *sl = strrchr(o->path, '/');
	o->base = sl ? sl + 1 : o->path;
	return (int32_t)g_nobj++;
}

static int cmp_range(const void *x, const void *y)
{
	const struct maprange *a = x, *b = y;
	return a->start < b->start ? -1 : a->start > b->start;
}

static void snap_finish(struct log *L, struct maprange *r, size_t n, int complete)
{
	if (!n) {
		free(r);
		return;
	}
	qsort(r, n, sizeof *r, cmp_range);
	for (size_t i = 0; i < n; i++) {
		if (r[i].obj < 0)
			continue;
		uint64_t base = r[i].start - r[i].off;
		for (size_t j = 0; j < n; j++)
			if (r[j].obj == r[i].obj && r[j].start - r[j].off < base)
				base = r[j].start - r[j].off;
		r[i].base = base;
	}
	GROW(L->snaps, L->nsnaps, L->capsnaps);
	L->snaps[L->nsnaps].r = r;
	L->snaps[L->nsnaps].n = n;
	L->snaps[L->nsnaps].complete = complete;
	L->nsnaps++;
}

/* one run of consecutive maps blocks of a thread: one snapshot, or several
 * when the addresses start over */
static void parse_maps_text(struct log *L, char *text, size_t len)
{
	int ends_nl = len && text[len - 1] == '\n';
	struct maprange *r = NULL;
	size_t n = 0, cap = 0;
	uint64_t prev = 0;
	for (char *line = text, *nl; line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = 0;
		else if (!ends_nl)
			break; /* the last line is incomplete */
		uint64_t start, end, off;
		char perms[8];
		int pos = -1;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s %n", &start, &end, perms, &off,
			   &pos) < 4 ||
		    end <= start)
			continue;
		if (n && start < prev) {
			snap_finish(L, r, n, 1);
			r = NULL;
			n = cap = 0;
		}
		prev = start;
		const char *name = pos >= 0 ? line + pos : "";
		size_t nlen = strlen(name);
		while (nlen && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
			nlen--;
		static const char del[] = " (deleted)";
		if (nlen > sizeof del - 1 && !memcmp(name + nlen - (sizeof del - 1), del, sizeof del - 1))
			nlen -= sizeof del - 1;
		GROW(r, n, cap);
		r[n].start = start;
		r[n].end = end;
		r[n].off = off;
		r[n].base = start - off;
		char *nm = xstrndup(name, nlen);
		r[n].obj = nm[0] == '/' ? obj_intern(nm) : -1;
		r[n].name = r[n].obj >= 0 ? g_obj[r[n].obj].path : nm;
		if (r[n].obj >= 0)
			free(nm);
		n++;
	}
	snap_finish(L, r, n, ends_nl);
}

static void parse_maps(struct log *L)
{
	for (size_t i = 0; i < L->nb;) {
		if (L->b[i].kind != KMM_TB_MAPS) {
			i++;
			continue;
		}
		size_t j = i, len = 0;
		while (j < L->nb && L->b[j].kind == KMM_TB_MAPS && L->b[j].tid == L->b[i].tid)
			len += L->b[j++].size;
		char *text = xrealloc(NULL, len + 1), *q = text;
		for (size_t k = i; k < j; k++) {
			memcpy(q, L->m + L->b[k].off + BLK_HDR, L->b[k].size);
			q += L->b[k].size;
		}
		*q = 0;
		/* a NUL inside would end the text early: harmless */
		parse_maps_text(L, text, strlen(text));
		free(text);
		i = j;
	}
	L->primary = NONE;
	for (size_t i = L->nsnaps; i-- > 0;)
		if (L->snaps[i].complete) {
			L->primary = i;
			break;
		}
	if (L->primary == NONE && L->nsnaps)
		L->primary = L->nsnaps - 1;
	if (L->exe)
		for (size_t i = 0; i < g_nobj; i++)
			if (!strcmp(g_obj[i].path, L->exe))
				g_obj[i].is_exe = 1;
}

static const struct maprange *snap_find(const struct snap *s, uint64_t a)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->r[mid].start <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct maprange *r = &s->r[lo - 1];
	return a < r->end ? r : NULL;
}

static const struct maprange *find_range(const struct log *L, uint64_t a)
{
	if (!L->nsnaps)
		return NULL;
	const struct maprange *r = snap_find(&L->snaps[L->primary], a);
	if (r)
		return r;
	for (size_t i = L->nsnaps; i-- > 0;)
		if (i != L->primary && (r = snap_find(&L->snaps[i], a)))
			return r;
	return NULL;
}

static int cmp_fsym(const void *x, const void *y)
{
	const struct fsym *a = x, *b = y;
	if (a->value != b->value)
		return a->value < b->value ? -1 : 1;
	return (b->size > a->size) - (b->size < a->size); /* sized first */
}

static void obj_load(struct obj *o)
{
	if (o->elf_tried)
		return;
	o->elf_tried = 1;
	int fd = open(o->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < sizeof(Elf64_Ehdr)) {
		close(fd);
		return;
	}
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return;
	o->img = m;
	o->imgsize = (size_t)st.st_size;
	Elf64_Ehdr eh;
	memcpy(&eh, o->img, sizeof eh);
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64)
		return;
	size_t sz = o->imgsize;
	/* program headers: file offset -> link-time address */
	if (eh.e_phentsize >= sizeof(Elf64_Phdr) && eh.e_phoff < sz &&
	    eh.e_phnum <= (sz - eh.e_phoff) / eh.e_phentsize) {
		o->seg = xcalloc(eh.e_phnum, sizeof *o->seg);
		for (unsigned i = 0; i < eh.e_phnum; i++) {
			Elf64_Phdr ph;
			memcpy(&ph, o->img + eh.e_phoff + (size_t)i * eh.e_phentsize, sizeof ph);
			if (ph.p_type == PT_LOAD) {
				o->seg[o->nseg].off = ph.p_offset;
				o->seg[o->nseg].filesz = ph.p_filesz;
				o->seg[o->nseg].vaddr = ph.p_vaddr;
				o->nseg++;
			}
		}
	}
	/* the symbol table (.symtab, else .dynsym): functions */
	if (eh.e_shentsize >= sizeof(Elf64_Shdr) && eh.e_shoff < sz &&
	    eh.e_shnum <= (sz - eh.e_shoff) / eh.e_shentsize) {
		for (unsigned want = SHT_SYMTAB; !o->nfs && want; want = want == SHT_SYMTAB ? SHT_DYNSYM : 0) {
			for (unsigned i = 0; i < eh.e_shnum; i++) {
				Elf64_Shdr sh, strh;
				memcpy(&sh, o->img + eh.e_shoff + (size_t)i * eh.e_shentsize, sizeof sh);
				if (sh.sh_type != want || sh.sh_entsize != sizeof(Elf64_Sym) || sh.sh_link >= eh.e_shnum ||
				    sh.sh_offset > sz || sh.sh_size > sz - sh.sh_offset)
					continue;
				memcpy(&strh, o->img + eh.e_shoff + (size_t)sh.sh_link * eh.e_shentsize, sizeof strh);
				if (strh.sh_offset > sz || strh.sh_size > sz - strh.sh_offset)
					continue;
				const char *strs = (const char *)o->img + strh.sh_offset;
				size_t nsym = sh.sh_size / sizeof(Elf64_Sym);
				o->fs = xrealloc(o->fs, (o->nfs + nsym) * sizeof *o->fs);
				for (size_t k = 0; k < nsym; k++) {
					Elf64_Sym sy;
					memcpy(&sy, o->img + sh.sh_offset + k * sizeof sy, sizeof sy);
					int t = ELF64_ST_TYPE(sy.st_info);
					if ((t != STT_FUNC && t != STT_GNU_IFUNC) || sy.st_shndx == SHN_UNDEF ||
					    !sy.st_value || sy.st_name >= strh.sh_size ||
					    !memchr(strs + sy.st_name, 0, strh.sh_size - sy.st_name) || !strs[sy.st_name])
						continue;
					o->fs[o->nfs].value = sy.st_value;
					o->fs[o->nfs].size = sy.st_size;
					o->fs[o->nfs].name = strs + sy.st_name;
					o->nfs++;
				}
			}
		}
		if (o->nfs)
			qsort(o->fs, o->nfs, sizeof *o->fs, cmp_fsym);
	}
	o->elf_ok = 1;
}

static uint64_t obj_vaddr(const struct obj *o, uint64_t fileoff)
{
	for (size_t i = 0; i < o->nseg; i++)
		if (fileoff >= o->seg[i].off && fileoff - o->seg[i].off < o->seg[i].filesz)
			return fileoff - o->seg[i].off + o->seg[i].vaddr;
	return fileoff;
}

static const struct fsym *obj_sym(const struct obj *o, uint64_t va)
{
	size_t lo = 0, hi = o->nfs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (o->fs[mid].value <= va)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* the nearest symbol at or below va that contains it (or is unsized) */
	for (size_t i = lo; i-- > 0 && lo - i <= 8;) {
		const struct fsym *f = &o->fs[i];
		if (!f->size || va - f->value < f->size)
			return f;
	}
	return NULL;
}

/* ---- the symbol cache: address -> descriptions ------------------------ */

struct sym {
	uint64_t addr;
	uint8_t used, done;
	int32_t obj;
	uint64_t vaddr;
	const struct maprange *mr;
	const struct fsym *fs;
	char *desc;  /* for humans: "main+0x19 at prog.c:12" */
	char *where; /* for mtrace: "@ FILE:(SYM+0xOFF)[0xREL] " */
};

static struct {
	struct sym *t;
	size_t cap, n;
	int enabled, lines;
	const struct log *L;
} S;

static struct sym *sym_slot(uint64_t a, int insert)
{
	if (insert && 2 * (S.n + 1) > S.cap) {
		size_t ncap = S.cap ? 2 * S.cap : 1024;
		struct sym *nt = xcalloc(ncap, sizeof *nt);
		for (size_t i = 0; i < S.cap; i++)
			if (S.t[i].used) {
				size_t h = hash64(S.t[i].addr) & (ncap - 1);
				while (nt[h].used)
					h = (h + 1) & (ncap - 1);
				nt[h] = S.t[i];
			}
		free(S.t);
		S.t = nt;
		S.cap = ncap;
	}
	if (!S.cap)
		return NULL;
	size_t h = hash64(a) & (S.cap - 1);
	while (S.t[h].used) {
		if (S.t[h].addr == a)
			return &S.t[h];
		h = (h + 1) & (S.cap - 1);
	}
	if (!insert)
		return NULL;
	S.t[h].used = 1;
	S.t[h].addr = a;
	S.t[h].obj = -1;
	S.n++;
	return &S.t[h];
}

static void sym_init(const struct log *L, int enabled, int lines)
{
	S.L = L;
	S.enabled = enabled;
	S.lines = lines;
}

static void sym_want(uint64_t a)
{
	if (S.enabled && a)
		sym_slot(a, 1);
}

static void strip_discriminator(char *s)
{
	char *d = strstr(s, " (discriminator");
	if (d)
		*d = 0;
}

/* the human description of one address, from addr2line's answer */
static char *make_desc(const struct sym *y, char **fn, char **loc, size_t np)
{
	const struct obj *o = y->obj >= 0 ? &g_obj[y->obj] : NULL;
	if (!o) {
		if (y->mr && y->mr->name[0])
			return xasprintf("%s+0x%" PRIx64, y->mr->name, y->addr - y->mr->start);
		return xstrdup("");
	}
	const char *outer = np && strcmp(fn[np - 1], "??") ? fn[np - 1] : y->fs ? y->fs->name : NULL;
	char offs[32] = "";
	if (y->fs)
		snprintf(offs, sizeof offs, "+0x%" PRIx64, y->vaddr - y->fs->value);
	char lib[300] = "";
	if (!o->is_exe)
		snprintf(lib, sizeof lib, " (%s)", o->base);
	if (!outer)
		return xasprintf("%s+0x%" PRIx64, o->base, y->vaddr);
	size_t cap = 256, len = 0;
	char *s = xrealloc(NULL, cap);
	s[0] = 0;
#define APPEND(...)                                                                 \
	do {                                                                        \
		int k_ = snprintf(s + len, cap - len, __VA_ARGS__);                 \
		if (k_ >= 0 && (size_t)k_ >= cap - len) {                           \
			cap = len + (size_t)k_ + 256;                               \
			s = xrealloc(s, cap);                                       \
			k_ = snprintf(s + len, cap - len, __VA_ARGS__);             \
		}                                                                   \
		if (k_ > 0)                                                         \
			len += (size_t)k_;                                          \
	} while (0)
	for (size_t i = 0; i + 1 < np; i++) {
		APPEND("%s", fn[i]);
		if (loc[i][0] != '?')
			APPEND(" at %s", loc[i]);
		APPEND(", inlined in ");
	}
	APPEND("%s%s", outer, offs);
	if (np && loc[np - 1][0] != '?')
		APPEND(" at %s", loc[np - 1]);
	APPEND("%s", lib);
#undef APPEND
	return s;
}

static void shell_quote(char *dst, size_t cap, const char *s)
{
	size_t n = 0;
	if (cap < 3)
		return;
	dst[n++] = '\'';
	for (; *s && n + 5 < cap; s++) {
		if (*s == '\'') {
			memcpy(dst + n, "'\\''", 4);
			n += 4;
		} else
			dst[n++] = *s;
	}
	dst[n++] = '\'';
	dst[n] = 0;
}

/* one addr2line process for the wanted addresses of one file */
static void run_addr2line(int32_t oi, struct sym **ys, size_t n)
{
	const char *td = getenv("TMPDIR");
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s/kmm-trace.XXXXXX", td && *td ? td : "/tmp");
	int fd = mkstemp(tmp);
	if (fd < 0)
		return;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
		return;
	}
	/* return addresses: the line of the call is the one before */
	for (size_t i = 0; i < n; i++)
		fprintf(f, "0x%" PRIx64 "\n", ys[i]->vaddr ? ys[i]->vaddr - 1 : 0);
	if (fclose(f) != 0) {
		unlink(tmp);
		return;
	}
	char qf[8300], qt[8300], cmd[17000];
	shell_quote(qf, sizeof qf, g_obj[oi].path);
	shell_quote(qt, sizeof qt, tmp);
	snprintf(cmd, sizeof cmd, "addr2line -a -f -C -i -s -e %s < %s 2>/dev/null", qf, qt);
	fflush(stdout);
	FILE *p = popen(cmd, "r");
	if (!p) {
		unlink(tmp);
		return;
	}
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	size_t rec = 0, np = 0, capp = 0;
	int started = 0, want_fn = 1;
	char **fn = NULL, **loc = NULL;
	for (;;) {
		len = getline(&line, &lcap, p);
		int isaddr = 0;
		if (len > 0) {
			while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
				line[--len] = 0;
			isaddr = len > 2 && line[0] == '0' && line[1] == 'x' && strspn(line + 2, "0123456789abcdef") == (size_t)len - 2;
		}
		if (len < 0 || isaddr) {
			if (started && rec < n && !ys[rec]->desc) {
				ys[rec]->desc = make_desc(ys[rec], fn, loc, np);
			}
			for (size_t i = 0; i < np; i++) {
				free(fn[i]);
				free(loc[i]);
			}
			if (started)
				rec++;
			np = 0;
			want_fn = 1;
			started = 1;
			if (len < 0)
				break;
			continue;
		}
		if (!started)
			continue;
		if (want_fn) {
			GROW(fn, np, capp);
			loc = xrealloc(loc, capp * sizeof *loc);
			fn[np] = xstrdup(line);
			want_fn = 0;
		} else {
			strip_discriminator(line);
			loc[np] = xstrdup(line);
			np++;
			want_fn = 1;
		}
	}
	if (!want_fn)
		free(fn[np]);
	free(fn);
	free(loc);
	free(line);
	pclose(p);
	unlink(tmp);
}

static int cmp_symp_obj(const void *x, const void *y)
{
	const struct sym *a = *(struct sym *const *)x, *b = *(struct sym *const *)y;
	if (a->obj != b->obj)
		return a->obj < b->obj ? -1 : 1;
	return a->vaddr < b->vaddr ? -1 : a->vaddr > b->vaddr;
}

/* resolve every wanted address not resolved yet */
static void sym_resolve(void)
{
	if (!S.enabled)
		return;
	struct sym **unresolved = NULL;
	size_t n = 0, cap = 0;
	for (size_t i = 0; i < S.cap; i++) {
		struct sym *y = &S.t[i];
		if (!y->used || y->done)
			continue;
		y->done = 1;
		y->mr = find_range(S.L, y->addr);
		if (y->mr && y->mr->obj >= 0) {
			struct obj *o = &g_obj[y->mr->obj];
			obj_load(o);
			y->obj = y->mr->obj;
			uint64_t fo = y->addr - y->mr->start + y->mr->off;
			y->vaddr = o->elf_ok ? obj_vaddr(o, fo) : fo;
			y->fs = obj_sym(o, y->vaddr);
			GROW(unresolved, n, cap);
			unresolved[n++] = y;
		}
		/* mtrace's "@ ..." part, as glibc writes it (dladdr: file, symbol,
		 * address relative to the file's load address) */
		if (y->obj >= 0) {
			const char *nm = y->fs ? y->fs->name : NULL;
			if (nm && strpbrk(nm, " \t"))
				nm = NULL;
			if (nm)
				y->where = xasprintf("@ %s:(%s+0x%" PRIx64 ")[0x%" PRIx64 "] ", g_obj[y->obj].path, nm,
						     y->vaddr - y->fs->value, y->addr - y->mr->base);
			else
				y->where = xasprintf("@ %s:[0x%" PRIx64 "] ", g_obj[y->obj].path, y->addr - y->mr->base);
		} else
			y->where = xasprintf("@ [0x%" PRIx64 "] ", y->addr);
	}
	if (n && S.lines) {
		qsort(unresolved, n, sizeof *unresolved, cmp_symp_obj);
		for (size_t i = 0; i < n;) {
			size_t j = i;
			while (j < n && unresolved[j]->obj == unresolved[i]->obj)
				j++;
			if (g_obj[unresolved[i]->obj].elf_ok)
				run_addr2line(unresolved[i]->obj, unresolved + i, j - i);
			i = j;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!unresolved[i]->desc)
			unresolved[i]->desc = make_desc(unresolved[i], NULL, NULL, 0);
	free(unresolved);
	for (size_t i = 0; i < S.cap; i++)
		if (S.t[i].used && !S.t[i].desc)
			S.t[i].desc = make_desc(&S.t[i], NULL, NULL, 0);
}

/* the description of an address ("" when unknown) */
static const char *sym_desc(uint64_t a)
{
	if (!S.enabled || !a)
		return "";
	struct sym *y = sym_slot(a, 0);
	return y && y->desc ? y->desc : "";
}

static const char *sym_where(uint64_t a, char *buf, size_t n)
{
	struct sym *y = S.enabled ? sym_slot(a, 0) : NULL;
	if (y && y->where)
		return y->where;
	snprintf(buf, n, "@ [0x%" PRIx64 "] ", a);
	return buf;
}

/* want the caller and backtrace of every malloc-family event */
static void want_all_sites(const struct log *L)
{
	struct ev e;
	if (!S.enabled)
		return;
	FOR_EACH_EVENT_IN_FILE(L, e)
	{
		if (kmm_trace_is_call(e.type)) {
			sym_want(e.d);
			for (unsigned i = 0; i < e.nframes; i++)
				sym_want(ev_frame(&e, i));
		}
	}
}

/* ====================================================================== */
/* names                                                                  */
/* ====================================================================== */

static const char *path_str(unsigned p, char *buf, size_t n)
{
	const char *s = kmm_trace_path_name(p);
	if (s)
		return s;
	snprintf(buf, n, "path %u", p);
	return buf;
}

/* the name of a malloc-family call */
static const char *op_name(unsigned t)
{
	return kmm_trace_is_call(t) ? kmm_trace_type_name(t) : "?";
}

static const char *region_kind(uint64_t k)
{
	static const char *n[] = {"brk heap", "main-arena segment", "arena heap", "vmalloc area", "buddy section"};
	return k < 5 ? n[k] : "region";
}

static const char *prot_str(uint64_t prot, char *buf, size_t n)
{
	if (!(prot & 7) && !(prot >> 3)) {
		snprintf(buf, n, "none");
		return buf;
	}
	size_t k = 0;
	if (prot & PROT_READ)
		buf[k++] = 'r';
	if (prot & PROT_WRITE)
		buf[k++] = 'w';
	if (prot & PROT_EXEC)
		buf[k++] = 'x';
	buf[k] = 0;
	uint64_t rest = prot & ~(uint64_t)(PROT_READ | PROT_WRITE | PROT_EXEC);
	if (rest)
		snprintf(buf + k, n - k, "%s0x%" PRIx64, k ? "|" : "", rest);
	return buf;
}

struct flagname { uint64_t v; const char *n; };

static const char *flags_str(uint64_t f, const struct flagname *t, size_t nt, char *buf, size_t n)
{
	size_t k = 0;
	buf[0] = 0;
	for (size_t i = 0; i < nt; i++)
		if (t[i].v && (f & t[i].v) == t[i].v) {
			k += (size_t)snprintf(buf + k, n > k ? n - k : 0, "%s%s", k ? "|" : "", t[i].n);
			f &= ~t[i].v;
			if (k >= n)
				return buf;
		}
	if (f || !k)
		snprintf(buf + k, n > k ? n - k : 0, "%s0x%" PRIx64, k ? "|" : "", f);
	return buf;
}

static const char *mmap_flags_str(uint64_t f, char *buf, size_t n)
{
	static const struct flagname t[] = {
#ifdef MAP_SHARED_VALIDATE
		{MAP_SHARED_VALIDATE, "shared_validate"},
#endif
		{MAP_SHARED, "shared"}, {MAP_PRIVATE, "private"}, {MAP_FIXED, "fixed"},
		{MAP_ANONYMOUS, "anonymous"},
#ifdef MAP_NORESERVE
		{MAP_NORESERVE, "noreserve"},
#endif
#ifdef MAP_POPULATE
		{MAP_POPULATE, "populate"},
#endif
#ifdef MAP_FIXED_NOREPLACE
		{MAP_FIXED_NOREPLACE, "fixed_noreplace"},
#endif
#ifdef MAP_STACK
		{MAP_STACK, "stack"},
#endif
#ifdef MAP_HUGETLB
		{MAP_HUGETLB, "hugetlb"},
#endif
#ifdef MAP_GROWSDOWN
		{MAP_GROWSDOWN, "growsdown"},
#endif
#ifdef MAP_LOCKED
		{MAP_LOCKED, "locked"},
#endif
#ifdef MAP_NONBLOCK
		{MAP_NONBLOCK, "nonblock"},
#endif
	};
	return flags_str(f, t, sizeof t / sizeof t[0], buf, n);
}

static const char *mremap_flags_str(uint64_t f, char *buf, size_t n)
{
	static const struct flagname t[] = {
		{1, "maymove"}, {2, "fixed"}, {4, "dontunmap"},
	};
	if (!f)
		return strcpy(buf, "0");
	return flags_str(f, t, sizeof t / sizeof t[0], buf, n);
}

static const char *advice_str(uint64_t a, char *buf, size_t n)
{
	static const struct { uint64_t v; const char *n; } t[] = {
		{MADV_NORMAL, "normal"}, {MADV_RANDOM, "random"}, {MADV_SEQUENTIAL, "sequential"},
		{MADV_WILLNEED, "willneed"}, {MADV_DONTNEED, "dontneed"},
#ifdef MADV_FREE
		{MADV_FREE, "free"},
#endif
#ifdef MADV_REMOVE
		{MADV_REMOVE, "remove"},
#endif
#ifdef MADV_DONTFORK
		{MADV_DONTFORK, "dontfork"}, {MADV_DOFORK, "dofork"},
#endif
#ifdef MADV_HUGEPAGE
		{MADV_HUGEPAGE, "hugepage"}, {MADV_NOHUGEPAGE, "nohugepage"},
#endif
#ifdef MADV_DONTDUMP
		{MADV_DONTDUMP, "dontdump"}, {MADV_DODUMP, "dodump"},
#endif
#ifdef MADV_COLD
		{MADV_COLD, "cold"}, {MADV_PAGEOUT, "pageout"},
#endif
#ifdef MADV_POPULATE_READ
		{MADV_POPULATE_READ, "populate_read"}, {MADV_POPULATE_WRITE, "populate_write"},
#endif
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (t[i].v == a)
			return t[i].n;
	snprintf(buf, n, "advice %" PRIu64, a);
	return buf;
}

/* ====================================================================== */
/* dump                                                                   */
/* ====================================================================== */

static void print_site(FILE *o, uint64_t caller)
{
	const char *d = sym_desc(caller);
	if (d[0])
		fprintf(o, " from 0x%" PRIx64 " (%s)", caller, d);
	else
		fprintf(o, " from 0x%" PRIx64, caller);
}

static void print_frames(FILE *o, const struct ev *e, const char *indent)
{
	for (unsigned i = 0; i < e->nframes; i++) {
		uint64_t a = ev_frame(e, i);
		const char *d = sym_desc(a);
		fprintf(o, "%s#%u 0x%" PRIx64 "%s%s\n", indent, i, a, d[0] ? " " : "", d);
	}
}

static const char *ptr_str(uint64_t p, char *buf, size_t n)
{
	if (!p)
		snprintf(buf, n, "NULL");
	else
		snprintf(buf, n, "0x%" PRIx64, p);
	return buf;
}

static void dump_event(FILE *o, const struct ev *e)
{
	char b1[64], b2[64], b3[64], b4[128];
	fprintf(o, "#%" PRIu64 " +%ss tid %" PRIu32 " ", e->seq, hsecs(e->time, b1, sizeof b1), e->tid);
	switch (e->type) {
	case KMM_TR_MALLOC:
		fprintf(o, "malloc(%" PRIu64 ") = %s", e->b, ptr_str(e->a, b1, sizeof b1));
		goto served;
	case KMM_TR_CALLOC:
		if (e->c && e->b % e->c == 0)
			fprintf(o, "calloc(%" PRIu64 ", %" PRIu64 ") = %s", e->c, e->b / e->c, ptr_str(e->a, b1, sizeof b1));
		else
			fprintf(o, "calloc(%" PRIu64 ", ?) [%" PRIu64 " bytes] = %s", e->c, e->b, ptr_str(e->a, b1, sizeof b1));
		goto served;
	case KMM_TR_REALLOC:
		fprintf(o, "realloc(%s, %" PRIu64 ") = %s", ptr_str(e->c, b2, sizeof b2), e->b, ptr_str(e->a, b1, sizeof b1));
		goto served;
	case KMM_TR_MEMALIGN:
		fprintf(o, "memalign(%" PRIu32 ", %" PRIu64 ") = %s", e->aux, e->b, ptr_str(e->a, b1, sizeof b1));
	served:
		if (e->a || e->path)
			fprintf(o, " [%s]", path_str(e->path, b3, sizeof b3));
		print_site(o, e->d);
		break;
	case KMM_TR_FREE:
		fprintf(o, "free(%s) %" PRIu64 " bytes [%s]", ptr_str(e->c, b1, sizeof b1), e->b, path_str(e->path, b3, sizeof b3));
		print_site(o, e->d);
		break;
	case KMM_TR_BRK: {
		int64_t delta = (int64_t)(e->b - e->a);
		hbytes((double)(delta < 0 ? -delta : delta), b4, sizeof b4);
		fprintf(o, "brk 0x%" PRIx64 " -> 0x%" PRIx64 " (%c%s) = %s", e->a, e->b, delta < 0 ? '-' : '+', b4,
			hresult(e->d, b1, sizeof b1));
		break;
	}
	case KMM_TR_MMAP:
		fprintf(o, "mmap(%s, %" PRIu64 ", %s, %s) = %s", ptr_str(e->a, b1, sizeof b1), e->b,
			prot_str(e->c & 0xffffffffu, b2, sizeof b2), mmap_flags_str(e->c >> 32, b4, sizeof b4),
			hresult(e->d, b3, sizeof b3));
		break;
	case KMM_TR_MUNMAP:
		fprintf(o, "munmap(0x%" PRIx64 ", %" PRIu64 ") = %s", e->a, e->b,
			is_err(e->d) ? hresult(e->d, b1, sizeof b1) : "0");
		break;
	case KMM_TR_MPROTECT:
		fprintf(o, "mprotect(0x%" PRIx64 ", %" PRIu64 ", %s) = %s", e->a, e->b, prot_str(e->c, b2, sizeof b2),
			is_err(e->d) ? hresult(e->d, b1, sizeof b1) : "0");
		break;
	case KMM_TR_MADVISE:
		fprintf(o, "madvise(0x%" PRIx64 ", %" PRIu64 ", %s) = %s", e->a, e->b, advice_str(e->c, b2, sizeof b2),
			is_err(e->d) ? hresult(e->d, b1, sizeof b1) : "0");
		break;
	case KMM_TR_MREMAP:
		fprintf(o, "mremap(0x%" PRIx64 ", %" PRIu64 ", %" PRIu64 ", %s) = %s", e->a, e->b, e->c,
			mremap_flags_str(e->aux, b2, sizeof b2), hresult(e->d, b1, sizeof b1));
		break;
	case KMM_TR_REGION_ADD:
	case KMM_TR_REGION_UPDATE:
	case KMM_TR_REGION_DEL:
		fprintf(o, "%s 0x%" PRIx64 "-0x%" PRIx64 " (%s) %s", kmm_trace_type_name(e->type), e->a, e->b,
			hbytes((double)(e->b - e->a), b4, sizeof b4), region_kind(e->c));
		if (e->type == KMM_TR_REGION_ADD)
			fprintf(o, ", %s, %s", prot_str(e->aux & 0xff, b2, sizeof b2),
				(e->aux >> 8) ? "populated when mapped" : "on demand");
		break;
	case KMM_TR_POPULATE:
		fprintf(o, "populate 0x%" PRIx64 " %" PRIu64 " bytes, %s: ", e->a, e->b,
			e->aux == 1 ? "populated when mapped" : e->aux == 0 ? "on demand" : "method ?");
		if (e->d == UINT64_MAX)
			fprintf(o, "failed");
		else
			fprintf(o, "%" PRIu64 " pages resident", e->d);
		break;
	case KMM_TR_SLAB_ALLOC:
		fprintf(o, "slab alloc 0x%" PRIx64 " %" PRIu64 " bytes (cache %" PRIu32 ")", e->a, e->b, e->aux);
		break;
	case KMM_TR_SLAB_FREE:
		fprintf(o, "slab free 0x%" PRIx64 " %" PRIu64 " bytes (cache %" PRIu32 ")", e->c, e->b, e->aux);
		break;
	case KMM_TR_VMALLOC:
		fprintf(o, "vmalloc 0x%" PRIx64 " %" PRIu64 " bytes for %" PRIu64 " (%s)", e->a, e->b, e->c,
			e->path == KMM_TP_VMALLOC_NEW ? "new area" : e->path == KMM_TP_VMALLOC_REUSED ? "reused area" : "?");
		break;
	case KMM_TR_VFREE:
		fprintf(o, "vfree 0x%" PRIx64 " %" PRIu64 " bytes", e->c, e->b);
		break;
	case KMM_TR_VREALLOC:
		fprintf(o, "vrealloc 0x%" PRIx64 " %" PRIu64 " bytes -> 0x%" PRIx64 " %" PRIu64 " bytes%s", e->c, e->d,
			e->a, e->b, e->a == e->c ? " (in place)" : " (moved)");
		break;
	case KMM_TR_THREAD_START:
	case KMM_TR_THREAD_EXIT:
		fputs(kmm_trace_type_name(e->type), o);
		break;
	case KMM_TR_FORK:
		/* docs/trace.md: 0 in the parent, the parent's pid in the child */
		if (e->a)
			fprintf(o, "fork: this is the child of %" PRIu64, e->a);
		else
			fprintf(o, "fork: a child was made");
		break;
	default:
		fprintf(o, "event type %u: path %u aux 0x%" PRIx32 " a 0x%" PRIx64 " b 0x%" PRIx64 " c 0x%" PRIx64
			   " d 0x%" PRIx64,
			e->type, e->path, e->aux, e->a, e->b, e->c, e->d);
	}
	fputc('\n', o);
	if (e->nframes)
		print_frames(o, e, "        ");
}

static int cmd_dump(struct log *L)
{
	want_all_sites(L);
	sym_resolve();
	struct merge M;
	merge_init(&M, L);
	struct ev e;
	while (merge_next(&M, &e))
		dump_event(stdout, &e);
	merge_free(&M);
	return 0;
}

/* ====================================================================== */
/* analysis: one pass in sequence order                                   */
/* ====================================================================== */

struct lent { /* a live block */
	uint64_t ptr, size;
	const uint8_t *rec; /* the event that allocated it */
	uint32_t tid, pad;
};

struct site {
	uint64_t caller, calls, bytes;
	int used;
};

struct opstat { uint64_t calls, failed, bytes; };

enum { SC_BRK, SC_MMAP, SC_MUNMAP, SC_MPROTECT, SC_MADVISE, SC_MREMAP, SC_N };

#define NSERIES 4
#define NBUCKETS 500

struct bucket { int64_t min, max, last; uint32_t imin, imax; int has; };

struct plotdata {
	struct bucket b[NSERIES][NBUCKETS];
	uint64_t tmax;
	uint32_t counter;
};

struct stats {
	uint64_t nevents, tlast;
	struct opstat op[KMM_TR_MEMALIGN + 1]; /* by type: the malloc family */
	struct opstat apath[16], fpath[16];
	uint64_t sclass[64];
	uint64_t live, live_blocks, peak, peak_blocks, peak_seq, peak_time;
	uint64_t unknown_free, unknown_realloc, dup_alloc;
	struct opstat sc[SC_N];
	uint64_t brk_grew, brk_shrank, brk_first, brk_cur;
	int brk_seen;
	uint64_t mremap_grew, mremap_shrank;
	int64_t mapped;
	uint64_t mapped_peak;
	uint64_t slab_allocs, slab_alloc_bytes, slab_frees, slab_free_bytes;
	int64_t slab_live;
	uint64_t vm_new, vm_reused, vm_bytes, vm_frees, vm_free_bytes;
	int64_t vm_live;
	uint64_t vm_peak;
	uint64_t reg_add, reg_upd, reg_del, populates, pop_pages;
	uint64_t thr_start, thr_exit, forks;
	uint64_t unknown_types;
	/* live blocks */
	struct lent *lt;
	size_t ltcap, ltn;
	unsigned ltbits;
	/* sites */
	struct site *st;
	size_t stcap, stn;
	struct plotdata *plot;
};

static inline size_t lt_home(const struct stats *s, uint64_t p)
{
	return (size_t)((p * 0x9E3779B97F4A7C15ULL) >> (64 - s->ltbits));
}

static void lt_grow(struct stats *s)
{
	size_t ncap = s->ltcap ? 2 * s->ltcap : 1u << 16;
	unsigned nbits = s->ltbits ? s->ltbits + 1 : 16;
	struct lent *old = s->lt;
	size_t ocap = s->ltcap;
	s->lt = xcalloc(ncap, sizeof *s->lt);
	s->ltcap = ncap;
	s->ltbits = nbits;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].ptr) {
			size_t h = lt_home(s, old[i].ptr);
			while (s->lt[h].ptr)
				h = (h + 1) & (ncap - 1);
			s->lt[h] = old[i];
		}
	free(old);
}

/* insert; returns the replaced entry's size + 1, or 0 */
static uint64_t lt_put(struct stats *s, uint64_t ptr, uint64_t size, const uint8_t *rec, uint32_t tid)
{
	if (2 * (s->ltn + 1) > s->ltcap)
		lt_grow(s);
	size_t mask = s->ltcap - 1, h = lt_home(s, ptr);
	while (s->lt[h].ptr) {
		if (s->lt[h].ptr == ptr) {
			uint64_t old = s->lt[h].size;
			s->lt[h].size = size;
			s->lt[h].rec = rec;
			s->lt[h].tid = tid;
			return old + 1;
		}
		h = (h + 1) & mask;
	}
	s->lt[h].ptr = ptr;
	s->lt[h].size = size;
	s->lt[h].rec = rec;
	s->lt[h].tid = tid;
	s->ltn++;
	return 0;
}

/* remove; returns the size + 1, or 0 if it was not live */
static uint64_t lt_del(struct stats *s, uint64_t ptr)
{
	if (!s->ltcap || !ptr)
		return 0;
	size_t mask = s->ltcap - 1, i = lt_home(s, ptr);
	while (s->lt[i].ptr != ptr) {
		if (!s->lt[i].ptr)
			return 0;
		i = (i + 1) & mask;
	}
	uint64_t size = s->lt[i].size;
	/* backward-shift deletion */
	size_t j = i;
	for (;;) {
		j = (j + 1) & mask;
		if (!s->lt[j].ptr)
			break;
		size_t k = lt_home(s, s->lt[j].ptr);
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		s->lt[i] = s->lt[j];
		i = j;
	}
	s->lt[i].ptr = 0;
	s->ltn--;
	return size + 1;
}

static void site_add(struct stats *s, uint64_t caller, uint64_t bytes)
{
	if (2 * (s->stn + 1) > s->stcap) {
		size_t ncap = s->stcap ? 2 * s->stcap : 256;
		struct site *nt = xcalloc(ncap, sizeof *nt);
		for (size_t i = 0; i < s->stcap; i++)
			if (s->st[i].used) {
				size_t h = hash64(s->st[i].caller) & (ncap - 1);
				while (nt[h].used)
					h = (h + 1) & (ncap - 1);
				nt[h] = s->st[i];
			}
		free(s->st);
		s->st = nt;
		s->stcap = ncap;
	}
	size_t h = hash64(caller) & (s->stcap - 1);
	while (s->st[h].used && s->st[h].caller != caller)
		h = (h + 1) & (s->stcap - 1);
	if (!s->st[h].used) {
		s->st[h].used = 1;
		s->st[h].caller = caller;
		s->stn++;
	}
	s->st[h].calls++;
	s->st[h].bytes += bytes;
}

static unsigned size_class(uint64_t n)
{
	if (n <= 16)
		return 0;
	unsigned k = 64 - (unsigned)__builtin_clzll(n - 1); /* 2^(k-1) < n <= 2^k */
	return k - 4;
}

static void st_alloc(struct stats *s, const struct ev *e, uint64_t ptr, uint64_t size)
{
	uint64_t old = lt_put(s, ptr, size, e->rec, e->tid);
	if (old) {
		s->dup_alloc++;
		s->live -= old - 1;
	} else
		s->live_blocks++;
	s->live += size;
	if (s->live > s->peak) {
		s->peak = s->live;
		s->peak_blocks = s->live_blocks;
		s->peak_seq = e->seq;
		s->peak_time = e->time;
	}
	site_add(s, e->d, size);
	s->sclass[size_class(size)]++;
	s->apath[e->path & 15].calls++;
	s->apath[e->path & 15].bytes += size;
}

static int st_free(struct stats *s, uint64_t ptr)
{
	uint64_t old = lt_del(s, ptr);
	if (!old)
		return 0;
	s->live -= old - 1;
	s->live_blocks--;
	return 1;
}

static void plot_sample(struct stats *s, const struct ev *e)
{
	struct plotdata *P = s->plot;
	int64_t v[NSERIES] = {
		(int64_t)s->live,
		s->brk_seen ? (int64_t)(s->brk_cur - s->brk_first) : 0,
		s->vm_live,
		s->mapped,
	};
	/* a forked child frees blocks and areas its parent made: what the
	 * log cannot account for would go below zero */
	for (int i = 0; i < NSERIES; i++)
		if (v[i] < 0)
			v[i] = 0;
	double f = (double)e->time / ((double)P->tmax + 1.0) * NBUCKETS;
	size_t bk = f < 0 ? 0 : f >= NBUCKETS ? NBUCKETS - 1 : (size_t)f;
	uint32_t c = ++P->counter;
	for (int i = 0; i < NSERIES; i++) {
		struct bucket *B = &P->b[i][bk];
		if (!B->has) {
			B->has = 1;
			B->min = B->max = v[i];
			B->imin = B->imax = c;
		} else {
			if (v[i] < B->min) {
				B->min = v[i];
				B->imin = c;
			}
			if (v[i] > B->max) {
				B->max = v[i];
				B->imax = c;
			}
		}
		B->last = v[i];
	}
}

static void st_event(struct stats *s, const struct ev *e)
{
	s->nevents++;
	if (e->time > s->tlast)
		s->tlast = e->time;
	switch (e->type) {
	case KMM_TR_MALLOC:
	case KMM_TR_CALLOC:
	case KMM_TR_MEMALIGN:
		s->op[e->type].calls++;
		if (!e->a)
			s->op[e->type].failed++;
		else {
			s->op[e->type].bytes += e->b;
			st_alloc(s, e, e->a, e->b);
		}
		break;
	case KMM_TR_REALLOC:
		s->op[KMM_TR_REALLOC].calls++;
		if (!e->a) {
			if (e->b == 0 && e->c) /* realloc(p, 0) freed p */
				st_free(s, e->c);
			else
				s->op[KMM_TR_REALLOC].failed++;
		} else {
			s->op[KMM_TR_REALLOC].bytes += e->b;
			if (e->c && !st_free(s, e->c))
				s->unknown_realloc++;
			st_alloc(s, e, e->a, e->b);
		}
		break;
	case KMM_TR_FREE:
		s->op[KMM_TR_FREE].calls++;
		s->op[KMM_TR_FREE].bytes += e->b;
		s->fpath[e->path & 15].calls++;
		s->fpath[e->path & 15].bytes += e->b;
		if (!st_free(s, e->c))
			s->unknown_free++;
		break;
	case KMM_TR_BRK:
		s->sc[SC_BRK].calls++;
		if (!s->brk_seen) {
			s->brk_seen = 1;
			s->brk_first = s->brk_cur = e->a;
		}
		if (is_err(e->d))
			s->sc[SC_BRK].failed++;
		else {
			if (e->d > e->a)
				s->brk_grew += e->d - e->a;
			else
				s->brk_shrank += e->a - e->d;
			s->brk_cur = e->d;
		}
		break;
	case KMM_TR_MMAP:
		s->sc[SC_MMAP].calls++;
		if (is_err(e->d))
			s->sc[SC_MMAP].failed++;
		else {
			s->sc[SC_MMAP].bytes += e->b;
			s->mapped += (int64_t)e->b;
		}
		break;
	case KMM_TR_MUNMAP:
	case KMM_TR_MPROTECT:
	case KMM_TR_MADVISE: {
		int k = e->type == KMM_TR_MUNMAP ? SC_MUNMAP : e->type == KMM_TR_MPROTECT ? SC_MPROTECT : SC_MADVISE;
		s->sc[k].calls++;
		if (is_err(e->d))
			s->sc[k].failed++;
		else {
			s->sc[k].bytes += e->b;
			if (k == SC_MUNMAP)
				s->mapped -= (int64_t)e->b;
		}
		break;
	}
	case KMM_TR_MREMAP:
		s->sc[SC_MREMAP].calls++;
		if (is_err(e->d))
			s->sc[SC_MREMAP].failed++;
		else {
			if (e->c > e->b)
				s->mremap_grew += e->c - e->b;
			else
				s->mremap_shrank += e->b - e->c;
			s->sc[SC_MREMAP].bytes += e->c;
			s->mapped += (int64_t)(e->c - e->b);
		}
		break;
	case KMM_TR_REGION_ADD: s->reg_add++; break;
	case KMM_TR_REGION_UPDATE: s->reg_upd++; break;
	case KMM_TR_REGION_DEL: s->reg_del++; break;
	case KMM_TR_POPULATE:
		s->populates++;
		if (e->d != UINT64_MAX)
			s->pop_pages += e->d;
		break;
	case KMM_TR_SLAB_ALLOC:
		s->slab_allocs++;
		s->slab_alloc_bytes += e->b;
		s->slab_live += (int64_t)e->b;
		break;
	case KMM_TR_SLAB_FREE:
		s->slab_frees++;
		s->slab_free_bytes += e->b;
		s->slab_live -= (int64_t)e->b;
		break;
	case KMM_TR_VMALLOC:
		if (e->path == KMM_TP_VMALLOC_REUSED)
			s->vm_reused++;
		else
			s->vm_new++;
		s->vm_bytes += e->b;
		s->vm_live += (int64_t)e->b;
		if (s->vm_live > 0 && (uint64_t)s->vm_live > s->vm_peak)
			s->vm_peak = (uint64_t)s->vm_live;
		break;
	case KMM_TR_VFREE:
		s->vm_frees++;
		s->vm_free_bytes += e->b;
		s->vm_live -= (int64_t)e->b;
		break;
	case KMM_TR_VREALLOC:   /* an area grown or shrunk (in place or moved) */
		s->vm_live += (int64_t)e->b - (int64_t)e->d;
		if (s->vm_live > 0 && (uint64_t)s->vm_live > s->vm_peak)
			s->vm_peak = (uint64_t)s->vm_live;
		break;
	case KMM_TR_THREAD_START: s->thr_start++; break;
	case KMM_TR_THREAD_EXIT: s->thr_exit++; break;
	case KMM_TR_FORK: s->forks++; break;
	default: s->unknown_types++;
	}
	if (s->mapped > 0 && (uint64_t)s->mapped > s->mapped_peak)
		s->mapped_peak = (uint64_t)s->mapped;
	if (s->plot)
		plot_sample(s, e);
}

static void analyze(const struct log *L, struct stats *s)
{
	struct merge M;
	merge_init(&M, L);
	struct ev e;
	while (merge_next(&M, &e))
		st_event(s, &e);
	merge_free(&M);
}

/* ====================================================================== */
/* summary                                                                */
/* ====================================================================== */

static int cmp_site_bytes(const void *x, const void *y)
{
	const struct site *a = x, *b = y;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	if (a->calls != b->calls)
		return a->calls > b->calls ? -1 : 1;
	return a->caller < b->caller ? -1 : a->caller > b->caller;
}

static const char *prog_name(const struct log *L)
{
	if (L->exe && L->exe[0]) {
		const char *s = strrchr(L->exe, '/');
		return s ? s + 1 : L->exe;
	}
	return "?";
}

static void print_log_status(FILE *o, const struct log *L)
{
	if (L->have_end) {
		fprintf(o, "log            complete: end block after %" PRIu64 " events (last seq %" PRIu64 ")", L->end_written,
			L->end_lastseq);
		if (L->after_end)
			fprintf(o, ", %" PRIu64 " event%s after it", L->after_end, L->after_end == 1 ? "" : "s");
		fputc('\n', o);
	} else
		fprintf(o, "log            CUT SHORT: no end block (the process crashed, was killed or called _exit); "
			   "up to one buffer per thread may be missing\n");
	if (L->bad)
		fprintf(o, "tail           CUT SHORT: stopped at offset %" PRIu64 " of %zu: %s\n", L->bad_off, L->size,
			L->bad_why);
	if (L->unknown_kinds)
		fprintf(o, "unknown        %u block%s of unknown kinds skipped\n", L->unknown_kinds,
			L->unknown_kinds == 1 ? "" : "s");
	if (L->unordered)
		fprintf(o, "order          %" PRIu64 " event block%s with frees or reallocs after the events made inside them (merged in order)\n",
			L->unordered, L->unordered == 1 ? "" : "s");
}

static void print_header(FILE *o, const struct log *L, const char *what)
{
	char b1[64], b2[64];
	fprintf(o, "kmm-trace %s: %s\n", what, L->path);
	fprintf(o, "program        %s (pid %" PRIu32, L->exe ? L->exe : "?", L->pid);
	if (L->ppid)
		fprintf(o, ", forked from %" PRIu32, L->ppid);
	fprintf(o, ")\n");
	if (L->cmdline)
		fprintf(o, "command line   %s\n", L->cmdline);
	time_t t = (time_t)(L->start_real / 1000000000u);
	struct tm tm;
	if (L->start_real && localtime_r(&t, &tm) && strftime(b1, sizeof b1, "%Y-%m-%d %H:%M:%S %Z", &tm))
		fprintf(o, "started        %s\n", b1);
	(void)b2;
}

static int cmd_summary(struct log *L, unsigned top)
{
	struct stats *s = xcalloc(1, sizeof *s);
	analyze(L, s);
	FILE *o = stdout;
	char b1[64], b2[64], b3[64];

	print_header(o, L, "summary");
	fprintf(o, "duration       %s s, %" PRIu64 " events", hsecs(s->tlast, b1, sizeof b1), s->nevents);
	if (s->nevents)
		fprintf(o, " (seq %" PRIu64 "-%" PRIu64 ")", L->seq_min, L->seq_max);
	fputc('\n', o);
	print_log_status(o, L);
	fprintf(o, "threads        %zu:", L->ntids);
	for (size_t i = 0; i < L->ntids && i < 16; i++)
		fprintf(o, " %" PRIu32, L->tids[i]);
	if (L->ntids > 16)
		fprintf(o, " ...");
	fprintf(o, " (thread start %" PRIu64 ", thread exit %" PRIu64 ", fork %" PRIu64 ")\n", s->thr_start, s->thr_exit,
		s->forks);
	fprintf(o, "backtraces     %s", L->btdepth ? "" : "none");
	if (L->btdepth)
		fprintf(o, "depth %" PRIu32, L->btdepth);
	fputc('\n', o);
	if (s->unknown_types)
		fprintf(o, "unknown        %" PRIu64 " events of unknown types\n", s->unknown_types);

	fprintf(o, "\noperation           calls     failed            bytes\n");
	static const unsigned order[] = {KMM_TR_MALLOC, KMM_TR_CALLOC, KMM_TR_REALLOC, KMM_TR_MEMALIGN, KMM_TR_FREE};
	for (size_t i = 0; i < 5; i++) {
		const struct opstat *p = &s->op[order[i]];
		fprintf(o, "  %-12s %10" PRIu64 " %10" PRIu64 " %16" PRIu64 "%s\n", op_name(order[i]), p->calls, p->failed,
			p->bytes, order[i] == KMM_TR_FREE ? "  (usable size freed)" : "");
	}

	fprintf(o, "\nserved by           calls            bytes\n");
	for (unsigned p = 0; p < 16; p++)
		if (s->apath[p].calls)
			fprintf(o, "  %-15s %8" PRIu64 " %16" PRIu64 "\n", path_str(p, b1, sizeof b1), s->apath[p].calls,
				s->apath[p].bytes);
	fprintf(o, "\nfreed to            calls            bytes\n");
	for (unsigned p = 0; p < 16; p++)
		if (s->fpath[p].calls)
			fprintf(o, "  %-15s %8" PRIu64 " %16" PRIu64 "\n", path_str(p, b1, sizeof b1), s->fpath[p].calls,
				s->fpath[p].bytes);

	fprintf(o, "\nsize (up to)   allocations\n");
	for (unsigned k = 0; k < 64; k++)
		if (s->sclass[k]) {
			unsigned e2 = k + 4;
			const char *u = e2 >= 40 ? "T" : e2 >= 30 ? "G" : e2 >= 20 ? "M" : e2 >= 10 ? "K" : "";
			unsigned sh = e2 >= 40 ? 40 : e2 >= 30 ? 30 : e2 >= 20 ? 20 : e2 >= 10 ? 10 : 0;
			snprintf(b1, sizeof b1, "<=%" PRIu64 "%s", (uint64_t)1 << (e2 - sh), u);
			fprintf(o, "  %-10s %12" PRIu64 "\n", b1, s->sclass[k]);
		}

	fprintf(o, "\nlive heap (requested bytes of the program's blocks)\n");
	fprintf(o, "  peak     %14" PRIu64 " bytes  (%s in %" PRIu64 " blocks)  at +%ss  seq %" PRIu64 "\n", s->peak,
		hbytes((double)s->peak, b1, sizeof b1), s->peak_blocks, hsecs(s->peak_time, b2, sizeof b2), s->peak_seq);
	fprintf(o, "  at end   %14" PRIu64 " bytes  (%s in %" PRIu64 " blocks)\n", s->live,
		hbytes((double)s->live, b1, sizeof b1), s->live_blocks);
	if (s->unknown_free || s->unknown_realloc || s->dup_alloc)
		fprintf(o, "  not in this log: %" PRIu64 " frees and %" PRIu64 " reallocs of blocks allocated before it, %" PRIu64
			   " blocks allocated twice\n",
			s->unknown_free, s->unknown_realloc, s->dup_alloc);

	fprintf(o, "\nsystem call         calls     failed\n");
	fprintf(o, "  %-12s %10" PRIu64 " %10" PRIu64 "  grew %" PRIu64 ", shrank %" PRIu64, "brk", s->sc[SC_BRK].calls,
		s->sc[SC_BRK].failed, s->brk_grew, s->brk_shrank);
	if (s->brk_seen)
		fprintf(o, ", break at end: start+%" PRId64 " (%s)", (int64_t)(s->brk_cur - s->brk_first),
			hbytes((double)(int64_t)(s->brk_cur - s->brk_first), b1, sizeof b1));
	fputc('\n', o);
	fprintf(o, "  %-12s %10" PRIu64 " %10" PRIu64 "  %" PRIu64 " bytes mapped (%s)\n", "mmap", s->sc[SC_MMAP].calls,
		s->sc[SC_MMAP].failed, s->sc[SC_MMAP].bytes, hbytes((double)s->sc[SC_MMAP].bytes, b1, sizeof b1));
	fprintf(o, "  %-12s %10" PRIu64 " %10" PRIu64 "  %" PRIu64 " bytes unmapped (%s)\n", "munmap", s->sc[SC_MUNMAP].calls,
		s->sc[SC_MUNMAP].failed, s->sc[SC_MUNMAP].bytes, hbytes((double)s->sc[SC_MUNMAP].bytes, b1, sizeof b1));
	fprintf(o, "  %-12s %10" PRIu64 " %10" PRIu64 "  grew %" PRIu64 ", shrank %" PRIu64 "\n", "mremap",
		s->sc[SC_MREMAP].calls, s->sc[SC_MREMAP].failed, s->mremap_grew, s->mremap_shrank);
	fprintf(o, "  %-12s %10" PRIu64 " %10" PRIu64 "  %" PRIu64 " bytes\n", "mprotect", s->sc[SC_MPROTECT].calls,
		s->sc[SC_MPROTECT].failed, s->sc[SC_MPROTECT].bytes);
	fprintf(o, "  %-12s %10" PRIu64 " %10" PRIu64 "  %" PRIu64 " bytes\n", "madvise", s->sc[SC_MADVISE].calls,
		s->sc[SC_MADVISE].failed, s->sc[SC_MADVISE].bytes);
	fprintf(o, "  mapped at end: %" PRId64 " bytes (%s), peak %" PRIu64 " bytes (%s)\n", s->mapped,
		hbytes((double)s->mapped, b1, sizeof b1), s->mapped_peak, hbytes((double)s->mapped_peak, b2, sizeof b2));

	fprintf(o, "\nkmm's own memory\n");
	fprintf(o, "  slab       allocs %" PRIu64 " (%" PRIu64 " bytes), frees %" PRIu64 " (%" PRIu64
		   " bytes), live at end %" PRId64 " bytes\n",
		s->slab_allocs, s->slab_alloc_bytes, s->slab_frees, s->slab_free_bytes, s->slab_live);
	fprintf(o, "  vmalloc    areas %" PRIu64 " (new %" PRIu64 ", reused %" PRIu64 "; %" PRIu64 " bytes), vfrees %" PRIu64
		   " (%" PRIu64 " bytes), live at end %" PRId64 " bytes, peak %" PRIu64 " (%s)\n",
		s->vm_new + s->vm_reused, s->vm_new, s->vm_reused, s->vm_bytes, s->vm_frees, s->vm_free_bytes, s->vm_live,
		s->vm_peak, hbytes((double)s->vm_peak, b1, sizeof b1));
	fprintf(o, "  regions    added %" PRIu64 ", updated %" PRIu64 ", deleted %" PRIu64 "; populate %" PRIu64
		   " (%" PRIu64 " pages resident)\n",
		s->reg_add, s->reg_upd, s->reg_del, s->populates, s->pop_pages);

	/* top sites */
	struct site *v = xcalloc(s->stn, sizeof *v);
	size_t nv = 0;
	for (size_t i = 0; i < s->stcap; i++)
		if (s->st[i].used)
			v[nv++] = s->st[i];
	qsort(v, nv, sizeof *v, cmp_site_bytes);
	if (nv > top)
		nv = top;
	for (size_t i = 0; i < nv; i++)
		sym_want(v[i].caller);
	sym_resolve();
	fprintf(o, "\ntop %zu allocation site%s by bytes\n", nv, nv == 1 ? "" : "s");
	fprintf(o, "             bytes      calls  caller\n");
	for (size_t i = 0; i < nv; i++) {
		const char *d = sym_desc(v[i].caller);
		fprintf(o, "  %16" PRIu64 " %10" PRIu64 "  0x%" PRIx64 "%s%s\n", v[i].bytes, v[i].calls, v[i].caller,
			d[0] ? " " : "", d);
	}
	free(v);
	(void)b3;
	return 0;
}

/* ====================================================================== */
/* leaks                                                                  */
/* ====================================================================== */

static int cmp_leak(const void *x, const void *y)
{
	const struct lent *a = x, *b = y;
	uint64_t ca = rec_caller(a->rec), cb = rec_caller(b->rec);
	if (ca != cb)
		return ca < cb ? -1 : 1;
	unsigned na = rec_nframes(a->rec), nb = rec_nframes(b->rec);
	if (na != nb)
		return na < nb ? -1 : 1;
	int c = memcmp(rec_frames(a->rec), rec_frames(b->rec), KMM_TRACE_FRAME_SIZE * (size_t)na);
	if (c)
		return c;
	uint64_t sa = rec_seq(a->rec), sb = rec_seq(b->rec);
	return sa < sb ? -1 : sa > sb;
}

static int same_site(const struct lent *a, const struct lent *b)
{
	unsigned na = rec_nframes(a->rec);
	return rec_caller(a->rec) == rec_caller(b->rec) && na == rec_nframes(b->rec) &&
	       !memcmp(rec_frames(a->rec), rec_frames(b->rec), KMM_TRACE_FRAME_SIZE * (size_t)na);
}

struct lgroup { size_t first, n; uint64_t bytes; };

static const struct lent *g_leaks;

static int cmp_group(const void *x, const void *y)
{
	const struct lgroup *a = x, *b = y;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	if (a->n != b->n)
		return a->n > b->n ? -1 : 1;
	return cmp_leak(&g_leaks[a->first], &g_leaks[b->first]);
}

static int cmd_leaks(struct log *L, int all)
{
	struct stats *s = xcalloc(1, sizeof *s);
	analyze(L, s);
	FILE *o = stdout;
	struct lent *v = xcalloc(s->ltn, sizeof *v);
	size_t n = 0;
	for (size_t i = 0; i < s->ltcap; i++)
		if (s->lt[i].ptr)
			v[n++] = s->lt[i];
	qsort(v, n, sizeof *v, cmp_leak);
	struct lgroup *g = NULL;
	size_t ng = 0, capg = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		uint64_t bytes = 0;
		while (j < n && same_site(&v[i], &v[j]))
			bytes += v[j++].size;
		GROW(g, ng, capg);
		g[ng].first = i;
		g[ng].n = j - i;
		g[ng].bytes = bytes;
		ng++;
		i = j;
	}
	g_leaks = v;
	if (ng)
		qsort(g, ng, sizeof *g, cmp_group);
	for (size_t i = 0; i < ng; i++) {
		struct ev e;
		ev_decode(v[g[i].first].rec, 0, &e);
		sym_want(e.d);
		for (unsigned k = 0; k < e.nframes; k++)
			sym_want(ev_frame(&e, k));
	}
	sym_resolve();

	char b1[64], b2[64];
	if (!n)
		fprintf(o, "kmm-trace leaks: %s: no leaks: every block allocated in the log was freed\n", L->path);
	else
		fprintf(o, "kmm-trace leaks: %s: %zu block%s, %" PRIu64 " bytes (%s) never freed, from %zu site%s\n", L->path,
			n, n == 1 ? "" : "s", s->live, hbytes((double)s->live, b1, sizeof b1), ng, ng == 1 ? "" : "s");
	if (log_cut(L))
		fprintf(o, "(the log was cut short: blocks freed in the events it lost show here as leaks)\n");
	for (size_t i = 0; i < ng; i++) {
		struct ev e;
		ev_decode(v[g[i].first].rec, 0, &e);
		const char *d = sym_desc(e.d);
		fprintf(o, "\n%" PRIu64 " bytes in %zu block%s allocated from 0x%" PRIx64 "%s%s\n", g[i].bytes, g[i].n,
			g[i].n == 1 ? "" : "s", e.d, d[0] ? " " : "", d);
		size_t show = all ? g[i].n : g[i].n < 5 ? g[i].n : 5;
		for (size_t k = 0; k < show; k++) {
			const struct lent *x = &v[g[i].first + k];
			fprintf(o, "    0x%-14" PRIx64 " %10" PRIu64 " bytes  %-8s  seq %-8" PRIu64 "  +%ss  tid %" PRIu32 "\n",
				x->ptr, x->size, op_name(rec_type(x->rec)), rec_seq(x->rec), hsecs(rec_time(x->rec), b2, sizeof b2),
				x->tid);
		}
		if (show < g[i].n)
			fprintf(o, "    ... and %zu more (--all lists them)\n", g[i].n - show);
		if (e.nframes) {
			fprintf(o, "    backtrace:\n");
			print_frames(o, &e, "      ");
		}
	}
	free(g);
	free(v);
	return 0;
}

/* ====================================================================== */
/* mtrace                                                                 */
/* ====================================================================== */

static int cmd_mtrace(struct log *L)
{
	want_all_sites(L);
	sym_resolve();
	FILE *o = stdout;
	char wb[64];
	fputs("= Start\n", o);
	struct merge M;
	merge_init(&M, L);
	struct ev e;
	while (merge_next(&M, &e)) {
		if (!kmm_trace_is_call(e.type))
			continue;
		const char *w = e.d ? sym_where(e.d, wb, sizeof wb) : "";
		switch (e.type) {
		case KMM_TR_MALLOC:
		case KMM_TR_CALLOC:
		case KMM_TR_MEMALIGN:
			if (e.a)
				fprintf(o, "%s+ 0x%" PRIx64 " %#" PRIx64 "\n", w, e.a, e.b);
			else
				fprintf(o, "%s+ (nil) %#" PRIx64 "\n", w, e.b);
			break;
		case KMM_TR_FREE:
			if (e.c)
				fprintf(o, "%s- 0x%" PRIx64 "\n", w, e.c);
			break;
		case KMM_TR_REALLOC:
			if (!e.a) {
				if (e.b)
					fprintf(o, "%s! %s%" PRIx64 " %#" PRIx64 "\n", w, e.c ? "0x" : "(nil)", e.c, e.b);
				else if (e.c)
					fprintf(o, "%s- 0x%" PRIx64 "\n", w, e.c);
			} else if (!e.c)
				fprintf(o, "%s+ 0x%" PRIx64 " %#" PRIx64 "\n", w, e.a, e.b);
			else
				fprintf(o, "%s< 0x%" PRIx64 "\n%s> 0x%" PRIx64 " %#" PRIx64 "\n", w, e.c, w, e.a, e.b);
			break;
		}
	}
	merge_free(&M);
	fputs("= End\n", o);
	return 0;
}

/* ====================================================================== */
/* plot                                                                   */
/* ====================================================================== */

static void xml_escape(FILE *o, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", o); break;
		case '<': fputs("&lt;", o); break;
		case '>': fputs("&gt;", o); break;
		case '"': fputs("&quot;", o); break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\t')
				fputc(*s, o);
		}
	}
}

/* a round step near max/n: 1, 2 or 5 times a power of ten */
static double nice_step(double max, int n)
{
	double raw = max / n, mag = 1;
	if (raw <= 0)
		return 1;
	while (mag * 10 <= raw)
		mag *= 10;
	while (mag > raw)
		mag /= 10;
	double f = raw / mag;
	return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

/* the decimals a tick step needs (0.25 -> 2) */
static int step_decimals(double step)
{
	int d = 0;
	for (double m = 1; d < 6; d++, m *= 10) {
		double x = step * m;
		if (x - (double)(int64_t)(x + 0.5) < 1e-6 && (double)(int64_t)(x + 0.5) - x < 1e-6)
			break;
	}
	return d;
}

static void fmt_num(char *buf, size_t n, double v, int decimals, const char *unit)
{
	snprintf(buf, n, "%.*f %s", decimals, v, unit);
}

struct axis_x {
	double x0, x1, right, step, div;
	const char *unit;
};

static double text_width(const char *s) { return 7.3 * (double)strlen(s); }

/* one panel: the series in `mask`, its own y axis, a legend row above it */
static size_t plot_panel(FILE *o, const struct plotdata *P, unsigned mask, const int64_t *vpeak,
			 const struct axis_x *ax, double Y0, double Y1, int nyticks, int xlabels, const struct stats *s)
{
	static const char *names[NSERIES] = {"live heap", "break size", "vmalloc areas",
					     "mapped (mmap - munmap, with mremap)"};
	static const char *colors[NSERIES] = {"#1f6fd1", "#e07b00", "#2a9d3a", "#c62828"};
	static const char *bunit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	const double X0 = ax->x0, X1 = ax->x1;
	int64_t vmax = 1;
	for (int i = 0; i < NSERIES; i++)
		if ((mask >> i & 1) && vpeak[i] > vmax)
			vmax = vpeak[i];
	if (vmax < 1024)
		vmax = 1024; /* an axis of at least 1 KiB */
	int ui = 0;
	double ud = 1;
	while (ui < 4 && (double)vmax / ud >= 1024) {
		ud *= 1024;
		ui++;
	}
	double ymaxu = (double)vmax / ud, ystep = nice_step(ymaxu, nyticks);
	double ytop = ystep * (double)(int64_t)(ymaxu / ystep + 0.999999);
	if (ytop < ymaxu)
		ytop += ystep;
	if (ytop <= 0)
		ytop = ystep;
#define XP(tu) (X0 + (X1 - X0) * ((tu) / ax->right))
#define YP(v) (Y1 - (Y1 - Y0) * ((double)(v) / ud / ytop))
	/* legend */
	double lx = X0;
	for (int i = 0; i < NSERIES; i++) {
		if (!(mask >> i & 1))
			continue;
		char b1[64], t[160];
		if (i == 0 && s->peak) {
			char b2[64];
			fmt_num(b2, sizeof b2, (double)s->peak_time / ax->div, step_decimals(ax->step) + 1, ax->unit);
			snprintf(t, sizeof t, "%s, peak %s at %s (the dot)", names[i], hbytes((double)s->peak, b1, sizeof b1), b2);
		} else
			snprintf(t, sizeof t, "%s, peak %s", names[i], hbytes((double)vpeak[i], b1, sizeof b1));
		fprintf(o, "<rect x=\"%.0f\" y=\"%.0f\" width=\"22\" height=\"4\" fill=\"%s\"/>\n", lx, Y0 - 16, colors[i]);
		fprintf(o, "<text x=\"%.0f\" y=\"%.0f\" fill=\"#222\">%s</text>\n", lx + 28, Y0 - 10, t);
		lx += 28 + text_width(t) + 28;
	}
	/* grid, ticks */
	fprintf(o, "<g stroke=\"#e4e4e4\" stroke-width=\"1\">\n");
	int nyt = (int)(ytop / ystep + 0.5), nxt = (int)(ax->right / ax->step + 1e-6);
	int ydec = step_decimals(ystep), xdec = step_decimals(ax->step);
	for (int k = 1; k <= nyt; k++)
		fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", X0, YP(k * ystep * ud), X1,
			YP(k * ystep * ud));
	for (int k = 1; k <= nxt; k++)
		if (k * ax->step < ax->right * 0.9999)
			fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", XP(k * ax->step), Y0,
				XP(k * ax->step), Y1);
	fprintf(o, "</g>\n<g text-anchor=\"end\" fill=\"#333\">\n");
	for (int k = 0; k <= nyt; k++) {
		char b[64];
		fmt_num(b, sizeof b, k * ystep, ydec, bunit[ui]);
		fprintf(o, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", X0 - 8, YP(k * ystep * ud) + 4, b);
	}
	fprintf(o, "</g>\n");
	if (xlabels) {
		fprintf(o, "<g text-anchor=\"middle\" fill=\"#333\">\n");
		for (int k = 0; k <= nxt; k++) {
			char b[64];
			fmt_num(b, sizeof b, k * ax->step, xdec, ax->unit);
			fprintf(o, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", XP(k * ax->step), Y1 + 20, b);
		}
		fprintf(o, "</g>\n");
	}
	if (vmax <= 1024 && !(mask & 1) && !vpeak[3])
		fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#888\">none in this log</text>\n",
			(X0 + X1) / 2, (Y0 + Y1) / 2 + 4);
	/* the lines: step functions; per bucket its extremes, in their order */
	size_t points = 0;
	for (int i = NSERIES - 1; i >= 0; i--) {
		if (!(mask >> i & 1))
			continue;
		fprintf(o, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" stroke-linejoin=\"round\" d=\"M%.1f %.1f",
			colors[i], i == 0 ? "2.2" : "1.6", X0, Y1);
		double lasty = Y1;
		points++;
		for (int k = 0; k < NBUCKETS; k++) {
			const struct bucket *B = &P->b[i][k];
			if (!B->has)
				continue;
			double x = X0 + (X1 - X0) * ((double)k * (double)(P->tmax + 1) / NBUCKETS / ax->div) / ax->right;
			double ys[3];
			int ny = 0;
			if (B->imin < B->imax) {
				ys[ny++] = YP(B->min);
				ys[ny++] = YP(B->max);
			} else if (B->imax < B->imin) {
				ys[ny++] = YP(B->max);
				ys[ny++] = YP(B->min);
			} else
				ys[ny++] = YP(B->min);
			ys[ny++] = YP(B->last);
			int moved = 0;
			for (int q = 0; q < ny; q++) {
				if ((int64_t)(ys[q] * 10 + 0.5) == (int64_t)(lasty * 10 + 0.5))
					continue;
				if (!moved) {
					fprintf(o, " H%.1f", x);
					points++;
					moved = 1;
				}
				fprintf(o, " V%.1f", ys[q]);
				points++;
				lasty = ys[q];
			}
		}
		fprintf(o, " H%.1f\"/>\n", X1);
		points++;
	}
	if ((mask & 1) && s->peak)
		fprintf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\" stroke=\"white\" stroke-width=\"1.5\"/>\n",
			XP((double)s->peak_time / ax->div), YP(s->peak), colors[0]);
	fprintf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n", X0, Y0,
		X1 - X0, Y1 - Y0);
#undef XP
#undef YP
	return points;
}

static int cmd_plot(struct log *L, const char *out)
{
	struct stats *s = xcalloc(1, sizeof *s);
	s->plot = xcalloc(1, sizeof *s->plot);
	s->plot->tmax = L->tmax;
	analyze(L, s);
	const struct plotdata *P = s->plot;

	char *outname = out ? xstrdup(out) : xasprintf("%s.svg", L->path);
	FILE *o = fopen(outname, "w");
	if (!o)
		fatal("%s: %s", outname, strerror(errno));

	int64_t vpeak[NSERIES] = {0};
	for (int i = 0; i < NSERIES; i++)
		for (int k = 0; k < NBUCKETS; k++)
			if (P->b[i][k].has && P->b[i][k].max > vpeak[i])
				vpeak[i] = P->b[i][k].max;

	const double W = 1000, H = 660;
	/* x axis: time in s, ms or us */
	struct axis_x ax = {.x0 = 96, .x1 = 970, .unit = "s", .div = 1e9};
	double tmax = (double)(L->tmax ? L->tmax : 1);
	if (tmax < 1e6) {
		ax.unit = "\xc2\xb5s";
		ax.div = 1e3;
	} else if (tmax < 1e9) {
		ax.unit = "ms";
		ax.div = 1e6;
	}
	ax.right = tmax / ax.div;
	ax.step = nice_step(ax.right, 8);

	fprintf(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
		   "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"13\">\n",
		W, H, W, H);
	fprintf(o, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(o, "<text x=\"%.0f\" y=\"28\" font-size=\"18\" font-weight=\"bold\" text-anchor=\"middle\">kmm trace: ", W / 2);
	xml_escape(o, prog_name(L));
	fprintf(o, " (pid %" PRIu32 ")</text>\n", L->pid);
	{
		char b1[64], b2[64];
		fmt_num(b1, sizeof b1, ax.right, step_decimals(ax.step) + 1, ax.unit);
		fprintf(o, "<text x=\"%.0f\" y=\"48\" text-anchor=\"middle\" fill=\"#555\">%" PRIu64
			   " events, %zu thread%s, %s; peak live heap %s",
			W / 2, s->nevents, L->ntids, L->ntids == 1 ? "" : "s", b1, hbytes((double)s->peak, b2, sizeof b2));
		if (log_cut(L))
			fprintf(o, "; the log was cut short");
		fprintf(o, "</text>\n");
	}
	const double AY0 = 100, AY1 = 420, BY0 = 470, BY1 = 590;
	size_t points = plot_panel(o, P, 1 | 2 | 4, vpeak, &ax, AY0, AY1, 6, 0, s);
	points += plot_panel(o, P, 8, vpeak, &ax, BY0, BY1, 3, 1, s);
	fprintf(o, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\" fill=\"#333\">time since start</text>\n",
		(ax.x0 + ax.x1) / 2, BY1 + 44);
	fprintf(o, "<text transform=\"translate(20 %.0f) rotate(-90)\" text-anchor=\"middle\" fill=\"#333\">heap</text>\n",
		(AY0 + AY1) / 2);
	fprintf(o, "<text transform=\"translate(20 %.0f) rotate(-90)\" text-anchor=\"middle\" fill=\"#333\">mapped</text>\n",
		(BY0 + BY1) / 2);
	fprintf(o, "</svg>\n");
	if (fclose(o) != 0)
		fatal("%s: %s", outname, strerror(errno));
	printf("kmm-trace plot: wrote %s (%zu points)\n", outname, points);
	free(outname);
	return 0;
}

/* ====================================================================== */
/* command line                                                           */
/* ====================================================================== */

static const char usage_text[] =
	"usage: kmm-trace COMMAND [OPTIONS] FILE\n"
	"Reads kmm's allocation trace log (KMM_TRACE=FILE, docs/trace.md).\n"
	"\n"
	"commands:\n"
	"  dump      every event, one line each, in sequence order\n"
	"  summary   counts and bytes per operation, path, size and system call;\n"
	"            peak live bytes; kmm's own memory; top allocation sites\n"
	"  leaks     blocks never freed, grouped by allocation site\n"
	"  plot      an SVG of live heap, break size, vmalloc and mapped bytes\n"
	"  mtrace    the log in glibc's mtrace(3) format, for mtrace(1)\n"
	"\n"
	"options:\n"
	"  --no-symbols   do not look addresses up (no addr2line)\n"
	"  -h, --help     this help; `kmm-trace COMMAND --help` for a command's\n"
	"\n"
	"Exit status: 0 (also for a log that was cut short: a warning says so),\n"
	"2 for bad usage or a file that is not a readable kmm trace log.\n";

struct cmdhelp { const char *name, *text; };
static const struct cmdhelp cmd_help[] = {
	{"dump", "usage: kmm-trace dump [--no-symbols] FILE\n"
		 "One line per event, in global sequence order:\n"
		 "  #SEQ +SECONDSs tid TID EVENT\n"
		 "malloc-family calls with their result, serving path and caller\n"
		 "(symbolized), system calls, regions, slab and vmalloc events;\n"
		 "backtraces follow on indented lines.\n"},
	{"summary", "usage: kmm-trace summary [--no-symbols] [--top N] FILE\n"
		    "Counts and bytes per operation, serving path, where frees went, size\n"
		    "class; peak live bytes (requested sizes) with its time and sequence\n"
		    "number; system calls; kmm's slab, vmalloc and regions; the top N\n"
		    "allocation sites by bytes (10 by default); threads; whether the log\n"
		    "was cut short.\n"},
	{"leaks", "usage: kmm-trace leaks [--no-symbols] [--all] FILE\n"
		  "The program's blocks still allocated at the end of the log, grouped by\n"
		  "allocation site (caller, and backtrace when recorded), largest first;\n"
		  "five example blocks per site, or all of them with --all.\n"},
	{"plot", "usage: kmm-trace plot [-o OUT.svg] FILE\n"
		 "Writes an SVG (FILE.svg by default): over time, live heap bytes, the\n"
		 "break's growth over its start, live vmalloc areas and the bytes mapped\n"
		 "with mmap (less munmap, with mremap), at most ~2000 points per line.\n"},
	{"mtrace", "usage: kmm-trace mtrace [--no-symbols] FILE > OUT\n"
		   "Converts the log to glibc's mtrace(3) text format: `mtrace OUT` (the\n"
		   "perl script of libc-dev-bin) then lists the memory not freed.\n"},
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	const char *cmd = argv[1];
	const struct cmdhelp *ch = NULL;
	for (size_t i = 0; i < sizeof cmd_help / sizeof cmd_help[0]; i++)
		if (!strcmp(cmd, cmd_help[i].name))
			ch = &cmd_help[i];
	if (!ch)
		fatal("unknown command '%s' (dump, summary, leaks, plot, mtrace; see kmm-trace --help)", cmd);
	const char *file = NULL, *out = NULL;
	int nosym = 0, all = 0;
	unsigned top = 10;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(ch->text, stdout);
			return 0;
		} else if (!strcmp(a, "--no-symbols"))
			nosym = 1;
		else if (!strcmp(a, "--all") && !strcmp(cmd, "leaks"))
			all = 1;
		else if (!strcmp(a, "-o") && !strcmp(cmd, "plot")) {
			if (++i >= argc)
				fatal("plot: -o needs a file name");
			out = argv[i];
		} else if (!strncmp(a, "-o", 2) && a[2] && !strcmp(cmd, "plot"))
			out = a + 2;
		else if (!strcmp(a, "--top") && !strcmp(cmd, "summary")) {
			char *end;
			if (++i >= argc)
				fatal("summary: --top needs a number");
			unsigned long v = strtoul(argv[i], &end, 10);
			if (*end || end == argv[i] || v > 1000000)
				fatal("summary: --top %s: not a number", argv[i]);
			top = (unsigned)v;
		} else if (a[0] == '-' && a[1])
			fatal("%s: unknown option '%s' (see kmm-trace %s --help)", cmd, a, cmd);
		else if (file)
			fatal("%s: one FILE only (got '%s' and '%s')", cmd, file, a);
		else
			file = a;
	}
	if (!file)
		fatal("%s: no FILE (see kmm-trace %s --help)", cmd, cmd);

	static char obuf[1 << 20];
	setvbuf(stdout, obuf, _IOFBF, sizeof obuf);

	struct log L;
	log_open(&L, file);
	warn_cut(&L);
	int plot = !strcmp(cmd, "plot"), mtrace = !strcmp(cmd, "mtrace");
	sym_init(&L, !nosym && !plot, !mtrace);
	int rc;
	if (!strcmp(cmd, "dump"))
		rc = cmd_dump(&L);
	else if (!strcmp(cmd, "summary"))
		rc = cmd_summary(&L, top);
	else if (!strcmp(cmd, "leaks"))
		rc = cmd_leaks(&L, all);
	else if (plot)
		rc = cmd_plot(&L, out);
	else
		rc = cmd_mtrace(&L);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, PROG ": writing the output: %s\n", strerror(errno));
		return 2;
	}
	return rc;
}
