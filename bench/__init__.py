"""Benchmarks of the in-process runtime, each measured against a target from the issue.

Run them all with ``python -m bench`` or one with ``python -m bench.streaming``.
They are not tests: pytest never collects them.
"""
