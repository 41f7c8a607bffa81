"""Benchmarks. `python -m bench` runs them all; `python -m bench.<name>` runs one. Each compares
side by side in the same run and prints a table; results are recorded in docs/benchmarks.md."""
