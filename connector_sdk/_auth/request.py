"""Build a token request for an authentication, whatever the grant: pure, no I/O.

What goes on the wire follows RFC 6749 §3.2 and §2.3.1: ``POST`` to the rendered token URL
with an ``application/x-www-form-urlencoded`` body holding ``grant_type``, the grant's own
fields (``grants``: the scopes for client credentials, §4.4.2) and the manifest's extra
fields; the client authenticates either in the body (``client_secret_post``: ``client_id``
and ``client_secret``) or with HTTP Basic (``client_secret_basic``: id and secret each
form-urlencoded, then ``base64(id:secret)``). Credentials never go into the URL. The token URL
is rendered by ``render_url``, so the network policy applies before anything is sent.

The built ``TokenRequest`` carries the clear secret in its body and headers: its ``repr``
hides them, and it lists the strings (``redact``) that must never appear in any message.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload
from urllib.parse import quote_plus, urlencode

from .._errors import ParameterError
from .._http.policy import render_url
from .._http.seam import httpx
from .._manifest.model import Authentication, ClientAuthMethod
from .._manifest.templates import Template
from .._secrets import Secret, SecretReference
from .cache import cache_key

__all__ = [
    "FORM_CONTENT_TYPE",
    "SecretStrings",
    "TokenRequest",
    "basic_authorization",
    "build_token_request",
    "client_auth_parts",
    "render_text",
    "secret_strings",
]

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
_RESERVED_FIELDS = frozenset({"grant_type", "client_id", "client_secret", "scope"})


@dataclass(frozen=True, slots=True, repr=False)
class TokenRequest:
    """A ready token request; ``key`` is its cache key, ``redact`` the strings never to show.

    ``grant`` is the ``grant_type`` it carries; ``scopes`` the scopes it asks for (the answer
    may name others, RFC 6749 §5.1).
    """

    service: str
    authentication: str
    url: httpx.URL
    headers: tuple[tuple[str, str], ...]
    body: bytes
    scopes: tuple[str, ...]
    key: str
    redact: tuple[str, ...]
    grant: str = "client_credentials"

    def __repr__(self) -> str:
        return (
            f"TokenRequest(service={self.service!r}, authentication={self.authentication!r}, "
            f"grant={self.grant!r}, url={str(self.url)!r}, scopes={self.scopes!r},"
            " body=<hidden>)"
        )


def basic_authorization(client_id: str, client_secret: str) -> str:
    """The ``Authorization`` value for ``client_secret_basic`` (RFC 6749 §2.3.1).

    Both parts are form-urlencoded first (space becomes ``+``, ``:`` becomes ``%3A``), so an id
    or secret containing ``:`` cannot shift the split the server makes.
    """
    pair = f"{quote_plus(client_id, safe='')}:{quote_plus(client_secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


def client_auth_parts(
    method: ClientAuthMethod | str, client_id: str, client_secret: str | None
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Headers and body fields that authenticate the client with ``method``.

    ``client_secret_post`` puts ``client_id`` and ``client_secret`` in the body,
    ``client_secret_basic`` an ``Authorization`` header, ``none`` only ``client_id`` (Twitch's
    revocation endpoint).
    """
    if method == "client_secret_basic":
        return [("Authorization", basic_authorization(client_id, client_secret or ""))], []
    if method == "client_secret_post":
        return [], [("client_id", client_id), ("client_secret", client_secret or "")]
    return [], [("client_id", client_id)]


def render_text(
    template: Template, values: Mapping[str, Any], *, service: str, field: str
) -> str:
    """Render a header or form-field template; a missing value is a ``ParameterError``."""
    try:
        return template.render(values)
    except KeyError as missing:
        name = missing.args[0]
        raise ParameterError(
            f"service '{service}': {field} needs the parameter '{name}', which has no value;"
            f" give the authentication a value for '{name}'",
            service=service,
            fields={str(name): [f"required by {field}"]},
        ) from None


class SecretStrings(Sequence[str]):
    """Every clear secret of some authentications, raw and form-encoded, longest first; live.

    Messages are scrubbed of each of these before they are shown, so a provider that echoes
    the request body in an error page cannot leak the secret through our exception. A secret
    reference is never resolved for this (it would ask the secret manager for every client
    built): the value it last resolved to is masked like a stored one. The sequence is
    *live*: a holder made before a reference's first resolution (a client, a call, a step)
    masks the value the token request resolved afterwards, and a rotated value as soon as
    it is read. Recomputed only when a reference's last value changed.
    """

    __slots__ = ("_authentications", "_extra", "_key", "_values")

    def __init__(self, authentications: Iterable[Authentication], extra: Iterable[str] = ()):
        self._authentications = tuple(authentications)
        self._extra = tuple(extra)
        self._key: tuple[str | None, ...] | None = None
        self._values: tuple[str, ...] = ()

    def _references(self) -> tuple[str | None, ...]:
        return tuple(v.last_value for a in self._authentications
                     for v in a.parameters.values() if isinstance(v, SecretReference))

    def _current(self) -> tuple[str, ...]:
        key = self._references()
        if key != self._key:
            values = {v.last_value or "" if isinstance(v, SecretReference) else v.reveal()
                      for a in self._authentications for v in a.parameters.values()
                      if isinstance(v, Secret)}
            values.update(self._extra)
            out: set[str] = set()
            for value in values:
                if value:
                    out.add(value)
                    out.add(quote_plus(value, safe=""))
            self._values, self._key = tuple(sorted(out, key=len, reverse=True)), key
        return self._values

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._current()[index]

    def __len__(self) -> int:
        return len(self._current())

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __repr__(self) -> str:
        return f"SecretStrings({len(self)} values)"


def secret_strings(authentication: Authentication, *extra: str) -> SecretStrings:
    """``SecretStrings`` of one authentication plus ``extra`` (a token, say)."""
    return SecretStrings((authentication,), extra)


def build_token_request(
    authentication: Authentication,
    *,
    grant: str,
    grant_fields: Sequence[tuple[str, str]] = (),
    scopes: Sequence[str] = (),
    secrets: Sequence[str] = (),
    allow_loopback: bool = False,
) -> TokenRequest:
    """The token request of ``grant`` for ``authentication``, checked against the policy.

    ``grant_fields`` follow ``grant_type`` in the body (a grant's own fields: scope, code,
    refresh_token...); ``scopes`` are what the request asks for and part of the cache key;
    ``secrets`` are further clear values to redact (a refresh token, say). Raises
    ``NetworkPolicyError`` when the rendered token URL is not allowed and ``ParameterError``
    when a template needs a parameter the authentication lacks.
    """
    service = authentication.service
    auth = service.auth
    values = authentication.parameters
    url = render_url(
        auth.token_url,
        values,
        service=service.id,
        url_name="token_url",
        allowed_hosts=service.allowed_hosts,
        allow_loopback=allow_loopback,
    )
    client_id = render_text(auth.client_id, values, service=service.id, field="client_id")
    client_secret = render_text(
        auth.client_secret, values, service=service.id, field="client_secret"
    )
    headers, fields = client_auth_parts(auth.client_auth, client_id, client_secret)
    fields.append(("grant_type", grant))
    fields.extend(grant_fields)
    extra: list[tuple[str, str]] = []
    reserved = _RESERVED_FIELDS.union(name for name, _ in grant_fields)
    secret_names = service.secret_parameters
    for name, template in auth.token_request_fields.items():
        if name in reserved:
            continue  # the manifest checks refuse these; the grant's own fields always win
        value = render_text(template, values, service=service.id, field=f"token field '{name}'")
        fields.append((name, value))
        if not secret_names.intersection(p.root for p in template.placeholders):
            extra.append((name, value))
    headers = [("Accept", "application/json"), ("Content-Type", FORM_CONTENT_TYPE), *headers]
    redact = tuple(secret_strings(authentication, client_secret, *secrets))
    if auth.client_auth == "client_secret_basic":
        redact = (*redact, headers[-1][1], headers[-1][1].removeprefix("Basic "))
    key = cache_key(
        service=service.id,
        authentication=authentication.name,
        token_url=str(url),
        client_id=client_id,
        scopes=scopes,
        extra=extra,
        grant=grant,
    )
    return TokenRequest(
        service=service.id,
        authentication=authentication.name,
        url=url,
        headers=tuple(headers),
        body=urlencode(fields).encode("ascii"),
        scopes=tuple(scopes),
        key=key,
        redact=redact,
        grant=grant,
    )
