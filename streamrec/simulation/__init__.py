"""Simulated users who read the job's recommendations and respond to them (closed loop)."""
