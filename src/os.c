/*
 * os.c — the OS layer.  See os.h for the contract of each call.
 *
 * Every system call kmm makes is in this file.  The memory ones are:
 *
 *   brk      kmm_os_sbrk      main arena growth and trimming (through libc's
 *                             sbrk so the program's sbrk(0) stays exact)
 *   mmap     kmm_os_map*      chunks at/above the mmap threshold, and the
 *                             main arena's fallback when brk fails
 *   munmap   kmm_os_unmap     freeing those
 *   mremap   kmm_os_remap     realloc of mmapped chunks
 *   mprotect kmm_os_protect   (heaps of further arenas, later)
 *   madvise  kmm_os_advise    malloc_trim returning free pages
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
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
