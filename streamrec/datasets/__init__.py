"""Real public interaction logs the model is measured on (see docs/quality.md)."""
