"""Scoring stages shared by offline evaluation and the streaming job."""
