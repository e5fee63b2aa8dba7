#!/bin/sh
# manpages.sh — the man pages (man/kmm.1, kmm.3, kmm.7): each renders
# without a warning (groff -man -ww, and man --warnings), and each covers
# what it documents: kmm.1 every command `kmm --help` lists, kmm.3 every
# function and mallopt parameter include/kmm.h declares, kmm.7 every option
# of src/options.c's table, the profiles, the environment variables kmm reads
# and the report sections of src/report.c.  man/local.mk installs every
# docs/*.md.
#
# `make installcheck` (so `make distcheck`) runs it again against the
# installed tree: KMM_MANDIR (the installed mandir), KMM_TOOL (the installed
# kmm) and KMM_HEADER (the installed kmm.h).
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan_lazy

header=${KMM_HEADER:-$KMM_SRCDIR/include/kmm.h}
page() { # SECTION: the page's file
	if [ -n "${KMM_MANDIR:-}" ]; then echo "$KMM_MANDIR/man$1/kmm.$1"
	else echo "$KMM_SRCDIR/man/kmm.$1"; fi
}

for s in 1 3 7; do
	ok "kmm.$s exists ($(page $s))" test -f "$(page $s)"
done

# --- rendering ---------------------------------------------------------------
# silent CMD...: CMD's standard error (and output) must be empty
silent() {
	"$@" >"$KMM_TMP/render.out" 2>"$KMM_TMP/render.err"
	_st=$?
	if [ "$_st" -ne 0 ] || [ -s "$KMM_TMP/render.err" ]; then
		echo "exit status $_st"; cat "$KMM_TMP/render.err"; return 1
	fi
}
for s in 1 3 7; do
	p=$(page $s)
	if have groff; then
		ok "kmm.$s: groff -man -ww renders it without a warning" silent groff -man -ww -z "$p"
	else
		skip "kmm.$s: groff -man -ww" "no groff"
	fi
	if have man && man --help 2>/dev/null | grep -q -- '--warnings'; then
		ok "kmm.$s: man --warnings -l renders it without a warning (80 columns)" \
			silent env MANWIDTH=80 man --warnings -E UTF-8 -l "$p"
	else
		skip "kmm.$s: man --warnings -l" "no man-db"
	fi
done

# the tags of a page's .TP paragraphs, one a line, as text: font macros
# (.B, .BR, ...) and escapes gone, the arguments of the alternating ones
# joined (".BR front= slab | tcache" is "front=slab|tcache")
tags() {
	awk 'tp { print; tp = 0; next } /^\.TP/ { tp = 1 }' "$1" | plain | awk '
	/^\.[BIR][BIR]? / || /^\.[BI]$/ {
		m = $1; sub(/^[^ ]+ /, ""); out = ""; sep = (length(m) == 2) ? " " : ""
		# quoted arguments were unquoted by plain: join on spaces only
		# for the alternating macros
		n = split($0, a, " ")
		for (i = 1; i <= n; i++) out = out (i > 1 ? sep : "") a[i]
		print out; next
	}
	{ print }'
}
# roff to plain text, roughly: fonts, \- and quotes gone
plain() { sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\(em/--/g' -e 's/"//g' -e 's/\\c$//'; }

# --- kmm.1: every command of kmm --help ---------------------------------------
# The commands: the words after "kmm" in the usage block of kmm --help (from
# "usage:" to the first empty line); "kmm trace dump|summary|..." gives
# "trace dump", "trace summary", ...; --help and --version are "help" and
# "version"; words in capitals (COMMAND) are placeholders.
p1=$(page 1)
"$KMM_TOOL" --help >"$KMM_TMP/help.out" 2>&1
ok "kmm --help exits 0" test $? -eq 0
awk '/^usage:/ { u = 1 } u && /^[ \t]*$/ { exit } u {
	sub(/^usage:/, ""); sub(/^[ \t]+/, "")
	if ($1 != "kmm") next
	w = $2; sub(/^--/, "", w)
	if (w !~ /^[a-z][a-z-]*$/) next
	if (w == "trace" && $3 ~ /^[a-z]+(\|[a-z]+)+$/) {
		n = split($3, r, "|"); for (i = 1; i <= n; i++) print "trace " r[i]
	} else print w
}' "$KMM_TMP/help.out" | sort -u >"$KMM_TMP/commands"
diag "kmm --help lists: $(tr '\n' ',' <"$KMM_TMP/commands")"
ok "kmm --help lists run, trace, leakcheck, compare, lib, version and help" sh -c "
	for c in run trace leakcheck compare lib version help 'trace summary'; do
		grep -qx \"\$c\" '$KMM_TMP/commands' || { echo \"not listed: \$c\"; exit 1; }
	done"
grep '^\.SS' "$p1" | sed 's/^\.SS *//' | plain >"$KMM_TMP/sections1"
while read -r c; do
	ok "kmm.1 has a section \"kmm $c\"" grep -qx "kmm $c" "$KMM_TMP/sections1"
done <"$KMM_TMP/commands"
for c in EXIT\ STATUS ENVIRONMENT FILES EXAMPLES SEE\ ALSO OPTIONS\|COMMANDS; do
	ok "kmm.1 has a section $c" grep -Eq "^\\.SH \"?($c)\"?\$" "$p1"
done
plain <"$p1" >"$KMM_TMP/kmm1.txt"
for o in --stats-all --report= --options= --profile= --verbose --error-exitcode= --no-symbols --brk-only; do
	ok "kmm.1 describes $o" grep -q -e "$o" "$KMM_TMP/kmm1.txt"
done

# --- kmm.3: every function and parameter of kmm.h -------------------------------
p3=$(page 3)
sed -n 's/^[a-z].*[ *]\(kmm_[a-z0-9_]*\)(.*/\1/p' "$header" | sort -u >"$KMM_TMP/functions"
ok "kmm.h declares at least 20 functions ($(wc -l <"$KMM_TMP/functions"))" \
	test "$(wc -l <"$KMM_TMP/functions")" -ge 20
awk '/^\.SH NAME/ { n = 1; next } /^\.SH/ { n = 0 } n' "$p3" | tr '\n' ' ' >"$KMM_TMP/name3"
plain <"$p3" >"$KMM_TMP/kmm3.txt"
while read -r f; do
	ok "kmm.3 names $f() in NAME and SYNOPSIS" sh -c "
		grep -qw '$f' '$KMM_TMP/name3' || { echo 'not in NAME'; exit 1; }
		grep -q '[ *]$f(' '$KMM_TMP/kmm3.txt' || { echo 'no prototype'; exit 1; }"
done <"$KMM_TMP/functions"
sed -n 's/^#define \(KMM_[A-Z0-9_]*\)[ (].*/\1/p' "$header" | sort -u >"$KMM_TMP/macros"
while read -r m; do
	ok "kmm.3 describes $m" grep -qw "$m" "$KMM_TMP/kmm3.txt"
done <"$KMM_TMP/macros"
for s in 'RETURN VALUE' NOTES EXAMPLES 'SEE ALSO'; do
	ok "kmm.3 has a section $s" grep -Eq "^\\.SH \"?$s\"?\$" "$p3"
done

# --- kmm.7: options, profiles, environment, report sections ---------------------
p7=$(page 7)
opts_c=$KMM_SRCDIR/src/options.c
report_c=$KMM_SRCDIR/src/report.c
tags "$p7" >"$KMM_TMP/tags7"
awk '/option_names\[\] = \{/ { t = 1; next } t && /^\};/ { exit }
	t && match($0, /\{ *"[a-z_]+"/) { s = substr($0, RSTART, RLENGTH); gsub(/[{ "]/, "", s); print s }' \
	"$opts_c" >"$KMM_TMP/options"
ok "src/options.c's option table has at least 30 names ($(wc -l <"$KMM_TMP/options"))" \
	test "$(wc -l <"$KMM_TMP/options")" -ge 30
while read -r o; do
	ok "kmm.7 describes option $o (a tagged paragraph \"$o=\")" \
		grep -Eq "(^|[ ,])$o=" "$KMM_TMP/tags7"
done <"$KMM_TMP/options"
ok "kmm.7 describes option profile" grep -q '^profile=' "$KMM_TMP/tags7"
sed -n 's/^.*\[KMM_PROFILE_[A-Z]*\] = { "\([a-z]*\)".*/\1/p' "$opts_c" >"$KMM_TMP/profiles"
ok "src/options.c has 3 profiles or more" test "$(wc -l <"$KMM_TMP/profiles")" -ge 3
while read -r pr; do
	ok "kmm.7 describes profile $pr" grep -qx "$pr" "$KMM_TMP/tags7"
done <"$KMM_TMP/profiles"
sed -n 's/.*kmm_getenv("\([A-Z_]*\)").*/\1/p' "$opts_c" | sort -u >"$KMM_TMP/env"
awk '/legacy_names\[\] = \{/ { t = 1; next } t && /^\};/ { exit }
	t && match($0, /"[A-Z_]+"/) { print substr($0, RSTART + 1, RLENGTH - 2) }' "$opts_c" >>"$KMM_TMP/env"
while read -r v; do
	ok "kmm.7 describes the variable $v" grep -Eq "(^|[ ,])$v(\$|,)" "$KMM_TMP/tags7"
done <"$KMM_TMP/env"
awk '/^static const struct section sections\[\]/ { t = 1; next } t && /^\};/ { exit }
	t && match($0, /\{ *"[a-z_]+"/) { s = substr($0, RSTART, RLENGTH); gsub(/[{ "]/, "", s); print s }' \
	"$report_c" >"$KMM_TMP/sections"
echo all >>"$KMM_TMP/sections"
ok "src/report.c has 11 report sections or more" test "$(wc -l <"$KMM_TMP/sections")" -ge 11
while read -r r; do
	ok "kmm.7 describes the report section $r" grep -qx "$r" "$KMM_TMP/tags7"
done <"$KMM_TMP/sections"

# --- installed documentation ---------------------------------------------------
if [ -z "${KMM_MANDIR:-}" ] && [ -f "$KMM_SRCDIR/man/local.mk" ]; then
	for d in "$KMM_SRCDIR"/docs/*.md; do
		d=docs/${d##*/}
		ok "man/local.mk installs $d" grep -q "[ 	]$d\\( \\|\$\\)" "$KMM_SRCDIR/man/local.mk"
	done
fi
if [ -n "${KMM_DOCDIR:-}" ]; then
	for d in "$KMM_SRCDIR"/README.md "$KMM_SRCDIR"/docs/*.md; do
		d=${d##*/}
		ok "installed: \$(docdir)/$d" test -s "$KMM_DOCDIR/$d"
	done
	# every DOCDIR/NAME.md that the help texts name is installed
	for c in '' run trace leakcheck; do
		"$KMM_TOOL" ${c:+"$c"} --help 2>&1
	done | grep -o '/[^ ():,;]*/[A-Za-z_-]*\.md' | sort -u >"$KMM_TMP/helpdocs"
	ok "the help texts name installed documents ($(wc -l <"$KMM_TMP/helpdocs"))" \
		test -s "$KMM_TMP/helpdocs"
	while read -r d; do
		ok "kmm --help's $d is installed" test -s "$KMM_DOCDIR/${d##*/}"
	done <"$KMM_TMP/helpdocs"
fi

done_testing
