# tests/stress/hostile.mk: filled in by its area.
