"""Usage errors: no abbreviated options, and a stray value is never echoed (it may be a
secret typed in the wrong place)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector_sdk.cli import main


def test_an_abbreviated_option_is_refused_not_guessed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # With abbreviations, `--form json` chose JSON output while errors came out as text.
    assert main(["validate", "--form", "json", str(tmp_path / "absent.yaml")]) == 2
    captured = capsys.readouterr()
    assert "--form" in captured.err


def test_an_unrecognized_value_is_not_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONNECTOR_SDK_HOME", str(tmp_path / "home"))
    secret = "S3CRETvalue2" + "x" * 8
    code = main(["auth", "create", "twitch", "--name", "t3", "--param", "client_id=abc",
                 "--param", "client_secret", secret, "--bogus", "--format", "json"])
    assert code == 2
    captured = capsys.readouterr()
    assert secret not in captured.out + captured.err
    document = json.loads(captured.out)
    assert "--bogus" in document["error"]["message"]
    assert "values not shown" in document["error"]["message"]
