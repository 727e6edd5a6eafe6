"""Recordings of real exchanges: nothing secret reaches the file, and a replay answers the
same calls with no server at all (in-process) or from a loopback API server."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from connector_sdk import Runtime
from connector_sdk.testing import (
    APIServer,
    Cassette,
    LoopbackServer,
    Reply,
    Tape,
    TokenServer,
    authentication,
    loopback_service,
)

pytest_plugins = ["pytester"]


@dataclass
class Recorded:
    path: Path
    secret: str
    token: str
    base: str


def record(tmp_path: Path, make_canary: Callable[[str], str],
           make_sdk_runtime: Callable[..., Runtime]) -> Recorded:
    secret, token = make_canary("secret"), make_canary("token")
    with LoopbackServer() as real:
        tokens = TokenServer(real, make_token=lambda: token)
        api = APIServer(real, tokens=tokens)
        api.route("GET", "/api/items", lambda ex: Reply(json={
            "items": [1, 2], "echo": ex.headers.get("authorization", ""),
            "query": ex.query}))
        path = tmp_path / "items.json"
        tape = Tape(path, record=True, secrets=[secret])
        runtime = make_sdk_runtime(http=tape.settings(timeout=5.0, allow_loopback=True))
        auth = authentication(loopback_service(real), client_id="app", client_secret=secret)
        with runtime.client(auth) as client:
            answer = client.get("/items", params={"page": "1"})
        assert answer.json()["items"] == [1, 2]
        tape.finish()
        base = real.url
    return Recorded(path, secret, token, base)


def test_secrets_and_tokens_never_reach_the_file(
    tmp_path: Path, make_canary: Callable[[str], str],
    make_sdk_runtime: Callable[..., Runtime],
) -> None:
    recorded = record(tmp_path, make_canary, make_sdk_runtime)
    text = recorded.path.read_text()
    assert recorded.secret not in text and recorded.token not in text
    cassette = Cassette.load(recorded.path)
    assert all("authorization" not in i.request_headers for i in cassette.interactions)
    assert [i.method for i in cassette.interactions] == ["POST", "GET"]
    assert cassette.interactions[0].is_token_answer


def test_a_replay_needs_no_server(tmp_path: Path, make_canary: Callable[[str], str],
                                  make_sdk_runtime: Callable[..., Runtime]) -> None:
    recorded = record(tmp_path, make_canary, make_sdk_runtime)
    base = recorded.base
    tape = Tape(recorded.path)
    runtime = make_sdk_runtime(http=tape.settings(timeout=5.0, allow_loopback=True))
    auth = authentication(loopback_service(base), client_id="app", client_secret="other")
    with runtime.client(auth) as client:
        assert client.get("/items", params={"page": "1"}).json()["items"] == [1, 2]
        missing = client.get("/never-recorded")
    assert missing.status_code == 599 and "no recording" in missing.json()["message"]


def test_a_loopback_api_serves_a_recording(
    tmp_path: Path, make_canary: Callable[[str], str],
    make_sdk_runtime: Callable[..., Runtime], token_server: TokenServer,
    api_server: APIServer,
) -> None:
    recorded = record(tmp_path, make_canary, make_sdk_runtime)
    assert api_server.replay(Cassette.load(recorded.path)) == 1
    token = token_server.issue()
    answer = httpx.get(api_server.url + "/api/items",
                       headers={"Authorization": f"Bearer {token}"})
    assert answer.json()["items"] == [1, 2]
    assert httpx.get(api_server.url + "/api/items").status_code == 401


def test_replaying_a_missing_cassette_says_how_to_record(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="--connector-sdk-record"):
        Tape(tmp_path / "absent.json")


def test_the_cassette_fixture_records_with_the_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_rec="""
import httpx
from connector_sdk.testing import LoopbackServer, Reply

def test_it(cassette):
    with LoopbackServer() as server:
        server.route("/x", Reply(json={"ok": True}))
        tape = cassette("tapes/x.json")
        with httpx.Client(transport=tape.transport) as client:
            assert client.get(server.url + "/x").json() == {"ok": True}
""")
    pytester.runpytest_subprocess("--connector-sdk-record", "-p", "no:cacheprovider"
                                  ).assert_outcomes(passed=1)
    assert (pytester.path / "tapes" / "x.json").exists()
    pytester.makepyfile(test_rec="""
import httpx

def test_it(cassette):
    tape = cassette("tapes/x.json")
    with httpx.Client(transport=tape.transport) as client:
        assert client.get("http://127.0.0.1:9/x").json() == {"ok": True}
""")
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)

