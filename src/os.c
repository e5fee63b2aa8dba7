/*
 * os.c — the OS layer.  See os.h for the contract of each call.
 *
 * Every system call kmm makes is in this file, but for the trace log's own
 * input and output (src/trace.c: openat, writev, read and close of the log
 * and of /proc/self files, gettid), which sits below this layer on the
 * raw calls of sys.h so that it can record this layer's calls.  The
 * memory ones are:
 *
 *   brk      kmm_os_sbrk      main arena growth and trimming (through libc's
 *                             sbrk so the program's sbrk(0) stays exact)
 *   mmap     kmm_os_map*      buddy sections and vmalloc spaces (big blocks),
 *                             the main arena's fallback when brk fails, and
 *                             the 64 MiB PROT_NONE reservations of the
 *                             further arenas' heaps
 *   munmap   kmm_os_unmap     freeing those (and trimming a reservation to
 *                             its aligned 64 MiB)
 *   mremap   kmm_os_move_pages   vmalloc mapping buddy frames into an area
 *                              and back, and moving a demand-paged area's
 *                              pages when realloc cannot grow it in place
 *                              (MREMAP_DONTUNMAP: page tables move,
 *                              contents are not copied)
 *   mmap     kmm_os_reserve_fixed  re-reserving a range PROT_NONE (a
 *                             purged or shrunk vmalloc area, a guard page)
 *   mmap     kmm_os_commit_fixed  a demand-paged vmalloc area made
 *                             read-write in its reserved range
 *   mprotect kmm_os_protect   growing a heap of a further arena
 *   madvise  (MADV_DONTNEED)  calloc clearing a reused demand-paged area
 *   madvise  kmm_os_advise    malloc_trim, shrinking a further arena's heap,
 *                             the buddy allocator returning free pages,
 *                             MADV_POPULATE_WRITE
 *   mincore  kmm_os_resident_pages  resident pages for the reports
 *   process_vm_readv  kmm_os_read_self  the leak scanner reading its roots
 *   openat, ftruncate, mmap (MAP_SHARED), unlinkat, kill(pid, 0),
 *   getdents64
 *            kmm_os_shm_create...  the live view's segment (KMM_LIVE=1,
 *                             live.c), the one shared mapping kmm makes
 *
 * Besides those: futex (kmm's locks, util/lock.c; with a timeout only in
 * the fork handler, which gives up on a lock after 100 ms), sched_yield
 * (the same handler waiting for a trace spin lock), the report and option
 * files' open/read/write/close, and the identity calls (getpid, gettid,
 * sched_getaffinity, getrandom).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "os.h"
#include "live_format.h"
#include "sys.h"
#include "trace.h"

/* Raw system calls (sys.h): the calls a running program makes all the
 * time go straight to the kernel, not through libc's wrappers. */

/* System calls counted for the live view (kmm_os_count_syscalls). */
static bool count_on;
static uint64_t sc_count[KMM_LIVE_SC_NR];

static inline void count(enum kmm_live_syscall sc)
{
	if (KMM_UNLIKELY(__atomic_load_n(&count_on, __ATOMIC_RELAXED)))
		__atomic_add_fetch(&sc_count[sc], 1, __ATOMIC_RELAXED);
}

/* A raw result as libc would give it: -1 with errno set on failure. */
static inline long set_errno(long r)
{
	if (KMM_UNLIKELY(r < 0 && r > -4096)) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* mmap's result: the address, or MAP_FAILED with errno set. */
static inline void *raw_mmap(void *addr, size_t len, int prot, int flags)
{
	long r = KMM_RAW6(SYS_mmap, addr, len, prot, flags, -1, 0);
	count(KMM_LIVE_SC_MMAP);
	KMM_TRACE(KMM_TR_MMAP, 0, 0, addr, len, (uint32_t)prot | (uint64_t)(uint32_t)flags << 32, r);
	return set_errno(r) == -1 ? MAP_FAILED : (void *)r;
}

static inline void *raw_mremap(void *from, size_t old_len, size_t new_len, int flags, void *to)
{
	long r = KMM_RAW5(SYS_mremap, from, old_len, new_len, flags, to);
	count(KMM_LIVE_SC_MREMAP);
	KMM_TRACE(KMM_TR_MREMAP, 0, (uint32_t)flags, from, old_len, new_len, r);
	return set_errno(r) == -1 ? MAP_FAILED : (void *)r;
}

#if !defined(__x86_64__) && !defined(__i386__)   /* (inline in os.h there) */
size_t kmm_os_page_size(void)
{
	static size_t page_size;
	size_t ps = __atomic_load_n(&page_size, __ATOMIC_RELAXED);
	if (KMM_UNLIKELY(ps == 0)) {
		ps = (size_t)getauxval(AT_PAGESZ);
		if (ps == 0 || (ps & (ps - 1)) != 0)
			ps = 4096;
		__atomic_store_n(&page_size, ps, __ATOMIC_RELAXED);
	}
	return ps;
}
#endif

/* Failure injection (the fail= option): the fail_at-th call, counted from
 * the start of the process, of those that may need memory (sbrk growing
 * the break, mmap of new memory, mremap moving pages, mmap committing a
 * reserved range, mprotect making memory writable) fails with ENOMEM
 * without being made; the calls after it are made as usual, or fail too
 * (fail_from=). */
static uint64_t fail_at, fail_calls;
static bool fail_on;   /* fail_from=: that call and every one after it */

void kmm_os_fail_at(uint64_t n, bool and_after)
{
	__atomic_store_n(&fail_on, and_after, __ATOMIC_RELAXED);
	__atomic_store_n(&fail_at, n, __ATOMIC_RELAXED);
}

uint64_t kmm_os_fail_setting(bool *and_after)
{
	*and_after = __atomic_load_n(&fail_on, __ATOMIC_RELAXED);
	return __atomic_load_n(&fail_at, __ATOMIC_RELAXED);
}

uint64_t kmm_os_fail_calls(void)
{
	return __atomic_load_n(&fail_calls, __ATOMIC_RELAXED);
}

static inline bool injected_failure(void)
{
	uint64_t at = __atomic_load_n(&fail_at, __ATOMIC_RELAXED);
	if (KMM_LIKELY(at == 0))
		return false;
	uint64_t n = __atomic_add_fetch(&fail_calls, 1, __ATOMIC_RELAXED);
	if (n != at && !(n > at && __atomic_load_n(&fail_on, __ATOMIC_RELAXED)))
		return false;
	errno = ENOMEM;
	return true;
}

KMM_HOT void *kmm_os_sbrk(intptr_t increment)
{
	if (KMM_UNLIKELY(increment > 0 && injected_failure()))
		return (void *)-1;
	void *old = sbrk(increment);
	if (increment != 0)
		count(KMM_LIVE_SC_BRK);
	if (KMM_UNLIKELY(kmm_trace_on) && increment != 0) {   /* sbrk(0) makes no system call */
		bool ok = old != (void *)-1;
		kmm_trace_event(KMM_TR_BRK, 0, 0, ok ? (uintptr_t)old : 0, ok ? (uintptr_t)old + (uintptr_t)increment : 0,
				0, ok ? (uint64_t)((uintptr_t)old + (uintptr_t)increment) : (uint64_t)-(int64_t)errno);
	}
	return old;
}

KMM_HOT void *kmm_os_map_at(void *hint, size_t len, int prot, int extra_flags)
{
	if (KMM_UNLIKELY(prot != PROT_NONE && injected_failure()))
		return NULL;
	void *p = raw_mmap(hint, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags);
	return p == MAP_FAILED ? NULL : p;
}

KMM_HOT void *kmm_os_map(size_t len, int extra_flags)
{
	return kmm_os_map_at(NULL, len, PROT_READ | PROT_WRITE, extra_flags);
}

KMM_HOT int kmm_os_unmap(void *addr, size_t len)
{
	long r = KMM_RAW3(SYS_munmap, addr, len, 0);
	count(KMM_LIVE_SC_MUNMAP);
	KMM_TRACE(KMM_TR_MUNMAP, 0, 0, addr, len, 0, r);
	return (int)set_errno(r);
}

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

static int dontunmap_broken;   /* the kernel refused MREMAP_DONTUNMAP once */

int kmm_os_move_pages(void *from, void *to, size_t len)
{
	if (KMM_UNLIKELY(injected_failure()))
		return -1;
	if (!__atomic_load_n(&dontunmap_broken, __ATOMIC_RELAXED)) {
		void *r = raw_mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, to);
		if (r != MAP_FAILED)
			return 0;
		if (errno != EINVAL)
			return -1;
		__atomic_store_n(&dontunmap_broken, 1, __ATOMIC_RELAXED);
	}
	/* old kernel: move, then put an empty mapping back at the source
	 * (NOREPLACE: never over a mapping someone made in the meantime) */
	void *r = raw_mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (r == MAP_FAILED)
		return -1;
	r = raw_mmap(from, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE);
	return r == from ? 0 : -1;
}

KMM_HOT int kmm_os_reserve_fixed(void *addr, size_t len)
{
	void *r = raw_mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE);
	return r == MAP_FAILED ? -1 : 0;
}

KMM_HOT int kmm_os_commit_fixed(void *addr, size_t len)
{
	if (KMM_UNLIKELY(injected_failure()))
		return -1;
	void *r = raw_mmap(addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
	return r == MAP_FAILED ? -1 : 0;
}

KMM_COLD long kmm_os_resident_pages(void *addr, size_t len)
{
	unsigned char vec[512];
	size_t ps = kmm_os_page_size();
	size_t pages = (len + ps - 1) / ps;
	long resident = 0;
	int saved = errno;
	for (size_t done = 0; done < pages;) {
		size_t n = pages - done < sizeof vec ? pages - done : sizeof vec;
		count(KMM_LIVE_SC_MINCORE);
		if (mincore((char *)addr + done * ps, n * ps, vec) != 0) {
			errno = saved;
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			resident += vec[i] & 1;
		done += n;
	}
	errno = saved;
	return resident;
}

long kmm_os_mincore(void *addr, size_t len, unsigned char *vec)
{
	int saved = errno;
	size_t ps = kmm_os_page_size();
	long resident = 0;
	count(KMM_LIVE_SC_MINCORE);
	if (mincore(addr, len, vec) != 0) {
		errno = saved;
		return -1;
	}
	for (size_t i = 0; i < (len + ps - 1) / ps; i++)
		resident += vec[i] & 1;
	errno = saved;
	return resident;
}

KMM_COLD void kmm_os_faults(unsigned long *minor, unsigned long *major)
{
	struct rusage ru;
	int saved = errno;
	if (getrusage(RUSAGE_SELF, &ru) != 0) {
		ru.ru_minflt = 0;
		ru.ru_majflt = 0;
	}
	errno = saved;
	*minor = (unsigned long)ru.ru_minflt;
	*major = (unsigned long)ru.ru_majflt;
}

KMM_HOT int kmm_os_protect(void *addr, size_t len, int prot)
{
	if (KMM_UNLIKELY((prot & PROT_WRITE) && injected_failure()))
		return -1;
	long r = KMM_RAW3(SYS_mprotect, addr, len, prot);
	count(KMM_LIVE_SC_MPROTECT);
	KMM_TRACE(KMM_TR_MPROTECT, 0, 0, addr, len, prot, r);
	return (int)set_errno(r);
}

KMM_HOT int kmm_os_advise(void *addr, size_t len, int advice)
{
	long r = KMM_RAW3(SYS_madvise, addr, len, advice);
	count(KMM_LIVE_SC_MADVISE);
	KMM_TRACE(KMM_TR_MADVISE, 0, 0, addr, len, advice, r);
	return (int)set_errno(r);
}

/* The file calls below are raw system calls that leave errno alone:
 * libc's wrappers are cancellation points, and a thread with a pending
 * cancellation request must not be cancelled half way through a report
 * (glibc's tst-malloc-stats-cancellation) or inside malloc. */
KMM_COLD int kmm_os_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		long n = KMM_RAW3(SYS_write, fd, p, len);
		if (n == -EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

KMM_COLD int kmm_os_open(const char *path, int flags, int mode)
{
	long fd;
	do
		fd = KMM_RAW5(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, mode, 0);
	while (fd == -EINTR);
	return fd < 0 ? -1 : (int)fd;
}

KMM_COLD int kmm_os_open_err(const char *path, int flags, int mode)
{
	long fd;
	do
		fd = KMM_RAW5(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, mode, 0);
	while (fd == -EINTR);
	return (int)fd;
}

KMM_COLD int kmm_os_stat_mode(const char *path, unsigned *mode)
{
	struct stat st;
	long r = KMM_RAW5(SYS_newfstatat, AT_FDCWD, path, &st, 0, 0);
	if (r < 0)
		return (int)r;
	*mode = st.st_mode;
	return 0;
}

KMM_COLD long kmm_os_getcwd(char *buf, size_t cap)
{
	/* the raw call returns the length including the NUL */
	long n = KMM_RAW3(SYS_getcwd, buf, cap, 0);
	if (n < 0)
		return n;
	if (n == 0 || buf[0] != '/')   /* "(unreachable)...": not a usable path */
		return -ENOENT;
	return n - 1;
}

KMM_COLD ssize_t kmm_os_read(int fd, void *buf, size_t len)
{
	long n;
	do
		n = KMM_RAW3(SYS_read, fd, buf, len);
	while (n == -EINTR);
	return n < 0 ? -1 : n;
}

KMM_COLD void kmm_os_close(int fd)
{
	KMM_RAW3(SYS_close, fd, 0, 0);
}

KMM_COLD ssize_t kmm_os_pread(int fd, void *buf, size_t len, off_t off)
{
	long n;
	do
		n = KMM_RAW5(SYS_pread64, fd, buf, len, off, 0);
	while (n == -EINTR);
	return n < 0 ? -1 : n;
}

KMM_COLD ssize_t kmm_os_readlink(const char *path, char *buf, size_t len)
{
	int saved = errno;
	ssize_t n = readlink(path, buf, len);
	errno = saved;
	return n;
}

KMM_COLD int kmm_os_dup_fd(int fd, int min_fd)
{
	int saved = errno;
	int r = fcntl(fd, F_DUPFD_CLOEXEC, min_fd);
	errno = saved;
	return r;
}

KMM_COLD long kmm_os_read_self(void *dst, const void *src, size_t len)
{
	struct iovec local = { dst, len }, remote = { (void *)src, len };
	return KMM_RAW6(SYS_process_vm_readv, KMM_RAW0(SYS_getpid), &local, 1, &remote, 1, 0);
}

KMM_HOT void kmm_os_futex_wait(volatile int *addr, int expected)
{
	count(KMM_LIVE_SC_FUTEX);
	KMM_RAW6(SYS_futex, addr, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

KMM_COLD void kmm_os_futex_wait_ns(volatile int *addr, int expected, uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
	count(KMM_LIVE_SC_FUTEX);
	KMM_RAW6(SYS_futex, addr, FUTEX_WAIT_PRIVATE, expected, &ts, NULL, 0);
}

KMM_COLD void kmm_os_yield(void)
{
	KMM_RAW0(SYS_sched_yield);
}

KMM_HOT void kmm_os_futex_wake(volatile int *addr, int n)
{
	count(KMM_LIVE_SC_FUTEX);
	KMM_RAW6(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

KMM_HOT int kmm_os_ncpus(void)
{
	unsigned long set[1024 / (8 * sizeof(unsigned long))];
	/* the raw call returns the bytes of the mask it filled */
	long bytes = KMM_RAW3(SYS_sched_getaffinity, 0, sizeof set, set);
	if (bytes <= 0)
		return 1;
	int n = 0;
	for (size_t i = 0; i < (size_t)bytes / sizeof set[0]; i++)
		n += __builtin_popcountl(set[i]);
	return n > 0 ? n : 1;
}

KMM_HOT pid_t kmm_os_getpid(void)
{
	return (pid_t)KMM_RAW0(SYS_getpid);
}

KMM_HOT pid_t kmm_os_gettid(void)
{
	return (pid_t)KMM_RAW0(SYS_gettid);
}

/* A clock in ns (clock_gettime: the vDSO, no system call on x86-64). */
static inline __attribute__((always_inline)) uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

KMM_COLD uint64_t kmm_os_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

KMM_COLD uint64_t kmm_os_realtime_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

KMM_COLD int kmm_os_set_signal(int sig, void (*handler)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL);
}

KMM_HOT uint64_t kmm_os_random(void)
{
	static uint64_t counter;
	uint64_t r = 0;
	if (KMM_RAW3(SYS_getrandom, &r, sizeof r, 0x1 /* GRND_NONBLOCK */) != (long)sizeof r) {
		/* AT_RANDOM: 16 random bytes the kernel put on the initial
		 * stack, mixed with the clock; the counter below makes
		 * successive calls differ. */
		const unsigned char *at = (const unsigned char *)getauxval(AT_RANDOM);
		r = kmm_os_now_ns();
		if (at != NULL)
			for (int i = 0; i < 8; i++)
				r ^= (uint64_t)at[i + 8] << (8 * i);
	}
	r += __atomic_add_fetch(&counter, 0x9e3779b97f4a7c15ull, __ATOMIC_RELAXED);
	/* splitmix64 finaliser */
	r = (r ^ (r >> 30)) * 0xbf58476d1ce4e5b9ull;
	r = (r ^ (r >> 27)) * 0x94d049bb133111ebull;
	return r ^ (r >> 31);
}

/* ---- the live view's segment -------------------------------------------------- */

KMM_COLD int kmm_os_shm_create(const char *path)
{
	long fd;
	do
		fd = KMM_RAW5(SYS_openat, AT_FDCWD, path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600, 0);
	while (fd == -EINTR);
	return (int)fd;
}

KMM_COLD int kmm_os_ftruncate(int fd, uint64_t len)
{
	long r;
	do
		r = KMM_RAW3(SYS_ftruncate, fd, len, 0);
	while (r == -EINTR);
	return (int)r;
}

KMM_COLD void *kmm_os_map_file_shared(int fd, size_t len)
{
	long r = KMM_RAW6(SYS_mmap, NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	count(KMM_LIVE_SC_MMAP);
	KMM_TRACE(KMM_TR_MMAP, 0, 0, 0, len, (uint32_t)(PROT_READ | PROT_WRITE) | (uint64_t)MAP_SHARED << 32, r);
	return r < 0 && r > -4096 ? NULL : (void *)r;
}

KMM_COLD int kmm_os_unlink(const char *path)
{
	return (int)KMM_RAW3(SYS_unlinkat, AT_FDCWD, path, 0);
}

KMM_COLD int kmm_os_probe_pid(pid_t pid)
{
	return (int)KMM_RAW3(SYS_kill, pid, 0, 0);
}

KMM_COLD long kmm_os_getdents(int fd, void *buf, size_t len)
{
	return KMM_RAW3(SYS_getdents64, fd, buf, len);
}

KMM_COLD uid_t kmm_os_getuid(void)
{
	return (uid_t)KMM_RAW0(SYS_getuid);
}

KMM_HOT uint64_t kmm_os_coarse_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC_COARSE);
}

KMM_COLD void kmm_os_count_syscalls(bool on)
{
	__atomic_store_n(&count_on, on, __ATOMIC_RELAXED);
}

KMM_COLD void kmm_os_syscall_counts(uint64_t *out)
{
	for (unsigned i = 0; i < KMM_LIVE_SC_NR; i++)
		out[i] = __atomic_load_n(&sc_count[i], __ATOMIC_RELAXED);
}

static void (*abort_hook)(void);

KMM_COLD void kmm_os_at_abort(void (*fn)(void))
{
	__atomic_store_n(&abort_hook, fn, __ATOMIC_RELEASE);
}

KMM_COLD void kmm_os_abort(void)
{
	void (*fn)(void) = __atomic_load_n(&abort_hook, __ATOMIC_ACQUIRE);
	if (fn != NULL)
		fn();
	abort();
}
