/*
 * test_options.c — configuration from the environment (src/options.c) and
 * mallopt (src/heap/params.c).  The library constructor has read the
 * environment before any test runs, so the tests that change it read it
 * again with kmm_options_load().
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "options.h"
#include "report.h"
#include "heap/arenas.h"
#include "kernel/slab.h"
#include "kernel/vmalloc.h"

static long long num(const char *s, bool suffixes)
{
	long long v = -12345;
	cr_assert(kmm_parse_number(s, strlen(s), suffixes, &v), "'%s' should parse", s);
	return v;
}

static void no_num(const char *s, bool suffixes)
{
	long long v;
	cr_assert(!kmm_parse_number(s, strlen(s), suffixes, &v), "'%s' should not parse", s);
}

Test(options, numbers)
{
	cr_assert_eq(num("0", false), 0);
	cr_assert_eq(num("131072", false), 131072);
	cr_assert_eq(num("0x21000", false), 0x21000);
	cr_assert_eq(num("-1", false), -1);
	cr_assert_eq(num("64k", true), 65536);
	cr_assert_eq(num("1M", true), 1 << 20);
	cr_assert_eq(num("2MiB", true), 2 << 20);
	cr_assert_eq(num("1g", true), 1 << 30);
	no_num("", false);
	no_num("12x", false);
	no_num("64k", false);
	no_num("-2", false);
	no_num("0x", false);
	no_num("99999999999999999999", false);
	no_num("9999999999g", true);
}

Test(options, kmm_options_string)
{
	cr_assert_eq(kmm_options_parse("mmap_threshold=1m,tcache_count=3,top_pad=0x1000", false), 0);
	cr_assert_eq(kmm_params.mmap_threshold, 1 << 20);
	cr_assert_eq(kmm_params.no_dyn_threshold, 1);
	cr_assert_eq(kmm_params.tcache_count, 3);
	cr_assert_eq(kmm_params.top_pad, 0x1000);
	/* errors are counted and leave the value alone */
	cr_assert_eq(kmm_options_parse("nonsense=1,tcache_count=99999999,mmap_threshold,,", false), 3);
	cr_assert_eq(kmm_params.tcache_count, 3);
	cr_assert_eq(kmm_options_parse("mmap_threshold=64m", false), 1, "above the 32 MiB maximum");
	cr_assert_eq(kmm_options_parse("tcache_max=100,mxfast=0,perturb=0x5a", false), 0);
	cr_assert_eq(kmm_params.tcache_bins, kmm_req2tidx(100) + 1);
	cr_assert_eq(kmm_params.perturb_byte, 0x5a);
	cr_assert_eq(kmm_params.max_fast, 16);
	cr_assert_eq(kmm_options_parse("trim_threshold=-1", false), 0);
	cr_assert_eq(kmm_params.trim_threshold, SIZE_MAX);
}

Test(options, profiles_and_trim_rule)
{
	cr_assert_eq(kmm_params.trim_rule, KMM_TRIM_DECAY, "kmm's default");
	cr_assert_eq(kmm_options_parse("trim_rule=glibc", false), 0);
	cr_assert_eq(kmm_params.trim_rule, KMM_TRIM_GLIBC);
	cr_assert_eq(kmm_options_parse("trim_rule=later", false), 1, "decay or glibc only");
	cr_assert_eq(kmm_params.trim_rule, KMM_TRIM_GLIBC);
	kmm_profile_apply(KMM_PROFILE_KMM);
	cr_assert_eq(kmm_params.trim_rule, KMM_TRIM_DECAY);
	cr_assert_eq(kmm_params.threshold_rule, KMM_THRESHOLD_CACHE);
	kmm_profile_apply(KMM_PROFILE_GLIBC);
	cr_assert_eq(kmm_params.trim_rule, KMM_TRIM_GLIBC);
	cr_assert_eq(kmm_params.threshold_rule, KMM_THRESHOLD_GLIBC);
	/* KMM_DEFAULT_PROFILE, unless KMM_OPTIONS names a profile */
	kmm_profile_apply(KMM_PROFILE_KMM);
	setenv("KMM_DEFAULT_PROFILE", "glibc", 1);
	kmm_options_load();
	cr_assert_eq(kmm_options.profile, KMM_PROFILE_GLIBC);
	cr_assert_eq(kmm_params.trim_rule, KMM_TRIM_GLIBC);
	setenv("KMM_OPTIONS", "profile=kmm", 1);
	kmm_options_load();
	cr_assert_eq(kmm_options.profile, KMM_PROFILE_KMM);
	cr_assert_eq(kmm_params.trim_rule, KMM_TRIM_DECAY);
}

Test(options, kernel_side_switches)
{
	cr_assert_eq(kmm_options_parse("slab_debug=on", false), 0);
	cr_assert(kmm_slab_debug);
	cr_assert_eq(kmm_options_parse("slab_debug=2", false), 1, "on or off only");
	cr_assert(kmm_slab_debug);
	cr_assert_eq(kmm_options_parse("slab_debug=off,slab_random=on", false), 0);
	cr_assert(!kmm_slab_debug);
	cr_assert(kmm_slab_freelist_random);
}

Test(options, vmalloc_frames_switch)
{
	cr_assert(!kmm_vmalloc_params.frames, "default (profile kmm): demand-paged areas");
	cr_assert_eq(kmm_options_parse("vmalloc_frames=on", false), 0);
	cr_assert(kmm_vmalloc_params.frames);
	cr_assert_eq(kmm_options_parse("vmalloc_frames=off", false), 0);
	cr_assert(!kmm_vmalloc_params.frames);
	cr_assert_eq(kmm_options_parse("vmalloc_frames=1", false), 0);
	cr_assert(kmm_vmalloc_params.frames);
	cr_assert_eq(kmm_options_parse("vmalloc_frames=2,vmalloc_frames=yes", false), 2, "on or off (1 or 0) only");
	cr_assert(kmm_vmalloc_params.frames, "a bad value leaves it alone");
	cr_assert_eq(kmm_options_parse("vmalloc_frames=0", false), 0);
	cr_assert(!kmm_vmalloc_params.frames);
}

Test(options, profiles_choose_how_vmalloc_backs_areas)
{
	static const struct { const char *opts; bool frames; } cases[] = {
		{ "profile=glibc", true },
		{ "profile=kmm", false },
		{ "profile=glibc,vmalloc_frames=off", false },
		{ "vmalloc_frames=off,profile=glibc", false },
		{ "vmalloc_frames=on,profile=kmm", true },
		{ "profile=glibc,profile=kmm", false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		setenv("KMM_OPTIONS", cases[i].opts, 1);
		kmm_options_load();
		cr_assert_eq(kmm_vmalloc_params.frames, cases[i].frames, "KMM_OPTIONS=%s: vmalloc_frames %s",
			     cases[i].opts, cases[i].frames ? "on" : "off");
	}
	kmm_profile_apply(KMM_PROFILE_GLIBC);
	cr_assert(kmm_vmalloc_params.frames);
	kmm_profile_apply(KMM_PROFILE_KMM);
	cr_assert(!kmm_vmalloc_params.frames);
}

Test(options, environment_top_pad_zero)
{
	setenv("KMM_OPTIONS", "top_pad=0", 1);
	kmm_options_load();
	char *b0 = sbrk(0);
	kmm_malloc(16);
	char *b1 = sbrk(0);
	/* tcache 0x290 + 0x20 + MINSIZE: one page */
	cr_assert_eq(b1 - b0, 4096);
	CHECK_HEAP();
}

Test(options, glibc_tunables_and_legacy_variables)
{
	setenv("GLIBC_TUNABLES", "glibc.malloc.tcache_count=2:glibc.rtld.nns=2:glibc.malloc.mmap_threshold=65536", 1);
	setenv("MALLOC_TOP_PAD_", "65536", 1);
	setenv("MALLOC_MMAP_MAX_", "7", 1);
	kmm_options_load();
	kmm_malloc(1);
	cr_assert_eq(kmm_params.tcache_count, 2);
	cr_assert_eq(kmm_params.mmap_threshold, 65536);
	cr_assert_eq(kmm_params.top_pad, 65536);
	cr_assert_eq(kmm_params.n_mmaps_max, 7);
	char *p = kmm_malloc(100 * 1024);
	cr_assert(is_big(p), "100 KiB is above the 64 KiB threshold");
	CHECK_HEAP();
}

Test(options, kmm_options_win_over_glibc_variables)
{
	setenv("MALLOC_MMAP_THRESHOLD_", "65536", 1);
	setenv("KMM_OPTIONS", "mmap_threshold=256k", 1);
	kmm_options_load();
	cr_assert_eq(kmm_params.mmap_threshold, 256 * 1024);
}

Test(options, stats_variables)
{
	setenv("KMM_STATS", "/tmp/some-report", 1);
	setenv("KMM_STATS_PID", "4242", 1);
	kmm_options_load();
	cr_assert(kmm_options.stats);
	cr_assert_str_eq(kmm_options.stats_path, "/tmp/some-report");
	cr_assert_eq(kmm_options.stats_pid, 4242);
}

Test(options, mallopt_semantics)
{
	cr_assert_eq(kmm_mallopt(M_MXFAST, 200), 0, "above 160");
	cr_assert_eq(kmm_mallopt(M_MXFAST, 64), 1);
	cr_assert_eq(kmm_params.max_fast, 64 + 8 - (64 + 8) % 16);
	cr_assert_eq(kmm_mallopt(M_ARENA_MAX, 4), 1);
	cr_assert_eq(kmm_params.arena_max, 4);
	cr_assert_eq(kmm_mallopt(M_ARENA_MAX, 0), 1, "0: back to no limit of its own");
	cr_assert_eq(kmm_params.arena_max, 0);
	cr_assert_eq(kmm_mallopt(M_ARENA_MAX, -1), 0);
	cr_assert_eq(kmm_mallopt(M_ARENA_MAX, 4), 1);
	cr_assert_eq(kmm_mallopt(M_ARENA_TEST, 2), 1);
	cr_assert_eq(kmm_mallopt(M_CHECK_ACTION, 1), 1);
	cr_assert_eq(kmm_mallopt(12345, 1), 0, "unknown parameter");
	cr_assert_eq(kmm_mallopt(M_MMAP_MAX, -1), 0);
	/* M_MXFAST: chunks in fastbins are merged before the limit changes
	 * (small requests to the bins: the tcache front end) */
	cr_assert_eq(kmm_mallopt(KMM_M_FRONT, KMM_FRONT_TCACHE), 1);
	cr_assert_eq(kmm_mallopt(M_MXFAST, 128), 1);
	void *p[4];
	for (int i = 0; i < 4; i++)
		p[i] = kmm_malloc(100);
	kmm_malloc(16);
	tcache_off();
	for (int i = 0; i < 4; i++)
		kmm_free(p[i]);
	cr_assert_eq(kmm_main_arena.have_fastchunks, 1);
	cr_assert_eq(kmm_mallopt(M_MXFAST, 0), 1);
	cr_assert_eq(kmm_main_arena.have_fastchunks, 0);
	CHECK_HEAP();
}

/* front= and the profiles: the slab front end is profile=kmm's (and the
 * default), the tcache glibc's; an explicit front= wins over either. */
Test(options, front_and_profiles)
{
	cr_assert_eq(kmm_params.front, KMM_FRONT_SLAB_, "front=slab by default (profile=kmm)");
	cr_assert_eq(kmm_options_parse("front=tcache", false), 0);
	cr_assert_eq(kmm_params.front, KMM_FRONT_TCACHE_);
	cr_assert_eq(kmm_options_parse("front=slab", false), 0);
	cr_assert_eq(kmm_params.front, KMM_FRONT_SLAB_);
	cr_assert_eq(kmm_options_parse("front=bins", false), 1, "slab or tcache only");
	cr_assert_eq(kmm_params.front, KMM_FRONT_SLAB_);
	cr_assert_eq(kmm_mallopt(KMM_M_FRONT, 2), 0);
	cr_assert_eq(kmm_mallopt(KMM_M_FRONT, KMM_FRONT_TCACHE), 1);
	cr_assert_eq(kmm_params.front, KMM_FRONT_TCACHE_);

	setenv("KMM_OPTIONS", "profile=kmm", 1);
	kmm_options_load();
	cr_assert_eq(kmm_params.front, KMM_FRONT_SLAB_);
	setenv("KMM_OPTIONS", "profile=glibc", 1);
	kmm_options_load();
	cr_assert_eq(kmm_params.front, KMM_FRONT_TCACHE_);
	setenv("KMM_OPTIONS", "front=slab,profile=glibc", 1);
	kmm_options_load();
	cr_assert_eq(kmm_params.front, KMM_FRONT_SLAB_, "the profile first, then the other options");
	cr_assert_eq(kmm_params.threshold_rule, KMM_THRESHOLD_GLIBC);
	/* not a glibc tunable */
	setenv("KMM_OPTIONS", "profile=kmm", 1);
	setenv("GLIBC_TUNABLES", "glibc.malloc.front=0", 1);
	kmm_options_load();
	cr_assert_eq(kmm_params.front, KMM_FRONT_SLAB_);
	/* the heap's trim threshold with the slab front end: 4 MiB, unless
	 * a threshold was set */
	cr_assert_eq(kmm_params.trim_threshold, 128 * 1024);
	cr_assert_eq(kmm_trim_threshold(), KMM_SLAB_FRONT_TRIM);
	cr_assert_eq(kmm_mallopt(KMM_M_FRONT, KMM_FRONT_TCACHE), 1);
	cr_assert_eq(kmm_trim_threshold(), 128 * 1024);
	cr_assert_eq(kmm_mallopt(KMM_M_FRONT, KMM_FRONT_SLAB), 1);
	cr_assert_eq(kmm_mallopt(M_TRIM_THRESHOLD, 65536), 1);
	cr_assert_eq(kmm_trim_threshold(), 65536);
}

/* ---- what the options say at start-up (issue 16) ------------------------------------ */

/* Run kmm_options_load() with fd 2 sent to a file; what it wrote there. */
static const char *load_capturing_stderr(void)
{
	static char text[8192];
	char path[] = "/tmp/kmm-stderr-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	cr_assert(fd >= 0 && saved >= 0);
	unlink(path);
	dup2(fd, 2);
	kmm_options_load();
	dup2(saved, 2);
	close(saved);
	ssize_t n = pread(fd, text, sizeof text - 1, 0);
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	return text;
}

static unsigned section(const char *name)
{
	return kmm_report_section_bits(name, strlen(name));
}

Test(options, stats_report_sections_read_at_start_up)
{
	setenv("KMM_STATS", "1", 1);
	setenv("KMM_STATS_REPORT", "buddyinfo,vmalocinfo", 1);
	const char *err = load_capturing_stderr();
	cr_assert_str_eq(err, "kmm: KMM_STATS_REPORT: unknown section 'vmalocinfo' (ignored; known: summary, "
			      "meminfo, buddyinfo, pagetypeinfo, zoneinfo, slabinfo, vmallocinfo, maps, "
			      "malloc_info, params, all, check)\n");
	cr_assert_eq(kmm_options.stats_sections, section("buddyinfo"), "the valid section is kept");
	setenv("KMM_STATS_REPORT", "params,,summary,all", 1);
	cr_assert_str_eq(load_capturing_stderr(), "");
	cr_assert_eq(kmm_options.stats_sections, section("all"));
	cr_assert(!(section("all") & section("check")), "all stops before check");
	cr_assert(section("all") & section("params"));
	unsetenv("KMM_STATS_REPORT");
	kmm_options_load();
	cr_assert_eq(kmm_options.stats_sections, section("summary") | section("meminfo") | section("buddyinfo") |
							 section("slabinfo") | section("vmallocinfo") | section("maps"));
	/* every name the warning lists is one */
	char known[256];
	snprintf(known, sizeof known, "%s", kmm_report_known_sections());
	for (char *name = strtok(known, ", "); name != NULL; name = strtok(NULL, ", "))
		cr_assert_neq(section(name), 0, "%s", name);
	/* only the process that reports warns */
	setenv("KMM_STATS_REPORT", "nosuch", 1);
	setenv("KMM_STATS_PID", "1", 1);
	cr_assert_str_eq(load_capturing_stderr(), "");
}

/* A value the option refuses: the warning says what it takes, and the
 * range it gives is the one the setter applies. */
Test(options, out_of_range_warnings_give_the_range)
{
	setenv("KMM_OPTIONS", "tcache_count=70000,mxfast=161,front=bins,guard=100,arena_test=0", 1);
	cr_assert_str_eq(load_capturing_stderr(),
			 "kmm: KMM_OPTIONS: tcache_count=70000 out of range (0..65535; ignored)\n"
			 "kmm: KMM_OPTIONS: mxfast=161 out of range (0..160; ignored)\n"
			 "kmm: KMM_OPTIONS: bad value 'bins' for front (slab or tcache; ignored)\n"
			 "kmm: KMM_OPTIONS: guard=100 out of range (0 (off) or at least 4096; ignored)\n"
			 "kmm: KMM_OPTIONS: arena_test=0 out of range (1 or more; ignored)\n");
	for (size_t i = 0; kmm_option_name(i) != NULL; i++) {
		const char *name = kmm_option_name(i), *range = kmm_option_range(name);
		char opt[128], lo[32], hi[32];
		if (range == NULL)
			continue;   /* any number */
		if (sscanf(range, "%31[0-9a-z]..%31[0-9a-z]", lo, hi) == 2) {
			long long h;
			cr_assert(kmm_parse_number(hi, strlen(hi), true, &h));
			snprintf(opt, sizeof opt, "%s=%s,%s=%s", name, lo, name, hi);
			cr_assert_eq(kmm_options_parse(opt, false), 0, "%s", opt);
			snprintf(opt, sizeof opt, "%s=%lld", name, h + 1);
			cr_assert_eq(kmm_options_parse(opt, false), 1, "%s", opt);
		} else if ((strstr(range, "at least ") != NULL &&
			    sscanf(strstr(range, "at least "), "at least %31[0-9a-z]", lo) == 1) ||
			   sscanf(range, "%31[0-9] ", lo) == 1) {
			long long l;
			cr_assert(kmm_parse_number(lo, strlen(lo), true, &l));
			snprintf(opt, sizeof opt, "%s=%s", name, lo);
			cr_assert_eq(kmm_options_parse(opt, false), 0, "%s (range %s)", opt, range);
			if (l - 1 >= -1) {   /* (-1 is the only negative number read) */
				snprintf(opt, sizeof opt, "%s=%lld", name, l - 1);
				cr_assert_eq(kmm_options_parse(opt, false), 1, "%s (range %s)", opt, range);
			}
		} else {
			/* words: "on or off", "on, exact or off", "cache or glibc" */
			char words[64];
			snprintf(words, sizeof words, "%s", range);
			for (char *w = strtok(words, ", "); w != NULL; w = strtok(NULL, ", ")) {
				if (strcmp(w, "or") == 0)
					continue;
				snprintf(opt, sizeof opt, "%s=%s", name, w);
				cr_assert_eq(kmm_options_parse(opt, false), 0, "%s (range %s)", opt, range);
			}
		}
	}
}

Test(options, arena_max_zero_is_the_default)
{
	cr_assert_eq(kmm_params.arena_max, 0, "the default");
	cr_assert_eq(kmm_options_parse("arena_max=3", false), 0);
	cr_assert_eq(kmm_params.arena_max, 3);
	cr_assert_eq(kmm_options_parse("arena_max=0", false), 0, "0: no limit of its own");
	cr_assert_eq(kmm_params.arena_max, 0);
	cr_assert_eq(kmm_arena_limit(), kmm_narenas + 1, "up to arena_test arenas, then 8 x cores");
	setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=5", 1);
	kmm_options_load();
	cr_assert_eq(kmm_params.arena_max, 5);
	setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=0", 1);
	setenv("MALLOC_ARENA_MAX", "0", 1);
	cr_assert_str_eq(load_capturing_stderr(), "");
	cr_assert_eq(kmm_params.arena_max, 0);
	setenv("KMM_OPTIONS", "arena_max=0", 1);
	cr_assert_str_eq(load_capturing_stderr(), "", "no warning for arena_max=0");
}

/* The params section names every option of the table: a new option
 * cannot be left out of it. */
Test(options, params_report_lists_every_option)
{
	char path[] = "/tmp/kmm-params-XXXXXX", text[16384];
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	unlink(path);
	cr_assert_eq(kmm_report(fd, "params"), 0);
	ssize_t n = pread(fd, text, sizeof text - 1, 0);
	close(fd);
	cr_assert(n > 0);
	text[n] = '\0';
	cr_assert(strstr(text, "\n  [heap]\n") && strstr(text, "\n  [kernel side]\n") &&
		  strstr(text, "\n  [debugging & hardening]\n"), "%s", text);
	for (size_t i = 0; kmm_option_name(i) != NULL; i++) {
		char line[64];
		snprintf(line, sizeof line, "\n  %-22s", kmm_option_name(i));
		cr_assert(strstr(text, line) != NULL, "'%s' is not in the params report:\n%s", kmm_option_name(i), text);
	}
	static const char head[] = "parameters\n  profile               ";
	cr_assert(strncmp(text, head, sizeof head - 1) == 0, "%s", text);
}

/* Relative report paths are made absolute when the options are read; the
 * report file is opened once then, and a warning says if it cannot be. */
Test(options, relative_paths_and_report_files_at_start_up)
{
	char dir[] = "/tmp/kmm-rel-XXXXXX", cwd[PATH_MAX], want[PATH_MAX + 32];
	cr_assert(mkdtemp(dir) != NULL);
	cr_assert_eq(chdir(dir), 0);
	cr_assert(getcwd(cwd, sizeof cwd) != NULL);
	setenv("KMM_STATS", "rel.stats", 1);
	setenv("KMM_LEAKCHECK_FILE", "sub/../leaks.txt", 1);
	setenv("KMM_TRACE", "t.log", 1);
	mkdir("sub", 0755);
	cr_assert_str_eq(load_capturing_stderr(), "");
	snprintf(want, sizeof want, "%s/rel.stats", cwd);
	cr_assert_str_eq(kmm_options.stats_path, want);
	snprintf(want, sizeof want, "%s/sub/../leaks.txt", cwd);
	cr_assert_str_eq(kmm_options.leakcheck_path, want);
	snprintf(want, sizeof want, "%s/t.log", cwd);
	cr_assert_str_eq(kmm_options.trace_path, want);
	struct stat st;
	cr_assert_eq(stat("rel.stats", &st), 0, "opened (created) at start-up");
	cr_assert_eq(st.st_size, 0);
	cr_assert_neq(stat("leaks.txt", &st), 0, "KMM_LEAKCHECK_FILE is not opened without KMM_LEAKCHECK");
	setenv("KMM_LEAKCHECK", "1", 1);
	kmm_options_load();
	cr_assert_eq(stat("leaks.txt", &st), 0);
	/* appended to, never truncated */
	int fd = open("rel.stats", O_WRONLY | O_APPEND);
	cr_assert_eq(write(fd, "x\n", 2), 2);
	close(fd);
	kmm_options_load();
	cr_assert_eq(stat("rel.stats", &st), 0);
	cr_assert_eq(st.st_size, 2);
	unsetenv("KMM_LEAKCHECK");
	unsetenv("KMM_TRACE");
	unlink("rel.stats");
	unlink("leaks.txt");
	rmdir("sub");
	chdir("/");
	rmdir(dir);

	setenv("KMM_STATS", "/nonexistent/dir/x", 1);
	cr_assert_str_eq(load_capturing_stderr(),
			 "kmm: KMM_STATS: cannot open /nonexistent/dir/x: No such file or directory "
			 "(the report will be lost)\n");
	setenv("KMM_STATS_PID", "1", 1);
	cr_assert_str_eq(load_capturing_stderr(), "", "only in the process that reports");
}
