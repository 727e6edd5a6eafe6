"""A store client run as a separate process by test_store_concurrency.py.

Usage: ``python _store_worker.py MODE ARGS...`` with ``CONNECTOR_SDK_HOME`` (and usually
``CONNECTOR_SDK_SECRET_KEY``) set, and ``STORE_TEST_SECRET`` holding the prefix of every
secret value written (the test's canary). It never prints a secret.

Modes:

``churn WORKER ITERATIONS SHARED SEED GO_FILE``
    Opens the store, creates ``ready-WORKER`` beside ``GO_FILE`` and waits for ``GO_FILE``
    (so that all workers write at once), then
    creates, updates and deletes its own names ``wWORKER-I`` (deterministically) and runs
    random operations on the shared names ``shared-K``; prints one JSON line of what
    succeeded and when it ran.
``kill ROUND``
    Writes forever; after each commit prints ``C name``, ``U name version`` or ``D name``
    (flushed), so the test knows what was committed when it SIGKILLs the process.
``key GO_FILE``
    Creates ``ready-PID`` beside ``GO_FILE``, waits for ``GO_FILE``, then loads (or
    creates) the key file and prints the SHA-256 of the key, so racing processes can be
    compared without showing a key.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import time
from pathlib import Path

from connector_sdk._errors import AuthenticationExists, AuthenticationNotFound, StoreError
from connector_sdk._secrets import Secret
from connector_sdk._stores.crypto import load_secret_key
from connector_sdk._stores.sqlite import open_default_store

PREFIX = os.environ.get("STORE_TEST_SECRET", "not-a-secret")
FILLER = "x" * 3000  # spreads a record over several pages, so a kill can land mid-record


def secret_for(name: str, counter: int) -> Secret:
    return Secret(f"{PREFIX}:{name}:{counter}")


def params(name: str, counter: int, writer: str) -> dict[str, object]:
    return {
        "client_id": f"id-{name}",
        "client_secret": secret_for(name, counter),
        "counter": counter,
        "writer": writer,
        "filler": FILLER,
    }


def wait_for(go_file: Path) -> None:
    deadline = time.monotonic() + 10
    while not go_file.exists():
        if time.monotonic() > deadline:
            raise SystemExit("the go file never appeared")
        time.sleep(0.0005)


def churn(worker: int, iterations: int, shared: int, seed: int, go_file: Path) -> None:
    rng = random.Random(seed)
    me = f"w{worker}"
    counts = {f"shared-{k}": {"created": 0, "deleted": 0, "updated": 0} for k in range(shared)}
    conflicts = 0
    with open_default_store() as store:
        go_file.with_name(f"ready-{worker}").touch()
        wait_for(go_file)
        started = time.time()
        for i in range(iterations):
            own = f"{me}-{i}"
            store.create(own, "svc", params(own, 0, me))
            store.update(own, params(own, 1, me), expected_version=1)
            if i % 3 == 0:
                store.delete(own)

            name = f"shared-{rng.randrange(shared)}"
            op = rng.choice(("create", "update", "update", "delete"))
            try:
                if op == "create":
                    store.create(name, "svc", params(name, 0, me))
                    counts[name]["created"] += 1
                elif op == "update":
                    record = store.get(name)
                    counter = int(record.parameters["counter"]) + 1
                    store.update(
                        name, params(name, counter, me), expected_version=record.version
                    )
                    counts[name]["updated"] += 1
                else:
                    store.delete(name)
                    counts[name]["deleted"] += 1
            except (AuthenticationExists, AuthenticationNotFound):
                pass
            except StoreError as exc:
                if "changed by someone else" not in str(exc):
                    raise
                conflicts += 1
        ended = time.time()
    report = {
        "worker": me,
        "shared": counts,
        "conflicts": conflicts,
        "started": started,
        "ended": ended,
    }
    print(json.dumps(report), flush=True)


def kill_loop(round_: int) -> None:
    out = sys.stdout
    with open_default_store() as store:
        i = 0
        while True:
            name = f"r{round_}-{i}"
            store.create(name, "svc", params(name, 0, "killer"))
            out.write(f"C {name}\n")
            out.flush()
            if i >= 1:
                previous = f"r{round_}-{i - 1}"
                record = store.update(previous, params(previous, 1, "killer"))
                out.write(f"U {previous} {record.version}\n")
                out.flush()
            if i >= 2 and i % 4 == 0:
                gone = f"r{round_}-{i - 2}"
                store.delete(gone)
                out.write(f"D {gone}\n")
                out.flush()
            i += 1


def key_race(go_file: Path) -> None:
    home = Path(os.environ["CONNECTOR_SDK_HOME"])
    go_file.with_name(f"ready-{os.getpid()}").touch()
    wait_for(go_file)
    key = load_secret_key(home)
    print(hashlib.sha256(key).hexdigest(), flush=True)


def main(argv: list[str]) -> None:
    mode, *args = argv
    if mode == "churn":
        churn(int(args[0]), int(args[1]), int(args[2]), int(args[3]), Path(args[4]))
    elif mode == "kill":
        kill_loop(int(args[0]))
    elif mode == "key":
        key_race(Path(args[0]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
