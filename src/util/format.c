/*
 * format.c — a small printf for fixed buffers (see format.h).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "format.h"
#include "../os.h"

KMM_COLD void kmm_buf_init(struct kmm_buf *b, char *data, size_t cap, int fd)
{
	b->data = data;
	b->cap = cap;
	b->len = 0;
	b->fd = fd;
	b->truncated = 0;
	b->sink = NULL;
	b->sink_ctx = NULL;
	if (fd < 0 && cap > 0)
		data[0] = '\0';
}

KMM_COLD void kmm_buf_init_sink(struct kmm_buf *b, char *data, size_t cap,
		       void (*sink)(void *ctx, const char *data, size_t len), void *ctx)
{
	kmm_buf_init(b, data, cap, -1);
	b->sink = sink;
	b->sink_ctx = ctx;
}

static int flushable(const struct kmm_buf *b)
{
	return b->fd >= 0 || b->sink != NULL;
}

KMM_COLD void kmm_buf_flush(struct kmm_buf *b)
{
	if (b->len > 0) {
		if (b->sink != NULL)
			b->sink(b->sink_ctx, b->data, b->len);
		else if (b->fd >= 0)
			kmm_os_write_all(b->fd, b->data, b->len);
	}
	if (flushable(b))
		b->len = 0;
}

KMM_COLD void kmm_buf_write(struct kmm_buf *b, const char *s, size_t n)
{
	while (n > 0) {
		/* string buffers keep one byte for the terminating NUL */
		if (b->cap == 0)
			return;
		size_t room = b->cap - b->len - (flushable(b) ? 0 : 1);
		if (room == 0) {
			if (!flushable(b)) {
				b->truncated = 1;
				return;
			}
			kmm_buf_flush(b);
			continue;
		}
		size_t k = n < room ? n : room;
		memcpy(b->data + b->len, s, k);
		b->len += k;
		s += k;
		n -= k;
	}
	if (!flushable(b) && b->cap > 0)
		b->data[b->len] = '\0';
}

KMM_COLD void kmm_buf_putc(struct kmm_buf *b, char c)
{
	kmm_buf_write(b, &c, 1);
}

KMM_COLD void kmm_buf_puts(struct kmm_buf *b, const char *s)
{
	kmm_buf_write(b, s, strlen(s));
}

static void pad(struct kmm_buf *b, char c, int n)
{
	while (n-- > 0)
		kmm_buf_putc(b, c);
}

/* Emit `digits` (length n) in a field, honouring width, '-' and '0'. */
static KMM_COLD void field(struct kmm_buf *b, const char *sign, const char *digits, size_t n,
		  int width, int left, int zero)
{
	size_t sl = strlen(sign);
	int fill = width - (int)(n + sl);
	if (left) {
		kmm_buf_write(b, sign, sl);
		kmm_buf_write(b, digits, n);
		pad(b, ' ', fill);
	} else if (zero) {
		kmm_buf_write(b, sign, sl);
		pad(b, '0', fill);
		kmm_buf_write(b, digits, n);
	} else {
		pad(b, ' ', fill);
		kmm_buf_write(b, sign, sl);
		kmm_buf_write(b, digits, n);
	}
}

static size_t utoa(char *end, unsigned long long v, unsigned base, int upper, int group)
{
	const char *dig = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char *p = end;
	int n = 0;
	do {
		if (group && n > 0 && n % 3 == 0)
			*--p = ',';
		*--p = dig[v % base];
		v /= base;
		n++;
	} while (v != 0);
	return (size_t)(end - p);
}

KMM_COLD void kmm_buf_vprintf(struct kmm_buf *b, const char *fmt, va_list ap)
{
	char tmp[96];
	for (const char *f = fmt; *f; f++) {
		if (*f != '%') {
			const char *run = f;
			while (f[1] && f[1] != '%')
				f++;
			kmm_buf_write(b, run, (size_t)(f - run + 1));
			continue;
		}
		f++;
		int left = 0, zero = 0, group = 0, alt = 0, width = 0, prec = -1, lng = 0;
		for (;; f++) {
			if (*f == '-') left = 1;
			else if (*f == '0') zero = 1;
			else if (*f == '\'') group = 1;
			else if (*f == '#') alt = 1;
			else break;
		}
		if (*f == '*') {
			width = va_arg(ap, int);
			if (width < 0) { left = 1; width = -width; }
			f++;
		} else {
			while (*f >= '0' && *f <= '9')
				width = width * 10 + (*f++ - '0');
		}
		if (*f == '.') {
			f++;
			prec = 0;
			if (*f == '*') {
				prec = va_arg(ap, int);
				f++;
			} else {
				while (*f >= '0' && *f <= '9')
					prec = prec * 10 + (*f++ - '0');
			}
		}
		for (;; f++) {
			if (*f == 'l') lng++;
			else if (*f == 'z' || *f == 'j' || *f == 't') lng = 2;
			else break;
		}
		char *end = tmp + sizeof tmp;
		switch (*f) {
		case '%':
			kmm_buf_putc(b, '%');
			break;
		case 'c':
			tmp[0] = (char)va_arg(ap, int);
			field(b, "", tmp, 1, width, left, 0);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (s == NULL)
				s = "(null)";
			size_t n = strlen(s);
			if (prec >= 0 && (size_t)prec < n)
				n = (size_t)prec;
			field(b, "", s, n, width, left, 0);
			break;
		}
		case 'd':
		case 'i': {
			long long v = lng >= 2 ? va_arg(ap, long long)
				    : lng == 1 ? va_arg(ap, long) : va_arg(ap, int);
			unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
			size_t n = utoa(end, u, 10, 0, group);
			field(b, v < 0 ? "-" : "", end - n, n, width, left, zero);
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			unsigned long long v = lng >= 2 ? va_arg(ap, unsigned long long)
					     : lng == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
			size_t n = utoa(end, v, *f == 'u' ? 10 : 16, *f == 'X', group && *f == 'u');
			field(b, alt && *f != 'u' && v != 0 ? "0x" : "", end - n, n, width, left, zero);
			break;
		}
		case 'p': {
			uintptr_t v = (uintptr_t)va_arg(ap, void *);
			size_t n = utoa(end, v, 16, 0, 0);
			field(b, "0x", end - n, n, width, left, zero);
			break;
		}
		case '\0':
			return;
		default:
			kmm_buf_putc(b, '%');
			kmm_buf_putc(b, *f);
			break;
		}
	}
}

KMM_COLD void kmm_buf_printf(struct kmm_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kmm_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

KMM_COLD void kmm_buf_size(struct kmm_buf *b, unsigned long long bytes)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	if (bytes < 1024) {
		kmm_buf_printf(b, "%llu B", bytes);
		return;
	}
	unsigned u = 0;
	unsigned long long whole = bytes, scale = 1;
	while (whole >= 1024 && u + 1 < KMM_ARRAY_SIZE(unit)) {
		whole /= 1024;
		scale *= 1024;
		u++;
	}
	/* one decimal, rounded */
	unsigned long long tenths = (bytes * 10 + scale / 2) / scale;
	if (tenths % 10 == 0)
		kmm_buf_printf(b, "%llu %s", tenths / 10, unit[u]);
	else
		kmm_buf_printf(b, "%llu.%llu %s", tenths / 10, tenths % 10, unit[u]);
}

KMM_COLD size_t kmm_snprintf(char *dst, size_t cap, const char *fmt, ...)
{
	struct kmm_buf b;
	va_list ap;
	kmm_buf_init(&b, dst, cap, -1);
	va_start(ap, fmt);
	kmm_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return b.len;
}

static KMM_COLD void say(const char *fmt, va_list ap)
{
	char line[512];
	struct kmm_buf b;
	kmm_buf_init(&b, line, sizeof line, -1);
	kmm_buf_puts(&b, "kmm: ");
	kmm_buf_vprintf(&b, fmt, ap);
	if (b.len + 1 >= sizeof line)
		b.len = sizeof line - 2;
	line[b.len++] = '\n';
	kmm_os_write_all(2, line, b.len);
}

KMM_COLD void kmm_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say(fmt, ap);
	va_end(ap);
	kmm_os_abort();
}

bool kmm_glibc_messages;

KMM_COLD void kmm_printerr(const char *glibc, const char *detail, ...)
{
	char line[512];
	struct kmm_buf b;
	kmm_buf_init(&b, line, sizeof line, -1);
	if (!kmm_glibc_messages)
		kmm_buf_puts(&b, "kmm: ");
	kmm_buf_puts(&b, glibc);
	if (!kmm_glibc_messages && detail != NULL) {
		va_list ap;
		va_start(ap, detail);
		kmm_buf_vprintf(&b, detail, ap);
		va_end(ap);
	}
	if (b.len + 1 >= sizeof line)
		b.len = sizeof line - 2;
	line[b.len++] = '\n';
	kmm_os_write_all(2, line, b.len);
	kmm_os_abort();
}

KMM_COLD void kmm_printerr_ptr(const char *who, const char *what, const void *ptr, const char *why)
{
	char g[64];
	kmm_snprintf(g, sizeof g, "%s: %s", who, what);
	kmm_printerr(g, " %p (%s)", ptr, why);
}

KMM_COLD const char *kmm_strerror(int err, char *buf, size_t cap)
{
	static const struct { int err; const char *text; } texts[] = {
		{ EPERM, "Operation not permitted" },
		{ ENOENT, "No such file or directory" },
		{ EIO, "Input/output error" },
		{ EBADF, "Bad file descriptor" },
		{ ENOMEM, "Cannot allocate memory" },
		{ EACCES, "Permission denied" },
		{ EFAULT, "Bad address" },
		{ EBUSY, "Device or resource busy" },
		{ EEXIST, "File exists" },
		{ ENOTDIR, "Not a directory" },
		{ EISDIR, "Is a directory" },
		{ EINVAL, "Invalid argument" },
		{ ENFILE, "Too many open files in system" },
		{ EMFILE, "Too many open files" },
		{ ETXTBSY, "Text file busy" },
		{ EFBIG, "File too large" },
		{ ENOSPC, "No space left on device" },
		{ EROFS, "Read-only file system" },
		{ ERANGE, "Numerical result out of range" },
		{ ENAMETOOLONG, "File name too long" },
		{ ELOOP, "Too many levels of symbolic links" },
		{ EDQUOT, "Disk quota exceeded" },
		{ ENXIO, "No such device or address" },
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
		if (texts[i].err == err)
			return texts[i].text;
	kmm_snprintf(buf, cap, "error %d", err);
	return buf;
}

KMM_COLD void kmm_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say(fmt, ap);
	va_end(ap);
}

KMM_COLD int kmm_check_vfail(int verbose, int *errors, const char *who, const char *fmt, va_list ap)
{
	(*errors)++;
	if (verbose && *errors <= 20) {
		char line[256];
		struct kmm_buf b;
		kmm_buf_init(&b, line, sizeof line, -1);
		kmm_buf_vprintf(&b, fmt, ap);
		kmm_warn("check: %s: %s", who, line);
	}
	return 0;
}

KMM_COLD int kmm_check_fail(int verbose, int *errors, const char *who, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kmm_check_vfail(verbose, errors, who, fmt, ap);
	va_end(ap);
	return 0;
}
