"""_stores: see docs/architecture.md."""
