"""The conformance suite's secret check: canaries go in, servers echo them back, and no
surface the SDK controls may show one.

Surfaces tried: the authentication's and token's ``repr``/``str``; a token endpoint error
whose body repeats the secret raw, percent-encoded and as the request form; an API error
(through a declarative operation) whose body repeats the token and the secret; and the CLI
(``auth show``, ``auth test``, ``call``) run in-process against the local server, stdout and
stderr. Logs are judged by the canary fixture itself: any canary in a captured log record
fails the test.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

from .._errors import ConnectorSDKError
from .canaries import assert_no_canary
from .servers import Exchange, Reply

if TYPE_CHECKING:
    from .conformance_env import ConformanceEnv

__all__ = ["check_no_leaks"]


def _echo(secrets: list[str], status: int) -> Any:
    """A responder that answers ``status`` with everything the request carried (its form,
    its headers and so its token) and the secret parameters, raw and percent-encoded: what a
    careless provider repeats. Nothing the caller could not know is echoed."""
    def answer(exchange: Exchange) -> Reply:
        carried = [*secrets, *exchange.headers.values()]
        known = ", ".join(carried + [quote(s) for s in carried])
        return Reply(status, json={
            "error": "invalid_request",
            "error_description": f"rejected {exchange.body.decode('latin-1')} ({known})",
            "message": f"headers were {json.dumps(exchange.headers)}"})
    return answer


def _shown(*values: Any) -> str:
    return "\n".join(f"{value!s}\n{value!r}" for value in values)


def check_no_leaks(env: ConformanceEnv, capsys: pytest.CaptureFixture[str],
                   monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = env.secrets
    token = env.runtime.get_token(env.auth)
    assert_no_canary(_shown(env.auth, env.auth.parameters, token), *secrets)

    # A token error starts a cooldown: keep it off env.runtime. The endpoint echoes what it
    # was sent and the secret parameters (a new runtime cannot know tokens issued before).
    fresh = env.fresh_runtime()
    env.tokens.fail_next(_echo(env.parameter_secrets, 400))
    with pytest.raises(ConnectorSDKError) as token_error:
        fresh.get_token(fresh.get_authentication(env.auth.name))
    assert_no_canary(_shown(token_error.value), *secrets)

    operation = _declarative_operation(env)
    if operation is not None:
        from .._operations.calls import call_operation_sync

        name, values, path, method = operation
        env.api.route(method, path, _echo(env.parameter_secrets, 500))
        with pytest.raises(ConnectorSDKError) as api_error:
            call_operation_sync(env.runtime, name, env.auth, values)
        assert_no_canary(_shown(api_error.value), *secrets)

    if env.service.plugin in (None, "conformance-plugin", "conformance-manifest"):
        return  # the CLI sees installed plugins only
    _cli(env, monkeypatch, operation)
    captured = capsys.readouterr()
    assert_no_canary(captured.out + captured.err, *secrets)


def _declarative_operation(env: ConformanceEnv) -> tuple[str, dict[str, Any], str, str] | None:
    """The first declarative operation whose example input is known: name, input, the path
    (under the base URL) it requests, its method."""
    inputs = env.cls.inputs
    for operation in sorted(env.service.operations.values(), key=lambda o: o.id):
        if operation.request is None or operation.scopes:  # scoped: refused before sending
            continue
        values = dict(inputs.get(operation.id, {}))
        if operation.input_schema.get("required") and operation.id not in inputs:
            continue
        path = env.targets.operation_path(env.service, operation, values)
        if path is not None:
            return (f"{env.service.id}.{operation.id}", values,
                    path.removeprefix(env.api.prefix), operation.request.method)
    return None


def _cli(env: ConformanceEnv, monkeypatch: pytest.MonkeyPatch,
         operation: tuple[str, dict[str, Any], str, str] | None) -> None:
    from ..cli import main

    for name in [n for n in os.environ if n.startswith("CONNECTOR_SDK_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CONNECTOR_SDK_HOME", str(env.home))
    monkeypatch.setenv("CONNECTOR_SDK_SANDBOX_URL", env.server.url)
    assert main(["auth", "show", env.auth.name]) == 0
    assert main(["auth", "test", env.auth.name, "--format", "json"]) == 0
    if operation is not None:
        name, values, _, _ = operation
        assert main(["call", name, "--auth", env.auth.name,
                     "--input-json", json.dumps(values)]) == 1  # the API answers 500
