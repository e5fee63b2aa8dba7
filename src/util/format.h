/*
 * format.h — text output without stdio or malloc.
 *
 * kmm formats every report and diagnostic itself into a fixed buffer (on the
 * stack) and writes it with write(2) through the OS layer, so reporting is
 * safe from inside malloc, with locks held, and in a process whose stdio is
 * broken.  A buffer bound to a file descriptor flushes itself when full, so
 * reports of any length stream through a small buffer.
 *
 * The printf subset: %% %c %s %d %i %u %x %X %p, length modifiers l, ll, z,
 * flags '-' (left-justify), '0' (zero pad), "'" (thousands separators),
 * '#' (0x before a non-zero %x),
 * a decimal field width or '*', and a precision for %s ('.N' or '.*').
 */
#ifndef KMM_FORMAT_H
#define KMM_FORMAT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "compiler.h"

struct kmm_buf {
	char  *data;
	size_t len;      /* bytes in data */
	size_t cap;      /* size of data */
	int    fd;       /* flush target, or -1 for a fixed string buffer */
	int    truncated;/* a string buffer ran out of room */
	/* flush target instead of fd (kmm_buf_init_sink) */
	void (*sink)(void *ctx, const char *data, size_t len);
	void  *sink_ctx;
};

/* A buffer that flushes to `fd` when full (fd >= 0), or a string buffer
 * (fd < 0) that is always NUL-terminated and truncates on overflow. */
void kmm_buf_init(struct kmm_buf *b, char *data, size_t cap, int fd);
/* A buffer that hands its contents to sink() whenever it is full and on
 * kmm_buf_flush() (used to write reports to a stdio FILE from outside any
 * kmm lock). */
void kmm_buf_init_sink(struct kmm_buf *b, char *data, size_t cap,
		       void (*sink)(void *ctx, const char *data, size_t len), void *ctx);
void kmm_buf_flush(struct kmm_buf *b);
void kmm_buf_putc(struct kmm_buf *b, char c);
void kmm_buf_write(struct kmm_buf *b, const char *s, size_t n);
void kmm_buf_puts(struct kmm_buf *b, const char *s);
void kmm_buf_printf(struct kmm_buf *b, const char *fmt, ...) KMM_PRINTF(2, 3);
void kmm_buf_vprintf(struct kmm_buf *b, const char *fmt, va_list ap);

/* "1.5 MiB", "512 KiB", "100 B": human-readable sizes for reports. */
void kmm_buf_size(struct kmm_buf *b, unsigned long long bytes);

/* snprintf into a fixed array; returns the length written (truncated). */
size_t kmm_snprintf(char *dst, size_t cap, const char *fmt, ...) KMM_PRINTF(3, 4);

/* Print "kmm: <message>\n" to standard error (one write) and abort().
 * This is how heap corruption and misuse are reported, like glibc's
 * malloc_printerr. */
KMM_NORETURN KMM_COLD void kmm_fatal(const char *fmt, ...) KMM_PRINTF(1, 2);

/* Heap corruption found by a check glibc makes too (glibc's
 * malloc_printerr): `glibc` is glibc's exact text, `detail` a printf
 * format (or NULL) for what kmm adds.  Prints "kmm: <glibc><detail>\n",
 * or under kmm_glibc_messages (profile=glibc) "<glibc>\n" as glibc does,
 * in one write to standard error; then abort(). */
KMM_NORETURN KMM_COLD void kmm_printerr(const char *glibc, const char *detail, ...) KMM_PRINTF(2, 3);
extern bool kmm_glibc_messages;

/* kmm_printerr for a bad pointer handed to WHO ("free()", "realloc()"):
 * glibc's text "WHO: WHAT" ("invalid pointer", "invalid size"), then
 * " PTR (WHY)" as kmm's detail. */
KMM_NORETURN KMM_COLD void kmm_printerr_ptr(const char *who, const char *what, const void *ptr, const char *why);

/* The text of an errno value as glibc's strerror gives it in the C locale
 * ("No such file or directory"), for the errors opening or writing a file
 * can meet; "error N" for others.  Never allocates (strerror may, to
 * translate). */
const char *kmm_strerror(int err, char *buf, size_t cap);

/* Print "kmm: <message>\n" to standard error and carry on. */
KMM_COLD void kmm_warn(const char *fmt, ...) KMM_PRINTF(1, 2);

/* For invariant checkers: count one violation in *errors and, if verbose,
 * print the first 20 as "kmm: check: WHO: message" on stderr.  Returns 0. */
KMM_COLD int kmm_check_fail(int verbose, int *errors, const char *who, const char *fmt, ...) KMM_PRINTF(4, 5);
KMM_COLD int kmm_check_vfail(int verbose, int *errors, const char *who, const char *fmt, va_list ap)
	KMM_PRINTF(4, 0);

#endif /* KMM_FORMAT_H */
