"""Session links, page sessions and CSRF tokens: signed with itsdangerous, spent once.

The page is meant for an iframe on another site, where cookies are third-party (blocked by
Safari and Firefox by default, and by Chrome when the user blocks them), so nothing here
uses a cookie. Authority travels in signed tokens instead (``URLSafeTimedSerializer``:
HMAC-SHA1 over the payload and a timestamp, key derived per salt;
https://itsdangerous.palletsprojects.com/en/stable/url_safe/):

- a **link** (``mint_link``): ``?session=TOKEN`` naming organisation, service and
  authentication name, expiring after ``max_age``. Opening it *spends* it (``SpentLinks``,
  shared by every process), and the page carries a **page session** instead, in a hidden
  form field, so that the bearer value in a URL (history, logs, a proxy's access log) is
  good for one page view and the one that can create an authentication never sits in a URL;
- a **page session** (salt ``page``): the link's id and names, expiring with the link;
  spent once the authentication is created or the authorization begun;
- a **CSRF token** (salt ``csrf``) bound to the page session's id: a form from another page
  session, or made up, is refused. Browsers also say where a post comes from
  (``Sec-Fetch-Site``, https://www.w3.org/TR/fetch-metadata/), which the app checks too.

Each salt gives a different derived key, so one kind of token never passes for another.
Spent ids are recorded by a ``SpentLinks`` (``spent.py``), shared by every process.
"""

from __future__ import annotations

import secrets
import time
import urllib.parse
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .._secrets import reveal
from .config import ConnectPageConfig

__all__ = ["PageSession", "SessionError", "Signer", "mint_link"]

_LINK, _PAGE, _CSRF = "connect-page link", "connect-page page", "connect-page csrf"


class SessionError(Exception):
    """A link, page session or CSRF token is missing, forged, expired or spent; ``reason``
    is one of ``missing``, ``invalid``, ``expired``, ``spent``, ``csrf``. Never shown with a
    token in it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PageSession:
    """What a link or page session names. ``id`` is the link's random id; ``expires_at``
    the wall-clock second after which it is refused."""

    id: str
    organisation: str
    service: str
    name: str
    expires_at: float


class Signer:
    """Signs and checks the three kinds of token with the configuration's key."""

    def __init__(self, config: ConnectPageConfig) -> None:
        key = reveal(config.session_key)
        self.max_age = config.max_age
        self._serializers = {salt: URLSafeTimedSerializer(key, salt=salt)
                             for salt in (_LINK, _PAGE, _CSRF)}

    def _dumps(self, salt: str, payload: object) -> str:
        return str(self._serializers[salt].dumps(payload))

    def _loads(self, salt: str, token: str | None) -> list[str]:
        if not token:
            raise SessionError("missing")
        try:
            payload = self._serializers[salt].loads(token, max_age=self.max_age)
        except SignatureExpired:
            raise SessionError("expired") from None
        except BadSignature:
            raise SessionError("invalid") from None
        if not (isinstance(payload, list) and all(isinstance(p, str) for p in payload)):
            raise SessionError("invalid")
        return payload

    def link_token(self, organisation: str, service: str, name: str) -> str:
        return self._dumps(_LINK, [secrets.token_urlsafe(18), organisation, service, name,
                                   repr(time.time() + self.max_age)])

    def _session(self, salt: str, token: str | None) -> PageSession:
        payload = self._loads(salt, token)
        if len(payload) != 5:
            raise SessionError("invalid")
        try:
            expires = float(payload[4])
        except ValueError:
            raise SessionError("invalid") from None
        if expires < time.time():
            raise SessionError("expired")
        return PageSession(id=payload[0], organisation=payload[1], service=payload[2],
                           name=payload[3], expires_at=expires)

    def open_link(self, token: str | None) -> PageSession:
        """The session a link names, not yet spent-checked; ``SessionError`` otherwise."""
        return self._session(_LINK, token)

    def page_token(self, session: PageSession) -> str:
        return self._dumps(_PAGE, [session.id, session.organisation, session.service,
                                   session.name, repr(session.expires_at)])

    def open_page(self, token: str | None) -> PageSession:
        return self._session(_PAGE, token)

    def csrf_token(self, session: PageSession) -> str:
        return self._dumps(_CSRF, [session.id, secrets.token_urlsafe(8)])

    def check_csrf(self, token: str | None, session: PageSession) -> None:
        """``SessionError("csrf")`` unless ``token`` was made for ``session``."""
        try:
            payload = self._loads(_CSRF, token)
        except SessionError:
            raise SessionError("csrf") from None
        if len(payload) != 2 or not secrets.compare_digest(payload[0], session.id):
            raise SessionError("csrf")


def mint_link(config: ConnectPageConfig, organisation: str, service: str, name: str, *,
              base_url: str | None = None) -> str:
    """A signed, expiring, single-use link to the page of ``organisation`` for creating the
    authentication ``name`` of ``service``.

    The link is on the organisation's white-labelled origin (its redirect URL's) unless
    ``base_url`` (where the app is mounted, on that domain) is given. The platform mints it
    server-side, once per end user who connects an account, and puts it in its iframe.
    """
    org = config.organisation(organisation)
    if service not in org.services:
        from .._errors import ConfigError

        raise ConfigError(f"organisation '{organisation}' has no service '{service}' in"
                          f" {config.source} (its services: {', '.join(org.services)})",
                          setting="connect-page config")
    token = Signer(config).link_token(organisation, service, name)
    base = (base_url or org.origin).rstrip("/")
    return f"{base}/?{urllib.parse.urlencode({'session': token})}"
