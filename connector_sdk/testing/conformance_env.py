"""The world one conformance check runs in: the service under test, the kit's servers at its
hosts, a runtime routed to them and a stored authentication whose secrets are canaries."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import pytest

from .._manifest.model import Authentication, OperationSpec, Service
from .._plugins.hookspecs import hookimpl
from .._secrets import reveal
from .api import APIServer
from .emulators import installed_services
from .recording import Cassette
from .servers import LoopbackServer
from .targets import Targets, example_parameters
from .tokens import TokenServer

if TYPE_CHECKING:
    from .._runtime.runtime import Runtime


class ConnectorConformance(Protocol):
    """What this module reads of a ``conformance.ConnectorConformance`` subclass."""

    service_id: ClassVar[str]
    manifest: ClassVar[str | None]
    plugin: ClassVar[object | None]
    parameters: ClassVar[Mapping[str, Any]]
    inputs: ClassVar[Mapping[str, Mapping[str, Any]]]
    responses: ClassVar[Mapping[str, Any]]
    routes: ClassVar[Mapping[str, Any]]
    cassette: ClassVar[str | None]
    emulated: ClassVar[bool | None]

    @classmethod
    def conformance_service(cls) -> Service: ...

__all__ = ["ConformanceEnv", "build_env", "conformance_input", "find_manifest",
           "load_service_under_test"]

AUTH_NAME = "conformance"
PROBE = "/__conformance__/probe"


class _ManifestPlugin:
    """Registers one manifest file: a connector tested before it is installed."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @hookimpl
    def register_services(self, register: Callable[[Any], None]) -> None:
        register(self.path)


def _module_dir(cls: type[ConnectorConformance]) -> Path:
    return Path(inspect.getfile(cls)).parent


def _extra_plugins(cls: type[ConnectorConformance]) -> dict[str, object]:
    if cls.plugin is not None:
        return {"conformance-plugin": cls.plugin}
    if cls.manifest and cls.service_id not in installed_services().services:
        return {"conformance-manifest": _ManifestPlugin(_module_dir(cls) / cls.manifest)}
    return {}


def load_service_under_test(cls: type[ConnectorConformance]) -> Service:
    """The service ``cls.service_id`` as the installed plugins and ``cls.plugin`` register it
    (or ``cls.manifest`` when nothing installed registers it); fails the collection with the
    fix when it is nowhere."""
    from .._manifest.loader import load_service
    from .._plugins.manager import load_plugins

    if not cls.service_id:
        raise pytest.UsageError(f"{cls.__name__}: set service_id to the service under test")
    extra = _extra_plugins(cls)
    if "conformance-manifest" in extra:
        return load_service(_module_dir(cls) / str(cls.manifest))
    registry = load_plugins({}, extra_plugins=extra).registry if extra else installed_services()
    if cls.service_id not in registry.services:
        raise pytest.UsageError(
            f"{cls.__name__}: no installed plugin registers service '{cls.service_id}':"
            " install the connector (pip install -e .), or set manifest or plugin")
    return registry.get(cls.service_id)


def find_manifest(cls: type[ConnectorConformance]) -> Path:
    """The manifest file to validate: ``cls.manifest`` or where the service was read from."""
    if cls.manifest:
        return _module_dir(cls) / cls.manifest
    source = Path(cls.conformance_service().source)
    if not source.is_file():
        pytest.skip(f"service '{cls.service_id}' was not read from a file ({source});"
                    " set manifest to validate it")
    return source


def conformance_input(cls: type[ConnectorConformance], operation: OperationSpec
                      ) -> dict[str, Any]:
    """``cls.inputs[operation]``, or {} when the operation requires no input."""
    if operation.id in cls.inputs:
        return dict(cls.inputs[operation.id])
    required = operation.input_schema.get("required", [])
    if required:
        pytest.fail(f"operation '{operation.id}' requires {', '.join(required)}: give an"
                    f" example in inputs = {{'{operation.id}': {{...}}}}", pytrace=False)
    return {}


def _is_emulated(cls: type[ConnectorConformance], service: Service) -> bool:
    if cls.emulated is not None:
        return cls.emulated
    registry = installed_services()
    return service.id in registry.emulators and not _extra_plugins(cls)


def _parameters(cls: type[ConnectorConformance], service: Service,
                make_canary: Callable[[str], str]) -> dict[str, Any]:
    given = dict(cls.parameters)
    if not given and _is_emulated(cls, service):
        emulator = installed_services().emulator(service.id).create()
        given = {k: v for k, v in emulator.parameters().items()
                 if k not in service.secret_parameters}
    try:
        values = example_parameters(service, given)
    except KeyError as exc:
        missing = exc.args[0]
    else:
        for name in sorted(service.secret_parameters):
            values[name] = make_canary("secret")
        return values
    pytest.fail(f"service '{service.id}': parameter '{missing}' is required and its schema"
                f" gives no example: give a value in parameters = {{'{missing}': ...}}",
                pytrace=False)


@dataclass
class ConformanceEnv:
    """What a check uses: ``runtime`` routed to ``server``, where ``tokens`` and ``api``
    stand at the manifest's hosts; ``auth`` is stored as ``conformance`` in ``home``;
    ``secrets`` are the canary values (secret parameters and every token issued)."""

    cls: type[ConnectorConformance]
    service: Service
    runtime: Runtime
    auth: Authentication
    server: LoopbackServer
    tokens: TokenServer
    api: APIServer
    targets: Targets
    home: Path
    make_runtime: Callable[..., Runtime]
    secrets: list[str] = field(default_factory=list, repr=False)

    @property
    def parameter_secrets(self) -> list[str]:
        """The canary values of the secret parameters (not the tokens)."""
        secret = self.service.secret_parameters
        return [str(reveal(v)) for k, v in self.auth.parameters.items() if k in secret]

    #: The probe route's path under the base URL (``api.count(probe_path)``).
    probe_path: ClassVar[str] = PROBE

    def probe_route(self) -> str:
        """Declare a guarded ``GET`` route under the base URL and return the path to request
        with ``runtime.client(auth)`` (relative to the base URL)."""
        self.api.route("GET", PROBE, json={"ok": True})
        return PROBE

    def fresh_runtime(self) -> Runtime:
        """Another runtime on the same home, routed the same way (its own token manager)."""
        return self.make_runtime(home=self.home, local_server=self.server,
                                 extra_plugins=_extra_plugins(self.cls))

    def operation_runtime(self, operation: OperationSpec, values: Mapping[str, Any]
                          ) -> tuple[Runtime, Authentication | str]:
        """Where ``operation`` runs: the emulator (a sandboxed runtime), else the loopback
        API answering it with ``responses[op]`` or the cassette."""
        cls = self.cls
        if _is_emulated(cls, self.service):
            return self.make_runtime(sandbox=True, extra_plugins=_extra_plugins(cls)), AUTH_NAME
        for route, body in cls.routes.items():
            method, _, route_path = route.partition(" ")
            self.api.route(method.upper(), route_path, json=body)
        if cls.cassette:
            self.api.replay(Cassette.load(_module_dir(cls) / cls.cassette))
        elif operation.request is None:
            if not cls.routes:
                pytest.fail(f"operation '{operation.id}' has nothing to run against: the"
                            " service registers no emulator; declare what its handler"
                            " requests in routes = {'GET /path': {...}} or give a cassette",
                            pytrace=False)
        elif operation.id in cls.responses:
            path = self.targets.operation_path(self.service, operation, values)
            assert path is not None
            self.api.route(operation.request.method, path.removeprefix(self.api.prefix),
                           json=cls.responses[operation.id])
        else:
            pytest.fail(f"operation '{operation.id}' has nothing to run against: the service"
                        " registers no emulator; give responses = {'" + operation.id +
                        "': {...}} or a cassette", pytrace=False)
        return self.runtime, self.auth


def build_env(cls: type[ConnectorConformance], make_runtime: Callable[..., Runtime],
              server: LoopbackServer, make_canary: Callable[[str], str], tmp_path: Path
              ) -> ConformanceEnv:
    service = cls.conformance_service()
    secrets: list[str] = []

    def canary(prefix: str) -> str:
        value = make_canary(prefix)
        secrets.append(value)
        return value

    home = tmp_path / "conformance-home"
    runtime = make_runtime(home=home, local_server=server, extra_plugins=_extra_plugins(cls))
    values = _parameters(cls, service, canary)
    auth = runtime.create_authentication(service.id, AUTH_NAME, values)
    targets = Targets.of(auth)
    revocation = service.auth.revocation
    revocation_path = None
    if revocation is not None:
        from .._http.policy import render_url

        revocation_path = render_url(revocation.url, auth.parameters, service=service.id,
                                     url_name="revocation", allowed_hosts=service.allowed_hosts
                                     ).path
    tokens = TokenServer(server, path=targets.token_path, host=targets.token_host,
                         revocation_path=revocation_path, make_token=lambda: canary("token"))
    api = APIServer(server, tokens=tokens, host=targets.api_host, prefix=targets.api_path)
    return ConformanceEnv(cls, service, runtime, auth, server, tokens, api, targets, home,
                          make_runtime, secrets)
