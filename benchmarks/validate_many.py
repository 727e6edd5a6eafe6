"""``connector-sdk validate`` over many generated manifests: time per manifest.

Generates N valid manifests (variations of the Shopify one) and validates them in-process
(``validate_paths``) and through the CLI; also reports how many times the manifest validator
was built (target: once per process).

    python benchmarks/validate_many.py [--count 500] [--rounds 5]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from _common import median, print_table, save, time_calls, time_commands

from connector_sdk._manifest.schemas import validator
from connector_sdk.cli._validation import validate_paths

ROOT = Path(__file__).parents[1]


def generate(directory: Path, count: int) -> None:
    text = (ROOT / "connectors/shopify/connector_shopify/shopify.yaml").read_text()
    for i in range(count):
        (directory / f"svc{i:04d}.yaml").write_text(text.replace("id: shopify", f"id: svc{i}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    exe = shutil.which("connector-sdk", path=str(Path(sys.executable).parent))
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        generate(directory, args.count)
        results = validate_paths([directory])
        assert len(results) == args.count and not any(r.problems for r in results)
        validator.cache_clear()
        in_process = time_calls({"in-process": lambda: validate_paths([directory])},
                                args.rounds)["in-process"]
        builds = validator.cache_info().misses
        cli = time_commands({"cli": [exe, "validate", str(directory)]}, args.rounds)["cli"] \
            if exe else []
    rows = [("validate_paths (in-process)", f"{median(in_process) * 1000:.0f} ms",
             f"{median(in_process) / args.count * 1000:.2f} ms")]
    if cli:
        rows.append(("connector-sdk validate DIR", f"{median(cli) * 1000:.0f} ms",
                     f"{median(cli) / args.count * 1000:.2f} ms"))
    print_table(f"{args.count} manifests, median of {args.rounds} rounds", rows,
                ("how", "total", "per manifest"))
    print(f"manifest validator built {builds} time(s) across {args.rounds} in-process rounds")
    save("validate_many", {"count": args.count, "in_process": in_process, "cli": cli,
                           "validator_builds": builds})


if __name__ == "__main__":
    main()
