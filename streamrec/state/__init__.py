"""Keyed user state: schemas and the pure functions that fold events into it."""
