"""Helpers the consent tests share: authorization URLs and callback queries."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = ["CALLBACK", "authorization_url", "callback_query"]

CALLBACK = "http://127.0.0.1:8765/oauth2/callback"


def authorization_url(base: str, **params: str) -> str:
    return f"{base}?{urlencode(params)}"


def callback_query(url: str, *, expect: str = CALLBACK) -> dict[str, str]:
    """The query of a callback URL (one value each), after checking where it points."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == expect, url
    query = parse_qs(parts.query, keep_blank_values=True)
    assert all(len(v) == 1 for v in query.values()), query
    return {k: v[0] for k, v in query.items()}
