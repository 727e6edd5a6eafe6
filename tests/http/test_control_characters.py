"""Control characters from a provider never reach a terminal raw.

An ``error_description`` carrying OSC (retitle the window), CSI (clear the screen, move the
cursor), CR or backspace (overwrite the line with a fake "ok"), NUL, DEL or a C1 CSI is
printed by the CLI with each such character written as ``\\uXXXX``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from connector_sdk._text import escape_controls
from connector_sdk.testing import LoopbackServer, Reply

ROOT = Path(__file__).parents[2]
HOSTILE = ("\x1b]0;pwned\x07\x1b[2J\x1b[1;1Hok: got a token\rok\x08\x08\x00\x7f\x9b31m"
           "\u202eevil\u2028next")
#: What a terminal acts on (tab and line feed lay out our own output and are kept).
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e\u2028]")

pytestmark = pytest.mark.timeout(120)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "connector_sdk.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_escape_controls_writes_each_control_as_a_json_escape():
    assert escape_controls("a\x1b[2Jb\x00\r\x9b\tc\n") == "a\\u001b[2Jb\\u0000\\u000d\\u009b\tc\n"
    assert json.loads('"' + escape_controls("\x7f\u202e") + '"') == "\x7f\u202e"


def test_a_provider_message_with_escape_sequences_is_escaped_on_stderr(tmp_path, scenario):
    scenario("H-terminal-escapes")
    with LoopbackServer() as server:
        server.route("/oauth2/token", Reply(400, json={"error": "invalid_request",
                                                       "error_description": HOSTILE}))
        env = dict(os.environ, CONNECTOR_SDK_HOME=str(tmp_path / "home"),
                   CONNECTOR_SDK_SANDBOX_URL=server.url, AUDIT_SECRET="s3cret-value")
        made = _cli("auth", "create", "twitch", "--name", "twitch", "--param",
                    f"client_id={'a' * 30}", "--param", "client_secret=@env:AUDIT_SECRET",
                    env=env)
        assert made.returncode == 0, made.stderr
        text = _cli("auth", "test", "twitch", env=env)
        as_json = _cli("auth", "test", "twitch", "--format", "json", env=env)
    assert text.returncode == 1
    assert "invalid_request" in text.stderr
    for output in (text.stdout, text.stderr, as_json.stdout, as_json.stderr):
        assert not RAW_CONTROL.search(output), repr(output)
    assert "\\u001b]0;pwned\\u0007" in text.stderr  # shown, harmless
    assert "\\u0008\\u0008\\u0000\\u007f\\u009b31m" in text.stderr  # CR: collapsed to a space


def test_json_output_stays_valid_and_keeps_the_values(capsys):
    """Through the CLI's output boundary, JSON that json.dumps left with raw DEL/C1/bidi
    characters (ensure_ascii=False) is still valid JSON with the same value."""
    from connector_sdk.cli._output import escaped_output

    value = {"name": "x\x7fy\x9bz\u202e", "n": 1}
    with escaped_output():
        print(json.dumps(value, ensure_ascii=False))
    out = capsys.readouterr().out
    assert not RAW_CONTROL.search(out)
    assert json.loads(out) == value
