/*
 * compiler.h — attributes and branch hints used across kmm.
 */
#ifndef KMM_COMPILER_H
#define KMM_COMPILER_H

#define KMM_LIKELY(x)     __builtin_expect(!!(x), 1)
#define KMM_UNLIKELY(x)   __builtin_expect(!!(x), 0)
#define KMM_INLINE        static inline __attribute__((always_inline))
#define KMM_NOINLINE      __attribute__((noinline))
#define KMM_COLD          __attribute__((cold, noinline))
#define KMM_NORETURN      __attribute__((noreturn))
#define KMM_HIDDEN        __attribute__((visibility("hidden")))
#define KMM_EXPORT        __attribute__((visibility("default")))
#define KMM_PRINTF(f, a)  __attribute__((format(printf, f, a)))
#define KMM_TLS           __thread __attribute__((tls_model("initial-exec")))
#define KMM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Round up/down to a power-of-two alignment. */
#define KMM_ALIGN_UP(x, a)   (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define KMM_ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))


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
