"""Synchronous twins of the SDK's async entry points, with one rule for misuse.

``call_operation_sync`` and ``run_workflow_sync`` start and end their own event loop. Called
where a loop is already running (a notebook, an async web handler), that cannot work: they
raise ``EventLoopError`` naming the entry point and the async twin to await instead, the
same class and wording for every entry point.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .._errors import EventLoopError

__all__ = ["run_sync"]

T = TypeVar("T")


def run_sync(
    start: Callable[[], Coroutine[Any, Any, T]], *, entry_point: str, use: str, about: str = ""
) -> T:
    """Run the coroutine ``start()`` makes on a new event loop and return its result.

    ``start`` is called only when no loop is running, so no coroutine is left un-awaited
    when ``EventLoopError`` is raised. ``about`` names what was asked (``workflow 'x'``).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(start())
    subject = f"{entry_point} ({about})" if about else entry_point
    raise EventLoopError(
        f"{subject} was called inside a running event loop: use `await {use}(...)` there"
        " instead", entry_point=entry_point, use=use)
