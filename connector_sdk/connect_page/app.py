"""The connect page as an ASGI application (Starlette): ``create_app(runtime, config)``.

Routes (relative to where the app is mounted):

- ``GET /?session=LINK``: checks the link (signature, expiry, the organisation's domain),
  spends it, and shows the form for its service with a page session and a CSRF token in
  hidden fields;
- ``POST /``: checks the page session, the CSRF token, ``Sec-Fetch-Site`` and the domain,
  then connects: client credentials are created and tested, the authorization code goes to
  the provider (302);
- ``GET <the organisation's redirect URL path>``: the provider's callback, completed by the
  runtime for the organisation whose domain it arrived on;
- ``GET /static/connect.css``, ``GET /brand/ORG.css``: the stylesheets.

Every refusal is a page saying what happened and what to do (403 for a session problem or
the wrong domain), never a traceback. The runtime's calls are synchronous (store, token
endpoint), so they run in Starlette's thread pool, never on the event loop.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from .._auth.parameters import validate_parameters
from .._errors import ConfigError, ConnectorSDKError, ParameterError
from .._manifest.model import Service
from . import actions
from .config import SETTING, Branding, ConnectPageConfig, Organisation
from .form import build_fields, read_form_values
from .headers import SecurityHeaders, content_security_policy, provider_origins
from .pages import brand_css, render, stylesheet, summary
from .sessions import PageSession, SessionError, Signer
from .spent import SpentLinks, default_spent_links

if TYPE_CHECKING:
    from .._runtime.runtime import Runtime
    from ..sandbox import SandboxServer

__all__ = ["check_services", "create_app"]

log = logging.getLogger("connector_sdk.connect_page")

_REFUSED = {
    "missing": ("This page needs a link",
                "It opens only from a link the platform gives you: go back and open it from"
                " there."),
    "invalid": ("This link is not valid",
                "It may have been changed or cut short: ask for a new link."),
    "expired": ("This link has expired", "Ask for a new link and use it within a few"
                " minutes."),
    "spent": ("This link has already been used",
              "Each link works once: ask for a new link."),
    "csrf": ("This form could not be accepted",
             "Its security token is missing or belongs to another page: open a new link and"
             " fill in the form again."),
    "domain": ("This page is on the wrong domain",
               "The link belongs to another organisation's domain: open the link exactly as"
               " the platform gave it."),
    "attempts": ("Too many attempts",
                 "The provider refused the values several times: check them where you got"
                 " them, then ask for a new link."),
    "cross-site": ("This form could not be accepted",
                   "It was sent from another site: open a new link and fill in the form"
                   " on this page."),
}

#: What the end user reads when the provider's callback is refused (``AuthorizationError``
#: reasons); any other reason shows the runtime's own message.
_CALLBACK_REFUSED = {
    "access_denied": "You did not approve access at the provider.",
    "state_expired": "The approval took too long: the request expired.",
    "state_replayed": "This approval was already used.",
    "state_unknown": "This approval does not belong to a connection started here.",
    "organisation_mismatch": "This approval was started on another organisation's page.",
}


def check_services(config: ConnectPageConfig, runtime: Runtime) -> None:
    """Every configured service is installed, offers the grant, and its fixed parameters
    exist, a secret one only from the environment; ``ConfigError`` naming file:line."""
    problems: list[str] = []
    for org in config.organisations.values():
        for choice in org.services.values():
            try:
                service: Service = runtime.service(choice.service)
            except ConnectorSDKError as exc:
                problems.append(f"{choice.where}: {exc}")
                continue
            grants = tuple(getattr(service.auth, "grants", (service.auth.grant,)))
            grant = actions.grant_of(service, choice)
            if grant not in grants:
                problems.append(f"{choice.where}: service '{service.id}' offers the grants"
                                f" {', '.join(grants)}, not {grant}: choose one of those")
            elif grant == "authorization_code" and \
                    not callable(getattr(runtime, "begin_authorization", None)):
                problems.append(f"{choice.where}: this SDK's runtime has no authorization-code"
                                " flow (begin_authorization): upgrade connector-sdk")
            for name in choice.fixed:
                spec = service.parameter(name)
                if spec is None:
                    known = ", ".join(p.name for p in service.parameters)
                    problems.append(f"{choice.where}: fixed parameter '{name}' is not a"
                                    f" parameter of service '{service.id}' ({known})")
                elif spec.secret and name not in choice.from_env:
                    problems.append(f"{choice.where}: fixed parameter '{name}' is secret: write"
                                    f" it as '@env:VARIABLE' and set the variable, never in"
                                    " clear in the file")
            problems += [f"{choice.where}: fixed parameter '{name}' {reason}"
                         for name, reason in _fixed_problems(service, choice.fixed)]
    if problems:
        raise ConfigError(f"{config.source}: the configuration does not fit the installed"
                          " services:\n  " + "\n  ".join(problems), setting=SETTING)


def _fixed_problems(service: Service, fixed: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The schema's reasons against the fixed values themselves (the others are typed
    later), from the runtime's own check, which never quotes a value."""
    try:
        validate_parameters(service, fixed)
    except ParameterError as exc:
        return [(name, ", ".join(reasons)) for name, reasons in sorted(exc.fields.items())
                if name in fixed]
    return []


def _hostname(request: Request) -> str:
    host = request.headers.get("host", "")
    return (urllib.parse.urlsplit(f"//{host}").hostname or "").lower()


#: Refused token requests one page session may make; the last one spends it.
MAX_TOKEN_FAILURES = 5
#: Our forms are a few short fields; a larger body is not one of them (and is not read).
MAX_FORM_BYTES = 64 * 1024


async def _read_form(request: Request) -> dict[str, str] | None:
    """The posted ``application/x-www-form-urlencoded`` fields (the first of a repeated
    name), read up to ``MAX_FORM_BYTES``; None for any other body (another type, too large,
    not UTF-8, too many fields). Parsed with the standard library: the page's forms are
    never multipart, so no multipart parser is needed."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                                       max_num_fields=200, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return None
    posted: dict[str, str] = {}
    for name, value in pairs:
        posted.setdefault(name, value)
    return posted


@dataclass
class _Page:
    """What every handler needs: the configuration, the runtime and the page's tools."""

    config: ConnectPageConfig
    runtime: Runtime
    signer: Signer
    spent: SpentLinks
    sandbox: SandboxServer | None

    def html(self, request: Request, template: str, *, status: int = 200,
             organisation: Organisation | None = None, form_origins: Sequence[str] = (),
             **context: Any) -> HTMLResponse:
        branding = organisation.branding if organisation else Branding()
        body = render(template, root=request.scope.get("root_path", ""),
                      organisation=organisation.name if organisation else None,
                      branding=branding, **context)
        headers = {}
        if organisation is not None:
            headers["Content-Security-Policy"] = content_security_policy(
                logo_origin=branding.logo_origin, form_origins=form_origins,
                frame_ancestors=organisation.frame_ancestors)
        return HTMLResponse(body, status_code=status, headers=headers)

    def refused(self, request: Request, reason: str) -> HTMLResponse:
        title, text = _REFUSED[reason]
        log.warning("connect page: refused %s %s: %s", request.method, request.url.path, reason)
        return self.html(request, "message.html", status=403, title=title, kind="failure",
                         paragraphs=[text])

    def session_org(self, request: Request, session: PageSession) -> Organisation:
        org = self.config.organisations.get(session.organisation)
        if org is None or session.service not in org.services:
            raise SessionError("invalid")
        if _hostname(request) != org.host:
            raise SessionError("domain")
        return org

    def form(self, request: Request, session: PageSession, org: Organisation, *,
             shown: Mapping[str, str] | None = None,
             refusal: actions.Refusal | None = None, status: int = 200) -> HTMLResponse:
        choice = org.services[session.service]
        service: Service = self.runtime.service(session.service)
        refusal = refusal or actions.Refusal()
        fields = build_fields(service, choice.fixed, shown=shown, errors=refusal.fields)
        shown_names = {f.name for f in fields}
        other = {n: r for n, r in refusal.fields.items() if n not in shown_names}
        if refusal.general:
            other[""] = refusal.general
        labels = {p.name: p.title or p.name for p in service.parameters}
        authorization = actions.grant_of(service, choice) == "authorization_code"
        origins = provider_origins(
            service, sandbox_origin=self.sandbox.url if self.sandbox is not None else None
        ) if authorization else []
        return self.html(
            request, "form.html", status=status, organisation=org, form_origins=origins,
            title=f"Connect {service.title}", service_title=service.title,
            name=session.name, fields=fields, summary=summary(fields, other, labels),
            authorization=authorization,
            action=request.url.path, page_token=self.signer.page_token(session),
            csrf_token=self.signer.csrf_token(session))

    def _count_failure(self, session: PageSession) -> bool:
        """Record one refused token request of ``session``; False once it had
        ``MAX_TOKEN_FAILURES`` (a page is not a way to try secrets at the provider)."""
        return any(self.spent.claim(f"failure:{session.id}:{n}", session.expires_at)
                   for n in range(MAX_TOKEN_FAILURES - 1))

    async def show(self, request: Request) -> Response:
        try:
            session = self.signer.open_link(request.query_params.get("session"))
            org = self.session_org(request, session)
            if not await run_in_threadpool(self.spent.claim, f"link:{session.id}",
                                           session.expires_at):
                raise SessionError("spent")
        except SessionError as exc:
            return self.refused(request, exc.reason)
        return self.form(request, session, org)

    async def submit(self, request: Request) -> Response:
        posted = await _read_form(request)
        if posted is None:
            return self.html(request, "message.html", status=400, title="This form could not"
                             " be read", kind="failure", paragraphs=[
                                 "Open a new link and fill in the form again."])
        try:
            session = self.signer.open_page(posted.get("page"))
            org = self.session_org(request, session)
            if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin",
                                                                            "none"):
                raise SessionError("cross-site")
            self.signer.check_csrf(posted.get("csrf"), session)
        except SessionError as exc:
            return self.refused(request, exc.reason)
        choice = org.services[session.service]
        service: Service = self.runtime.service(session.service)
        typed = read_form_values(service, choice.fixed, posted)
        if typed.errors:
            return self.form(request, session, org, shown=typed.shown,
                             refusal=actions.Refusal(fields=typed.errors), status=400)
        authorization = actions.grant_of(service, choice) == "authorization_code"
        claim = f"page:{session.id}"  # held while this post connects, kept once it did
        if not await run_in_threadpool(self.spent.claim, claim, session.expires_at):
            return self.refused(request, "spent")
        try:
            if authorization:
                url = await run_in_threadpool(actions.begin, self.runtime, service, choice,
                                              session.name, typed.values, org.name)
            else:
                await run_in_threadpool(actions.connect_client_credentials, self.runtime,
                                        service, choice, session.name, typed.values)
        except actions.Refusal as refusal:
            if refusal.token_request and not await run_in_threadpool(
                    self._count_failure, session):
                return self.refused(request, "attempts")  # the page session stays spent
            await run_in_threadpool(self.spent.release, claim)
            return self.form(request, session, org, shown=typed.shown, refusal=refusal,
                             status=400)
        except BaseException:
            await run_in_threadpool(self.spent.release, claim)
            raise
        if authorization:
            if self.sandbox is not None:
                url = self.sandbox.browser_url(url)
            return RedirectResponse(url, status_code=302)
        return self.done(request, org, service, session.name)

    def done(self, request: Request, org: Organisation, service: Service,
             name: str) -> HTMLResponse:
        return self.html(request, "message.html", organisation=org,
                         title=f"{service.title} is connected", kind="success",
                         paragraphs=[f"The connection '{name}' works and is saved. You can"
                                     " close this page."])

    async def callback(self, request: Request) -> Response:
        org = self.config.redirects.organisation_for_host(_hostname(request))
        page_org = self.config.organisations.get(org.name) if org else None
        if page_org is None or request.url.path != page_org.callback_path:
            return self.html(request, "message.html", status=404, title="Page not found",
                             kind="failure", paragraphs=["There is nothing at this address."])
        query = request.url.query
        callback_url = page_org.redirect_url + (f"?{query}" if query else "")
        try:
            record = await run_in_threadpool(actions.complete, self.runtime, callback_url,
                                             page_org.name)
        except ConnectorSDKError as exc:
            reason = getattr(exc, "reason", type(exc).__name__)
            log.warning("connect page: callback for organisation %s refused: %s",
                        page_org.name, reason)
            first = _CALLBACK_REFUSED.get(str(reason), str(exc))
            return self.html(request, "message.html", status=400, organisation=page_org,
                             title="The connection was not made", kind="failure",
                             paragraphs=[first, "Nothing was saved. Ask for a new link to"
                                         " try again."])
        service = self.runtime.service(record.service)
        log.info("connect page: authentication %r of service %s connected for %s",
                 record.name, record.service, page_org.name)
        return self.done(request, page_org, service, record.name)

    async def css(self, request: Request) -> Response:
        return Response(stylesheet(), media_type="text/css")

    async def brand(self, request: Request) -> Response:
        org = self.config.organisations.get(request.path_params["organisation"])
        if org is None:
            return Response("/* unknown organisation */\n", status_code=404,
                            media_type="text/css")
        return Response(brand_css(org.branding), media_type="text/css")


def create_app(runtime: Runtime, config: ConnectPageConfig, *,
               spent_links: SpentLinks | None = None,
               sandbox: SandboxServer | None = None) -> ASGIApp:
    """The connect page for ``config``'s organisations, connecting through ``runtime``.

    ``spent_links`` records spent links and page sessions (default: on the runtime's
    store, ``spent.default_spent_links``).
    ``sandbox``: a started ``SandboxServer`` over the runtime's emulators, for ``--sandbox``:
    authorization URLs are rewritten with its ``browser_url`` so a browser reaches the
    emulator's consent page. Raises ``ConfigError`` when the configuration does not fit the
    installed services.
    """
    check_services(config, runtime)
    if spent_links is None:
        spent_links = default_spent_links(runtime)
    page = _Page(config=config, runtime=runtime, signer=Signer(config), spent=spent_links,
                 sandbox=sandbox)
    routes = [
        Route("/", page.show, methods=["GET"]),
        Route("/", page.submit, methods=["POST"]),
        Route("/static/connect.css", page.css, methods=["GET"]),
        Route("/brand/{organisation}.css", page.brand, methods=["GET"]),
        Route("/{path:path}", page.callback, methods=["GET"]),
    ]
    # Outside Starlette's own error middleware, so that a 500 carries the headers too.
    return SecurityHeaders(Starlette(routes=routes))
