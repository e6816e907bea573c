"""Benchmarks: synthetic data, pytest-benchmark suites and scale scripts (not shipped)."""
