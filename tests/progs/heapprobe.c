/*
 * heapprobe — drive malloc one step at a time and report where the blocks
 * landed, for tests/integration/heap-strace.sh and options.sh.
 *
 * Usage: heapprobe STEP...   where each STEP is
 *   mSIZE        malloc(SIZE) into the next slot; prints "m SIZE KIND ADDR"
 *                with KIND heap (in [start_brk, brk)), mmap (an anonymous
 *                read-write mapping) or other; SIZE takes a k or m suffix
 *                (KiB, MiB); the first 4 KiB are written
 *   fN           free slot N (0-based)
 *   tN           touch slot N: write one byte in each of its pages
 *   rN,SIZE      realloc slot N to SIZE; prints "r SIZE KIND ADDR moved|kept"
 *                and checks that the first min(old, new) bytes survived
 *   nCOUNTxSIZE  COUNT more blocks of SIZE bytes (kept apart from the slots)
 *   F            free those COUNT blocks, first to last
 *   b            print "brk DELTA": the break now minus the break at startup
 *   R            print "rss KB": VmRSS from /proc/self/status
 *   M            write a marker "@@heapprobe mark N@@" to stderr (for strace)
 *   zMS          sleep MS milliseconds (phases apart in time, for kmm trace at)
 *   s            print kmm's counters if kmm is loaded ("stats none" if not)
 *   k            print "kmm yes" if libkmm.so is loaded, "kmm no" if not
 *   uN           print "u SIZE USABLE": slot N's size and malloc_usable_size
 *   aN           N threads each malloc(100) and hold the block until all
 *                have one, then free it and end; then print "arenas H", H
 *                the <heap> elements of malloc_info (one per arena)
 *
 * Nothing here allocates behind the steps' back: output is collected in a
 * static buffer and written with write(2) at exit, /proc files are read with
 * open/read into static buffers.  (Except aN: thread stacks, and the FILE
 * malloc_info writes to.)
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kmm.h"

#define MAX_SLOTS 64
#define MAX_BLOCKS 200000

static char out_buf[1 << 16];
static size_t out_len;
static char file_buf[1 << 20];
static void *slots[MAX_SLOTS];
static size_t slot_size[MAX_SLOTS];
static int nslots;
static void *blocks[MAX_BLOCKS];
static int nblocks;
static uintptr_t start_brk, brk0;
static int marks;

static void out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out_buf + out_len, sizeof out_buf - out_len, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof out_buf - out_len)
		out_len += (size_t)n;
}

static void flush_out(void)
{
	size_t off = 0;
	while (off < out_len) {
		ssize_t n = write(1, out_buf + off, out_len - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	out_len = 0;
}

static void die(const char *msg)
{
	flush_out();
	(void)!write(2, "heapprobe: ", 11);
	(void)!write(2, msg, strlen(msg));
	(void)!write(2, "\n", 1);
	exit(2);
}

static size_t read_file(const char *path)
{
	int fd = open(path, O_RDONLY);
	size_t len = 0;
	if (fd < 0)
		die("cannot open a /proc file");
	for (;;) {
		ssize_t n = read(fd, file_buf + len, sizeof file_buf - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	file_buf[len] = '\0';
	return len;
}

/* field 47 of /proc/self/stat: where the heap (program break) starts */
static uintptr_t get_start_brk(void)
{
	read_file("/proc/self/stat");
	char *p = strrchr(file_buf, ')');
	if (p == NULL)
		die("cannot parse /proc/self/stat");
	p += 2;                              /* at field 3 */
	for (int field = 3; field < 47; field++) {
		p = strchr(p, ' ');
		if (p == NULL)
			die("/proc/self/stat has no start_brk field");
		p++;
	}
	return (uintptr_t)strtoull(p, NULL, 10);
}

static uintptr_t cur_brk(void)
{
	return (uintptr_t)sbrk(0);
}

/* heap, mmap (anonymous, read-write, not the heap) or other */
static const char *kind_of(void *ptr)
{
	uintptr_t a = (uintptr_t)ptr;
	if (a >= start_brk && a < cur_brk())
		return "heap";
	read_file("/proc/self/maps");
	for (char *line = file_buf; *line; ) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char *end;
		uintptr_t lo = (uintptr_t)strtoull(line, &end, 16);
		uintptr_t hi = (uintptr_t)strtoull(end + 1, &end, 16);
		if (a >= lo && a < hi) {
			/* " rw-p 00000000 00:00 0     [path]" */
			char perms[8] = "";
			unsigned long off, inode;
			char dev[32], path[256] = "";
			if (sscanf(end, " %7s %lx %31s %lu %255s", perms, &off, dev, &inode, path) < 4)
				return "other";
			if (strncmp(perms, "rw", 2) == 0 && inode == 0 && path[0] == '\0')
				return "mmap";
			return "other";
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	return "other";
}

static pthread_barrier_t all_have_one;

static void *hold_a_block(void *arg)
{
	(void)arg;
	char *p = malloc(100);
	if (p == NULL)
		die("malloc failed in a thread");
	p[0] = 1;
	pthread_barrier_wait(&all_have_one);
	free(p);
	return NULL;
}

/* aN: N threads at once, then count malloc_info's heaps */
static void arenas_step(long n)
{
	pthread_t t[64];
	if (n < 1 || n > 64)
		die("bad a step");
	pthread_barrier_init(&all_have_one, NULL, (unsigned)n);
	for (long i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, hold_a_block, NULL) != 0)
			die("pthread_create failed");
	for (long i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&all_have_one);
	FILE *f = tmpfile();
	if (f == NULL || malloc_info(0, f) != 0 || fflush(f) != 0)
		die("malloc_info failed");
	size_t len = 0;
	for (ssize_t r; (r = pread(fileno(f), file_buf + len, sizeof file_buf - 1 - len, (off_t)len)) > 0;)
		len += (size_t)r;
	file_buf[len] = '\0';
	fclose(f);
	int heaps = 0;
	for (char *h = file_buf; (h = strstr(h, "<heap nr=")) != NULL; h++)
		heaps++;
	out("arenas %d\n", heaps);
}

static size_t parse_size(const char *s, char **endp)
{
	size_t v = (size_t)strtoull(s, endp, 10);
	if (**endp == 'k' || **endp == 'K') {
		v *= 1024;
		(*endp)++;
	} else if (**endp == 'm' || **endp == 'M') {
		v *= 1024 * 1024;
		(*endp)++;
	}
	return v;
}

static void step(const char *arg)
{
	char *end;
	switch (arg[0]) {
	case 'm': {
		size_t size = parse_size(arg + 1, &end);
		if (*end || nslots == MAX_SLOTS)
			die("bad m step");
		char *p = malloc(size);
		slot_size[nslots] = size;
		slots[nslots++] = p;
		if (p == NULL) {
			out("m %zu null 0x0\n", size);
			break;
		}
		memset(p, 0x5a, size < 4096 ? size : 4096);
		out("m %zu %s %p\n", size, kind_of(p), (void *)p);
		break;
	}
	case 'f': {
		long i = strtol(arg + 1, &end, 10);
		if (*end || i < 0 || i >= nslots)
			die("bad f step");
		free(slots[i]);
		slots[i] = NULL;
		break;
	}
	case 't': {
		long i = strtol(arg + 1, &end, 10);
		if (*end || i < 0 || i >= nslots || slots[i] == NULL)
			die("bad t step");
		char *p = slots[i];
		for (size_t off = 0; off < slot_size[i]; off += 4096)
			p[off] = 0x5a;
		break;
	}
	case 'r': {
		long i = strtol(arg + 1, &end, 10);
		if (*end != ',' || i < 0 || i >= nslots)
			die("bad r step");
		size_t size = parse_size(end + 1, &end);
		if (*end)
			die("bad r step");
		char *old = slots[i];
		size_t keep = slot_size[i] < size ? slot_size[i] : size;
		/* a pattern in the first byte of each page that must survive */
		for (size_t off = 0; old != NULL && off < keep; off += 4096)
			old[off] = (char)(off >> 12);
		char *p = realloc(old, size);
		if (p == NULL) {
			out("r %zu null 0x0 kept\n", size);
			break;
		}
		for (size_t off = 0; old != NULL && off < keep; off += 4096)
			if (p[off] != (char)(off >> 12))
				die("realloc lost data");
		slots[i] = p;
		slot_size[i] = size;
		out("r %zu %s %p %s\n", size, kind_of(p), (void *)p, p == old ? "kept" : "moved");
		break;
	}
	case 'n': {
		long count = strtol(arg + 1, &end, 10);
		if (*end != 'x')
			die("bad n step");
		size_t size = parse_size(end + 1, &end);
		if (*end || count < 0 || nblocks + count > MAX_BLOCKS)
			die("bad n step");
		for (long i = 0; i < count; i++) {
			char *p = malloc(size);
			if (p == NULL)
				die("malloc failed");
			p[0] = (char)i;
			blocks[nblocks++] = p;
		}
		break;
	}
	case 'F':
		for (int i = 0; i < nblocks; i++)
			free(blocks[i]);
		nblocks = 0;
		break;
	case 'b':
		out("brk %ld\n", (long)(cur_brk() - brk0));
		break;
	case 'R': {
		read_file("/proc/self/status");
		char *l = strstr(file_buf, "VmRSS:");
		out("rss %lu\n", l ? strtoul(l + 6, NULL, 10) : 0UL);
		break;
	}
	case 'z': {
		long ms = strtol(arg + 1, &end, 10);
		if (*end || ms < 0 || ms > 60000)
			die("bad z step");
		struct timespec ts = {ms / 1000, ms % 1000 * 1000000L};
		while (nanosleep(&ts, &ts) != 0)
			;
		break;
	}
	case 'M': {
		char buf[64];
		int n = snprintf(buf, sizeof buf, "@@heapprobe mark %d@@\n", ++marks);
		(void)!write(2, buf, (size_t)n);
		break;
	}
	case 's': {
		int (*get)(struct kmm_stats *) =
			(int (*)(struct kmm_stats *))dlsym(RTLD_DEFAULT, "kmm_stats_get");
		struct kmm_stats st;
		if (get == NULL || get(&st) != 0) {
			out("stats none\n");
			break;
		}
		out("stats mmaps=%llu munmaps=%llu brk_grows=%llu brk_grow_bytes=%llu brk_trims=%llu "
		    "mmap_threshold=%zu\n",
		    (unsigned long long)st.mmaps, (unsigned long long)st.munmaps,
		    (unsigned long long)st.brk_grows, (unsigned long long)st.brk_grow_bytes,
		    (unsigned long long)st.brk_trims, st.mmap_threshold);
		break;
	}
	case 'k':
		out("kmm %s\n", dlsym(RTLD_DEFAULT, "kmm_version") ? "yes" : "no");
		break;
	case 'u': {
		long i = strtol(arg + 1, &end, 10);
		if (*end || i < 0 || i >= nslots)
			die("bad u step");
		out("u %zu %zu\n", slot_size[i], malloc_usable_size(slots[i]));
		break;
	}
	case 'a': {
		long n = strtol(arg + 1, &end, 10);
		if (*end)
			die("bad a step");
		arenas_step(n);
		break;
	}
	default:
		die("unknown step");
	}
}

int main(int argc, char **argv)
{
	start_brk = get_start_brk();
	brk0 = cur_brk();
	for (int i = 1; i < argc; i++)
		step(argv[i]);
	flush_out();
	return 0;
}
