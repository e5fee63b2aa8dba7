/*
 * init.h — bringing kmm up in a process, and the end-of-process report.
 *
 * kmm initialises itself on the first call into it, whoever makes it: the
 * dynamic loader, libc before constructors, or the program.  Initialisation
 * reads the options from the environment (without allocating), sets up the
 * main arena's bins and the tcache key (the thread-exit key comes later:
 * heap/thread.c).  The fork handlers are registered by the library
 * constructor (see init.c for why not earlier).
 */
#ifndef KMM_INIT_H
#define KMM_INIT_H

#include "util/compiler.h"

extern int kmm_ready;

void kmm_init_slow(void);

KMM_INLINE void kmm_ensure_init(void)
{
	if (KMM_UNLIKELY(!__atomic_load_n(&kmm_ready, __ATOMIC_ACQUIRE)))
		kmm_init_slow();
}

#endif /* KMM_INIT_H */
