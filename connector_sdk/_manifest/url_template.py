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

Host rules: ``host_pattern_problems`` checks an ``allowed_hosts`` entry, ``host_allowed``
matches a host against the entries (``*.myshopify.com`` admits exactly one DNS label before
``.myshopify.com``), ``SAFE_HOST_VALUE`` is what a value in a host position must fully match,
and ``value_pattern_is_host_safe`` decides whether a parameter's JSON Schema guarantees that.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

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
    "value_pattern_is_host_safe",
]

UrlPart = Literal["scheme", "userinfo", "host", "port", "path", "query", "fragment"]
URL_PARTS: tuple[UrlPart, ...] = (
    "scheme", "userinfo", "host", "port", "path", "query", "fragment",
)

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"

#: A value that may stand in a host position: ASCII letter-digit-hyphen labels of 1 to 63
#: characters, no leading or trailing hyphen, joined by single dots, no trailing dot, at most
#: 253 characters. Use it with ``fullmatch``. Explicit ASCII classes (no IGNORECASE) so that
#: look-alikes such as the Kelvin sign never match.
SAFE_HOST_VALUE = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})*")

_LABEL_RE = re.compile(_LABEL)
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


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, an IPv4 address in 127.0.0.0/8 and ``::1`` (brackets allowed).

    Only canonical spellings count: ``127.1``, ``0x7f.0.0.1`` or ``localhost.`` are not
    loopback here (resolvers disagree about them, so the SDK does not guess).
    """
    text = host.lower()
    if text == "localhost":
        return True
    ip = _ip_literal(text)
    return ip is not None and ip.is_loopback


@functools.lru_cache(maxsize=1024)
def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if "%" in text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@functools.lru_cache(maxsize=1024)
def host_pattern_problems(pattern: str) -> str | None:
    """Why an ``allowed_hosts`` entry is invalid, or ``None`` when it is fine.

    Accepted: a DNS name (``api.twitch.tv``), ``*.`` followed by a name of at least two labels
    (``*.myshopify.com``), or an IP address (``127.0.0.1``, ``::1``). Case does not matter.
    Refused: ``*`` alone, one-label suffixes (``*.com``), a wildcard anywhere but as the whole
    leftmost label, schemes, ports, paths, trailing dots and non-ASCII names (write punycode).
    Multi-label public suffixes (``*.co.uk``) are not detected: there is no public suffix
    list here.
    """
    if not pattern:
        return "an allowed host is empty; write a host name such as api.example.com"
    if _ip_literal(pattern) is not None:
        return None
    if any(c in pattern for c in "/:@?#\\%") or any(c.isspace() for c in pattern):
        return (f"'{pattern}' must be a bare host name such as api.example.com, without "
                "scheme, port, path or user")
    if not pattern.isascii():
        return f"'{pattern}' is not ASCII; write the punycode form (xn--...)"
    if pattern.endswith("."):
        return f"'{pattern}' ends with a dot; remove it"
    name = pattern
    if pattern.startswith("*."):
        name = pattern[2:]
        if "." not in name:
            return (f"'{pattern}' would allow a whole top-level domain; name the site, "
                    "such as *.myshopify.com")
    elif pattern == "*":
        return "'*' would allow every host; list the hosts, such as *.myshopify.com"
    if "*" in name:
        return (f"'{pattern}': a wildcard may only be the whole leftmost label, as in "
                "*.myshopify.com")
    if len(name) > 253 or not all(_LABEL_RE.fullmatch(label) for label in name.split(".")):
        return (f"'{pattern}' is not a valid host name: labels of 1-63 letters, digits and "
                "hyphens, separated by dots")
    if name.rsplit(".", 1)[-1].isdigit():
        return f"'{pattern}' looks like a partial IP address; write a full address or a name"
    return None


def host_allowed(host: str, allowed_hosts: Iterable[str]) -> bool:
    """Whether ``host`` matches an entry: exactly, or ``*.suffix`` with one label before it.

    Case-insensitive; no trailing-dot folding; a wildcard never matches an IP literal; an
    entry that ``host_pattern_problems`` refuses never matches anything.
    """
    host = host.lower()
    ip = _ip_literal(host)
    for entry in allowed_hosts:
        if host_pattern_problems(entry) is not None:
            continue
        entry = entry.lower()
        entry_ip = _ip_literal(entry)
        if ip is not None or entry_ip is not None:
            if ip is not None and entry_ip is not None and ip == entry_ip:
                return True
            continue
        if entry.startswith("*."):
            suffix = entry[1:]
            label = host[: -len(suffix)]
            if host.endswith(suffix) and _LABEL_RE.fullmatch(label):
                return True
        elif host == entry:
            return True
    return False


# --- parameter schemas -----------------------------------------------------------------

_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
_CLASS_CHARS = _HOST_CHARS | {"."}
_QUANTIFIER = re.compile(r"\{\d+(?:,\d*)?\}")
_RANGES = (("a", "z"), ("A", "Z"), ("0", "9"))

_PROBE_BASES = ("a", "abc", "my-store", "my-store.myshopify.com", "x.example.com", "127.0.0.1")
_PROBE_CHARS = (
    "/", "@", ":", "?", "#", "\\", "%", "%2F", " ", "\t", "\r", "\n", "\x00", "\x0b", "_",
    "\u0430", "\uff0e", "\u3002", "\u200d", "\u202e", "\u00e9", "\u212a", "\u017f", "\u0661",
    "\u00a0",
)


@functools.cache
def _probes() -> tuple[str, ...]:
    probes: list[str] = [
        "evil.com/", "evil.com/.myshopify.com", "evil.com?.myshopify.com",
        "evil.com#.myshopify.com", "a@my-store.myshopify.com", "my-store.myshopify.com:443",
        "https://my-store.myshopify.com/admin", "[::1]", "my-store.myshopify.com\n",
    ]
    for base in _PROBE_BASES:
        for char in _PROBE_CHARS:
            probes += [char + base, base + char, base[:1] + char + base[1:],
                       base + char + "evil.com", base.replace(".", char)]
    return tuple(p for p in probes if not set(p) <= _CLASS_CHARS)


def value_pattern_is_host_safe(
    prop: Mapping[str, Any], *, hostname_format_checked: bool = False
) -> bool:
    """Whether a parameter's JSON Schema guarantees values that cannot break out of a host.

    "Host-safe" means every admitted string uses only ASCII letters, digits, hyphens and dots:
    no ``/ @ : ? # \\ %``, whitespace, control or non-ASCII character can get through. Label
    structure (empty labels, trailing dot) is left to ``render_url``, which still checks every
    value against ``SAFE_HOST_VALUE``: this function is the validator's early warning, not the
    guard.

    Accepted evidence (any one is enough, all constraints of a schema hold together):

    * ``const``, or ``enum`` of strings that each fully match ``SAFE_HOST_VALUE``;
    * a ``pattern`` that passes a conservative syntactic whitelist *and* rejects a battery of
      hostile probes. The whitelist: the pattern is ``^...$``; ``|`` only inside groups (so
      ``^a|b$`` is refused); literals are ASCII letters, digits, ``-``, ``\\.`` and ``\\-``;
      classes ``[...]`` hold only those characters, ``.`` and ranges inside ``a-z``, ``A-Z``
      or ``0-9`` (no ``[^``); groups ``(...)``/``(?:...)``; quantifiers ``* + ? {m,n}``.
      Everything else is refused, including unescaped ``.``, ``\\d``/``\\w``/``\\S`` (Unicode
      classes in Python), inline flags (``(?i)`` makes ``k`` match the Kelvin sign) and other
      escapes. Refusing a safe pattern only costs the author a warning; admitting an unsafe
      one is what must not happen.
    * ``format: hostname`` only when ``hostname_format_checked`` is true: jsonschema checks
      that format only with the optional ``fqdn`` package, so by default it proves nothing.

    ``allOf`` is safe when one branch is; ``anyOf``/``oneOf`` when every branch is.
    """
    if "const" in prop and _safe_literal(prop["const"]):
        return True
    enum = prop.get("enum")
    if isinstance(enum, list) and enum and all(_safe_literal(v) for v in enum):
        return True
    pattern = prop.get("pattern")
    if isinstance(pattern, str) and _pattern_is_host_safe(pattern):
        return True
    if hostname_format_checked and prop.get("format") == "hostname":
        return True
    all_of = prop.get("allOf")
    if isinstance(all_of, list) and any(
        isinstance(s, Mapping)
        and value_pattern_is_host_safe(s, hostname_format_checked=hostname_format_checked)
        for s in all_of
    ):
        return True
    for key in ("anyOf", "oneOf"):
        branches = prop.get(key)
        if isinstance(branches, list) and branches and all(
            isinstance(s, Mapping)
            and value_pattern_is_host_safe(s, hostname_format_checked=hostname_format_checked)
            for s in branches
        ):
            return True
    return False


def _safe_literal(value: Any) -> bool:
    return isinstance(value, str) and SAFE_HOST_VALUE.fullmatch(value) is not None


@functools.lru_cache(maxsize=256)
def _pattern_is_host_safe(pattern: str) -> bool:
    if not _pattern_syntax_is_host_safe(pattern):
        return False
    try:
        compiled = re.compile(pattern)
    except re.error:
        return False
    return not any(compiled.fullmatch(probe) for probe in _probes())


def _pattern_syntax_is_host_safe(pattern: str) -> bool:
    if len(pattern) < 2 or pattern[0] != "^" or pattern[-1] != "$" or pattern.endswith("\\$"):
        return False
    body = pattern[1:-1]
    depth = 0
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            if body[i + 1: i + 2] not in (".", "-"):
                return False
            i += 2
        elif char == "[":
            end = _class_end(body, i)
            if end < 0:
                return False
            i = end + 1
        elif char == "(":
            if body.startswith("(?:", i):
                i += 3
            elif body.startswith("(?", i):
                return False
            else:
                i += 1
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return False
            i += 1
        elif char == "|":
            if depth == 0:
                return False
            i += 1
        elif char in "*+?":
            i += 1
        elif char == "{":
            match = _QUANTIFIER.match(body, i)
            if match is None:
                return False
            i = match.end()
        elif char in _HOST_CHARS:
            i += 1
        else:
            return False
    return depth == 0


def _class_end(body: str, start: int) -> int:
    """Index of the ``]`` closing the class at ``start``, or -1 if the class is not safe."""
    i = start + 1
    if body[i: i + 1] in ("^", "]", ""):
        return -1
    while i < len(body):
        char = body[i]
        if char == "]":
            return i
        if char == "[":
            return -1
        if char == "\\":
            char = body[i + 1: i + 2]
            if char not in (".", "-"):
                return -1
            i += 2
        else:
            i += 1
        if char not in _CLASS_CHARS:
            return -1
        if body[i: i + 1] == "-" and body[i + 1: i + 2] not in ("]", ""):
            high = body[i + 1]
            if not any(lo <= char <= high <= hi for lo, hi in _RANGES):
                return -1
            i += 2
    return -1
