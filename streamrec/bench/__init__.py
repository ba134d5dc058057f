"""Benchmarks of streamrec design choices (run as modules, not imported by the jobs)."""
