"""Secrets in messages: never shown, in any encoding, whole or cut, on any error path.

Each secret is a canary followed by the characters that break naive redaction (``"``, ``\\``,
``&``, ``+``, ``%``, a space, and mixtures). The canary survives every encoding unchanged
(it is ASCII letters, digits and hyphens), so "the canary is absent" means "no form of the
secret is present"; the pytest canary fixture also checks what the test captured.

Providers echo what they were sent: a token endpoint answers with the secret in its JSON
(which JSON-escapes it), with the form body it received (percent- and form-encoded), with a
``repr``; an API echoes the token and the secret. And a secret placed across the point where
messages are cut must not leave its start on show.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from connector_sdk import APIError, TokenEndpointError, TokenResponseError, call_operation_sync
from connector_sdk.testing import LoopbackServer, Reply

from .conftest import audit_auth

ROOT = Path(__file__).parents[2]
TAILS = ['"', "\\", "&", "+", "%", " ", '"\\&+% ', 'a"b\\c&d+e%f g', "%22%5C", "\\u0022", "  "]

pytestmark = pytest.mark.timeout(120)


def _echoes(secret: str, sent: bytes) -> str:
    """A provider's text quoting ``secret`` in every way providers do, plus the request."""
    return " | ".join([
        f"raw {secret}", f"repr {secret!r}", f"bytes {secret.encode()!r}",
        f"quote {quote(secret, safe='')}", f"quote/ {quote(secret)}",
        f"plus {quote_plus(secret)}", f"json {json.dumps(secret)}",
        f"form {sent.decode('latin-1')}",
    ])


def _visible(text: str, canary: str) -> bool:
    return canary in text


@pytest.fixture
def loopback() -> LoopbackServer:
    with LoopbackServer() as server:
        yield server


@pytest.mark.parametrize("tail", TAILS)
def test_a_token_endpoint_echoing_the_secret_never_shows_it(
        loopback, audit_runtime, make_canary, tail, scenario, canary_checks):
    scenario(f"H-secret-token-{TAILS.index(tail)}")
    canary = make_canary("secret")
    secret = f"{canary}-{tail}-end"

    def echo(exchange):  # type: ignore[no-untyped-def]
        text = _echoes(secret, exchange.body)
        return Reply(401, json={"error": "invalid_client", "error_description": text})

    loopback.route("/token", echo)
    runtime = audit_runtime(loopback.url)
    auth = audit_auth(runtime, secret)
    with pytest.raises(TokenEndpointError) as caught:
        runtime.get_token(auth)
    error = caught.value
    texts = (str(error), repr(error), error.provider_message or "",
             json.dumps({"message": str(error)}))
    for text in texts:
        assert not _visible(text, canary)
    canary_checks(len(texts))
    assert "**********" in str(error)


@pytest.mark.parametrize("tail", TAILS)
def test_an_api_echoing_the_token_and_the_secret_never_shows_them(
        loopback, audit_runtime, make_canary, tail, scenario, canary_checks):
    scenario(f"H-secret-api-{TAILS.index(tail)}")
    canary, token_canary = make_canary("secret"), make_canary("token")
    secret, token = f"{canary}-{tail}-end", f"{token_canary}-{tail}"
    loopback.route("/token", Reply(200, json={"access_token": token, "token_type": "bearer",
                                              "expires_in": 3600}))

    def echo(exchange):  # type: ignore[no-untyped-def]
        said = _echoes(secret, exchange.headers.get("authorization", "").encode())
        return Reply(400, json={"message": f"{said} | token {json.dumps(token)}"})

    loopback.route("/api/things/{id}", echo)
    runtime = audit_runtime(loopback.url)
    auth = audit_auth(runtime, secret)
    # a token ending in whitespace cannot go in a header: refused when it arrives
    expected = TokenResponseError if tail != tail.rstrip() else APIError
    with pytest.raises(expected) as caught:
        call_operation_sync(runtime, "audit.get_thing", auth, {"id": "1"})
    error = caught.value
    for text in (str(error), repr(error), error.provider_message or ""):
        assert not _visible(text, canary) and not _visible(text, token_canary)
    canary_checks(3)


@pytest.mark.parametrize("offset", range(-12, 13, 3))
@pytest.mark.parametrize("where", ["token", "api"])
def test_a_secret_straddling_the_cut_off_never_shows_its_start(
        loopback, audit_runtime, make_canary, offset, where, scenario, canary_checks):
    scenario(f"H-secret-cutoff-{where}{offset:+d}")
    canary = make_canary("secret")
    secret = f"{canary}-{TAILS[7]}"
    limit = 200 if where == "token" else 300
    # the secret starts ``offset`` characters before the cut-off (after the message prefix)
    padding = "x" * (limit - 3 + offset)
    loopback.route("/token", Reply(400, json={"error": "invalid_request",
                                              "error_description": padding + secret + " tail"})
                   if where == "token" else
                   Reply(200, json={"access_token": "tok-123456", "token_type": "bearer"}))
    loopback.route("/api/things/{id}", Reply(400, json={"message": padding + secret + " tail"}))
    runtime = audit_runtime(loopback.url)
    auth = audit_auth(runtime, secret)
    def call() -> object:
        if where == "token":
            return runtime.get_token(auth)
        return call_operation_sync(runtime, "audit.get_thing", auth, {"id": "1"})

    with pytest.raises((TokenEndpointError, APIError)) as caught:
        call()
    for text in (str(caught.value), caught.value.provider_message or ""):
        assert secret[:6] not in text  # not even "canary" of it
    canary_checks(2)


# -- what a person sees: the CLI's text and JSON reports ----------------------------------------

CLIENT_ID = "a" * 30
WORKFLOW = """\
workflow_version: 1
name: echo
steps:
  - id: users
    operation: twitch.get_users
    authentication: twitch
    inputs:
      login: [someone]
"""


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "connector_sdk.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def twitch_cli(tmp_path: Path, loopback: LoopbackServer):  # type: ignore[no-untyped-def]
    """Run the CLI with an authentication 'twitch' whose secret is set by the test; every
    request goes to ``loopback`` (CONNECTOR_SDK_SANDBOX_URL)."""
    def run(secret: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, CONNECTOR_SDK_HOME=str(tmp_path / "home"),
                   CONNECTOR_SDK_SANDBOX_URL=loopback.url, AUDIT_SECRET=secret)
        if not (tmp_path / "home").exists():
            made = _cli("auth", "create", "twitch", "--name", "twitch", "--param",
                        f"client_id={CLIENT_ID}", "--param", "client_secret=@env:AUDIT_SECRET",
                        env=env)
            assert made.returncode == 0, made.stderr
        return _cli(*args, env=env)
    return run


def test_no_cli_report_shows_a_secret_or_token_in_any_form(
        twitch_cli, loopback, tmp_path, make_canary, scenario, canary_checks):
    scenario("H-secret-cli-reports")
    canary, token_canary = make_canary("secret"), make_canary("token")
    secret, token = f"{canary}-{TAILS[6]}", f"{token_canary}-{TAILS[7]}"

    def token_echo(exchange):  # type: ignore[no-untyped-def]
        return Reply(401, json={"error": "invalid_client",
                                "error_description": _echoes(secret, exchange.body)})

    loopback.route("/oauth2/token", token_echo)
    outputs = []
    for fmt in ("text", "json"):
        result = twitch_cli(secret, "auth", "test", "twitch", "--format", fmt)
        assert result.returncode == 1, result.stderr
        outputs += [result.stdout, result.stderr]
    (tmp_path / "echo.yaml").write_text(WORKFLOW)
    loopback.route("/oauth2/token", Reply(200, json={"access_token": token,
                                                     "token_type": "bearer",
                                                     "expires_in": 3600}))
    loopback.route("/helix/users", lambda ex: Reply(400, json={
        "error": "Bad Request", "status": 400,
        "message": _echoes(secret, ex.headers.get("authorization", "").encode())}))
    for fmt in ("text", "json"):
        result = twitch_cli(secret, "run", str(tmp_path / "echo.yaml"), "--format", fmt)
        assert result.returncode == 1, result.stderr
        outputs += [result.stdout, result.stderr]
        if fmt == "json":
            report = json.loads(result.stdout)
            assert report["status"] == "failed"
            assert "**********" in report["error"]["provider_message"]
    for output in outputs:
        assert not _visible(output, canary) and not _visible(output, token_canary)
    canary_checks(len(outputs))
