"""Operating the streaming job: deploy, savepoint, upgrade, rescale, status."""
