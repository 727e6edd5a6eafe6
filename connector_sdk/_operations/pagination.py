"""Walking an operation's pages lazily, one item at a time, within page and item limits.

An operation's ``pagination`` block (``PaginationSpec``) says where a page's items sit
(``items``) and how the next page is found: ``cursor`` style reads a cursor from the body
(Twitch's ``pagination.cursor``) and sends it back as a query parameter (``after``); ``link``
style follows the ``Link`` header's ``rel="next"`` URL verbatim (Shopify REST's
``page_info``). This module holds the pure pieces (reading items, cursors and links) and the
loop; the operation runner supplies how a request is sent and how the next one is built, and
checks every ``Link`` URL against the network policy before it is requested.

The loop is an async generator: the next page is fetched only when the consumer has taken
every item of the current one, and no page is kept after its items are handed out, so a
listing of any length is held at most once (by a caller that collects it) and a streaming
consumer's memory stays flat.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .._http.seam import httpx
from .._manifest.model import PaginationSpec

__all__ = [
    "PageLimits",
    "PaginationError",
    "dig",
    "iterate_items",
    "nest",
    "next_cursor",
    "next_link",
    "page_items",
]


@dataclass(frozen=True)
class PageLimits:
    """Bounds on a paginated call: stop after ``max_pages`` pages or ``max_items`` items.

    None means no bound. A page is not requested once ``max_items`` items were handed out.
    """

    max_pages: int | None = None
    max_items: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_pages", "max_items"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None")


class PaginationError(ValueError):
    """A page body does not have the shape the operation's pagination block declares."""


def dig(body: Any, path: Sequence[str]) -> Any:
    """The value at dotted ``path`` in ``body`` (list indices as digits), or None."""
    value = body
    for part in path:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def nest(path: Sequence[str], value: Any) -> dict[str, Any]:
    """``("data",), [..]`` -> ``{"data": [..]}``; deeper paths nest mappings."""
    result: Any = value
    for part in reversed(path):
        result = {part: result}
    return result  # type: ignore[no-any-return]


def page_items(body: Any, spec: PaginationSpec) -> list[Any]:
    """The list of items of one page; ``PaginationError`` when it is not a list.

    A page without the key at all (or with null) counts as an empty page: some APIs omit an
    empty list.
    """
    items = dig(body, spec.items_path)
    if items is None:
        return []
    if not isinstance(items, list):
        raise PaginationError(
            f"the page's '{'.'.join(spec.items_path)}' is a {type(items).__name__}, not a list")
    return items


def next_cursor(body: Any, spec: PaginationSpec) -> str | None:
    """The cursor of the next page (a non-empty string at ``cursor``), else None.

    Twitch ends a listing with ``"pagination": {}``; an empty or non-string cursor ends it too.
    """
    cursor = dig(body, spec.cursor_path) if spec.cursor_path else None
    return cursor if isinstance(cursor, str) and cursor else None


def next_link(response: httpx.Response) -> str | None:
    """The ``Link`` header's ``rel="next"`` URL, verbatim, or None."""
    if "link" not in response.headers:
        return None
    link = response.links.get("next")
    url = link.get("url") if link else None
    return url or None


Fetch = Callable[[httpx.Request], Awaitable[tuple[httpx.Response, Any]]]
NextRequest = Callable[[httpx.Request, httpx.Response, Any], httpx.Request | None]


async def iterate_items(
    first: httpx.Request,
    spec: PaginationSpec,
    fetch: Fetch,
    next_request: NextRequest,
    limits: PageLimits,
) -> AsyncIterator[Any]:
    """Items of every page from ``first`` on, fetching each page only when needed.

    ``fetch`` sends a request and returns the response with its decoded body (rate limits
    and HTTP errors are its business); ``next_request(previous, response, body)`` builds the
    next page's request or returns None at the end. Stops at an empty page, at the limits,
    or when there is no next request. Raises ``PaginationError`` for a malformed page.
    """
    request: httpx.Request | None = first
    pages = items_out = 0
    while request is not None:
        response, body = await fetch(request)
        pages += 1
        items = page_items(body, spec)
        for item in items:
            if limits.max_items is not None and items_out >= limits.max_items:
                return
            items_out += 1
            yield item
        if not items:
            return
        if limits.max_items is not None and items_out >= limits.max_items:
            return
        if limits.max_pages is not None and pages >= limits.max_pages:
            return
        request = next_request(request, response, body)
