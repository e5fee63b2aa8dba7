/*
 * mtrace.c — kmm-trace mtrace: the log in glibc's mtrace(3) text format.
 * Frees (and reallocs) of blocks the log never saw allocated (the loader's
 * and libc's, made before kmm's constructor started the trace; a forked
 * child's parent's) are left out, and counted on stderr: mtrace(1) would report each one as "Free N
 * was never alloc'd".  A table of the live blocks (kt_lt_put) tells them.
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

int kt_cmd_mtrace(struct log *L)
{
	kt_want_all_sites(L);
	kt_sym_resolve();
	FILE *o = stdout;
	char wb[64];
	struct stats live = {0}; /* only its live-block table */
	uint64_t left_free = 0, left_realloc = 0;
	fputs("= Start\n", o);
	struct merge M;
	kt_merge_init(&M, L);
	struct ev e;
	while (kt_merge_next(&M, &e)) {
		if (!kmm_trace_is_call(e.type))
			continue;
		const char *w = e.d ? kt_sym_where(e.d, wb, sizeof wb) : "";
		switch (e.type) {
		case KMM_TR_MALLOC:
		case KMM_TR_CALLOC:
		case KMM_TR_MEMALIGN:
			if (e.a) {
				fprintf(o, "%s+ 0x%" PRIx64 " %#" PRIx64 "\n", w, e.a, e.b);
				kt_lt_put(&live, e.a, e.b, e.rec, e.tid);
			} else
				fprintf(o, "%s+ (nil) %#" PRIx64 "\n", w, e.b);
			break;
		case KMM_TR_FREE:
			if (!e.c)
				break;
			if (kt_lt_del(&live, e.c))
				fprintf(o, "%s- 0x%" PRIx64 "\n", w, e.c);
			else
				left_free++;
			break;
		case KMM_TR_REALLOC: {
			int known = e.c && kt_lt_del(&live, e.c);
			if (e.c && !known && (e.a || !e.b))
				left_realloc++;
			if (!e.a) {
				if (e.b) {
					fprintf(o, "%s! %s%" PRIx64 " %#" PRIx64 "\n", w, e.c ? "0x" : "(nil)", e.c, e.b);
					if (known) /* failed: the old block stays */
						kt_lt_put(&live, e.c, 0, e.rec, e.tid);
				} else if (known)
					fprintf(o, "%s- 0x%" PRIx64 "\n", w, e.c);
				break;
			}
			if (known)
				fprintf(o, "%s< 0x%" PRIx64 "\n%s> 0x%" PRIx64 " %#" PRIx64 "\n", w, e.c, w, e.a, e.b);
			else /* realloc(NULL, n), or of a block from before the trace */
				fprintf(o, "%s+ 0x%" PRIx64 " %#" PRIx64 "\n", w, e.a, e.b);
			kt_lt_put(&live, e.a, e.b, e.rec, e.tid);
			break;
		}
		}
	}
	kt_merge_free(&M);
	fputs("= End\n", o);
	free(live.lt);
	if (left_free || left_realloc) {
		char why[128];
		if (L->ppid)
			snprintf(why, sizeof why, "allocated by its parent, pid %" PRIu32 ", before the fork", L->ppid);
		else
			snprintf(why, sizeof why, "allocated before the trace began: the loader's and libc's, before kmm's constructor");
		fprintf(stderr,
			PROG " mtrace: %s: left out %" PRIu64 " free%s and %" PRIu64 " realloc%s of blocks this log never saw "
			"allocated (%s%s), which mtrace(1) would report as \"was never alloc'd\"; a realloc of one is "
			"written as a new allocation (+)\n",
			L->path, left_free, left_free == 1 ? "" : "s", left_realloc, left_realloc == 1 ? "" : "s", why,
			kt_log_cut(L) ? "; or in events this log lost" : "");
	}
	return 0;
}
