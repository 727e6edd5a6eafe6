"""``connector-sdk new``: right after scaffolding, ``pip install -e``, ``pytest`` and
``connector-sdk validate`` pass, for each shape of token URL the options allow.

The install goes to a temporary prefix layered on this venv (``site.addsitedir`` in the
processes that use it), not into the venv itself: the scaffolded plugin must not appear in
the other tests that run while this one does.
"""

from __future__ import annotations

import builtins
import subprocess
import sys
from pathlib import Path

import pytest

from connector_sdk.cli import main

CLI = [sys.executable, "-m", "connector_sdk.cli"]


def _with_site(prefix: Path, code: str) -> list[str]:
    site_packages = next(prefix.glob("lib/python*/site-packages"))
    return [sys.executable, "-c",
            f"import site, sys; site.addsitedir({str(site_packages)!r}); {code}"]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_new_connector_installs_tests_and_validates_at_once(tmp_path: Path) -> None:
    made = subprocess.run([*CLI, "new", "scaffolded", "--no-input"], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert made.returncode == 0, made.stderr
    assert "created the Scaffolded connector in scaffolded/" in made.stdout
    prefix = tmp_path / "prefix"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                              "--prefix", str(prefix), "-e", "./scaffolded"],
                             cwd=tmp_path, capture_output=True, text=True, check=False)
    assert install.returncode == 0, install.stdout + install.stderr
    tests = subprocess.run(_with_site(prefix, "import pytest; sys.exit(pytest.main("
                                              "['./scaffolded', '-q', '-p', 'no:cacheprovider']))"),
                           cwd=tmp_path, capture_output=True, text=True, check=False)
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert "9 passed" in tests.stdout
    for paths in (["./scaffolded"], []):  # the files, and the installed plugin's manifest
        code = f"from connector_sdk.cli import main; sys.exit(main(['validate', *{paths!r}]))"
        checked = subprocess.run(_with_site(prefix, code), cwd=tmp_path, capture_output=True,
                                 text=True, check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    installed = subprocess.run(_with_site(prefix, "from connector_sdk.cli import main;"
                                                  " sys.exit(main(['services']))"),
                               cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "scaffolded" in installed.stdout


@pytest.mark.parametrize("options", [
    [],
    ["--host-parameter", "--token-url", "https://login.acme.example/oauth2/token"],
    ["--token-url", "https://auth.acme.example/{{ region }}/token"],
    ["--token-url", "https://{{ shop }}.acme.example/admin/oauth/access_token"],
    ["--no-host-parameter", "--token-url", "https://auth.acme.example/token"],
])
def test_every_option_shape_scaffolds_a_valid_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    options: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["new", "acme", "--no-input", "--title", 'Acme "Cloud": API', *options]) == 0
    capsys.readouterr()
    assert main(["validate", "acme"]) == 0, capsys.readouterr().out
    manifest = (tmp_path / "acme" / "connector_acme" / "acme.yaml").read_text()
    assert 'title: "Acme \\"Cloud\\": API"' in manifest
    if "--host-parameter" in options:
        assert 'token_url: "https://{{ host }}/oauth2/token"' in manifest
        assert 'allowed_hosts: ["*.acme.example"]' in manifest


def test_answers_not_given_are_asked_for_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    answers = iter(["Widgets Inc", "https://login.widgets.example/token", "y"])
    asked: list[str] = []

    def fake_input(question: str) -> str:
        asked.append(question)
        return next(answers)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(builtins, "input", fake_input)
    assert main(["new", "widgets"]) == 0
    assert [q.split(" [")[0] for q in asked] == [
        "Title", "Token URL", "Is the whole host a parameter? (y/n)"]
    manifest = (tmp_path / "widgets" / "connector_widgets" / "widgets.yaml").read_text()
    assert 'title: "Widgets Inc"' in manifest and "{{ host }}" in manifest
    capsys.readouterr()
    assert main(["validate", "widgets"]) == 0


@pytest.mark.parametrize(("options", "message"), [
    (["--token-url", "http://auth.acme.example/token"], "must start with https://"),
    (["--token-url", "https://auth.{{ tenant }}.example/token"], "whole first label"),
    (["--token-url", "https://{{ client_id }}.acme.example/t"], "reserved names: client_id"),
    (["--token-url", "https://{{ x.acme.example/t"], "broken placeholder"),
])
def test_an_unusable_answer_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    options: list[str], message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["new", "acme", "--no-input", *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith("connector-sdk new: ") and message in err
    assert not (tmp_path / "acme").exists()


def test_an_existing_directory_is_never_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "keep.txt").write_text("mine")
    assert main(["new", "acme", "--no-input"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "acme").iterdir()] == ["keep.txt"]
    assert main(["new", "Bad Name", "--no-input"]) == 2
    assert "is not a service id" in capsys.readouterr().err
