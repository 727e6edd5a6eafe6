"""CLI start-up against the import floor, measured in the same run (issue: target <= 1.3x).

The floor is ``python -c "import pluggy, httpx, jsonschema, yaml"``: what any tool built on
our dependencies pays before doing anything. Prints medians and ratios to the floor.

    python benchmarks/startup.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from _common import median, print_table, save, time_commands

ROOT = Path(__file__).parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    exe = shutil.which("connector-sdk", path=str(Path(sys.executable).parent))
    if exe is None:
        sys.exit("connector-sdk is not installed beside this python: run scripts/bootstrap")
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "one.yaml"
        shutil.copy(ROOT / "connectors/shopify/connector_shopify/shopify.yaml", manifest)
        commands = {
            "floor: import pluggy, httpx, jsonschema, yaml": [
                sys.executable, "-c", "import pluggy, httpx, jsonschema, yaml"],
            "connector-sdk --version": [exe, "--version"],
            "connector-sdk validate one.yaml": [exe, "validate", str(manifest)],
        }
        samples = time_commands(commands, args.rounds)
    floor = median(samples["floor: import pluggy, httpx, jsonschema, yaml"])
    rows = [(name, f"{median(s) * 1000:.1f} ms", f"{median(s) / floor:.2f}x")
            for name, s in samples.items()]
    print_table(f"CLI start-up, median of {args.rounds} interleaved rounds", rows,
                ("command", "median", "vs floor"))
    save("startup", dict(samples))


if __name__ == "__main__":
    main()
