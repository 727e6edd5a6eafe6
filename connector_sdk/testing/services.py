"""Services, authentications and runtimes for tests, wired to loopback servers.

``loopback_service`` builds, in code, a client-credentials service whose token endpoint and
API live on a loopback server: for tests of the token layer that need no manifest file.
``make_runtime`` builds a real ``Runtime`` (its own SQLite store in a temporary home,
installed plugins, token manager, network policy) with test-friendly timeouts and backoff,
optionally routed to a local server as ``--local-server`` routes the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._http.retry import RetryPolicy
from .._manifest.model import (
    Authentication,
    ClientCredentialsAuth,
    ParameterSpec,
    RevocationSpec,
    Service,
)
from .._manifest.templates import parse_template
from .._secrets import Secret
from .servers import LoopbackServer

if TYPE_CHECKING:
    from .._runtime.runtime import Runtime

__all__ = ["FAST_RETRY", "authentication", "loopback_service", "make_runtime"]

#: Backoff measured in tens of milliseconds, so retry paths finish fast (same attempts).
FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05)

BEARER_HEADERS = {"Authorization": "{{token_type}} {{access_token}}",
                  "Client-Id": "{{client_id}}"}


def loopback_service(
    server: LoopbackServer | str,
    *,
    service_id: str = "demo",
    title: str = "Demo",
    token_path: str = "/oauth/token",  # noqa: S107 (a path, not a secret)
    api_path: str = "/api",
    headers: Mapping[str, str] | None = None,
    revocation: RevocationSpec | str | None = None,
    extra_parameters: Sequence[ParameterSpec] = (),
    source: str = "connector_sdk.testing",
    **auth: Any,
) -> Service:
    """A service whose token endpoint is ``server + token_path`` and API ``server +
    api_path``, with required parameters ``client_id`` and secret ``client_secret``.

    ``headers`` attach the token (default ``Authorization: {{token_type}} {{access_token}}``
    and ``Client-Id``); ``revocation`` is a path on the server (the token sent as ``token``
    with the ``client_id``) or a full ``RevocationSpec``; other keywords are fields of the
    grant (``scopes``, ``client_auth``, ``default_token_type``...). Only 127.0.0.1 is an
    allowed host: the runtime needs ``allow_loopback``.
    """
    base = server.url if isinstance(server, LoopbackServer) else server.rstrip("/")
    if isinstance(revocation, str):
        revocation = RevocationSpec(
            url=parse_template(base + revocation),
            fields={"client_id": parse_template("{{client_id}}"),
                    "token": parse_template("{{access_token}}")})
    parameters = (
        ParameterSpec("client_id", secret=False, required=True, type="string"),
        ParameterSpec("client_secret", secret=True, required=True, type="string"),
        *extra_parameters,
    )
    return Service(
        id=service_id,
        title=title,
        version="1.0.0",
        description="A service on a loopback test server",
        parameters_schema={"type": "object"},
        parameters=parameters,
        auth=ClientCredentialsAuth(
            token_url=parse_template(base + token_path),
            client_id=parse_template("{{client_id}}"),
            client_secret=parse_template("{{client_secret}}"),
            headers={k: parse_template(v) for k, v in (headers or BEARER_HEADERS).items()},
            revocation=revocation,
            **auth,
        ),
        allowed_hosts=("127.0.0.1",),
        base_url=parse_template(base + api_path),
        operations={},
        source=source,
    )


def authentication(service: Service, name: str = "main", **values: Any) -> Authentication:
    """An unstored authentication of ``service``; values of its secret parameters are
    wrapped in ``Secret`` (as the runtime does), so they are masked wherever shown."""
    secret = service.secret_parameters
    parameters = {k: Secret(v) if k in secret and isinstance(v, str) else v
                  for k, v in values.items()}
    return Authentication(name=name, service=service, parameters=parameters)


def make_runtime(
    home: Path | str,
    *,
    local_server: LoopbackServer | str | None = None,
    timeout: float = 5.0,
    retry: RetryPolicy = FAST_RETRY,
    environ: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> Runtime:
    """A real ``Runtime`` on ``home``: loopback allowed, ``timeout`` seconds per request and
    token call, ``retry`` for the token layer (fast by default), ``environ`` instead of the
    process's environment (empty by default, so a developer's ``CONNECTOR_SDK_*`` variables
    never leak in). ``local_server`` routes every request, keeping its real URL and ``Host``
    header, to that loopback server. Other keywords go to ``Runtime``."""
    from .._http.settings import HttpSettings
    from .._runtime.runtime import Runtime

    kwargs.setdefault("http", HttpSettings(timeout=timeout, allow_loopback=True))
    options = {"retry": retry, **(kwargs.pop("token_manager_options", None) or {})}
    if local_server is not None:
        kwargs["sandbox_url"] = (local_server.url if isinstance(local_server, LoopbackServer)
                                 else local_server)
    return Runtime(environ=dict(environ or {}), home=home, allow_loopback=True,
                   token_manager_options=options, **kwargs)
