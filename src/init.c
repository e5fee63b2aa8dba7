/*
 * init.c — bringing kmm up in a process, fork handlers, the exit report.
 *
 * Order of events in a program run under LD_PRELOAD=libkmm.so:
 *
 *   1. the dynamic loader relocates everything and switches its own
 *      malloc calls to ours; the first call (from the loader, libc or the
 *      program) runs kmm_init_slow(): the observed mode's table, options,
 *      main arena bins, the tcache key, then the observers the options
 *      ask for (memcheck, the trace log, the leak scanner: observe.h).
 *      No allocation from the heap, no stdio.  (The thread-exit key is
 *      made when a second thread first allocates: heap/thread.c.)
 *   2. our constructor (after libc's): registers the fork handlers,
 *      re-reads the options if the environment was not set up at step 1,
 *      and puts the report and trace paths step 1 made absolute back in
 *      the environment for the programs this one starts.
 *      Registering may allocate, so it is not done from inside
 *      malloc; and being registered early, our prepare handler runs after
 *      every later-registered one (which may still allocate) and our child
 *      handler before them.
 *   3. our destructor (after the program's): the leak scanner's report
 *      (KMM_LEAKCHECK) and the KMM_STATS report, on copies of stderr taken
 *      in step 2 (only when a report to stderr was asked for), since
 *      programs may close their stderr at exit.
 *
 * Fork: prepare takes every kmm lock (the lock order of util/lock.h); the
 * parent releases them; the child resets them (the threads that held them
 * do not exist there).  When it cannot (a fork from a signal handler that
 * interrupted kmm), it takes nothing and the child uses the rescue heap
 * (heap/rescue.h): see "Fork" below.
 */
#include "config.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>

#include "init.h"
#include "backtrace.h"
#include "leakcheck.h"
#include "live.h"
#include "memcheck.h"
#include "harden.h"
#include "observe.h"
#include "trace.h"
#include "trace_layers.h"
#include "options.h"
#include "os.h"
#include "report.h"
#include "sample.h"
#include "heap/arena.h"
#include "heap/arenas.h"
#include "heap/big.h"
#include "heap/rescue.h"
#include "heap/tcache.h"
#include "heap/thread.h"
#include "heap/vg.h"
#include "kernel/kernel.h"
#include "kernel/slab.h"
#include "kernel/uslab.h"
#include "util/format.h"
#include "util/lock.h"

int kmm_ready;
static kmm_lock_t kmm_init_lock = KMM_LOCK_INIT_RANK(KMM_RANK_INIT);
static uint64_t kmm_start_ns;
/* Where the exit report goes when it goes to standard error: a private
 * copy of fd 2, because programs may close stderr before our destructor
 * runs (coreutils' close_stdout does). */
static int kmm_report_fd = -1;

static KMM_HOT bool report_wanted_here(void)
{
	return kmm_options.stats &&
	       (kmm_options.stats_pid == 0 || kmm_options.stats_pid == kmm_os_getpid());
}

/* ---- the trace log: its buffers come from a slab cache --------------------------- */

static struct kmm_kmem_cache *trace_buf_cache;

static void *trace_buf_alloc(void)
{
	return kmm_kmem_cache_alloc(trace_buf_cache);
}

static void trace_buf_free(void *buf)
{
	kmm_kmem_cache_free(trace_buf_cache, buf);
}

/* Start the trace log if KMM_TRACE asked for one. */
static KMM_COLD void trace_start(void)
{
	static const struct kmm_trace_provider provider = { trace_buf_alloc, trace_buf_free, kmm_trace_layers_record };
	if (kmm_trace_on)
		return;
	trace_buf_cache = kmm_kmem_cache_create("kmm_trace_buf", KMM_TRACE_BUF_SIZE, 64);
	if (trace_buf_cache == NULL || !kmm_trace_start(kmm_options.trace_path, kmm_options.trace_depth, &provider)) {
		kmm_warn("cannot write the trace log %s", kmm_options.trace_path);
		return;
	}
	kmm_observe_start(KMM_OBSERVE_TRACE);
}

/* The observers the options ask for; then, whatever asked (the debug
 * options set their bit when read), this thread's fast paths off if
 * anything is observed. */
static void observers_start(void)
{
	if (kmm_options.trace_path[0] != '\0')   /* (cold code too) */
		trace_start();
	if (kmm_options.leakcheck)   /* (its code is cold: not touched otherwise) */
		kmm_leakcheck_start();
	kmm_observe_start(0);
}

KMM_HOT KMM_NOINLINE void kmm_init_slow(void)
{
	kmm_lock(&kmm_init_lock);
	if (!kmm_ready) {
		kmm_observe_install();
		kmm_options_load();
		/* the clock only for the exit report: a libc call (see os.c) */
		if (kmm_options.stats)
			kmm_start_ns = kmm_os_now_ns();
		kmm_arena_init(&kmm_main_arena, 0);
		kmm_tcache_key_init();
		kmm_uslab_init();
		kmm_uslab_zero_class(kmm_params.zero_guard);
#if KMM_VALGRIND
		if (kmm_vg_start())   /* under valgrind: tell memcheck about blocks */
			kmm_memcheck_start();
#endif
		observers_start();
		kmm_sample_start();
		__atomic_store_n(&kmm_ready, 1, __ATOMIC_RELEASE);
	}
	kmm_unlock(&kmm_init_lock);
}

/* Fork: every kmm lock, in rank order (enum kmm_lock_rank, util/lock.h),
 * released in reverse; the child resets them and the witness.  Three
 * exceptions, where the prepare handler takes nothing:
 *
 *   - A process with one thread (glibc's __libc_single_threaded, as glibc's
 *     own malloc does): no other thread can hold a lock or be half way
 *     through a change.  The child's handler only gives the thread its new
 *     id and starts the child's trace log.
 *   - This thread is busy in kmm (kmm_busy, util/lock.h): the fork comes
 *     from a signal handler that interrupted malloc, free, realloc... on
 *     this thread (glibc's tst-mallocfork2), which may hold a lock it would
 *     wait for forever, and may be half way through a change.  The child
 *     starts the rescue heap (heap/rescue.h) and never touches the heap it
 *     inherited; the parent goes on as if nothing happened.
 *   - Another thread keeps a lock past the deadline (util/lock.h, "taking
 *     every lock for fork"): it may be in a signal handler waiting to fork
 *     behind this fork.  What was taken is released; the child rescues.
 *
 * A rescued child's own forks take nothing and their children rescue too.
 */
extern char __libc_single_threaded __attribute__((weak));
/* One bit per fork in progress on this thread, innermost lowest: whether
 * its prepare handler took nothing, and whether its child must rescue.
 * Stacks, not flags: a signal handler may fork between an outer fork's
 * prepare and parent handlers (tst-mallocfork2 does), and the inner fork's
 * handlers must not decide for the outer. */
static KMM_TLS uint32_t fork_took_nothing, fork_rescue, fork_single;

/* glibc's stdio list lock, taken before kmm's locks (in a process with
 * threads) and dropped by the parent's handler (the child's libc resets
 * it).  glibc's fork takes that
 * lock after the atfork prepare handlers and its own malloc's locks after
 * it, since stdio allocates with a FILE locked and fflush(NULL) locks
 * every FILE under the list lock: with kmm's locks taken first, a thread
 * in fflush(NULL) waited for a FILE whose owner, in getline, waited for
 * an arena the forking thread held, which waited for the list lock (glibc
 * bug 19431, tst-malloc-fork-deadlock).  The lock is recursive: the same
 * thread takes it again in fork.  Weak: another libc may not have it. */
extern void _IO_list_lock(void) __attribute__((weak));
extern void _IO_list_unlock(void) __attribute__((weak));

/* Take every kmm lock; false (and none held) if one stayed busy past the
 * deadline. */
static bool take_every_lock(void)
{
	struct kmm_fork_log log;
	kmm_lock_witness_fork_prepare();
	kmm_fork_locks_begin(&log);
	kmm_leakcheck_fork_prepare_scan();
	kmm_fork_lock(&kmm_init_lock);
	kmm_arenas_fork_prepare();
	kmm_thread_fork_prepare();
	kmm_fork_lock(&kmm_big_stats_lock);
	kmm_leakcheck_fork_prepare_table();
	kmm_kernel_fork_prepare();
#if KMM_VALGRIND
	kmm_memcheck_fork_prepare();
	kmm_vg_fork_prepare();
#endif
	kmm_harden_fork_prepare();
	kmm_sample_fork_prepare();
	kmm_trace_fork_prepare();
	if (kmm_fork_locks_end())
		return true;
	kmm_lock_witness_fork_parent();
	return false;
}

static void fork_prepare(void)
{
	bool single = &__libc_single_threaded != NULL && __libc_single_threaded;
	bool rescue = kmm_busy != 0 || kmm_rescued();
	bool nothing = rescue || single;
	/* the list lock first, whatever is taken after (and kept until the
	 * parent's handler, even when nothing is): glibc runs prepare
	 * handlers without its atfork lock and takes the list lock under it,
	 * so a fork that left it to glibc could wait for it under the atfork
	 * lock while another fork's prepare handler held it and waited for
	 * the atfork lock */
	if (!single && _IO_list_lock != NULL) {
		if (rescue)   /* (this thread may hold what another fork waits for) */
			kmm_fork_busy_wait(true);
		_IO_list_lock();
		if (rescue)
			kmm_fork_busy_wait(false);
	}
	if (!nothing) {
		kmm_ensure_init();   /* (the child's handler expects a set-up heap) */
		if (!take_every_lock())
			nothing = rescue = true;
	}
	fork_took_nothing = fork_took_nothing << 1 | nothing;
	fork_rescue = fork_rescue << 1 | rescue;
	fork_single = fork_single << 1 | single;
	if (!nothing)
		kmm_in_fork = true;
}

static void fork_parent(void)
{
	bool took_nothing = fork_took_nothing & 1, single = fork_single & 1;
	fork_took_nothing >>= 1;
	fork_rescue >>= 1;
	fork_single >>= 1;
	if (took_nothing) {
		if (!single && _IO_list_unlock != NULL)
			_IO_list_unlock();
		KMM_TRACE(KMM_TR_FORK, 0, 0, 0, 0, 0, 0);
		return;
	}
	kmm_in_fork = false;
	kmm_trace_fork_parent();
	kmm_sample_fork_parent();
	kmm_harden_fork_parent();
#if KMM_VALGRIND
	kmm_vg_fork_parent();
	kmm_memcheck_fork_parent();
#endif
	kmm_kernel_fork_parent();
	kmm_unlock(&kmm_big_stats_lock);
	kmm_thread_fork_parent();
	kmm_arenas_fork_parent();
	kmm_unlock(&kmm_init_lock);
	kmm_leakcheck_fork_parent();
	kmm_lock_witness_fork_parent();
	if (_IO_list_unlock != NULL)
		_IO_list_unlock();
	/* no kmm lock held: recording may need the slab allocator */
	KMM_TRACE(KMM_TR_FORK, 0, 0, 0, 0, 0, 0);
}

static void fork_child(void)
{
	bool took_nothing = fork_took_nothing & 1, rescue = fork_rescue & 1;
	fork_took_nothing >>= 1;
	fork_rescue >>= 1;
	fork_single >>= 1;   /* (the child's libc resets the list lock) */
	if (rescue) {
		kmm_rescue_start();   /* first: nothing else may touch the heap */
		kmm_live_fork_child(true);
		return;
	}
	if (took_nothing) {
		/* the one thread: nothing to take over from others */
		kmm_thread_fork_child();   /* (its thread id) */
		kmm_sample_fork_child(false);
		kmm_trace_fork_child();
		kmm_live_fork_child(false);
		return;
	}
	kmm_in_fork = false;
	kmm_busy = 0;   /* every lock it held is reset below */
	kmm_lock_witness_fork_child();
	kmm_kernel_fork_child();
	kmm_harden_fork_child();
	kmm_sample_fork_child(true);
#if KMM_VALGRIND
	kmm_vg_fork_child();
	kmm_memcheck_fork_child();
#endif
	kmm_lock_reset(&kmm_init_lock);
	kmm_lock_reset(&kmm_big_stats_lock);
	kmm_leakcheck_fork_child();
	kmm_arenas_fork_child(&kmm_self);
	kmm_thread_fork_child();
	kmm_trace_fork_child();   /* it records, with every lock reset */
	kmm_live_fork_child(false);   /* (its own segment, kmm.CHILDPID) */
}

/* What pthread_atfork() calls.  pthread_atfork itself is a two-line
 * function from libc_nonshared.a that the linker appends after all of
 * kmm's code, where
 * calling it at start-up would map a block of cold code (util/compiler.h). */
extern int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void),
			     void *dso_handle);
extern void *__dso_handle __attribute__((weak, visibility("hidden")));

/* KMM_TRACE_BACKTRACE, KMM_SAMPLE: libunwind's unw_backtrace
 * (backtrace.h), loaded here, where dlopen may allocate (not from inside
 * malloc), and only when asked for: a process that neither traces with
 * backtraces nor samples does not map libunwind.  Backtraces start with
 * the events and samples after this (docs/trace.md, docs/profiling.md). */
static int own_code(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t *range = arg;   /* in: an address of ours; out: our code's range */
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && range[0] >= lo && range[0] < hi) {
			range[0] = lo;
			range[1] = hi;
			return 1;
		}
	}
	return 0;
}

static KMM_COLD void load_unwinder(const char *who)
{
	void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		h = dlopen("libunwind.so", RTLD_NOW | RTLD_LOCAL);
	int (*fn)(void **, int) = NULL;
	if (h != NULL)
		*(void **)&fn = dlsym(h, "unw_backtrace");
	if (fn == NULL) {
		kmm_warn("%s: no libunwind (libunwind.so.8): %s carry no backtrace", who,
			 who[4] == 'T' ? "events" : "samples");
		return;
	}
	/* the step API under its x86_64 names (libunwind.h's macros) */
	struct kmm_unwind_step step;
	*(void **)&step.getcontext = dlsym(h, "_Ux86_64_getcontext");
	*(void **)&step.init_local = dlsym(h, "_ULx86_64_init_local");
	*(void **)&step.step = dlsym(h, "_ULx86_64_step");
	*(void **)&step.get_reg = dlsym(h, "_ULx86_64_get_reg");
	uintptr_t range[2] = { (uintptr_t)&load_unwinder, 0 };
	if (dl_iterate_phdr(own_code, range) == 0)
		range[0] = range[1] = 0;
	kmm_backtrace_set_unwinder(fn, &step, range[0], range[1]);
}

__attribute__((constructor)) static void kmm_constructor(void)
{
	kmm_ensure_init();
	if (kmm_options.pending) {
		kmm_lock(&kmm_main_arena.lock);
		kmm_options_load();
		if (kmm_params.redzone)   /* blocks made so far have no redzone */
			kmm_harden_early(kmm_main_arena.span_hi);
		kmm_unlock(&kmm_main_arena.lock);
		observers_start();
		kmm_sample_start();
	}
	if (kmm_params.observed & KMM_OBSERVE_LEAKS)
		kmm_leakcheck_constructor();
	if (kmm_options.resolved != 0)   /* (a relative KMM_STATS...: for the programs it starts) */
		kmm_options_export_paths();
	__register_atfork(fork_prepare, fork_parent, fork_child, __dso_handle);
	if (kmm_trace_on && kmm_options.trace_depth > 0)
		load_unwinder("KMM_TRACE_BACKTRACE");
	else if (kmm_sample_on())
		load_unwinder("KMM_SAMPLE");
	if (report_wanted_here() && kmm_options.stats_path[0] == '\0')
		kmm_report_fd = kmm_os_dup_fd(2, 100);
	if (kmm_options.live && !kmm_rescued())   /* (KMM_LIVE: live.h) */
		kmm_live_start();
	kmm_sample_constructor();
}

static KMM_COLD void report_at_exit(void)
{
	int fd = kmm_report_fd >= 0 ? kmm_report_fd : 2;
	if (kmm_options.stats_path[0] != '\0') {
		fd = kmm_os_open_err(kmm_options.stats_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd < 0) {
			/* (said at start-up too, options.c, where stderr was open) */
			char err[32];
			kmm_warn("KMM_STATS: cannot open %s: %s (the report is lost)", kmm_options.stats_path,
				 kmm_strerror(-fd, err, sizeof err));
			return;
		}
	}
	kmm_report_exit(fd, kmm_os_now_ns() - kmm_start_ns, kmm_options.stats_sections);
	if (fd != 2)
		kmm_os_close(fd);
	kmm_report_fd = -1;
}

/* A rescued fork child's exit (heap/rescue.h): its heap is not read, so
 * there is no report; where one was asked for, one line says why. */
static KMM_COLD void rescue_note_at_exit(void)
{
	struct kmm_rescue_stats st;
	char out[256];
	struct kmm_buf b;
	int fd = kmm_report_fd >= 0 ? kmm_report_fd : 2;
	if (kmm_options.stats_path[0] != '\0')
		fd = kmm_os_open(kmm_options.stats_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0)
		return;
	kmm_rescue_stats(&st);
	kmm_buf_init(&b, out, sizeof out, fd);
	kmm_buf_printf(&b, "kmm: pid %d: no report: a fork child whose heap was not usable (a fork from a signal "
		       "handler that interrupted kmm); its rescue heap mapped %lu blocks, unmapped %lu\n",
		       (int)kmm_os_getpid(), st.maps, st.unmaps);
	kmm_buf_flush(&b);
	if (fd != 2 && fd != kmm_report_fd)
		kmm_os_close(fd);
}

__attribute__((destructor)) static void kmm_destructor(void)
{
	if (!kmm_ready)
		return;
	if (kmm_rescued()) {
		if (report_wanted_here())
			rescue_note_at_exit();
		return;
	}
	if (kmm_params.observed & KMM_OBSERVE_LEAKS)
		kmm_leakcheck_exit();
	if (kmm_sample_on())   /* (before the report, which shows its counters) */
		kmm_sample_exit();
	if (report_wanted_here())
		report_at_exit();
	if (kmm_live_on)
		kmm_live_exit();
	if (kmm_trace_on)   /* (trace.c's code is not touched otherwise) */
		kmm_trace_finish();
}
