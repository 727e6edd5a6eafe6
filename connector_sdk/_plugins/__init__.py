"""_plugins: see docs/architecture.md."""
