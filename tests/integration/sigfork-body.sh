#!/bin/sh
# sigfork-body.sh — fork from signal handlers that interrupt malloc, free and
# realloc while 8 threads allocate (tests/progs/sigfork): every child
# allocates and exits, nothing hangs.  glibc's malloc deadlocks here (its
# own tst-mallocfork3 uses _Fork for that reason); kmm's fork handler
# notices a thread interrupted inside kmm and gives the child the rescue
# heap (src/heap/rescue.h).
#
# 10 000 forks from one signal sender, then 1 000 with two senders (handlers
# on two threads at once).  Under profile=glibc (make check-profiles) and
# with KMM_SLOW=no (.ci/run's distcheck, after make check ran all of it):
# 1 000 forks and no second run (the fork path is the same in every
# profile).
#
# Sourced by two parts that make -j runs side by side, SIGFORK_PART set:
#   one-sender   (sigfork-one-sender.sh) glibc's malloc alone, and the
#                10 000 forks: one run of minutes, which shows its progress
#                on the terminal (with_progress, common.sh)
#   two-senders  (sigfork-two-senders.sh) the 1 000 forks with two senders
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

SF=$KMM_PROGS/sigfork
forks=10000
if [ "${KMM_SLOW-}" = no ] || [ "${KMM_DEFAULT_PROFILE-}" = glibc ]; then
	forks=1000
fi

case ${SIGFORK_PART:?SIGFORK_PART must name the part} in
one-sender) plan $((1 + 6)) ;;
two-senders) plan 6 ;;
*) echo "sigfork-body.sh: no part $SIGFORK_PART" >&2; exit 99 ;;
esac

# sigfork_kmm FORKS SENDERS BOUND: six checks of one run under kmm
sigfork_kmm() {
	_f=$1 _s=$2 _b=$3 _o=$KMM_TMP/sf-$1x$2
	_t0=$(date +%s)
	KMM_TIMEOUT=$_b with_progress "$_f forks, $_s sender(s)" \
		kmm_run "$_o.stats" "$SF" 8 "$_f" "$_s" >"$_o" 2>&1
	_st=$?
	diag "$_f forks, $_s sender(s): status $_st in $(($(date +%s) - _t0)) s: $(tr '\n' ';' <"$_o")"
	ok "$_f forks from signal handlers ($_s sender(s), 8 threads): finished within $_b s, no child stuck for 30 s" \
		sh -c "[ $_st -ne 124 ] && [ $_st -ne 137 ] && ! grep -q stuck '$_o'"
	ok "$_f forks: every child allocated, checked its blocks and exited 0" \
		grep -qx "forks $_f/$_f clean" "$_o"
	ok "$_f forks: the 8 threads found every block intact, exit status 0" sh -c \
		"grep -qx 'threads 8 ok' '$_o' && [ $_st -eq 0 ]"
	ok "$_f forks: signals interrupted malloc, free and realloc" sh -c \
		"grep -Eq '^interrupted malloc [1-9][0-9]* free [1-9][0-9]* realloc [1-9][0-9]*$' '$_o'"
	_r=$(sed -n 's/^children with no heap statistics (rescued) //p' "$_o")
	ok "$_f forks: some children were rescued ($_r), the others used the heap" \
		sh -c "[ '${_r:-0}' -gt 0 ] && [ '${_r:-0}' -lt $_f ]"
	ok "$_f forks: the parent wrote its exit report" test "$(stats_reports "$_o.stats" sigfork)" -eq 1
}

if [ "$SIGFORK_PART" = one-sender ]; then
	KMM_TIMEOUT=60 plain_run "$SF" 8 1 0 >"$KMM_TMP/plain" 2>&1
	ok "sigfork's churn alone passes with glibc's malloc" sh -c \
		"grep -qx 'threads 8 ok' '$KMM_TMP/plain'"
	sigfork_kmm "$forks" 1 900
	exit 0
fi
if [ "${KMM_SLOW-}" = no ] || [ "${KMM_DEFAULT_PROFILE-}" = glibc ]; then
	for t in 1 2 3 4 5 6; do skip "two senders, check $t" "KMM_SLOW=no or profile=glibc: make check ran it"; done
else
	sigfork_kmm 1000 2 300
fi
