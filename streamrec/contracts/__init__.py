"""Frozen dataclasses exchanged at streamrec's boundaries (Kafka topics, files)."""
