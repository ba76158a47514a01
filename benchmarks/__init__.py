"""Benchmarks: `python -m benchmarks` runs every module's `main()` and updates docs/benchmarks.md."""
