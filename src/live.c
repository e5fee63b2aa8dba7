/*
 * live.c — the live view's writer (KMM_LIVE=1; live.h, live_format.h).
 *
 * Contract: /dev/shm/kmm.PID is created by this process only (O_CREAT |
 * O_EXCL | O_NOFOLLOW, mode 0600: its user alone may open it), mapped
 * MAP_SHARED here and read-only by readers, who never write it and whom
 * the process never waits for: the writer takes no lock a reader could
 * hold, and a reader that stops mid-copy just retries.  Published from
 * the slow paths (at most every 100 ms, checked on the coarse clock), at
 * start and at exit; removed at exit and on fatal errors.  A fork child
 * never writes its parent's segment: it makes its own on its first slow
 * path (a child that execs or _exits first makes none).  What exit does
 * not run for (_exit, exec of a program without kmm, SIGKILL) leaves a
 * segment behind, which readers call stale (its pid is gone or reused);
 * the next process of the same user that starts with KMM_LIVE=1 removes
 * those whose pid is gone.
 *
 * What is published, and why both numbers and text: the numbers (struct
 * kmm_live_counters) are what `kmm top` sorts and compares between
 * processes; the report sections are rendered here, at publish time, by
 * the very code of the --stats report (report.c, kmm_report_render), so
 * `kmm cat PID slabinfo` prints exactly what KMM_STATS_REPORT=slabinfo
 * prints, and the reader carries no copy of the formatting (which would
 * drift from report.c).  Both come from the same gathering functions
 * (kmm_slab_rows and kmm_uslab_rows give the report its slabinfo lines and
 * `kmm top PID` its per-cache rows).  Rendering goes into a
 * private buffer first, so the seqlock's odd window is one memcpy.
 *
 * Nothing here allocates from the heap: the text buffer is a mapping of
 * its own made at start; formatting goes through util/format.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

#include "kmm.h"
#include "live.h"
#include "options.h"
#include "live_format.h"
#include "os.h"
#include "report.h"
#include "heap/heap.h"
#include "heap/rescue.h"
#include "heap/thread.h"
#include "kernel/page_alloc.h"
#include "kernel/slab.h"
#include "kernel/uslab.h"
#include "kernel/vmalloc.h"
#include "util/format.h"
#include "util/lock.h"

bool kmm_live_on;

static struct kmm_live_header *seg;   /* the shared mapping */
static size_t seg_size;
static char seg_path[48];
static pid_t seg_pid;
static uint64_t start_time;           /* /proc/self/stat's starttime */
static char *scratch;                 /* private: the text, rendered */
static uint64_t next_ns;              /* coarse clock of the next publication */
static int publishing;                /* a thread is publishing */
static uint64_t live_peak;
static bool create_pending;           /* a fork child: made on its first publication */

static const char *const section_names[KMM_LIVE_SECTIONS] = KMM_LIVE_SECTION_NAMES;

/* Field 22 of /proc/self/stat (starttime, clock ticks after boot). */
static KMM_COLD uint64_t read_start_time(void)
{
	char buf[1024];
	int fd = kmm_os_open("/proc/self/stat", O_RDONLY, 0);
	if (fd < 0)
		return 0;
	ssize_t n = kmm_os_read(fd, buf, sizeof buf - 1);
	kmm_os_close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');   /* the command may hold spaces and ')' */
	if (p == NULL)
		return 0;
	/* after ')': state is field 3, starttime field 22 */
	for (int field = 2; field < 22 && *p != '\0'; p++)
		if (*p == ' ')
			field++;
	uint64_t v = 0;
	while (*p >= '0' && *p <= '9')
		v = v * 10 + (uint64_t)(*p++ - '0');
	return v;
}

/* The writer's pid and uid in a segment left at path; false if it is not
 * one (reads the header's first fields only: this may run on a small
 * thread stack, a fork child's first slow path). */
static KMM_COLD bool segment_owner(const char *path, pid_t *pid, uint32_t *uid)
{
	char head[offsetof(struct kmm_live_header, start_time)];
	uint64_t magic;
	int32_t p;
	int fd = kmm_os_open(path, O_RDONLY | O_NOFOLLOW, 0);
	if (fd < 0)
		return false;
	ssize_t n = kmm_os_pread(fd, head, sizeof head, 0);
	kmm_os_close(fd);
	if (n != (ssize_t)sizeof head)
		return false;
	memcpy(&magic, head + offsetof(struct kmm_live_header, magic), sizeof magic);
	memcpy(&p, head + offsetof(struct kmm_live_header, pid), sizeof p);
	memcpy(uid, head + offsetof(struct kmm_live_header, uid), sizeof *uid);
	*pid = p;
	return magic == KMM_LIVE_MAGIC;
}

/* Remove the segments of this user's processes that are gone without
 * removing theirs (_exit, SIGKILL, exec of a program without kmm): /dev/shm
 * would fill up with them (shells _exit).  Only a file with our magic, our
 * uid in its header and a pid that no longer exists. */
static KMM_COLD void sweep_stale(pid_t self, uint32_t uid)
{
	char buf[4096];
	int dir = kmm_os_open("/dev/shm", O_RDONLY | O_DIRECTORY, 0);
	if (dir < 0)
		return;
	for (int rounds = 0; rounds < 64; rounds++) {   /* (bounded: 256 KiB of entries) */
		long n = kmm_os_getdents(dir, buf, sizeof buf);
		if (n <= 0)
			break;
		for (long off = 0; off < n;) {
			/* struct linux_dirent64: ino 8, off 8, reclen 2, type 1, name */
			unsigned short reclen;
			memcpy(&reclen, buf + off + 16, sizeof reclen);
			const char *name = buf + off + 19;
			off += reclen;
			if (reclen == 0)
				break;
			if (strncmp(name, "kmm.", 4) != 0)
				continue;
			long long pid = 0;
			if (strlen(name + 4) > 10 || !kmm_parse_number(name + 4, strlen(name + 4), false, &pid) ||
			    pid <= 0 || pid > 0x3fffffff || pid == self)
				continue;
			if (kmm_os_probe_pid((pid_t)pid) != -ESRCH)
				continue;
			char path[48];
			pid_t owner;
			uint32_t owner_uid;
			kmm_snprintf(path, sizeof path, "/dev/shm/%s", name);
			if (segment_owner(path, &owner, &owner_uid) && owner == pid && owner_uid == uid)
				kmm_os_unlink(path);
		}
	}
	kmm_os_close(dir);
}

/* Create and map this process's segment; false (and a warning) if not. */
static KMM_COLD bool create(void)
{
	pid_t pid = kmm_os_getpid();
	kmm_snprintf(seg_path, sizeof seg_path, "%s%d", KMM_LIVE_PREFIX, (int)pid);
	int fd = kmm_os_shm_create(seg_path);
	if (fd == -EEXIST) {
		/* left by this pid before an exec (the same pid: the old image
		 * did not exit) or by a dead process whose pid came back:
		 * replace it; anything else stays */
		pid_t owner = 0;
		uint32_t owner_uid;
		if (!segment_owner(seg_path, &owner, &owner_uid))
			owner = 0;
		if (owner == pid || (owner > 0 && kmm_os_probe_pid(owner) == -ESRCH)) {
			kmm_os_unlink(seg_path);
			fd = kmm_os_shm_create(seg_path);
		}
	}
	if (fd < 0) {
		char err[32];
		kmm_warn("KMM_LIVE: cannot create %s: %s (no live view)", seg_path, kmm_strerror(-fd, err, sizeof err));
		return false;
	}
	size_t page = kmm_os_page_size();
	size_t text_off = (sizeof(struct kmm_live_header) + page - 1) & ~(page - 1);
	size_t size = text_off + KMM_LIVE_TEXT_CAP;
	struct kmm_live_header *h = NULL;
	if (kmm_os_ftruncate(fd, size) == 0)
		h = kmm_os_map_file_shared(fd, size);
	kmm_os_close(fd);
	if (h == NULL) {
		kmm_os_unlink(seg_path);
		kmm_warn("KMM_LIVE: cannot map %s (no live view)", seg_path);
		return false;
	}
	if (scratch == NULL)
		scratch = kmm_os_map(KMM_LIVE_TEXT_CAP, MAP_NORESERVE);
	if (scratch == NULL) {
		kmm_os_unmap(h, size);
		kmm_os_unlink(seg_path);
		return false;
	}
	/* a fresh file reads as zeros: seq 0, nothing published yet */
	h->version = KMM_LIVE_VERSION;
	h->header_size = sizeof *h;
	h->size = size;
	h->pid = pid;
	h->uid = (uint32_t)kmm_os_getuid();
	h->start_time = start_time = read_start_time();
	h->start_ns = kmm_os_now_ns();
	h->text_off = text_off;
	__atomic_store_n(&h->magic, KMM_LIVE_MAGIC, __ATOMIC_RELEASE);
	seg = h;
	seg_size = size;
	seg_pid = pid;
	live_peak = 0;
	return true;
}

/* The numbers, from the same sources as the report's sections. */
static KMM_COLD void gather(struct kmm_live_counters *c)
{
	struct mallinfo2 mi = kmm_heap_mallinfo2_arenas();
	struct kmm_uslab_stats us;
	struct kmm_vmalloc_stats vs;
	struct kmm_thread_counters tc;
	struct kmm_zone *z = &kmm_zone;
	/* (static, not on the stack of whichever thread publishes, which may
	 * be small: publications are one at a time, under `publishing`) */
	static struct kmm_heap_arena_usage au[KMM_LIVE_ARENAS];
	static struct kmm_slabinfo_row rows[KMM_LIVE_CACHES];
	size_t orders[KMM_MAX_ORDER];
	unsigned long minflt, majflt;

	_Static_assert(KMM_MAX_ORDER == KMM_LIVE_ORDERS, "buddy orders");
	memset(c, 0, sizeof *c);
	kmm_uslab_stats(&us);
	kmm_vmalloc_stats(&vs);
	kmm_thread_counters_total(&tc);
	kmm_os_faults(&minflt, &majflt);
	c->heap_total = mi.arena;
	c->heap_in_use = mi.uordblks;
	c->heap_free = mi.fordblks;
	c->heap_top = mi.keepcost;
	c->slab_front = us.bytes;
	c->slab_front_in_use = us.inuse_bytes;
	c->big_bytes = mi.hblkhd;
	c->big_count = mi.hblks;
	c->vmalloc_total = vs.space_bytes;
	c->vmalloc_used = vs.busy_bytes;
	c->vmalloc_lazy = vs.lazy_bytes;
	c->vmalloc_free = vs.free_bytes;
	c->slab_bytes = kmm_slab_total_bytes();
	c->buddy_total = (uint64_t)z->managed_pages * KMM_PAGE_SIZE;
	c->buddy_free = (uint64_t)z->free_pages * KMM_PAGE_SIZE;
	c->buddy_free_resident = (uint64_t)z->dirty_free_pages * KMM_PAGE_SIZE;
	c->minor_faults = minflt;
	c->major_faults = majflt;
	kmm_buddy_free_blocks(orders);
	for (unsigned o = 0; o < KMM_LIVE_ORDERS; o++)
		c->buddy_free_blocks[o] = orders[o];
	size_t own = kmm_slab_rows(rows, KMM_LIVE_CACHES);
	size_t filled = own < KMM_LIVE_CACHES ? own : KMM_LIVE_CACHES;
	size_t front = kmm_uslab_rows(rows + filled, KMM_LIVE_CACHES - filled);
	c->nr_caches = filled + front;
	c->caches_left_out = own - filled;
	for (size_t i = 0; i < c->nr_caches; i++) {
		struct kmm_live_cache *lc = &c->cache[i];
		_Static_assert(sizeof lc->name >= sizeof rows[i].name, "cache names fit");
		memcpy(lc->name, rows[i].name, sizeof rows[i].name);
		lc->active_objs = rows[i].active_objs;
		lc->num_objs = rows[i].num_objs;
		lc->objsize = rows[i].objsize;
		lc->objperslab = rows[i].objperslab;
		lc->pagesperslab = rows[i].pagesperslab;
		lc->num_slabs = rows[i].num_slabs;
	}
	c->vmalloc_regions = vs.busy_areas;
	c->vmalloc_bytes = vs.busy_bytes;
	c->vmalloc_lazy_regions = vs.lazy_areas;
	c->vmalloc_lazy_bytes = vs.lazy_bytes;
	c->nr_arenas = kmm_heap_arena_usage(au, KMM_LIVE_ARENAS);
	for (size_t i = 0; i < c->nr_arenas; i++) {
		c->arena[i].system = au[i].system;
		c->arena[i].in_use = au[i].in_use;
		c->arena[i].free = au[i].free;
	}
	c->tcache_hits = tc.tc_alloc_hits;
	c->tcache_misses = tc.tc_alloc_misses;
	c->slab_allocs = us.allocs;
	c->slabs = us.slabs;
	c->threads = __atomic_load_n(&kmm_threads_live, __ATOMIC_RELAXED);
	kmm_os_syscall_counts(c->syscalls);
	c->live_bytes = mi.uordblks + us.inuse_bytes + mi.hblkhd;
	if (c->live_bytes > live_peak)
		live_peak = c->live_bytes;
	c->live_peak = live_peak;
}

/* One publication: gather and render privately, then copy under the
 * seqlock.  The caller owns `publishing`. */
static KMM_COLD void publish(bool exiting)
{
	static struct kmm_live_counters c;   /* (static: see gather) */
	struct kmm_live_text text[KMM_LIVE_SECTIONS];
	static const char cut_note[] = "[... cut: the live view's text is full]\n";
	size_t used = 0;

	gather(&c);
	for (unsigned i = 0; i < KMM_LIVE_SECTIONS; i++) {
		bool cut = false;
		size_t room = KMM_LIVE_TEXT_CAP - used;
		size_t n = room > sizeof cut_note ? kmm_report_render(section_names[i], scratch + used,
								      room - sizeof cut_note, &cut) : 0;
		if (cut || room <= sizeof cut_note) {
			size_t k = room > sizeof cut_note ? sizeof cut_note - 1 : 0;
			memcpy(scratch + used + n, cut_note, k);
			n += k;
		}
		text[i].off = (uint32_t)used;
		text[i].len = (uint32_t)n;
		used += n;
	}
	c.check_a = c.check_b = __atomic_load_n(&seg->seq, __ATOMIC_RELAXED) / 2 + 1;

	struct kmm_live_header *h = seg;
	uint64_t s = __atomic_load_n(&h->seq, __ATOMIC_RELAXED);
	__atomic_store_n(&h->seq, s + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	/* check_b last, after the text: all through the write the pair differs */
	uint64_t check = c.check_b;
	c.check_b = h->c.check_b;
	memcpy(&h->c, &c, sizeof c);
	memcpy(h->text, text, sizeof text);
	memcpy((char *)h + h->text_off, scratch, used);
	h->exiting = exiting;
	h->publish_ns = kmm_os_now_ns();
	__atomic_store_n(&h->c.check_b, check, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&h->seq, s + 2, __ATOMIC_RELEASE);
}

static void live_off(void)
{
	__atomic_store_n(&kmm_heap_slow_hook, NULL, __ATOMIC_RELAXED);
	__atomic_store_n(&kmm_live_on, false, __ATOMIC_RELAXED);
}

/* Publish if this thread gets the right to (another one publishing: not). */
static KMM_COLD void try_publish(bool exiting)
{
	if (__atomic_exchange_n(&publishing, 1, __ATOMIC_ACQUIRE))
		return;
	if (create_pending && seg == NULL && !kmm_rescued()) {
		create_pending = false;
		if (!create())
			live_off();
	}
	if (seg != NULL && kmm_os_getpid() == seg_pid && !kmm_rescued()) {
		int saved = errno;   /* (free keeps errno; a failed malloc's ENOMEM stays) */
		kmm_busy++;   /* (locks are taken below: a fork from a signal handler rescues) */
		publish(exiting);
		kmm_busy--;
		errno = saved;
		__atomic_store_n(&next_ns, kmm_os_coarse_ns() + KMM_LIVE_PERIOD_NS, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&publishing, 0, __ATOMIC_RELEASE);
}

KMM_COLD void kmm_live_start(void)
{
	if (seg != NULL)
		return;
	sweep_stale(kmm_os_getpid(), (uint32_t)kmm_os_getuid());
	if (!create())
		return;
	kmm_os_count_syscalls(true);
	kmm_os_at_abort(kmm_live_unlink);
	try_publish(false);
	__atomic_store_n(&kmm_live_on, true, __ATOMIC_RELAXED);
	__atomic_store_n(&kmm_heap_slow_hook, kmm_live_tick_slow, __ATOMIC_RELAXED);
}

/* The clock is read on every KMM_LIVE_TICK_EVERY-th slow path of a thread
 * only: reading it on each cost 2-3% of sh8bench's time (a workload of
 * slow paths), the counter nothing measurable. */
#define KMM_LIVE_TICK_EVERY 16u
static KMM_TLS unsigned tick_count;

KMM_COLD KMM_NOINLINE void kmm_live_tick_slow(void)
{
	if (++tick_count % KMM_LIVE_TICK_EVERY != 0 && __atomic_load_n(&next_ns, __ATOMIC_RELAXED) != 0)
		return;   /* (next_ns 0: a fork child's segment is still to be made) */
	if (kmm_os_coarse_ns() < __atomic_load_n(&next_ns, __ATOMIC_RELAXED))
		return;
	if (kmm_busy != 0)   /* (called inside kmm: from a signal handler, say) */
		return;
	try_publish(false);
}

KMM_COLD void kmm_live_fork_child(bool rescued)
{
	if (seg == NULL)
		return;
	/* the parent's: unmapped, never written, not removed */
	kmm_os_unmap(seg, seg_size);
	seg = NULL;
	__atomic_store_n(&publishing, 0, __ATOMIC_RELAXED);
	if (rescued) {
		live_off();
		return;
	}
	/* made by the child's first slow path, not here: a child that execs
	 * or _exits at once (no destructor: the segment would stay behind)
	 * makes none */
	create_pending = true;
	__atomic_store_n(&next_ns, 0, __ATOMIC_RELAXED);
}

KMM_COLD void kmm_live_exit(void)
{
	if (seg == NULL || kmm_os_getpid() != seg_pid)
		return;
	try_publish(true);
	live_off();
	kmm_os_unlink(seg_path);
}

KMM_COLD void kmm_live_unlink(void)
{
	if (__atomic_load_n(&kmm_live_on, __ATOMIC_RELAXED) && kmm_os_getpid() == seg_pid)
		kmm_os_unlink(seg_path);
}
