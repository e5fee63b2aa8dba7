/*
 * tracegen — writes synthetic kmm trace logs (src/trace_format.h,
 * docs/trace.md) for
 * tests/integration/trace-reader.sh, which checks kmm-trace's output
 * against what this program wrote.
 *
 *   tracegen known OUT    a small log with known contents: malloc, calloc,
 *                         realloc (moving, in place), free, memalign, a
 *                         failed malloc; brk, mmap, munmap, mremap, mprotect,
 *                         madvise (and failures); regions, populate, slab,
 *                         vmalloc, vfree; 2 threads whose blocks interleave
 *                         out of sequence order; an info block, two maps
 *                         snapshots in pieces, an end block and one block
 *                         after it.  The expected numbers are in the table
 *                         of trace-reader.sh.
 *   tracegen cut OUT      the same process "killed": no exit snapshot, no
 *                         end block, the last block truncated halfway
 *   tracegen unordered OUT  the known log with events 1 and 2 swapped inside
 *                         their block (sequence numbers going backwards)
 *   tracegen big N OUT    N events: random mallocs and frees over 4 threads
 *   tracegen run OUT      the logs of a run of 3 processes: OUT (pid 5000,
 *                         "tg-shell"), which frees and reallocs a block from
 *                         before its trace, forks pid 5001 (OUT.5001,
 *                         "tg-child") and execs "tg-prog", whose log is
 *                         OUT.5000 (an exec block in OUT names it).  The
 *                         expected numbers are in trace-reader.sh.
 *
 * The call sites are real return addresses inside this program (functions
 * alloc_site_a ... alloc_site_i) and the maps snapshots are this process's
 * /proc/self/maps, so the reader can symbolize them.  On stdout:
 *   site NAME ADDR REL OUTER   a site: its address, its offset from this
 *                         program's load address (what mtrace(1) shows) and
 *                         the second frame of its backtraces
 *   events N              the events a reader can read from OUT
 * and for big: malloc N, free N, live_blocks N, live_bytes N, peak N SEQ.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <inttypes.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace_format.h"

#define NOINLINE __attribute__((noinline))
#define BUFSZ 65536 /* a thread's buffer, as kmm's writer */

static FILE *fp;
static const char *outpath;
static uint64_t g_seq = 1;    /* the next sequence number */
static uint64_t g_events;     /* events in complete blocks */
static uint64_t g_tstep = 1000; /* ns per sequence number */

/* ---- call sites ------------------------------------------------------ */

struct site {
	const char *name;
	uint64_t pc;    /* a return address inside alloc_site_X */
	uint64_t outer; /* its caller's return address */
	uint64_t frames[2];
};

static volatile uint64_t sink[16];

static NOINLINE uint64_t return_address(void)
{
	__asm__ volatile("" ::: "memory");
	return (uint64_t)(uintptr_t)__builtin_return_address(0);
}

/* each site differs (its own sink slot), so the compiler cannot merge them */
#define SITE(x, k)                                                                    \
	static NOINLINE void alloc_site_##x(struct site *s)                           \
	{                                                                             \
		s->pc = return_address();                                             \
		sink[k] += s->pc;                                                     \
		s->outer = (uint64_t)(uintptr_t)__builtin_return_address(0);          \
		s->name = "alloc_site_" #x;                                           \
	}
SITE(a, 0)
SITE(b, 1)
SITE(c, 2)
SITE(d, 3)
SITE(e, 4)
SITE(f, 5)
SITE(g, 6)
SITE(h, 7)
SITE(i, 8)

enum { A, B, C, D, E, F, G, HF, I, NSITES };
static struct site site[NSITES];
static uint64_t load_base;

static int find_base(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	load_base = info->dlpi_addr; /* the first object: this program */
	return 1;
}

static NOINLINE void collect_sites(void)
{
	alloc_site_a(&site[A]);
	alloc_site_b(&site[B]);
	alloc_site_c(&site[C]);
	alloc_site_d(&site[D]);
	alloc_site_e(&site[E]);
	alloc_site_f(&site[F]);
	alloc_site_g(&site[G]);
	alloc_site_h(&site[HF]);
	alloc_site_i(&site[I]);
	dl_iterate_phdr(find_base, NULL);
	for (int i = 0; i < NSITES; i++) {
		site[i].frames[0] = site[i].pc;
		site[i].frames[1] = site[i].outer;
		printf("site %s 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 "\n", site[i].name, site[i].pc,
		       site[i].pc - load_base, site[i].outer);
	}
}

/* ---- writing ---------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> 8 * i); }

static void wr(const void *p, size_t n)
{
	if (n && fwrite(p, 1, n, fp) != n) {
		perror(outpath);
		exit(1);
	}
}

/* the offset of a field in the file (byte by byte: little-endian on any host) */
#define FH(f) offsetof(struct kmm_trace_file_header, f)
#define BH(f) offsetof(struct kmm_trace_block_header, f)
#define EV(f) offsetof(struct kmm_trace_record, f)
#define END(f) offsetof(struct kmm_trace_end, f)

static uint32_t g_ppid; /* the next header's parent */

static void header(uint32_t pid, uint32_t btdepth, uint64_t first_seq)
{
	uint8_t h[sizeof(struct kmm_trace_file_header)] = {0};
	memcpy(h + FH(magic), KMM_TRACE_MAGIC, KMM_TRACE_MAGIC_LEN);
	put32(h + FH(version), KMM_TRACE_VERSION);
	put32(h + FH(header_size), sizeof h);
	put32(h + FH(pid), pid);
	put32(h + FH(ppid), g_ppid);
	put32(h + FH(depth), btdepth);
	put32(h + FH(page_size), 4096);
	put64(h + FH(start_mono), 3600ull * 1000000000ull);       /* CLOCK_MONOTONIC */
	put64(h + FH(start_real), 1700000000ull * 1000000000ull); /* 2023-11-14 22:13:20 UTC */
	put64(h + FH(first_seq), first_seq);
	wr(h, sizeof h);
	g_seq = first_seq;
}

/* a block; only `written` bytes of its payload reach the file */
static void block(uint16_t kind, uint32_t tid, const void *payload, uint32_t size, uint32_t written)
{
	uint8_t h[sizeof(struct kmm_trace_block_header)] = {0};
	memcpy(h + BH(magic), KMM_TRACE_BLOCK_MAGIC, KMM_TRACE_BLOCK_MAGIC_LEN);
	put16(h + BH(kind), kind);
	put32(h + BH(tid), tid);
	put32(h + BH(size), size);
	wr(h, sizeof h);
	wr(payload, written);
}

struct tbuf {
	uint32_t tid;
	uint32_t n; /* events in the buffer */
	size_t len;
	uint8_t buf[BUFSZ];
};

static void flush(struct tbuf *t)
{
	if (!t->len)
		return;
	block(KMM_TB_EVENTS, t->tid, t->buf, (uint32_t)t->len, (uint32_t)t->len);
	g_events += t->n;
	t->len = 0;
	t->n = 0;
}

static void event(struct tbuf *t, unsigned type, unsigned path, uint32_t aux, uint64_t a, uint64_t b, uint64_t c,
		  uint64_t d, unsigned nframes, const uint64_t *frames)
{
	size_t need = sizeof(struct kmm_trace_record) + KMM_TRACE_FRAME_SIZE * (size_t)nframes;
	if (t->len + need > BUFSZ)
		flush(t);
	uint8_t *p = t->buf + t->len;
	uint64_t seq = g_seq++;
	put64(p + EV(seq), seq);
	put64(p + EV(time), seq * g_tstep);
	p[EV(type)] = (uint8_t)type;
	p[EV(path)] = (uint8_t)path;
	put16(p + EV(nframes), (uint16_t)nframes);
	put32(p + EV(aux), aux);
	put64(p + EV(a), a);
	put64(p + EV(b), b);
	put64(p + EV(c), c);
	put64(p + EV(d), d);
	for (unsigned i = 0; i < nframes; i++)
		put64(p + sizeof(struct kmm_trace_record) + KMM_TRACE_FRAME_SIZE * i, frames[i]);
	t->len += need;
	t->n++;
}

static void info_block(uint32_t tid, int argc, char **argv)
{
	char exe[4096], buf[16384];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = 0;
	int k = snprintf(buf, sizeof buf, "exe=%s\ncmdline=", exe);
	for (int i = 0; i < argc && k < (int)sizeof buf - 2; i++)
		k += snprintf(buf + k, sizeof buf - (size_t)k, "%s%s", i ? " " : "", argv[i]);
	if (k > (int)sizeof buf - 2)
		k = (int)sizeof buf - 2;
	buf[k++] = '\n';
	block(KMM_TB_INFO, tid, buf, (uint32_t)k, (uint32_t)k);
}

/* this process's /proc/self/maps, in pieces of 300 bytes (lines split) */
static void maps_snapshot(uint32_t tid)
{
	static char text[1 << 20];
	size_t len = 0;
	FILE *m = fopen("/proc/self/maps", "r");
	if (m) {
		len = fread(text, 1, sizeof text, m);
		fclose(m);
	}
	for (size_t off = 0; off < len; off += 300) {
		size_t n = len - off < 300 ? len - off : 300;
		block(KMM_TB_MAPS, tid, text + off, (uint32_t)n, (uint32_t)n);
	}
}

static void end_block(uint32_t tid)
{
	uint8_t p[sizeof(struct kmm_trace_end)];
	put64(p + END(events), g_events);
	put64(p + END(last_seq), g_seq - 1);
	block(KMM_TB_END, tid, p, sizeof p, sizeof p);
}

static void open_out(const char *path)
{
	outpath = path;
	fp = fopen(path, "wb");
	if (!fp) {
		perror(path);
		exit(1);
	}
}

static void close_out(void)
{
	if (fclose(fp) != 0) {
		perror(outpath);
		exit(1);
	}
}

/* ---- the known log ---------------------------------------------------- */

#define BRK0 0x55d0c0a00000ull
#define H(x) (BRK0 + (x))

/* event shorthands: t = thread buffer, s = site; types and paths by their
 * names in trace_format.h without the KMM_TR_ / KMM_TP_ */
#define CALL(t, type, path, aux, a, b, c, s) \
	event(t, KMM_TR_##type, KMM_TP_##path, aux, a, b, c, site[s].pc, 2, site[s].frames)
#define MALLOC(t, size, res, path, s) CALL(t, MALLOC, path, 0, res, size, 0, s)
#define CALLOC(t, n, sz, res, path, s) CALL(t, CALLOC, path, 0, res, (n) * (sz), n, s)
#define REALLOC(t, old, size, res, path, s) CALL(t, REALLOC, path, 0, res, size, old, s)
#define FREE(t, ptr, usable, path, s) CALL(t, FREE, path, 0, 0, usable, ptr, s)
#define MEMALIGN(t, al, size, res, path, s) CALL(t, MEMALIGN, path, al, res, size, 0, s)
#define SYS(t, type, aux, a, b, c, d) event(t, KMM_TR_##type, 0, aux, a, b, c, d, 0, NULL)
#define VMALLOC(t, path, a, b, c) event(t, KMM_TR_VMALLOC, KMM_TP_##path, 0, a, b, c, 0, 0, NULL)
#define ENOMEM_ ((uint64_t)-12)

static struct tbuf t1, t2;

enum { KNOWN, CUT, UNORDERED };

static void known(int mode, int argc, char **argv)
{
	t1.tid = 4242;
	t2.tid = 4243;
	header(4242, 2, 1);
	info_block(t1.tid, argc, argv);
	maps_snapshot(t1.tid);

	SYS(&t1, BRK, 0, BRK0, BRK0 + 0x21000, 0, BRK0 + 0x21000);          /* 1 brk +132 KiB */
	SYS(&t1, REGION_ADD, 3, BRK0, BRK0 + 0x21000, 0, 0);                /* 2 region add brk heap */
	SYS(&t1, SLAB_ALLOC, 2, 0x7f5a00001000ull, 64, 0, 0);               /* 3 slab alloc */
	MALLOC(&t1, 32, H(0x2a0), BRK, A);                                  /* 4 */
	MALLOC(&t1, 100, H(0x2d0), TOP, B);                                 /* 5 leak */
	CALLOC(&t1, 10, 8, H(0x340), TOP, C);                               /* 6 */
	SYS(&t2, THREAD_START, 0, 0, 0, 0, 0);                              /* 7 thread start */
	SYS(&t2, MMAP, 0, 0, 67108864, 0x4022ull << 32, 0x7f5a10000000ull); /* 8 mmap none, private|anon|noreserve */
	SYS(&t2, MPROTECT, 0, 0x7f5a10000000ull, 135168, 3, 0);             /* 9 mprotect rw */
	SYS(&t2, REGION_ADD, 3, 0x7f5a10000000ull, 0x7f5a10021000ull, 2, 0); /* 10 region add arena heap */
	MALLOC(&t2, 40, 0x7f5a100008c0ull, ARENA_HEAP, G);                  /* 11 leak */
	REALLOC(&t1, H(0x2a0), 200, H(0x3a0), TOP, D);                      /* 12 moves */
	MEMALIGN(&t1, 64, 256, H(0x480), TOP, E);                           /* 13 leak */
	FREE(&t2, H(0x340), 88, REMOTE, HF);                                /* 14 remote */
	flush(&t2);                                 /* T2's block [7-11, 14] first */
	SYS(&t1, MMAP, 0, 0, 8392704, (0x22ull << 32) | 3, 0x7f5a20000000ull); /* 15 mmap rw */
	SYS(&t1, REGION_ADD, 3 | 1 << 8, 0x7f5a20000000ull, 0x7f5a20801000ull, 3, 0); /* 16 region add vmalloc area */
	VMALLOC(&t1, VMALLOC_NEW, 0x7f5a20000000ull, 2101248, 2097152);     /* 17 vmalloc new */
	SYS(&t1, POPULATE, 1, 0x7f5a20000000ull, 2097152, 0, 512);          /* 18 populate */
	MALLOC(&t1, 2000000, 0x7f5a20000010ull, VMALLOC_NEW, F);            /* 19 */
	CALLOC(&t2, 3, 16, 0x7f5a10000900ull, TOP, C);                      /* 20 leak; the peak */
	REALLOC(&t1, H(0x3a0), 180, H(0x3a0), IN_PLACE, D);                 /* 21 in place */
	if (mode == UNORDERED) { /* events 1 and 2: one record each, no frames */
		uint8_t tmp[sizeof(struct kmm_trace_record)];
		memcpy(tmp, t1.buf, sizeof tmp);
		memcpy(t1.buf, t1.buf + sizeof tmp, sizeof tmp);
		memcpy(t1.buf + sizeof tmp, tmp, sizeof tmp);
	}
	flush(&t1);                                 /* T1's block [1-6, 12-13, 15-19, 21] */
	SYS(&t1, MADVISE, 0, 0x7f5a20001000ull, 2093056, 4, 0);             /* 22 madvise dontneed */
	SYS(&t1, VFREE, 0, 0, 2101248, 0x7f5a20000000ull, 0);               /* 23 vfree */
	FREE(&t1, 0x7f5a20000010ull, 2097136, VFREE, HF);                   /* 24 vfree */
	SYS(&t1, MMAP, 0, 0, 1099511762944ull, (0x22ull << 32) | 3, ENOMEM_); /* 25 mmap fails */
	MALLOC(&t1, 1099511627776ull, 0, NONE, I);                          /* 26 fails */
	SYS(&t2, MMAP, 0, 0, 65536, (0x22ull << 32) | 3, 0x7f5a30000000ull); /* 27 mmap */
	SYS(&t2, MREMAP, 1, 0x7f5a30000000ull, 65536, 131072, 0x7f5a30100000ull); /* 28 mremap */
	SYS(&t2, MUNMAP, 0, 0x7f5a30100000ull, 131072, 0, 0);               /* 29 munmap */
	MALLOC(&t2, 24, 0x7f5a10000940ull, TCACHE, A);                      /* 30 */
	FREE(&t2, 0x7f5a10000940ull, 24, TCACHE, HF);                       /* 31 */
	SYS(&t2, THREAD_EXIT, 0, 0, 0, 0, 0);                               /* 32 thread exit */
	flush(&t2);                                 /* T2's block [20, 27-32] */
	SYS(&t1, BRK, 0, BRK0 + 0x21000, BRK0 + 0x20000, 0, BRK0 + 0x20000); /* 33 brk -4 KiB */
	SYS(&t1, REGION_UPDATE, 0, BRK0, BRK0 + 0x20000, 0, 0);             /* 34 region update */
	SYS(&t1, BRK, 0, BRK0 + 0x20000, BRK0 + 0x1000000, 0, ENOMEM_);     /* 35 brk fails */
	SYS(&t1, SLAB_FREE, 2, 0, 64, 0x7f5a00001000ull, 0);                /* 36 slab free */
	VMALLOC(&t1, VMALLOC_REUSED, 0x7f5a20000000ull, 1052672, 1048576);  /* 37 vmalloc reused */
	MALLOC(&t1, 1000000, 0x7f5a20000010ull, VMALLOC_REUSED, F);         /* 38 leak */
	SYS(&t1, FORK, 0, 0, 0, 0, 0);                                      /* 39 fork (parent) */
	FREE(&t1, H(0x3a0), 184, UNSORTED, HF);                             /* 40 unsorted */
	SYS(&t1, REGION_DEL, 0, 0x7f5a10000000ull, 0x7f5a10021000ull, 2, 0); /* 41 region delete */
	MALLOC(&t1, 100, H(0x5a0), TCACHE, B);                              /* 42 leak */
	if (mode == CUT) {
		/* killed while writing T1's last block: half of it reached the file */
		block(KMM_TB_EVENTS, t1.tid, t1.buf, (uint32_t)t1.len, (uint32_t)t1.len / 2);
		printf("events %" PRIu64 "\n", g_events);
		return;
	}
	flush(&t1);                                 /* T1's block [22-26, 33-42] */
	maps_snapshot(t1.tid);
	end_block(t1.tid);
	MALLOC(&t1, 8, H(0x700), TCACHE, B);                                /* 43 leak, after the end */
	flush(&t1);
	printf("events %" PRIu64 "\n", g_events);
}

/* ---- the big log ------------------------------------------------------ */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1Dull;
}

#define NT 4
#define LIVECAP 8192

static struct bthread {
	struct tbuf t;
	uint64_t ptr[LIVECAP], size[LIVECAP];
	size_t n;
} th[NT];

static void big(uint64_t n, int argc, char **argv)
{
	static const unsigned paths[] = {KMM_TP_TCACHE,   KMM_TP_TCACHE,   KMM_TP_TCACHE,    KMM_TP_TCACHE,
					 KMM_TP_FASTBIN,  KMM_TP_SMALLBIN, KMM_TP_UNSORTED,  KMM_TP_REMAINDER,
					 KMM_TP_LARGEBIN, KMM_TP_BINMAP,   KMM_TP_TOP,       KMM_TP_TOP,
					 KMM_TP_BRK};
	static const int msites[] = {A, B, C, D, E, F, G};
	uint64_t mallocs = 0, frees = 0, live = 0, live_blocks = 0, peak = 0, peak_seq = 0, next_ptr = 0;
	g_tstep = 100;
	header(5000, 0, 1);
	info_block(5000, argc, argv);
	maps_snapshot(5000);
	for (int i = 0; i < NT; i++)
		th[i].t.tid = 5000 + (uint32_t)i;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t r = rnd();
		struct bthread *b = &th[r % NT];
		if (b->n == 0 || (b->n < LIVECAP && (r >> 8) % 100 < 52)) {
			uint64_t size = (r >> 20) % 16 == 0 ? 1 + (r >> 24) % 65536 : 1 + (r >> 24) % 512;
			uint64_t p = 0x7e0000000000ull + (next_ptr++ << 4);
			int s = msites[(r >> 40) % 7];
			event(&b->t, KMM_TR_MALLOC, paths[(r >> 44) % 13], 0, p, size, 0, site[s].pc, 0, NULL);
			b->ptr[b->n] = p;
			b->size[b->n++] = size;
			mallocs++;
			live += size;
			live_blocks++;
			if (live > peak) {
				peak = live;
				peak_seq = g_seq - 1;
			}
		} else {
			size_t j = (size_t)((r >> 24) % b->n);
			event(&b->t, KMM_TR_FREE, KMM_TP_TCACHE, 0, 0, (b->size[j] + 15) & ~15ull, b->ptr[j], site[HF].pc,
			      0, NULL);
			live -= b->size[j];
			live_blocks--;
			b->ptr[j] = b->ptr[--b->n];
			b->size[j] = b->size[b->n];
			frees++;
		}
	}
	for (int i = 0; i < NT; i++)
		flush(&th[i].t);
	end_block(5000);
	printf("events %" PRIu64 "\nmalloc %" PRIu64 "\nfree %" PRIu64 "\nlive_blocks %" PRIu64 "\nlive_bytes %" PRIu64
	       "\npeak %" PRIu64 " %" PRIu64 "\n",
	       g_events, mallocs, frees, live_blocks, live, peak, peak_seq);
}

/* ---- a run of three processes ------------------------------------------ */

static void text_block(uint16_t kind, uint32_t tid, const char *text)
{
	block(kind, tid, text, (uint32_t)strlen(text), (uint32_t)strlen(text));
}

static void run(const char *out)
{
	char path[4096], text[8192];
	const char *base = strrchr(out, '/') ? strrchr(out, '/') + 1 : out;
	/* OUT: the shell, pid 5000 */
	open_out(out);
	t1.tid = 5000;
	g_events = 0;
	header(5000, 0, 1);
	text_block(KMM_TB_INFO, 5000, "exe=/usr/bin/tg-shell\ncmdline=tg-shell -c prog\n");
	maps_snapshot(5000);
	MALLOC(&t1, 100, H(0x100), TCACHE, A);                 /* 1 */
	FREE(&t1, H(0x10), 32, TCACHE, HF);                    /* 2 a block from before the trace */
	REALLOC(&t1, H(0x20), 300, H(0x800), TOP, D);          /* 3 one more */
	SYS(&t1, FORK, 0, 0, 0, 0, 0);                         /* 4 fork (parent) */
	MALLOC(&t1, 200, H(0x200), TCACHE, B);                 /* 5 */
	flush(&t1);
	/* exec'd: no end block; the new image's exec block */
	snprintf(text, sizeof text, "file=%s.5000\nexe=/usr/bin/tg-prog\n", base);
	text_block(KMM_TB_EXEC, 5000, text);
	close_out();
	/* OUT.5001: the forked child */
	snprintf(path, sizeof path, "%s.5001", out);
	open_out(path);
	t1.tid = 5001;
	g_events = 0;
	g_ppid = 5000;
	header(5001, 0, 5);
	g_ppid = 0;
	text_block(KMM_TB_INFO, 5001, "exe=/usr/bin/tg-child\ncmdline=tg-child\n");
	maps_snapshot(5001);
	SYS(&t1, FORK, 0, 5000, 0, 0, 0);                      /* 5 fork (child) */
	MALLOC(&t1, 4096, H(0x1000), TOP, C);                  /* 6 */
	MALLOC(&t1, 4096, H(0x2000), TOP, C);                  /* 7 */
	MALLOC(&t1, 4096, H(0x3000), TOP, C);                  /* 8 */
	FREE(&t1, H(0x2000), 4096, UNSORTED, HF);              /* 9 */
	flush(&t1);
	end_block(5001);
	close_out();
	/* OUT.5000: the program the shell exec'd */
	snprintf(path, sizeof path, "%s.5000", out);
	open_out(path);
	t1.tid = 5000;
	g_events = 0;
	header(5000, 0, 1);
	text_block(KMM_TB_INFO, 5000, "exe=/usr/bin/tg-prog\ncmdline=tg-prog\n");
	maps_snapshot(5000);
	MALLOC(&t1, 1000, H(0x400), TOP, E);                   /* 1 */
	CALLOC(&t1, 10, 10, H(0x800), TOP, F);                 /* 2 */
	FREE(&t1, H(0x400), 1000, TCACHE, HF);                 /* 3 */
	flush(&t1);
	end_block(5000);
	printf("events %" PRIu64 "\n", g_events);
}

static void usage(void)
{
	fprintf(stderr, "usage: tracegen known|cut|unordered|run OUT | tracegen big N OUT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	collect_sites();
	if (!strcmp(argv[1], "known") && argc == 3) {
		open_out(argv[2]);
		known(KNOWN, argc, argv);
	} else if (!strcmp(argv[1], "cut") && argc == 3) {
		open_out(argv[2]);
		known(CUT, argc, argv);
	} else if (!strcmp(argv[1], "unordered") && argc == 3) {
		open_out(argv[2]);
		known(UNORDERED, argc, argv);
	} else if (!strcmp(argv[1], "run") && argc == 3) {
		run(argv[2]);
		return 0;
	} else if (!strcmp(argv[1], "big") && argc == 4) {
		char *end;
		uint64_t n = strtoull(argv[2], &end, 10);
		if (*end || end == argv[2])
			usage();
		open_out(argv[3]);
		big(n, argc, argv);
	} else
		usage();
	close_out();
	return 0;
}
