/*
 * test_pprof.c — the streaming pprof writer (src/util/pprof.c).
 *
 * The writer's output is gunzipped by gzip(1), an implementation that
 * shares nothing with it (it checks the CRC and the length), and the
 * protobuf read back by the small decoder below, written from the wire
 * format's definition; the fields must be profile.proto's.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/pprof.h"

static struct kmm_pprof pp;    /* ~70 KiB: not on criterion's stack */

struct membuf { unsigned char *p; size_t len, cap; int fail_after; };

static int mem_sink(void *ctx, const void *buf, size_t len)
{
	struct membuf *m = ctx;
	if (m->fail_after >= 0 && m->len + len > (size_t)m->fail_after)
		return -1;
	if (m->len + len > m->cap) {
		m->cap = (m->len + len) * 2;
		m->p = realloc(m->p, m->cap);
		cr_assert(m->p != NULL);
	}
	memcpy(m->p + m->len, buf, len);
	m->len += len;
	return 0;
}

/* gzip -dc of the bytes: the profile message */
static unsigned char *gunzip(const struct membuf *m, size_t *out_len, int *status)
{
	char in[] = "/tmp/kmm-test-pprof.XXXXXX";
	int fd = mkstemp(in);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, m->p, m->len), (ssize_t)m->len);
	close(fd);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "gzip -dc < %s 2>/dev/null", in);
	FILE *f = popen(cmd, "r");
	cr_assert(f != NULL);
	size_t cap = 1 << 16, len = 0;
	unsigned char *p = malloc(cap);
	size_t n;
	while ((n = fread(p + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap)
			p = realloc(p, cap *= 2);
	}
	*status = pclose(f);
	unlink(in);
	*out_len = len;
	return p;
}

/* ---- a protobuf reader ---- */
struct pb { const unsigned char *p, *end; };

static uint64_t rd_varint(struct pb *b)
{
	uint64_t v = 0;
	for (int shift = 0; b->p < b->end; shift += 7) {
		unsigned char c = *b->p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	cr_assert_fail("truncated varint");
	return 0;
}

/* the next field: its number, wire type, varint value or bytes */
static int rd_field(struct pb *b, unsigned *field, unsigned *wt, uint64_t *v, struct pb *sub)
{
	if (b->p >= b->end)
		return 0;
	uint64_t key = rd_varint(b);
	*field = (unsigned)(key >> 3);
	*wt = (unsigned)(key & 7);
	if (*wt == 0) {
		*v = rd_varint(b);
	} else if (*wt == 2) {
		uint64_t n = rd_varint(b);
		cr_assert(n <= (uint64_t)(b->end - b->p), "length past the end");
		sub->p = b->p;
		sub->end = b->p + n;
		b->p += n;
	} else {
		cr_assert_fail("unexpected wire type %u", *wt);
	}
	return 1;
}

struct decoded {
	char strings[64][32];
	int nstrings;
	int sample_types[8][2], ntypes;
	uint64_t sample_locs[8][8]; int nlocs[8];
	int64_t sample_vals[8][8]; int nvals[8];
	int nsamples;
	uint64_t map_id, map_start, map_limit, map_off, map_file;
	uint64_t loc_id, loc_map, loc_addr, line_fn[4], line_no[4]; int nlines;
	uint64_t fn_id, fn_name, fn_file, fn_start;
	uint64_t time_nanos, duration, period, period_type[2], default_type;
};

static void rd_packed(struct pb *s, uint64_t *out, int *n)
{
	*n = 0;
	while (s->p < s->end)
		out[(*n)++] = rd_varint(s);
}

static void decode(const unsigned char *p, size_t len, struct decoded *d)
{
	struct pb b = { p, p + len }, s, t, u;
	unsigned f, wt, f2, wt2, f3, wt3;
	uint64_t v, v2, v3;

	memset(d, 0, sizeof *d);
	while (rd_field(&b, &f, &wt, &v, &s)) {
		switch (f) {
		case 1:
			while (rd_field(&s, &f2, &wt2, &v2, &t))
				d->sample_types[d->ntypes][f2 - 1] = (int)v2;
			d->ntypes++;
			break;
		case 2:
			while (rd_field(&s, &f2, &wt2, &v2, &t)) {
				if (f2 == 1)
					rd_packed(&t, d->sample_locs[d->nsamples], &d->nlocs[d->nsamples]);
				else
					rd_packed(&t, (uint64_t *)d->sample_vals[d->nsamples], &d->nvals[d->nsamples]);
			}
			d->nsamples++;
			break;
		case 3:
			while (rd_field(&s, &f2, &wt2, &v2, &t)) {
				uint64_t *dst[] = { 0, &d->map_id, &d->map_start, &d->map_limit, &d->map_off, &d->map_file };
				if (f2 >= 1 && f2 <= 5)
					*dst[f2] = v2;
			}
			break;
		case 4:
			while (rd_field(&s, &f2, &wt2, &v2, &t)) {
				if (f2 == 1) d->loc_id = v2;
				else if (f2 == 2) d->loc_map = v2;
				else if (f2 == 3) d->loc_addr = v2;
				else if (f2 == 4) {
					while (rd_field(&t, &f3, &wt3, &v3, &u)) {
						if (f3 == 1) d->line_fn[d->nlines] = v3;
						if (f3 == 2) d->line_no[d->nlines] = v3;
					}
					d->nlines++;
				}
			}
			break;
		case 5:
			while (rd_field(&s, &f2, &wt2, &v2, &t)) {
				if (f2 == 1) d->fn_id = v2;
				else if (f2 == 2) d->fn_name = v2;
				else if (f2 == 4) d->fn_file = v2;
				else if (f2 == 5) d->fn_start = v2;
			}
			break;
		case 6:
			cr_assert(s.end - s.p < 32);
			memcpy(d->strings[d->nstrings], s.p, (size_t)(s.end - s.p));
			d->nstrings++;
			break;
		case 9: d->time_nanos = v; break;
		case 10: d->duration = v; break;
		case 11:
			while (rd_field(&s, &f2, &wt2, &v2, &t))
				d->period_type[f2 - 1] = v2;
			break;
		case 12: d->period = v; break;
		case 14: d->default_type = v; break;
		default:
			cr_assert_fail("unexpected Profile field %u", f);
		}
	}
}

static struct decoded d;

Test(pprof, a_profile_reads_back)
{
	struct membuf m = { .fail_after = -1 };
	kmm_pprof_begin(&pp, mem_sink, &m);
	int64_t space = kmm_pprof_cstring(&pp, "alloc_space");
	int64_t bytes = kmm_pprof_cstring(&pp, "bytes");
	int64_t objs = kmm_pprof_cstring(&pp, "alloc_objects");
	int64_t count = kmm_pprof_cstring(&pp, "count");
	int64_t file = kmm_pprof_cstring(&pp, "/usr/bin/prog");
	int64_t fn = kmm_pprof_cstring(&pp, "main");
	int64_t src = kmm_pprof_cstring(&pp, "prog.c");
	kmm_pprof_sample_type(&pp, objs, count);
	kmm_pprof_sample_type(&pp, space, bytes);
	kmm_pprof_mapping(&pp, 1, 0x400000, 0x401000, 0x1000, file, 0, 1);
	uint64_t fid = 7;
	int64_t line = 42;
	kmm_pprof_function(&pp, fid, fn, fn, src, 40);
	kmm_pprof_location(&pp, 3, 1, 0x400123, &fid, &line, 1);
	uint64_t locs[] = { 3, 3 };
	int64_t vals[] = { 2, 1u << 20 };
	kmm_pprof_sample(&pp, locs, 2, vals, 2);
	int64_t neg[] = { 1, -5 };
	kmm_pprof_sample(&pp, locs, 1, neg, 2);
	kmm_pprof_meta(&pp, 1700000000000000000ll, 2500000000ll, space, bytes, 524288, space);
	cr_assert_eq(kmm_pprof_end(&pp), 0);

	size_t len;
	int status;
	unsigned char *raw = gunzip(&m, &len, &status);
	cr_assert_eq(status, 0, "gzip -dc failed on the output");
	decode(raw, len, &d);

	cr_assert_eq(d.nstrings, 8);
	cr_assert_str_eq(d.strings[0], "");
	cr_assert_str_eq(d.strings[space], "alloc_space");
	cr_assert_str_eq(d.strings[src], "prog.c");
	cr_assert_eq(d.ntypes, 2);
	cr_assert_eq(d.sample_types[0][0], objs);
	cr_assert_eq(d.sample_types[1][1], bytes);
	cr_assert_eq(d.nsamples, 2);
	cr_assert_eq(d.nlocs[0], 2);
	cr_assert_eq(d.sample_locs[0][1], 3);
	cr_assert_eq(d.sample_vals[0][1], 1 << 20);
	cr_assert_eq(d.sample_vals[1][1], -5);
	cr_assert_eq(d.map_start, 0x400000);
	cr_assert_eq(d.map_limit, 0x401000);
	cr_assert_eq(d.map_off, 0x1000);
	cr_assert_eq(d.map_file, (uint64_t)file);
	cr_assert_eq(d.loc_id, 3);
	cr_assert_eq(d.loc_addr, 0x400123);
	cr_assert_eq(d.nlines, 1);
	cr_assert_eq(d.line_fn[0], 7);
	cr_assert_eq(d.line_no[0], 42);
	cr_assert_eq(d.fn_id, 7);
	cr_assert_eq(d.fn_file, (uint64_t)src);
	cr_assert_eq(d.fn_start, 40);
	cr_assert_eq(d.time_nanos, 1700000000000000000ull);
	cr_assert_eq(d.duration, 2500000000ull);
	cr_assert_eq(d.period, 524288);
	cr_assert_eq(d.period_type[0], (uint64_t)space);
	cr_assert_eq(d.default_type, (uint64_t)space);
	free(raw);
	free(m.p);
}

/* more than one stored block: 200 000 strings of 9 bytes (2 MB) */
Test(pprof, many_blocks)
{
	struct membuf m = { .fail_after = -1 };
	kmm_pprof_begin(&pp, mem_sink, &m);
	for (int i = 0; i < 200000; i++) {
		char s[16];
		snprintf(s, sizeof s, "s%08d", i);
		cr_assert_eq(kmm_pprof_cstring(&pp, s), i + 1);
	}
	cr_assert_eq(kmm_pprof_end(&pp), 0);
	size_t len;
	int status;
	unsigned char *raw = gunzip(&m, &len, &status);
	cr_assert_eq(status, 0);
	cr_assert_eq(len, 1 + 1 + 200000 * 11, "got %zu bytes", len);
	/* the last string is where it should be */
	cr_assert(memcmp(raw + len - 9, "s00199999", 9) == 0);
	free(raw);
	free(m.p);
}

Test(pprof, a_failing_sink_fails_the_profile)
{
	struct membuf m = { .fail_after = 70000 };
	kmm_pprof_begin(&pp, mem_sink, &m);
	for (int i = 0; i < 20000; i++)
		kmm_pprof_cstring(&pp, "0123456789");
	cr_assert_eq(kmm_pprof_end(&pp), -1);
	free(m.p);
}

Test(pprof, too_large_a_message_fails_the_profile)
{
	struct membuf m = { .fail_after = -1 };
	static uint64_t locs[2000];
	int64_t v = 1;
	for (int i = 0; i < 2000; i++)
		locs[i] = 0x7fffffffffffull + (uint64_t)i;
	kmm_pprof_begin(&pp, mem_sink, &m);
	kmm_pprof_sample(&pp, locs, 2000, &v, 1);
	cr_assert_eq(kmm_pprof_end(&pp), -1);
	free(m.p);
}
