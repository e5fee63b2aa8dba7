/*
 * dump.c — kmm-trace dump: every event, one line each, in sequence order.
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

static void print_site(FILE *o, uint64_t caller)
{
	const char *d = kt_sym_desc(caller);
	if (d[0])
		fprintf(o, " from 0x%" PRIx64 " (%s)", caller, d);
	else
		fprintf(o, " from 0x%" PRIx64, caller);
}

void kt_print_frames(FILE *o, const struct ev *e, const char *indent)
{
	for (unsigned i = 0; i < e->nframes; i++) {
		uint64_t a = ev_frame(e, i);
		const char *d = kt_sym_desc(a);
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
	fprintf(o, "#%" PRIu64 " +%ss tid %" PRIu32 " ", e->seq, kt_hsecs(e->time, b1, sizeof b1), e->tid);
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
			fprintf(o, " [%s]", kt_path_str(e->path, b3, sizeof b3));
		print_site(o, e->d);
		break;
	case KMM_TR_FREE:
		fprintf(o, "free(%s) %" PRIu64 " bytes [%s]", ptr_str(e->c, b1, sizeof b1), e->b, kt_path_str(e->path, b3, sizeof b3));
		print_site(o, e->d);
		break;
	case KMM_TR_BRK: {
		int64_t delta = (int64_t)(e->b - e->a);
		kt_hbytes((double)(delta < 0 ? -delta : delta), b4, sizeof b4);
		fprintf(o, "brk 0x%" PRIx64 " -> 0x%" PRIx64 " (%c%s) = %s", e->a, e->b, delta < 0 ? '-' : '+', b4,
			kt_hresult(e->d, b1, sizeof b1));
		break;
	}
	case KMM_TR_MMAP:
		fprintf(o, "mmap(%s, %" PRIu64 ", %s, %s) = %s", ptr_str(e->a, b1, sizeof b1), e->b,
			kt_prot_str(e->c & 0xffffffffu, b2, sizeof b2), kt_mmap_flags_str(e->c >> 32, b4, sizeof b4),
			kt_hresult(e->d, b3, sizeof b3));
		break;
	case KMM_TR_MUNMAP:
		fprintf(o, "munmap(0x%" PRIx64 ", %" PRIu64 ") = %s", e->a, e->b,
			kt_is_err(e->d) ? kt_hresult(e->d, b1, sizeof b1) : "0");
		break;
	case KMM_TR_MPROTECT:
		fprintf(o, "mprotect(0x%" PRIx64 ", %" PRIu64 ", %s) = %s", e->a, e->b, kt_prot_str(e->c, b2, sizeof b2),
			kt_is_err(e->d) ? kt_hresult(e->d, b1, sizeof b1) : "0");
		break;
	case KMM_TR_MADVISE:
		fprintf(o, "madvise(0x%" PRIx64 ", %" PRIu64 ", %s) = %s", e->a, e->b, kt_advice_str(e->c, b2, sizeof b2),
			kt_is_err(e->d) ? kt_hresult(e->d, b1, sizeof b1) : "0");
		break;
	case KMM_TR_MREMAP:
		fprintf(o, "mremap(0x%" PRIx64 ", %" PRIu64 ", %" PRIu64 ", %s) = %s", e->a, e->b, e->c,
			kt_mremap_flags_str(e->aux, b2, sizeof b2), kt_hresult(e->d, b1, sizeof b1));
		break;
	case KMM_TR_REGION_ADD:
	case KMM_TR_REGION_UPDATE:
	case KMM_TR_REGION_DEL:
		fprintf(o, "%s 0x%" PRIx64 "-0x%" PRIx64 " (%s) %s", kmm_trace_type_name(e->type), e->a, e->b,
			kt_hbytes((double)(e->b - e->a), b4, sizeof b4), kt_region_kind(e->c));
		if (e->type == KMM_TR_REGION_ADD)
			fprintf(o, ", %s, %s", kt_prot_str(e->aux & 0xff, b2, sizeof b2),
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
	case KMM_TR_RSS: {
		char r1[32], r2[32], r3[32];
		fprintf(o, "rss %s resident (%s shared or file-backed), size %s", kt_hbytes((double)e->a, r1, sizeof r1),
			kt_hbytes((double)e->b, r2, sizeof r2), kt_hbytes((double)e->c, r3, sizeof r3));
		break;
	}
	case KMM_TR_LAYER: {
		char r1[32];
		const char *name = kmm_trace_layer_name(e->aux);
		if (name)
			fprintf(o, "layer %s: %" PRIu64 " bytes (%s) in %" PRIu64 " %s (sample %" PRIu64 ")", name, e->a,
				kt_hbytes((double)e->a, r1, sizeof r1), e->b,
				kmm_trace_layer_unit(e->aux),
				e->c);
		else
			fprintf(o, "layer %" PRIu32 ": %" PRIu64 " bytes in %" PRIu64 " blocks (sample %" PRIu64 ")", e->aux,
				e->a, e->b, e->c);
		break;
	}
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
		kt_print_frames(o, e, "        ");
}

int kt_cmd_dump(struct log *L)
{
	kt_want_all_sites(L);
	kt_sym_resolve();
	struct merge M;
	kt_merge_init(&M, L);
	struct ev e;
	while (kt_merge_next(&M, &e))
		dump_event(stdout, &e);
	kt_merge_free(&M);
	return 0;
}
