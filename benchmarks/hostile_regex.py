"""Hostile regexes and inputs: how long ``validate`` takes and how long the event loop stalls.

1. ``validate`` of the audit's manifest: a parameter with ``pattern: '^(a+)+$'`` and a
   31-character default that does not match (77 s with Python's backtracking ``re``).
   Beside it, Python's ``re`` on the same pattern for growing inputs (it doubles with each
   character; 31 is out of reach), and RE2 on the SDK's path.
2. The event loop: an operation whose input has a hostile pattern (and the same pattern as a
   ``patternProperties`` key) is called with a hostile input from a coroutine while a ticker
   records the longest gap between its 1 ms ticks. The input is refused before any request
   (so no server is needed); the gap is how long input validation held the loop.
   Patterns: the audit's ``^(a+)+$`` and the most expensive shapes ``validate`` still accepts.
   An input of up to 4,096 characters is checked on the loop; a larger one in a worker
   thread (RE2 releases the GIL), so the loop's stall stays that of 4,096 characters.

    python benchmarks/hostile_regex.py [--sizes 4096,65536,1048576] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import random
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from _common import median, print_table, save

from connector_sdk import OperationError
from connector_sdk._manifest.loader import load_manifest
from connector_sdk._manifest.model import Authentication
from connector_sdk._operations.calls import call_operation
from connector_sdk._runtime.runtime import Runtime

ROOT = Path(__file__).parents[1]
BASE = yaml.safe_load((ROOT / "tests/manifest/fixtures/valid/acme.yaml").read_text())
AUDIT = "^(a+)+$"
#: The audit's, a classic, and shapes near the largest validate accepts (2,000 instructions)
#: that keep hundreds of RE2 states alive per character.
PATTERNS = (AUDIT, "^(a|aa)+$", "(a|b){300}x", "[ab]*a[ab]{600}x", "^[a-z]{1000}!$")


def manifest(client_id: dict[str, Any], op_input: dict[str, Any] | None = None) -> str:
    data = copy.deepcopy(BASE)
    data["parameters"]["properties"]["client_id"] = {"type": "string", **client_id}
    if op_input is not None:
        data["operations"] = {"op": {"title": "t", "description": "d",
                                     "input": {"type": "object", "properties": op_input},
                                     "request": {"method": "GET", "path": "/x"}}}
    return yaml.safe_dump(data)


def validate_figures(rounds: int) -> list[tuple[str, ...]]:
    text = manifest({"pattern": AUDIT, "default": "a" * 31 + "!"})
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        _, problems = load_manifest(text)
        samples.append(time.perf_counter() - started)
        assert [p.rule for p in problems] == ["PARAMETER-DEFAULT-INVALID"], problems
    rows = [("validate, audit manifest (31-char default), RE2", f"{median(samples) * 1e3:.2f}")]
    evil = re.compile(AUDIT)
    for n in (16, 18, 20, 22):
        started = time.perf_counter()
        evil.search("a" * n + "!")
        rows.append((f"Python re, same pattern, {n} chars + '!' (reference)",
                     f"{(time.perf_counter() - started) * 1e3:.2f}"))
    return rows


async def _stall(runtime: Runtime, auth: Authentication, value: dict[str, Any]
                 ) -> tuple[float, float]:
    """(longest gap of a 1 ms ticker, duration of the call) while the call refuses."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    try:
        await call_operation(runtime, "acme.op", auth, value)
        raise AssertionError("the hostile input was accepted")
    except OperationError:
        pass
    took = time.perf_counter() - started
    await asyncio.sleep(0.01)
    done.set()
    await task
    return max(gaps), took


def stall_figures(sizes: list[int], rounds: int) -> tuple[list[tuple[str, ...]], float]:
    rows: list[tuple[str, ...]] = []
    worst = 0.0
    rng = random.Random(7)  # random a/b defeats RE2's DFA cache for the [ab] shapes
    with tempfile.TemporaryDirectory() as home, Runtime(environ={}, home=home) as runtime:
        for pattern in PATTERNS:
            service, problems = load_manifest(manifest({}, {
                "id": {"type": "string", "pattern": pattern},
                "keys": {"type": "object", "patternProperties": {pattern: {"type": "integer"}},
                         "additionalProperties": False}}))
            assert service is not None, problems
            runtime.services.services[service.id] = service
            auth = Authentication("a", service, {"tenant": "t", "client_id": "c",
                                                 "client_secret": "s"})
            for size in sizes:
                hostile = "".join(rng.choice("ab") for _ in range(size - 1)) + "!"
                value = {"id": hostile[: size // 2], "keys": {hostile[size // 2:]: "x"}}
                runs = [asyncio.run(_stall(runtime, auth, value)) for _ in range(rounds)]
                stalls = [r[0] for r in runs]
                worst = max(worst, max(stalls))
                took = median([r[1] for r in runs])
                rows.append((pattern, f"{size:,}", f"{median(stalls) * 1e3:.1f}",
                             f"{max(stalls) * 1e3:.1f}", f"{took * 1e3:.0f}"))
    return rows, worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4096,65536,1048576")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    validate_rows = validate_figures(args.rounds)
    print_table("1. validate with a hostile pattern", validate_rows, ("what", "ms"))
    stall_rows, worst = stall_figures(sizes, args.rounds)
    print_table(f"2. event-loop stall while call_operation refuses a hostile input (of that many"
                f" characters: a value and a key; median and max of {args.rounds})", stall_rows,
                ("pattern", "input chars", "stall median ms", "stall max ms", "call ms"))
    print(f"worst event-loop stall: {worst * 1e3:.1f} ms (a 1 ms ticker's longest gap)")
    save("hostile_regex", {"validate": validate_rows, "stall": stall_rows,
                           "worst_stall_ms": worst * 1e3})


if __name__ == "__main__":
    main()
