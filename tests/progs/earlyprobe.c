/*
 * earlyprobe — reports what libearly.so's constructor saw (see early.c),
 * whether kmm served those early calls, and whether dlopen/dlclose (the
 * dynamic loader allocating through kmm) work.  Prints "key value" lines.
 */
#ifndef _GNU_SOURCE /* AM_CPPFLAGS defines it */
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>

extern int early_dlerror_ok, early_thread_ok, early_fork_ok, early_alloc_ok;

int main(void)
{
	printf("dlerror %d\nalloc %d\nthread %d\nfork %d\n", early_dlerror_ok, early_alloc_ok,
	       early_thread_ok, early_fork_ok);

	/* with libkmm preloaded, its public API is visible */
	int (*check)(int) = (int (*)(int))dlsym(RTLD_DEFAULT, "kmm_check");
	printf("kmm %s\n", check != NULL ? "yes" : "no");
	if (check != NULL)
		printf("check %d\n", check(1));

	void *h = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
	double (*cosine)(double) = h ? (double (*)(double))dlsym(h, "cos") : NULL;
	printf("dlopen %d\n", cosine != NULL && cosine(0.0) == 1.0);
	if (h != NULL)
		dlclose(h);
	return 0;
}
