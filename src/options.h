/*
 * options.h — kmm's configuration from the environment, read once at
 * initialisation without allocating (see docs/options.md):
 *
 *   GLIBC_TUNABLES   glibc.malloc.<name>=<value>:...   (glibc compatible)
 *   MALLOC_TOP_PAD_, MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_,
 *   MALLOC_MMAP_MAX_, MALLOC_ARENA_MAX, MALLOC_ARENA_TEST, MALLOC_PERTURB_
 *                    glibc's legacy variables
 *   KMM_OPTIONS      name=value,...  (kmm's own; wins over the above); its
 *                    profile=kmm|glibc applies first, under everything
 *   KMM_DEFAULT_PROFILE      kmm|glibc: the profile when KMM_OPTIONS names none
 *   KMM_STATS        1 / stderr, or a file to append the exit report to
 *   KMM_STATS_PID    only report in the process with this pid
 *   KMM_STATS_REPORT the report's sections (default: summary,meminfo,
 *                    buddyinfo,slabinfo,vmallocinfo,maps)
 *   KMM_LEAKCHECK    1: track every block, scan for leaks at exit
 *   KMM_LEAKCHECK_FILE  append that report to a file, not stderr
 *   KMM_TRACE        the trace log's file
 *   KMM_SAMPLE       the sampled heap profile's mean bytes between samples
 *                    (k/m/g suffixes; also KMM_OPTIONS sample=, which wins)
 *   KMM_PROFILE      its file (default kmm-profile.PID.pb.gz in the start-up
 *                    directory); KMM_PROFILE_SIGNAL the signal that writes it
 *   KMM_LIVE         1: publish counters in /dev/shm/kmm.PID (live.h)
 *
 * Relative KMM_STATS, KMM_LEAKCHECK_FILE, KMM_TRACE and KMM_PROFILE paths are made
 * absolute against the working directory when the options are read, and
 * the report files are opened once then (O_APPEND, nothing truncated) to
 * warn about one that cannot be written while stderr is still open.
 * Values: decimal, 0x hex; in KMM_OPTIONS also a k/m/g suffix (KiB...).
 */
#ifndef KMM_OPTIONS_H
#define KMM_OPTIONS_H

#include <stdbool.h>
#include <sys/types.h>

#define KMM_DEFAULT_REPORT "summary,meminfo,buddyinfo,slabinfo,vmallocinfo,maps"

struct kmm_options {
	bool  stats;               /* print the report at exit */
	char  stats_path[1024];    /* "" = standard error */
	pid_t stats_pid;           /* 0 = any process */
	unsigned stats_sections;   /* KMM_STATS_REPORT: the exit report's sections,
				      bits of kmm_report_section_bits (report.h) */
	char  trace_path[1024];    /* KMM_TRACE: the trace log ("" = none) */
	unsigned trace_depth;      /* KMM_TRACE_BACKTRACE: frames per event */
	bool  leakcheck;           /* KMM_LEAKCHECK: the leak scanner (leakcheck.h) */
	char  leakcheck_path[1024];/* KMM_LEAKCHECK_FILE: its exit report ("" = stderr) */
	char  profile_path[1024];  /* KMM_PROFILE: the sampled profile ("" = default) */
	int   profile_signal;      /* KMM_PROFILE_SIGNAL: its signal (0: none) */
	bool  live;                /* KMM_LIVE: the live view's segment (live.h) */
	bool  pending;             /* environ was not available yet */
	int   profile;             /* enum kmm_profile: the bundle of defaults in force */
	unsigned resolved;         /* KMM_RESOLVED_*: relative paths made absolute */
};

#define KMM_RESOLVED_STATS     1u
#define KMM_RESOLVED_LEAKCHECK 2u
#define KMM_RESOLVED_TRACE     4u
#define KMM_RESOLVED_PROFILE   8u

/* profile=NAME in KMM_OPTIONS (docs/options.md, "Profiles"): a bundle of
 * defaults applied before every other setting, which may then change any
 * of them.  glibc: what glibc's malloc does, everywhere kmm can tell (the
 * strace comparisons, the examples).  kmm: kmm's own defaults.  hardened:
 * the debug and hardening options that make sense together (docs/hardening.md). */
enum kmm_profile {
	KMM_PROFILE_KMM,
	KMM_PROFILE_GLIBC,
	KMM_PROFILE_HARDENED,
};

/* profile=hardened's quarantine= (src/harden.h). */
#define KMM_HARDENED_QUARANTINE ((long long)16 << 20)

extern struct kmm_options kmm_options;

/* Read the environment into kmm_params and kmm_options.  If the process's
 * environment is not set up yet (a malloc from the dynamic loader before
 * libc initialised), mark the options pending; the library constructor
 * calls this again. */
void kmm_options_load(void);

/* Put the paths kmm_options_load() made absolute back into the
 * environment (the entries of environ now point at kmm's own strings), so
 * that the programs this one starts after a chdir() write to the same
 * files.  Called by the library constructor, before the program's main
 * copies or changes its environment. */
void kmm_options_export_paths(void);

/* Parse one KMM_OPTIONS string (exposed for the tests).  Returns the number
 * of entries it could not apply; each is reported on stderr if `warn`. */
int kmm_options_parse(const char *text, bool warn);

/* The names KMM_OPTIONS takes, one per i from 0 until NULL (the option
 * table, for the tests and the params report's completeness), and the
 * values each accepts as its warnings say them ("0..65535", "on or off";
 * NULL: any number), or NULL for a name that is not an option. */
const char *kmm_option_name(size_t i);
const char *kmm_option_range(const char *name);

/* Parse a size: decimal or 0x hex, optional k/m/g suffix when `suffixes`;
 * "-1" is accepted (as "unlimited" for trim_threshold).  Returns false on
 * malformed text. */
bool kmm_parse_number(const char *s, size_t len, bool suffixes, long long *out);

/* Apply a profile's settings (enum kmm_profile), and its name. */
void kmm_profile_apply(int profile);
const char *kmm_profile_name(int profile);

/* getenv without libc (works before libc's own initialisation). */
const char *kmm_getenv(const char *name);

#endif /* KMM_OPTIONS_H */
