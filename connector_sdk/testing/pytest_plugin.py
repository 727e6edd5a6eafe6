"""The connector-sdk pytest plugin: the kit's fixtures, and canaries that fail a leaking test.

Installed with ``connector-sdk[testing]`` and registered through the ``pytest11`` entry
point, so every test session in an environment with the SDK has these fixtures without any
import or ``conftest.py`` (disable with ``-p no:connector_sdk``). A ``conftest.py`` fixture
of the same name overrides one of these, as pytest does for any plugin fixture.

Fixtures (all function-scoped; everything they start is stopped after the test):

``canary`` / ``make_canary``
    a fresh fake secret (``make_canary(prefix)`` for several); the test fails, without
    showing it, if one leaks into captured output, logs or the failure's traceback.
``fake_clock``
    a ``FakeClock`` (June 2025 epoch seconds) for emulators and the token manager.
``sdk_home``
    an empty temporary directory for a runtime's store and key.
``make_sdk_runtime`` / ``sdk_runtime``
    real runtimes on temporary homes (``services.make_runtime``), closed after the test.
``local_server``
    a ``LoopbackServer`` on 127.0.0.1.
``token_server``
    a ``TokenServer`` on ``local_server`` (``/oauth/token``, any client accepted).
``api_server``
    an ``APIServer`` on ``local_server`` accepting ``token_server``'s tokens.
``emulator``
    ``emulator("service", **options)``: a new emulator from the installed plugins.
``cassette``
    ``cassette(path, secrets=[...])``: a ``Tape`` replaying ``path``, or recording it
    against the real service when pytest runs with ``--connector-sdk-record``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .canaries import find_leaks, new_canary

if TYPE_CHECKING:
    from .._runtime.runtime import Runtime
    from ..sandbox import Emulator
    from .api import APIServer
    from .clock import FakeClock
    from .recording import Tape
    from .servers import LoopbackServer
    from .tokens import TokenServer

_CANARIES = pytest.StashKey[list[str]]()
RECORD_OPTION = "--connector-sdk-record"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("connector-sdk", "connector-sdk test kit")
    group.addoption(RECORD_OPTION, action="store_true", default=False,
                    help="record cassettes against the real services instead of replaying"
                         " them (secrets scrubbed before writing)")


# -- canaries --------------------------------------------------------------------------------


@pytest.fixture
def make_canary(request: pytest.FixtureRequest) -> Callable[..., str]:
    """A factory of canaries, for tests that need several (a secret and a token)."""

    def make(prefix: str = "canary") -> str:
        value = new_canary(prefix)
        request.node.stash.setdefault(_CANARIES, []).append(value)
        return value

    return make


@pytest.fixture
def canary(make_canary: Callable[..., str]) -> str:
    """A fresh fake secret value; the test fails if it leaks into captured output."""
    return make_canary()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    canaries = item.stash.get(_CANARIES, [])
    if not canaries:
        return report
    # each phase's report repeats the earlier phases' sections: judge only its own
    sections = [(name, content) for name, content in report.sections
                if name.endswith(f" {report.when}")]
    if report.longrepr is not None:
        sections.append(("exception", str(report.longrepr)))
    leaked = find_leaks(sections, canaries)
    if leaked:
        report.outcome = "failed"
        report.longrepr = (f"a canary secret leaked into: {', '.join(leaked)}"
                           " (the secret itself is not shown)")
        report.sections = []
    return report


# -- clock, homes, runtimes ------------------------------------------------------------------


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock that moves only when told to (``advance``)."""
    from .clock import FakeClock

    return FakeClock()


@pytest.fixture
def sdk_home(tmp_path: Path) -> Path:
    """An empty directory for a runtime's store and key file."""
    home = tmp_path / "connector-sdk-home"
    home.mkdir()
    return home


@pytest.fixture
def make_sdk_runtime(tmp_path: Path) -> Iterator[Callable[..., Runtime]]:
    """``make_sdk_runtime(**options)``: runtimes on fresh temporary homes (see
    ``connector_sdk.testing.make_runtime`` for the options), all closed after the test."""
    from .services import make_runtime

    made: list[Runtime] = []

    def make(**options: Any) -> Runtime:
        home = options.pop("home", None) or tmp_path / f"sdk-home-{len(made)}"
        runtime = make_runtime(home, **options)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


@pytest.fixture
def sdk_runtime(make_sdk_runtime: Callable[..., Runtime], sdk_home: Path) -> Runtime:
    """A runtime on ``sdk_home`` with the installed plugins and loopback allowed."""
    return make_sdk_runtime(home=sdk_home)


# -- servers ---------------------------------------------------------------------------------


@pytest.fixture
def local_server() -> Iterator[LoopbackServer]:
    """A scriptable HTTP/1.1 server on 127.0.0.1 (``url``), closed after the test."""
    from .servers import LoopbackServer

    with LoopbackServer() as server:
        yield server


@pytest.fixture
def token_server(local_server: LoopbackServer) -> TokenServer:
    """An OAuth2 client-credentials token server at ``local_server.url + "/oauth/token"``."""
    from .tokens import TokenServer

    return TokenServer(local_server)


@pytest.fixture
def api_server(local_server: LoopbackServer, token_server: TokenServer) -> APIServer:
    """Declared API routes on ``local_server`` that accept ``token_server``'s tokens."""
    from .api import APIServer

    return APIServer(local_server, tokens=token_server)


# -- emulators and recordings ----------------------------------------------------------------


@pytest.fixture
def emulator() -> Callable[..., Emulator]:
    """``emulator("twitch", clock=fake_clock)``: a new emulator of an installed service."""
    from .emulators import make_emulator

    return make_emulator


@pytest.fixture
def cassette(request: pytest.FixtureRequest) -> Iterator[Callable[..., Tape]]:
    """``cassette(path, secrets=())``: replay ``path`` (relative to the test file), or record
    it with ``--connector-sdk-record``; recordings are saved after the test."""
    from .recording import Tape

    record = bool(request.config.getoption(RECORD_OPTION))
    tapes: list[Tape] = []

    def open_tape(path: str | Path, *, secrets: Any = ()) -> Tape:
        where = Path(path)
        if not where.is_absolute():
            where = request.path.parent / where
        tape = Tape(where, record=record, secrets=secrets)
        tapes.append(tape)
        return tape

    yield open_tape
    for tape in tapes:
        tape.finish()
