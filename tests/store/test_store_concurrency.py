"""Several processes on one store; processes killed mid-write; processes racing for the key.

Each scenario runs real processes (``_store_worker.py`` under ``sys.executable``) against a
store in ``tmp_path`` and then checks the store from this process: it opens, SQLite's
integrity check passes, every committed record is whole and decrypts, nothing else is there.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from connector_sdk._stores.crypto import KEY_FILE_NAME, generate_key_text
from connector_sdk._stores.home import ensure_private_dir
from connector_sdk._stores.sqlite import DATABASE_NAME, AuthenticationRecord, open_default_store

WORKER = Path(__file__).with_name("_store_worker.py")


class WorkerEnv(dict[str, str]):
    """The workers' environment; its repr hides the key and the canary in failure reports."""

    def __repr__(self) -> str:
        return f"<worker environment, home {self.get('CONNECTOR_SDK_HOME')}>"


@pytest.fixture
def store_env(tmp_path: Path, canary: str) -> WorkerEnv:
    """An environment for workers: a fresh home, a fixed key, the canary as secret prefix."""
    return WorkerEnv({
        **os.environ,
        "CONNECTOR_SDK_HOME": str(tmp_path / "home"),
        "CONNECTOR_SDK_SECRET_KEY": generate_key_text(),
        "STORE_TEST_SECRET": canary,
    })


def start_worker(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def integrity_check(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def assert_record_whole(record: AuthenticationRecord, canary: str) -> None:
    """The record's fields all come from one write: secret, counter and id agree."""
    counter = record.parameters["counter"]
    secret = record.parameters["client_secret"]
    assert secret.reveal() == f"{canary}:{record.name}:{counter}", record.name
    assert record.parameters["client_id"] == f"id-{record.name}"
    assert record.parameters["filler"] == "x" * 3000


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_concurrent_writers_lose_and_corrupt_nothing(
    store_env: dict[str, str], canary: str, tmp_path: Path
) -> None:
    workers, iterations, shared = 4, 150, 3
    go = tmp_path / "go"
    procs = [
        start_worker(
            store_env, "churn", str(w), str(iterations), str(shared), str(1000 + w), str(go)
        )
        for w in range(workers)
    ]
    wait_until_ready(procs, tmp_path)  # every worker has opened the store
    go.touch()
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=50)
        assert proc.returncode == 0, err[-2000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))

    # the workers really wrote at the same time
    assert max(r["started"] for r in reports) < min(r["ended"] for r in reports)

    db = Path(store_env["CONNECTOR_SDK_HOME"]) / DATABASE_NAME
    assert integrity_check(db) == "ok"
    with open_default_store(store_env) as store:
        records = {record.name: record for record in store.list()}

    expected_own = {
        f"w{w}-{i}" for w in range(workers) for i in range(iterations) if i % 3 != 0
    }
    own = {name for name in records if name.startswith("w")}
    assert own == expected_own
    for name in own:
        assert records[name].version == 2
        assert records[name].parameters["counter"] == 1
        assert_record_whole(records[name], canary)

    for k in range(shared):
        name = f"shared-{k}"
        created = sum(report["shared"][name]["created"] for report in reports)
        deleted = sum(report["shared"][name]["deleted"] for report in reports)
        assert created - deleted == (1 if name in records else 0), name
        if name in records:
            assert_record_whole(records[name], canary)
    assert set(records) == own | {name for name in records if name.startswith("shared-")}
    assert sum(r["shared"][f"shared-{k}"]["updated"] for r in reports for k in range(shared))


def read_committed(proc: subprocess.Popen[str], lines: list[str], stop: threading.Event) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.endswith("\n"):
            lines.append(line.rstrip("\n"))
    stop.set()


def kill_after(
    proc: subprocess.Popen[str], lines: list[str], min_lines: int, rng: random.Random
) -> None:
    deadline = time.monotonic() + 20
    while len(lines) < min_lines:
        assert proc.poll() is None, "the worker exited before it was killed"
        assert time.monotonic() < deadline, "the worker wrote too little"
        time.sleep(0.001)
    time.sleep(rng.uniform(0, 0.02))
    os.kill(proc.pid, signal.SIGKILL)


def allowed_in_flight(round_: int, lines: list[str]) -> dict[str, int | None]:
    """The one write that may have committed after the worker's last report.

    The worker's iteration ``i`` is: create ``i`` (report ``C``), update ``i - 1`` (``U``),
    and when ``i % 4 == 0`` delete ``i - 2`` (``D``). Maps the name that write touches to the
    version it would leave (None: deleted).
    """
    ops = [line.split() for line in lines]
    created = [int(name.split("-")[1]) for op, name, *_ in ops if op == "C"]
    if not created:
        return {f"r{round_}-0": 1}
    last = created[-1]
    reported = {(op, name) for op, name, *_ in ops}
    if last >= 1 and ("U", f"r{round_}-{last - 1}") not in reported:
        return {f"r{round_}-{last - 1}": 2}
    if last >= 2 and last % 4 == 0 and ("D", f"r{round_}-{last - 2}") not in reported:
        return {f"r{round_}-{last - 2}": None}
    return {f"r{round_}-{last + 1}": 1}


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_sigkill_mid_write_leaves_every_committed_record_intact(
    store_env: dict[str, str], canary: str
) -> None:
    rng = random.Random()
    db = Path(store_env["CONNECTOR_SDK_HOME"]) / DATABASE_NAME
    expected: dict[str, int] = {}  # name -> version, from the worker's reports
    for round_ in range(5):
        proc = start_worker(store_env, "kill", str(round_))
        lines: list[str] = []
        done = threading.Event()
        reader = threading.Thread(target=read_committed, args=(proc, lines, done))
        reader.start()
        kill_after(proc, lines, rng.randint(3, 40), rng)
        proc.wait(timeout=10)
        reader.join(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        assert proc.stderr is not None
        proc.stderr.close()

        for line in lines:
            op, name, *rest = line.split()
            if op == "C":
                expected[name] = 1
            elif op == "U":
                expected[name] = int(rest[0])
            else:
                del expected[name]

        assert integrity_check(db) == "ok"
        with open_default_store(store_env) as store:
            actual = {record.name: record for record in store.list()}
        for record in actual.values():
            assert_record_whole(record, canary)
            assert record.parameters["counter"] == record.version - 1
        differences = {
            name: actual[name].version if name in actual else None
            for name in set(expected) | set(actual)
            if expected.get(name) != (actual[name].version if name in actual else None)
        }
        # every reported commit is there; at most the one write in flight went further
        in_flight = allowed_in_flight(round_, lines)
        assert not differences or differences == in_flight, (differences, in_flight)
        expected = {name: record.version for name, record in actual.items()}


def wait_until_ready(procs: list[subprocess.Popen[str]], folder: Path) -> None:
    """Wait until every worker has created its ``ready-*`` file in ``folder``."""
    deadline = time.monotonic() + 20
    while len(list(folder.glob("ready-*"))) < len(procs):
        assert all(proc.poll() is None for proc in procs), "a worker exited early"
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.005)


@pytest.mark.timeout(60)
def test_processes_racing_to_create_the_key_file_share_one_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CONNECTOR_SDK_SECRET_KEY"}
    for round_ in range(3):
        home = ensure_private_dir(tmp_path / f"home{round_}")
        sync = tmp_path / f"sync{round_}"
        sync.mkdir()
        env["CONNECTOR_SDK_HOME"] = str(home)
        procs = [start_worker(env, "key", str(sync / "go")) for _ in range(4)]
        wait_until_ready(procs, sync)
        (sync / "go").touch()
        digests = set()
        for proc in procs:
            out, err = proc.communicate(timeout=20)
            assert proc.returncode == 0, err[-2000:]
            digests.add(out.strip())
        assert len(digests) == 1
        # one key file, and no temporary file left behind
        assert sorted(p.name for p in home.iterdir()) == [KEY_FILE_NAME]
