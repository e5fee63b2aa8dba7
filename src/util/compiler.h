/*
 * compiler.h — attributes and branch hints used across kmm.
 */
#ifndef KMM_COMPILER_H
#define KMM_COMPILER_H

#define KMM_LIKELY(x)     __builtin_expect(!!(x), 1)
#define KMM_UNLIKELY(x)   __builtin_expect(!!(x), 0)
#define KMM_INLINE        static inline __attribute__((always_inline))
#define KMM_NOINLINE      __attribute__((noinline))

/*
 * Code placement.  The kernel maps a shared library's code into a process
 * in blocks of 64 KiB around each page the process executes (fault-around,
 * /sys/kernel/mm/.../fault_around_bytes), and every page so mapped counts
 * in the process's RSS.  kmm's code is about 100 KiB, most of it reports,
 * checkers and diagnostics that a normal run never executes; so the code
 * every program runs is kept together and the rest kept away from it:
 *
 *   .text.hot.kmm  KMM_HOT: malloc/free and their slow paths, arenas,
 *                  thread set-up and exit, start-up, the slab and buddy
 *                  paths behind them.  The linker's default script puts
 *                  all .text.hot.* sections in one run near the start of
 *                  .text.
 *   .text          everything else that may run (realloc to big blocks,
 *                  vmalloc, memalign, fork handlers, ...).
 *   kmm_cold_text  KMM_COLD: what runs only when asked for or when
 *                  something is wrong.  A section the default script does
 *                  not name: the linker places it after .text.
 *
 * Placement only: KMM_HOT changes no code generation (the GCC attribute
 * "hot" would; it is not used).  KMM_COLD does mark the function cold, so
 * calls to it are predicted not taken.  See docs/design.md, "Code layout".
 */
#define KMM_HOT           __attribute__((section(".text.hot.kmm")))
#define KMM_COLD          __attribute__((cold, noinline, section("kmm_cold_text")))
#define KMM_NORETURN      __attribute__((noreturn))
#define KMM_HIDDEN        __attribute__((visibility("hidden")))
#define KMM_EXPORT        __attribute__((visibility("default")))
#define KMM_PRINTF(f, a)  __attribute__((format(printf, f, a)))
#define KMM_TLS           __thread __attribute__((tls_model("initial-exec")))
#define KMM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Round up/down to a power-of-two alignment. */
#define KMM_ALIGN_UP(x, a)   (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define KMM_ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))

/*
 * KMM_ASSERT(cond): a precondition or invariant.  Debug builds
 * (./configure --enable-debug, KMM_DEBUG) abort with "kmm: assertion
 * failed: COND at FILE:LINE" (one write(2), no allocation) when cond is
 * false; release builds do not evaluate cond, only type-check it.  For
 * "caller holds lock L", see kmm_lock_assert_held (util/lock.h).
 */
#if KMM_DEBUG
KMM_NORETURN KMM_COLD void kmm_assert_fail(const char *expr, const char *file, int line);
#define KMM_ASSERT(cond) \
	(KMM_LIKELY(cond) ? (void)0 : kmm_assert_fail(#cond, __FILE__, __LINE__))
#else
#define KMM_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

/* Spin-wait hint. */
static inline void kmm_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

#endif /* KMM_COMPILER_H */
