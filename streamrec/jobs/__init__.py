"""Flink job entry points: thin scripts that build a pipeline from a config."""
