"""docs/tutorial.md, followed as written: every console command runs, in order, and every
output line the tutorial shows appears in what that command printed.

The commands run in bash, in a temporary directory, with a temporary store, and in a
throwaway virtual environment layered on this one (its site-packages are added by a
``.pth`` file), so ``pip install -e ./acme`` installs the scaffolded connector there and no
other test ever sees it. ``connector-sdk``, ``pytest`` and ``pip`` on its PATH are this
venv's. The tutorial's port 8765 is replaced by a free one. Python blocks whose first line
is ``# FILE`` are written to FILE first.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
TUTORIAL = ROOT / "docs" / "tutorial.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


@dataclass
class Command:
    line: str
    expected: list[str] = field(default_factory=list)


def blocks(text: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]


def console_commands(body: str) -> list[Command]:
    commands: list[Command] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            commands.append(Command(line[2:]))
        elif line.strip():
            commands[-1].expected.append(line.strip())
    return commands


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def layered_venv(where: Path) -> Path:
    """A venv whose interpreter also sees this venv's packages; returns its bin directory."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    site_packages = next(where.glob("lib/python*/site-packages"))
    ours = sysconfig.get_paths()["purelib"]
    (site_packages / "_layer_on_project.pth").write_text(
        f"import site; site.addsitedir({ours!r})\n")
    bin_dir = where / "bin"
    wrappers = {"connector-sdk": "from connector_sdk.cli import main; sys.exit(main())",
                "pytest": "import pytest; sys.exit(pytest.console_main())",
                "pip": "from pip._internal.cli.main import main; sys.exit(main())"}
    for name, code in wrappers.items():
        script = bin_dir / name
        script.write_text(f"#!{bin_dir / 'python'}\nimport sys\n{code}\n")
        script.chmod(0o755)
    return bin_dir


def test_the_tutorial_commands_run_as_written(tmp_path: Path) -> None:
    text = TUTORIAL.read_text(encoding="utf-8").replace("8765", str(free_port()))
    work = tmp_path / "work"
    work.mkdir()
    bin_dir = layered_venv(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_SDK_")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", HOME=str(tmp_path),
               CONNECTOR_SDK_HOME=str(tmp_path / "home"), PYTHONDONTWRITEBYTECODE="1")
    env.pop("VIRTUAL_ENV", None)
    ran = 0
    try:
        for kind, body in blocks(text):
            if kind == "python" and body.startswith("# "):
                name = body.splitlines()[0][2:].strip()
                (work / name).write_text(body, encoding="utf-8")
            if kind != "console":
                continue
            for command in console_commands(body):
                if command.line.startswith("export "):
                    name, _, value = command.line[len("export "):].partition("=")
                    env[name] = value
                    continue
                done = subprocess.run(["bash", "-c", command.line], cwd=work, env=env,
                                      capture_output=True, text=True, timeout=300, check=False)
                output = done.stdout + done.stderr
                assert done.returncode == 0, f"$ {command.line}\n{output[-4000:]}"
                for line in command.expected:
                    assert line in output, f"$ {command.line}: {line!r} not in\n{output[-4000:]}"
                ran += 1
    finally:
        pid_file = work / "dev_server.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
    assert ran >= 10


pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
