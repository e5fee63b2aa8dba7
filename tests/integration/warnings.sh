#!/bin/sh
# warnings.sh — no compiler warnings: every C and C++ source of src/,
# preload/, tools/, tests/ and examples/ compiles again, with the flags of
# the target that builds it (tests/local.mk passes them in KMM_WARN_*)
# followed by -Wall -Wextra -O2 (as `make CFLAGS='-O2 -Wall -Wextra'`
# would: -O2 because some warnings, -Warray-bounds and -Wformat-overflow
# among them, come from the optimiser), and the compiler says nothing.
# One check per directory; the warnings are shown as TAP comments.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

S=$KMM_SRCDIR
CC=${KMM_WARN_CC:-cc}
CXX=${KMM_WARN_CXX:-c++}
EXTRA="-Wall -Wextra -O2"
# the headers of the sources checked first (KMM_SRCDIR may name another tree)
INC="-I$S/include -I$S/src"

if ! have "${CC%% *}"; then
	plan 1; skip "no compiler warnings" "no C compiler ($CC)"; exit 0
fi

# group NAME COMPILER FLAGS FILE...: compile each FILE with FLAGS and
# EXTRA, two at a time; one check for the group
group() {
	_g=$1 _c=$2 _f=$3; shift 3
	_log=$KMM_TMP/$(echo "$_g" | tr '/ ' '__').log
	: >"$_log"
	# shellcheck disable=SC2086
	printf '%s\n' "$@" | xargs -P 2 -I{} sh -c \
		'out=$('"$_c $_f $EXTRA"' -c "$1" -o /dev/null 2>&1) || echo "$1: does not compile"; printf "%s" "${out:+$out
}"' sh {} >>"$_log" 2>&1
	_n=$(grep -c 'warning:\|error:\|does not compile' "$_log")
	ok "$_g: $# files, no compiler warnings with -Wall -Wextra -O2 ($_n)" test "$_n" -eq 0
	[ "$_n" -eq 0 ] || grep 'warning:\|error:\|does not compile' "$_log" | head -20 | sed 's/^/#   /'
}

# the sources of each directory (sorted, so the order never varies)
srcs() { _d=$1; shift; find "$S/$_d" "$@" -type f | LC_ALL=C sort; }

plan 8

# shellcheck disable=SC2046
{
group "src/ and preload/ (the library)" "$CC" "$INC $KMM_WARN_CPPFLAGS $KMM_WARN_CORE_CFLAGS" \
	$(srcs src -name '*.c') $(srcs preload -name '*.c')
group "tools/trace/ (kmm-trace)" "$CC" "$INC $KMM_WARN_TRACE_CPPFLAGS $KMM_WARN_TRACE_CFLAGS" \
	$(srcs tools -name '*.c')
group "tests/unit/" "$CC" "$INC $KMM_WARN_CPPFLAGS $KMM_WARN_UNIT_CFLAGS" \
	$(srcs tests/unit -name '*.c')
group "tests/progs/ (C)" "$CC" "$INC $KMM_WARN_CPPFLAGS $KMM_WARN_PROGS_CFLAGS -pthread" \
	$(srcs tests/progs -name '*.c' ! -name tracegen.c)
group "tests/progs/tracegen.c" "$CC" "$INC $KMM_WARN_TRACE_CPPFLAGS $KMM_WARN_TRACE_CFLAGS" \
	"$S/tests/progs/tracegen.c"
group "tests/fuzz/ (fuzz-replay)" "$CC" "$INC $KMM_WARN_CPPFLAGS -DKMM_FUZZ_REPLAY $KMM_WARN_CORE_CFLAGS" \
	$(srcs tests/fuzz -name '*.c')
group "examples/" "$CC" "$INC $KMM_WARN_CPPFLAGS $KMM_WARN_EXAMPLES_CFLAGS" \
	$(srcs examples -name '*.c')
}
# tests/progs/*.cc: C++ (cxxalloc), with its target's flags
if have "${CXX%% *}"; then
	group "tests/progs/ (C++)" "$CXX" "$INC $KMM_WARN_CPPFLAGS -std=c++17 $KMM_WARN_PROGS_CFLAGS" \
		$(srcs tests/progs -name '*.cc')
else
	skip "tests/progs/ (C++): no compiler warnings" "no C++ compiler ($CXX)"
fi
