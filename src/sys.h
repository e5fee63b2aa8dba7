/*
 * sys.h — raw system calls: the `syscall` instruction (svc on aarch64),
 * with libc's syscall() only as the fallback on other architectures.
 *
 * The lowest layer of kmm.  Two users: the OS layer (os.c), for the calls a
 * running program makes all the time, and the trace writer (trace.c), which
 * must depend on nothing else in kmm.
 *
 * Why not libc's wrappers: every libc function kmm calls maps another 64
 * KiB window of libc.so's text into the process (the kernel's fault-around
 * maps the neighbours of a faulting code page), and a program that never
 * called it itself pays for that in RSS.  strace shows the same calls
 * either way.  kmm_raw_syscall() returns what the kernel returned: a value
 * >= 0, or -errno; errno is not touched.
 */
#ifndef KMM_SYS_H
#define KMM_SYS_H

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
static inline long kmm_raw_syscall(long nr, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ __volatile__("syscall"
			     : "=a"(ret)
			     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			     : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
static inline long kmm_raw_syscall(long nr, long a, long b, long c, long d, long e, long f)
{
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ __volatile__("svc 0"
			     : "+r"(x0)
			     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			     : "memory");
	return x0;
}
#else
static inline long kmm_raw_syscall(long nr, long a, long b, long c, long d, long e, long f)
{
	int saved = errno;
	long r = syscall(nr, a, b, c, d, e, f);
	if (r == -1) {
		r = -errno;
		errno = saved;
	}
	return r;
}
#endif

#define KMM_RAW0(nr)                kmm_raw_syscall((nr), 0, 0, 0, 0, 0, 0)
#define KMM_RAW3(nr, a, b, c)       kmm_raw_syscall((nr), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define KMM_RAW5(nr, a, b, c, d, e) kmm_raw_syscall((nr), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)
#define KMM_RAW6(nr, a, b, c, d, e, f) \
	kmm_raw_syscall((nr), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

#endif /* KMM_SYS_H */
