/*
 * mtrace.c — kmm-trace mtrace: the log in glibc's mtrace(3) text format.
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

int kt_cmd_mtrace(struct log *L)
{
	kt_want_all_sites(L);
	kt_sym_resolve();
	FILE *o = stdout;
	char wb[64];
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
	kt_merge_free(&M);
	fputs("= End\n", o);
	return 0;
}
