/*
 * test_format.c — the stdio-free formatter used by every report and
 * diagnostic (src/util/format.c).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "util/format.h"

#define FMT(expect, ...) do { \
	char b_[128]; \
	kmm_snprintf(b_, sizeof b_, __VA_ARGS__); \
	cr_assert_str_eq(b_, expect); \
} while (0)

Test(format, integers)
{
	FMT("0", "%d", 0);
	FMT("-42", "%d", -42);
	FMT("2147483647", "%d", INT_MAX);
	FMT("-2147483648", "%d", INT_MIN);
	FMT("-9223372036854775808", "%lld", LLONG_MIN);
	FMT("18446744073709551615", "%llu", ULLONG_MAX);
	FMT("18446744073709551615", "%zu", SIZE_MAX);
	FMT("4294967295", "%u", UINT_MAX);
	FMT("ff", "%x", 255);
	FMT("FF", "%X", 255);
	FMT("21000", "%lx", 0x21000ul);
}

Test(format, width_and_flags)
{
	FMT("   42", "%5d", 42);
	FMT("42   |", "%-5d|", 42);
	FMT("00042", "%05d", 42);
	FMT("-0042", "%05d", -42);
	FMT("      1234", "%10u", 1234u);
	FMT("1,234,567", "%'llu", 1234567ull);
	FMT("999", "%'d", 999);
	FMT("  ab", "%*s", 4, "ab");
	FMT("ab  |", "%-*s|", 4, "ab");
	FMT("abc", "%.3s", "abcdef");
	FMT("ab", "%.*s", 2, "abcdef");
	/* through a volatile: a NULL the compiler sees is a warning
	 * (-Wformat-overflow), kmm_snprintf's format attribute */
	const char *volatile null_str = NULL;
	FMT("(null)", "%s", null_str);
	FMT("x%y", "x%%y");
	FMT("c=Z", "c=%c", 'Z');
}

Test(format, pointers)
{
	FMT("0x0", "%p", (void *)0);
	FMT("0x7fff1234", "%p", (void *)0x7fff1234ul);
}

Test(format, truncation_keeps_nul)
{
	char b[8];
	size_t n = kmm_snprintf(b, sizeof b, "%s", "0123456789");
	cr_assert_eq(n, 7);
	cr_assert_str_eq(b, "0123456");
}

Test(format, sizes_human_readable)
{
	char out[64];
	struct kmm_buf b;
	const struct { unsigned long long v; const char *s; } cases[] = {
		{ 0, "0 B" }, { 1023, "1023 B" }, { 1024, "1 KiB" }, { 1536, "1.5 KiB" },
		{ 0x21000, "132 KiB" }, { 1ull << 20, "1 MiB" }, { 8396800, "8 MiB" },
		{ 3ull << 30, "3 GiB" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		kmm_buf_init(&b, out, sizeof out, -1);
		kmm_buf_size(&b, cases[i].v);
		cr_assert_str_eq(out, cases[i].s, "size %llu", cases[i].v);
	}
}

Test(format, fd_buffer_flushes_when_full)
{
	int fds[2];
	char small[16], got[512];
	struct kmm_buf b;
	cr_assert_eq(pipe(fds), 0);
	kmm_buf_init(&b, small, sizeof small, fds[1]);
	for (int i = 0; i < 20; i++)
		kmm_buf_printf(&b, "line %02d\n", i);
	kmm_buf_flush(&b);
	close(fds[1]);
	ssize_t n = 0, r;
	while ((r = read(fds[0], got + n, sizeof got - 1 - (size_t)n)) > 0)
		n += r;
	got[n] = '\0';
	cr_assert_eq(n, 20 * 8, "read %zd bytes", n);
	cr_assert(strncmp(got, "line 00\nline 01\n", 16) == 0);
	cr_assert(strstr(got, "line 19\n") != NULL);
}

static char sink_out[256];
static size_t sink_len;
static void sink(void *ctx, const char *d, size_t n)
{
	(void)ctx;
	memcpy(sink_out + sink_len, d, n);
	sink_len += n;
}

Test(format, sink_buffer)
{
	char small[8];
	struct kmm_buf b;
	kmm_buf_init_sink(&b, small, sizeof small, sink, NULL);
	kmm_buf_printf(&b, "<total type=\"%s\" count=\"%zu\"/>", "fast", (size_t)3);
	kmm_buf_flush(&b);
	sink_out[sink_len] = '\0';
	cr_assert_str_eq(sink_out, "<total type=\"fast\" count=\"3\"/>");
}
