"""The CLI helps a connector's author debug: a handler's exception is shown (type, message,
and with --debug its traceback), names get a did-you-mean, a mistyped @reference is named,
and validate's hints point the right way ({{ token }}, whole-host patterns, operation ids).

The handler test runs the CLI in a subprocess that sees a plugin "installed" in a temporary
directory on PYTHONPATH (a dist-info with an entry point), as a user's installed plugin is
seen, and nowhere else."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from connector_sdk.cli import main
from connector_sdk.testing import assert_no_canary

ACME = (Path(__file__).parents[1] / "manifest" / "fixtures" / "valid" / "acme.yaml").read_text()
CRASHING = ACME + textwrap.dedent("""\
    operations:
      crash:
        title: Crash
        description: A handler that fails.
        input: {type: object, properties: {note: {type: string}}}
        handler: crash
    """)
PLUGIN = '''
from importlib.resources import files
import connector_sdk

@connector_sdk.hookimpl
def register_services(register):
    register(files(__package__) / "acme.yaml")

@connector_sdk.hookimpl
def register_operation_handlers(register):
    def crash(context, values):
        secret = context.authentication.parameters["client_secret"].reveal()
        return parse_answer(values["note"], secret)
    register("acme.crash", crash)

def parse_answer(note, secret):
    raise ValueError(f"cannot parse {note!r} (sent with {secret})")
'''


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    package = site / "connector_crashy"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(PLUGIN)
    (package / "acme.yaml").write_text(CRASHING)
    info = site / "connector_crashy-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: connector-crashy\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text("[connector_sdk]\nacme = connector_crashy\n")
    return site


def cli(site: Path, home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_SDK_")}
    environ.update(PYTHONPATH=str(site), CONNECTOR_SDK_HOME=str(home), **env)
    return subprocess.run([sys.executable, "-m", "connector_sdk.cli", *args], env=environ,
                          capture_output=True, text=True, timeout=120, check=False)


def test_a_handler_exception_is_shown_to_its_author(installed: Path, tmp_path: Path,
                                                    canary: str) -> None:
    home = tmp_path / "home"
    made = cli(installed, home, "auth", "create", "acme", "--name", "dev", "--param",
               "tenant=demo", "--param", "client_id=app", "--param",
               "client_secret=@env:SECRET", SECRET=canary)
    assert made.returncode == 0, made.stderr
    plain = cli(installed, home, "call", "acme.crash", "--auth", "dev", "--input", "note=hi")
    assert plain.returncode == 1
    assert "the handler of plugin 'acme, connector-crashy' raised ValueError: cannot parse" \
           " 'hi' (sent with **********)" in plain.stderr
    assert "rerun with --debug" in plain.stderr
    assert "Traceback" not in plain.stderr
    for debug in (["--debug"], []):
        env = {} if debug else {"CONNECTOR_SDK_DEBUG": "1"}
        shown = cli(installed, home, "call", "acme.crash", "--auth", "dev", "--input",
                    "note=hi", *debug, **env)
        assert shown.returncode == 1
        assert "the handler's traceback (secrets redacted):" in shown.stderr
        assert "in parse_answer" in shown.stderr
        assert 'raise ValueError(f"cannot parse {note!r} (sent with {secret})")' \
            in shown.stderr
        assert_no_canary(shown.stdout + shown.stderr, canary)
    assert_no_canary(plain.stdout + plain.stderr + made.stderr, canary)


def test_an_authentication_name_gets_a_did_you_mean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CONNECTOR_SDK_HOME", str(tmp_path))
    monkeypatch.setenv("TWITCH_SECRET", "s")
    assert main(["auth", "create", "twitch", "--name", "my-app", "--param",
                 "client_id=abcdefghij0123456789abcdefghij",
                 "--param", "client_secret=@env:TWITCH_SECRET"]) == 0
    capsys.readouterr()
    for action in ("show", "test", "delete"):
        assert main(["auth", action, "my-ap"]) == 1
        assert "no authentication named 'my-ap': did you mean 'my-app'?" in \
            capsys.readouterr().err


@pytest.mark.parametrize(("value", "hint"), [
    ("@envv:X", " (did you mean '@env:'?)"),
    ("@vault:kv/app", ""),
])
def test_an_unknown_reference_prefix_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    value: str, hint: str,
) -> None:
    monkeypatch.setenv("CONNECTOR_SDK_HOME", str(tmp_path))
    prefix = value.split(":")[0]
    for param in (f"client_id={value}", f"client_secret={value}"):
        assert main(["auth", "create", "twitch", "--name", "a", "--param", param]) == 2
        name = param.split("=")[0]
        assert f"--param {name}: unknown reference '{prefix}:'{hint}; write {name}=@env:" \
            in capsys.readouterr().err


def _validate(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> tuple[int, str]:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    code = main(["validate", str(path)])
    return code, capsys.readouterr().out


def test_a_token_placeholder_is_pointed_at_access_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = _validate(tmp_path, capsys, ACME.replace("{{ access_token }}", "{{ token }}"))
    assert code == 1
    assert "{{ token }} names no declared parameter: did you mean 'access_token'?" in out


def test_the_suggested_host_pattern_matches_the_manifests_own_allowed_hosts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    whole_host = (ACME.replace("pattern: '^[a-z0-9][a-z0-9-]{0,40}$'", "minLength: 1")
                  .replace("https://{{ tenant }}.acme.example", "https://{{ tenant }}"))
    code, out = _validate(tmp_path, capsys, whole_host)
    assert code == 1
    suggested = re.search(r"for example '([^']+)'", out)
    assert suggested is not None
    assert suggested.group(1) == r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.acme\.example$"
    fixed = whole_host.replace("minLength: 1", f"pattern: '{suggested.group(1)}'")
    assert _validate(tmp_path, capsys, fixed)[0] == 0  # following the hint fixes it


def test_an_invalid_operation_id_is_named(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    text = CRASHING.replace("  crash:\n", "  Crash-Now:\n")
    code, out = _validate(tmp_path, capsys, text)
    assert code == 1
    assert "SCHEMA-PATTERN operation id 'Crash-Now' does not match the pattern" in out
    assert "(at $.operations.Crash-Now)" in out


def test_verbose_shows_each_exchange_and_token_request_without_secrets(
    tmp_path: Path, make_canary: Any, local_server: Any,
) -> None:
    from connector_sdk.testing import APIServer, TokenServer

    secret, token = make_canary("secret"), make_canary("token")
    shop = "my-store.myshopify.com"
    tokens = TokenServer(local_server, path="/admin/oauth/access_token", host=shop,
                         make_token=lambda: token)
    APIServer(local_server, tokens=tokens, host=shop, prefix="/admin/api/2025-10").route(
        "GET", "/shop.json", json={"shop": {"name": "Verbose"}})
    home, none = tmp_path / "home", tmp_path / "none"
    made = cli(none, home, "auth", "create", "shopify", "--name", "dev", "--param",
               f"shopify_url={shop}", "--param", "client_id=app", "--param",
               "client_secret=@env:SECRET", SECRET=secret)
    assert made.returncode == 0, made.stderr
    called = cli(none, home, "-v", "call", "shopify.get_shop", "--auth", "dev",
                 "--local-server", local_server.url)
    assert called.returncode == 0, called.stderr
    lines = called.stderr.splitlines()
    assert any(re.match(r"\[ *\d+ ms\] token request service=shopify authentication=dev", line)
               for line in lines)
    assert any(f'POST https://{shop}/admin/oauth/access_token "HTTP/1.1 200 OK"' in line
               for line in lines)
    assert any(f'GET https://{shop}/admin/api/2025-10/shop.json "HTTP/1.1 200 OK"' in line
               for line in lines)
    assert_no_canary(called.stdout + called.stderr, secret, token)
    quiet = cli(none, home, "call", "shopify.get_shop", "--auth", "dev", "--local-server",
                local_server.url)
    assert "HTTP Request" not in quiet.stderr
