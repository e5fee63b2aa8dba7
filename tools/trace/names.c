/*
 * names.c — the numbers of the log as words: serving paths, calls, region
 * kinds, protections, mmap and mremap flags, madvise advice, results.
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

#include <errno.h>
#include <sys/mman.h>

static const char *errname(int e)
{
	static const struct { int e; const char *n; } t[] = {
		{EPERM, "EPERM"}, {ENOENT, "ENOENT"}, {EINTR, "EINTR"}, {EBADF, "EBADF"},
		{EAGAIN, "EAGAIN"}, {ENOMEM, "ENOMEM"}, {EACCES, "EACCES"}, {EFAULT, "EFAULT"},
		{EBUSY, "EBUSY"}, {EEXIST, "EEXIST"}, {EINVAL, "EINVAL"}, {EFBIG, "EFBIG"},
		{ENOSPC, "ENOSPC"}, {ENOSYS, "ENOSYS"}, {EOVERFLOW, "EOVERFLOW"},
		{EOPNOTSUPP, "EOPNOTSUPP"},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (t[i].e == e)
			return t[i].n;
	return NULL;
}

/* "0x7f..." or "-ENOMEM" */
const char *kt_hresult(uint64_t r, char *buf, size_t n)
{
	if (kt_is_err(r)) {
		const char *en = errname((int)-(int64_t)r);
		if (en)
			snprintf(buf, n, "-%s", en);
		else
			snprintf(buf, n, "-%" PRId64, -(int64_t)r);
	} else
		snprintf(buf, n, "0x%" PRIx64, r);
	return buf;
}

const char *kt_path_str(unsigned p, char *buf, size_t n)
{
	const char *s = kmm_trace_path_name(p);
	if (s)
		return s;
	snprintf(buf, n, "path %u", p);
	return buf;
}

/* the name of a malloc-family call */
const char *kt_op_name(unsigned t)
{
	return kmm_trace_is_call(t) ? kmm_trace_type_name(t) : "?";
}

const char *kt_region_kind(uint64_t k)
{
	return k < KMM_REGION_KIND_NR ? kmm_region_kind_names[k] : "region";
}

const char *kt_prot_str(uint64_t prot, char *buf, size_t n)
{
	if (!(prot & 7) && !(prot >> 3)) {
		snprintf(buf, n, "none");
		return buf;
	}
	size_t k = 0;
	if (prot & PROT_READ)
		buf[k++] = 'r';
	if (prot & PROT_WRITE)
		buf[k++] = 'w';
	if (prot & PROT_EXEC)
		buf[k++] = 'x';
	buf[k] = 0;
	uint64_t rest = prot & ~(uint64_t)(PROT_READ | PROT_WRITE | PROT_EXEC);
	if (rest)
		snprintf(buf + k, n - k, "%s0x%" PRIx64, k ? "|" : "", rest);
	return buf;
}

struct flagname { uint64_t v; const char *n; };

static const char *flags_str(uint64_t f, const struct flagname *t, size_t nt, char *buf, size_t n)
{
	size_t k = 0;
	buf[0] = 0;
	for (size_t i = 0; i < nt; i++)
		if (t[i].v && (f & t[i].v) == t[i].v) {
			k += (size_t)snprintf(buf + k, n > k ? n - k : 0, "%s%s", k ? "|" : "", t[i].n);
			f &= ~t[i].v;
			if (k >= n)
				return buf;
		}
	if (f || !k)
		snprintf(buf + k, n > k ? n - k : 0, "%s0x%" PRIx64, k ? "|" : "", f);
	return buf;
}

const char *kt_mmap_flags_str(uint64_t f, char *buf, size_t n)
{
	static const struct flagname t[] = {
#ifdef MAP_SHARED_VALIDATE
		{MAP_SHARED_VALIDATE, "shared_validate"},
#endif
		{MAP_SHARED, "shared"}, {MAP_PRIVATE, "private"}, {MAP_FIXED, "fixed"},
		{MAP_ANONYMOUS, "anonymous"},
#ifdef MAP_NORESERVE
		{MAP_NORESERVE, "noreserve"},
#endif
#ifdef MAP_POPULATE
		{MAP_POPULATE, "populate"},
#endif
#ifdef MAP_FIXED_NOREPLACE
		{MAP_FIXED_NOREPLACE, "fixed_noreplace"},
#endif
#ifdef MAP_STACK
		{MAP_STACK, "stack"},
#endif
#ifdef MAP_HUGETLB
		{MAP_HUGETLB, "hugetlb"},
#endif
#ifdef MAP_GROWSDOWN
		{MAP_GROWSDOWN, "growsdown"},
#endif
#ifdef MAP_LOCKED
		{MAP_LOCKED, "locked"},
#endif
#ifdef MAP_NONBLOCK
		{MAP_NONBLOCK, "nonblock"},
#endif
	};
	return flags_str(f, t, sizeof t / sizeof t[0], buf, n);
}

const char *kt_mremap_flags_str(uint64_t f, char *buf, size_t n)
{
	static const struct flagname t[] = {
		{1, "maymove"}, {2, "fixed"}, {4, "dontunmap"},
	};
	if (!f)
		return strcpy(buf, "0");
	return flags_str(f, t, sizeof t / sizeof t[0], buf, n);
}

const char *kt_advice_str(uint64_t a, char *buf, size_t n)
{
	static const struct { uint64_t v; const char *n; } t[] = {
		{MADV_NORMAL, "normal"}, {MADV_RANDOM, "random"}, {MADV_SEQUENTIAL, "sequential"},
		{MADV_WILLNEED, "willneed"}, {MADV_DONTNEED, "dontneed"},
#ifdef MADV_FREE
		{MADV_FREE, "free"},
#endif
#ifdef MADV_REMOVE
		{MADV_REMOVE, "remove"},
#endif
#ifdef MADV_DONTFORK
		{MADV_DONTFORK, "dontfork"}, {MADV_DOFORK, "dofork"},
#endif
#ifdef MADV_HUGEPAGE
		{MADV_HUGEPAGE, "hugepage"}, {MADV_NOHUGEPAGE, "nohugepage"},
#endif
#ifdef MADV_DONTDUMP
		{MADV_DONTDUMP, "dontdump"}, {MADV_DODUMP, "dodump"},
#endif
#ifdef MADV_COLD
		{MADV_COLD, "cold"}, {MADV_PAGEOUT, "pageout"},
#endif
#ifdef MADV_POPULATE_READ
		{MADV_POPULATE_READ, "populate_read"}, {MADV_POPULATE_WRITE, "populate_write"},
#endif
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (t[i].v == a)
			return t[i].n;
	snprintf(buf, n, "advice %" PRIu64, a);
	return buf;
}
