"""Which proxy each request goes through: ``HttpSettings.proxy`` or the environment.

httpx reads ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``/``NO_PROXY`` only when it builds its
own transport; the sync clients the SDK builds pass a transport (``DeadlineTransport``), so
httpx would silently send them direct. Every client the SDK builds (token, API, revocation,
sync and async, in every process) therefore takes its routes from here and passes them as
httpx ``mounts``, with httpx's own environment reading turned off: one rule for all paths.

Rules, which callers may rely on:

- ``HttpSettings.proxy`` set: every request goes through it, except hosts in
  ``HttpSettings.no_proxy``; the environment is not read.
- otherwise, with ``HttpSettings.trust_env`` (the default): ``HTTPS_PROXY`` for https,
  ``HTTP_PROXY`` for http, ``ALL_PROXY`` for both (lower-case names win, as curl and
  ``urllib`` do), except hosts in ``NO_PROXY`` (or ``HttpSettings.no_proxy`` when given).
- ``NO_PROXY`` is a comma list: ``*`` (no proxy at all), a domain (``example.com`` and
  ``.example.com`` both match the domain and its subdomains, never ``badexample.com``), an
  IP address, ``localhost``, or a ``scheme://host`` pattern.
- A transport given in ``HttpSettings.transport`` replaces the network; proxies do not apply.

The network policy judges the *target* of a request (``request.url``), never the proxy: a
proxy is the operator's choice, not a parameter value. A proxy URL's user and password are
credentials: ``describe`` shows a proxy without them, and ``ProxyConfigError`` messages never
quote them.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from .._errors import ConfigError
from .._secrets import shown_url

if TYPE_CHECKING:  # imported where used: reading settings needs no httpx
    from .seam import httpx

__all__ = ["describe", "proxy_mounts", "proxy_routes"]

T = TypeVar("T")

_SCHEMES = ("http", "https")


def describe(proxy: str) -> str:
    """``proxy`` with its user and password replaced by the mask (for messages and reprs)."""
    return shown_url(proxy, keep_user=False)


def _env(environ: Mapping[str, str], name: str) -> str:
    return (environ.get(name.lower()) or environ.get(name.upper()) or "").strip()


def _proxy(value: str, source: str) -> httpx.Proxy:
    from .seam import httpx

    url = value if "://" in value else "http://" + value
    try:
        proxy = httpx.Proxy(url)
    except (ValueError, TypeError, httpx.InvalidURL):
        raise ConfigError(
            f"{source} is not a proxy URL ({describe(url)}): write http://host:port,"
            " optionally with user:password@", setting=source) from None
    if proxy.url.scheme not in _SCHEMES:
        raise ConfigError(
            f"{source} uses scheme '{proxy.url.scheme}' ({describe(url)}): the SDK supports"
            " http:// and https:// proxies (CONNECT for https targets)", setting=source)
    return proxy


def _no_proxy_patterns(no_proxy: str) -> list[str] | None:
    """httpx mount patterns that bypass the proxy; None for ``*`` (bypass everything)."""
    patterns: list[str] = []
    for entry in (e.strip() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return None
        if "://" in entry:
            patterns.append(entry)
            continue
        host = entry.lstrip(".")
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            address = None
        if address is not None:
            shown = f"[{address}]" if address.version == 6 else str(address)
            patterns.append(f"all://{shown}")
        elif host.lower() == "localhost":
            patterns.append("all://localhost")
        else:
            # httpx: "*example.com" matches example.com and its subdomains, not badexample.com
            patterns.append(f"all://*{host}")
    return patterns


def proxy_routes(
    *, proxy: str | None, no_proxy: str | None, trust_env: bool,
    environ: Mapping[str, str] | None = None,
) -> dict[str, httpx.Proxy | None]:
    """httpx mount patterns to the proxy each uses (None: direct), per the module's rules."""
    env = os.environ if environ is None else environ
    routes: dict[str, httpx.Proxy | None] = {}
    if proxy is not None:
        if proxy.strip():
            routes["all://"] = _proxy(proxy.strip(), "HttpSettings.proxy")
        bypass = no_proxy or ""
    elif trust_env:
        every = _env(env, "all_proxy")
        for scheme in _SCHEMES:
            value = _env(env, f"{scheme}_proxy") or every
            if value:
                source = f"{scheme.upper()}_PROXY" if _env(env, f"{scheme}_proxy") \
                    else "ALL_PROXY"
                routes[f"{scheme}://"] = _proxy(value, source)
        bypass = no_proxy if no_proxy is not None else _env(env, "no_proxy")
    else:
        return routes
    if not routes:
        return routes
    patterns = _no_proxy_patterns(bypass)
    if patterns is None:
        return {}
    routes.update(dict.fromkeys(patterns))
    return routes


def proxy_mounts(
    routes: Mapping[str, httpx.Proxy | None], make: Callable[[httpx.Proxy], T]
) -> dict[str, T | None]:
    """``routes`` as httpx ``mounts``: one transport per distinct proxy, built by ``make``;
    None routes to the client's default (direct) transport."""
    made: dict[str, T] = {}
    mounts: dict[str, T | None] = {}
    for pattern, proxy in routes.items():
        if proxy is None:
            mounts[pattern] = None
            continue
        key = str(proxy.url) + repr(proxy.raw_auth)
        if key not in made:
            made[key] = make(proxy)
        mounts[pattern] = made[key]
    return mounts
