"""CLI processes share one token through Redis, and ``auth delete`` revokes it from any process.

Each command is its own process, as a user runs them, against the Twitch emulator on
loopback (``CONNECTOR_SDK_SANDBOX_URL`` keeps the real URLs) and a Redis of this test's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from connector_twitch.emulator import TWITCH_CLIENT_ID, TwitchSandbox
from servers import RedisServer

from connector_sdk._stores.crypto import generate_key_text
from connector_sdk.sandbox import SandboxServer

ROOT = Path(__file__).parents[2]


@pytest.fixture
def twitch(canary: str) -> Iterator[tuple[TwitchSandbox, SandboxServer]]:
    emulator = TwitchSandbox(clients={TWITCH_CLIENT_ID: canary})
    with SandboxServer(emulator) as server:
        yield emulator, server


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "connector_sdk.cli", *args], env=env,
                          capture_output=True, text=True, timeout=180, check=False, cwd=ROOT)


def environment(tmp_path: Path, server: SandboxServer, canary: str,
                cache: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_SDK_")}
    env.update(CONNECTOR_SDK_HOME=str(tmp_path / "home"), CONNECTOR_SDK_SECRET_KEY=
               generate_key_text(), CONNECTOR_SDK_SANDBOX_URL=server.url, TWITCH_SECRET=canary)
    if cache:
        env["CONNECTOR_SDK_TOKEN_CACHE"] = cache
    return env


def create(env: dict[str, str]) -> None:
    created = cli(env, "auth", "create", "twitch", "--name", "twitch", "--param",
                  f"client_id={TWITCH_CLIENT_ID}", "--param", "client_secret=@env:TWITCH_SECRET")
    assert created.returncode == 0, created.stderr


def test_call_and_run_processes_reuse_one_token_and_delete_revokes_it(
    tmp_path: Path, twitch: tuple[TwitchSandbox, SandboxServer], own_redis: RedisServer,
    canary: str
) -> None:
    emulator, server = twitch
    env = environment(tmp_path, server, canary, own_redis.url)
    create(env)
    results = [cli(env, "call", "twitch.get_top_games", "--auth", "twitch", "--input",
                   "first=2", "--max-pages", "1") for _ in range(3)]
    results.append(cli(env, "run", "examples/twitch-top-streams.yaml", "--quiet"))
    for result in results:
        assert result.returncode == 0, result.stderr[-2000:]
        assert canary not in result.stdout + result.stderr
    print(f"3 calls and 1 workflow run, 4 processes: {emulator.token_requests} token request")
    assert emulator.token_requests == 1
    deleted = cli(env, "auth", "delete", "twitch", "--format", "json")
    assert deleted.returncode == 0, deleted.stderr
    revocation = json.loads(deleted.stdout)["revocation"]
    assert revocation["ok"] is True
    assert "the token was revoked" in revocation["message"]  # a token another process got
    assert canary not in deleted.stdout + deleted.stderr
    assert emulator.tokens_issued == 1
    assert emulator.revoke_all_tokens() == 0, "the shared token is still valid after delete"


def test_without_the_shared_cache_every_process_fetches_its_own(
    tmp_path: Path, twitch: tuple[TwitchSandbox, SandboxServer], canary: str
) -> None:
    emulator, server = twitch
    env = environment(tmp_path, server, canary, None)
    create(env)
    for _ in range(2):
        result = cli(env, "call", "twitch.get_top_games", "--auth", "twitch", "--max-pages",
                     "1")
        assert result.returncode == 0, result.stderr[-2000:]
    assert emulator.token_requests == 2  # the baseline the shared cache removes
