/*
 * observe.h — the observed mode (observe.c): what watches every
 * malloc-family call, above the heap.
 *
 * Who turns it on, each with one KMM_OBSERVE_* bit (heap/params.h):
 *
 *   the trace log      KMM_TRACE=FILE          init.c, at start-up
 *   the debug options  poison, init_on_alloc,  heap/params.c, whenever they
 *                      init_on_free            are set (options, mallopt)
 *   the leak scanner   KMM_LEAKCHECK=1         leakcheck.c, at start-up
 *   memcheck           running under valgrind  init.c, at start-up (vg.h)
 *   hardening          redzone, quarantine     heap/params.c, when set
 *                                              (harden.h; profile=hardened)
 *
 * The table is installed first thing at start-up, so that whatever turns
 * a bit on finds it in place; the heap calls it while any bit is set.
 */
#ifndef KMM_OBSERVE_H
#define KMM_OBSERVE_H

/* Hand the heap the observed calls (kmm_heap_set_observer).  From kmm's
 * initialisation, before the options are read. */
void kmm_observe_install(void);

/* Observe from now on for `bits` (KMM_OBSERVE_*; 0: whatever the options
 * set): every call of this thread, and of threads set up later, takes the
 * observed path. */
void kmm_observe_start(unsigned bits);

#endif /* KMM_OBSERVE_H */
