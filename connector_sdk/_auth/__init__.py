"""_auth: see docs/architecture.md."""
