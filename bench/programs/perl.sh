#!/bin/sh
# bench/programs/perl.sh — program workload `perl`: Debian's perl running
# bench/programs/perl.pl (hash and string churn).  Perl calls malloc for
# its strings, arrays and hashes (Debian builds it with the system
# malloc).  Protocol: bench/programs/common.sh.
. "$(dirname "$0")/common.sh"

perl=$(find_prog perl perl-base) || { echo "$perl"; exit 77; }

case $mode in
check|prepare) exit 0 ;;
esac

fresh_rundir
unset PERL5LIB PERLLIB PERL5OPT PERL_UNICODE
# fixed hash seed and key order: the same work in every run
PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0 \
	preloaded "$perl" "$here/perl.pl" "$scale" >"$rundir/out"
checksum "$rundir/out"
rm -rf "$rundir"
