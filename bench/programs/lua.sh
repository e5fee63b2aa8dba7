#!/bin/sh
# bench/programs/lua.sh — program workload `lua`: Debian's lua5.4 running
# bench/programs/lua.lua (table and string churn).  Skipped if lua5.4 is
# not installed.  Protocol: bench/programs/common.sh.
. "$(dirname "$0")/common.sh"

lua=$(find_prog lua5.4 lua5.4) || { echo "$lua"; exit 77; }

case $mode in
check|prepare) exit 0 ;;
esac

fresh_rundir
unset LUA_INIT LUA_INIT_5_4 LUA_PATH LUA_PATH_5_4 LUA_CPATH LUA_CPATH_5_4
preloaded "$lua" "$here/lua.lua" "$scale" >"$rundir/out"
checksum "$rundir/out"
rm -rf "$rundir"
