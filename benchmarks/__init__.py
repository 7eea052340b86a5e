"""Benchmarks for asyncreview: corpus fetching and measurement helpers."""
