/*
 * log.c — the log: map the file, check the header, index and validate the
 * blocks (the first bad one ends the log), split event blocks into runs of
 * increasing sequence numbers, read the info block.
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
	uint64_t tmax = L->tmax, tmin = L->tmin;
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
		if (t < tmin)
			tmin = t;
		q += rl;
		n++;
	}
	b->nev = n;
	L->tmax = tmax;
	L->tmin = tmin;
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

static void parse_exec(struct log *L, const uint8_t *p, uint32_t size)
{
	char *t = kt_xstrndup((const char *)p, size);
	for (char *line = t, *nl; line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = 0;
		if (!strncmp(line, "file=", 5) && line[5] && !strchr(line + 5, '/')) {
			free(L->exec_file);
			L->exec_file = kt_xstrdup(line + 5);
		} else if (!strncmp(line, "exe=", 4)) {
			free(L->exec_exe);
			L->exec_exe = kt_xstrdup(line + 4);
		}
	}
	free(t);
}

static void parse_info(struct log *L, const uint8_t *p, uint32_t size)
{
	char *t = kt_xstrndup((const char *)p, size);
	for (char *line = t, *nl; line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = 0;
		if (!strncmp(line, "exe=", 4)) {
			free(L->exe);
			L->exe = kt_xstrdup(line + 4);
		} else if (!strncmp(line, "cmdline=", 8)) {
			free(L->cmdline);
			L->cmdline = kt_xstrdup(line + 8);
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

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	return a < b ? -1 : a > b;
}

void kt_log_open(struct log *L, const char *path)
{
	memset(L, 0, sizeof *L);
	L->path = path;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		kt_fatal("%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0)
		kt_fatal("%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		kt_fatal("%s: not a regular file", path);
	if ((uint64_t)st.st_size < HDR_SIZE)
		kt_fatal("%s: not a kmm trace log (%lld bytes, shorter than the %d-byte header)", path,
		      (long long)st.st_size, (int)HDR_SIZE);
	L->size = (size_t)st.st_size;
	void *m = mmap(NULL, L->size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		kt_fatal("%s: cannot map it: %s", path, strerror(errno));
	close(fd);
	/* read ahead a log that fits easily in memory; a bigger one is read
	 * as the passes go, and its pages dropped behind them */
	if (L->size <= KT_RELEASE_EVERY)
		madvise(m, L->size, MADV_WILLNEED);
	L->m = m;

	const uint8_t *h = L->m;
	if (memcmp(h + FH_AT(magic), KMM_TRACE_MAGIC, KMM_TRACE_MAGIC_LEN))
		kt_fatal("%s: not a kmm trace log (no " KMM_TRACE_MAGIC " magic)", path);
	L->version = rd32(h + FH_AT(version));
	L->hdrsize = rd32(h + FH_AT(header_size));
	if (L->version != KMM_TRACE_VERSION)
		kt_fatal("%s: trace log version %u; this kmm-trace reads version %d", path, L->version,
		      KMM_TRACE_VERSION);
	if (L->hdrsize < HDR_SIZE || L->hdrsize > L->size)
		kt_fatal("%s: invalid trace log (header size %u)", path, L->hdrsize);
	L->pid = rd32(h + FH_AT(pid));
	L->ppid = rd32(h + FH_AT(ppid));
	L->btdepth = rd32(h + FH_AT(depth));
	L->pagesize = rd32(h + FH_AT(page_size));
	L->start_mono = rd64(h + FH_AT(start_mono));
	L->start_real = rd64(h + FH_AT(start_real));
	L->first_seq = rd64(h + FH_AT(first_seq));
	L->seq_min = UINT64_MAX;
	L->tmin = UINT64_MAX;

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
		} else if (b.kind == KMM_TB_EXEC) {
			parse_exec(L, pl, b.size);
		} else if (b.kind != KMM_TB_MAPS) {
			L->unknown_kinds++;
		}
		GROW(L->b, L->nb, L->capb);
		L->b[L->nb++] = b;
		off += BLK_HDR + b.size;
		kt_log_progress(L, BLK_HDR + b.size);
	}
	if (L->seq_min == UINT64_MAX)
		L->seq_min = 0;
	if (L->tmin == UINT64_MAX)
		L->tmin = 0;

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
	kt_parse_maps(L);
}

/*
 * Bounded memory.  The log is mapped, not read: the pages a pass has read
 * count in the reader's RSS (file pages, clean) until they are unmapped, so
 * a pass over a 10 GB log would end with 10 GB resident.  Every
 * KT_RELEASE_EVERY bytes read, the whole mapping's pages are dropped
 * (MADV_DONTNEED on a private mapping never written: the next access reads
 * the file again, a minor fault while the page cache still holds it).
 * Pointers into the mapping (records of live blocks, map names) stay
 * valid.  One counter for the program: kmm-trace reads one log at a time.
 */
static uint64_t progress;

void kt_log_progress(const struct log *L, size_t bytes)
{
	progress += bytes;
	if (progress < KT_RELEASE_EVERY)
		return;
	progress = 0;
	madvise((void *)L->m, L->size, MADV_DONTNEED);
}

int kt_log_cut(const struct log *L) { return !L->have_end || L->bad; }

int kt_log_execd(const struct log *L) { return !L->have_end && L->exec_file; }

char *kt_exec_path(const struct log *L)
{
	const char *slash = strrchr(L->path, '/');
	if (!slash)
		return kt_xstrdup(L->exec_file);
	return kt_xasprintf("%.*s/%s", (int)(slash - L->path), L->path, L->exec_file);
}

const char *kt_log_status(const struct log *L, char *buf, size_t n)
{
	if (kt_log_execd(L)) {
		char *p = kt_exec_path(L);
		snprintf(buf, n, "exec'd %s: continued in %s", L->exec_exe && L->exec_exe[0] ? L->exec_exe : "?", p);
		free(p);
	} else if (L->have_end)
		snprintf(buf, n, "%s", L->bad ? "CUT SHORT (a bad block)" : "complete");
	else
		snprintf(buf, n, "CUT SHORT");
	return buf;
}

/* the stderr warning of a cut-short log */
void kt_warn_cut(const struct log *L)
{
	if (kt_log_execd(L)) {
		char *p = kt_exec_path(L);
		fprintf(stderr,
			PROG ": %s: the process exec'd %s: its log continues in %s (the events the old image had "
			"buffered at the exec, up to one buffer per thread, are not in either)\n",
			L->path, L->exec_exe && L->exec_exe[0] ? L->exec_exe : "a new program", p);
		free(p);
	} else if (!L->have_end)
		fprintf(stderr,
			PROG ": %s was cut short: no end block (the process crashed, was killed or called _exit); "
			"up to one buffer per thread may be missing\n",
			L->path);
	if (L->bad)
		fprintf(stderr, PROG ": %s: stopped at offset %" PRIu64 " of %zu: %s; the rest is ignored\n",
			L->path, L->bad_off, L->size, L->bad_why);
}

const char *kt_prog_name(const struct log *L)
{
	if (L->exe && L->exe[0]) {
		const char *s = strrchr(L->exe, '/');
		return s ? s + 1 : L->exe;
	}
	return "?";
}

void kt_log_close(struct log *L)
{
	if (L->m)
		munmap((void *)L->m, L->size);
	free(L->b);
	free(L->sg);
	free(L->exe);
	free(L->cmdline);
	free(L->exec_file);
	free(L->exec_exe);
	for (size_t i = 0; i < L->nsnaps; i++) {
		for (size_t j = 0; j < L->snaps[i].n; j++)
			if (L->snaps[i].r[j].obj < 0) /* else the object's path */
				free((char *)L->snaps[i].r[j].name);
		free(L->snaps[i].r);
	}
	free(L->snaps);
	free(L->tids);
	memset(L, 0, sizeof *L);
}

char *kt_log_exec_successor(const char *path)
{
	/* the block headers only (16 bytes each, read with pread): the
	 * payloads stay on disk */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	uint8_t h[HDR_SIZE];
	char *res = NULL;
	if (fstat(fd, &st) < 0 || pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h ||
	    memcmp(h, KMM_TRACE_MAGIC, KMM_TRACE_MAGIC_LEN)) {
		close(fd);
		return NULL;
	}
	uint64_t off = rd32(h + FH_AT(header_size)), size = (uint64_t)st.st_size;
	int have_end = 0;
	struct log L;
	memset(&L, 0, sizeof L);
	L.path = path;
	while (off + BLK_HDR <= size) {
		uint8_t b[BLK_HDR];
		if (pread(fd, b, sizeof b, (off_t)off) != (ssize_t)sizeof b ||
		    memcmp(b + BH_AT(magic), KMM_TRACE_BLOCK_MAGIC, KMM_TRACE_BLOCK_MAGIC_LEN))
			break;
		uint32_t bs = rd32(b + BH_AT(size));
		unsigned kind = rd16(b + BH_AT(kind));
		if (off + BLK_HDR + bs > size)
			break;
		if (kind == KMM_TB_END)
			have_end = 1;
		else if (kind == KMM_TB_EXEC && bs < 65536) {
			uint8_t *pl = kt_xrealloc(NULL, bs ? bs : 1);
			if (pread(fd, pl, bs, (off_t)(off + BLK_HDR)) == (ssize_t)bs)
				parse_exec(&L, pl, bs);
			free(pl);
		}
		off += BLK_HDR + bs;
	}
	close(fd);
	L.have_end = have_end;
	if (kt_log_execd(&L))
		res = kt_exec_path(&L);
	free(L.exec_file);
	free(L.exec_exe);
	return res;
}
