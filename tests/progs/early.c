/*
 * early.c — libearly.so, a dependency of tests/progs/earlyprobe.  Its
 * constructor runs before libkmm's own (the dynamic loader initialises the
 * program's dependencies first), so everything here reaches kmm before kmm's
 * constructor has run: dlsym and dlerror (which allocate their error
 * strings), malloc/calloc/realloc/free, a thread that allocates, and a fork
 * whose child allocates.  earlyprobe checks the outcome.
 */
#ifndef _GNU_SOURCE /* AM_CPPFLAGS defines it */
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int early_dlerror_ok, early_thread_ok, early_fork_ok, early_alloc_ok;

static void *early_thread(void *arg)
{
	char *p = malloc(1000);
	if (p == NULL)
		return NULL;
	memset(p, 7, 1000);
	p = realloc(p, 100000);
	free(p);
	return arg;
}

__attribute__((constructor)) static void early_init(void)
{
	/* a failing lookup: dlerror() then holds a malloc'ed message */
	void *sym = dlsym(RTLD_NEXT, "kmm_no_such_symbol_anywhere");
	const char *err = dlerror();
	early_dlerror_ok = sym == NULL && err != NULL && strstr(err, "kmm_no_such_symbol_anywhere") != NULL;

	char *a = malloc(100), *b = calloc(10, 100), *c = realloc(NULL, 50);
	early_alloc_ok = a != NULL && b != NULL && c != NULL && b[999] == 0;
	memset(a, 1, 100);
	free(a);
	free(b);
	free(c);

	pthread_t t;
	int token;
	void *r = NULL;
	if (pthread_create(&t, NULL, early_thread, &token) == 0 && pthread_join(t, &r) == 0)
		early_thread_ok = r == &token;

	pid_t pid = fork();
	if (pid == 0) {
		char *p = malloc(5000);
		if (p == NULL)
			_exit(1);
		memset(p, 3, 5000);
		free(p);
		_exit(0);
	}
	int st;
	early_fork_ok = pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}
