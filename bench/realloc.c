/*
 * bench/realloc.c — workload "realloc": buffers grown by realloc.
 *
 * A set of builders is active at once and grown in a random interleaving,
 * from a few bytes up to as much as 1 MiB, the way string builders, growing
 * vectors and read-everything-into-a-buffer loops grow their storage:
 *   - "exact" builders realloc to the exact new length on every append;
 *   - "double" builders double their capacity when it runs out;
 *   - "grow15" builders grow it by half plus a little.
 * A finished buffer is sometimes shrunk to fit, kept alive for a while among
 * other results, then freed.  Because several buffers grow side by side,
 * realloc cannot always extend in place: it has to move, copy or remap.
 *
 * Verification: every appended byte is written with a known pattern; after
 * each realloc the first, the middle and the last byte of the old contents
 * are checked, and the whole buffer is checked before it is freed.
 */
#include "common.h"

#define ACTIVE    32        /* builders growing at the same time */
#define RESULTS   64        /* finished buffers kept alive */
#define BUILDS    2400      /* buffers built at scale 1 */
#define MAXLEN    (1u << 20)

enum policy { EXACT, DOUBLE, GROW15 };

struct builder {
	unsigned char *buf;
	size_t len, cap, target;
	uint64_t id;
	enum policy pol;
};

struct result {
	unsigned char *buf;
	size_t len;
	uint64_t id;
};

static inline unsigned char cbyte(uint64_t id, size_t pos)
{
	return (unsigned char)(id * 0x3b + pos * 0x9d + (pos >> 9));
}

static void check_byte(const struct builder *b, size_t pos)
{
	if (b->buf[pos] != cbyte(b->id, pos))
		bench_die("realloc lost data: buffer %" PRIu64 " byte %zu of %zu",
			  b->id, pos, b->len);
}

/* Check a whole buffer; return a value for the checksum. */
static uint64_t check_all(const unsigned char *buf, size_t len, uint64_t id)
{
	unsigned bad = 0;
	size_t pos;

	for (pos = 0; pos < len; pos++)
		bad |= (unsigned)(buf[pos] ^ cbyte(id, pos));
	if (bad) {
		for (pos = 0; pos < len; pos++)
			if (buf[pos] != cbyte(id, pos))
				break;
		bench_die("buffer %" PRIu64 " (%zu bytes) corrupted at byte %zu", id, len, pos);
	}
	return bench_mix(id ^ ((uint64_t)len << 32)) + (len ? buf[len - 1] : 0);
}

static void start(struct builder *b, struct bench_rng *r, uint64_t id)
{
	/* log-uniform target length, 16 bytes .. 1 MiB */
	unsigned bits = 4 + (unsigned)bench_below(r, 17);

	b->target = bench_range(r, (size_t)1 << (bits - 1), (size_t)1 << bits);
	if (b->target > MAXLEN)
		b->target = MAXLEN;
	b->pol = (enum policy)bench_below(r, 3);
	if (b->pol == EXACT && b->target > 256 * 1024)
		b->target /= 4;  /* byte-at-a-time builders rarely get that big */
	b->id = id;
	b->len = 0;
	b->cap = b->pol == EXACT ? 0 : bench_range(r, 1, 32);
	b->buf = b->cap ? bench_malloc(b->cap) : NULL;
}

static void grow(struct builder *b, size_t need)
{
	size_t cap = b->cap;
	unsigned char *nb;

	if (b->pol == EXACT)
		cap = need;
	while (cap < need)
		cap = b->pol == DOUBLE ? cap * 2 : cap + cap / 2 + 16;
	nb = realloc(b->buf, cap);
	if (nb == NULL)
		bench_die("realloc(%zu) failed", cap);
	b->buf = nb;
	b->cap = cap;
	if (b->len > 0) {
		check_byte(b, 0);
		check_byte(b, b->len - 1);
		check_byte(b, b->len / 2);
	}
}

/* Append 1..256 bytes (mostly short pieces); return 1 when finished. */
static int append(struct builder *b, struct bench_rng *r)
{
	size_t n = bench_below(r, 4) ? bench_range(r, 1, 24) : bench_range(r, 25, 256);
	size_t pos, end;

	if (n > b->target - b->len)
		n = b->target - b->len;
	end = b->len + n;
	if (end > b->cap)
		grow(b, end);
	for (pos = b->len; pos < end; pos++)
		b->buf[pos] = cbyte(b->id, pos);
	b->len = end;
	return b->len >= b->target;
}

int main(int argc, char **argv)
{
	struct bench_args a;
	struct bench_rng rng = { 0x7265616c6cULL };
	struct builder act[ACTIVE];
	struct result res[RESULTS];
	uint64_t builds, next_id = 0, done = 0, sum = 0;
	size_t i;

	bench_parse(argc, argv,
		    "Buffers grown by realloc from a few bytes up to 1 MiB, several at\n"
		    "a time (string builders, vectors); results kept alive for a while.", 0, &a);
	builds = bench_scaled(BUILDS, a.scale);
	memset(res, 0, sizeof res);
	for (i = 0; i < ACTIVE; i++)
		start(&act[i], &rng, ++next_id);

	while (done < builds) {
		struct builder *b = &act[bench_below(&rng, ACTIVE)];
		struct result *slot;

		if (!append(b, &rng))
			continue;
		/* finished: maybe shrink to fit, then keep it among the results */
		if (b->len < b->cap && bench_below(&rng, 2) == 0) {
			unsigned char *nb = realloc(b->buf, b->len);

			if (nb == NULL)
				bench_die("realloc(%zu) (shrink) failed", b->len);
			b->buf = nb;
			check_byte(b, b->len - 1);
		}
		slot = &res[bench_below(&rng, RESULTS)];
		if (slot->buf != NULL) {
			sum += check_all(slot->buf, slot->len, slot->id);
			free(slot->buf);
		}
		slot->buf = b->buf;
		slot->len = b->len;
		slot->id = b->id;
		done++;
		start(b, &rng, ++next_id);
	}
	for (i = 0; i < ACTIVE; i++) {
		sum += check_all(act[i].buf, act[i].len, act[i].id) * 7;
		free(act[i].buf);
	}
	for (i = 0; i < RESULTS; i++) {
		if (res[i].buf != NULL) {
			sum += check_all(res[i].buf, res[i].len, res[i].id);
			free(res[i].buf);
		}
	}
	bench_print_checksum(sum ^ next_id);
	return 0;
}
