#!/bin/sh
# git.sh — a git session (init, add, commit, branch, merge, log, status, diff,
# gc, fsck) under kmm: same commits, same output as with glibc's malloc.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan 7

if ! have git; then
	for t in 1 2 3 4 5 6 7; do skip "git check $t" "git not installed"; done
	exit 0
fi

# no user or system configuration; fixed dates give reproducible hashes
HOME=$KMM_TMP
GIT_CONFIG_NOSYSTEM=1
GIT_CONFIG_GLOBAL=/dev/null
GIT_AUTHOR_DATE='2024-01-02T03:04:05Z'
GIT_COMMITTER_DATE='2024-01-02T03:04:05Z'
export HOME GIT_CONFIG_NOSYSTEM GIT_CONFIG_GLOBAL GIT_AUTHOR_DATE GIT_COMMITTER_DATE
cd "$KMM_TMP" || exit 1

# session RUNNER DIR: the same git session, run plainly or under kmm
session() {
	_run=$1 _dir=$2
	g() {
		$_run git -c user.name='Kmm Tester' -c user.email=kmm@example.com \
			-c init.defaultBranch=main -c commit.gpgsign=false \
			-c core.autocrlf=false -c pack.threads=2 -c gc.auto=0 "$@"
	}
	g init -q "$_dir" || return 1
	cd "$_dir" || return 1
	i=1
	while [ $i -le 30 ]; do seq $i $((i * 150)) >"f$i.txt"; i=$((i + 1)); done
	g add . && g commit -q -m 'initial: 30 files'
	echo "commit 1: $?"
	sed -i 's/^7/seven/' f3.txt f17.txt && rm f9.txt
	g commit -q -a -m 'second: edit two files, remove one'
	echo "commit 2: $?"
	mkdir -p sub/deeper && seq 1 5000 >sub/deeper/big.txt && echo hello >sub/hello.txt
	g add sub && g commit -q -m 'third: subdirectories'
	echo "commit 3: $?"
	g checkout -q -b feature && echo feature >>f1.txt && g commit -q -a -m 'feature work'
	echo "commit 4: $?"
	g checkout -q main && g merge -q --no-ff -m 'merge feature' feature
	echo "merge: $?"
	echo '--- log'
	g log --format='%H %an <%ae> %s'
	echo '--- graph'
	g log --graph --oneline --decorate=no
	echo changed >>f2.txt && echo new >untracked.txt && rm f4.txt
	echo '--- status'
	g status --porcelain
	echo '--- status long'
	g status
	echo '--- diff'
	g diff --stat
	g diff
	echo '--- show'
	g show --stat --format='%s' HEAD~1
	echo '--- gc'
	g gc -q --aggressive
	echo "gc: $?"
	g fsck --no-progress --strict
	echo "fsck: $?"
	g rev-list --all --objects | sort
	cd "$KMM_TMP" || return 1
}

kmm_git() { kmm_run "$KMM_TMP/git.stats" "$@"; }

session plain_run "$KMM_TMP/plain" >"$KMM_TMP/plain.out" 2>&1
session kmm_git "$KMM_TMP/kmm" >"$KMM_TMP/kmm.out" 2>&1

out=$KMM_TMP/kmm.out
ok "git under kmm: init, add, commits and merge succeed" sh -c "
	grep -qx 'commit 1: 0' '$out' && grep -qx 'commit 2: 0' '$out' &&
	grep -qx 'commit 3: 0' '$out' && grep -qx 'commit 4: 0' '$out' && grep -qx 'merge: 0' '$out'"
ok "git under kmm: log lists the 5 commits" sh -c "
	sed -n '/^--- log/,/^--- graph/p' '$out' | grep -c 'Kmm Tester <kmm@example.com>' | grep -qx 5"
ok "git under kmm: status shows the changes" sh -c "
	sed -n '/^--- status\$/,/^--- status long/p' '$out' |
	tr '\n' '|' | grep -qx -e '--- status| M f2.txt| D f4.txt|?? untracked.txt|--- status long|'"
ok "git under kmm: gc and fsck succeed" sh -c "grep -qx 'gc: 0' '$out' && grep -qx 'fsck: 0' '$out'"
ok "git: the whole session's output identical under kmm (same hashes)" \
	same_output "$KMM_TMP/plain.out" "$KMM_TMP/kmm.out"
used_kmm "git: kmm served git's mallocs" "$KMM_TMP/git.stats" git
n=$(stats_reports "$KMM_TMP/git.stats")
ok "git: every git process ran under kmm ($n reports)" test "$n" -ge 20
