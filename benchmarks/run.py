"""The benchmark suite: connector-sdk against raw httpx and the libraries users pick instead.

Starts the loopback token endpoint and API (``_server.py``, its own process), runs each
section with every contender on the same work, interleaved, prints tables of medians and
ratios to raw httpx (the floor), a table of targets, and writes every raw figure as JSON.

    python benchmarks/run.py [--quick] [--only NAME ...] [--json PATH]

Sections: overhead (1), concurrency (2), throughput (3), ratelimit (3b: a foreach under the
provider's bucket, benchmarks/ratelimit_foreach.py), startup (4: CLI start-up and
validation), memory (5), temporal (6: a foreach on Temporal workers against a bare temporalio
floor, benchmarks/temporal_fanout.py), tracing (7: the warm call with telemetry off, the
OpenTelemetry API alone and the SDK, benchmarks/tracing_overhead.py). ``--quick`` runs each
section on a tiny workload as a smoke test: it checks that everything runs and never judges
a timing. The peers come from the ``bench`` extra: ``pip install -e '.[bench]'``. See
docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import concurrency
import memory
import overhead
import ratelimit_foreach
import startup
import temporal_fanout
import throughput
import tracing_overhead
from _common import RESULTS, median, time_calls, time_commands
from _sections import Section, Table, judge, print_targets, unavailable
from _server import ServerProcess

ROOT = Path(__file__).parents[1]
SECTIONS = ("overhead", "concurrency", "throughput", "ratelimit", "startup", "memory",
            "temporal", "tracing")


def startup_section(server: ServerProcess, *, quick: bool = False) -> Section:
    """Section 4: CLI start-up against the import floor (``startup.py``), and validating
    many manifests."""
    from validate_many import generate

    from connector_sdk.cli._validation import validate_paths

    rounds, count, auths = (1, 10, 100) if quick else (15, 1000, 10_000)
    exe = shutil.which("connector-sdk", path=str(Path(sys.executable).parent))
    if exe is None:
        return unavailable("startup", "connector-sdk is not installed beside this python"
                                      " (run scripts/bootstrap)")
    with tempfile.TemporaryDirectory() as tmp:
        figures = startup.measure(rounds, Path(tmp), count=auths)
        many = Path(tmp) / "many"
        many.mkdir()
        generate(many, count)
        validate_rounds = max(1, rounds // 3)
        in_process = time_calls({"in": lambda: validate_paths([many])}, validate_rounds)["in"]
        cli = time_commands({"cli": [exe, "validate", str(many)]}, validate_rounds)["cli"]
    section = Section("startup", figures={**figures, "count": count,
                                          "validate_in_process": in_process,
                                          "validate_cli": cli})
    section.tables.append(Table(f"4. CLI start-up, {rounds} interleaved rounds after a warm-up",
                                startup.HEADER, startup.rows(figures)))
    section.tables.append(Table(
        f"4. Validating {count} manifests, median of {validate_rounds} rounds",
        ("how", "total ms", "per manifest ms"),
        [("validate_paths (in-process)", f"{median(in_process) * 1000:.0f}",
          f"{median(in_process) / count * 1000:.2f}"),
         ("connector-sdk validate DIR", f"{median(cli) * 1000:.0f}",
          f"{median(cli) / count * 1000:.2f}")]))
    for name, target in startup.TARGETS.items():
        ratio = figures["ratios"][name][0]
        section.targets.append(judge(f"start-up: {name} / import floor", ratio,
                                     f"<= {target:.2f}x", ratio <= target, timed=True,
                                     quick=quick))
    ratio = figures["list_many_vs_one"][0]
    section.targets.append(judge(f"start-up: {figures['list_many']} / auth list (1)", ratio,
                                 "<= 2.00x", ratio <= 2.0, timed=True, quick=quick))
    return section


RUNNERS: dict[str, Callable[..., Section]] = {
    "overhead": overhead.run,
    "concurrency": concurrency.run,
    "throughput": throughput.run,
    "ratelimit": ratelimit_foreach.run,
    "startup": startup_section,
    "memory": memory.run,
    "temporal": temporal_fanout.run,
    "tracing": tracing_overhead.run,
}


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for dist in ("connector-sdk", "httpx", "httpcore", "httpx-auth", "authlib"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True, check=False).stdout.strip()
    return {"cpu": model, "cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "versions": versions, "commit": commit,
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny workloads: a smoke test that judges no timing")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, metavar="NAME",
                        help=f"run only these sections ({', '.join(SECTIONS)})")
    parser.add_argument("--json", type=Path, default=RESULTS / "latest.json",
                        help="where to write the raw figures (default %(default)s)")
    args = parser.parse_args(argv)
    chosen = args.only or list(SECTIONS)
    info = machine()
    print(f"connector-sdk benchmarks{' (quick: timings not judged)' if args.quick else ''}:"
          f" {info['cpu'] or 'unknown cpu'}, {info['cpus']} cpus, Python {info['python']},"
          f" load {os.getloadavg()[0]:.2f}")
    sections: list[Section] = []
    started = time.perf_counter()
    with ServerProcess() as server:
        for name in SECTIONS:
            if name not in chosen:
                continue
            print(f"\n== {name} ==", flush=True)
            section = RUNNERS[name](server, quick=args.quick)
            section.print()
            sections.append(section)
    print_targets(sections)
    info["load_after"] = os.getloadavg()[0]
    payload = {"machine": info, "quick": args.quick,
               "seconds": round(time.perf_counter() - started, 1),
               "sections": {s.name: s.as_dict() for s in sections}}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(payload, indent=2))
    print(f"\nraw figures: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
