/*
 * options.c — reading kmm's configuration from the environment.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "options.h"
#include "sample.h"
#include "os.h"
#include "report.h"
#include "heap/params.h"
#include "kernel/kernel.h"
#include "util/format.h"

extern char **environ;

struct kmm_options kmm_options;

struct option_name {
	const char *name;   /* KMM_OPTIONS name = glibc tunable suffix */
	int param;
	int (*set)(int param, long long value);   /* NULL: the heap's kmm_params_set */
	const char *range;  /* the values set() accepts, for a warning (NULL: any number) */
};

/* fail=N, fail_from=N: the OS layer's failure injection (os.h) */
static int fail_set(int param, long long value)
{
	if (value < 0)
		return 0;
	kmm_os_fail_at((uint64_t)value, param == 1);
	return 1;
}

static const struct option_name option_names[] = {
	{ "mmap_threshold",        KMM_P_MMAP_THRESHOLD, NULL, "0..32m" },
	{ "top_pad",               KMM_P_TOP_PAD, NULL, NULL },
	{ "trim_threshold",        KMM_P_TRIM_THRESHOLD, NULL, NULL },
	{ "mmap_max",              KMM_P_MMAP_MAX, NULL, "0..2147483647" },
	{ "arena_max",             KMM_P_ARENA_MAX, NULL, "0 (no limit of its own) or more" },
	{ "arena_test",            KMM_P_ARENA_TEST, NULL, "1 or more" },
	{ "perturb",               KMM_P_PERTURB, NULL, NULL },
	{ "mxfast",                KMM_P_MXFAST, NULL, "0..160" },
	{ "tcache_count",          KMM_P_TCACHE_COUNT, NULL, "0..65535" },
	{ "tcache_max",            KMM_P_TCACHE_MAX, NULL, "0..1032" },
	{ "tcache_unsorted_limit", KMM_P_TCACHE_UNSORTED_LIMIT, NULL, "0 or more" },
	/* kmm's own (KMM_OPTIONS only) */
	{ "threshold_rule",        KMM_P_THRESHOLD_RULE, NULL, "cache or glibc" },
	{ "trim_rule",             KMM_P_TRIM_RULE, NULL, "decay or glibc" },
	{ "poison",                KMM_P_POISON, NULL, "on or off" },
	{ "init_on_alloc",         KMM_P_INIT_ON_ALLOC, NULL, "on or off" },
	{ "init_on_free",          KMM_P_INIT_ON_FREE, NULL, "on or off" },
	{ "memcheck",              KMM_P_MEMCHECK, NULL, "on, exact or off" },
	{ "guard",                 KMM_P_GUARD, NULL, "0 (off) or at least 4096" },
	{ "front",                 KMM_P_FRONT, NULL, "slab or tcache" },
	{ "zero_guard",            KMM_P_ZERO_GUARD, NULL, "on or off" },
	{ "redzone",               KMM_P_REDZONE, NULL, "on or off" },
	{ "quarantine",            KMM_P_QUARANTINE, NULL, "0 (off) or more" },
	{ "vmalloc_lazy_max",      KMM_KP_VMALLOC_LAZY_MAX, kmm_kernel_param_set, "0 or more" },
	{ "vmalloc_space",         KMM_KP_VMALLOC_SPACE,    kmm_kernel_param_set, "at least 64m" },
	{ "populate",              KMM_KP_POPULATE,         kmm_kernel_param_set, "on or off" },
	{ "vmalloc_frames",        KMM_KP_VMALLOC_FRAMES,   kmm_kernel_param_set, "on or off" },
	{ "watermark_high",        KMM_KP_WATERMARK_HIGH,   kmm_kernel_param_set, "0 or more" },
	{ "watermark_low",         KMM_KP_WATERMARK_LOW,    kmm_kernel_param_set, "0 or more" },
	{ "watermark_min",         KMM_KP_WATERMARK_MIN,    kmm_kernel_param_set, "0 or more" },
	{ "slab_random",           KMM_KP_SLAB_RANDOM,      kmm_kernel_param_set, "on or off" },
	{ "page_shuffle",          KMM_KP_PAGE_SHUFFLE,     kmm_kernel_param_set, "on or off" },
	{ "slab_debug",            KMM_KP_SLAB_DEBUG,       kmm_kernel_param_set, "on or off" },
	{ "fail",                  0,                       fail_set, "0 or more" },
	{ "fail_from",             1,                       fail_set, "0 or more" },
	{ "sample",                0,                       kmm_sample_set_period, "0 (off) or more" },
};

/* The profiles (options.h): what each sets, as (parameter, value) pairs
 * applied through the same setters as the options. */
struct profile_setting {
	int param;
	long long value;
	int (*set)(int param, long long value);
};

static const struct {
	const char *name;
	const struct profile_setting *settings;
	size_t n;
} profiles[] = {
	[KMM_PROFILE_KMM] = { "kmm", (const struct profile_setting[]){
		{ KMM_P_THRESHOLD_RULE, KMM_THRESHOLD_CACHE, NULL },
		{ KMM_P_TRIM_RULE, KMM_TRIM_DECAY, NULL },
		{ KMM_KP_VMALLOC_FRAMES, 0, kmm_kernel_param_set },
		{ KMM_P_FRONT, KMM_FRONT_SLAB_, NULL },
		{ KMM_P_ZERO_GUARD, 1, NULL },
	}, 5 },
	[KMM_PROFILE_GLIBC] = { "glibc", (const struct profile_setting[]){
		{ KMM_P_THRESHOLD_RULE, KMM_THRESHOLD_GLIBC, NULL },
		{ KMM_P_TRIM_RULE, KMM_TRIM_GLIBC, NULL },
		{ KMM_KP_VMALLOC_FRAMES, 1, kmm_kernel_param_set },
		{ KMM_P_FRONT, KMM_FRONT_TCACHE_, NULL },
		{ KMM_P_ZERO_GUARD, 0, NULL },
	}, 5 },
	[KMM_PROFILE_HARDENED] = { "hardened", (const struct profile_setting[]){
		{ KMM_P_THRESHOLD_RULE, KMM_THRESHOLD_CACHE, NULL },
		{ KMM_P_TRIM_RULE, KMM_TRIM_DECAY, NULL },
		{ KMM_KP_VMALLOC_FRAMES, 0, kmm_kernel_param_set },
		{ KMM_P_FRONT, KMM_FRONT_TCACHE_, NULL },
		{ KMM_P_ZERO_GUARD, 1, NULL },
		{ KMM_P_INIT_ON_ALLOC, 1, NULL },
		/* (not init_on_free: the quarantine zeroes freed blocks) */
		{ KMM_P_GUARD, KMM_GUARD_MIN, NULL },
		{ KMM_P_REDZONE, 1, NULL },
		{ KMM_P_QUARANTINE, KMM_HARDENED_QUARANTINE, NULL },
		{ KMM_KP_SLAB_RANDOM, 1, kmm_kernel_param_set },
		{ KMM_KP_PAGE_SHUFFLE, 1, kmm_kernel_param_set },
		{ KMM_KP_SLAB_DEBUG, 1, kmm_kernel_param_set },
	}, 12 },
};

static const struct option_name legacy_names[] = {
	{ "MALLOC_TOP_PAD_",        KMM_P_TOP_PAD, NULL, NULL },
	{ "MALLOC_MMAP_THRESHOLD_", KMM_P_MMAP_THRESHOLD, NULL, NULL },
	{ "MALLOC_TRIM_THRESHOLD_", KMM_P_TRIM_THRESHOLD, NULL, NULL },
	{ "MALLOC_MMAP_MAX_",       KMM_P_MMAP_MAX, NULL, NULL },
	{ "MALLOC_ARENA_MAX",       KMM_P_ARENA_MAX, NULL, NULL },
	{ "MALLOC_ARENA_TEST",      KMM_P_ARENA_TEST, NULL, NULL },
	{ "MALLOC_PERTURB_",        KMM_P_PERTURB, NULL, NULL },
};

KMM_HOT const char *kmm_getenv(const char *name)
{
	char **env = environ;
	size_t n = strlen(name);
	if (env == NULL)
		return NULL;
	for (; *env != NULL; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

KMM_COLD bool kmm_parse_number(const char *s, size_t len, bool suffixes, long long *out)
{
	unsigned long long v = 0;
	size_t i = 0;
	bool neg = false;
	unsigned base = 10;
	if (len > 0 && s[0] == '-') {
		neg = true;
		i++;
	}
	if (len - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
		base = 16;
		i += 2;
	}
	size_t digits = 0;
	for (; i < len; i++, digits++) {
		char ch = s[i];
		unsigned d;
		if (ch >= '0' && ch <= '9') d = (unsigned)(ch - '0');
		else if (base == 16 && ch >= 'a' && ch <= 'f') d = (unsigned)(ch - 'a' + 10);
		else if (base == 16 && ch >= 'A' && ch <= 'F') d = (unsigned)(ch - 'A' + 10);
		else break;
		if (v > (0x7fffffffffffffffull - d) / base)
			return false;
		v = v * base + d;
	}
	if (digits == 0)
		return false;
	if (i < len && suffixes) {
		unsigned shift = 0;
		switch (s[i]) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		default: return false;
		}
		if (v > (0x7fffffffffffffffull >> shift))
			return false;
		v <<= shift;
		i++;
		/* allow "k", "kb", "kib" */
		if (i < len && (s[i] == 'i' || s[i] == 'I'))
			i++;
		if (i < len && (s[i] == 'b' || s[i] == 'B'))
			i++;
	}
	if (i != len)
		return false;
	if (neg && v != 1)
		return false;   /* only -1 ("unlimited") */
	*out = neg ? -1 : (long long)v;
	return true;
}

KMM_COLD const char *kmm_option_name(size_t i)
{
	return i < KMM_ARRAY_SIZE(option_names) ? option_names[i].name : NULL;
}

static const struct option_name *lookup(const struct option_name *tab, size_t n,
					const char *name, size_t len);

KMM_COLD const char *kmm_option_range(const char *name)
{
	const struct option_name *o = lookup(option_names, KMM_ARRAY_SIZE(option_names), name, strlen(name));
	return o != NULL ? o->range : NULL;
}

static const struct option_name *lookup(const struct option_name *tab, size_t n,
					const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(tab[i].name) == len && memcmp(tab[i].name, name, len) == 0)
			return &tab[i];
	return NULL;
}

/* Numbers, and the words some options take. */
static bool parse_value(const struct option_name *o, const char *s, size_t len, long long *v)
{
	static const struct { const char *option, *word; long long value; } words[] = {
		{ "threshold_rule", "cache", KMM_THRESHOLD_CACHE },
		{ "threshold_rule", "glibc", KMM_THRESHOLD_GLIBC },
		{ "trim_rule",      "decay", KMM_TRIM_DECAY },
		{ "trim_rule",      "glibc", KMM_TRIM_GLIBC },
		{ "populate",       "on",    1 },
		{ "populate",       "off",   0 },
		{ "vmalloc_frames", "on",    1 },
		{ "vmalloc_frames", "off",   0 },
		{ "poison",         "on",    1 },
		{ "poison",         "off",   0 },
		{ "init_on_alloc",  "on",    1 },
		{ "init_on_alloc",  "off",   0 },
		{ "init_on_free",   "on",    1 },
		{ "init_on_free",   "off",   0 },
		{ "slab_random",    "on",    1 },
		{ "slab_random",    "off",   0 },
		{ "page_shuffle",   "on",    1 },
		{ "page_shuffle",   "off",   0 },
		{ "guard",          "off",   0 },
		{ "memcheck",       "on",    KMM_MEMCHECK_ON },
		{ "memcheck",       "exact", KMM_MEMCHECK_EXACT },
		{ "memcheck",       "off",   KMM_MEMCHECK_OFF },
		{ "redzone",        "on",    1 },
		{ "redzone",        "off",   0 },
		{ "quarantine",     "off",   0 },
		{ "zero_guard",     "on",    1 },
		{ "zero_guard",     "off",   0 },
		{ "slab_debug",     "on",    1 },
		{ "slab_debug",     "off",   0 },
		{ "front",          "slab",   KMM_FRONT_SLAB_ },
		{ "front",          "tcache", KMM_FRONT_TCACHE_ },
	};
	for (size_t i = 0; i < KMM_ARRAY_SIZE(words); i++)
		if (strcmp(words[i].option, o->name) == 0 && strlen(words[i].word) == len &&
		    memcmp(words[i].word, s, len) == 0) {
			*v = words[i].value;
			return true;
		}
	return kmm_parse_number(s, len, true, v);
}

static int profile_lookup(const char *name, size_t len)
{
	for (size_t i = 0; i < KMM_ARRAY_SIZE(profiles); i++)
		if (strlen(profiles[i].name) == len && memcmp(profiles[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

KMM_COLD const char *kmm_profile_name(int profile)
{
	return profile >= 0 && (size_t)profile < KMM_ARRAY_SIZE(profiles) ? profiles[profile].name : "?";
}

/* The value of the last profile=NAME entry of KMM_OPTIONS text (its length
 * in *len), or NULL. */
static const char *profile_entry(const char *text, size_t *len)
{
	const char *found = NULL;
	for (const char *p = text; *p;) {
		const char *end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) > 8 && memcmp(p, "profile=", 8) == 0) {
			found = p + 8;
			*len = (size_t)(end - found);
		}
		p = *end ? end + 1 : end;
	}
	return found;
}

KMM_COLD void kmm_profile_apply(int profile)
{
	for (size_t i = 0; i < profiles[profile].n; i++) {
		/* valid values by construction: nothing can refuse them */
		const struct profile_setting *s = &profiles[profile].settings[i];
		(void)(s->set ? s->set(s->param, s->value) : kmm_params_set(s->param, s->value));
	}
	kmm_options.profile = profile;
	kmm_glibc_messages = profile == KMM_PROFILE_GLIBC;   /* glibc's text for corruption */
}

KMM_COLD int kmm_options_parse(const char *text, bool warn)
{
	int failures = 0;
	const char *p = text;
	while (*p) {
		const char *end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		if (end == p) {
			p = *end ? end + 1 : end;
			continue;
		}
		if (eq == NULL) {
			if (warn)
				kmm_warn("KMM_OPTIONS: '%.*s' is not name=value (ignored)", (int)(end - p), p);
			failures++;
		} else if (eq - p == 7 && memcmp(p, "profile", 7) == 0) {
			/* applied before everything else (kmm_options_load) */
			if (profile_lookup(eq + 1, (size_t)(end - eq - 1)) < 0) {
				if (warn)
					kmm_warn("KMM_OPTIONS: unknown profile '%.*s' (ignored; kmm, glibc or hardened)",
						 (int)(end - eq - 1), eq + 1);
				failures++;
			}
		} else {
			const struct option_name *o = lookup(option_names, KMM_ARRAY_SIZE(option_names),
							     p, (size_t)(eq - p));
			long long v;
			if (o == NULL) {
				if (warn)
					kmm_warn("KMM_OPTIONS: unknown option '%.*s' (ignored; see kmm(7))",
						 (int)(eq - p), p);
				failures++;
			} else if (!parse_value(o, eq + 1, (size_t)(end - eq - 1), &v)) {
				if (warn)
					kmm_warn("KMM_OPTIONS: bad value '%.*s' for %s (%s%signored)",
						 (int)(end - eq - 1), eq + 1, o->name, o->range ? o->range : "",
						 o->range ? "; " : "");
				failures++;
			} else if (!(o->set ? o->set(o->param, v) : kmm_params_set(o->param, v))) {
				if (warn)
					kmm_warn("KMM_OPTIONS: %s=%.*s out of range (%s%signored)", o->name,
						 (int)(end - eq - 1), eq + 1, o->range ? o->range : "",
						 o->range ? "; " : "");
				failures++;
			}
		}
		p = *end ? end + 1 : end;
	}
	return failures;
}

/* GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.mmap_threshold=... */
static void parse_tunables(const char *text)
{
	static const char prefix[] = "glibc.malloc.";
	const char *p = text;
	while (*p) {
		const char *end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		size_t pl = sizeof prefix - 1;
		if (eq != NULL && (size_t)(eq - p) > pl && memcmp(p, prefix, pl) == 0) {
			const struct option_name *o = lookup(option_names, KMM_ARRAY_SIZE(option_names),
							     p + pl, (size_t)(eq - p - pl));
			long long v;
			if (o != NULL && o->set == NULL && o->param != KMM_P_THRESHOLD_RULE &&
			    o->param != KMM_P_TRIM_RULE && o->param != KMM_P_FRONT &&
			    kmm_parse_number(eq + 1, (size_t)(end - eq - 1), false, &v))
				kmm_params_set(o->param, v);
		}
		p = *end ? end + 1 : end;
	}
}

/* Does the environment hold anything kmm reads (KMM_*, MALLOC_*,
 * GLIBC_TUNABLES)?  Compared a character at a time with immediates: a
 * program run without such variables reads none of libkmm.so's .rodata,
 * whose pages would otherwise count in its RSS (util/compiler.h). */
static KMM_HOT bool env_has_ours(char **env)
{
	for (; *env != NULL; env++) {
		const char *e = *env;
		if ((e[0] == 'K' && e[1] == 'M' && e[2] == 'M' && e[3] == '_') ||
		    (e[0] == 'M' && e[1] == 'A' && e[2] == 'L' && e[3] == 'L' && e[4] == 'O' && e[5] == 'C' &&
		     e[6] == '_') ||
		    (e[0] == 'G' && e[1] == 'L' && e[2] == 'I' && e[3] == 'B' && e[4] == 'C' && e[5] == '_'))
			return true;
	}
	return false;
}

/* KMM_STATS_REPORT: the sections as bits (report.h); an unknown one is
 * named in a warning (when `warn`: the process that will report) and
 * left out, the others kept. */
static KMM_COLD unsigned parse_sections(const char *list, bool warn)
{
	unsigned bits = 0;
	for (const char *p = list; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		unsigned b = len > 0 ? kmm_report_section_bits(p, len) : 0;
		if (len > 0 && b == 0 && warn)
			kmm_warn("KMM_STATS_REPORT: unknown section '%.*s' (ignored; known: %s)", (int)len, p,
				 kmm_report_known_sections());
		bits |= b;
		p += len + (end ? 1 : 0);
	}
	return bits;
}

/* A relative path in path[cap] made absolute against the working
 * directory now, at start-up: the program may chdir() before the file is
 * opened.  Left as it is, with a warning, if that cannot be done. */
static KMM_COLD bool resolve_path(const char *var, char *path, size_t cap)
{
	char cwd[1024], err[32];
	if (path[0] == '\0' || path[0] == '/')
		return false;
	long n = kmm_os_getcwd(cwd, sizeof cwd);
	size_t len = strlen(path);
	if (n < 0) {
		kmm_warn("%s: cannot find the working directory for %s: %s (kept relative)", var, path,
			 n == -ERANGE ? "its path is too long" : kmm_strerror((int)-n, err, sizeof err));
		return false;
	}
	size_t slash = cwd[n - 1] == '/' ? 0 : 1;
	if ((size_t)n + slash + len >= cap) {
		kmm_warn("%s: %.*s/%s is too long (at most %zu bytes; kept relative)", var, (int)n, cwd, path,
			 cap - 1);
		return false;
	}
	memmove(path + n + slash, path, len + 1);
	memcpy(path, cwd, (size_t)n);
	if (slash)
		path[n] = '/';
	return true;
}

/* VAR's entry in the environment made to read VAR=path: the slot in
 * environ points at entry[] instead (what putenv does; no allocation, and
 * no setenv, which programs such as bash define for themselves). */
static KMM_COLD void export_path(const char *var, const char *path, char *entry, size_t cap)
{
	size_t n = strlen(var);
	if (environ == NULL || n + 1 + strlen(path) >= cap)
		return;
	for (char **env = environ; *env != NULL; env++)
		if (strncmp(*env, var, n) == 0 && (*env)[n] == '=') {
			kmm_snprintf(entry, cap, "%s=%s", var, path);
			*env = entry;
			return;
		}
}

KMM_COLD void kmm_options_export_paths(void)
{
	static char stats[sizeof kmm_options.stats_path + 16];
	static char leakcheck[sizeof kmm_options.leakcheck_path + 24];
	static char trace[sizeof kmm_options.trace_path + 16];
	static char profile[sizeof kmm_options.profile_path + 16];
	if (kmm_options.resolved & KMM_RESOLVED_STATS)
		export_path("KMM_STATS", kmm_options.stats_path, stats, sizeof stats);
	if (kmm_options.resolved & KMM_RESOLVED_LEAKCHECK)
		export_path("KMM_LEAKCHECK_FILE", kmm_options.leakcheck_path, leakcheck, sizeof leakcheck);
	if (kmm_options.resolved & KMM_RESOLVED_TRACE)
		export_path("KMM_TRACE", kmm_options.trace_path, trace, sizeof trace);
	if (kmm_options.resolved & KMM_RESOLVED_PROFILE)
		export_path("KMM_PROFILE", kmm_options.profile_path, profile, sizeof profile);
}

/* KMM_PROFILE_SIGNAL: USR1, SIGUSR2, a number... (0: none, warned). */
static KMM_COLD int signal_number(const char *v)
{
	static const struct { const char *name; int sig; } names[] = {
		{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "USR1", SIGUSR1 },
		{ "USR2", SIGUSR2 }, { "ALRM", SIGALRM }, { "TERM", SIGTERM }, { "PROF", SIGPROF },
		{ "WINCH", SIGWINCH }, { "URG", SIGURG },
	};
	long long n;
	if (strncmp(v, "SIG", 3) == 0)
		v += 3;
	for (size_t i = 0; i < KMM_ARRAY_SIZE(names); i++)
		if (strcmp(v, names[i].name) == 0)
			return names[i].sig;
	if (kmm_parse_number(v, strlen(v), false, &n) && n > 0 && n < 65 && n != SIGKILL && n != SIGSTOP)
		return (int)n;
	kmm_warn("KMM_PROFILE_SIGNAL: unknown signal '%s' (ignored; USR1, USR2, HUP... or a number)", v);
	return 0;
}

/* Can the report be written to `path`?  Opened for appending (created if
 * missing, nothing truncated) and closed; a warning now if not, while the
 * program's stderr is surely open.  Only a regular file or a missing one:
 * opening a FIFO would wait for its reader, and closing it would end the
 * reader's input. */
static KMM_COLD void check_report_file(const char *var, const char *path)
{
	char err[32];
	unsigned mode;
	if (kmm_os_stat_mode(path, &mode) == 0 && !S_ISREG(mode))
		return;
	int fd = kmm_os_open_err(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		kmm_os_close(fd);
		return;
	}
	kmm_warn("%s: cannot open %s: %s (the report will be lost)", var, path, kmm_strerror(-fd, err, sizeof err));
}

KMM_HOT void kmm_options_load(void)
{
	const char *v;
	if (environ == NULL) {
		kmm_options.pending = true;
		return;
	}
	kmm_options.pending = false;
	if (!env_has_ours(environ)) {
		/* the defaults; the report sections only matter with stats on */
		kmm_options.stats = false;
		kmm_options.stats_path[0] = '\0';
		kmm_options.trace_path[0] = '\0';
		kmm_options.leakcheck = false;
		kmm_options.live = false;
		kmm_options.resolved = 0;
		kmm_options.profile_path[0] = '\0';
		kmm_options.profile_signal = 0;
		kmm_sample_set_period(0, 0);
		return;
	}
	kmm_options.trace_path[0] = '\0';
	if ((v = kmm_getenv("KMM_TRACE")) != NULL && *v != '\0') {
		size_t len = strlen(v);
		if (len < sizeof kmm_options.trace_path)
			memcpy(kmm_options.trace_path, v, len + 1);
	}
	/* KMM_LIVE=1 (any value but 0): the live view's segment (live.h) */
	v = kmm_getenv("KMM_LIVE");
	kmm_options.live = v != NULL && *v != '\0' && strcmp(v, "0") != 0;
	/* KMM_LEAKCHECK=1 (any value but 0): the leak scanner */
	v = kmm_getenv("KMM_LEAKCHECK");
	kmm_options.leakcheck = v != NULL && *v != '\0' && strcmp(v, "0") != 0;
	kmm_options.leakcheck_path[0] = '\0';
	if ((v = kmm_getenv("KMM_LEAKCHECK_FILE")) != NULL && *v != '\0' &&
	    strlen(v) < sizeof kmm_options.leakcheck_path)
		memcpy(kmm_options.leakcheck_path, v, strlen(v) + 1);
	long long depth = 0;
	if ((v = kmm_getenv("KMM_TRACE_BACKTRACE")) != NULL && kmm_parse_number(v, strlen(v), false, &depth) &&
	    depth > 0)
		kmm_options.trace_depth = depth > 64 ? 64 : (unsigned)depth;

	/* the profile first, everything below may change what it set:
	 * KMM_OPTIONS' last profile= entry, else KMM_DEFAULT_PROFILE */
	const char *opts = kmm_getenv("KMM_OPTIONS");
	size_t plen = 0;
	const char *pname = opts != NULL ? profile_entry(opts, &plen) : NULL;
	int profile = pname != NULL ? profile_lookup(pname, plen) : -1;
	if ((v = kmm_getenv("KMM_DEFAULT_PROFILE")) != NULL && *v != '\0') {
		int env_profile = profile_lookup(v, strlen(v));
		if (env_profile < 0)
			kmm_warn("KMM_DEFAULT_PROFILE: unknown profile '%s' (ignored; kmm, glibc or hardened)", v);
		else if (profile < 0)
			profile = env_profile;
	}
	if (profile >= 0)
		kmm_profile_apply(profile);
	if ((v = kmm_getenv("GLIBC_TUNABLES")) != NULL)
		parse_tunables(v);
	for (size_t i = 0; i < KMM_ARRAY_SIZE(legacy_names); i++) {
		long long n;
		if ((v = kmm_getenv(legacy_names[i].name)) != NULL &&
		    kmm_parse_number(v, strlen(v), false, &n))
			kmm_params_set(legacy_names[i].param, n);
	}
	long long sample = 0;
	if ((v = kmm_getenv("KMM_SAMPLE")) != NULL && *v != '\0' &&
	    (!kmm_parse_number(v, strlen(v), true, &sample) || sample < 0)) {
		kmm_warn("KMM_SAMPLE: bad value '%s' (ignored; bytes, with k/m/g suffixes)", v);
		sample = 0;
	}
	kmm_sample_set_period(0, sample);
	if (opts != NULL)
		kmm_options_parse(opts, true);
	kmm_options.profile_path[0] = '\0';
	if ((v = kmm_getenv("KMM_PROFILE")) != NULL && *v != '\0' && strlen(v) < sizeof kmm_options.profile_path)
		memcpy(kmm_options.profile_path, v, strlen(v) + 1);
	kmm_options.profile_signal = 0;
	if ((v = kmm_getenv("KMM_PROFILE_SIGNAL")) != NULL && *v != '\0')
		kmm_options.profile_signal = signal_number(v);

	v = kmm_getenv("KMM_STATS");
	kmm_options.stats = v != NULL && *v != '\0' && strcmp(v, "0") != 0;
	kmm_options.stats_path[0] = '\0';
	if (kmm_options.stats && strcmp(v, "1") != 0 && strcmp(v, "stderr") != 0) {
		size_t n = strlen(v);
		if (n >= sizeof kmm_options.stats_path)
			n = sizeof kmm_options.stats_path - 1;
		memcpy(kmm_options.stats_path, v, n);
		kmm_options.stats_path[n] = '\0';
	}
	long long pid = 0;
	if ((v = kmm_getenv("KMM_STATS_PID")) != NULL && kmm_parse_number(v, strlen(v), false, &pid))
		kmm_options.stats_pid = (pid_t)pid;
	bool report_here = kmm_options.stats &&
			   (kmm_options.stats_pid == 0 || kmm_options.stats_pid == kmm_os_getpid());
	v = kmm_getenv("KMM_STATS_REPORT");
	kmm_options.stats_sections = parse_sections(v != NULL && *v != '\0' ? v : KMM_DEFAULT_REPORT,
						    report_here);

	/* paths the program's chdir() must not move, checked while stderr
	 * is open (coreutils close it before the exit report) */
	kmm_options.resolved =
		(resolve_path("KMM_STATS", kmm_options.stats_path, sizeof kmm_options.stats_path)
			 ? KMM_RESOLVED_STATS : 0) |
		(resolve_path("KMM_LEAKCHECK_FILE", kmm_options.leakcheck_path, sizeof kmm_options.leakcheck_path)
			 ? KMM_RESOLVED_LEAKCHECK : 0) |
		(resolve_path("KMM_TRACE", kmm_options.trace_path, sizeof kmm_options.trace_path)
			 ? KMM_RESOLVED_TRACE : 0) |
		(resolve_path("KMM_PROFILE", kmm_options.profile_path, sizeof kmm_options.profile_path)
			 ? KMM_RESOLVED_PROFILE : 0);
	if (report_here && kmm_options.stats_path[0] != '\0')
		check_report_file("KMM_STATS", kmm_options.stats_path);
	if (kmm_options.leakcheck && kmm_options.leakcheck_path[0] != '\0')
		check_report_file("KMM_LEAKCHECK_FILE", kmm_options.leakcheck_path);
}
