# KMM_CHECK_CFLAGS(VARIABLE, FLAGS)
# Append to VARIABLE each flag in FLAGS that the C compiler accepts
# (with -Werror, so a flag that only warns is left out).
AC_DEFUN([KMM_CHECK_CFLAGS], [
  AC_LANG_PUSH([C])
  for kmm_flag in $2; do
    AC_MSG_CHECKING([whether $CC accepts $kmm_flag])
    kmm_saved_cflags=$CFLAGS
    CFLAGS="$CFLAGS -Werror $kmm_flag"
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
      [AC_MSG_RESULT([yes]); $1="$$1 $kmm_flag"],
      [AC_MSG_RESULT([no])])
    CFLAGS=$kmm_saved_cflags
  done
  AC_LANG_POP([C])
])
