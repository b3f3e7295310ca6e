# tests/fuzz/fuzz.mk: filled in by its area.
