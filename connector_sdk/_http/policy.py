"""The network policy: every URL is checked here before a request leaves.

The token URL, the API base URL with an operation's path, the revocation URL and every
pagination or redirect URL a response hands back go through ``render_url`` (templates filled
with parameter values) or ``check_url`` (absolute URLs from responses). Both return an
``httpx.URL`` or raise ``NetworkPolicyError``; nothing is sent in between.

What callers may rely on once a URL is returned:

* the scheme is ``https`` (``http`` only to a loopback host, and only with ``allow_loopback``);
* there is no ``user:password@``;
* the host, lower-cased, matches an ``allowed_hosts`` entry (``_url_template.host_allowed``)
  and both ``urllib.parse`` and httpx read the same host from the URL;
* for templates, the port is the one the template wrote (or the scheme's default), and the
  path starts with the template's literal path and holds no ``.`` or ``..`` segment.

How values are treated, by where the placeholder sits (``_url_template.placeholder_positions``):
in the host a value must fully match ``SAFE_HOST_VALUE`` and is refused otherwise, never
"fixed"; in the path it is percent-encoded as one segment (``/ ? # % \\`` and ``;`` are
encoded) and the values ``.`` and ``..`` are refused; in the query or fragment it is
percent-encoded as a component (only RFC 3986 unreserved characters stay). A control
character (CR, LF, NUL, ...) is refused wherever it sits, and so is a host with an ``xn--``
label that IDNA cannot decode (it matches ``*.myshopify.com`` but no reader can use it).

Messages name the service, the URL (``token_url``, ``base_url``...) and the parameter, say
what is wrong and how to fix it, and never contain a value: any parameter may be secret.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any
from urllib.parse import SplitResult, quote, unquote, urlsplit

from .._errors import NetworkPolicyError
from .._manifest.templates import Placeholder, Template, parse_template
from .._manifest.url_template import (
    SAFE_HOST_VALUE,
    UrlLayout,
    UrlPart,
    host_allowed,
    is_loopback_host,
    static_url_problems,
    url_layout,
)
from .seam import httpx

__all__ = ["check_url", "is_loopback_host", "render_url"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_UNSAFE_URL_TEXT = re.compile(r"[\x00-\x20\x7f-\x9f\\]")
_PATH_SAFE = "-._~!$'()*,=:@"
_COMPONENT_SAFE = "-._~"
_DEFAULT_PORTS = {"https": 443, "http": 80}
_DOT_SEGMENTS = frozenset({".", ".."})


class _Context:
    """Who is asking, so that every message names the service, the URL and the fix."""

    def __init__(self, service: str, url_name: str, allowed_hosts: Sequence[str]) -> None:
        self.service = service
        self.url_name = url_name
        self.allowed_hosts = tuple(allowed_hosts)

    def error(self, what: str, *, parameter: str | None = None) -> NetworkPolicyError:
        if parameter is not None and f"'{parameter}'" not in what:
            what += f" (check parameter '{parameter}')"
        return NetworkPolicyError(
            f"service '{self.service}': {self.url_name}: {what}",
            url_name=self.url_name, parameter=parameter, service=self.service,
        )

    @property
    def allowed_text(self) -> str:
        return ", ".join(self.allowed_hosts) or "none"

    def host_example(self, whole_host: bool) -> str:
        """An example value for a host placeholder, taken from the first wildcard entry."""
        if not whole_host:
            return "my-name"
        for entry in self.allowed_hosts:
            if entry.startswith("*."):
                return "my-name" + entry[1:].lower()
        return self.allowed_hosts[0].lower() if self.allowed_hosts else "api.example.com"


def render_url(
    template: Template | str,
    values: Mapping[str, Any],
    *,
    service: str,
    url_name: str,
    allowed_hosts: Sequence[str],
    allow_loopback: bool = False,
) -> httpx.URL:
    """Fill a URL template with ``values`` and return the URL, or refuse it.

    Raises ``NetworkPolicyError`` (with ``service``, ``url_name`` and, when one parameter is
    at fault, ``parameter``) when the template itself breaks a rule of
    ``static_url_problems``, a value is missing or does not fit where it sits, or the
    rendered URL is not allowed. ``values`` may hold ``Secret`` instances; they are revealed
    only into the returned URL.
    """
    if isinstance(template, str):
        template = parse_template(template)
    ctx = _Context(service, url_name, allowed_hosts)
    problems = static_url_problems(template)
    if problems:
        rule, message = problems[0]
        raise ctx.error(f"the URL template is not allowed ({rule}): {message}")
    layout = url_layout(template)
    part_of = dict(zip(template.placeholders, layout.parts, strict=True))
    host_names = tuple(dict.fromkeys(
        p.name for p, part in part_of.items() if part == "host"))
    whole_host = len(host_names) == 1 and layout.host in layout.sentinels

    def encode(placeholder: Placeholder, text: str) -> str:
        return _encode_value(ctx, placeholder.name, part_of[placeholder], text, whole_host)

    try:
        rendered = template.render(values, encode=encode)
    except KeyError as exc:
        name = str(exc.args[0]) if exc.args else "?"
        raise ctx.error(f"parameter '{name}' has no value; give the authentication or "
                        f"operation a '{name}'", parameter=name) from None
    host_parameter = host_names[0] if len(host_names) == 1 else None
    split, url = _parse(ctx, rendered, host_parameter)
    _check_common(ctx, split, url, allow_loopback=allow_loopback,
                  host_parameter=host_parameter, whole_host=whole_host)
    _check_port(ctx, url, layout)
    if not split.path.startswith(layout.path_prefix):
        raise ctx.error(f"the rendered path leaves '{layout.path_prefix}', where the template "
                        "puts it; check the path parameters")
    return url


def check_url(
    url: httpx.URL | str,
    *,
    service: str,
    url_name: str,
    allowed_hosts: Sequence[str],
    allow_loopback: bool = False,
    allowed_ports: Collection[int] = (),
    path_prefix: str = "",
) -> httpx.URL:
    """Check an absolute URL that came from a response (``Link`` header, redirect).

    Same scheme, userinfo, host and dot-segment rules as ``render_url``. The port must be
    the scheme's default or one of ``allowed_ports``; any port is accepted for a loopback
    host when ``allow_loopback`` is set (test servers pick free ports). With
    ``path_prefix``, the path must start with it (keep pagination inside ``/admin/api/``).
    """
    if isinstance(url, httpx.URL) and not allowed_ports and not path_prefix and not url.userinfo:
        # The hot path (every API request): the origin decides where a request goes, so its
        # verdict is cached; only the path's dot segments are looked at per request.
        _check_origin(url.scheme, url.netloc, tuple(allowed_hosts), allow_loopback, service,
                      url_name)
        path = url.raw_path.split(b"?", 1)[0]
        if b"." in path and any(unquote(s.decode("ascii", "replace")) in _DOT_SEGMENTS
                                for s in path.split(b"/")):
            raise _Context(service, url_name, allowed_hosts).error(
                "the URL's path holds a '.' or '..' segment; refusing it")
        return url
    ctx = _Context(service, url_name, allowed_hosts)
    split, parsed = _parse(ctx, str(url), None, parsed=url if isinstance(url, httpx.URL) else None)
    _check_common(ctx, split, parsed, allow_loopback=allow_loopback,
                  host_parameter=None, whole_host=True)
    port = parsed.port
    loopback = allow_loopback and is_loopback_host(_raw_host(parsed))
    if port is not None and port not in allowed_ports and not loopback:
        raise ctx.error(f"the URL names port {port}; only the default port"
                        + (f" or {', '.join(map(str, allowed_ports))}" if allowed_ports else "")
                        + " is allowed")
    if not split.path.startswith(path_prefix):
        raise ctx.error(f"the URL's path is outside '{path_prefix}'; the response pointed "
                        "somewhere this service does not call")
    return parsed


@functools.lru_cache(maxsize=1024)
def _check_origin(
    scheme: str, netloc: bytes, allowed_hosts: tuple[str, ...], allow_loopback: bool,
    service: str, url_name: str,
) -> None:
    """The full ``check_url`` verdict for an origin; raises, or returns None (then cached)."""
    check_url(f"{scheme}://{netloc.decode('ascii')}/", service=service, url_name=url_name,
              allowed_hosts=allowed_hosts, allow_loopback=allow_loopback)


def _encode_value(
    ctx: _Context, name: str, part: UrlPart, text: str, whole_host: bool
) -> str:
    where = f"parameter '{name}' (in the {part})"
    if _CONTROL.search(text):
        raise ctx.error(f"{where} contains a control character (CR, LF, NUL, tab...); "
                        "remove it", parameter=name)
    if part == "host":
        if SAFE_HOST_VALUE.fullmatch(text) is None:
            shape = ("a host name" if whole_host else "part of a host name")
            raise ctx.error(
                f"{where} must be {shape} such as {ctx.host_example(whole_host)}: ASCII "
                "letters, digits and hyphens in dot-separated labels, with no scheme, port, "
                "path, '@', '%', spaces or trailing dot (allowed hosts: "
                f"{ctx.allowed_text})", parameter=name)
        return text
    if part == "path":
        if text in _DOT_SEGMENTS:
            raise ctx.error(f"{where} must not be '.' or '..'; give a plain value such as a "
                            "version or an id", parameter=name)
        return quote(text, safe=_PATH_SAFE)
    if part in ("query", "fragment"):
        return quote(text, safe=_COMPONENT_SAFE)
    raise ctx.error(f"{where}: a value cannot fill the {part}; fix the manifest", parameter=name)


def _parse(
    ctx: _Context, text: str, parameter: str | None, *, parsed: httpx.URL | None = None
) -> tuple[SplitResult, httpx.URL]:
    if _UNSAFE_URL_TEXT.search(text):
        raise ctx.error("the URL contains whitespace, a control character or a backslash",
                        parameter=parameter)
    try:
        split = urlsplit(text)
        split.port  # noqa: B018 - raises ValueError for a malformed port
        url = parsed if parsed is not None else httpx.URL(text)
    except (ValueError, httpx.InvalidURL):
        raise ctx.error("the URL cannot be parsed; check the parameters that build it",
                        parameter=parameter) from None
    try:
        url.host  # noqa: B018 - decodes IDNA labels: raises for an 'xn--' label that is not
    except ValueError:  # valid punycode (RFC 5891 §5.4), which every later reader would hit
        raise ctx.error("the host has an 'xn--' label that is not a valid internationalised"
                        " name (IDNA); give the host name exactly as the provider spells it",
                        parameter=parameter) from None
    return split, url


def _raw_host(url: httpx.URL) -> str:
    return url.raw_host.decode("ascii", "replace").lower()


def _check_common(
    ctx: _Context,
    split: SplitResult,
    url: httpx.URL,
    *,
    allow_loopback: bool,
    host_parameter: str | None,
    whole_host: bool,
) -> None:
    host = _raw_host(url)
    if not url.is_absolute_url or not host:
        raise ctx.error("the URL must be absolute (scheme and host)")
    if (split.hostname or "") != host:
        raise ctx.error("the URL's host reads differently to different parsers; refusing it",
                        parameter=host_parameter)
    if url.userinfo or split.username is not None or "@" in split.netloc:
        raise ctx.error("the URL carries 'user:password@'; credentials never go in a URL",
                        parameter=host_parameter)
    if url.scheme != "https":
        loopback_http = url.scheme == "http" and allow_loopback and is_loopback_host(host)
        if not loopback_http:
            raise ctx.error(f"the scheme '{url.scheme}' is not allowed; use https (http "
                            "only to a loopback host, and only when allowed: --allow-loopback"
                            " or CONNECTOR_SDK_ALLOW_LOOPBACK=1)")
    if not _host_is_well_formed(host):
        raise ctx.error("the URL's host is not a plain DNS name or IP address",
                        parameter=host_parameter)
    if not host_allowed(host, ctx.allowed_hosts):
        fix = (f"; parameter '{host_parameter}' must name one of them, such as "
               f"{ctx.host_example(whole_host)}" if host_parameter else "")
        raise ctx.error(f"the host is not in allowed_hosts ({ctx.allowed_text}){fix}",
                        parameter=host_parameter)
    for segment in split.path.split("/"):
        if unquote(segment) in _DOT_SEGMENTS:
            raise ctx.error("the URL's path holds a '.' or '..' segment; refusing it")


def _host_is_well_formed(host: str) -> bool:
    if SAFE_HOST_VALUE.fullmatch(host):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _check_port(ctx: _Context, url: httpx.URL, layout: UrlLayout) -> None:
    expected = layout.literal_port or _DEFAULT_PORTS.get(layout.scheme)
    actual = url.port or _DEFAULT_PORTS.get(url.scheme)
    if actual != expected:
        raise ctx.error("the rendered URL's port differs from the template's; ports come "
                        "from the manifest only")
