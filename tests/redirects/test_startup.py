"""A bad redirect configuration stops ``Runtime()`` and every command at start-up, naming
file:line and the fix, before anything else happens (no store, no plugin call)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from connector_sdk import RedirectsError, Runtime

FIXTURES = Path(__file__).parent / "fixtures"
BAD = FIXTURES / "invalid" / "REDIRECT-WHITE-LABEL-FIRST.yaml"


def test_runtime_with_a_bad_file_fails(tmp_path: Path) -> None:
    with pytest.raises(RedirectsError, match=r"REDIRECT-WHITE-LABEL-FIRST\.yaml:3:5"):
        Runtime(home=tmp_path, redirects=BAD)
    assert not tmp_path.joinpath("secret.key").exists()


def test_runtime_with_a_bad_file_in_the_environment_fails(tmp_path: Path) -> None:
    with pytest.raises(RedirectsError, match="unset CONNECTOR_SDK_REDIRECTS") as caught:
        Runtime(home=tmp_path, environ={"CONNECTOR_SDK_REDIRECTS": str(BAD)})
    assert caught.value.setting == "CONNECTOR_SDK_REDIRECTS"
    assert [p.rule for p in caught.value.problems] == ["REDIRECT-WHITE-LABEL-FIRST"]


def test_runtime_exposes_the_configuration(tmp_path: Path) -> None:
    with Runtime(home=tmp_path,
                 environ={"CONNECTOR_SDK_REDIRECTS": str(FIXTURES / "valid.yaml")}) as runtime:
        assert runtime.redirects is not None
        assert runtime.redirects.primary == "https://auth.example.com/oauth2/callback"
    with Runtime(home=tmp_path, environ={}) as runtime:
        assert runtime.redirects is None


def test_the_option_wins_over_the_environment(tmp_path: Path) -> None:
    mapping = {"redirects_version": 1, "redirect_urls": ["https://mine.example/cb"]}
    with Runtime(home=tmp_path, redirects=mapping,
                 environ={"CONNECTOR_SDK_REDIRECTS": str(BAD)}) as runtime:
        assert runtime.redirects is not None and runtime.redirects.primary == \
            "https://mine.example/cb"


def _cli(tmp_path: Path, *argv: str, redirects: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CONNECTOR_SDK_HOME=str(tmp_path / "home"),
               CONNECTOR_SDK_REDIRECTS=str(redirects))
    env.pop("CONNECTOR_SDK_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "connector_sdk.cli", *argv], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("argv", [["auth", "list"], ["services"],
                                  ["call", "twitch.get_top_games", "--sandbox"]])
def test_a_command_with_a_bad_file_fails_at_start_up(tmp_path: Path, argv: list[str]) -> None:
    done = _cli(tmp_path, *argv, redirects=BAD)
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    assert f"{BAD}:3:5: REDIRECT-WHITE-LABEL-FIRST" in done.stderr
    assert "put the platform's own redirect URL first" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "home").exists()  # failed before the store was opened


def test_validate_checks_only_what_it_is_named(tmp_path: Path) -> None:
    """validate never opens a file it was not given: the configured one does not stop it,
    and a redirect file named on the line (pre-commit passes lists) is checked."""
    valid = FIXTURES / "valid.yaml"
    done = _cli(tmp_path, "validate", "--skip-undeclared", str(valid), redirects=BAD)
    assert (done.returncode, done.stdout.strip()) == (0, "1 file valid"), done.stderr
    done = _cli(tmp_path, "validate", "--skip-undeclared", str(valid), str(BAD),
                redirects=valid)
    assert done.returncode == 1
    assert f"{BAD}:3:5: REDIRECT-WHITE-LABEL-FIRST" in done.stdout
