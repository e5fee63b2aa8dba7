/*
 * os.h — the OS layer: the only place in kmm that makes system calls.
 *
 * Everything strace shows for a program running under libkmm comes from the
 * functions below, so the memory system calls of a run can be explained from
 * this one file.  None of them allocates memory, takes a kmm lock or calls
 * back into kmm; all are safe to call with any kmm lock held, before
 * constructors have run and after destructors.
 *
 * Preconditions are stated per call; a violated precondition is a kmm bug,
 * not a user error.
 */
#ifndef KMM_OS_H
#define KMM_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/compiler.h"

/* Size of a page as the kernel reports it (AT_PAGESZ); 4096 on x86-64,
 * where it is a constant.  Valid at any time: elsewhere the auxiliary
 * vector is read on first use. */
#if defined(__x86_64__) || defined(__i386__)
static inline size_t kmm_os_page_size(void)
{
	return 4096;   /* fixed by the architecture: no getauxval call (see sys.h) */
}
#else
size_t kmm_os_page_size(void);
#endif

/* Move the program break by `increment` bytes, like sbrk(2), and return the
 * old break, or (void *)-1 with errno set on failure.  kmm goes through
 * libc's sbrk() rather than the raw syscall so that the program's own view
 * of the break (sbrk(0), glibc's cached __curbrk) stays exact: a program that
 * prints sbrk(0) sees the heap kmm made.  sbrk(0) makes no system call once
 * the break is known.  Precondition: the caller holds the main arena lock
 * (the break is a process-wide resource). */
void *kmm_os_sbrk(intptr_t increment);

/* Anonymous private read/write mapping of `len` bytes (a multiple of the page
 * size), or NULL with errno set.  Never MAP_SHARED: fork must keep
 * copy-on-write semantics for user memory.  `extra_flags` may add
 * MAP_NORESERVE or MAP_POPULATE. */
void *kmm_os_map(size_t len, int extra_flags);

/* Same, with protection `prot` and an address hint (no MAP_FIXED). */
void *kmm_os_map_at(void *hint, size_t len, int prot, int extra_flags);

/* munmap(2).  `addr` page aligned, `len` a multiple of the page size.
 * Returns 0 or -1 with errno set. */
int kmm_os_unmap(void *addr, size_t len);

/* Move the page-table entries of [from, from+len) to [to, to+len) without
 * copying page contents: mremap(MREMAP_MAYMOVE | MREMAP_FIXED |
 * MREMAP_DONTUNMAP).  The source range stays mapped, now empty (its pages
 * read back as zero); whatever was mapped at `to` is replaced.  Both ranges
 * page aligned, `from` private anonymous memory.  Falls back to a plain
 * MREMAP_FIXED move followed by re-mapping the source range (kernels before
 * 5.7) when DONTUNMAP is refused.  Returns 0 or -1 with errno set. */
int kmm_os_move_pages(void *from, void *to, size_t len);

/* Replace [addr, addr+len) with a fresh PROT_NONE, MAP_NORESERVE anonymous
 * mapping (MAP_FIXED): drops the pages and keeps the range reserved. */
int kmm_os_reserve_fixed(void *addr, size_t len);

/* Make [addr, addr+len), part of a PROT_NONE reservation that holds no
 * pages (made by kmm_os_map_at or kmm_os_reserve_fixed), readable and
 * writable in place: a private anonymous read-write mmap with MAP_FIXED
 * over it, in one call (no moment where the range is unmapped).  Its pages
 * are demand-zero: each faults in zero-filled on first touch.  Without
 * MAP_NORESERVE, so the kernel's overcommit policy judges the size as it
 * judges glibc's mmap of a big chunk: a request no system could back is an
 * ENOMEM now rather than a SIGSEGV or the OOM killer later (mprotect of the
 * MAP_NORESERVE reservation would skip that check).  addr page aligned, len
 * a multiple of the page size.  Returns 0 or -1 with errno set; on failure
 * the range may no longer be reserved (kernels before 6.12 unmap first):
 * re-reserve it. */
int kmm_os_commit_fixed(void *addr, size_t len);

/* mincore(2): how many of the pages of [addr, addr+len) are resident.
 * addr page aligned.  Returns -1 on error. */
long kmm_os_resident_pages(void *addr, size_t len);

/* mincore(2) itself: one byte per page of [addr, addr+len) into vec (bit 0:
 * resident).  Returns the resident count, or -1. */
long kmm_os_mincore(void *addr, size_t len, unsigned char *vec);

/* The process's minor and major page faults so far (getrusage). */
void kmm_os_faults(unsigned long *minor, unsigned long *major);

/* mprotect(2) and madvise(2); 0 or -1 with errno set. */
int kmm_os_protect(void *addr, size_t len, int prot);
int kmm_os_advise(void *addr, size_t len, int advice);

/* Write all `len` bytes to `fd`, retrying on EINTR and short writes.
 * Returns 0, or -1 if the descriptor failed (errno is preserved). */
int kmm_os_write_all(int fd, const void *buf, size_t len);

/* open(2)/read(2)/close(2) for kmm's own report and option files.
 * errno is preserved by all three.  None of them (nor kmm_os_write_all
 * and kmm_os_pread) is a cancellation point: they are raw system calls. */
int kmm_os_open(const char *path, int flags, int mode);
/* The same open(2), returning the descriptor or -errno (for a message
 * that says why: kmm_strerror, util/format.h). */
int kmm_os_open_err(const char *path, int flags, int mode);
ssize_t kmm_os_read(int fd, void *buf, size_t len);
void kmm_os_close(int fd);

/* pread(2) and readlink(2) for /proc/self files; -1 on failure, errno
 * preserved. */
ssize_t kmm_os_pread(int fd, void *buf, size_t len, off_t off);
ssize_t kmm_os_readlink(const char *path, char *buf, size_t len);

/* stat(2) of path, following symbolic links: its st_mode in *mode (the
 * S_IFMT bits tell a FIFO from a regular file), 0, or -errno. */
int kmm_os_stat_mode(const char *path, unsigned *mode);

/* getcwd(2) into buf (cap bytes): the length of the path without its
 * NUL, or -errno (-ERANGE: longer than cap - 1). */
long kmm_os_getcwd(char *buf, size_t cap);

/* fcntl(fd, F_DUPFD_CLOEXEC, min_fd): a private copy of a descriptor, or
 * -1.  errno is preserved. */
int kmm_os_dup_fd(int fd, int min_fd);

/* process_vm_readv(2) on the calling process: copy up to len bytes from
 * src to dst, where src may be unmapped or unreadable (the leak scanner's
 * roots may be unmapped under it).  Returns the bytes copied (fewer than
 * len: the next page is unreadable), or -errno: -EFAULT (src itself is
 * unreadable), -ENOSYS or -EPERM (the call is not available here).
 * errno is not touched. */
long kmm_os_read_self(void *dst, const void *src, size_t len);

/* Futex wait while *addr == expected / wake up to `n` waiters (private). */
void kmm_os_futex_wait(volatile int *addr, int expected);
void kmm_os_futex_wake(volatile int *addr, int n);
/* The same wait, for at most `ns` nanoseconds (the fork handler's deadline,
 * util/lock.c); returns at the timeout, a wake-up or a signal alike. */
void kmm_os_futex_wait_ns(volatile int *addr, int expected, uint64_t ns);

/* sched_yield(2). */
void kmm_os_yield(void);

/* CPUs this process may run on (sched_getaffinity with a fixed-size set on
 * the stack, as glibc's arena code counts them); at least 1. */
int kmm_os_ncpus(void);

/* Process and thread ids (getpid(2), gettid(2)). */
pid_t kmm_os_getpid(void);
pid_t kmm_os_gettid(void);

/* CLOCK_MONOTONIC in nanoseconds (vDSO, no system call in practice). */
uint64_t kmm_os_now_ns(void);

/* CLOCK_REALTIME in nanoseconds since the epoch (vDSO; async-signal-safe). */
uint64_t kmm_os_realtime_ns(void);

/* sigaction(2): run `handler` on signal `sig` (SA_RESTART; the other
 * signals not blocked).  From the library constructor only (not from
 * inside malloc).  Returns 0 or -1 with errno set. */
int kmm_os_set_signal(int sig, void (*handler)(int));

/* 64 random bits from the kernel (AT_RANDOM, then getrandom(2), then the
 * clock): used for per-process keys.  Never blocks. */
uint64_t kmm_os_random(void);

/* Failure injection (the fail=N and fail_from=N options, docs/options.md):
 * the Nth call of this layer that may need memory (kmm_os_sbrk growing,
 * kmm_os_map*, kmm_os_move_pages, kmm_os_commit_fixed, kmm_os_protect
 * making memory writable), counted from the start of the process, fails
 * with ENOMEM without being made; with and_after, every later one too.
 * n = 0: none. */
void kmm_os_fail_at(uint64_t n, bool and_after);
/* What fail= / fail_from= set: n (0: none), and whether every later call
 * fails too (for the params report). */
uint64_t kmm_os_fail_setting(bool *and_after);
/* With fail= set: how many of those calls were counted so far. */
uint64_t kmm_os_fail_calls(void);

/* ---- the live view's segment (src/live.c, KMM_LIVE=1) -------------------------- */

/* Create a new file for the live view's segment: open(2) with O_RDWR |
 * O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC and mode 0600 (never an
 * existing file, never through a symbolic link).  The descriptor, or
 * -errno (-EEXIST: the name is taken). */
int kmm_os_shm_create(const char *path);
/* ftruncate(2): 0 or -errno. */
int kmm_os_ftruncate(int fd, uint64_t len);
/* A shared read-write mapping of the first len bytes of fd (MAP_SHARED:
 * the only shared mapping kmm makes, never of user memory), or NULL. */
void *kmm_os_map_file_shared(int fd, size_t len);
/* unlink(2): 0 or -errno. */
int kmm_os_unlink(const char *path);
/* kill(pid, 0): 0 (the process exists and may be signalled), -ESRCH (no
 * such process) or -EPERM (it exists, another user's). */
int kmm_os_probe_pid(pid_t pid);
/* getdents64(2): directory entries of fd (opened O_DIRECTORY) into buf,
 * struct linux_dirent64 records; the bytes filled, 0 at the end, or
 * -errno. */
long kmm_os_getdents(int fd, void *buf, size_t len);
/* getuid(2). */
uid_t kmm_os_getuid(void);
/* CLOCK_MONOTONIC_COARSE in nanoseconds (vDSO: no system call; a few ms
 * of resolution), for "has 100 ms passed" on slow paths. */
uint64_t kmm_os_coarse_ns(void);

/* Counting the system calls of this layer (brk, mmap, munmap, mremap,
 * mprotect, madvise, mincore, futex; enum kmm_live_syscall of
 * live_format.h): off until kmm_os_count_syscalls(true) (the live view
 * turns it on; relaxed atomic additions, one per call).  out gets
 * KMM_LIVE_SC_NR counts. */
void kmm_os_count_syscalls(bool on);
void kmm_os_syscall_counts(uint64_t *out);

/* A function kmm_os_abort calls first (one at a time; the live view
 * removing its segment): it must make system calls only. */
void kmm_os_at_abort(void (*fn)(void));

/* abort(3): raise SIGABRT (after the kmm_os_at_abort function).  Does not
 * return. */
KMM_NORETURN void kmm_os_abort(void);

#endif /* KMM_OS_H */
