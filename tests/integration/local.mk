## tests/integration/local.mk — integration tests (real programs under libkmm.so).
