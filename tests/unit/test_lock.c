/*
 * test_lock.c — lock ranks and the witness (util/lock.h).
 *
 * In a debug build (./configure --enable-debug) the witness aborts when a
 * thread takes a lock whose rank is not above every lock it holds, when it
 * unlocks a lock it does not hold, and on a failed kmm_lock_assert_held,
 * kmm_lock_assert_not_held or KMM_ASSERT.  In a release build the same
 * tests run and expect no abort: ranks and asserts cost nothing there
 * (ABORTS below is .signal = 0).
 */
#include "config.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kmm.h"
#include "util/compiler.h"
#include "util/lock.h"
#include "heap/thread.h"
#include "kernel/page_alloc.h"

#if KMM_DEBUG
#define ABORTS .signal = SIGABRT
#else
#define ABORTS .signal = 0
#endif

static kmm_lock_t a = KMM_LOCK_INIT_RANK(KMM_RANK_TEST_A);
static kmm_lock_t b = KMM_LOCK_INIT_RANK(KMM_RANK_TEST_B);

Test(witness, in_order_is_fine)
{
	kmm_lock(&a);
	kmm_lock(&b);
	kmm_lock_assert_held(&a);
	kmm_lock_assert_held(&b);
	kmm_unlock(&b);
	kmm_lock_assert_not_held(&b);
	kmm_unlock(&a);
	kmm_lock_assert_not_held(&a);
	/* again, the other release order */
	kmm_lock(&a);
	kmm_lock(&b);
	kmm_unlock(&a);
	kmm_unlock(&b);
}

Test(witness, out_of_order_aborts, ABORTS)
{
	kmm_lock(&b);
	kmm_lock(&a);   /* rank TEST_A below TEST_B: abort in a debug build */
	kmm_unlock(&a);
	kmm_unlock(&b);
}

Test(witness, fork_aware_out_of_order_aborts, ABORTS)
{
	kmm_lock(&b);
	bool locked = kmm_lock_fork_aware(&a);
	kmm_unlock_if(&a, locked);
	kmm_unlock(&b);
}

Test(witness, same_lock_twice_aborts, ABORTS)
{
	/* a self-deadlock in any build, reported before it waits in a debug
	 * build; the release build must not reach the second kmm_lock */
	kmm_lock(&a);
#if KMM_DEBUG
	kmm_lock(&a);
#endif
	kmm_unlock(&a);
}

/* A trylock cannot wait, so it cannot deadlock: allowed out of order, and
 * recorded when it succeeds; a failed one records nothing. */
Test(witness, trylock_out_of_order_is_allowed)
{
	kmm_lock(&b);
	cr_assert(kmm_trylock(&a));
	kmm_lock_assert_held(&a);
	cr_assert(!kmm_trylock(&a));   /* held: fails, records nothing */
	kmm_unlock(&a);
	kmm_lock_assert_not_held(&a);
	kmm_unlock(&b);
}

Test(witness, unlock_not_held_aborts, ABORTS)
{
	/* another thread's lock (here: nobody's) released by this thread */
	kmm_lock_t c = KMM_LOCK_INIT_RANK(KMM_RANK_TEST_A);
#if KMM_DEBUG
	kmm_unlock(&c);
#else
	(void)c;
#endif
}

Test(witness, assert_held_aborts, ABORTS)
{
	kmm_lock_assert_held(&a);
}

Test(witness, assert_not_held_aborts, ABORTS)
{
	kmm_lock(&a);
	kmm_lock_assert_not_held(&a);
	kmm_unlock(&a);
}

/* Several locks of one rank: in increasing sub-rank only. */
Test(witness, same_rank_in_sub_order_is_fine)
{
	kmm_lock_t l[3];
	for (unsigned i = 0; i < 3; i++)
		kmm_lock_init(&l[i], KMM_RANK_TEST_B, i + 1);
	for (unsigned i = 0; i < 3; i++)
		kmm_lock(&l[i]);
	for (unsigned i = 3; i-- > 0;)
		kmm_unlock(&l[i]);
}

Test(witness, same_rank_against_sub_order_aborts, ABORTS)
{
	kmm_lock_t l[2];
	kmm_lock_init(&l[0], KMM_RANK_TEST_B, 1);
	kmm_lock_init(&l[1], KMM_RANK_TEST_B, 2);
	kmm_lock(&l[1]);
	kmm_lock(&l[0]);
	kmm_unlock(&l[0]);
	kmm_unlock(&l[1]);
}

Test(witness, unranked_lock_aborts, ABORTS)
{
	kmm_lock_t l;
	kmm_lock_init(&l, KMM_RANK_NONE, 0);
	kmm_lock(&l);
	kmm_unlock(&l);
}

/* kmm's own ranks: the kernel side's zone lock is below the thread list. */
Test(witness, heap_lock_under_kernel_lock_aborts, ABORTS)
{
	kmm_free(kmm_malloc(1));   /* kmm set up */
	kmm_lock(&kmm_zone.lock);
	kmm_lock(&kmm_threads_lock);
	kmm_unlock(&kmm_threads_lock);
	kmm_unlock(&kmm_zone.lock);
}

Test(witness, kmm_ranks_in_order_are_fine)
{
	kmm_free(kmm_malloc(1));
	kmm_lock(&kmm_threads_lock);
	kmm_lock(&kmm_zone.lock);
	kmm_unlock(&kmm_zone.lock);
	kmm_unlock(&kmm_threads_lock);
}

/* The witness is per thread: a lock another thread holds is not ours. */
static void *hold_b(void *arg)
{
	(void)arg;
	kmm_lock(&b);
	kmm_unlock(&b);
	return NULL;
}

Test(witness, per_thread)
{
	kmm_lock(&b);
	kmm_unlock(&b);
	kmm_lock(&a);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, hold_b, NULL), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	kmm_unlock(&a);
}

/* fork: the prepare handler takes every lock in rank order; the parent and
 * the child carry on allocating with a clean witness. */
Test(witness, fork_resets_the_witness)
{
	void *p = kmm_malloc(100);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		kmm_free(p);
		kmm_lock(&a);
		kmm_unlock(&a);
		kmm_free(kmm_malloc(1000));
		_exit(kmm_check(1) == 0 ? 0 : 1);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	kmm_free(p);
}

static int evaluated;

static int side_effect(void)
{
	return ++evaluated;
}

Test(assert, kmm_assert_true_is_fine)
{
	KMM_ASSERT(1 + 1 == 2);
#if KMM_DEBUG
	KMM_ASSERT(side_effect() == 1);
	cr_assert_eq(evaluated, 1);
#else
	KMM_ASSERT(side_effect() == 1);   /* not evaluated */
	cr_assert_eq(evaluated, 0);
#endif
}

Test(assert, kmm_assert_false_aborts, ABORTS)
{
	KMM_ASSERT(evaluated == 42);
}
