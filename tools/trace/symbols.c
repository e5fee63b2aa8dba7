/*
 * symbols.c — the symbol cache: the addresses the output needs, resolved
 * at once to "name+offset at file:line" (ELF symbols, one addr2line per
 * file) and to mtrace's "@ file:(sym+off)[rel]".
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

#include <unistd.h>

struct sym {
	uint64_t addr;
	uint8_t used, done;
	int32_t obj;
	uint64_t vaddr;
	const struct maprange *mr;
	const struct fsym *fs;
	char *desc;  /* for humans: "main+0x19 at prog.c:12" */
	char *where; /* for mtrace: "@ FILE:(SYM+0xOFF)[0xREL] " */
};

static struct {
	struct sym *t;
	size_t cap, n;
	int enabled, lines;
	const struct log *L;
} S;

static struct sym *sym_slot(uint64_t a, int insert)
{
	if (insert && 2 * (S.n + 1) > S.cap) {
		size_t ncap = S.cap ? 2 * S.cap : 1024;
		struct sym *nt = kt_xcalloc(ncap, sizeof *nt);
		for (size_t i = 0; i < S.cap; i++)
			if (S.t[i].used) {
				size_t h = hash64(S.t[i].addr) & (ncap - 1);
				while (nt[h].used)
					h = (h + 1) & (ncap - 1);
				nt[h] = S.t[i];
			}
		free(S.t);
		S.t = nt;
		S.cap = ncap;
	}
	if (!S.cap)
		return NULL;
	size_t h = hash64(a) & (S.cap - 1);
	while (S.t[h].used) {
		if (S.t[h].addr == a)
			return &S.t[h];
		h = (h + 1) & (S.cap - 1);
	}
	if (!insert)
		return NULL;
	S.t[h].used = 1;
	S.t[h].addr = a;
	S.t[h].obj = -1;
	S.n++;
	return &S.t[h];
}

void kt_sym_init(const struct log *L, int enabled, int lines)
{
	/* the addresses of another log (another process) mean other things */
	for (size_t i = 0; i < S.cap; i++)
		if (S.t[i].used) {
			free(S.t[i].desc);
			free(S.t[i].where);
		}
	free(S.t);
	S.t = NULL;
	S.cap = S.n = 0;
	S.L = L;
	S.enabled = enabled;
	S.lines = lines;
}

void kt_sym_want(uint64_t a)
{
	if (S.enabled && a)
		sym_slot(a, 1);
}

static void strip_discriminator(char *s)
{
	char *d = strstr(s, " (discriminator");
	if (d)
		*d = 0;
}

/* the human description of one address, from addr2line's answer */
static char *make_desc(const struct sym *y, char **fn, char **loc, size_t np)
{
	const struct obj *o = y->obj >= 0 ? &kt_objs[y->obj] : NULL;
	if (!o) {
		if (y->mr && y->mr->name[0])
			return kt_xasprintf("%s+0x%" PRIx64, y->mr->name, y->addr - y->mr->start);
		return kt_xstrdup("");
	}
	/* addr2line's function name: from the debug information when it also
	 * has a source line; without one it is the nearest symbol below the
	 * address, however far (a stripped binary's dynamic symbols), so it is
	 * taken only where the ELF symbols agree that one holds the address */
	int a2l_name = np && strcmp(fn[np - 1], "??") && (loc[np - 1][0] != '?' || y->fs);
	const char *outer = a2l_name ? fn[np - 1] : y->fs ? y->fs->name : NULL;
	char offs[32] = "";
	if (y->fs)
		snprintf(offs, sizeof offs, "+0x%" PRIx64, y->vaddr - y->fs->value);
	char lib[300] = "";
	if (!o->is_exe)
		snprintf(lib, sizeof lib, " (%s)", o->base);
	if (!outer)
		return kt_xasprintf("%s+0x%" PRIx64, o->base, y->vaddr);
	size_t cap = 256, len = 0;
	char *s = kt_xrealloc(NULL, cap);
	s[0] = 0;
#define APPEND(...)                                                                 \
	do {                                                                        \
		int k_ = snprintf(s + len, cap - len, __VA_ARGS__);                 \
		if (k_ >= 0 && (size_t)k_ >= cap - len) {                           \
			cap = len + (size_t)k_ + 256;                               \
			s = kt_xrealloc(s, cap);                                       \
			k_ = snprintf(s + len, cap - len, __VA_ARGS__);             \
		}                                                                   \
		if (k_ > 0)                                                         \
			len += (size_t)k_;                                          \
	} while (0)
	for (size_t i = 0; i + 1 < np; i++) {
		APPEND("%s", fn[i]);
		if (loc[i][0] != '?')
			APPEND(" at %s", loc[i]);
		APPEND(", inlined in ");
	}
	APPEND("%s%s", outer, offs);
	if (np && loc[np - 1][0] != '?')
		APPEND(" at %s", loc[np - 1]);
	APPEND("%s", lib);
#undef APPEND
	return s;
}

static void shell_quote(char *dst, size_t cap, const char *s)
{
	size_t n = 0;
	if (cap < 3)
		return;
	dst[n++] = '\'';
	for (; *s && n + 5 < cap; s++) {
		if (*s == '\'') {
			memcpy(dst + n, "'\\''", 4);
			n += 4;
		} else
			dst[n++] = *s;
	}
	dst[n++] = '\'';
	dst[n] = 0;
}

/* one addr2line process for the wanted addresses of one file */
static void run_addr2line(int32_t oi, struct sym **ys, size_t n)
{
	const char *td = getenv("TMPDIR");
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s/kmm-trace.XXXXXX", td && *td ? td : "/tmp");
	int fd = mkstemp(tmp);
	if (fd < 0)
		return;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
		return;
	}
	/* return addresses: the line of the call is the one before */
	for (size_t i = 0; i < n; i++)
		fprintf(f, "0x%" PRIx64 "\n", ys[i]->vaddr ? ys[i]->vaddr - 1 : 0);
	if (fclose(f) != 0) {
		unlink(tmp);
		return;
	}
	char qf[8300], qt[8300], cmd[17000];
	shell_quote(qf, sizeof qf, kt_objs[oi].path);
	shell_quote(qt, sizeof qt, tmp);
	snprintf(cmd, sizeof cmd, "addr2line -a -f -C -i -s -e %s < %s 2>/dev/null", qf, qt);
	fflush(stdout);
	FILE *p = popen(cmd, "r");
	if (!p) {
		unlink(tmp);
		return;
	}
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	size_t rec = 0, np = 0, capp = 0;
	int started = 0, want_fn = 1;
	char **fn = NULL, **loc = NULL;
	for (;;) {
		len = getline(&line, &lcap, p);
		int isaddr = 0;
		if (len > 0) {
			while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
				line[--len] = 0;
			isaddr = len > 2 && line[0] == '0' && line[1] == 'x' && strspn(line + 2, "0123456789abcdef") == (size_t)len - 2;
		}
		if (len < 0 || isaddr) {
			if (started && rec < n && !ys[rec]->desc) {
				ys[rec]->desc = make_desc(ys[rec], fn, loc, np);
			}
			for (size_t i = 0; i < np; i++) {
				free(fn[i]);
				free(loc[i]);
			}
			if (started)
				rec++;
			np = 0;
			want_fn = 1;
			started = 1;
			if (len < 0)
				break;
			continue;
		}
		if (!started)
			continue;
		if (want_fn) {
			GROW(fn, np, capp);
			loc = kt_xrealloc(loc, capp * sizeof *loc);
			fn[np] = kt_xstrdup(line);
			want_fn = 0;
		} else {
			strip_discriminator(line);
			loc[np] = kt_xstrdup(line);
			np++;
			want_fn = 1;
		}
	}
	if (!want_fn)
		free(fn[np]);
	free(fn);
	free(loc);
	free(line);
	pclose(p);
	unlink(tmp);
}

static int cmp_symp_obj(const void *x, const void *y)
{
	const struct sym *a = *(struct sym *const *)x, *b = *(struct sym *const *)y;
	if (a->obj != b->obj)
		return a->obj < b->obj ? -1 : 1;
	return a->vaddr < b->vaddr ? -1 : a->vaddr > b->vaddr;
}

/* resolve every wanted address not resolved yet */
void kt_sym_resolve(void)
{
	if (!S.enabled)
		return;
	struct sym **unresolved = NULL;
	size_t n = 0, cap = 0;
	for (size_t i = 0; i < S.cap; i++) {
		struct sym *y = &S.t[i];
		if (!y->used || y->done)
			continue;
		y->done = 1;
		y->mr = kt_find_range(S.L, y->addr);
		if (y->mr && y->mr->obj >= 0) {
			struct obj *o = &kt_objs[y->mr->obj];
			kt_obj_load(o);
			y->obj = y->mr->obj;
			uint64_t fo = y->addr - y->mr->start + y->mr->off;
			y->vaddr = o->elf_ok ? kt_obj_vaddr(o, fo) : fo;
			y->fs = kt_obj_sym(o, y->vaddr);
			GROW(unresolved, n, cap);
			unresolved[n++] = y;
		}
		/* mtrace's "@ ..." part, as glibc writes it (dladdr: file, symbol,
		 * address relative to the file's load address) */
		if (y->obj >= 0) {
			const char *nm = y->fs ? y->fs->name : NULL;
			if (nm && strpbrk(nm, " \t"))
				nm = NULL;
			if (nm)
				y->where = kt_xasprintf("@ %s:(%s+0x%" PRIx64 ")[0x%" PRIx64 "] ", kt_objs[y->obj].path, nm,
						     y->vaddr - y->fs->value, y->addr - y->mr->base);
			else
				y->where = kt_xasprintf("@ %s:[0x%" PRIx64 "] ", kt_objs[y->obj].path, y->addr - y->mr->base);
		} else
			y->where = kt_xasprintf("@ [0x%" PRIx64 "] ", y->addr);
	}
	if (n && S.lines) {
		qsort(unresolved, n, sizeof *unresolved, cmp_symp_obj);
		for (size_t i = 0; i < n;) {
			size_t j = i;
			while (j < n && unresolved[j]->obj == unresolved[i]->obj)
				j++;
			if (kt_objs[unresolved[i]->obj].elf_ok)
				run_addr2line(unresolved[i]->obj, unresolved + i, j - i);
			i = j;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!unresolved[i]->desc)
			unresolved[i]->desc = make_desc(unresolved[i], NULL, NULL, 0);
	free(unresolved);
	for (size_t i = 0; i < S.cap; i++)
		if (S.t[i].used && !S.t[i].desc)
			S.t[i].desc = make_desc(&S.t[i], NULL, NULL, 0);
}

/* the description of an address ("" when unknown) */
const char *kt_sym_desc(uint64_t a)
{
	if (!S.enabled || !a)
		return "";
	struct sym *y = sym_slot(a, 0);
	return y && y->desc ? y->desc : "";
}

const char *kt_sym_where(uint64_t a, char *buf, size_t n)
{
	struct sym *y = S.enabled ? sym_slot(a, 0) : NULL;
	if (y && y->where)
		return y->where;
	snprintf(buf, n, "@ [0x%" PRIx64 "] ", a);
	return buf;
}

/* want the caller and backtrace of every malloc-family event */
void kt_want_all_sites(const struct log *L)
{
	struct ev e;
	if (!S.enabled)
		return;
	FOR_EACH_EVENT_IN_FILE(L, e)
	{
		if (kmm_trace_is_call(e.type)) {
			kt_sym_want(e.d);
			for (unsigned i = 0; i < e.nframes; i++)
				kt_sym_want(ev_frame(&e, i));
		}
	}
}

/* one part of a description ("NAME[+0xOFF][ at FILE:LINE[ (...)]][ (LIB)]")
 * into l; strip: cut NAME's +0xOFF */
static void parse_part(const char *p, size_t n, int strip, struct kt_symline *l)
{
	char part[1024];
	if (n >= sizeof part)
		n = sizeof part - 1;
	memcpy(part, p, n);
	part[n] = '\0';
	l->file[0] = '\0';
	l->line = 0;
	char *at = strstr(part, " at ");
	char *end = at ? at : strstr(part, " (");
	if (at) {
		char *loc = at + 4;
		loc[strcspn(loc, " ")] = '\0';
		char *colon = strrchr(loc, ':');
		if (colon && colon[1] >= '0' && colon[1] <= '9') {
			l->line = (unsigned)strtoul(colon + 1, NULL, 10);
			*colon = '\0';
		}
		size_t len = strlen(loc);
		if (len >= sizeof l->file)
			len = sizeof l->file - 1;
		if (strcmp(loc, "??") != 0) {
			memcpy(l->file, loc, len);
			l->file[len] = '\0';
		}
	}
	if (end)
		*end = '\0';
	if (strip || end) {
		char *plus = strstr(part, "+0x");
		if (plus && plus[3] && strspn(plus + 3, "0123456789abcdef") == strlen(plus + 3))
			*plus = '\0';
	}
	size_t len = strlen(part);
	if (len >= sizeof l->func)
		len = sizeof l->func - 1;
	memcpy(l->func, part, len);
	l->func[len] = '\0';
}

size_t kt_sym_lines(uint64_t a, struct kt_symline *v, size_t max)
{
	const char *d = kt_sym_desc(a);
	static const char inl[] = ", inlined in ";
	size_t n = 0;
	if (!d[0])
		return 0;
	int several = strstr(d, inl) != NULL;
	while (n < max) {
		const char *next = strstr(d, inl);
		size_t len = next ? (size_t)(next - d) : strlen(d);
		parse_part(d, len, several, &v[n++]);
		if (!next)
			break;
		d = next + sizeof inl - 1;
	}
	return n;
}
