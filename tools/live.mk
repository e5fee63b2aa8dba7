## tools/live.mk — kmm-live, the reader of the live view's segments
## (/dev/shm/kmm.PID, KMM_LIVE=1): `kmm cat` and `kmm top` run it.

# C11 and libc only.  The layout is src/live_format.h, shared with the
# writer (src/live.c), the one header of kmm's it includes (listed in its
# sources so that make dist packs it).
bin_PROGRAMS += tools/kmm-live
tools_kmm_live_SOURCES = tools/live/kmm-live.c src/live_format.h
tools_kmm_live_CPPFLAGS = -I$(top_srcdir)/src -D_GNU_SOURCE
tools_kmm_live_CFLAGS = -Wall -Wextra -O2
