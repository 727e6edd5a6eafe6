"""Host rules: which hosts a manifest may name, and which values may stand in a host.

``host_pattern_problems`` checks an ``allowed_hosts`` entry, ``host_allowed`` matches a host
against the entries (``*.myshopify.com`` admits exactly one DNS label before
``.myshopify.com``), ``SAFE_HOST_VALUE`` is what a value in a host position must fully match
and ``is_loopback_host`` says which literal hosts may be reached over plain http. Pure
functions: nothing here touches the network, and the validator imports it without httpx.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable

__all__ = ["SAFE_HOST_VALUE", "host_allowed", "host_pattern_problems", "is_loopback_host"]

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"

#: A value that may stand in a host position: ASCII letter-digit-hyphen labels of 1 to 63
#: characters, no leading or trailing hyphen, joined by single dots, no trailing dot, at most
#: 253 characters. Use it with ``fullmatch``. Explicit ASCII classes (no IGNORECASE) so that
#: look-alikes such as the Kelvin sign never match.
SAFE_HOST_VALUE = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})*")

_LABEL_RE = re.compile(_LABEL)


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
