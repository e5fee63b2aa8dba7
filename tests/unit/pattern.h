/*
 * pattern.h — byte patterns the unit tests fill memory with and check it
 * against (ktest.h for the kernel side's tests, testutil.h for the heap's).
 */
#ifndef KMM_TEST_PATTERN_H
#define KMM_TEST_PATTERN_H

#include <stddef.h>
#include <stdint.h>

/* A pattern that differs per seed and per byte, with a slow component so
 * that whole pages differ too. */
static inline unsigned char pattern_byte(uint64_t seed, size_t i)
{
	return (unsigned char)(seed * 131u + i * 7u + (i >> 12));
}

static inline void fill(void *p, size_t n, uint64_t seed)
{
	unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		c[i] = pattern_byte(seed, i);
}

static inline int verify(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i] != pattern_byte(seed, i))
			return 0;
	return 1;
}

static inline int all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i] != 0)
			return 0;
	return 1;
}

#endif /* KMM_TEST_PATTERN_H */
