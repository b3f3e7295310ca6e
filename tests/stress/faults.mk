# tests/stress/faults.mk: filled in by its area.
