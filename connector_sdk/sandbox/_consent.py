"""The authorization-code grant's server side, shared by every emulator that offers it.

One implementation of what RFC 6749 §4.1 asks of an authorization server, so that each
emulator only parses its provider's parameters and shapes its provider's answers:

* **Consent page** (``consent_page``): plain HTML, no script, an Approve and a Deny button
  in one form that POSTs to a *relative* URL carrying a one-time consent id, so the page works
  both on the real host and behind ``SandboxServer.browser_url``'s ``/_sandbox/HOST`` prefix.
  The consent id is random, single-use and expires (``consent_lifetime``, 10 minutes).
* **Decision** (``decision``): reads the consent id and the pressed button; an unknown, spent
  or expired id is an error page, never a redirect.
* **Codes** (``issue_code``/``redeem_code``): random, single-use, expiring after
  ``code_lifetime`` (10 minutes, the maximum RFC 6749 §4.1.2 recommends). Redeeming a code a
  second time fails *and* revokes every token issued from it (RFC 6749 §4.1.2, §10.5).
* **Refresh tokens** (``issue_refresh``/``rotate_refresh``): rotated on every use; a spent
  one is refused (RFC 9700 §4.14.2, refresh-token rotation). A refused reuse does not revoke
  the rest of the chain: two processes racing on one token must see one success and one
  ``invalid_grant``, not lose the authentication, and no provider here documents more.
* **Redirect URIs** (``redirect_allowed``): exact match with a registered URI, or any port and
  path of a loopback host (RFC 8252 §7.3: 127.0.0.0/8, ``::1``, ``localhost``, ``*.localhost``).

State lives in the emulator's ``ConsentFlows`` object and changes only under the emulator's
lock (every method is called from ``handle``); time comes from the emulator's clock.
"""

from __future__ import annotations

import html
import ipaddress
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .._http.seam import httpx
from ._base import LOWER_ALNUM, Clock, read_form

__all__ = ["ConsentFlows", "Grant", "error_page", "redirect_allowed", "redirect_with"]

_PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    # A consent page must not be framed (clickjacking, RFC 6749 §10.13) and runs no script.
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
_STYLE = ("body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;"
          "line-height:1.5;color:#1b1b1b}button{font-size:1rem;padding:.5rem 1.5rem;"
          "margin-right:1rem}code{background:#eee;padding:0 .2rem}")


@dataclass(frozen=True)
class Grant:
    """What a user approved for a client; a code and the tokens issued from it carry it.

    ``extras`` holds what the provider binds to the grant besides RFC 6749's fields (a shop,
    an access mode, a PKCE challenge). ``family`` is set when a code is issued and shared by
    every token descended from that code, so a replayed code can revoke them all.
    """

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    subject: str
    state: str | None = None
    extras: Mapping[str, str] = field(default_factory=dict)
    family: str = ""


@dataclass
class _Pending:
    grant: Grant
    expires_at: float


@dataclass
class _Code:
    grant: Grant
    expires_at: float
    used: bool = False


@dataclass
class _Refresh:
    grant: Grant
    expires_at: float | None
    spent: bool = False


def _page(status: int, title: str, body: str) -> httpx.Response:
    text = (f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
            f"<body>\n<main>\n{body}</main>\n</body>\n</html>\n")
    return httpx.Response(status, content=text.encode(), headers=_PAGE_HEADERS)


def error_page(status: int, title: str, message: str) -> httpx.Response:
    """An HTML error page: what an authorization server shows instead of redirecting when
    the client or its redirect URI cannot be trusted (RFC 6749 §4.1.2.1)."""
    body = f"<h1>{html.escape(title)}</h1>\n<p>{html.escape(message)}</p>\n"
    return _page(status, title, body)


def redirect_with(redirect_uri: str, params: Mapping[str, str]) -> httpx.Response:
    """A 302 to ``redirect_uri`` with ``params`` added to its query (its own query kept,
    RFC 6749 §3.1.2)."""
    parts = urlsplit(redirect_uri)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    location = urlunsplit(parts._replace(query=urlencode(query), fragment=""))
    return httpx.Response(302, headers={"Location": location, "Cache-Control": "no-store"})


def _is_loopback(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True  # RFC 6761 §6.3: always the loopback interface
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def redirect_allowed(uri: str, registered: Iterable[str]) -> bool:
    """True when the authorization server may redirect to ``uri``.

    ``uri`` must equal one of ``registered`` exactly, or be an ``http``/``https`` URL of a
    loopback host on any port and path (RFC 8252 §7.3, for native apps and tests). A URI with
    a fragment never is (RFC 6749 §3.1.2).
    """
    try:
        parts = urlsplit(uri)
        hostname = parts.hostname or ""
        parts.port  # noqa: B018 - a malformed port raises ValueError
    except ValueError:
        return False
    if parts.fragment or "#" in uri:
        return False
    if uri in registered:
        return True
    return parts.scheme in ("http", "https") and bool(hostname) and _is_loopback(hostname)


class ConsentFlows:
    """Consent ids, authorization codes and refresh tokens of one emulator.

    ``clock`` is the emulator's; ``revoke_access(token)`` revokes an access token the
    emulator minted (called when a replayed code revokes its family). Every method is called
    under the emulator's lock.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        revoke_access: Callable[[str], None] | None = None,
        code_lifetime: float = 600.0,
        consent_lifetime: float = 600.0,
    ) -> None:
        self.clock = clock
        self.revoke_access = revoke_access
        self.code_lifetime = code_lifetime
        self.consent_lifetime = consent_lifetime
        self._pending: dict[str, _Pending] = {}
        self._codes: dict[str, _Code] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._families: dict[str, list[str]] = {}
        self._remembered: dict[tuple[str, str], set[str]] = {}

    # consent ------------------------------------------------------------------------------

    def consent_page(
        self,
        grant: Grant,
        *,
        service: str,
        client_name: str,
        account: str,
        action: str,
        scope_descriptions: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Remember ``grant`` under a new consent id and answer the consent page.

        ``action`` is the relative URL the form posts to (resolved against the page's URL);
        the consent id is added to its query. ``scope_descriptions`` may explain scopes.
        """
        consent_id = secrets.token_urlsafe(24)
        self._pending[consent_id] = _Pending(grant, self.clock() + self.consent_lifetime)
        describe = scope_descriptions or {}
        if grant.scopes:
            items = "".join(
                f"<li><code>{html.escape(s)}</code>"
                + (f": {html.escape(describe[s])}" if s in describe else "") + "</li>\n"
                for s in grant.scopes)
            scopes = f"<h2>It asks for</h2>\n<ul>\n{items}</ul>\n"
        else:
            scopes = "<p>It asks for no scopes: your public information only.</p>\n"
        back = urlsplit(grant.redirect_uri).netloc
        name, who = html.escape(client_name), html.escape(account)
        target = f"{action}?{urlencode({'consent_id': consent_id})}"
        body = (f"<h1>Authorize {name}</h1>\n"
                f"<p>{name} wants to access the {html.escape(service)} account "
                f"<strong>{who}</strong>. This is an emulator: nothing real is shared.</p>\n"
                f"{scopes}<p>Either answer takes you back to "
                f"<strong>{html.escape(back)}</strong>.</p>\n"
                f'<form method="post" action="{html.escape(target)}">\n'
                '<button type="submit" name="decision" value="approve">Approve</button>\n'
                '<button type="submit" name="decision" value="deny">Deny</button>\n'
                "</form>\n")
        return _page(200, f"Authorize {client_name} - {service} (emulator)", body)

    def decision(self, request: httpx.Request) -> tuple[Grant, bool] | httpx.Response:
        """The grant and whether it was approved, from the consent form's POST; or the
        error page to answer (unknown, spent or expired consent id; no decision)."""
        if request.method != "POST":
            return error_page(405, "Method not allowed", "The consent form is sent with POST.")
        decision = (read_form(request) or {}).get("decision")
        if decision not in ("approve", "deny"):
            return error_page(400, "No decision", "Press Approve or Deny on the consent page.")
        pending = self._pending.pop(request.url.params.get("consent_id", ""), None)
        if pending is None or self.clock() >= pending.expires_at:
            return error_page(400, "Consent request not found",
                              "This consent request is unknown, expired or already answered; "
                              "start again from the application.")
        if decision == "approve":
            key = (pending.grant.client_id, pending.grant.subject)
            self._remembered.setdefault(key, set()).update(pending.grant.scopes)
        return pending.grant, decision == "approve"

    def remembered(self, grant: Grant) -> bool:
        """True when the user already approved these scopes for this client (a provider may
        then skip the page, as Twitch does without ``force_verify``)."""
        granted = self._remembered.get((grant.client_id, grant.subject))
        return granted is not None and set(grant.scopes) <= granted

    # codes --------------------------------------------------------------------------------

    def issue_code(self, grant: Grant, *, length: int = 30, alphabet: str = LOWER_ALNUM) -> str:
        """A new single-use code for ``grant``, valid for ``code_lifetime`` seconds."""
        code = "".join(secrets.choice(alphabet) for _ in range(length))
        family = secrets.token_hex(8)
        self._families[family] = []
        self._codes[code] = _Code(replace(grant, family=family),
                                  self.clock() + self.code_lifetime)
        return code

    def redeem_code(self, code: str, *, client_id: str) -> Grant | None:
        """The grant of ``code`` if it is unused, unexpired and was issued to ``client_id``;
        the code is spent either way. A second redemption returns None and revokes every
        token issued from the code."""
        entry = self._codes.get(code)
        if entry is None:
            return None
        if entry.used:
            self.revoke_family(entry.grant.family)
            return None
        entry.used = True
        if entry.grant.client_id != client_id or self.clock() >= entry.expires_at:
            return None
        return entry.grant

    # tokens -------------------------------------------------------------------------------

    def track(self, grant: Grant, access_token: str) -> None:
        """Remember that ``access_token`` was issued from ``grant``'s code."""
        self._families.setdefault(grant.family, []).append(access_token)

    def issue_refresh(
        self, grant: Grant, *, lifetime: float | None = None, prefix: str = "",
        length: int = 50, alphabet: str = LOWER_ALNUM,
    ) -> str:
        """A new refresh token for ``grant`` (``lifetime`` seconds, None: no expiry)."""
        token = prefix + "".join(secrets.choice(alphabet) for _ in range(length))
        expires_at = None if lifetime is None else self.clock() + lifetime
        self._refresh[token] = _Refresh(grant, expires_at)
        return token

    def rotate_refresh(self, token: str, *, client_id: str) -> Grant | None:
        """Spend ``token`` and return its grant (the caller issues the next pair), or None
        when it is unknown, spent, expired or another client's."""
        entry = self._refresh.get(token)
        if entry is None or entry.spent or entry.grant.client_id != client_id:
            return None
        entry.spent = True
        if entry.expires_at is not None and self.clock() >= entry.expires_at:
            return None
        return entry.grant

    def revoke_family(self, family: str) -> None:
        """Revoke every access token and refresh token issued from one code."""
        for token in self._families.get(family, ()):
            if self.revoke_access is not None:
                self.revoke_access(token)
        for entry in self._refresh.values():
            if entry.grant.family == family:
                entry.spent = True

    def revoke_all(self) -> None:
        """Revoke every token issued from every code: the user revoked the application."""
        for family in list(self._families):
            self.revoke_family(family)

    @property
    def refresh_tokens_spent(self) -> int:
        """How many refresh tokens have been spent (rotated or revoked)."""
        return sum(1 for entry in self._refresh.values() if entry.spent)
