# tests/integration/common.sh — helpers shared by the integration tests.
#
# Source it right after tests/tap.sh:
#     . "$KMM_SRCDIR/tests/tap.sh"
#     . "$KMM_SRCDIR/tests/integration/common.sh"

# A clean baseline: a "plain" run must be glibc's malloc with its defaults,
# whatever the environment of `make check` holds.  KMM_DEFAULT_PROFILE stays: `make
# check-profiles` runs every test again with KMM_DEFAULT_PROFILE=glibc, and a test
# that needs kmm's default profile says profile=kmm in KMM_OPTIONS.
unset LD_PRELOAD KMM_OPTIONS KMM_STATS KMM_STATS_PID GLIBC_TUNABLES \
	MALLOC_TOP_PAD_ MALLOC_MMAP_THRESHOLD_ MALLOC_TRIM_THRESHOLD_ \
	MALLOC_MMAP_MAX_ MALLOC_ARENA_MAX MALLOC_ARENA_TEST MALLOC_PERTURB_ \
	MALLOC_CHECK_ PYTHONMALLOC
LC_ALL=C
export LC_ALL
# temporary files of the programs under test (sort, gcc, ...) stay in the
# test's scratch directory, which tap.sh removes at exit
TMPDIR=$KMM_TMP
export TMPDIR
# aborting helpers must not leave core files behind
ulimit -c 0 2>/dev/null || :

# with_timeout SECONDS CMD...: a deadlock fails the test instead of hanging it
with_timeout() {
	_wt_s=$1; shift
	if have timeout; then timeout -k 10 "$_wt_s" "$@"; else "$@"; fi
}

# with_progress WHAT CMD...: CMD, and while it runs, a line every 20 s on
# the terminal ("NAME.sh: WHAT: N s so far"), for the runs of minutes that
# cannot be divided: the test's PASS/FAIL lines show only when it ends.
# tests/local.mk's AM_TESTS_FD_REDIRECT gives the tests make's stderr as
# fd 9; without it (a test run by hand), CMD just runs.
with_progress() {
	_wp_what=$1; shift
	if ! { true >&9; } 2>/dev/null; then "$@"; return; fi
	"$@" &
	_wp_pid=$!
	(
		_wp_t=0
		while kill -0 "$_wp_pid" 2>/dev/null; do
			sleep 1; _wp_t=$((_wp_t + 1))
			[ $((_wp_t % 20)) -eq 0 ] && kill -0 "$_wp_pid" 2>/dev/null &&
				echo "${0##*/}: $_wp_what: $_wp_t s so far" >&9
		done
	) </dev/null >/dev/null 2>&1 &
	_wp_ticker=$!
	wait "$_wp_pid"
	_wp_st=$?
	kill "$_wp_ticker" 2>/dev/null
	wait "$_wp_ticker" 2>/dev/null
	return $_wp_st
}

# kmm_run STATSFILE CMD...: CMD (and everything it starts) with libkmm.so
# preloaded; every process appends its exit report to STATSFILE.
kmm_run() {
	_kr_f=$1; shift
	with_timeout "${KMM_TIMEOUT:-120}" env LD_PRELOAD="$KMM_LIB" KMM_STATS="$_kr_f" "$@"
}

# plain_run CMD...: the same, with glibc's malloc
plain_run() { with_timeout "${KMM_TIMEOUT:-120}" "$@"; }

# stats_reports FILE [COMM]: how many exit reports FILE holds (from COMM)
stats_reports() {
	[ -f "$1" ] || { echo 0; return 0; }
	awk -v want="${2-}" '
	/^== kmm .* report: pid [0-9]+ \(/ {
		c = $0; sub(/^[^(]*\(/, "", c); sub(/\), [^,]*==$/, "", c)
		if (want == "" || c == want) n++
	}
	END { print n + 0 }' "$1"
}

# stats_calls FILE [COMM]: allocations kmm served ("allocations served by",
# all mechanisms) summed over the reports in FILE (those from COMM)
stats_calls() {
	[ -f "$1" ] || { echo 0; return 0; }
	awk -v want="${2-}" '
	/^== kmm .* report: pid [0-9]+ \(/ {
		c = $0; sub(/^[^(]*\(/, "", c); sub(/\), [^,]*==$/, "", c); cur = c; next
	}
	/^allocations served by/ { served = 1; next }
	served && /^  / {
		if (want == "" || cur == want) {
			s = $0; gsub(/\([^)]*\)/, "", s); gsub(/,/, "", s)
			n = split(s, f, " ")
			for (i = 2; i <= n; i += 2) sum += f[i]
		}
		next
	}
	{ served = 0 }
	END { printf "%.0f\n", sum + 0 }' "$1"
}

# used_kmm DESC STATSFILE [COMM]: one check that libkmm.so really served
# malloc calls (a report from COMM, if given, with nonzero malloc calls)
used_kmm() {
	_uk_n=$(stats_calls "$2" "${3-}")
	if [ "$_uk_n" -gt 0 ] 2>/dev/null; then
		ok "$1 ($_uk_n allocations served by kmm)" true
	else
		ok "$1" false
		diag "no kmm report with allocations${3:+ from '$3'} in $2:"
		[ -f "$2" ] && head -20 "$2" | sed 's/^/#   /'
	fi
}

# same_output FILE_PLAIN FILE_KMM: byte-identical and not empty (use with ok)
same_output() {
	if [ ! -s "$1" ]; then
		echo "the plain run produced no output ($1)"
		return 1
	fi
	cmp "$1" "$2" >/dev/null 2>&1 && return 0
	echo "outputs differ (plain vs kmm):"
	diff "$1" "$2" | head -20
	return 1
}

# status_is GOT EXPECTED: for ok, with a message
status_is() {
	[ "$1" = "$2" ] && return 0
	echo "exit status $1, expected $2"
	return 1
}

# cat_diag FILE: show a file as TAP comments
cat_diag() { [ -f "$1" ] && head -"${2:-20}" "$1" | sed 's/^/#   /'; return 0; }

# --- strace ------------------------------------------------------------------
# strace_ok: strace is configured and may trace here (ptrace can be forbidden
# in containers)
strace_ok() {
	[ -n "${STRACE-}" ] && "$STRACE" -o /dev/null true >/dev/null 2>&1
}

# trace_heap OUTFILE CMD...: CMD under `strace -f`, tracing the system calls
# that move the heap, and the write(2)s of heapprobe's markers
trace_heap() {
	_th_o=$1; shift
	with_timeout 60 "$STRACE" -f -o "$_th_o" -e trace=brk,mmap,munmap,mremap,write "$@"
}

# The awk function hex(): a "0x..." string as a number (addresses fit in a
# double's 53 bits).
AWK_HEX='function hex(s,   i, c, v) {
	v = 0; s = tolower(s); sub(/^0x/, "", s)
	for (i = 1; i <= length(s); i++) {
		c = index("0123456789abcdef", substr(s, i, 1))
		if (c == 0) break
		v = v * 16 + c - 1
	}
	return v
}'

# trace_events TRACE: the program's own heap activity in an strace log of
# heapprobe, one event a line, without addresses (comparable between runs):
#   premain N          break growths before the first marker (at mark 1)
#   mark N             heapprobe's marker N
#   brk +D / brk -D    the break grew / shrank by D bytes; "brk fail"
#   mmap LEN PROT FLAGS        an anonymous mapping (fd -1)
#   mmap-file LEN PROT         a file mapping
#   munmap LEN, mremap OLD NEW
trace_events() {
	awk "$AWK_HEX"'
	{ line = $0; sub(/^(\[pid +)?[0-9]+\]? +/, "", line) }
	line ~ /^write\(2, "@@heapprobe mark [0-9]+@@/ {
		n = line; sub(/^write\(2, "@@heapprobe mark /, "", n); sub(/@@.*/, "", n)
		if (!mark) print "premain " pre + 0
		mark = n + 0
		print "mark " mark
		next
	}
	line ~ /^brk\(/ && line ~ /= / {
		ret = line; sub(/.*= /, "", ret); r = hex(ret)
		arg = line; sub(/^brk\(/, "", arg); sub(/\).*/, "", arg)
		if (have_last && arg != "NULL") {
			if (hex(arg) != r) { if (mark) print "brk fail" }
			else if (r > last) { if (mark) printf "brk +%.0f\n", r - last; else pre++ }
			else if (r < last && mark) printf "brk -%.0f\n", last - r
		}
		last = r; have_last = 1
		next
	}
	mark && line ~ /^mmap\(/ {
		a = line; sub(/^mmap\(/, "", a); sub(/\) += .*/, "", a); split(a, f, ", ")
		if (f[5] == "-1") printf "mmap %s %s %s\n", f[2], f[3], f[4]
		else printf "mmap-file %s %s\n", f[2], f[3]
		next
	}
	mark && line ~ /^munmap\(/ {
		a = line; sub(/^munmap\(/, "", a); sub(/\).*/, "", a); split(a, f, ", ")
		print "munmap " f[2]
		next
	}
	mark && line ~ /^mremap\(/ {
		a = line; sub(/^mremap\(/, "", a); sub(/\).*/, "", a); split(a, f, ", ")
		print "mremap " f[2] " " f[3]
	}' "$1"
}

# trace_between TRACE N: the events between heapprobe's markers N and N+1
trace_between() {
	trace_events "$1" | awk -v n="$2" '
		$1 == "mark" { inside = ($2 == n); next }
		inside'
}

# mapped_by_vmalloc TRACE N PTR: between markers N and N+1, kmm made a
# vmalloc area that holds PTR: moved page frames into it (mremap with
# MREMAP_DONTUNMAP; vmalloc_frames=on, profile=glibc), or made its range
# read-write in place (mmap with MAP_FIXED over its reserved space; a
# demand-paged area, vmalloc_frames=off, the default profile)
mapped_by_vmalloc() {
	awk -v n="$2" -v ptr="$3" "$AWK_HEX"'
	{ line = $0; sub(/^(\[pid +)?[0-9]+\]? +/, "", line) }
	line ~ /^write\(2, "@@heapprobe mark [0-9]+@@/ {
		m = line; sub(/^write\(2, "@@heapprobe mark /, "", m); sub(/@@.*/, "", m)
		inside = (m + 0 == n + 0)
		next
	}
	inside && line ~ /^mremap\(/ && line ~ /MREMAP_DONTUNMAP/ && line ~ /= 0x/ {
		a = line; sub(/^mremap\(/, "", a); split(a, f, ", ")
		r = line; sub(/.*= /, "", r)
		if (hex(ptr) >= hex(r) && hex(ptr) < hex(r) + f[2]) found = 1
	}
	inside && line ~ /^mmap\(0x[0-9a-f]+, [0-9]+, PROT_READ\|PROT_WRITE, MAP_PRIVATE\|MAP_FIXED\|MAP_ANONYMOUS, -1, 0\) = 0x/ {
		a = line; sub(/^mmap\(/, "", a); split(a, f, ", ")
		if (hex(ptr) >= hex(f[1]) && hex(ptr) < hex(f[1]) + f[2]) found = 1
	}
	END { exit found ? 0 : 1 }' "$1"
}

# mapped_by_mmap TRACE N PTR: PTR lies in an anonymous read-write mapping
# made between markers N and N+1
mapped_by_mmap() {
	awk -v n="$2" -v ptr="$3" "$AWK_HEX"'
	{ line = $0; sub(/^(\[pid +)?[0-9]+\]? +/, "", line) }
	line ~ /^write\(2, "@@heapprobe mark [0-9]+@@/ {
		m = line; sub(/^write\(2, "@@heapprobe mark /, "", m); sub(/@@.*/, "", m)
		inside = (m + 0 == n + 0)
		next
	}
	inside && line ~ /^mmap\(NULL, [0-9]+, PROT_READ\|PROT_WRITE, MAP_PRIVATE\|MAP_ANONYMOUS, -1, 0\) = 0x/ {
		a = line; sub(/^mmap\(NULL, /, "", a); sub(/,.*/, "", a)
		r = line; sub(/.*= /, "", r)
		if (hex(ptr) >= hex(r) && hex(ptr) < hex(r) + a) found = 1
	}
	END { exit found ? 0 : 1 }' "$1"
}
