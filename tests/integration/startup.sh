#!/bin/sh
# startup.sh — kmm works before its own constructor has run: a dependency's
# constructor (tests/progs/early.c) calls dlsym/dlerror (which allocate),
# malloc/calloc/realloc/free, starts a thread and forks, all before libkmm's
# constructor; and the dynamic loader's own allocations (dlopen) go through
# kmm.  No recursion, no deadlock (every run is under `timeout`).
. "$KMM_SRCDIR/tests/tap.sh"
. "$KMM_SRCDIR/tests/integration/common.sh"

plan 8

EP=$KMM_PROGS/earlyprobe
kmm_run "$KMM_TMP/early.stats" "$EP" >"$KMM_TMP/early.out" 2>"$KMM_TMP/early.err"
rc=$?
is "$rc" 0 "earlyprobe under kmm exits 0 (no deadlock, no crash)"
val() { sed -n "s/^$1 //p" "$KMM_TMP/early.out"; }
is "$(val kmm)" yes "earlyprobe under kmm: libkmm.so is loaded"
is "$(val dlerror)" 1 "dlsym/dlerror before kmm's constructor: the error message came back"
is "$(val alloc)" 1 "malloc/calloc/realloc before kmm's constructor"
is "$(val thread)" 1 "a thread allocating before kmm's constructor"
is "$(val fork)" 1 "fork before kmm's constructor: the child allocated and exited 0"
is "$(val dlopen)" 1 "dlopen/dlsym/dlclose of libm through kmm's malloc"
is "$(val check)" 0 "kmm_check() finds the heap consistent afterwards"
