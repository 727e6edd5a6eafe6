"""_workflows: see docs/architecture.md."""
