#!/bin/sh
# firsthour.sh — a new user's first hour with the `kmm` command (issue 16):
# the commands as a new user types them, each check failing on the tool's
# old behaviour.  Reports land where they were asked for and say when they
# could not; kmm works through any symlink and uses one tree only; exit
# statuses a script can use; every command has its own --help; errors are
# kmm's own one-line messages.
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan_lazy

T=$KMM_TMP
cd "$T" || exit 1
# the tool with a time limit, from this directory
kmm() { with_timeout 60 "$KMM_TOOL" "$@"; }
# no_script_lines FILE: no message of the shell's own, with the script's
# name and line number ("tools/kmm: 232: exec: ...")
no_script_lines() {
	if grep -E '(kmm|sh): [0-9]+: ' "$1"; then return 1; fi
	return 0
}
# one_line FILE PATTERN: FILE is one line, matching PATTERN (grep -E)
one_line() {
	[ "$(wc -l <"$1")" -eq 1 ] && grep -qE "$2" "$1" && return 0
	echo "expected one line matching '$2', got:"; cat "$1"; return 1
}

# --- 1. a misspelled report section ------------------------------------------------
kmm run --report=buddyinfo,vmalocinfo -- ls / >ls.out 2>ls.err
is "$?" "2" "kmm run --report=buddyinfo,vmalocinfo -- ls /: usage error, status 2"
ok "  the message names the unknown section and the known ones" \
	one_line ls.err "^kmm: run: unknown report section 'vmalocinfo' \\(known: summary, .*vmallocinfo"
ok "  nothing ran (ls printed nothing)" test ! -s ls.out
kmm run --profile=hardend -- true 2>prof.err
is "$?" "2" "kmm run --profile=hardend: status 2"
ok "  the message names the profiles" one_line prof.err "unknown profile 'hardend' \\(known: kmm, glibc, hardened\\)"
kmm run --report=buddyinfo,vmallocinfo -- ls / >ls2.out 2>ls2.err
is "$?" "0" "kmm run --report=buddyinfo,vmallocinfo -- ls /: status 0"
ok "  both sections are in the report, after ls closed its stderr" sh -c \
	"grep -q '^buddyinfo' ls2.err && grep -q '^vmallocinfo' ls2.err"

# --- 2. a relative --stats path, a program that changes directory -------------------------
mkdir -p start elsewhere
(cd start && kmm run --stats=rel.stats -- bash -c 'cd ../elsewhere && echo moved') >rel.out 2>rel.err
is "$?" "0" "kmm run --stats=rel.stats -- bash -c 'cd elsewhere; ...': status 0"
is "$(stats_reports start/rel.stats bash)" "1" "  the report is in the directory kmm ran in"
ok "  and not where the program went" test ! -e elsewhere/rel.stats
mkdir -p tstart
(cd tstart && kmm trace -o rel.trace -- bash -c 'cd ../elsewhere && echo moved') >/dev/null 2>&1
ok "kmm trace -o rel.trace: the log is in the directory kmm ran in" test -s tstart/rel.trace
mkdir -p lstart
(cd lstart && kmm leakcheck -o rel.leaks -- bash -c 'cd ../elsewhere && echo moved') >/dev/null 2>&1
ok "kmm leakcheck -o rel.leaks: the report is in the directory kmm ran in" \
	grep -q '^kmm leakcheck: pid' lstart/rel.leaks

# --- 3. a report that cannot be written ----------------------------------------------------
kmm run --stats=/nonexistent/dir/x -- ls / >bad.out 2>bad.err
is "$?" "2" "kmm run --stats=/nonexistent/dir/x -- ls /: status 2"
ok "  one line says the report cannot be written" one_line bad.err '^kmm: run --stats: cannot write /nonexistent/dir/x'
ok "  before running anything" test ! -s bad.out
start=$(date +%s)
kmm leakcheck -o /nonexistent/dir/x -- sh -c 'sleep 5; touch ran' >/dev/null 2>lbad.err
st=$?
end=$(date +%s)
is "$st" "2" "kmm leakcheck -o /nonexistent/dir/x: status 2"
ok "  at once, the command never ran ($((end - start)) s)" sh -c "test ! -e ran && test $((end - start)) -lt 4"
ok "  one line says so" one_line lbad.err '^kmm: leakcheck -o: cannot write /nonexistent/dir/x'
kmm trace -o /nonexistent/dir/x -- touch ran 2>tbad.err
is "$?" "2" "kmm trace -o /nonexistent/dir/x: status 2, the command never ran"
kmm run --stats="$T" -- true 2>dir.err
is "$?" "2" "kmm run --stats=DIRECTORY: status 2"
# a report that the program never wrote: kmm run says so, with the status
kmm run --stats -- sh -c 'kill -TERM $$' 2>sig.err
is "$?" "143" "kmm run --stats -- (killed by SIGTERM): status 128+15"
ok "  kmm run says no report was written and why" grep -q '^kmm: run: sh wrote no report (a signal (15) ended it' sig.err
kmm run --stats -- python3 -c 'import os; os._exit(4)' 2>exit.err
st=$?
if have python3; then
	is "$st" "4" "kmm run --stats -- python3 (os._exit(4)): status 4"
	ok "  kmm run says no report was written: _exit" grep -q "^kmm: run: python3 wrote no report (it ended with _exit()" exit.err
fi
kmm run --stats -- sh -c 'exit 5' 2>/dev/null
is "$?" "5" "kmm run --stats: the command's exit status"

# --- 4. kmm through symlinks, one tree only -------------------------------------------------
mkdir -p bin decoy
ln -s "$KMM_TOOL" bin/kmm-link
ln -s "$T/bin/kmm-link" bin/kmm
# a kmm-trace, kmm-strace-compare and libkmm.so that must never be used
for t in kmm-trace kmm-strace-compare; do
	printf '#!/bin/sh\necho DECOY %s\nexit 99\n' "$t" >decoy/$t
	chmod +x decoy/$t
done
P="$T/bin:$T/decoy:$PATH"
(cd / && exec env PATH="$P" kmm trace summary --help) >ts.out 2>ts.err
is "$?" "0" "kmm (a symlink to a symlink on PATH) trace summary --help: status 0"
ok "  the reader of kmm's own tree answered" sh -c "grep -q '^usage: kmm-trace summary' ts.out && ! grep -q DECOY ts.out"
ok "  no shell error" no_script_lines ts.err
(cd / && exec env PATH="$P" kmm compare --help) >cmp.out 2>cmp.err
is "$?" "0" "kmm (symlink on PATH) compare --help: status 0"
ok "  kmm-strace-compare of kmm's own tree answered" sh -c "grep -q 'side by side' cmp.out && ! grep -q DECOY cmp.out"
(cd / && exec env PATH="$P" kmm lib) >lib.out 2>&1
ok "kmm (symlink on PATH) lib: the build tree's libkmm.so" sh -c "test \"\$(cat lib.out)\" -ef '$KMM_LIB'"
(cd / && exec env PATH="$P" kmm run -v -- true) >v.out 2>v.err
is "$?" "0" "kmm (symlink on PATH) run -v -- true: status 0"
ok "  -v says which libkmm.so it preloads, from which tree" sh -c \
	"grep -q '^kmm: preloading .*libkmm.so (the build tree ' v.err && test \"\$(sed -n 's/^kmm: preloading \\(.*\\) (.*/\\1/p' v.err)\" -ef '$KMM_LIB'"
# a copy of the script outside any tree: it looks for the installation's
# library only, and says so
cp "$KMM_TOOL" bin/kmm-copy
(cd / && PATH=$P "$T/bin/kmm-copy" trace summary --help) >copy.out 2>copy.err
st=$?
ok "a copy of kmm outside its tree never runs a kmm-trace from PATH (status $st)" sh -c \
	"! grep -q DECOY copy.out && { test $st -eq 0 || grep -q '^kmm: cannot find kmm-trace: ' copy.err; }"

# --- exit statuses, messages, per-command help --------------------------------------------------
kmm run -- no-such-program-kmm 2>nf.err
is "$?" "127" "kmm run -- no-such-program: status 127"
ok "  kmm's one-line message, not the shell's" one_line nf.err '^kmm: no-such-program-kmm: command not found$'
printf 'x\n' >notexec
kmm run -- ./notexec 2>ne.err
is "$?" "126" "kmm run -- ./not-executable: status 126"
ok "  kmm's one-line message" one_line ne.err '^kmm: \./notexec: not an executable file$'
kmm trace -o nf.trace -- no-such-program-kmm 2>tnf.err
is "$?" "127" "kmm trace -o F -- no-such-program: status 127"
ok "  no shell error with a line number" no_script_lines tnf.err
kmm leakcheck -- no-such-program-kmm 2>lnf.err
is "$?" "127" "kmm leakcheck -- no-such-program: status 127"
ok "  no shell error with a line number" no_script_lines lnf.err
kmm frobnicate 2>unk.err
is "$?" "2" "kmm frobnicate: status 2"
ok "  one line" one_line unk.err "^kmm: unknown command 'frobnicate'"
for c in run trace leakcheck lib version; do
	kmm "$c" --help >h.out 2>h.err
	st=$?
	ok "kmm $c --help: status 0, its own usage ($st)" sh -c \
		"test $st -eq 0 && head -1 h.out | grep -q '^usage: kmm $c' && test ! -s h.err"
	kmm help "$c" >h2.out 2>&1
	ok "kmm help $c: the same text" cmp -s h.out h2.out
done
kmm compare --help >h.out 2>&1
ok "kmm compare --help: the comparison's usage" grep -q '^usage: kmm-strace-compare' h.out
kmm --help >h.out 2>&1
for c in run trace leakcheck compare lib version; do
	ok "kmm --help lists kmm $c" grep -q "^kmm $c " h.out
done

# --- kmm compare: a line cut to fit says so -----------------------------------------------------
if have strace && have python3; then
	kmm compare -w 60 -- python3 -c 'x = [bytes(300000) for i in range(5)]' >cmp.out 2>&1
	ok "kmm compare -w 60 | cat: the cut lines end in ~" grep -q '~$' cmp.out
	ok "  and the view says how many were cut" grep -qE '^\([0-9]+ lines? cut at 28 columns, marked ~' cmp.out
else
	skip "kmm compare: cut lines" "no strace or python3"
fi

# --- build outputs are ignored by git -----------------------------------------------------------
if have git && git -C "$KMM_SRCDIR" rev-parse --git-dir >/dev/null 2>&1 &&
	[ "$(cd "$KMM_SRCDIR" && pwd -P)" = "$(cd "$(dirname "$KMM_TOOL")/.." && pwd -P)" ]; then
	for f in tools/kmm tools/kmm-trace .libs/libkmm.so; do
		ok "git ignores the build output $f" git -C "$KMM_SRCDIR" check-ignore -q "$f"
	done
else
	skip "git ignores the build outputs" "not an in-tree build of a git checkout"
fi

done_testing
