/*
 * elf.c — the files mapped in the traced process (objects): their ELF
 * program headers (file offset -> link-time address) and function symbols.
 * See kmm-trace.h for what each file of kmm-trace holds.
 */
#include "kmm-trace.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct obj *kt_objs;
size_t kt_nobjs;
static size_t capobjs;

int32_t kt_obj_intern(const char *path)
{
	for (size_t i = 0; i < kt_nobjs; i++)
		if (!strcmp(kt_objs[i].path, path))
			return (int32_t)i;
	GROW(kt_objs, kt_nobjs, capobjs);
	struct obj *o = &kt_objs[kt_nobjs];
	memset(o, 0, sizeof *o);
	o->path = kt_xstrdup(path);
	const char *sl = strrchr(o->path, '/');
	o->base = sl ? sl + 1 : o->path;
	return (int32_t)kt_nobjs++;
}

static int cmp_fsym(const void *x, const void *y)
{
	const struct fsym *a = x, *b = y;
	if (a->value != b->value)
		return a->value < b->value ? -1 : 1;
	return (b->size > a->size) - (b->size < a->size); /* sized first */
}

void kt_obj_load(struct obj *o)
{
	if (o->elf_tried)
		return;
	o->elf_tried = 1;
	int fd = open(o->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < sizeof(Elf64_Ehdr)) {
		close(fd);
		return;
	}
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return;
	o->img = m;
	o->imgsize = (size_t)st.st_size;
	Elf64_Ehdr eh;
	memcpy(&eh, o->img, sizeof eh);
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64)
		return;
	size_t sz = o->imgsize;
	/* program headers: file offset -> link-time address */
	if (eh.e_phentsize >= sizeof(Elf64_Phdr) && eh.e_phoff < sz &&
	    eh.e_phnum <= (sz - eh.e_phoff) / eh.e_phentsize) {
		o->seg = kt_xcalloc(eh.e_phnum, sizeof *o->seg);
		for (unsigned i = 0; i < eh.e_phnum; i++) {
			Elf64_Phdr ph;
			memcpy(&ph, o->img + eh.e_phoff + (size_t)i * eh.e_phentsize, sizeof ph);
			if (ph.p_type == PT_LOAD) {
				o->seg[o->nseg].off = ph.p_offset;
				o->seg[o->nseg].filesz = ph.p_filesz;
				o->seg[o->nseg].vaddr = ph.p_vaddr;
				o->nseg++;
			}
		}
	}
	/* the symbol table (.symtab, else .dynsym): functions */
	if (eh.e_shentsize >= sizeof(Elf64_Shdr) && eh.e_shoff < sz &&
	    eh.e_shnum <= (sz - eh.e_shoff) / eh.e_shentsize) {
		for (unsigned want = SHT_SYMTAB; !o->nfs && want; want = want == SHT_SYMTAB ? SHT_DYNSYM : 0) {
			for (unsigned i = 0; i < eh.e_shnum; i++) {
				Elf64_Shdr sh, strh;
				memcpy(&sh, o->img + eh.e_shoff + (size_t)i * eh.e_shentsize, sizeof sh);
				if (sh.sh_type != want || sh.sh_entsize != sizeof(Elf64_Sym) || sh.sh_link >= eh.e_shnum ||
				    sh.sh_offset > sz || sh.sh_size > sz - sh.sh_offset)
					continue;
				memcpy(&strh, o->img + eh.e_shoff + (size_t)sh.sh_link * eh.e_shentsize, sizeof strh);
				if (strh.sh_offset > sz || strh.sh_size > sz - strh.sh_offset)
					continue;
				const char *strs = (const char *)o->img + strh.sh_offset;
				size_t nsym = sh.sh_size / sizeof(Elf64_Sym);
				o->fs = kt_xrealloc(o->fs, (o->nfs + nsym) * sizeof *o->fs);
				for (size_t k = 0; k < nsym; k++) {
					Elf64_Sym sy;
					memcpy(&sy, o->img + sh.sh_offset + k * sizeof sy, sizeof sy);
					int t = ELF64_ST_TYPE(sy.st_info);
					if ((t != STT_FUNC && t != STT_GNU_IFUNC) || sy.st_shndx == SHN_UNDEF ||
					    !sy.st_value || sy.st_name >= strh.sh_size ||
					    !memchr(strs + sy.st_name, 0, strh.sh_size - sy.st_name) || !strs[sy.st_name])
						continue;
					o->fs[o->nfs].value = sy.st_value;
					o->fs[o->nfs].size = sy.st_size;
					o->fs[o->nfs].name = strs + sy.st_name;
					o->nfs++;
				}
			}
		}
		if (o->nfs)
			qsort(o->fs, o->nfs, sizeof *o->fs, cmp_fsym);
	}
	o->elf_ok = 1;
}

uint64_t kt_obj_vaddr(const struct obj *o, uint64_t fileoff)
{
	for (size_t i = 0; i < o->nseg; i++)
		if (fileoff >= o->seg[i].off && fileoff - o->seg[i].off < o->seg[i].filesz)
			return fileoff - o->seg[i].off + o->seg[i].vaddr;
	return fileoff;
}

const struct fsym *kt_obj_sym(const struct obj *o, uint64_t va)
{
	size_t lo = kt_upper_bound(o->fs, o->nfs, sizeof *o->fs, offsetof(struct fsym, value), va);
	/* The nearest symbol at or below va whose st_size covers it.  A symbol
	 * of size 0 (no extent recorded) only when no sized symbol lies between
	 * it and va: a sized symbol that ends below va ends the search, so an
	 * address past a function's end (a stripped binary's static code, near
	 * the last exported function) gets no name rather than a wrong one. */
	const struct fsym *unsized = NULL;
	for (size_t i = lo; i-- > 0 && lo - i <= 8;) {
		const struct fsym *f = &o->fs[i];
		if (f->size) {
			if (va - f->value < f->size)
				return f;
			break;
		} else if (!unsized)
			unsized = f;
	}
	return unsized;
}
