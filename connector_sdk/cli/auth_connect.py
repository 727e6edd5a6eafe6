"""``connector-sdk auth connect`` and ``auth update``: a user's consent from a terminal, and
changed parameters tested before they are saved.

``auth connect SERVICE --name NAME`` runs the authorization-code flow for a person at a
terminal (RFC 8252, OAuth 2.0 for native apps): a callback listener on the loopback
interface (``http://127.0.0.1:PORT/callback``, §7.3; any port, ``--port`` to fix one the
app registered), and the URL to open, ``http://127.0.0.1:PORT/``, which sends the browser
on to the provider's authorization URL. So neither the state nor anything secret is ever
printed, and a terminal's scroll-back holds nothing worth stealing. Any process on the machine
can reach the listener, so the state alone does not say the answer is this user's: ``/``
serves its redirect once only, setting a random cookie (HttpOnly, SameSite=Lax, host-only on
127.0.0.1, named with the port and a random suffix since cookies are per host, not per port),
and ``/callback`` accepts only a browser that shows that cookie (compared in constant time) as
well as the state (RFC 9700 §4.7, binding the answer to the browser that began the flow; RFC
8252 §8.1). Another process that opens ``/`` first leaves the user a page saying the link was
already opened. It waits ``--timeout``
seconds for the provider to come back, completes the authorization (state, signature,
code exchange) and prints what was connected, never a token.

``auth update NAME --param KEY=VALUE`` changes parameters (``_runtime.updates``): a
changed secret is tested with one token request before anything is saved; the save is
atomic and drops the tokens held for the old values.
"""

from __future__ import annotations

import argparse
import hmac
import secrets
import sys
import threading
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ._common import add_runtime_arguments, emit_json, make_runtime, read_parameters
from ._usage import UsageError

__all__ = ["add_arguments", "run_connect", "run_update"]

_PAGE = ("<!doctype html><meta charset=utf-8><title>connector-sdk</title>"
         "<p>{text}</p>").format


def add_arguments(sub: Any) -> None:
    """Add ``connect`` and ``update`` to the ``auth`` subcommands."""
    connect = sub.add_parser("connect", help="connect a user's account (authorization code,"
                             " in a browser)")
    connect.add_argument("service", help="service id (see `connector-sdk services`)")
    connect.add_argument("--name", required=True, help="name of the authentication (an"
                         " existing one of this service is connected again)")
    connect.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                         help="a parameter; secrets as KEY=@env:VAR or KEY=@file:PATH, or"
                              " omitted to be prompted")
    connect.add_argument("--scope", action="append", default=None, metavar="SCOPE",
                         help="a scope to ask for (repeat; default: the manifest's)")
    connect.add_argument("--port", type=int, default=0,
                         help="loopback port of the callback listener (default: any free)")
    connect.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                         help="how long to wait for the provider's callback (default 300)")
    add_runtime_arguments(connect)
    update = sub.add_parser("update", help="change parameters (a changed secret is tested"
                            " before it is saved)")
    update.add_argument("name")
    update.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        required=True, help="a parameter to change; secrets as KEY=@env:VAR"
                                            " or KEY=@file:PATH")
    add_runtime_arguments(update)


class _Listener(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, start_url: str | None = None) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.start_url = start_url
        self.state = ""
        self.callback: str | None = None
        self.arrived = threading.Event()
        # the browser that opened ``/`` first, and only it, may deliver the callback
        self.cookie_name = f"connector_sdk_{self.server_port}_{secrets.token_hex(4)}"
        self.cookie_value = secrets.token_urlsafe(32)
        self.opened = False
        self.lock = threading.Lock()

    def open_once(self) -> bool:
        """True for the first caller only: ``/`` hands out the state (and the cookie) once."""
        with self.lock:
            first, self.opened = not self.opened, True
        return first

    def is_starting_browser(self, cookie_header: str | None) -> bool:
        """Whether the request carries the cookie ``/`` set (constant-time comparison)."""
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(cookie_header or "")
        except CookieError:
            return False
        morsel = jar.get(self.cookie_name)
        shown = morsel.value if morsel is not None else ""
        return hmac.compare_digest(shown.encode("utf-8", "surrogatepass"),
                                   self.cookie_value.encode())


class _Handler(BaseHTTPRequestHandler):
    server: _Listener

    def log_message(self, format: str, *args: Any) -> None:  # the URL holds the code
        pass

    def _send(self, status: int, text: str, location: str | None = None,
              cookie: str | None = None) -> None:
        body = _PAGE(text=text).encode()
        self.send_response(status)
        for name, value in (("Content-Type", "text/html; charset=utf-8"),
                            ("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer"),
                            ("Content-Length", str(len(body)))):
            self.send_header(name, value)
        if location:
            self.send_header("Location", location)
        if cookie:
            self.send_header("Set-Cookie", cookie)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        server = self.server
        if parts.path == "/" and server.start_url:
            if not server.open_once():
                self._send(409, "This link was already opened, so it no longer leads on to"
                           " the provider. If it was not you who opened it, stop the command"
                           " in the terminal (Ctrl-C) and run it again.")
                return
            # host-only (no Domain): 127.0.0.1; no Secure since the listener is plain HTTP
            cookie = (f"{server.cookie_name}={server.cookie_value}; HttpOnly; SameSite=Lax;"
                      " Path=/")
            self._send(302, "Continue to the provider.", server.start_url, cookie)
        elif parts.path == "/callback":
            states = [v for k, v in parse_qsl(parts.query) if k == "state"]
            browser = server.is_starting_browser(self.headers.get("Cookie"))
            if not browser or len(states) != 1 or not hmac.compare_digest(
                    states[0].encode("utf-8", "surrogatepass"), server.state.encode()):
                self._send(400, "This is not the answer to the authorization this terminal"
                           " began; nothing was done.")
                return
            if self.server.callback is None:
                self.server.callback = f"http://127.0.0.1:{self.server.server_port}{self.path}"
                self.server.arrived.set()
            self._send(200, "Done: you can close this window and return to the terminal.")
        else:
            self._send(404, "Not found.")


def _browser_url(args: argparse.Namespace, url: str) -> str:
    """The provider's URL as a browser opens it: through the loopback sandbox server's
    ``/_sandbox/HOST`` prefix when requests are routed to one (``--local-server``,
    ``CONNECTOR_SDK_SANDBOX_URL``: ``SandboxServer.browser_url``)."""
    import os

    route = args.local_server or os.environ.get("CONNECTOR_SDK_SANDBOX_URL", "").strip()
    if not route:
        return url
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    return f"{route.rstrip('/')}/_sandbox/{parts.netloc}{parts.path}{query}"


def run_connect(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: give a port between 1 and 65535 (0: any)")
    if not args.timeout > 0:
        raise UsageError("--timeout must be a positive number of seconds")
    with make_runtime(args) as runtime:
        service = runtime.service(args.service)
        values = read_parameters(service, args.param, prompt=True)
        try:
            listener = _Listener(args.port)
        except OSError as exc:
            raise UsageError(f"--port {args.port}: cannot listen on 127.0.0.1 ({exc.strerror});"
                             " choose another port, or leave --port out") from None
        with listener:
            redirect = f"http://127.0.0.1:{listener.server_port}/callback"
            begun = runtime.begin_authorization(service.id, args.name, values,
                                                scopes=args.scope, redirect_url=redirect)
            listener.state, listener.start_url = begun.state, _browser_url(args, begun.url)
            thread = threading.Thread(target=listener.serve_forever, daemon=True)
            thread.start()
            print(f"Open http://127.0.0.1:{listener.server_port}/ in a browser on this machine"
                  f" to connect '{args.name}' ({service.id}); the provider will send it back"
                  f" to {redirect}", flush=True)
            print(f"waiting up to {args.timeout:g} s ...", file=sys.stderr, flush=True)
            arrived = listener.arrived.wait(args.timeout)
            listener.shutdown()
        if not arrived or listener.callback is None:
            print(f"error: no answer from the provider within {args.timeout:g} s; run the"
                  " command again (and --timeout for more time)", file=sys.stderr)
            return 1
        record = runtime.complete_authorization(listener.callback)
        token = runtime.get_token(record.name)
        where = runtime.store.describe()
    view = {"name": record.name, "service": record.service, "grant": record.grant,
            "status": record.status, "scopes": list(token.scopes)}
    if args.format == "json":
        emit_json(view)
    else:
        print(f"connected authentication '{record.name}' for service '{record.service}'"
              f" (scopes: {', '.join(token.scopes) or 'none'}) in {where}")
    return 0


def run_update(args: argparse.Namespace) -> int:
    from .._runtime.updates import update_parameters

    with make_runtime(args) as runtime:
        record = runtime.store.get(args.name)
        service = runtime.service(record.service)
        changes = read_parameters(service, args.param, prompt=False, complete=False)
        updated = update_parameters(runtime, args.name, changes)
    view = {"name": updated.name, "service": updated.service, "changed": list(updated.changed),
            "tested": updated.tested, "version": updated.version}
    if args.format == "json":
        emit_json(view)
    else:
        tested = "; tested with a token request first" if updated.tested else ""
        print(f"updated authentication '{updated.name}': {', '.join(updated.changed) or 'no'}"
              f" parameter(s) changed{tested}; its cached tokens were dropped")
    return 0
