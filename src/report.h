/*
 * report.h — kmm's reports, by section, to a file descriptor (kmm_report,
 * KMM_STATS at exit, `kmm run --stats`).
 */
#ifndef KMM_REPORT_H
#define KMM_REPORT_H

/* Write the comma-separated `sections` ("summary", "malloc_info",
 * "params", "all") to fd.  -1/EINVAL for an unknown section, before
 * anything is written. */
int kmm_report_sections(int fd, const char *sections);

/* The report printed at exit: a header naming the process, then the
 * sections (an unknown one is reported and skipped). */
void kmm_report_exit(int fd, unsigned long long uptime_ns, const char *sections);

#endif /* KMM_REPORT_H */
