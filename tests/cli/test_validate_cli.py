"""``connector-sdk validate`` as users run it: exit codes, formats, bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connector_sdk.cli import main

FIXTURES = Path(__file__).parents[1] / "manifest" / "fixtures"
VALID = FIXTURES / "valid" / "acme.yaml"
CONNECTORS = Path(__file__).parents[2] / "connectors"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_valid_file_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "validate", str(VALID))
    assert code == 0
    assert "1 file valid" in out


def test_shipped_connectors_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "validate", str(CONNECTORS))
    assert code == 0, out
    assert "2 files valid" in out


def test_problems_exit_1_with_path_line_col_rule(capsys: pytest.CaptureFixture[str]) -> None:
    fixture = FIXTURES / "invalid" / "SCHEMA-UNKNOWN-KEY.yaml"
    code, out, _ = run_cli(capsys, "validate", str(fixture))
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith(f"{fixture}:")
    path, line, col, rest = first.split(":", 3)
    assert int(line) > 1 and int(col) >= 1
    assert rest.startswith(" SCHEMA-UNKNOWN-KEY ")


def test_all_problems_of_all_files_are_reported(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "validate", str(FIXTURES / "invalid"))
    assert code == 1
    reported = {line.split()[1] for line in out.splitlines()
                if ": " in line and "problem" not in line}
    assert len(reported) >= 30


def test_json_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "validate", "--format", "json",
                           str(FIXTURES / "invalid" / "SECRET-IN-URL.yaml"), str(VALID))
    assert code == 1
    payload = json.loads(out)
    assert payload["valid"] is False
    bad, good = payload["files"]
    assert good["valid"] is True and good["problems"] == []
    [problem] = bad["problems"]
    assert problem["rule"] == "SECRET-IN-URL"
    assert problem["path"] == "$.base_url"
    assert {"file", "line", "column", "message", "severity"} <= set(problem)


def test_github_format_escapes_and_locates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "validate", "--format", "github",
                           str(FIXTURES / "invalid" / "YAML-DUPLICATE-KEY.yaml"))
    assert code == 1
    [line] = out.splitlines()
    assert line.startswith("::error file=")
    assert ",line=" in line and ",col=" in line and ",title=YAML-DUPLICATE-KEY::" in line


def test_missing_path_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "validate", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "no such file" in err


def test_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--format", "xml", str(VALID)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "connector-sdk validate: error: argument --format: invalid choice: 'xml'" in err


def test_directory_without_manifests(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "ci.yaml").write_text("on: push\n")
    code, out, _ = run_cli(capsys, "validate", str(tmp_path))
    assert code == 1
    assert "NO-MANIFESTS" in out


def test_directory_skips_yaml_that_is_not_a_manifest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "ci.yaml").write_text("on: push\n")
    shutil.copy(VALID, tmp_path / "acme.yaml")
    code, out, _ = run_cli(capsys, "validate", str(tmp_path))
    assert code == 0, out


def test_large_file_is_refused_quickly(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.write(b"manifest_version: 1\n")
        handle.write(b"# padding\n" * 5_000_000)  # 50 MB
    started = time.perf_counter()
    code, out, _ = run_cli(capsys, "validate", str(big))
    assert code == 1
    assert "FILE-TOO-LARGE" in out
    assert time.perf_counter() - started < 5


@pytest.mark.timeout(20)
@pytest.mark.parametrize("skip", [False, True])
def test_a_named_pipe_is_refused_not_waited_on(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, skip: bool
) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    args = ["validate", *(["--skip-undeclared"] if skip else []), str(fifo)]
    code, out, _ = run_cli(capsys, *args)
    assert code == 1
    assert "FILE-UNREADABLE" in out
    assert "not a regular file" in out


def test_a_device_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "validate", "/dev/zero")
    assert code == 1
    assert "FILE-UNREADABLE" in out


def _without_dac_override() -> None:
    """In a child of root: drop the capabilities that let root read any file (Linux
    prctl PR_CAPBSET_DROP; the exec that follows recomputes root's effective set)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.mark.skipif(sys.platform != "linux", reason="file modes and capabilities as on Linux")
def test_a_file_without_read_permission_is_unreadable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The same check whoever runs the suite: as root (CI) the CLI runs in a child that has
    lost root's right to read any file, so the permission is what refuses it."""
    target = tmp_path / "locked.yaml"
    target.write_text("manifest_version: 1\n")
    target.chmod(0)
    if os.geteuid() != 0:
        code, out, _ = run_cli(capsys, "validate", str(target))
    else:
        done = subprocess.run([sys.executable, "-m", "connector_sdk.cli", "validate",
                               str(target)], capture_output=True, text=True, timeout=60,
                              preexec_fn=_without_dac_override)
        code, out = done.returncode, done.stdout
    assert code == 1
    assert out.startswith(f"{target}: FILE-UNREADABLE cannot read the file: Permission denied")


@pytest.mark.parametrize("content", [
    b"[1, 2, 3]\n",
    b"manifest_version: 1\nservice: 5\nparameters: []\nauth: x\nallowed_hosts: {}\nbase_url: 7\n",
    b"\xef\xbb\xbfmanifest_version: 1\n",
    b"manifest_version: [\n",
    b"\x89PNG\r\n\x1a\n\x00\x00",
])
def test_bad_input_never_gives_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    code, out, err = run_cli(capsys, "validate", str(path))
    assert code == 1
    assert "Traceback" not in out + err
    assert out.startswith(str(path) + ":")


def test_wrong_types_everywhere_are_each_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "types.yaml"
    path.write_text("manifest_version: 1\nservice: 5\nparameters: []\nauth: x\n"
                    "allowed_hosts: {}\nbase_url: 7\n")
    code, out, _ = run_cli(capsys, "validate", str(path))
    assert code == 1
    lines = [line for line in out.splitlines() if "SCHEMA-TYPE" in line]
    assert {line.split(":")[1] for line in lines} >= {"2", "3", "4", "5", "6"}


def test_console_script_runs_in_a_subprocess(tmp_path: Path) -> None:
    exe = shutil.which("connector-sdk", path=str(Path(sys.executable).parent))
    assert exe, "connector-sdk console script is not installed beside this python"
    result = subprocess.run([exe, "validate", str(VALID)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60,
                             check=False)
    assert version.stdout.startswith("connector-sdk ")


def test_skip_undeclared_leaves_other_yaml_alone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    other = tmp_path / ".pre-commit-config.yaml"
    other.write_text("repos: []\n")
    code, out, _ = run_cli(capsys, "validate", "--skip-undeclared", str(other), str(VALID))
    assert code == 0, out
    assert "1 file valid" in out


def test_pre_commit_hook_uses_the_validator() -> None:
    import yaml

    hooks = yaml.safe_load((Path(__file__).parents[2] / ".pre-commit-hooks.yaml").read_text())
    [hook] = hooks
    assert hook["entry"].startswith("connector-sdk validate")
    assert hook["language"] == "python"


def test_workflows_are_checked_against_manifests_of_the_same_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifest = (FIXTURES / "invalid" / "OPERATION-UNKNOWN-KEYWORD.yaml").read_text() \
        .replace("maxmum", "maximum").replace("id: acme", "id: scratchsvc")
    (tmp_path / "svc.yaml").write_text(manifest)
    (tmp_path / "flow.yaml").write_text(
        "workflow_version: 1\nsteps:\n  - id: a\n    operation: scratchsvc.get_thing\n"
        "    authentication: x\n    inputs: {limit: 500}\n")
    code, out, _ = run_cli(capsys, "validate", str(tmp_path))
    assert code == 1
    assert "WORKFLOW-OPERATION-UNKNOWN" not in out  # the service came from svc.yaml
    assert "WORKFLOW-STEP-INPUT-INVALID" in out  # its schema applies: maximum 100


def test_a_tab_in_the_indentation_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "tab.yaml"
    path.write_text("manifest_version: 1\nservice:\n\tid: x\n")
    code, out, _ = run_cli(capsys, "validate", str(path))
    assert code == 1
    assert "never tabs" in out


_AUDITED_VALIDATE = """
import json, sys
opened, connects = [], []
def hook(event, args):
    if event == "open":
        opened.append(str(args[0]))
    elif event == "socket.connect":
        connects.append(repr(args[1]))
sys.addaudithook(hook)
from connector_sdk.cli import main
code = main(["validate", *sys.argv[1:]])
print(json.dumps({"code": code, "opened": opened, "connects": connects}), file=sys.stderr)
"""


def test_validate_opens_only_the_files_it_is_given_and_the_packages_own(tmp_path: Path) -> None:
    """The promise of docs/security.md, seen by an audit hook in a fresh process: no socket,
    and no file but the named ones, the SDK's package (its schemas) and the interpreter's."""
    import connector_sdk

    canary = tmp_path / "canary.json"
    canary.write_text('{"const": "canary"}')
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(VALID.read_text().replace(
        "    client_id:\n      type: string\n",
        f"    client_id:\n      type: string\n      $ref: 'file://{canary}'\n"
        "      pattern: '^(a+)+$'\n      default: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\n"))
    done = subprocess.run([sys.executable, "-c", _AUDITED_VALIDATE, str(hostile), str(VALID)],
                          capture_output=True, text=True, timeout=120)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] == 1 and "REF-NOT-LOCAL" in done.stdout
    assert report["connects"] == []
    allowed = (str(Path(connector_sdk.__file__).parent), sys.prefix, sys.base_prefix,
               str(hostile), str(VALID))
    assert [p for p in report["opened"] if not Path(p).resolve().as_posix().startswith(
        tuple(str(Path(a).resolve()) for a in allowed))] == []
    assert str(canary) not in report["opened"]
