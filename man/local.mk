## man/local.mk — the man pages and the installed documentation.
##
## The pages are written by hand in man(7) macros: kmm(1) the kmm command,
## kmm(3) the API of include/kmm.h, kmm(7) the options, profiles,
## environment and reports.  tests/integration/manpages.sh checks that they
## render without warnings and cover every command, function, option and
## report section; `make installcheck` (so `make distcheck`) runs it again
## on the installed pages.  The documentation goes to $(docdir), in one
## directory ($(docdir)/README.md, $(docdir)/options.md, ...): the paths
## that `kmm COMMAND --help` prints (tools/kmm.in, $docdir/options.md).

dist_man_MANS = man/kmm.1 man/kmm.3 man/kmm.7

dist_doc_DATA = README.md \
	docs/api.md docs/design.md docs/hardening.md docs/kernel.md \
	docs/lab.md docs/options.md docs/profiling.md docs/stats.md docs/trace.md \
	docs/valgrind.md

# Run from `make installcheck`, after installcheck-local's own checks.
installcheck-local: installcheck-man installcheck-pkgconfig
installcheck-man:
	@for p in $(dist_man_MANS); do \
	  f='$(DESTDIR)$(mandir)'/man$${p##*.}/$${p##*/}; \
	  test -s "$$f" || { echo "not installed: $$f" >&2; exit 1; }; \
	done
	KMM_LIB='$(DESTDIR)$(libdir)/libkmm.so' KMM_TOOL='$(DESTDIR)$(bindir)/kmm' \
	KMM_SRCDIR='$(abs_top_srcdir)' KMM_MANDIR='$(DESTDIR)$(mandir)' \
	KMM_HEADER='$(DESTDIR)$(includedir)/kmm.h' KMM_DOCDIR='$(DESTDIR)$(docdir)' \
	  $(SHELL) $(top_srcdir)/tests/integration/manpages.sh >installcheck-man.log 2>&1; \
	  st=$$?; grep -E '^(not ok|1\.\.)' installcheck-man.log; \
	  test $$st -eq 0 && ! grep -q '^not ok' installcheck-man.log
# a program built with pkg-config against the installed kmm, run as the
# README says (tests/integration/install.sh)
installcheck-pkgconfig:
	KMM_LIB='$(DESTDIR)$(libdir)/libkmm.so' KMM_SRCDIR='$(abs_top_srcdir)' \
	KMM_PREFIX='$(DESTDIR)$(prefix)' \
	  $(SHELL) $(top_srcdir)/tests/integration/install.sh >installcheck-pkgconfig.log 2>&1; \
	  st=$$?; grep -E '^(not ok|1\.\.|ok .*# SKIP)' installcheck-pkgconfig.log; \
	  test $$st -eq 0 && ! grep -q '^not ok' installcheck-pkgconfig.log
.PHONY: installcheck-man installcheck-pkgconfig
CLEANFILES += installcheck-man.log installcheck-pkgconfig.log
