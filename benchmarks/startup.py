"""CLI start-up against the import floor, paired in the same run (issue 11.3).

The floor is ``python -c "import pluggy, httpx, jsonschema, yaml"``: what any tool built on
our dependencies pays before doing anything. Every command runs once per round, all in turn
(interleaved), after one untimed warm-up run each (byte code written, the manifest verdict
cache filled: what a user's second command sees). Figures: median wall ms, and the median of
the per-round ratios to the floor with their spread; also ``auth list`` at 10,000
authentications against ``auth list`` at 1, per round. The stores are generated here: one
SQLite store with 1 authentication and one with 10,000 (Twitch-shaped: a client id and a
sealed client secret each), written in one transaction.

Targets: ``--version`` <= 0.25x the floor; ``validate one.yaml`` <= 1.3x; ``auth list`` and
``auth show`` <= 1.0x; ``auth list`` at 10,000 <= 2x ``auth list`` at 1.

    python benchmarks/startup.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import median, paired, print_table, save, shown, time_commands

ROOT = Path(__file__).parents[1]
FLOOR = "floor: import pluggy, httpx, jsonschema, yaml"
LIST_1 = "connector-sdk auth list (1 authentication)"
LIST_10K = "connector-sdk auth list (10,000 authentications)"
SHOW_10K = "connector-sdk auth show NAME (store of 10,000)"
#: command -> (target ratio to the floor, what it is compared with)
TARGETS = {
    "connector-sdk --version": 0.25,
    "connector-sdk validate one.yaml": 1.3,
    LIST_1: 1.0,
    "connector-sdk auth show NAME (1 authentication)": 1.0,
    SHOW_10K: 1.0,
}


def fill_store(home: Path, count: int) -> None:
    """A store of ``count`` Twitch-shaped authentications, written in one transaction (the
    store's own ``create`` would fsync each one)."""
    from connector_sdk import Secret
    from connector_sdk._stores.codec import encode_parameters
    from connector_sdk._stores.home import ensure_private_dir
    from connector_sdk._stores.protocol import now_text
    from connector_sdk._stores.sqlite import open_default_store

    ensure_private_dir(home)
    store = open_default_store({}, home=home)
    now = now_text()
    try:
        with store._transaction("fill the benchmark store", write=True) as execute:
            for i in range(count):
                name = f"auth-{i:05d}"
                _, rows = encode_parameters(store.cipher, name, {
                    "client_id": f"{i:030d}", "client_secret": Secret(f"s{i:029d}")})
                execute("INSERT INTO authentications (name, service, version, created_at,"
                        " updated_at) VALUES (?, 'twitch', 1, ?, ?)", (name, now, now))
                for key, kind, value in rows:
                    execute("INSERT INTO parameters (authentication, name, kind, value)"
                            " VALUES (?, ?, ?, ?)", (name, key, kind, value))
    finally:
        store.close()


def measure(rounds: int, tmp: Path, *, count: int = 10_000) -> dict[str, Any]:
    """Run the start-up commands in ``rounds`` interleaved rounds; the raw samples and the
    paired ratios."""
    exe = shutil.which("connector-sdk", path=str(Path(sys.executable).parent))
    if exe is None:
        raise RuntimeError("connector-sdk is not installed beside this python: run"
                           " scripts/bootstrap")
    manifest = tmp / "one.yaml"
    shutil.copy(ROOT / "connectors/shopify/connector_shopify/shopify.yaml", manifest)
    one, many = tmp / "home-1", tmp / "home-many"
    fill_store(one, 1)
    fill_store(many, count)
    plain = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_SDK_")}
    env_one, env_many = {**plain, "CONNECTOR_SDK_HOME": str(one)}, \
        {**plain, "CONNECTOR_SDK_HOME": str(many)}
    list_many = LIST_10K if count == 10_000 else f"connector-sdk auth list ({count:,})"
    commands = {
        FLOOR: [sys.executable, "-c", "import pluggy, httpx, jsonschema, yaml"],
        "connector-sdk --version": [exe, "--version"],
        "connector-sdk validate one.yaml": [exe, "validate", str(manifest)],
        LIST_1: [exe, "auth", "list"],
        "connector-sdk auth show NAME (1 authentication)": [exe, "auth", "show", "auth-00000"],
        list_many: [exe, "auth", "list"],
        SHOW_10K: [exe, "auth", "show", "auth-00007"],
    }
    envs = {name: env_many if name in (list_many, SHOW_10K) else env_one for name in commands}
    samples = time_commands(commands, rounds, envs=envs, warm=True)
    ratios = {name: paired(s, samples[FLOOR]) for name, s in samples.items()}
    return {"rounds": rounds, "count": count, "samples": samples, "ratios": ratios,
            "list_many": list_many,
            "list_many_vs_one": paired(samples[list_many], samples[LIST_1])}


def rows(figures: dict[str, Any]) -> list[tuple[str, ...]]:
    out = []
    for name, values in figures["samples"].items():
        target = TARGETS.get(name)
        out.append((name, f"{median(values) * 1000:.1f}", shown(figures["ratios"][name], 2),
                    "" if target is None else f"<= {target:.2f}x"))
    out.append((f"{figures['list_many']} / auth list (1)", "",
                shown(figures["list_many_vs_one"], 2), "<= 2.00x"))
    return out


HEADER = ("command", "median ms", "vs floor, median of per-round ratios (min-max)", "target")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = measure(args.rounds, Path(tmp))
    print_table(f"CLI start-up, {args.rounds} interleaved rounds", rows(figures), HEADER)
    save("startup", figures)


if __name__ == "__main__":
    main()
