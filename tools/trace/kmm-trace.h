/*
 * kmm-trace.h — the reader of kmm's allocation trace log (docs/trace.md):
 * what the files of tools/trace/ share.  Internal: kmm-trace is one
 * program, built from these files (tools/trace.mk).
 *
 *     kmm-trace dump|summary|leaks|plot|mtrace|export|diff [OPTIONS] FILE...
 *     kmm-trace at WHEN [OPTIONS] FILE...
 *     kmm-trace dump|summary|leaks|plot [OPTIONS] --run FILE
 *
 * dump     one line per event, in global sequence order, symbolized
 * summary  counts and bytes per operation, serving path, size class and
 *          system call; peak live bytes; kmm's own slab and vmalloc use;
 *          the top allocation sites; threads; whether the log was cut short
 * leaks    blocks never freed, grouped by allocation site or backtrace
 * plot     an SVG of live heap bytes, break size, vmalloc, arena heaps and
 *          committed bytes (kmm's regions), from the first event on
 * mtrace   the log in glibc's mtrace(3) text format, for mtrace(1)
 * export   the log in other tools' formats (folded stacks, massif,
 *          perfetto, pprof)
 * diff     what grew from one log to another, by call stack
 * at       the live blocks and the heap's layers at a moment of the log
 * Several logs (FILE..., or --run FILE: FILE.PID[.N] beside it) are read
 * one at a time; summary totals them, with a line per process.
 *
 * How it works: the log is mapped read-only and its blocks are indexed and
 * validated in one pass (the first truncated or foreign block ends the log:
 * it was cut short).  The event blocks of each thread form a stream already
 * in sequence order; a k-way merge over the streams (a binary heap keyed by
 * the next sequence number) delivers all events in global order without
 * copying them.  Live blocks are kept in an open-addressing hash table, so
 * nothing is allocated per event; the mapping's pages are dropped every
 * KT_RELEASE_EVERY bytes read (kt_log_progress), so memory does not grow
 * with the log's length.
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
 *
 * The format itself (layouts, types, paths, their names) is
 * src/trace_format.h, shared with the writer (src/trace.c) and tracegen.
 *
 * The files, in the order the data flows; kt_ names are shared, the rest
 * of each file is static:
 *
 *   kmm-trace.h  this: the log's structures, the events, the statistics,
 *                the declarations of what each file shares; inline: rd16/
 *                rd32/rd64 (little-endian fields), rec_* (fields of a raw
 *                record), ev_decode, ev_frame, hash64, GROW,
 *                FOR_EACH_EVENT_IN_FILE
 *   util.c       kt_fatal (exit 2), kt_x* allocation that cannot fail,
 *                kt_hbytes, kt_hsecs, kt_is_err, kt_upper_bound (binary
 *                search in the symbols and the maps)
 *   log.c        the log: kt_log_open maps and validates the file, indexes
 *                its blocks, splits event blocks into ordered runs, reads
 *                the info and exec blocks; kt_log_close; kt_log_cut,
 *                kt_log_execd, kt_exec_path, kt_log_exec_successor (headers
 *                only), kt_log_status, kt_warn_cut, kt_prog_name
 *   merge.c      the k-way merge over the threads' streams:
 *                kt_merge_init, kt_merge_next, kt_merge_free
 *   maps.c       the maps snapshots: kt_parse_maps, kt_find_range
 *   elf.c        the files mapped (objects) and their ELF program headers
 *                and symbols: kt_objs, kt_obj_intern, kt_obj_load,
 *                kt_obj_vaddr, kt_obj_sym
 *   symbols.c    the symbol cache, address -> description, and addr2line:
 *                kt_sym_init, kt_sym_want, kt_want_all_sites,
 *                kt_sym_resolve, kt_sym_desc, kt_sym_where
 *   names.c      numbers of the log as words: kt_path_str, kt_op_name,
 *                kt_region_kind, kt_prot_str, kt_mmap_flags_str,
 *                kt_mremap_flags_str, kt_advice_str, kt_hresult
 *   analysis.c   one pass over the events in sequence order: counts, live
 *                blocks, sites, peak, live regions by kind (struct stats):
 *                kt_analyze, kt_stats_free; the live-block table:
 *                kt_lt_put, kt_lt_del
 *   dump.c       kmm-trace dump: kt_cmd_dump; kt_print_frames (also leaks)
 *   summary.c    kmm-trace summary: kt_cmd_summary, kt_cmd_summary_run
 *                (several logs: a process a line, totals)
 *   leaks.c      kmm-trace leaks: kt_cmd_leaks
 *   mtrace.c     kmm-trace mtrace: kt_cmd_mtrace (frees of blocks the log
 *                never saw allocated left out, counted on stderr)
 *   plot.c       kmm-trace plot: kt_cmd_plot; kt_plot_sample (the
 *                analysis samples the series into time buckets)
 *   export.c     kmm-trace export: kt_stacks (the allocations by call
 *                stack, as text), kt_cmd_export (--format=folded: flame
 *                graphs; the other formats' files below)
 *   massif.c     export --format=massif: kt_export_massif (massif.out
 *                snapshots of the live heap, for ms_print)
 *   perfetto.c   export --format=perfetto: kt_export_perfetto (Chrome
 *                trace-event JSON: counters and system calls over time)
 *   pprof_out.c  export --format=pprof: kt_export_pprof (a gzipped
 *                profile.proto, through src/util/pprof.c's writer)
 *   diff.c       kmm-trace diff A B: kt_cmd_diff (what grew, by stack)
 *   stackid.c    numbers for the distinct stacks: kt_stackid
 *   at.c         kmm-trace at WHEN: kt_parse_when, kt_cmd_at (the live
 *                blocks by site and the layers at a moment)
 *   main.c       the command line, --help texts, the list of logs (several
 *                FILEs; --run: FILE's FILE.PID[.N] siblings; the logs exec
 *                blocks name), main
 */
#ifndef KMM_TRACE_READER_H
#define KMM_TRACE_READER_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_format.h"

#define PROG "kmm-trace"

/* ---- util.c ----------------------------------------------------------------- */

void kt_fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void *kt_xrealloc(void *p, size_t n);
void *kt_xcalloc(size_t n, size_t s);
char *kt_xstrndup(const char *s, size_t n);
char *kt_xstrdup(const char *s);
char *kt_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "1.5 KiB": human-readable bytes */
const char *kt_hbytes(double v, char *buf, size_t n);
/* ns as "S.UUUUUU" (seconds, microseconds) */
const char *kt_hsecs(uint64_t ns, char *buf, size_t n);
/* a system call result: -errno in [-4095, -1] */
int kt_is_err(uint64_t r);
/* In n elements of `size` bytes, sorted by the uint64_t at offset `key` of
 * each: how many have a key <= a (the index of the first one above a). */
size_t kt_upper_bound(const void *base, size_t n, size_t size, size_t key, uint64_t a);

#define GROW(arr, n, cap)                                                    \
	do {                                                                 \
		if ((n) >= (cap)) {                                          \
			(cap) = (cap) ? 2 * (cap) : 16;                      \
			(arr) = kt_xrealloc((arr), (cap) * sizeof *(arr));   \
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

/* ---- the log (log.c) ----------------------------------------------------------- */

/* sizes, and where a field is in the file (trace_format.h) */
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
	uint64_t tmin; /* the earliest event's time (0 without events) */

	int have_end;
	uint64_t end_written, end_lastseq, after_end; /* events in blocks after it */
	int bad;       /* stopped at a bad block */
	uint64_t bad_off;
	char bad_why[160];
	unsigned unknown_kinds;

	char *exe, *cmdline;
	char *exec_file, *exec_exe; /* an exec block: the successor's log, its program */
	struct snap *snaps;
	size_t nsnaps, capsnaps;
	size_t primary; /* the snapshot used first */
	uint32_t *tids;
	size_t ntids;
};

/* Map and index the log at path (exits with status 2 if it is not one). */
void kt_log_open(struct log *L, const char *path);
/* Whether it was cut short (no end block, or a bad block). */
int kt_log_cut(const struct log *L);
/* Whether the process exec'd (an exec block, no end block): its log ends
 * at the exec and goes on in L->exec_file */
int kt_log_execd(const struct log *L);
/* the exec'd log's successor as a path (beside L->path), malloc'd */
char *kt_exec_path(const struct log *L);
/* the same for the log at path, from its block headers only; NULL if it
 * did not exec (or is not a log) */
char *kt_log_exec_successor(const char *path);
/* the stderr warning of a cut-short log; the note of an exec'd one */
void kt_warn_cut(const struct log *L);
/* the log's status in words ("exec'd ...", "complete", "CUT SHORT ...") */
const char *kt_log_status(const struct log *L, char *buf, size_t n);
/* Bytes of L a pass has just read: every KT_RELEASE_EVERY bytes, the
 * pages of the mapping are dropped, so the reader's memory does not grow
 * with the log (log.c).  The merge and FOR_EACH_EVENT_IN_FILE call it. */
#define KT_RELEASE_EVERY ((size_t)32 << 20)
void kt_log_progress(const struct log *L, size_t bytes);
/* unmap and free what kt_log_open made */
void kt_log_close(struct log *L);
/* the program's name (the exe= of the info block, without directories) */
const char *kt_prog_name(const struct log *L);

/* ---- the merge (merge.c) ------------------------------------------------------- */

struct stream;

struct merge {
	const struct log *L;
	struct stream *s;
	size_t ns;
	uint32_t *heap;
	size_t nh;
};

/* All events in sequence order: kt_merge_next fills e until it returns 0. */
void kt_merge_init(struct merge *M, const struct log *L);
int kt_merge_next(struct merge *M, struct ev *e);
void kt_merge_free(struct merge *M);

/* all events, in file order (no merge): for collecting addresses */
#define FOR_EACH_EVENT_IN_FILE(L, e)                                                      \
	for (size_t bi_ = 0; bi_ < (L)->nb; kt_log_progress((L), (L)->b[bi_].size), bi_++) \
		if ((L)->b[bi_].kind == KMM_TB_EVENTS)                                    \
			for (const uint8_t *p_ = (L)->m + (L)->b[bi_].off + BLK_HDR,      \
					   *pe_ = p_ + (L)->b[bi_].size;                   \
			     p_ < pe_ && (ev_decode(p_, (L)->b[bi_].tid, &(e)), 1);       \
			     p_ += rec_size(p_))

/* ---- maps snapshots (maps.c), ELF files (elf.c) ------------------------------- */

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

extern struct obj *kt_objs;
extern size_t kt_nobjs;

/* the snapshots of the maps blocks, and the primary one */
void kt_parse_maps(struct log *L);
/* the range holding address a: the primary snapshot first, then the others */
const struct maprange *kt_find_range(const struct log *L, uint64_t a);

/* the index of the object of that path, added if new */
int32_t kt_obj_intern(const char *path);
/* read its ELF program headers and symbols (once; elf_ok if it worked) */
void kt_obj_load(struct obj *o);
/* a file offset as a link-time address */
uint64_t kt_obj_vaddr(const struct obj *o, uint64_t fileoff);
/* the function symbol holding link-time address va, or NULL */
const struct fsym *kt_obj_sym(const struct obj *o, uint64_t va);

/* ---- symbols (symbols.c) -------------------------------------------------------- */

/* Addresses are first wanted, then resolved all at once (one addr2line
 * per file), then described.  enabled: look addresses up at all; lines:
 * source lines too (addr2line). */
void kt_sym_init(const struct log *L, int enabled, int lines);
void kt_sym_want(uint64_t a);
/* want the caller and backtrace of every malloc-family event */
void kt_want_all_sites(const struct log *L);
/* resolve every wanted address not resolved yet */
void kt_sym_resolve(void);
/* the description of an address ("" when unknown) */
const char *kt_sym_desc(uint64_t a);
/* an address's function, source file ("" unknown) and line (0 unknown),
 * innermost (inlined) first, parsed from its description: how many there
 * are (at most max; 0 when nothing is known).  func: the name without its
 * +0xOFF, or OBJECT+0xOFF where no symbol holds the address. */
struct kt_symline { char func[256], file[256]; unsigned line; };
size_t kt_sym_lines(uint64_t a, struct kt_symline *v, size_t max);
/* mtrace's "@ FILE:(SYM+0xOFF)[0xREL] " for an address */
const char *kt_sym_where(uint64_t a, char *buf, size_t n);

/* ---- names (names.c) ------------------------------------------------------------ */

const char *kt_path_str(unsigned p, char *buf, size_t n);
/* the name of a malloc-family call */
const char *kt_op_name(unsigned t);
const char *kt_region_kind(uint64_t k);
const char *kt_prot_str(uint64_t prot, char *buf, size_t n);
const char *kt_mmap_flags_str(uint64_t f, char *buf, size_t n);
const char *kt_mremap_flags_str(uint64_t f, char *buf, size_t n);
const char *kt_advice_str(uint64_t a, char *buf, size_t n);
/* "0x7f..." or "-ENOMEM" */
const char *kt_hresult(uint64_t r, char *buf, size_t n);

/* ---- analysis (analysis.c) ------------------------------------------------------ */

struct lent { /* a live block */
	uint64_t ptr, size;
	const uint8_t *rec; /* the event that allocated it */
	uint32_t tid, pad;  /* pad: a reader's own (massif, at: a stack id) */
};

struct site {
	uint64_t caller, calls, bytes;
	int used;
};

struct opstat { uint64_t calls, failed, bytes; };

enum { SC_BRK, SC_MMAP, SC_MUNMAP, SC_MPROTECT, SC_MADVISE, SC_MREMAP, SC_N };

struct plotdata; /* plot.c */

struct stats {
	uint64_t nevents, tlast;
	struct opstat op[KMM_TR_MEMALIGN + 1]; /* by type: the malloc family */
	struct opstat apath[256], fpath[256]; /* by path (a uint8_t: every value has its slot) */
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
	/* live regions (the fault-in model: what kmm committed), bytes by
	 * kind (enum kmm_region_kind); regs: their table, keyed by start */
	int64_t reg_bytes[8];
	struct stats *regs;
	uint64_t thr_start, thr_exit, forks;
	/* rss samples: the last (resident, shared, size) and the peak */
	uint64_t rss_samples, rss, rss_shared, rss_size, rss_peak, rss_peak_time;
	/* layer samples (KMM_TR_LAYER): the last complete one's bytes and
	 * blocks by layer, its number, time and the events before it; the
	 * one being read (its layers seen so far in lay_mask) */
	uint64_t layer_samples, lay_no, lay_time, lay_nevents;
	uint64_t lay_bytes[KMM_TL_NR], lay_blocks[KMM_TL_NR];
	uint64_t lay_cur_no, lay_cur_bytes[KMM_TL_NR], lay_cur_blocks[KMM_TL_NR];
	uint32_t lay_mask;
	uint64_t unknown_types;
	/* live blocks */
	struct lent *lt;
	size_t ltcap, ltn;
	unsigned ltbits;
	/* sites */
	struct site *st;
	size_t stcap, stn;
	struct plotdata *plot; /* when plotting: sampled after every event */
	/* when set, called after every event with each_ctx (export's
	 * massif and perfetto, at); setting stop ends kt_analyze after it */
	void (*each)(struct stats *s, const struct ev *e, void *ctx);
	void *each_ctx;
	int stop;
};

/* the live-block table of s: insert (returns the replaced entry's size + 1,
 * or 0), remove (the size + 1, or 0 if it was not live) */
uint64_t kt_lt_put(struct stats *s, uint64_t ptr, uint64_t size, const uint8_t *rec, uint32_t tid);
uint64_t kt_lt_del(struct stats *s, uint64_t ptr);
/* the live block at ptr, or NULL */
struct lent *kt_lt_get(struct stats *s, uint64_t ptr);

/* Every event of the log, in sequence order, into s (zeroed by the caller,
 * with s->plot set when plotting, s->each when a command follows the
 * events; until s->stop is set). */
void kt_analyze(const struct log *L, struct stats *s);
/* one event into s (kt_analyze's step: for a reader that runs the merge
 * itself and stops before an event) */
void kt_analyze_event(struct stats *s, const struct ev *e);
/* A layer event into s's layer sample (kt_analyze_event does it; `at`
 * reads the samples taken just after its moment with it). */
void kt_layer_event(struct stats *s, const struct ev *e);
/* free s (kt_xcalloc'd) and its tables */
void kt_stats_free(struct stats *s);

/* ---- the commands (dump.c, summary.c, leaks.c, mtrace.c, plot.c) ----------------- */

int kt_cmd_dump(struct log *L);
int kt_cmd_summary(struct log *L, unsigned top);
/* the summary of several logs (a run): one line per process, totals, the
 * top sites by name; each log opened, analysed and closed in turn */
int kt_cmd_summary_run(char **paths, size_t n, unsigned top, int symbols);
int kt_cmd_leaks(struct log *L, int all);
int kt_cmd_mtrace(struct log *L);
int kt_cmd_plot(struct log *L, const char *out);
/* the allocations of the log (or with live the blocks live at its end) by
 * call stack as text ("PROGRAM;outermost;...;caller", export.c), sorted
 * by that text, each with its bytes and calls; *out to kt_stacks_free */
struct kt_stack { char *stack; uint64_t bytes, count; };
size_t kt_stacks(struct log *L, int live, struct kt_stack **out);
void kt_stacks_free(struct kt_stack *v, size_t n);
/* two events' stacks (caller and backtrace) are the same; a stack's hash */
int kt_same_stack(const uint8_t *a, const uint8_t *b);
uint64_t kt_stack_hash(const uint8_t *rec);
/* the distinct stacks of events numbered 1, 2, ... (stackid.c); rec[id - 1]
 * is the first event met with that stack */
struct kt_stackids {
	const uint8_t **rec;
	size_t n, cap;
	uint32_t *tab; /* hash table of ids */
	size_t tcap;
};
uint32_t kt_stackid(struct kt_stackids *S, const uint8_t *rec);
/* the element of rec's stack in *arr, an array of `elem`-byte elements by
 * id (index id - 1) that grows, zeroed, as ids are given */
void *kt_stack_slot(struct kt_stackids *S, const uint8_t *rec, void **arr, size_t *cap, size_t elem);
void kt_stackids_free(struct kt_stackids *S);
/* kmm-trace diff (diff.c): what grew from log A to log B, by call stack */
int kt_cmd_diff(const char *a, const char *b, int live, unsigned top, int symbols);
/* kmm-trace export's options: the format (folded, massif, perfetto,
 * pprof); folded: allocations, or with live the blocks live at the end,
 * weighed by bytes, or with count by calls; the log's index among nlogs
 * (perfetto writes one JSON document for all of them), and the earliest
 * start time (CLOCK_MONOTONIC ns) of those logs (perfetto's time 0) */
struct kt_export {
	const char *format;
	int live, count;
	size_t idx, nlogs;
	uint64_t base_mono;
};
/* the log in xo->format to o (export.c; massif.c, perfetto.c, pprof_out.c) */
int kt_cmd_export(struct log *L, const struct kt_export *xo, FILE *o);
int kt_export_massif(struct log *L, FILE *o);
int kt_export_perfetto(struct log *L, const struct kt_export *xo, FILE *o);
int kt_export_pprof(struct log *L, FILE *o);

/* kmm-trace at WHEN (at.c): a moment of the log (TIME since the earliest
 * log's start in ns, #SEQ, peak, end), parsed from the command line (0,
 * or -1 if it is none of those) */
enum { KT_AT_TIME, KT_AT_SEQ, KT_AT_PEAK, KT_AT_END };
struct kt_when { int kind; uint64_t v; const char *text; };
int kt_parse_when(const char *s, struct kt_when *w);
/* the live blocks by site (top N) and the heap's layers at that moment;
 * base_mono: the earliest start of the logs read (TIME counts from it) */
int kt_cmd_at(struct log *L, const struct kt_when *w, unsigned top, uint64_t base_mono);

/* e's backtrace, one frame a line after indent */
void kt_print_frames(FILE *o, const struct ev *e, const char *indent);
/* the series of the plot after event e (from kt_analyze) */
void kt_plot_sample(struct stats *s, const struct ev *e);

#endif /* KMM_TRACE_READER_H */
