/*
 * report.h — kmm's reports, by section, to a file descriptor (kmm_report,
 * KMM_STATS at exit, `kmm run --stats`).
 */
#ifndef KMM_REPORT_H
#define KMM_REPORT_H

#include <stdbool.h>
#include <stddef.h>

/* Write the comma-separated `sections` ("summary", "malloc_info",
 * "params", "all") to fd.  -1/EINVAL for an unknown section, before
 * anything is written. */
int kmm_report_sections(int fd, const char *sections);

/* The exit report's sections as bits (KMM_STATS_REPORT, parsed when the
 * options are read: options.c): the bit of the section `name` (len bytes),
 * every section's but check's for "all", 0 for an unknown name. */
unsigned kmm_report_section_bits(const char *name, size_t len);
/* The names kmm_report_section_bits knows, for a warning:
 * "summary, meminfo, ..., all, check". */
const char *kmm_report_known_sections(void);

/* Render one section ("meminfo"...) into dst (cap bytes, NUL-terminated),
 * exactly as the report prints it: the live view's text (src/live.c).
 * Returns its length (0 for an unknown name); *cut: it did not fit. */
size_t kmm_report_render(const char *name, char *dst, size_t cap, bool *cut);

/* The report printed at exit: a header naming the process, then the
 * sections whose bits are set, in the order of the table in report.c. */
void kmm_report_exit(int fd, unsigned long long uptime_ns, unsigned sections);

#endif /* KMM_REPORT_H */
