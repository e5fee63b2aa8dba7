/*
 * pprof.c — the streaming pprof writer (pprof.h says the contract).
 *
 * Two layers, each a few functions:
 *
 *   protobuf   each message of the profile is built in pp->msg (varints,
 *              packed repeated varints, nested Line messages), then written
 *              as one length-delimited field of the top-level Profile;
 *   gzip       the bytes of the Profile go into pp->blk; a full block is
 *              written to the sink as a stored deflate block (a 5-byte
 *              header: BFINAL/BTYPE, LEN, ~LEN), after the 10-byte gzip
 *              header; kmm_pprof_end writes the final block and the
 *              trailer (CRC-32, length mod 2^32).
 *
 *   sink <- [gzip hdr][00 LEN ~LEN | 65535 bytes] ... [01 LEN ~LEN | rest][crc][isize]
 *
 * The CRC is the gzip one (reflected polynomial 0xEDB88320), computed a
 * nibble at a time from a 16-entry table: no table to build at run time,
 * so nothing to initialise and nothing shared between threads.
 */
#include "pprof.h"

#include <string.h>

static const uint32_t crc_nibble[16] = {
	0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac,
	0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
	0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
	0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		crc = (crc >> 4) ^ crc_nibble[crc & 15];
		crc = (crc >> 4) ^ crc_nibble[crc & 15];
	}
	return ~crc;
}

static void sink_put(struct kmm_pprof *pp, const void *p, size_t n)
{
	if (!pp->failed && n != 0 && pp->sink(pp->ctx, p, n) != 0)
		pp->failed = 1;
}

/* Write pp->blk as a stored block (final or not) and empty it. */
static void block_flush(struct kmm_pprof *pp, int final)
{
	unsigned char h[5];
	size_t n = pp->blen;

	h[0] = final ? 1 : 0;              /* BFINAL, BTYPE=00 (stored) */
	h[1] = (unsigned char)(n & 0xff);
	h[2] = (unsigned char)(n >> 8);
	h[3] = (unsigned char)(~n & 0xff);
	h[4] = (unsigned char)((~n >> 8) & 0xff);
	sink_put(pp, h, sizeof h);
	sink_put(pp, pp->blk, n);
	pp->blen = 0;
}

/* Bytes of the Profile message: into the deflate stream. */
static void out(struct kmm_pprof *pp, const void *p, size_t n)
{
	const unsigned char *s = p;

	if (pp->failed)
		return;
	pp->crc = crc32_update(pp->crc, s, n);
	pp->isize += n;
	while (n != 0) {
		size_t room = KMM_PPROF_BLOCK - pp->blen;
		size_t k = n < room ? n : room;
		memcpy(pp->blk + pp->blen, s, k);
		pp->blen += k;
		s += k;
		n -= k;
		if (pp->blen == KMM_PPROF_BLOCK)
			block_flush(pp, 0);
	}
}

/* ---- protobuf ------------------------------------------------------------ */

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t varint_enc(unsigned char *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

/* Append to the message being built; too large a message fails the writer. */
static void msg_bytes(struct kmm_pprof *pp, const void *p, size_t n)
{
	if (n > KMM_PPROF_MSG - pp->mlen) {
		pp->failed = 1;
		return;
	}
	memcpy(pp->msg + pp->mlen, p, n);
	pp->mlen += n;
}

static void msg_varint(struct kmm_pprof *pp, uint64_t v)
{
	unsigned char b[10];
	msg_bytes(pp, b, varint_enc(b, v));
}

/* A varint field (wire type 0); zero values are left out, as proto3 does. */
static void msg_field(struct kmm_pprof *pp, unsigned field, uint64_t v)
{
	if (v == 0)
		return;
	msg_varint(pp, (uint64_t)field << 3);
	msg_varint(pp, v);
}

/* A packed repeated varint field (wire type 2). */
static void msg_packed(struct kmm_pprof *pp, unsigned field, const uint64_t *v, size_t n)
{
	size_t len = 0;

	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++)
		len += varint_len(v[i]);
	msg_varint(pp, (uint64_t)field << 3 | 2);
	msg_varint(pp, len);
	for (size_t i = 0; i < n; i++)
		msg_varint(pp, v[i]);
}

/* Write the message built as field `field` of the Profile. */
static void msg_emit(struct kmm_pprof *pp, unsigned field)
{
	unsigned char h[20];
	size_t n = varint_enc(h, (uint64_t)field << 3 | 2);

	n += varint_enc(h + n, pp->mlen);
	out(pp, h, n);
	out(pp, pp->msg, pp->mlen);
	pp->mlen = 0;
}

/* A varint field of the Profile itself. */
static void top_field(struct kmm_pprof *pp, unsigned field, uint64_t v)
{
	unsigned char h[20];
	size_t n;

	if (v == 0)
		return;
	n = varint_enc(h, (uint64_t)field << 3);
	n += varint_enc(h + n, v);
	out(pp, h, n);
}

/* ---- the profile --------------------------------------------------------- */

void kmm_pprof_begin(struct kmm_pprof *pp, kmm_pprof_sink sink, void *ctx)
{
	/* magic, CM=deflate, no flags, no mtime, XFL 0, OS unknown */
	static const unsigned char gz[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff };

	pp->sink = sink;
	pp->ctx = ctx;
	pp->failed = 0;
	pp->crc = 0;
	pp->isize = 0;
	pp->nstrings = 0;
	pp->blen = 0;
	pp->mlen = 0;
	sink_put(pp, gz, sizeof gz);
	kmm_pprof_string(pp, "", 0);
}

int64_t kmm_pprof_string(struct kmm_pprof *pp, const char *s, size_t len)
{
	unsigned char h[20];
	size_t n = varint_enc(h, 6 << 3 | 2);

	n += varint_enc(h + n, len);
	out(pp, h, n);
	out(pp, s, len);
	return pp->nstrings++;
}

int64_t kmm_pprof_cstring(struct kmm_pprof *pp, const char *s)
{
	return kmm_pprof_string(pp, s, strlen(s));
}

void kmm_pprof_sample_type(struct kmm_pprof *pp, int64_t type, int64_t unit)
{
	msg_field(pp, 1, (uint64_t)type);
	msg_field(pp, 2, (uint64_t)unit);
	msg_emit(pp, 1);
}

void kmm_pprof_sample(struct kmm_pprof *pp, const uint64_t *locs, size_t nlocs,
		      const int64_t *values, size_t nvalues)
{
	uint64_t v[16];

	if (nvalues > 16) {
		pp->failed = 1;
		return;
	}
	for (size_t i = 0; i < nvalues; i++)
		v[i] = (uint64_t)values[i];    /* int64 varints: two's complement */
	msg_packed(pp, 1, locs, nlocs);
	msg_packed(pp, 2, v, nvalues);
	msg_emit(pp, 2);
}

void kmm_pprof_mapping(struct kmm_pprof *pp, uint64_t id, uint64_t start,
		       uint64_t limit, uint64_t offset, int64_t filename,
		       int64_t build_id, int has_functions)
{
	msg_field(pp, 1, id);
	msg_field(pp, 2, start);
	msg_field(pp, 3, limit);
	msg_field(pp, 4, offset);
	msg_field(pp, 5, (uint64_t)filename);
	msg_field(pp, 6, (uint64_t)build_id);
	msg_field(pp, 7, has_functions ? 1 : 0);
	msg_emit(pp, 3);
}

void kmm_pprof_location(struct kmm_pprof *pp, uint64_t id, uint64_t mapping_id,
			uint64_t address, const uint64_t *function_ids,
			const int64_t *lines, size_t nlines)
{
	msg_field(pp, 1, id);
	msg_field(pp, 2, mapping_id);
	msg_field(pp, 3, address);
	for (size_t i = 0; i < nlines; i++) {
		unsigned char line[24];
		size_t n = 0;
		if (function_ids[i] != 0) {
			line[n++] = 1 << 3;
			n += varint_enc(line + n, function_ids[i]);
		}
		if (lines[i] != 0) {
			line[n++] = 2 << 3;
			n += varint_enc(line + n, (uint64_t)lines[i]);
		}
		msg_varint(pp, 4 << 3 | 2);
		msg_varint(pp, n);
		msg_bytes(pp, line, n);
	}
	msg_emit(pp, 4);
}

void kmm_pprof_function(struct kmm_pprof *pp, uint64_t id, int64_t name,
			int64_t system_name, int64_t filename, int64_t start_line)
{
	msg_field(pp, 1, id);
	msg_field(pp, 2, (uint64_t)name);
	msg_field(pp, 3, (uint64_t)system_name);
	msg_field(pp, 4, (uint64_t)filename);
	msg_field(pp, 5, (uint64_t)start_line);
	msg_emit(pp, 5);
}

void kmm_pprof_meta(struct kmm_pprof *pp, int64_t time_nanos,
		    int64_t duration_nanos, int64_t period_type,
		    int64_t period_unit, int64_t period,
		    int64_t default_sample_type)
{
	top_field(pp, 9, (uint64_t)time_nanos);
	top_field(pp, 10, (uint64_t)duration_nanos);
	msg_field(pp, 1, (uint64_t)period_type);
	msg_field(pp, 2, (uint64_t)period_unit);
	msg_emit(pp, 11);
	top_field(pp, 12, (uint64_t)period);
	top_field(pp, 14, (uint64_t)default_sample_type);
}

int kmm_pprof_end(struct kmm_pprof *pp)
{
	unsigned char t[8];
	uint32_t crc = pp->crc, len = (uint32_t)pp->isize;

	block_flush(pp, 1);
	for (int i = 0; i < 4; i++) {
		t[i] = (unsigned char)(crc >> (8 * i));
		t[4 + i] = (unsigned char)(len >> (8 * i));
	}
	sink_put(pp, t, sizeof t);
	return pp->failed ? -1 : 0;
}
