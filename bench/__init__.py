"""Measurements of the adapter against a per-event baseline: `python -m bench`, see BENCHMARKS.md.

Only the quick mode runs in the test suite (`tests/bench/`); full runs are
done by hand on a quiet machine, since their times depend on its load.
"""
