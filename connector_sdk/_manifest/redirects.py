"""Redirect URLs as configuration: which ``redirect_uri`` each organisation's users return to.

A platform that embeds the SDK registers redirect URLs with each provider: its own first
(the *primary*), then its customers' white-labelled ones. The file (``CONNECTOR_SDK_REDIRECTS``
or ``Runtime(redirects=PATH_OR_MAPPING)``, schema ``schemas/redirects.schema.json``)::

    redirects_version: 1
    redirect_urls:            # in registration order: the platform's own first
      - https://auth.example.com/oauth2/callback
      - https://acme.integration-authentication.example/oauth2/callback
    organisations:
      acme: {redirect_url: https://acme.integration-authentication.example/oauth2/callback}

A URL is *white-labelled* when an organisation names it. The rules, each a start-up error
naming file:line and the fix (``REDIRECT_RULES``):

- the primary (the first URL) is never white-labelled: a white-labelled URL is used only
  when the platform's own is registered too, so a file whose first URL an organisation
  names is refused;
- https only; http only to loopback hosts (127.0.0.0/8, ``::1``, ``localhost`` and
  ``*.localhost``: RFC 8252 §7.3, RFC 6761 §6.3), for native apps and tests;
- no ``user:password@`` (a credential in configuration) and no ``#fragment`` (RFC 6749
  §3.1.2 forbids one); any explicit port is kept as written, since providers compare
  redirect URIs as exact strings (RFC 6749 §3.1.2.3);
- an organisation names a URL of the list, written exactly as there;
- one URL per host, and one organisation per URL, so that a callback's host names one
  organisation (``organisation_for_host``).

Reading is ``reader.load_yaml`` (positions, duplicate keys, no alias bombs) and the schema
machinery of ``schemas``, as for manifests, imported only when a file is read, so that
``Runtime()`` without one pays no YAML import; nothing here touches the network.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .._errors import RedirectsError
from .._hints import did_you_mean
from .._problems import Problem
from .hosts import SAFE_HOST_VALUE, is_loopback_host

if TYPE_CHECKING:  # the reader (PyYAML) and the schemas load only when a file is read
    from .reader import Document

__all__ = ["ENVIRONMENT_VARIABLE", "REDIRECT_RULES", "OrganisationRedirect", "Redirects",
           "check_redirects_document", "configured_redirects", "load_redirects"]

ENVIRONMENT_VARIABLE = "CONNECTOR_SDK_REDIRECTS"

#: The rule ids of a redirect file beyond the reader's (FILE-*, YAML-*) and the schema's
#: (SCHEMA-*); stable, documented in docs/redirects.md, one failing fixture each in tests.
REDIRECT_RULES: dict[str, str] = {
    "REDIRECT-URL-INVALID": "a redirect URL is not an absolute URL with a plain ASCII host",
    "REDIRECT-URL-NOT-HTTPS": "a redirect URL is not https (http only for loopback hosts)",
    "REDIRECT-URL-USERINFO": "a redirect URL contains user:password@",
    "REDIRECT-URL-FRAGMENT": "a redirect URL has a #fragment (RFC 6749 §3.1.2)",
    "REDIRECT-HOST-DUPLICATE": "two redirect URLs have the same host",
    "REDIRECT-WHITE-LABEL-FIRST": "the first URL, the primary, is one an organisation names",
    "REDIRECT-ORGANISATION-URL-UNKNOWN": "an organisation names a URL not in redirect_urls",
    "REDIRECT-ORGANISATION-URL-SHARED": "two organisations name the same redirect URL",
}


def _host_of(host: str) -> str:
    """``ACME.example:8443`` or ``[::1]:80`` -> ``acme.example`` / ``::1``: how hosts compare."""
    text = host.strip().lower()
    if text.startswith("["):
        return text[1:text.find("]")] if "]" in text else text[1:]
    if text.count(":") == 1:
        text = text.partition(":")[0]
    return text


def _is_loopback(host: str) -> bool:
    return is_loopback_host(host) or host.endswith(".localhost")


@dataclass(frozen=True, slots=True)
class OrganisationRedirect:
    """An organisation and the white-labelled redirect URL its users return to."""

    name: str
    redirect_url: str

    @property
    def host(self) -> str:
        """The URL's host, lower case, without port (what ``organisation_for_host`` matches)."""
        return _host_of(urllib.parse.urlsplit(self.redirect_url).netloc)


@dataclass(frozen=True)
class Redirects:
    """A checked redirect configuration; build it with ``load_redirects``.

    ``redirect_urls`` keeps the file's order; ``primary`` is the first, the platform's own.
    Callers may rely on every URL being https (or loopback http), on hosts being unique and
    on every organisation's URL being one of ``redirect_urls`` other than the primary.
    """

    redirect_urls: tuple[str, ...]
    organisations: Mapping[str, OrganisationRedirect] = field(
        default_factory=lambda: MappingProxyType({}))
    source: str = "<redirects>"

    @property
    def primary(self) -> str:
        return self.redirect_urls[0]

    def organisation(self, name: str) -> OrganisationRedirect:
        """The organisation ``name``; ``RedirectsError`` with the closest name if unknown."""
        try:
            return self.organisations[name]
        except KeyError:
            known = sorted(self.organisations)
            hint = did_you_mean(name, known) or (
                f": known organisations: {', '.join(known)}" if known
                else ": it names no organisation")
            raise RedirectsError(
                f"organisation '{name}' is not in the redirect configuration {self.source}"
                f"{hint} (add it under 'organisations', or pass no organisation to use the"
                f" primary {self.primary})", setting="organisations", organisation=name,
            ) from None

    def redirect_url_for(self, organisation: str | None, *, accepts_multiple: bool) -> str:
        """The ``redirect_uri`` for ``organisation``'s users.

        The primary when ``organisation`` is None or the service accepts a single registered
        redirect URL (manifest ``redirect_urls: single``); else the organisation's
        white-labelled URL. An unknown organisation is an error in both cases: it is a
        caller's mistake that a single-URL service must not hide.
        """
        if organisation is None:
            return self.primary
        chosen = self.organisation(organisation)
        return chosen.redirect_url if accepts_multiple else self.primary

    def organisation_for_host(self, host: str) -> OrganisationRedirect | None:
        """The organisation whose redirect URL is on ``host`` (a port is ignored), if any."""
        wanted = _host_of(host)
        for organisation in self.organisations.values():
            if organisation.host == wanted:
                return organisation
        return None


def _url_problem(url: str) -> tuple[str, str] | None:
    """``(rule, message)`` of what is wrong with one redirect URL, or None."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url) or "{{" in url:
        return ("REDIRECT-URL-INVALID", "the URL has whitespace, a control character or a"
                " {{ placeholder }}: write the URL exactly as registered with the provider")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return ("REDIRECT-URL-INVALID", f"the URL does not parse ({exc}): write"
                " https://HOST[:PORT]/PATH")
    if not parts.scheme or not parts.netloc:
        return ("REDIRECT-URL-INVALID", "the URL is not absolute: write https://HOST/PATH")
    if "@" in parts.netloc:
        return ("REDIRECT-URL-USERINFO", "the URL contains user:password@ (a credential in"
                " configuration): remove it")
    if "#" in url:
        return ("REDIRECT-URL-FRAGMENT", "the URL has a #fragment, which a redirect URI must"
                " not have (RFC 6749 §3.1.2): remove it")
    host = (parts.hostname or "").lower()
    literal = host.strip("[]")
    if not host or not (SAFE_HOST_VALUE.fullmatch(host) or _is_ip(literal)):
        return ("REDIRECT-URL-INVALID", "the host is not a DNS name or an IP address (a"
                " non-ASCII name goes in its punycode form, xn--…)")
    if port == 0:
        return ("REDIRECT-URL-INVALID", "port 0 is not a port: remove it or give the real one")
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and _is_loopback(literal):
        return None
    return ("REDIRECT-URL-NOT-HTTPS", f"the URL is {parts.scheme}: redirect URLs are https;"
            " http only for a loopback host (127.0.0.1, [::1], localhost, *.localhost;"
            " RFC 8252 §7.3)")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _url_rules(doc: Document, urls: list[Any]) -> tuple[list[Problem], set[str]]:
    problems: list[Problem] = []
    seen_hosts: dict[str, int] = {}
    good: set[str] = set()
    for index, url in enumerate(urls):
        if not isinstance(url, str):
            continue
        found = _url_problem(url)
        if found:
            problems.append(doc.problem(("redirect_urls", index), *found))
            continue
        good.add(url)
        host = _host_of(urllib.parse.urlsplit(url).netloc)
        if host in seen_hosts:
            first = seen_hosts[host]
            problems.append(doc.problem(
                ("redirect_urls", index), "REDIRECT-HOST-DUPLICATE",
                f"host '{host}' is already used by redirect_urls[{first}] (line"
                f" {doc.where(('redirect_urls', first))[0]}): give each URL its own host, so"
                " a callback's host names one organisation; remove one of them"))
        else:
            seen_hosts[host] = index
    return problems, good


def _organisation_rules(doc: Document, urls: list[Any], good: set[str]) -> list[Problem]:
    organisations = doc.data.get("organisations")
    if not isinstance(organisations, dict):
        return []
    problems: list[Problem] = []
    listed = [u for u in urls if isinstance(u, str)]
    primary = urls[0] if isinstance(urls[0], str) else None
    named_by: dict[str, str] = {}
    for name, entry in organisations.items():
        url = entry.get("redirect_url") if isinstance(entry, dict) else None
        if not isinstance(url, str):
            continue
        where = ("organisations", name, "redirect_url")
        if url not in listed:
            hint = did_you_mean(url, sorted(good)) or \
                ": add it to redirect_urls (after the primary)"
            problems.append(doc.problem(
                where, "REDIRECT-ORGANISATION-URL-UNKNOWN",
                f"organisation '{name}' names a URL that is not in redirect_urls{hint}; it"
                " must be written exactly as listed there"))
            continue
        if url in named_by:
            problems.append(doc.problem(
                where, "REDIRECT-ORGANISATION-URL-SHARED",
                f"organisation '{name}' names the same URL as organisation '{named_by[url]}':"
                " give each organisation its own white-labelled URL (or none, for the"
                " primary)"))
            continue
        named_by[url] = name
        if url == primary and url in good:
            problems.append(doc.problem(
                ("redirect_urls", 0), "REDIRECT-WHITE-LABEL-FIRST",
                f"the first URL is the primary, the platform's own, but organisation '{name}'"
                " names it: a white-labelled URL is used only when the primary is registered"
                " too; put the platform's own redirect URL first"))
    return problems


def _versioned(problem: Problem) -> Problem:
    if problem.path == ("redirects_version",) and problem.rule == "SCHEMA-ENUM":
        return dataclasses.replace(problem, message="this SDK reads redirects_version 1 only:"
                                   " write 'redirects_version: 1' (see docs/redirects.md)")
    return problem


def check_redirects_document(doc: Document) -> list[Problem]:
    """Every schema and rule problem of a parsed redirect file, sorted by position."""
    if not isinstance(doc.data, dict):
        return [doc.problem((), "DOC-NOT-MAPPING",
                            "the document is not a mapping; a redirect configuration is a"
                            " mapping with keys redirects_version, redirect_urls,"
                            " organisations")]
    from .schemas import schema_problems

    problems = [_versioned(p) for p in schema_problems(doc, "redirects")]
    urls = doc.data.get("redirect_urls")
    if isinstance(urls, list) and urls:
        url_problems, good = _url_rules(doc, urls)
        problems += url_problems + _organisation_rules(doc, urls, good)
    return sorted(set(problems), key=lambda p: (p.line, p.column, p.rule, p.message))


def _plain(value: Any) -> Any:
    """A caller's mapping as JSON-like data (tuples become lists) for the schema."""
    if isinstance(value, Mapping):
        return {k if isinstance(k, str) else str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def load_redirects(
    path_or_mapping: str | os.PathLike[str] | Mapping[str, Any], *, source: str | None = None,
    setting: str = "redirects",
) -> Redirects:
    """Read and check a redirect configuration from a YAML file or a mapping.

    ``source`` names it in messages (default: the path, or ``<redirects>`` for a mapping,
    whose problems have no line). Raises ``RedirectsError`` listing every problem with its
    position, rule id and fix; ``setting`` names where it was configured.
    """
    from .reader import Document, read_yaml_file

    if isinstance(path_or_mapping, Mapping):
        name = source or "<redirects>"
        doc: Document | None = Document(file=name, data=_plain(path_or_mapping))
        problems: list[Problem] = []
    else:
        path = Path(path_or_mapping)
        name = source or str(path)
        doc, problems = read_yaml_file(path, name)
    if doc is not None:
        problems = sorted(set(problems + check_redirects_document(doc)),
                          key=lambda p: (p.line, p.column, p.rule, p.message))
        if isinstance(path_or_mapping, Mapping):  # no positions in a mapping
            problems = [dataclasses.replace(p, line=0, column=0) for p in problems]
    if doc is None or problems:
        fix = "fix the file" if setting != ENVIRONMENT_VARIABLE else \
            f"fix the file or unset {ENVIRONMENT_VARIABLE}"
        raise RedirectsError(
            f"{name}: invalid redirect configuration ({len(problems)} problem"
            f"{'s' if len(problems) != 1 else ''}; docs/redirects.md); {fix}",
            setting=setting, problems=problems)
    data = doc.data
    return Redirects(
        redirect_urls=tuple(data["redirect_urls"]),
        organisations=MappingProxyType({
            org: OrganisationRedirect(name=org, redirect_url=entry["redirect_url"])
            for org, entry in (data.get("organisations") or {}).items()}),
        source=name,
    )


def configured_redirects(
    value: Redirects | str | os.PathLike[str] | Mapping[str, Any] | None,
    environ: Mapping[str, str],
) -> Redirects | None:
    """What a runtime uses: ``value`` if given (a ``Redirects``, a path or a mapping), else
    the file ``CONNECTOR_SDK_REDIRECTS`` names, else None. Raises ``RedirectsError``."""
    if isinstance(value, Redirects):
        return value
    if value is not None:
        return load_redirects(value)
    path = environ.get(ENVIRONMENT_VARIABLE, "").strip()
    return load_redirects(path, setting=ENVIRONMENT_VARIABLE) if path else None
