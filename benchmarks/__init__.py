"""Benchmarks: `python -m benchmarks` (or `make bench`) runs them and updates docs/benchmarks.md."""
