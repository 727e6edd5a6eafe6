"""_manifest: see docs/architecture.md."""
