#!/bin/sh
# tests/glibc/glibc-malloc-tests.sh — glibc's own malloc tests against kmm.
#
# usage: glibc-malloc-tests.sh build WORKDIR [TARBALL]
#        glibc-malloc-tests.sh list
#        glibc-malloc-tests.sh run WORKDIR TEST [LIB]
#
# build: unpacks malloc/, support/ and a few headers of glibc's source (the
#   tarball of Debian's glibc-source, /usr/src/glibc/glibc-*.tar.xz, unless
#   TARBALL is given) into WORKDIR, builds glibc's test support library
#   from it and every test of `list` into WORKDIR/bin.  The tests are
#   glibc's, unchanged; they are compiled as ordinary programs against the
#   installed headers and libc.so (a few internal headers they include come
#   from the tarball), so they call malloc through the dynamic linker and
#   LD_PRELOAD replaces it.  Exit 77 when there is no tarball.
# list: the tests built and run, one per line.
# run: one test with LIB (default $KMM_LIB; none: glibc's malloc)
#   preloaded, from WORKDIR/run (its
#   temporary files go there); prints the test's output; exit status as the
#   test's (0 pass, 77 unsupported, anything else a failure).  glibc's test
#   driver kills a test that runs longer than its timeout (20 s unless the
#   test sets another) times TIMEOUTFACTOR (3 unless set).
#
# What is left out and why: the tests of glibc's internals that are not
# malloc's behaviour (tst-alloc_buffer, tst-dynarray*, tst-scratch_buffer,
# tst-obstack: libc-internal helpers that use malloc), the tests of
# glibc-only interfaces that need glibc's private build (tst-compathooks-*
# (the old __malloc_hook symbols), tst-mallocstate (malloc_get_state),
# tst-interpose-* (they bring their own malloc, which wins over any
# preload), tst-mallocalign1 (malloc-size.h internals)), and the ones that
# test glibc's debugging library rather than malloc (tst-malloc-check,
# tst-malloc-usable and tst-malloc-usable-tunables run with MALLOC_CHECK_=3
# and libc_malloc_debug.so preloaded, and fail without it, under glibc's
# malloc too; tst-mtrace needs its shell driver).  A test runs with the
# environment glibc's malloc/Makefile gives it (tst-mxfast: no tcache, no
# fastbins, by GLIBC_TUNABLES).
set -eu

TESTS='
tst-calloc
tst-free-errno
tst-mallinfo2
tst-malloc
tst-malloc-backtrace
tst-malloc-fork-deadlock
tst-malloc-stats-cancellation
tst-malloc-tcache-leak
tst-malloc-thread-exit
tst-malloc-thread-fail
tst-malloc-too-large
tst-malloc_info
tst-mallocfork
tst-mallocfork2
tst-mallocfork3
tst-mallopt
tst-memalign
tst-mxfast
tst-posix_memalign
tst-pvalloc
tst-pvalloc-fortify
tst-realloc
tst-reallocarray
tst-safe-linking
tst-tcfree1
tst-tcfree2
tst-tcfree3
tst-trim1
tst-valloc
'

die() { echo "glibc-malloc-tests.sh: $*" >&2; exit 2; }

build() {
	work=$1
	tarball=${2-}
	if [ -z "$tarball" ]; then
		for t in /usr/src/glibc/glibc-*.tar.xz; do
			[ -f "$t" ] && tarball=$t
		done
	fi
	if [ -z "$tarball" ] || [ ! -f "$tarball" ]; then
		echo "glibc-malloc-tests.sh: no glibc source tarball (install Debian's glibc-source)" >&2
		exit 77
	fi
	mkdir -p "$work"
	work=$(cd "$work" && pwd)
	top=$(basename "$tarball" .tar.xz)
	src=$work/$top
	if [ ! -d "$src/malloc" ]; then
		tar -C "$work" -xJf "$tarball" "$top/malloc" "$top/support" "$top/test-skeleton.c" \
			"$top/include/array_length.h" "$top/include/intprops.h" "$top/include/libc-diag.h" \
			"$top/include/libc-pointer-arith.h" "$top/include/scratch_buffer.h" \
			"$top/sysdeps/x86_64/stackinfo.h"
	fi
	shim=$work/shim
	mkdir -p "$shim" "$work/obj" "$work/bin" "$work/run"
	for h in array_length.h intprops.h libc-diag.h libc-pointer-arith.h scratch_buffer.h; do
		ln -sf "$src/include/$h" "$shim/$h"
	done
	ln -sf "$src/sysdeps/x86_64/stackinfo.h" "$shim/stackinfo.h"
	# what glibc's build defines for every file that these need
	cat > "$shim/shim.h" <<'EOF'
#define libc_hidden_proto(...)
#define libc_hidden_def(...)
#define libc_hidden_builtin_proto(...)
#include <limits.h>
#include <paths.h>
EOF
	cflags="-O1 -w -D_GNU_SOURCE -DTIMEOUTFACTOR=1 -include $shim/shim.h -I$shim -I$src -I$src/support"
	cat > "$shim/support-paths.h" <<EOF
#define SRCDIR_PATH "$src"
#define OBJDIR_PATH "$work/obj"
#define OBJDIR_ELF_LDSO_PATH "/lib64/ld-linux-x86-64.so.2"
#define INSTDIR_PATH "/usr"
#define LIBDIR_PATH "/usr/lib"
#define BINDIR_PATH "/usr/bin"
#define SBINDIR_PATH "/usr/sbin"
#define SLIBDIR_PATH "/lib"
#define ROOTSBINDIR_PATH "/sbin"
#define COMPLOCALEDIR_PATH "/usr/lib/locale"
EOF
	if [ ! -f "$work/libsupport.a" ]; then
		n=0
		for f in "$src"/support/*.c; do
			b=$(basename "$f" .c)
			case $b in
			tst-*|test-driver|*-container|links-dso-program*) continue ;;
			esac
			extra=
			[ "$b" = support_paths ] && extra="-include $shim/support-paths.h"
			# files that need glibc's own build (time64 variants,
			# *_main drivers of other tests) are not needed here
			if gcc $cflags $extra -c "$f" -o "$work/obj/$b.o" 2>/dev/null; then
				n=$((n + 1))
			fi
		done
		ar rcs "$work/libsupport.a" "$work"/obj/*.o
		echo "glibc support library: $n files" >&2
	fi
	for t in $TESTS; do
		[ -x "$work/bin/$t" ] && continue
		# -fno-builtin-*: the compiler must not fold the allocations
		# the tests make on purpose
		gcc $cflags -fno-builtin-malloc -fno-builtin-calloc -fno-builtin-realloc -fno-builtin-free \
			-pthread "$src/malloc/$t.c" -o "$work/bin/$t" "$work/libsupport.a" \
			|| die "cannot build $t"
	done
}

case ${1-} in
build)
	[ $# -ge 2 ] || die "usage: build WORKDIR [TARBALL]"
	build "$2" "${3-}"
	;;
list)
	for t in $TESTS; do echo "$t"; done
	;;
run)
	[ $# -ge 3 ] || die "usage: run WORKDIR TEST [LIB]"
	work=$(cd "$2" && pwd)
	lib=${4-${KMM_LIB-}}
	[ -n "$lib" ] || die "no library (LIB or KMM_LIB)"
	case $lib in none) lib= ;; /*) ;; *) lib=$PWD/$lib ;; esac
	cd "$work/run"
	# the test driver's own files (temporary files, its subprocesses)
	# stay here
	# glibc's driver timeouts (20 s, 100 s for the fork tests) times 3: a
	# loaded 2-core machine (make -j2 check) runs the fork tests 1.5-2
	# times as long as an idle one
	TIMEOUTFACTOR=${TIMEOUTFACTOR-3}
	export TIMEOUTFACTOR
	case $3 in
	tst-mxfast) GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0; export GLIBC_TUNABLES ;;
	esac
	TMPDIR=$work/run exec env LD_PRELOAD="$lib" "$work/bin/$3" 2>&1
	;;
*)
	sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
	[ "${1-}" = -h ] || [ "${1-}" = --help ]
	;;
esac
