/*
 * util.c — what every file of kmm-trace uses: fatal errors, allocation that
 * cannot fail, bytes and times for humans.
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

#include <errno.h>
#include <stdarg.h>

void kt_fatal(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

void *kt_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		kt_fatal("out of memory (%zu bytes)", n);
	return q;
}

void *kt_xcalloc(size_t n, size_t s)
{
	void *p = calloc(n ? n : 1, s ? s : 1);
	if (!p)
		kt_fatal("out of memory (%zu x %zu bytes)", n, s);
	return p;
}

char *kt_xstrndup(const char *s, size_t n)
{
	char *p = kt_xrealloc(NULL, n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

char *kt_xstrdup(const char *s) { return kt_xstrndup(s, strlen(s)); }

char *kt_xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		kt_fatal("formatting failed");
	char *p = kt_xrealloc(NULL, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

/* "1.5 KiB": human-readable bytes */
const char *kt_hbytes(double v, char *buf, size_t n)
{
	static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	int i = 0;
	double a = v < 0 ? -v : v;
	while (a >= 1024 && i < 5) {
		a /= 1024;
		v /= 1024;
		i++;
	}
	if (i == 0 || v == (double)(int64_t)v)
		snprintf(buf, n, "%.0f %s", v, unit[i]);
	else
		snprintf(buf, n, "%.1f %s", v, unit[i]);
	return buf;
}

/* ns as "S.UUUUUU" (seconds, microseconds) */
const char *kt_hsecs(uint64_t ns, char *buf, size_t n)
{
	snprintf(buf, n, "%" PRIu64 ".%06" PRIu64, ns / 1000000000u, ns % 1000000000u / 1000u);
	return buf;
}

/* a system call result: -errno in [-4095, -1] */
size_t kt_upper_bound(const void *base, size_t n, size_t size, size_t key, uint64_t a)
{
	const char *p = base;
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t k;
		memcpy(&k, p + mid * size + key, sizeof k);
		if (k <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int kt_is_err(uint64_t r) { return (int64_t)r < 0 && (int64_t)r >= -4095; }
