"""Zhengwu's eval harness and benchmarks: `python -m eval <command>` (see `python -m eval --help`)."""
