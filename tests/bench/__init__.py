"""Benchmarks: scripts that print figures. Never part of the test suite's assertions."""
