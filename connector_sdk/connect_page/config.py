"""The connect page's configuration file: read, checked at start-up, frozen.

``load_config(path)`` reads the YAML file (``schemas/connect-page.schema.json``) with the
same reader as manifests (positions, no duplicate keys, bounded aliases), checks it against
the schema and the rules below, and raises one ``ConfigError`` listing every problem as
``file:line:column: RULE message`` with the fix. What it checks beyond the schema:

- the redirect configuration is valid (its own rules, with positions when it is inline) and
  names every organisation configured here: an organisation's white-labelled domain is the
  host of its redirect URL;
- frame ancestors are origins, https except loopback hosts, and a logo URL is https; in both
  the host must be an ASCII DNS name (``SAFE_HOST_VALUE``; punycode for others) and the origin
  that goes into the Content-Security-Policy header is rebuilt from the parsed host and port,
  never copied, so no value can add a directive or a header line;
- branding colours have readable contrast (WCAG 2.x: 4.5:1 for text on the background and
  for white text on the accent, 3:1 for the accent against the background);
- the session-signing key is in the environment variable the file names (never in the file),
  at least 32 characters long;
- a fixed parameter written ``@env:VARIABLE`` is read from that variable (the only way to fix
  a secret one: ``check_services`` refuses a secret in clear once the services are known).

Nothing here touches the network.
"""

from __future__ import annotations

import dataclasses
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .._errors import ConfigError, ConnectorSDKError
from .._hints import did_you_mean
from .._manifest.hosts import SAFE_HOST_VALUE, is_loopback_host
from .._manifest.reader import Document, read_yaml_file
from .._manifest.redirects import Redirects, check_redirects_document, load_redirects
from .._manifest.schemas import schema_problems
from .._problems import Problem
from .._secrets import Secret

__all__ = ["Branding", "ConnectPageConfig", "Organisation", "ServiceChoice", "load_config"]

SETTING = "connect-page config"
MIN_KEY_LENGTH = 32
DEFAULT_MAX_AGE = 900
_ENV_PREFIX = "@env:"


@dataclass(frozen=True, slots=True)
class Branding:
    """How an organisation's page looks; the defaults are a plain, accessible page."""

    name: str = "Connect an account"
    logo_url: str | None = None
    accent: str = "#1a56b8"
    background: str = "#ffffff"
    text: str = "#1b1b1b"

    @property
    def logo_origin(self) -> str | None:
        if self.logo_url is None:
            return None
        return web_origin(self.logo_url)


@dataclass(frozen=True, slots=True)
class ServiceChoice:
    """How an organisation's users connect one service. ``fixed`` values are hidden from the
    form (secrets as ``Secret``); ``from_env`` names those read from the environment;
    ``where`` is ``file:line`` of the entry, for start-up errors."""

    service: str
    where: str
    grant: str | None = None
    fixed: Mapping[str, Any] = field(default_factory=dict)
    from_env: frozenset[str] = frozenset()
    scopes: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Organisation:
    """One organisation: its white-labelled host (from its redirect URL), who may frame its
    page, its branding and its services."""

    name: str
    redirect_url: str
    host: str
    frame_ancestors: tuple[str, ...]
    branding: Branding
    services: Mapping[str, ServiceChoice]
    where: str

    @property
    def origin(self) -> str:
        parts = urllib.parse.urlsplit(self.redirect_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def callback_path(self) -> str:
        return urllib.parse.urlsplit(self.redirect_url).path or "/"


@dataclass(frozen=True)
class ConnectPageConfig:
    """A checked configuration; build it with ``load_config``. ``session_key`` never leaves
    as text (``repr`` masks it)."""

    source: str
    redirects: Redirects
    organisations: Mapping[str, Organisation]
    session_key: Secret = field(repr=False)
    max_age: int = DEFAULT_MAX_AGE

    def organisation(self, name: str) -> Organisation:
        """The organisation ``name``; ``ConfigError`` naming the known ones otherwise."""
        try:
            return self.organisations[name]
        except KeyError:
            hint = did_you_mean(name, sorted(self.organisations)) or \
                f" (organisations: {', '.join(sorted(self.organisations))})"
            raise ConfigError(f"organisation '{name}' is not in {self.source}{hint}",
                              setting=SETTING) from None


def web_origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, rebuilt from its parsed host and port (the
    text that goes into a CSP source list, https://www.w3.org/TR/CSP3/#grammardef-host-source),
    or None when the URL has whitespace or a control character, user:password@, a bad port,
    or a host that is not an ASCII DNS name (``SAFE_HOST_VALUE``)."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return None
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if (parts.scheme not in ("http", "https") or "@" in parts.netloc or port == 0
            or SAFE_HOST_VALUE.fullmatch(host) is None):
        return None
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def _is_loopback(host: str) -> bool:
    """Loopback as the redirect rules mean it (RFC 8252 §7.3, RFC 6761 §6.3)."""
    return is_loopback_host(host) or host.endswith(".localhost")


def _luminance(colour: str) -> float:
    """Relative luminance (https://www.w3.org/TR/WCAG21/#dfn-relative-luminance)."""
    digits = colour[1:]
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    channels = [int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(first: str, second: str) -> float:
    """The WCAG contrast ratio of two hex colours (https://www.w3.org/TR/WCAG21/#dfn-contrast-ratio)."""
    a, b = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (a + 0.05) / (b + 0.05)


class _Reader:
    """Builds the frozen configuration from a schema-valid document, collecting problems."""

    def __init__(self, doc: Document, base: Path, environ: Mapping[str, str]) -> None:
        self.doc = doc
        self.base = base
        self.environ = environ
        self.problems: list[Problem] = []

    def fail(self, path: tuple[str | int, ...], rule: str, message: str, *,
             key: bool = False) -> None:
        self.problems.append(self.doc.problem(path, rule, message, key=key))

    def where(self, path: tuple[str | int, ...]) -> str:
        return f"{self.doc.file}:{self.doc.where(path, key=True)[0]}"

    def redirects(self) -> Redirects | None:
        value = self.doc.data["redirects"]
        if isinstance(value, str):
            try:
                return load_redirects(self.base / value)
            except ConnectorSDKError as exc:
                self.fail(("redirects",), "CONNECT-REDIRECTS-INVALID",
                          f"the redirect configuration it names is invalid: {exc}")
                return None
        inner = Document(
            file=self.doc.file, data=value,
            value_marks={k[1:]: v for k, v in self.doc.value_marks.items()
                         if k[:1] == ("redirects",)},
            key_marks={k[1:]: v for k, v in self.doc.key_marks.items()
                       if k[:1] == ("redirects",)})
        problems = check_redirects_document(inner)
        if problems:
            self.problems += [dataclasses.replace(p, path=("redirects", *p.path))
                              for p in problems]
            return None
        return load_redirects(value, source=f"{self.doc.file} (redirects)")

    def session_key(self) -> Secret | None:
        variable = self.doc.data["session"]["key_env"]
        key = self.environ.get(variable, "")
        if len(key) < MIN_KEY_LENGTH:
            state = "is not set" if not key else f"is shorter than {MIN_KEY_LENGTH} characters"
            self.fail(("session", "key_env"), "CONNECT-SESSION-KEY",
                      f"the session-signing key in ${variable} {state}: set it to a random"
                      " value, e.g. the output of `python -c 'import secrets;"
                      " print(secrets.token_urlsafe(32))'` (never write it in this file)")
            return None
        return Secret(key)

    def origins(self, path: tuple[str | int, ...], values: list[str]) -> tuple[str, ...]:
        """The frame ancestors, each exactly ``scheme://host[:port]`` (rebuilt, not copied)."""
        origins: list[str] = []
        for index, value in enumerate(values):
            origin = web_origin(value)
            if origin is None or origin != value.lower():
                self.fail((*path, index), "CONNECT-ORIGIN-INVALID",
                          f"frame ancestor {value!r} is not an origin: write"
                          " https://HOST[:PORT], no path, whitespace or user:password@, the"
                          " host an ASCII DNS name (punycode, xn--..., for others)")
                continue
            host = urllib.parse.urlsplit(origin).hostname or ""
            if origin.startswith("http://") and not _is_loopback(host):
                self.fail((*path, index), "CONNECT-ORIGIN-NOT-HTTPS",
                          f"frame ancestor '{origin}' is http: use https (http only for"
                          " loopback hosts such as 127.0.0.1 or *.localhost)")
            origins.append(origin)
        return tuple(origins)

    def branding(self, path: tuple[str | int, ...], data: Mapping[str, Any]) -> Branding:
        colours = data.get("colors", {})
        branding = Branding(**{k: v for k, v in (
            ("name", data.get("name")), ("logo_url", data.get("logo_url")),
            ("accent", colours.get("accent")), ("background", colours.get("background")),
            ("text", colours.get("text"))) if v is not None})
        if branding.logo_url is not None:
            origin = web_origin(branding.logo_url)
            if origin is None or not origin.startswith("https://"):
                self.fail((*path, "logo_url"), "CONNECT-LOGO-URL",
                          "logo_url must be an https URL whose host is an ASCII DNS name"
                          " (punycode, xn--..., for others), with no whitespace, no"
                          " user:password@ and no ';' or ',' before the path")
        for first, second, minimum, what in (
                ("text", "background", 4.5, "text on the background"),
                ("#ffffff", "accent", 4.5, "white button text on the accent"),
                ("accent", "background", 3.0, "the accent against the background")):
            one = getattr(branding, first, first)
            two = getattr(branding, second)
            ratio = contrast(one, two)
            if ratio < minimum:
                key = second if first.startswith("#") else first
                self.fail((*path, "colors", key) if key in colours else (*path,),
                          "CONNECT-CONTRAST",
                          f"{what} has a contrast of {ratio:.2f}:1; WCAG 2.x AA asks for"
                          f" {minimum}:1 (https://www.w3.org/TR/WCAG21/#contrast-minimum):"
                          " choose a darker or lighter colour")
        return branding

    def service(self, path: tuple[str | int, ...], service_id: str,
                data: Mapping[str, Any]) -> ServiceChoice:
        fixed: dict[str, Any] = {}
        from_env: set[str] = set()
        for name, value in data.get("fixed", {}).items():
            if isinstance(value, str) and value.startswith(_ENV_PREFIX):
                variable = value[len(_ENV_PREFIX):]
                if variable not in self.environ:
                    self.fail((*path, "fixed", name), "CONNECT-FIXED-ENV",
                              f"fixed parameter '{name}' reads ${variable}, which is not set:"
                              " set it in the environment of the process serving the page")
                    continue
                fixed[name] = Secret(self.environ[variable])
                from_env.add(name)
            else:
                fixed[name] = value
        scopes = data.get("scopes")
        return ServiceChoice(service=service_id, where=self.where(path),
                             grant=data.get("grant"), fixed=MappingProxyType(fixed),
                             from_env=frozenset(from_env),
                             scopes=tuple(scopes) if scopes is not None else None)

    def organisation(self, name: str, data: Mapping[str, Any],
                     redirects: Redirects) -> Organisation | None:
        path: tuple[str | int, ...] = ("organisations", name)
        entry = redirects.organisations.get(name)
        if entry is None:
            known = ", ".join(sorted(redirects.organisations)) or "none"
            self.fail(path, "CONNECT-ORGANISATION-UNKNOWN",
                      f"organisation '{name}' is not in the redirect configuration"
                      f" (organisations there: {known}): add it there with its white-labelled"
                      " redirect URL, whose host is its page's domain", key=True)
            return None
        return Organisation(
            name=name, redirect_url=entry.redirect_url, host=entry.host,
            frame_ancestors=self.origins((*path, "frame_ancestors"),
                                         data.get("frame_ancestors", [])),
            branding=self.branding((*path, "branding"), data.get("branding", {})),
            services=MappingProxyType({
                sid: self.service((*path, "services", sid), sid, entry_data)
                for sid, entry_data in data["services"].items()}),
            where=self.where(path))


def load_config(path: str | os.PathLike[str], *,
                environ: Mapping[str, str] | None = None) -> ConnectPageConfig:
    """Read and check the configuration file ``path``; ``ConfigError`` lists every problem.

    ``environ`` (default ``os.environ``) holds the session key and ``@env:`` values.
    """
    file = Path(path)
    doc, problems = read_yaml_file(file, str(path))
    if doc is not None and not problems:
        if not isinstance(doc.data, dict):
            problems = [doc.problem((), "DOC-NOT-MAPPING", "the document is not a mapping: see"
                                    " docs/connect-page.md for the format")]
        else:
            problems = schema_problems(doc, "connect-page")
    if doc is None or problems:
        raise _error(str(path), problems)
    reader = _Reader(doc, file.parent, os.environ if environ is None else environ)
    redirects = reader.redirects()
    key = reader.session_key()
    organisations = {} if redirects is None else {
        name: org for name, data in doc.data["organisations"].items()
        if (org := reader.organisation(name, data, redirects)) is not None}
    if reader.problems or redirects is None or key is None:
        raise _error(str(path), reader.problems)
    session = doc.data["session"]
    return ConnectPageConfig(
        source=str(path), redirects=redirects, organisations=MappingProxyType(organisations),
        session_key=key, max_age=int(session.get("max_age", DEFAULT_MAX_AGE)))


def _error(source: str, problems: list[Problem]) -> ConfigError:
    ordered = sorted(set(problems), key=lambda p: (p.line, p.column, p.rule, p.message))
    count = len(ordered)
    head = (f"{source}: invalid connect-page configuration ({count} problem"
            f"{'s' if count != 1 else ''}; see docs/connect-page.md): fix the file")
    return ConfigError(head + "".join("\n  " + p.format_text() for p in ordered),
                       setting=SETTING)
