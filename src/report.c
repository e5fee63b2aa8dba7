/*
 * report.c — report sections and the exit report.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "report.h"
#include "os.h"
#include "heap/heap.h"
#include "heap/params.h"
#include "util/format.h"

struct section {
	const char *name;
	void (*emit)(struct kmm_buf *b);
};

static void emit_params(struct kmm_buf *b)
{
	const struct kmm_params *p = &kmm_params;
	kmm_buf_puts(b, "parameters\n");
	kmm_buf_printf(b, "  mmap_threshold        %zu (%s)\n", p->mmap_threshold,
		       p->no_dyn_threshold ? "fixed" : "dynamic");
	kmm_buf_printf(b, "  trim_threshold        %zu\n", p->trim_threshold);
	kmm_buf_printf(b, "  top_pad               %zu\n", p->top_pad);
	kmm_buf_printf(b, "  mmap_max              %d\n", p->n_mmaps_max);
	kmm_buf_printf(b, "  mxfast                %zu\n", p->max_fast);
	kmm_buf_printf(b, "  tcache_count          %zu\n", p->tcache_count);
	kmm_buf_printf(b, "  tcache_max            %zu\n", p->tcache_max_bytes);
	kmm_buf_printf(b, "  tcache_unsorted_limit %zu\n", p->tcache_unsorted_limit);
	kmm_buf_printf(b, "  arena_max             %zu\n", p->arena_max);
	kmm_buf_printf(b, "  arena_test            %zu\n", p->arena_test);
	kmm_buf_printf(b, "  perturb               %d\n", p->perturb_byte);
}

static const struct section sections[] = {
	{ "summary",     kmm_heap_report_summary },
	{ "malloc_info", kmm_heap_report_xml },
	{ "params",      emit_params },
};

static const struct section *find(const char *name, size_t len)
{
	for (size_t i = 0; i < KMM_ARRAY_SIZE(sections); i++)
		if (strlen(sections[i].name) == len && memcmp(sections[i].name, name, len) == 0)
			return &sections[i];
	return NULL;
}

int kmm_report_sections(int fd, const char *list)
{
	char out[2048];
	struct kmm_buf b;

	if (list == NULL || *list == '\0')
		list = "summary";
	/* validate first: write nothing on error */
	for (const char *p = list; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (!(len == 3 && memcmp(p, "all", 3) == 0) && len > 0 && find(p, len) == NULL) {
			errno = EINVAL;
			return -1;
		}
		p += len + (end ? 1 : 0);
	}
	kmm_buf_init(&b, out, sizeof out, fd);
	for (const char *p = list; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == 3 && memcmp(p, "all", 3) == 0) {
			for (size_t i = 0; i < KMM_ARRAY_SIZE(sections); i++)
				sections[i].emit(&b);
		} else if (len > 0) {
			find(p, len)->emit(&b);
		}
		p += len + (end ? 1 : 0);
	}
	kmm_buf_flush(&b);
	return 0;
}

void kmm_report_exit(int fd, unsigned long long uptime_ns)
{
	char out[2048], comm[64] = "?";
	struct kmm_buf b;
	int cfd = kmm_os_open("/proc/self/comm", O_RDONLY, 0);
	if (cfd >= 0) {
		ssize_t n = kmm_os_read(cfd, comm, sizeof comm - 1);
		kmm_os_close(cfd);
		if (n > 0) {
			comm[n] = '\0';
			char *nl = strchr(comm, '\n');
			if (nl)
				*nl = '\0';
		}
	}
	kmm_buf_init(&b, out, sizeof out, fd);
	kmm_buf_printf(&b, "== kmm %s report: pid %d (%s), %llu.%03llu s ==\n", PACKAGE_VERSION,
		       (int)kmm_os_getpid(), comm, uptime_ns / 1000000000ull,
		       (uptime_ns / 1000000ull) % 1000);
	kmm_heap_report_summary(&b);
	kmm_buf_flush(&b);
}
