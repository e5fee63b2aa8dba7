## tools/trace.mk — kmm-trace, the reader of the allocation trace log
## (docs/trace.md), and its tests.
