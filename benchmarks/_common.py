"""Helpers the benchmark scripts share: interleaved timing, paired ratios, printing a table.

Every timed comparison in the suite is *paired*: each round runs every contender once, in
turn, so machine noise in a round hits all alike; the figure is the median over rounds of
the per-round ratio to the baseline, printed with its spread (min and max over rounds).
A ratio of medians of unpaired blocks read 0.754x in one run and 1.124x in the next for the
same code (issue 11.6); the per-round ratio cancels most of that drift.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def time_commands(commands: dict[str, Sequence[str]], rounds: int, *,
                  envs: Mapping[str, Mapping[str, str]] | None = None,
                  warm: bool = False) -> dict[str, list[float]]:
    """Run every command once per round, interleaved, so machine noise hits all alike.

    ``envs`` gives a command its environment; ``warm`` runs each once untimed first (byte
    code written, caches filled: what a user's second run sees)."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for round_no in range(rounds + (1 if warm else 0)):
        for name, argv in commands.items():
            env = (envs or {}).get(name)
            started = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True,
                           env=None if env is None else dict(env))
            if round_no or not warm:
                samples[name].append(time.perf_counter() - started)
    return samples


def paired(values: Sequence[float], baseline: Sequence[float]) -> tuple[float, float, float]:
    """``(median, min, max)`` of the per-round ratios ``values[i] / baseline[i]``."""
    ratios = [v / b for v, b in zip(values, baseline, strict=True)]
    return statistics.median(ratios), min(ratios), max(ratios)


def shown(ratio: tuple[float, float, float], digits: int = 3) -> str:
    """``1.012x (0.990-1.030)``: the median per-round ratio and its spread."""
    mid, low, high = ratio
    return f"{mid:.{digits}f}x ({low:.{digits}f}-{high:.{digits}f})"


def time_calls(calls: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - started)
    return samples


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def print_table(title: str, rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


def save(name: str, payload: object) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2))
    return path
