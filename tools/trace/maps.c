/*
 * maps.c — the /proc/self/maps snapshots of the log (maps blocks) and the
 * lookup of an address in them.
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

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
		char *nm = kt_xstrndup(name, nlen);
		r[n].obj = nm[0] == '/' ? kt_obj_intern(nm) : -1;
		r[n].name = r[n].obj >= 0 ? kt_objs[r[n].obj].path : nm;
		if (r[n].obj >= 0)
			free(nm);
		n++;
	}
	snap_finish(L, r, n, ends_nl);
}

void kt_parse_maps(struct log *L)
{
	for (size_t i = 0; i < L->nb;) {
		if (L->b[i].kind != KMM_TB_MAPS) {
			i++;
			continue;
		}
		size_t j = i, len = 0;
		while (j < L->nb && L->b[j].kind == KMM_TB_MAPS && L->b[j].tid == L->b[i].tid)
			len += L->b[j++].size;
		char *text = kt_xrealloc(NULL, len + 1), *q = text;
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
		for (size_t i = 0; i < kt_nobjs; i++)
			if (!strcmp(kt_objs[i].path, L->exe))
				kt_objs[i].is_exe = 1;
}

static const struct maprange *snap_find(const struct snap *s, uint64_t a)
{
	size_t lo = kt_upper_bound(s->r, s->n, sizeof *s->r, offsetof(struct maprange, start), a);
	if (lo == 0)
		return NULL;
	const struct maprange *r = &s->r[lo - 1];
	return a < r->end ? r : NULL;
}

const struct maprange *kt_find_range(const struct log *L, uint64_t a)
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
