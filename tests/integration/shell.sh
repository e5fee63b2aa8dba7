#!/bin/sh
# shell.sh — sh and bash scripts give byte-identical output under libkmm.so.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan 8

# The workload: loops, subshells, pipes, command substitution, here-docs,
# word splitting of a big variable, functions, eval; all POSIX.
cat >"$KMM_TMP/work.sh" <<'SCRIPT'
i=0 total=0
while [ $i -lt 3000 ]; do total=$((total + i * i % 7)); i=$((i + 1)); done
echo "loop $total"

big=$(awk 'BEGIN { for (i = 1; i <= 40000; i++) printf "w%d%s", i, (i % 10 ? " " : "\n") }')
set -- $big
echo "words $# first $1 last ${40000}"
n=0
for w in $big; do case $w in *7) n=$((n + 1)) ;; esac; done
echo "ending in 7: $n"
old_ifs=$IFS
IFS=:
set -- $(echo "a:b::c:d")
echo "ifs fields $#: $*"
IFS=$old_ifs

(cd / && pwd; (echo nested; exit 3); echo "inner status $?")
echo "$big" | tr ' ' '\n' | awk 'NR % 997 == 1' | tr w W | sort -r | head -5
echo "wc $(printf '%s\n' $big | wc -l)"
deep=$(echo $(echo $(echo deep) er) est)
echo "$deep"

cat <<EOT
here: $deep ${#big} $(echo substituted)
  literal \$HOME and $((6 * 7))
EOT
while read a b c; do echo "$c $b $a"; done <<EOT
1 2 3
x y z
EOT

s= i=0
while [ $i -lt 2000 ]; do s="$s$i,"; i=$((i + 1)); done
echo "built ${#s}"
v=/usr/local/lib/libfoo.so.1.2
echo "${v##*/} ${v%.*} ${v#/usr} ${v%%.*}"

fib() { if [ "$1" -lt 2 ]; then echo "$1"; else echo $(( $(fib $(($1 - 1))) + $(fib $(($1 - 2))) )); fi; }
echo "fib $(fib 10)"
eval 'e1=20; e2=$((e1 + 22))'
echo "eval $e2"
k=0
for x in $(seq 1 200); do k=$((k + ${#x})); done
echo "digits $k"
printf '%s\n' $big | sed -n '$p'
# not part of the output: is libkmm.so mapped into this very shell?
if [ -n "${MAPS_OUT-}" ]; then grep -c libkmm /proc/$$/maps >"$MAPS_OUT" || :; fi
SCRIPT

for shell in sh bash; do
	if ! have "$shell"; then
		skip "$shell: output identical under kmm" "$shell not installed"
		skip "$shell: plain run sane" "$shell not installed"
		skip "$shell: libkmm.so mapped in the shell, kmm served its commands" "$shell not installed"
		continue
	fi
	plain_run "$shell" "$KMM_TMP/work.sh" >"$KMM_TMP/$shell.plain" 2>&1
	echo "status $?" >>"$KMM_TMP/$shell.plain"
	kmm_run "$KMM_TMP/$shell.stats" env MAPS_OUT="$KMM_TMP/$shell.maps" "$shell" "$KMM_TMP/work.sh" \
		>"$KMM_TMP/$shell.kmm" 2>&1
	echo "status $?" >>"$KMM_TMP/$shell.kmm"
	ok "$shell: plain run sane" grep -qx 'words 40000 first w1 last w40000' "$KMM_TMP/$shell.plain"
	ok "$shell: output identical under kmm" same_output "$KMM_TMP/$shell.plain" "$KMM_TMP/$shell.kmm"
	# dash leaves with _exit() (no exit report): ask /proc whether the
	# shell process itself had libkmm.so mapped, and count the reports of
	# the commands it ran (awk, tr, sort, ...)
	n=$(cat "$KMM_TMP/$shell.maps" 2>/dev/null)
	c=$(stats_calls "$KMM_TMP/$shell.stats")
	ok "$shell: libkmm.so mapped in the shell, kmm served its commands ($c allocations)" \
		test "${n:-0}" -gt 0 -a "$c" -gt 0
done

# A pipeline of several preloaded processes: every one reports.
kmm_run "$KMM_TMP/pipe.stats" sh -c 'seq 1 20000 | sed s/1/one/ | sort | uniq -c | sort -n | tail -3' \
	>"$KMM_TMP/pipe.kmm" 2>&1
plain_run sh -c 'seq 1 20000 | sed s/1/one/ | sort | uniq -c | sort -n | tail -3' >"$KMM_TMP/pipe.plain" 2>&1
ok "pipeline: output identical under kmm" same_output "$KMM_TMP/pipe.plain" "$KMM_TMP/pipe.kmm"
# (the sh itself leaves with _exit() if it is dash: no report from it)
pipe_reports() {
	for c in seq sed uniq tail; do
		[ "$(stats_reports "$1" $c)" -eq 1 ] || { echo "no report from $c"; return 1; }
	done
	[ "$(stats_reports "$1" sort)" -eq 2 ] || { echo "not 2 reports from sort"; return 1; }
	[ "$(stats_calls "$1" sort)" -gt 0 ] || { echo "sort: no allocations"; return 1; }
}
ok "pipeline: each process of the pipeline ran under kmm" pipe_reports "$KMM_TMP/pipe.stats"
