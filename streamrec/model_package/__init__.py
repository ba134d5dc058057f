"""The model package format: what a trained model is on the wire and how the serving side
reads it (container, manifest, limits, architectures built from specs, signed references
and their fetch). Training lives in model_registry; nothing here imports it or scoring."""
