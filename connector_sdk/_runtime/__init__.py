"""_runtime: see docs/architecture.md."""
