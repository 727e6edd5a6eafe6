"""The bounds every workflow is checked against and run within, whatever runs it.

The checks refuse a workflow file over these bounds, and every executor applies them again
to values known only at run time (a foreach list from an earlier step's output), so a run
never starts work it would have to abandon half-way.
"""

from __future__ import annotations

__all__ = ["DEFAULT_CONCURRENCY", "MAX_CONCURRENCY", "MAX_FOREACH_ITEMS"]

#: A foreach list longer than this is refused before any of its requests is made.
MAX_FOREACH_ITEMS = 100_000
#: Items of one foreach step in flight at once, at most and by default.
MAX_CONCURRENCY = 100
DEFAULT_CONCURRENCY = 10
