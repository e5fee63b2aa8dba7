/*
 * livefake.c — writes a live-view segment by hand, for the reader's test
 * (tests/integration/live.sh): /dev/shm/kmm.PID of its own pid, with the
 * layout of src/live_format.h and the start time of /proc/self/stat, in
 * one of three states, then waits for a line on standard input and
 * removes it:
 *
 *   livefake good    one consistent publication (check_a == check_b == 1)
 *   livefake torn    seq even, but check_a != check_b (a torn copy)
 *   livefake odd     seq odd for ever (a writer stopped mid-publication)
 *
 * It prints "ready" once the segment is in place.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "live_format.h"

static unsigned long long start_time(void)
{
	char buf[1024];
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (p == NULL)
		return 0;
	for (int field = 2; field < 22 && *p != '\0'; p++)
		if (*p == ' ')
			field++;
	return strtoull(p, NULL, 10);
}

int main(int argc, char **argv)
{
	char path[64], line[16];
	if (argc != 2)
		return 2;
	snprintf(path, sizeof path, "%s%d", KMM_LIVE_PREFIX, (int)getpid());
	size_t text_off = 65536, size = text_off + 4096;
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) != 0)
		return 1;
	struct kmm_live_header *h = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (h == MAP_FAILED)
		return 1;
	h->version = KMM_LIVE_VERSION;
	h->header_size = sizeof *h;
	h->size = size;
	h->pid = (int32_t)getpid();
	h->uid = (uint32_t)getuid();
	h->start_time = start_time();
	h->text_off = text_off;
	h->c.check_a = 1;
	h->c.check_b = strcmp(argv[1], "torn") == 0 ? 2 : 1;
	h->c.live_bytes = 4242;
	h->seq = strcmp(argv[1], "odd") == 0 ? 3 : 2;
	__atomic_store_n(&h->magic, KMM_LIVE_MAGIC, __ATOMIC_RELEASE);
	printf("ready\n");
	fflush(stdout);
	if (fgets(line, sizeof line, stdin) == NULL)
		line[0] = '\0';
	unlink(path);
	return 0;
}
