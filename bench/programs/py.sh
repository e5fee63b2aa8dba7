#!/bin/sh
# bench/programs/py.sh — program workload `py`: Debian's python3 running
# bench/programs/py.py (object churn) with PYTHONMALLOC=malloc, so that
# Python's own arena allocator does not hide the malloc under test.
# Protocol: bench/programs/common.sh.
. "$(dirname "$0")/common.sh"

python=$(find_prog python3 python3-minimal) || { echo "$python"; exit 77; }

case $mode in
check|prepare) exit 0 ;;
esac

fresh_rundir
unset PYTHONPATH PYTHONHOME PYTHONSTARTUP PYTHONDEVMODE PYTHONTRACEMALLOC PYTHONMALLOCSTATS
# -S: no site module (no user or site packages); PYTHONHASHSEED fixes
# the string hashes, so set and dict orders are the same in every run.
PYTHONMALLOC=malloc PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 \
	preloaded "$python" -S "$here/py.py" "$scale" >"$rundir/out"
checksum "$rundir/out"
rm -rf "$rundir"
