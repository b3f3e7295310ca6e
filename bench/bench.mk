# Benchmarks (issue 7): make bench.
