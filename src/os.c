/*
 * os.c — the OS layer.  See os.h for the contract of each call.
 *
 * Every system call kmm makes is in this file.  The memory ones are:
 *
 *   brk      kmm_os_sbrk      main arena growth and trimming (through libc's
 *                             sbrk so the program's sbrk(0) stays exact)
 *   mmap     kmm_os_map*      buddy sections and vmalloc spaces (big blocks),
 *                             the main arena's fallback when brk fails, and
 *                             the 64 MiB PROT_NONE reservations of the
 *                             further arenas' heaps
 *   munmap   kmm_os_unmap     freeing those (and trimming a reservation to
 *                             its aligned 64 MiB)
 *   mremap   kmm_os_remap     realloc of mmapped chunks
 *   mremap   kmm_os_move_pages   vmalloc mapping buddy frames into an area
 *                              and back (MREMAP_DONTUNMAP: page tables
 *                              move, contents are not copied)
 *   mmap     kmm_os_reserve_fixed  re-reserving a range PROT_NONE
 *   mprotect kmm_os_protect   growing a heap of a further arena
 *   madvise  kmm_os_advise    malloc_trim, shrinking a further arena's heap,
 *                             the buddy allocator returning free pages,
 *                             MADV_POPULATE_WRITE
 *   mincore  kmm_os_resident_pages  resident pages for the reports
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "os.h"

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

void *kmm_os_sbrk(intptr_t increment)
{
	return sbrk(increment);
}

void *kmm_os_map_at(void *hint, size_t len, int prot, int extra_flags)
{
	void *p = mmap(hint, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void *kmm_os_map(size_t len, int extra_flags)
{
	return kmm_os_map_at(NULL, len, PROT_READ | PROT_WRITE, extra_flags);
}

int kmm_os_unmap(void *addr, size_t len)
{
	return munmap(addr, len);
}

void *kmm_os_remap(void *addr, size_t old_len, size_t new_len)
{
	void *p = mremap(addr, old_len, new_len, MREMAP_MAYMOVE);
	return p == MAP_FAILED ? NULL : p;
}

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

static int dontunmap_broken;   /* the kernel refused MREMAP_DONTUNMAP once */

int kmm_os_move_pages(void *from, void *to, size_t len)
{
	if (!__atomic_load_n(&dontunmap_broken, __ATOMIC_RELAXED)) {
		void *r = mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, to);
		if (r != MAP_FAILED)
			return 0;
		if (errno != EINVAL)
			return -1;
		__atomic_store_n(&dontunmap_broken, 1, __ATOMIC_RELAXED);
	}
	/* old kernel: move, then put an empty mapping back at the source
	 * (NOREPLACE: never over a mapping someone made in the meantime) */
	void *r = mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (r == MAP_FAILED)
		return -1;
	r = mmap(from, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);
	return r == from ? 0 : -1;
}

int kmm_os_reserve_fixed(void *addr, size_t len)
{
	void *r = mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
		       -1, 0);
	return r == MAP_FAILED ? -1 : 0;
}

long kmm_os_resident_pages(void *addr, size_t len)
{
	unsigned char vec[512];
	size_t ps = kmm_os_page_size();
	size_t pages = (len + ps - 1) / ps;
	long resident = 0;
	int saved = errno;
	for (size_t done = 0; done < pages;) {
		size_t n = pages - done < sizeof vec ? pages - done : sizeof vec;
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
	if (mincore(addr, len, vec) != 0) {
		errno = saved;
		return -1;
	}
	for (size_t i = 0; i < (len + ps - 1) / ps; i++)
		resident += vec[i] & 1;
	errno = saved;
	return resident;
}

void kmm_os_faults(unsigned long *minor, unsigned long *major)
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

int kmm_os_protect(void *addr, size_t len, int prot)
{
	return mprotect(addr, len, prot);
}

int kmm_os_advise(void *addr, size_t len, int advice)
{
	return madvise(addr, len, advice);
}

int kmm_os_write_all(int fd, const void *buf, size_t len)
{
	int saved = errno;
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			errno = saved;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	errno = saved;
	return 0;
}

int kmm_os_open(const char *path, int flags, int mode)
{
	int saved = errno;
	int fd = open(path, flags | O_CLOEXEC, mode);
	errno = saved;
	return fd;
}

ssize_t kmm_os_read(int fd, void *buf, size_t len)
{
	int saved = errno;
	ssize_t n;
	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	errno = saved;
	return n;
}

void kmm_os_close(int fd)
{
	int saved = errno;
	close(fd);
	errno = saved;
}

int kmm_os_dup_fd(int fd, int min_fd)
{
	int saved = errno;
	int r = fcntl(fd, F_DUPFD_CLOEXEC, min_fd);
	errno = saved;
	return r;
}

void kmm_os_futex_wait(volatile int *addr, int expected)
{
	int saved = errno;
	syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
	errno = saved;
}

void kmm_os_futex_wake(volatile int *addr, int n)
{
	int saved = errno;
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
	errno = saved;
}

void kmm_os_yield(void)
{
	sched_yield();
}

int kmm_os_ncpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) != 0)
		return 1;
	int n = CPU_COUNT(&set);
	return n > 0 ? n : 1;
}

pid_t kmm_os_getpid(void)
{
	return getpid();
}

pid_t kmm_os_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

uint64_t kmm_os_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t kmm_os_random(void)
{
	static uint64_t counter;
	uint64_t r = 0;
	int saved = errno;
	/* AT_RANDOM: 16 random bytes the kernel put on the initial stack.  Mix
	 * in a counter so successive calls differ. */
	const unsigned char *at = (const unsigned char *)getauxval(AT_RANDOM);
	if (syscall(SYS_getrandom, &r, sizeof r, 0x1 /* GRND_NONBLOCK */) != (long)sizeof r) {
		r = kmm_os_now_ns();
		if (at != NULL)
			for (int i = 0; i < 8; i++)
				r ^= (uint64_t)at[i + 8] << (8 * i);
	}
	errno = saved;
	r += __atomic_add_fetch(&counter, 0x9e3779b97f4a7c15ull, __ATOMIC_RELAXED);
	/* splitmix64 finaliser */
	r = (r ^ (r >> 30)) * 0xbf58476d1ce4e5b9ull;
	r = (r ^ (r >> 27)) * 0x94d049bb133111ebull;
	return r ^ (r >> 31);
}

void kmm_os_abort(void)
{
	abort();
}
