"""What a benchmark section hands back: tables to print, raw figures, targets judged.

A timed target is judged only in a full run: ``--quick`` runs too little work for timings to
mean anything, so there it is reported as ``not judged`` (the smoke test never judges time).
Counted targets (token requests, successful calls) are judged in both modes.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from _common import print_table


@dataclass
class Table:
    title: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]


@dataclass
class TargetResult:
    name: str
    value: str
    target: str
    met: bool | None  # None: not judged (timed target in --quick mode)


@dataclass
class Section:
    name: str
    tables: list[Table] = field(default_factory=list)
    targets: list[TargetResult] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    available: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def print(self) -> None:
        for table in self.tables:
            print_table(table.title, table.rows, table.header)
        for note in self.notes:
            print(f"  note: {note}")


def judge(name: str, value: float | str, target: str, met: bool, *, timed: bool,
          quick: bool) -> TargetResult:
    shown = f"{value:.3f}" if isinstance(value, float) else str(value)
    return TargetResult(name, shown, target, None if (timed and quick) else met)


def unavailable(name: str, reason: str) -> Section:
    """A section that could not run (a module it measures has not landed)."""
    return Section(name, notes=[f"not available: {reason}"], available=False)


def print_targets(sections: list[Section]) -> None:
    rows = []
    for section in sections:
        for target in section.targets:
            verdict = {True: "met", False: "MISSED", None: "not judged"}[target.met]
            rows.append((target.name, target.value, target.target, verdict))
    if rows:
        print_table("Targets", rows, ("target", "value", "wanted", "verdict"))


def main_for(run: Callable[..., Section]) -> None:
    """Run one section on its own: ``python benchmarks/<section>.py [--quick]``."""
    from _server import ServerProcess

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="also write the section's figures here")
    args = parser.parse_args()
    with ServerProcess() as server:
        section = run(server, quick=args.quick)
    section.print()
    print_targets([section])
    if args.json:
        with open(args.json, "w") as out:
            json.dump(section.as_dict(), out, indent=2)
