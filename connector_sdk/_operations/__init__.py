"""_operations: see docs/architecture.md."""
