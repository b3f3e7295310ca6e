# tests/stress/storm.mk: filled in by its area.
