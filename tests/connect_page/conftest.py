"""The connect page served for real (``harness.py``): the ``serve`` fixture."""

from __future__ import annotations

from .harness import serve

__all__ = ["serve"]
