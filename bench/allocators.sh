# bench/allocators.sh — where the allocators the bench scripts compare are;
# sourced (not run) by bench/mimalloc-bench.sh and bench/security.sh.
#
# find_allocators locates glibc (nothing preloaded), jemalloc
# (libjemalloc.so.2), tcmalloc (libtcmalloc_minimal.so.4), mimalloc
# (libmimalloc.so.2), kmm and kmm-glibc (kmm's library with
# KMM_OPTIONS=profile=glibc), like bench/runner.c does, plus the -L and -O
# ones, and selects those -a asks for.
#
# Input (variables set by the caller; its options):
#   top           the kmm tree (kmm's default library is $top/.libs/libkmm.so)
#   kmm_lib       -k/--kmm PATH, else $KMM_LIB, else empty
#   extra_libs    array of -L NAME=PATH: add an allocator, or point a
#                 built-in one at another library
#   kmm_variants  array of -O NAME=OPTIONS (optional; bench/security.sh):
#                 a kmm variant, kmm's library run with KMM_OPTIONS=OPTIONS
#                 (or the library -L gave NAME)
#   only_allocs   -a a,b: the allocators wanted, empty for all
# and the caller's die (usage error, exits) and note (a message) functions.
#
# Output (global variables):
#   multiarch, libdirs   where the libraries are looked for
#   alloc_names          every allocator known, built-in ones first
#   alloc_path[NAME]     its library (resolved with readlink -f), empty for glibc
#   alloc_opts[NAME]     the KMM_OPTIONS it runs with (kmm-glibc, -O ones)
#   alloc_missing[NAME]  why it cannot run, if it cannot
#   allocs               the allocators selected (-a, else all)
#   run_allocs           those of them found (the others skipped with a note)
#
# shellcheck shell=bash
# The variables read here are set by the callers, those set here are used
# by them:
# shellcheck disable=SC2034,SC2154

case "$(uname -m)" in
x86_64) multiarch=x86_64-linux-gnu ;;
aarch64) multiarch=aarch64-linux-gnu ;;
i?86) multiarch=i386-linux-gnu ;;
ppc64le) multiarch=powerpc64le-linux-gnu ;;
s390x) multiarch=s390x-linux-gnu ;;
riscv64) multiarch=riscv64-linux-gnu ;;
*) multiarch=unknown ;;
esac
libdirs="/usr/lib/$multiarch /lib/$multiarch /usr/lib64 /lib64 /usr/local/lib /usr/lib"

find_lib() { # FILE... -> first existing path in libdirs
	local f d
	for f in "$@"; do
		for d in $libdirs; do
			if [ -e "$d/$f" ]; then echo "$d/$f"; return 0; fi
		done
	done
	return 1
}

# common_option ARGS...: the options both scripts take (-a, -k/--kmm, -L,
# --build-dir, --rebuild, --build-only, --csv, --timeout, -l/--list), into
# the caller's variables of the same meaning; sets `consumed` to the words
# it used (1 or 2), or 0 when $1 is not one of them.  The caller defines
# need_arg OPTION ARGS... (dies when OPTION has no argument).
common_option() {
	consumed=1
	case "$1" in
	-a) need_arg "$@"; only_allocs=$2; consumed=2 ;;
	-a*) only_allocs=${1#-a} ;;
	-k) need_arg "$@"; kmm_lib=$2; consumed=2 ;;
	--kmm=*) kmm_lib=${1#--kmm=} ;;
	-L) need_arg "$@"; extra_libs+=("$2"); consumed=2 ;;
	-L*) extra_libs+=("${1#-L}") ;;
	--build-dir=*) build_dir=${1#--build-dir=} ;;
	--rebuild) rebuild=1 ;;
	--build-only) build_only=1 ;;
	--csv=*) csv=${1#--csv=} ;;
	--timeout=*) timeout=${1#--timeout=} ;;
	-l|--list) list=1 ;;
	*) consumed=0 ;;
	esac
}

find_allocators() {
	local spec name path opts known a p w want=()

	alloc_names=(glibc jemalloc tcmalloc mimalloc kmm kmm-glibc)
	declare -gA alloc_path=() alloc_missing=() alloc_opts=()
	alloc_opts[kmm-glibc]=profile=glibc
	alloc_path[glibc]=
	alloc_path[jemalloc]=$(find_lib libjemalloc.so.2 libjemalloc.so) ||
		alloc_missing[jemalloc]="libjemalloc.so.2 not found (Debian: libjemalloc2)"
	alloc_path[tcmalloc]=$(find_lib libtcmalloc_minimal.so.4 libtcmalloc.so.4) ||
		alloc_missing[tcmalloc]="libtcmalloc_minimal.so.4 not found (Debian: libtcmalloc-minimal4)"
	alloc_path[mimalloc]=$(find_lib libmimalloc.so.2 libmimalloc.so) ||
		alloc_missing[mimalloc]="libmimalloc.so.2 not found (Debian: libmimalloc2.0)"
	if [ -n "$kmm_lib" ]; then
		alloc_path[kmm]=$kmm_lib
		[ -e "$kmm_lib" ] || alloc_missing[kmm]="libkmm.so not found at $kmm_lib"
	else
		alloc_path[kmm]=$top/.libs/libkmm.so
		[ -e "${alloc_path[kmm]}" ] ||
			alloc_missing[kmm]="libkmm.so not found (build kmm with make, or pass --kmm=PATH)"
	fi
	for spec in ${extra_libs[@]+"${extra_libs[@]}"}; do
		case "$spec" in
		?*=?*) ;;
		*) die "-L wants NAME=PATH, not $spec" ;;
		esac
		name=${spec%%=*} path=${spec#*=}
		case "$name" in *[!A-Za-z0-9_.+-]*) die "-L: bad allocator name $name" ;; esac
		known=0
		for a in "${alloc_names[@]}"; do [ "$a" = "$name" ] && known=1; done
		[ "$known" = 1 ] || alloc_names+=("$name")
		alloc_path[$name]=$path
		unset "alloc_missing[$name]"
		[ -e "$path" ] || alloc_missing[$name]="$path not found"
	done
	# kmm-glibc: kmm's library (after any -L kmm=), unless -L named its own
	if [ -z "${alloc_path[kmm-glibc]+x}" ]; then
		alloc_path[kmm-glibc]=${alloc_path[kmm]}
		[ -z "${alloc_missing[kmm]+x}" ] || alloc_missing[kmm-glibc]=${alloc_missing[kmm]}
	fi
	# -O NAME=OPTIONS: the same for any kmm variant
	for spec in ${kmm_variants[@]+"${kmm_variants[@]}"}; do
		case "$spec" in
		?*=?*) ;;
		*) die "-O wants NAME=OPTIONS, not $spec" ;;
		esac
		name=${spec%%=*} opts=${spec#*=}
		case "$name" in *[!A-Za-z0-9_.+-]*) die "-O: bad allocator name $name" ;; esac
		case "$name" in
		glibc|jemalloc|tcmalloc|mimalloc) die "-O: $name is not a kmm variant" ;;
		esac
		known=0
		for a in "${alloc_names[@]}"; do [ "$a" = "$name" ] && known=1; done
		[ "$known" = 1 ] || alloc_names+=("$name")
		alloc_opts[$name]=$opts
		if [ -z "${alloc_path[$name]+x}" ]; then
			alloc_path[$name]=${alloc_path[kmm]}
			[ -z "${alloc_missing[kmm]+x}" ] || alloc_missing[$name]=${alloc_missing[kmm]}
		fi
	done
	for a in "${alloc_names[@]}"; do
		p=${alloc_path[$a]}
		[ -n "$p" ] && [ -e "$p" ] && alloc_path[$a]=$(readlink -f "$p")
	done

	allocs=()
	if [ -n "$only_allocs" ]; then
		IFS=, read -r -a want <<<"$only_allocs"
		for w in "${want[@]}"; do
			[ -n "${alloc_path[$w]+x}" ] || die "unknown allocator $w (see --list)"
			allocs+=("$w")
		done
	else
		allocs=("${alloc_names[@]}")
	fi
	run_allocs=()
	for a in "${allocs[@]}"; do
		if [ -n "${alloc_missing[$a]+x}" ]; then
			note "skipping $a: ${alloc_missing[$a]}"
		else
			run_allocs+=("$a")
		fi
	done
	[ "${#run_allocs[@]}" -gt 0 ] || die "no allocator to run"
	return 0
}
