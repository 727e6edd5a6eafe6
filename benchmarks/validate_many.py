"""``connector-sdk validate`` over many *distinct* generated manifests: time per manifest.

Generates N valid Shopify-sized manifests (5 operations each) that differ in everything a
cache could key on: service id and title, operation ids, input property names, numeric
constraints and descriptions; every operation schema of the run is distinct. Validates them
in process (``validate_paths``, warm: the second of two runs in a fresh process) and through
the CLI.

With ``--baseline REV`` the same directory is also validated by the SDK as of git revision
``REV`` (its ``connector_sdk/`` extracted to a temporary directory), in the same rounds,
alternating which goes first; the figure is the median of the per-round ratios.

    python benchmarks/validate_many.py [--count 1000] [--rounds 5] [--baseline REV]
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import yaml
from _common import median, print_table, save, time_commands

ROOT = Path(__file__).parents[1]
SHOPIFY = ROOT / "connectors/shopify/connector_shopify/shopify.yaml"

#: Runs in a fresh interpreter: one warm-up run (validators built), then the timed run.
_MEASURE = """
import sys, time
from pathlib import Path
from connector_sdk.cli._validation import validate_paths
directory = Path(sys.argv[1])
results = validate_paths([directory])
assert not any(r.problems for r in results), [p for r in results for p in r.problems][:3]
started, cpu = time.perf_counter(), time.process_time()
validate_paths([directory])
print(time.perf_counter() - started, time.process_time() - cpu)
"""


def _variant(base: dict[str, Any], i: int) -> dict[str, Any]:
    data = copy.deepcopy(base)
    data["service"]["id"] = f"svc{i}"
    data["service"]["title"] = f"Service {i}"
    operations = {}
    for op_id, operation in data["operations"].items():
        props = operation["input"].get("properties", {})
        renamed = {f"{k}_{i}": v for k, v in props.items()}
        for prop in renamed.values():
            if "maximum" in prop:
                prop["maximum"] = 100 + i
            if "minLength" in prop:
                prop["minLength"] = 1 + i % 7
            prop["description"] = f"{prop.get('description', 'Input')} ({i})"
        operation["input"]["properties"] = renamed
        if "required" in operation["input"]:
            operation["input"]["required"] = [f"{k}_{i}" for k in operation["input"]["required"]]
        request = operation.get("request")
        if request:
            for k in props:
                request["path"] = request["path"].replace(f"{{{{ {k} }}}}", f"{{{{ {k}_{i} }}}}")
            request["query"] = {f"{k}_{i}": f"{{{{ {k}_{i} }}}}" for k in request.get("query", {})}
        pagination = operation.get("pagination")
        if pagination and "page_size_param" in pagination:
            pagination["page_size_param"] += f"_{i}"
        operations[f"{op_id}_{i}"] = operation
    data["operations"] = operations
    return data


def generate(directory: Path, count: int) -> None:
    """Write ``count`` distinct valid manifests into ``directory``."""
    base = yaml.safe_load(SHOPIFY.read_text())
    digests = set()
    for i in range(count):
        text = yaml.safe_dump(_variant(base, i), sort_keys=False)
        digests.add(hashlib.sha256(text.encode()).hexdigest())
        (directory / f"svc{i:04d}.yaml").write_text(text)
    assert len(digests) == count, "generated manifests must all differ"


def _extract(revision: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "connector_sdk"],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def _measure(directory: Path, pythonpath: Path | None) -> tuple[float, float]:
    """(wall, CPU) seconds of one warm ``validate_paths`` over ``directory``."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(directory)], check=True,
                         capture_output=True, text=True, env=env, cwd=str(pythonpath or ROOT))
    wall, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", help="git revision to compare with, in the same rounds")
    args = parser.parse_args()
    exe = shutil.which("connector-sdk", path=str(Path(sys.executable).parent))
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "manifests"
        directory.mkdir()
        generate(directory, args.count)
        baseline = _extract(args.baseline, Path(tmp) / "baseline") if args.baseline else None
        current: list[tuple[float, float]] = []
        before: list[tuple[float, float]] = []
        for round_ in range(args.rounds):
            order = [None, baseline] if round_ % 2 == 0 else [baseline, None]
            for which in order:
                if which is None:
                    current.append(_measure(directory, None))
                elif baseline is not None:
                    before.append(_measure(directory, baseline))
        cli = time_commands({"cli": [exe, "validate", str(directory)]}, args.rounds)["cli"] \
            if exe else []
    per = 1000 / args.count
    now_wall, now_cpu = [c[0] for c in current], [c[1] for c in current]
    rows = [("validate_paths, in process (warm)", f"{median(now_wall) * 1000:.0f} ms",
             f"{median(now_wall) * per:.2f} ms", f"{median(now_cpu) * per:.2f} ms")]
    if before:
        rows.insert(0, (f"baseline {args.baseline}, in process (warm)",
                        f"{median([b[0] for b in before]) * 1000:.0f} ms",
                        f"{median([b[0] for b in before]) * per:.2f} ms",
                        f"{median([b[1] for b in before]) * per:.2f} ms"))
    if cli:
        rows.append(("connector-sdk validate DIR (cold process)", f"{median(cli) * 1000:.0f} ms",
                     f"{median(cli) * per:.2f} ms", "-"))
    print_table(f"{args.count} distinct manifests (5 operations each), median of {args.rounds}"
                " rounds", rows, ("how", "total", "per manifest", "CPU per manifest"))
    if before:
        for label, index in (("wall", 0), ("CPU", 1)):
            ratios = [c[index] / b[index] for c, b in zip(current, before, strict=True)]
            print(f"paired ratio now/baseline, {label} time: median"
                  f" {statistics.median(ratios):.3f}x (spread {min(ratios):.3f}x to"
                  f" {max(ratios):.3f}x over {len(ratios)} rounds)")
    save("validate_many", {"count": args.count, "in_process": current, "baseline": before,
                           "baseline_revision": args.baseline, "cli": cli})


if __name__ == "__main__":
    main()
