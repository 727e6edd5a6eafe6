"""The standard conformance suite: what every connector gets by subclassing one class.

::

    from connector_sdk.testing import ConnectorConformance

    class TestAcmeConformance(ConnectorConformance):
        service_id = "acme"
        parameters = {"tenant": "demo"}                       # non-secret values
        inputs = {"get_item": {"id": "42"}}                   # one example per operation
        responses = {"list_items": {"items": []}, "get_item": {"id": "42"}}

The checks, each a test of the subclass (``pytest -k Conformance`` runs them):

- ``test_manifest_validates``: the manifest has no problem ``connector-sdk validate`` reports,
  and ``test_plugin_loads``: the plugin loads without failures and registers the service.
- ``test_operation_declares_an_input_schema[op]``: every operation has an object input schema.
- ``test_operation_runs[op]``: every operation runs, with ``inputs[op]``, against the
  service's emulator (when its plugin registers one and ``emulated`` is not False), else
  against ``responses[op]`` (a declarative operation's answer), ``routes`` (what a handler
  requests) or the recording ``cassette``, served by the kit's loopback API; its output
  matches the operation's ``output`` schema when it declares one.
- ``test_one_token_request_under_concurrency``: 12 threads asking for a token while the
  token endpoint is slow make one token request.
- ``test_a_401_is_answered_by_one_refresh``: a token the server expired gets a 401 and
  exactly one new token request, and the call succeeds.
- ``test_retry_after_is_honoured``: a 429 with ``Retry-After: 1`` is waited out, then retried.
- ``test_no_secret_leaks``: with canary secrets and tokens, a token endpoint and an API that
  echo them back in errors, and the CLI (``auth test``, ``call``) run against the local
  server, no canary appears in any message, repr, output or log.

The token and 401 checks need no emulator: the kit's ``TokenServer`` and ``APIServer``
stand at the hosts and paths the manifest renders, on one loopback server the runtime is
routed to (``connector_sdk.testing.targets``). Secret parameters get canary values; the
others come from ``parameters``, the emulator's credentials, or the schema's ``examples``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from .._manifest.model import Service
from .conformance_env import ConformanceEnv, build_env, conformance_input, find_manifest
from .faults import rate_limited
from .servers import Exchange, LoopbackServer, Reply

__all__ = ["ConformanceEnv", "ConnectorConformance"]

_SERVICES: dict[type, Service] = {}


class ConnectorConformance:
    """Subclass as ``Test...`` and set ``service_id``; see the module doc for the checks."""

    #: The service id the connector registers.
    service_id: ClassVar[str] = ""
    #: The manifest file (relative to the test module); default: the registered one.
    manifest: ClassVar[str | None] = None
    #: A plugin object to load besides the installed ones (a connector not installed).
    plugin: ClassVar[object | None] = None
    #: Values of non-secret authentication parameters for the kit's servers.
    parameters: ClassVar[Mapping[str, Any]] = {}
    #: One example input per operation id (operations with no required input may be left out).
    inputs: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    #: JSON bodies the loopback API answers each declarative operation with.
    responses: ClassVar[Mapping[str, Any]] = {}
    #: More answers of the loopback API, ``{"GET /path/under/base_url": json}``: what a
    #: handler operation requests.
    routes: ClassVar[Mapping[str, Any]] = {}
    #: A recording (relative to the test module) the loopback API replays instead.
    cassette: ClassVar[str | None] = None
    #: Whether operations run against the emulator; None: when the plugin registers one.
    emulated: ClassVar[bool | None] = None

    # -- collection -------------------------------------------------------------------------

    @classmethod
    def conformance_service(cls) -> Service:
        """The service under test, as the installed plugins (and ``plugin``) register it."""
        if cls not in _SERVICES:
            from .conformance_env import load_service_under_test

            _SERVICES[cls] = load_service_under_test(cls)
        return _SERVICES[cls]

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "operation_id" in metafunc.fixturenames:
            operations = sorted(type(self).conformance_service().operations)
            metafunc.parametrize("operation_id", operations or [
                pytest.param("", marks=pytest.mark.skip(reason="the service has no operation"))])

    # -- fixtures ---------------------------------------------------------------------------

    @pytest.fixture
    def conformance(self, local_server: LoopbackServer, make_sdk_runtime: Callable[..., Any],
                    make_canary: Callable[[str], str], tmp_path: Path) -> ConformanceEnv:
        """A runtime routed to the kit's token and API servers standing at the manifest's
        hosts, with a stored authentication whose secrets (and tokens) are canaries."""
        return build_env(type(self), make_sdk_runtime, local_server, make_canary, tmp_path)

    # -- the manifest -----------------------------------------------------------------------

    def test_manifest_validates(self) -> None:
        from ..cli._validation import validate_paths

        path = find_manifest(type(self))
        problems = [p for result in validate_paths([path]) for p in result.problems]
        assert not problems, "the manifest has problems:\n" + "\n".join(
            f"{p.file}:{p.line}:{p.column}: {p.rule} {p.message}" for p in problems)

    def test_plugin_loads(self, conformance: ConformanceEnv) -> None:
        failures = [f"{f.plugin}: {f.message}" for f in conformance.runtime.plugins.failures]
        assert not failures, "plugins failed to load:\n" + "\n".join(failures)
        assert conformance.runtime.service(self.service_id).id == self.service_id

    def test_operation_declares_an_input_schema(self, operation_id: str) -> None:
        operation = type(self).conformance_service().operations[operation_id]
        schema = operation.input_schema
        assert isinstance(schema, Mapping), f"operation '{operation_id}' has no input schema"
        assert schema.get("type") == "object", (
            f"operation '{operation_id}': its input schema must be an object schema"
            " (type: object, with properties)")
        assert set(schema.get("required", ())) <= set(schema.get("properties", {})), (
            f"operation '{operation_id}': a required input is not among its properties")

    def test_operation_runs(self, operation_id: str, conformance: ConformanceEnv) -> None:
        from .._operations.calls import call_operation_sync

        service = type(self).conformance_service()
        operation = service.operations[operation_id]
        values = conformance_input(type(self), operation)
        runtime, authentication = conformance.operation_runtime(operation, values)
        if operation.scopes:
            from .._errors import MissingScopesError
            from .._operations.scopes import missing_scopes

            held = authentication if not isinstance(authentication, str) else \
                runtime.resolve_authentication(authentication, service.id)
            if missing_scopes(operation, runtime.get_token(held).scopes):
                # the kit's token lacks the scopes (an app token, where the operation needs a
                # user's consent): the runtime must refuse before sending anything
                with pytest.raises(MissingScopesError):
                    call_operation_sync(runtime, f"{service.id}.{operation_id}",
                                        authentication, values)
                return
        output = call_operation_sync(runtime, f"{service.id}.{operation_id}", authentication,
                                     values)
        assert output is not None
        if operation.output_schema:
            import jsonschema

            from .._manifest.dialect import plain

            jsonschema.validate(output, plain(operation.output_schema))

    # -- tokens -----------------------------------------------------------------------------

    def test_one_token_request_under_concurrency(self, conformance: ConformanceEnv) -> None:
        tokens = conformance.tokens
        tokens.fail_next(_slowly(tokens.answer, 0.3))
        got: list[str] = []
        errors: list[BaseException] = []

        def fetch() -> None:
            try:
                got.append(conformance.runtime.get_token(conformance.auth).access_token.reveal())
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=fetch) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, f"token requests failed: {errors[0]!r}"
        assert len(got) == 12
        assert len(set(got)) == 1, f"12 concurrent callers got {len(set(got))} tokens"
        assert tokens.count == 1, f"{tokens.count} token requests for 12 concurrent callers"

    def test_a_401_is_answered_by_one_refresh(self, conformance: ConformanceEnv) -> None:
        probe = conformance.probe_route()
        with conformance.runtime.client(conformance.auth) as client:
            assert client.get(probe).status_code == 200
            assert conformance.tokens.expire() == 1
            answer = client.get(probe)
        assert answer.status_code == 200, f"after a 401 the call got {answer.status_code}"
        assert conformance.tokens.count == 2
        assert conformance.api.count(conformance.probe_path) == 3

    def test_retry_after_is_honoured(self, conformance: ConformanceEnv) -> None:
        conformance.tokens.fail_next(rate_limited(retry_after=1))
        conformance.runtime.get_token(conformance.auth)
        first, second = conformance.tokens.requests
        waited = second.received_at - first.received_at
        assert waited >= 0.95, f"retried {waited:.2f} s after a 429 with Retry-After: 1"

    # -- secrets ----------------------------------------------------------------------------

    def test_no_secret_leaks(self, conformance: ConformanceEnv,
                             capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
        from .leaks import check_no_leaks

        check_no_leaks(conformance, capsys, monkeypatch)


def _slowly(answer: Callable[[Exchange], Reply], seconds: float
            ) -> Callable[[Exchange], Reply]:
    def slow(exchange: Exchange) -> Reply:
        exchange.sleep(seconds)
        return answer(exchange)
    return slow

