"""Static analysis of URL templates and host rules: the half of the network policy that needs
no HTTP client.

The manifest validator imports this module (so it must stay free of ``httpx`` and fast to
import); ``_urls.render_url`` builds on it at run time. Nothing here touches the network.

Where a placeholder sits decides what its value may contain, so the first job is finding the
position: every placeholder is replaced by a sentinel made of lower-case letters and digits
(valid in every URL part) and the result is split with ``urllib.parse``. ``{{shop}}`` in
``https://{{shop}}.myshopify.com/x`` is in the ``host``; in ``/admin/api/{{version}}/`` it is
in the ``path``.

Rule ids that ``static_url_problems`` reports (stable; tests and users rely on them):

``URL-SYNTAX``
    The template does not split into a URL, has a malformed literal port or a non-ASCII
    literal host, or its literal text holds whitespace, control characters or a backslash.
``URL-NOT-ABSOLUTE``
    No scheme or no host: every URL the SDK sends to must be absolute.
``URL-NOT-HTTPS``
    The scheme is not ``https``. ``http`` is accepted only when the literal host is a loopback
    address (127.0.0.0/8, ::1, ``localhost``), which is for tests and local sandboxes.
``URL-PLACEHOLDER-POSITION``
    A placeholder sits in the scheme, the userinfo or the port. Values may only fill the host,
    the path, the query or the fragment, where ``_urls.render_url`` checks or encodes them.
``URL-USERINFO``
    The template writes ``user:password@``: credentials never go in a URL.
``URL-HOST-NOT-ALLOWED``
    Only when ``allowed_hosts`` is given: a fully literal host that no entry allows.

Host rules live in ``hosts.py`` (re-exported here for the network policy, which renders URLs
with both) and whether a parameter's schema keeps a value host-safe in ``host_values.py``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from .hosts import SAFE_HOST_VALUE, host_allowed, host_pattern_problems, is_loopback_host
from .templates import Template

__all__ = [
    "SAFE_HOST_VALUE",
    "URL_PARTS",
    "UrlLayout",
    "UrlPart",
    "host_allowed",
    "host_pattern_problems",
    "is_loopback_host",
    "placeholder_positions",
    "static_url_problems",
    "url_layout",
]

UrlPart = Literal["scheme", "userinfo", "host", "port", "path", "query", "fragment"]
URL_PARTS: tuple[UrlPart, ...] = (
    "scheme", "userinfo", "host", "port", "path", "query", "fragment",
)


_FORBIDDEN_LITERAL = re.compile(r"[\x00-\x20\x7f-\x9f\\]")
_DEFAULT_SENTINEL = "zqph"


@dataclass(frozen=True, slots=True)
class UrlLayout:
    """A URL template split into parts, placeholders replaced by sentinels.

    ``parts`` gives, for each placeholder occurrence in template order, the URL part it sits
    in. ``error`` is set (and the other fields are best effort) when the template does not
    split into a URL. ``path_prefix`` is the literal path before the first placeholder in the
    path (the whole path when none is there): a rendered URL's path must start with it.
    """

    scheme: str
    userinfo: str | None
    host: str
    port: str | None
    path: str
    query: str
    fragment: str
    parts: tuple[UrlPart, ...]
    sentinels: tuple[str, ...]
    error: str | None = None

    @property
    def literal_port(self) -> int | None:
        """The template's literal port as a number, ``None`` when absent or not a number."""
        if self.port is None or not self.port.isascii() or not self.port.isdigit():
            return None
        return int(self.port)

    @property
    def host_is_literal(self) -> bool:
        return not any(s in self.host for s in self.sentinels)

    @property
    def path_prefix(self) -> str:
        cut = min((i for i in (self.path.find(s) for s in self.sentinels) if i >= 0),
                  default=len(self.path))
        return self.path[:cut]


def url_layout(template: Template) -> UrlLayout:
    """Split ``template`` into URL parts (cached: templates are immutable)."""
    return _layout(template)


@functools.lru_cache(maxsize=512)
def _layout(template: Template) -> UrlLayout:
    base = _DEFAULT_SENTINEL
    while base in template.source:
        base += "q"
    sentinels = tuple(f"{base}{i}x" for i in range(len(template.placeholders)))
    text_parts: list[str] = []
    index = 0
    for part in template.parts:
        if isinstance(part, str):
            text_parts.append(part)
        else:
            text_parts.append(sentinels[index])
            index += 1
    text = "".join(text_parts)
    error: str | None = None
    try:
        split = urlsplit(text)
        scheme, netloc, path, query, fragment = split
    except ValueError as exc:
        error = str(exc)
        scheme, netloc, path, query, fragment = "", "", text, "", ""
    userinfo: str | None = None
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
    else:
        hostport = netloc
    host, port = _split_hostport(hostport)
    pieces: dict[UrlPart, str] = {
        "scheme": scheme, "userinfo": userinfo or "", "host": host, "port": port or "",
        "path": path, "query": query, "fragment": fragment,
    }
    where: list[UrlPart] = []
    for sentinel in sentinels:
        found = [name for name in URL_PARTS if sentinel in pieces[name]]
        where.append(found[0] if found else "path")
    return UrlLayout(
        scheme=scheme.lower(), userinfo=userinfo, host=host, port=port, path=path,
        query=query, fragment=fragment, parts=tuple(where), sentinels=sentinels, error=error,
    )


def _split_hostport(hostport: str) -> tuple[str, str | None]:
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            return hostport, None
        rest = hostport[end + 1:]
        return hostport[: end + 1], (rest[1:] if rest.startswith(":") else None)
    host, colon, port = hostport.partition(":")
    return host, (port if colon else None)


def placeholder_positions(template: Template) -> dict[str, set[UrlPart]]:
    """Map each placeholder name to the URL parts it appears in (a name may repeat)."""
    layout = url_layout(template)
    out: dict[str, set[UrlPart]] = {}
    for placeholder, part in zip(template.placeholders, layout.parts, strict=True):
        out.setdefault(placeholder.name, set()).add(part)
    return out


def static_url_problems(
    template: Template, *, allowed_hosts: Sequence[str] | None = None
) -> list[tuple[str, str]]:
    """``(rule id, message)`` for each thing wrong with a URL template (see module docstring).

    An empty list means ``render_url`` can work with the template; whether a value fits is
    decided at run time. With ``allowed_hosts``, a fully literal host is also checked against
    the entries (templated hosts are checked when rendered).
    """
    problems: list[tuple[str, str]] = []
    for part in template.parts:
        if isinstance(part, str) and _FORBIDDEN_LITERAL.search(part):
            problems.append(("URL-SYNTAX", "the URL's literal text contains whitespace, a "
                             "control character or a backslash; write a plain URL"))
            break
    layout = url_layout(template)
    if layout.error is not None:
        problems.append(("URL-SYNTAX", f"the URL cannot be parsed ({layout.error}); write an "
                         "absolute URL such as https://api.example.com/v1"))
        return problems
    names = template.names
    misplaced = sorted({
        f"'{names[i]}' in the {part}" for i, part in enumerate(layout.parts)
        if part in ("scheme", "userinfo", "port")
    })
    if misplaced:
        problems.append(("URL-PLACEHOLDER-POSITION", "placeholders may fill only the host, "
                         f"path, query or fragment; found {', '.join(misplaced)}: write that "
                         "part literally"))
    if not layout.scheme or not layout.host:
        problems.append(("URL-NOT-ABSOLUTE", "the URL must be absolute, with scheme and host, "
                         "such as https://{{shop}}.myshopify.com/admin/oauth/access_token"))
        return problems
    if layout.userinfo is not None and "userinfo" not in layout.parts:
        problems.append(("URL-USERINFO", "the URL contains 'user:password@'; send "
                             "credentials in headers or the body, never in the URL"))
    if "scheme" not in layout.parts and layout.scheme != "https":
        loopback = layout.host_is_literal and is_loopback_host(layout.host)
        if not (layout.scheme == "http" and loopback):
            problems.append(("URL-NOT-HTTPS", f"the scheme is '{layout.scheme}'; use https "
                             "(http is accepted only for a literal loopback host such as "
                             "127.0.0.1, for tests)"))
    if not layout.host.isascii():
        problems.append(("URL-SYNTAX", "the URL's host is not ASCII; write its punycode "
                         "form (xn--...)"))
    if layout.port is not None and "port" not in layout.parts:
        port = layout.literal_port
        if port is None or not 0 < port < 65536:
            problems.append(("URL-SYNTAX", "the URL's port is not a number from 1 to 65535"))
    literal_host = layout.host if layout.host_is_literal else None
    if allowed_hosts is not None and literal_host and not host_allowed(literal_host,
                                                                       allowed_hosts):
        problems.append(("URL-HOST-NOT-ALLOWED", f"the host '{literal_host}' is not in "
                         f"allowed_hosts ({', '.join(allowed_hosts) or 'empty'}); add it "
                         "there or fix the URL"))
    return problems
