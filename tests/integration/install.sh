#!/bin/sh
# install.sh — a program built with `pkg-config --cflags --libs kmm` against
# kmm installed under a prefix the dynamic loader does not search, run as
# README.md ("Build and install") says: it does not start by itself
# ("libkmm.so.0: cannot open shared object file"), it does with
# LD_LIBRARY_PATH=$(pkg-config --variable=libdir kmm), and built with
# $(pkg-config --variable=rpath kmm) or -Wl,-rpath,$(pkg-config
# --variable=libdir kmm) it starts alone, with the installed libkmm.so.0 as
# its malloc.
#
# Under `make check` it installs the library, the header and kmm.pc into a
# scratch prefix (make install-... prefix=DIR in the build tree); `make
# installcheck` (so `make distcheck`) runs it on the installed tree instead,
# with KMM_PREFIX set.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan_lazy

cc=${CC:-cc}
have "$cc" || cc=gcc
if ! have pkg-config; then
	skip "a program built with pkg-config" "no pkg-config"
	done_testing; exit 0
fi
if ! have "$cc"; then
	skip "a program built with pkg-config" "no C compiler"
	done_testing; exit 0
fi

if [ -n "${KMM_PREFIX:-}" ]; then
	prefix=$KMM_PREFIX
else
	# the build tree: KMM_LIB is BUILDDIR/.libs/libkmm.so
	builddir=$(cd "$(dirname "$KMM_LIB")/.." && pwd)
	prefix=$KMM_TMP/prefix
	# a make of its own, not the jobs of the make running the tests
	(cd "$builddir" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "${MAKE:-make}" -s \
		install-libLTLIBRARIES install-includeHEADERS install-pkgconfigDATA \
		prefix="$prefix" exec_prefix="$prefix") >"$KMM_TMP/install.log" 2>&1
	ok "make install-... prefix=$prefix" sh -c "test $? -eq 0 || { cat '$KMM_TMP/install.log'; exit 1; }"
fi

# kmm.pc says the configured prefix; an install elsewhere is found with
# --define-variable (as for a relocated prefix)
pcdir=$(ls -d "$prefix"/lib*/pkgconfig "$prefix"/lib/*/pkgconfig 2>/dev/null | head -1)
ok "kmm.pc is installed under $prefix" test -f "$pcdir/kmm.pc"
pc() { PKG_CONFIG_PATH=$pcdir pkg-config --define-variable=prefix="$prefix" "$@" kmm; }
libdir=$(pc --variable=libdir)
ok "pkg-config --variable=libdir kmm is the installed libdir ($libdir)" test -f "$libdir/libkmm.so.0"
is "$(pc --variable=rpath)" "-Wl,-rpath,$libdir" "pkg-config --variable=rpath kmm is -Wl,-rpath,LIBDIR"

cd "$KMM_TMP" || exit 1
cat >prog.c <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kmm.h>

/* prints the version and the file of the library that serves malloc */
int main(void)
{
	void *p = malloc(100);
	struct kmm_stats st;
	Dl_info malloc_info, kmm_info;
	if (p == NULL || kmm_stats_get(&st) != 0)
		return 1;
	free(p);
	if (!dladdr((void *)malloc, &malloc_info) || !dladdr((void *)kmm_version, &kmm_info))
		return 1;
	printf("%s %s %s\n", kmm_version(), kmm_info.dli_fname,
	       strcmp(malloc_info.dli_fname, kmm_info.dli_fname) == 0 ? "malloc-is-kmm" : malloc_info.dli_fname);
	return strcmp(kmm_version(), KMM_VERSION) != 0;
}
EOF
# shellcheck disable=SC2046
"$cc" -o prog prog.c $(pc --cflags --libs) >cc.out 2>&1
ok "cc prog.c \$(pkg-config --cflags --libs kmm)" sh -c "test $? -eq 0 || { cat cc.out; exit 1; }"
version=$(sed -n 's/^#define KMM_VERSION "\(.*\)"$/\1/p' "$prefix/include/kmm.h")
expected="$version $libdir/libkmm.so.0 malloc-is-kmm"

unset LD_LIBRARY_PATH
if ./prog >alone.out 2>alone.err; then
	skip "alone, it does not find libkmm.so.0" "the loader searches $libdir"
else
	ok "alone, it fails: libkmm.so.0: cannot open shared object file" \
		grep -q 'libkmm.so.0: cannot open shared object file' alone.err
fi
is "$(LD_LIBRARY_PATH=$libdir ./prog 2>&1)" "$expected" \
	"with LD_LIBRARY_PATH=\$(pkg-config --variable=libdir kmm) it runs on the installed kmm"

# shellcheck disable=SC2046
"$cc" -o prog-rpath prog.c $(pc --cflags --libs) $(pc --variable=rpath) >cc.out 2>&1
ok "cc ... \$(pkg-config --variable=rpath kmm)" sh -c "test $? -eq 0 || { cat cc.out; exit 1; }"
is "$(./prog-rpath 2>&1)" "$expected" "built with \$(pkg-config --variable=rpath kmm) it runs alone on the installed kmm"

# shellcheck disable=SC2046
"$cc" -o prog-rpath2 prog.c $(pc --cflags --libs) -Wl,-rpath,"$(pc --variable=libdir)" >cc.out 2>&1
ok "cc ... -Wl,-rpath,\$(pkg-config --variable=libdir kmm)" sh -c "test $? -eq 0 || { cat cc.out; exit 1; }"
is "$(./prog-rpath2 2>&1)" "$expected" "built with -Wl,-rpath,LIBDIR it runs alone on the installed kmm"

done_testing
