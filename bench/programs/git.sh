#!/bin/sh
# bench/programs/git.sh — program workload `git`: Debian's git on a
# generated repository.  Prepared once per bench run (untimed): a
# repository built by `git fast-import` from a generated history (at
# scale 1, 1500 commits editing lines of 40 text files of a few hundred
# lines each; fixed seed, fixed dates).  Timed: `git log -p --stat
# --word-diff` of the whole history (inflating objects, diffing lines and
# then words with xdiff, rename detection) and
# `git blame` of the most edited file; the checksum is that of both
# outputs.  Only the repository is read, so every run sees the same one.
# Protocol: bench/programs/common.sh.
. "$(dirname "$0")/common.sh"

git=$(find_prog git git) || { echo "$git"; exit 77; }

# No user or system configuration, no pager, no colour, no hooks.
HOME=$data
GIT_CONFIG_NOSYSTEM=1
GIT_CONFIG_GLOBAL=/dev/null
GIT_PAGER=cat
GIT_DIR=$data/repo.git
export HOME GIT_CONFIG_NOSYSTEM GIT_CONFIG_GLOBAL GIT_PAGER GIT_DIR
unset GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES \
	GIT_CONFIG GIT_CONFIG_PARAMETERS GIT_CONFIG_COUNT GIT_EXTERNAL_DIFF GIT_DIFF_OPTS

case $mode in
check) exit 0 ;;
prepare)
	commits=$(scaled 1500)
	"$git" init -q --bare "$GIT_DIR"
	awk -v commits="$commits" "$AWK_RND"'
	function line(f) { return sprintf("%s %s = %s(%d, %s);", word(2 + rnd(6)), word(3 + rnd(8)), word(2 + rnd(5)), rnd(10000), word(1 + rnd(6))) }
	function blob(f,    len, i) {
		len = 0
		for (i = 1; i <= n[f]; i++) len += length(text[f, i]) + 1
		printf "M 100644 inline src/file%02d.txt\ndata %d\n", f, len
		for (i = 1; i <= n[f]; i++) print text[f, i]
		print ""
	}
	BEGIN {
		seed = 31337
		nf = 40
		for (f = 0; f < nf; f++) {
			n[f] = 150 + rnd(300)
			for (i = 1; i <= n[f]; i++) text[f, i] = line(f)
		}
		for (c = 1; c <= commits; c++) {
			msg = sprintf("change %d: %s %s", c, word(4), word(6))
			printf "commit refs/heads/main\nmark :%d\n", c
			printf "author A U Thor <author@example.com> %d +0000\n", 1600000000 + c * 3600
			printf "committer C O Mitter <committer@example.com> %d +0000\n", 1600000000 + c * 3600
			printf "data %d\n%s\n", length(msg), msg
			if (c > 1) printf "from :%d\n", c - 1
			if (c == 1) {
				for (f = 0; f < nf; f++) blob(f)
				continue
			}
			nmod = 1 + rnd(3)
			for (m = 0; m < nmod; m++) {
				# file 0 is edited far more often than the others
				f = rnd(2) == 0 ? 0 : rnd(nf)
				ned = 1 + rnd(12)
				for (e = 0; e < ned; e++) {
					k = 1 + rnd(n[f])
					r = rnd(3)
					if (r == 0) text[f, k] = line(f)
					else if (r == 1) {	# insert a line
						for (i = n[f]; i >= k; i--) text[f, i + 1] = text[f, i]
						text[f, k] = line(f); n[f]++
					} else if (n[f] > 50) {	# delete a line
						for (i = k; i < n[f]; i++) text[f, i] = text[f, i + 1]
						delete text[f, n[f]]; n[f]--
					}
				}
				blob(f)
			}
		}
	}' | "$git" fast-import --quiet
	;;
run)
	fresh_rundir
	preloaded "$git" log -p --stat --word-diff=plain --no-color --no-ext-diff main >"$rundir/log"
	preloaded "$git" blame --porcelain main -- src/file00.txt >"$rundir/blame"
	checksum "$rundir/log" "$rundir/blame"
	rm -rf "$rundir"
	;;
esac
