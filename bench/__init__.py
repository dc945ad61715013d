"""Benchmarks: every module bench/*_bench.py has main(); each figure prints as
`BENCH <metric> <value> <unit>`."""
