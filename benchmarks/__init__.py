"""Benchmarks of minidfs: one script per benchmark, each printing JSON and a table."""
