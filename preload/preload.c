/*
 * preload.c — interposition: every symbol libkmm.so exports under glibc's
 * names is defined here and nowhere else.
 *
 * With LD_PRELOAD=libkmm.so (or `kmm run -- CMD`) the dynamic loader binds
 * the program's, libc's and every library's calls to these definitions.
 * Each one forwards to kmm's heap side; malloc and free are its inline fast
 * paths.  The symbols are unversioned on purpose: a version script that put
 * them under a named version would stop interposition.
 *
 * Exported here:
 *   the C malloc ABI      malloc free calloc realloc reallocarray memalign
 *                         posix_memalign aligned_alloc valloc pvalloc
 *                         malloc_usable_size mallopt mallinfo mallinfo2
 *                         malloc_trim malloc_stats malloc_info cfree
 *   glibc's aliases       __libc_malloc __libc_free __libc_calloc
 *                         __libc_realloc __libc_memalign __libc_valloc
 *                         __libc_pvalloc __libc_mallinfo __libc_mallopt
 *   C++ operators         new/new[]/delete/delete[] in every form (plain,
 *                         nothrow, sized, aligned), by their mangled names,
 *                         so that libkmm needs no C++ runtime: a C program
 *                         preloading kmm does not load libstdc++.
 */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "../src/heap/fastpath.h"
#include "../src/heap/heap.h"
#include "../src/util/format.h"

/* The C++ operators have no C prototypes to declare, and glibc declares the
 * malloc family with attributes (leaf, nothrow) that the aliases need not
 * repeat. */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wmissing-attributes"

#define EXPORT KMM_EXPORT
#define RET __builtin_return_address(0)
#define ALIAS(name) __attribute__((alias(#name), visibility("default")))

/* --- the C ABI ------------------------------------------------------------ */

EXPORT KMM_HOT void *malloc(size_t size)                        { return kmm_malloc_fast(size, RET); }
EXPORT KMM_HOT void  free(void *ptr)                            { kmm_free_fast(ptr); }
EXPORT KMM_HOT void *calloc(size_t n, size_t size)              { return kmm_heap_calloc(n, size, RET); }
EXPORT KMM_HOT void *realloc(void *ptr, size_t size)            { return kmm_heap_realloc(ptr, size, RET); }
EXPORT void *reallocarray(void *ptr, size_t n, size_t size) { return kmm_heap_reallocarray(ptr, n, size, RET); }
EXPORT void *memalign(size_t alignment, size_t size)    { return kmm_heap_memalign(alignment, size, RET); }
EXPORT int   posix_memalign(void **memptr, size_t alignment, size_t size)
{
	return kmm_heap_posix_memalign(memptr, alignment, size, RET);
}
EXPORT void *aligned_alloc(size_t alignment, size_t size) { return kmm_heap_aligned_alloc(alignment, size, RET); }
EXPORT void *valloc(size_t size)                        { return kmm_heap_valloc(size, RET); }
EXPORT void *pvalloc(size_t size)                       { return kmm_heap_pvalloc(size, RET); }
EXPORT size_t malloc_usable_size(void *ptr)             { return kmm_heap_usable_size(ptr); }
EXPORT int   mallopt(int param, int value)              { return kmm_heap_mallopt(param, value); }
EXPORT struct mallinfo  mallinfo(void)                  { return kmm_heap_mallinfo(); }
EXPORT struct mallinfo2 mallinfo2(void)                 { return kmm_heap_mallinfo2(); }
EXPORT int   malloc_trim(size_t pad)                    { return kmm_heap_trim(pad); }
EXPORT void  malloc_stats(void)                         { kmm_heap_malloc_stats(); }
EXPORT int   malloc_info(int options, FILE *fp)         { return kmm_heap_malloc_info(options, fp); }

/* cfree: gone from glibc's headers, still in its ABI for old binaries. */
void cfree(void *ptr) ALIAS(free);

void *__libc_malloc(size_t size) ALIAS(malloc);
void  __libc_free(void *ptr) ALIAS(free);
void *__libc_calloc(size_t n, size_t size) ALIAS(calloc);
void *__libc_realloc(void *ptr, size_t size) ALIAS(realloc);
void *__libc_memalign(size_t alignment, size_t size) ALIAS(memalign);
void *__libc_valloc(size_t size) ALIAS(valloc);
void *__libc_pvalloc(size_t size) ALIAS(pvalloc);
struct mallinfo __libc_mallinfo(void) ALIAS(mallinfo);
int __libc_mallopt(int param, int value) ALIAS(mallopt);

/* --- C++ operators ------------------------------------------------------ */

/* From the C++ runtime, if the program has one (weak: a C program has
 * none, and then nothing calls operator new). */
typedef void (*kmm_new_handler_t)(void);
extern kmm_new_handler_t _ZSt15get_new_handlerv(void) __attribute__((weak));
extern void *__cxa_allocate_exception(size_t) __attribute__((weak));
extern void __cxa_throw(void *, void *, void (*)(void *)) __attribute__((weak, noreturn));
extern char _ZTISt9bad_alloc[] __attribute__((weak));      /* typeinfo for std::bad_alloc */
extern char _ZTVSt9bad_alloc[] __attribute__((weak));      /* its vtable */
extern void _ZNSt9bad_allocD1Ev(void *) __attribute__((weak));

/* throw std::bad_alloc() */
static KMM_NORETURN KMM_COLD void throw_bad_alloc(void)
{
	if (__cxa_allocate_exception && __cxa_throw && _ZTISt9bad_alloc && _ZTVSt9bad_alloc) {
		void **e = __cxa_allocate_exception(sizeof(void *));
		/* the vtable pointer: past offset-to-top and the typeinfo slot */
		e[0] = _ZTVSt9bad_alloc + 2 * sizeof(void *);
		__cxa_throw(e, _ZTISt9bad_alloc, _ZNSt9bad_allocD1Ev);
	}
	kmm_fatal("operator new: out of memory, and std::bad_alloc cannot be thrown");
}

static void *alloc_for_new(size_t size, size_t align, const void *caller)
{
	return align > KMM_ALIGNMENT ? kmm_heap_memalign(align, size, caller) : kmm_malloc_fast(size, caller);
}

/* The standard's loop: call the new-handler until memory comes or there is
 * no handler; then throw (or return NULL for the nothrow forms). */
static KMM_COLD void *new_slow(size_t size, size_t align, bool nothrow, const void *caller)
{
	for (;;) {
		kmm_new_handler_t h = _ZSt15get_new_handlerv ? _ZSt15get_new_handlerv() : NULL;
		if (h == NULL) {
			if (nothrow)
				return NULL;
			throw_bad_alloc();
		}
		h();
		void *p = alloc_for_new(size, align, caller);
		if (p != NULL)
			return p;
	}
}

/* inlined into each operator, so RET is the operator's caller */
#define op_new(size) ({ \
	void *p_ = kmm_malloc_fast(size, RET); \
	KMM_LIKELY(p_ != NULL) ? p_ : new_slow(size, 0, false, RET); })
#define op_new_nothrow(size) ({ \
	void *p_ = kmm_malloc_fast(size, RET); \
	KMM_LIKELY(p_ != NULL) ? p_ : new_slow(size, 0, true, RET); })
#define op_new_aligned(size, align, nothrow) ({ \
	void *p_ = alloc_for_new(size, align, RET); \
	KMM_LIKELY(p_ != NULL) ? p_ : new_slow(size, align, nothrow, RET); })

typedef struct { int dummy; } nothrow_t;   /* only passed by reference */

/* operator new(size_t), new[](size_t), and their nothrow forms */
EXPORT KMM_HOT void *_Znwm(size_t n)                              { return op_new(n); }
EXPORT KMM_HOT void *_Znam(size_t n)                              { return op_new(n); }
EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const nothrow_t *t) { (void)t; return op_new_nothrow(n); }
EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const nothrow_t *t) { (void)t; return op_new_nothrow(n); }
/* aligned (C++17) */
EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t al)    { return op_new_aligned(n, al, false); }
EXPORT void *_ZnamSt11align_val_t(size_t n, size_t al)    { return op_new_aligned(n, al, false); }
EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const nothrow_t *t)
{
	(void)t;
	return op_new_aligned(n, al, true);
}
EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const nothrow_t *t)
{
	(void)t;
	return op_new_aligned(n, al, true);
}

/* operator delete in every form: kmm's free handles any chunk, whatever its
 * size or alignment. */
EXPORT KMM_HOT void _ZdlPv(void *p)                                        { kmm_free_fast(p); }
EXPORT KMM_HOT void _ZdaPv(void *p)                                        { kmm_free_fast(p); }
EXPORT KMM_HOT void _ZdlPvm(void *p, size_t n)                             { (void)n; kmm_free_fast(p); }
EXPORT KMM_HOT void _ZdaPvm(void *p, size_t n)                             { (void)n; kmm_free_fast(p); }
EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const nothrow_t *t)      { (void)t; kmm_free_fast(p); }
EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const nothrow_t *t)      { (void)t; kmm_free_fast(p); }
EXPORT void _ZdlPvSt11align_val_t(void *p, size_t al)              { (void)al; kmm_free_fast(p); }
EXPORT void _ZdaPvSt11align_val_t(void *p, size_t al)              { (void)al; kmm_free_fast(p); }
EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t al)   { (void)n; (void)al; kmm_free_fast(p); }
EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t al)   { (void)n; (void)al; kmm_free_fast(p); }
EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const nothrow_t *t)
{
	(void)al; (void)t;
	kmm_free_fast(p);
}
EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const nothrow_t *t)
{
	(void)al; (void)t;
	kmm_free_fast(p);
}
