"""Tool-call overhead of the MCP server over stdio, paired with a direct call in the same run.

Each round times ``--calls`` direct ``call_operation`` calls on the in-process emulator
(``Runtime(sandbox=True)``) and ``--calls`` calls of the same operation as an MCP tool, through
the mcp SDK's own client and a ``connector-sdk mcp serve --sandbox`` subprocess on stdio (the
server's own emulator: the same code answering). The order alternates between rounds, so
machine noise hits both alike; the figure is the median of the per-round ratios (tool call /
direct call), with their spread. The work is ``twitch.get_users`` for one login: a small
answer, so what is measured is the protocol and process hop, not the payload.

    python benchmarks/mcp_overhead.py [--rounds 15] [--calls 20] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from _common import print_table, save

OPERATION = "twitch.get_users"
TOOL = "twitch_get_users"
INPUT = {"login": ["twitchdev"]}


async def timed(call: Callable[[], Awaitable[Any]], calls: int) -> float:
    """Seconds per call, over ``calls`` sequential calls."""
    started = time.perf_counter()
    for _ in range(calls):
        await call()
    return (time.perf_counter() - started) / calls


async def measure(rounds: int, calls: int, home: Path) -> dict[str, list[float]]:
    from mcp import Client, StdioServerParameters

    from connector_sdk import Runtime, call_operation

    argv = ["-m", "connector_sdk.cli", "mcp", "serve", "--sandbox", "--service", "twitch",
            "--operations", OPERATION]
    params = StdioServerParameters(command=sys.executable, args=argv,
                                   env={"CONNECTOR_SDK_HOME": str(home)})
    samples: dict[str, list[float]] = {"direct": [], "tool": [], "ratio": []}
    with Runtime(environ={}, home=home, sandbox=True) as runtime:
        async def direct() -> Any:
            return await call_operation(runtime, OPERATION, "sandbox", INPUT)

        async with Client(params, read_timeout_seconds=60) as client:
            async def tool() -> Any:
                result = await client.call_tool(TOOL, INPUT)
                assert not result.is_error, result.content
                return result

            await timed(direct, calls)  # warm-up: tokens, validators, imports
            await timed(tool, calls)
            for round_ in range(rounds):
                if round_ % 2:
                    t, d = await timed(tool, calls), await timed(direct, calls)
                else:
                    d, t = await timed(direct, calls), await timed(tool, calls)
                samples["direct"].append(d)
                samples["tool"].append(t)
                samples["ratio"].append(t / d)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=20, help="calls per side per round")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 rounds of 3")
    args = parser.parse_args()
    rounds, calls = (3, 3) if args.quick else (args.rounds, args.calls)
    try:
        import mcp  # noqa: F401
    except ImportError:
        sys.exit("the MCP extra is not installed: pip install 'connector-sdk[mcp]'")
    with tempfile.TemporaryDirectory() as tmp:
        samples = asyncio.run(measure(rounds, calls, Path(tmp)))
    ratios = sorted(samples["ratio"])
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) >= 2 else [ratios[0]] * 3
    rows = [
        ("direct call_operation (in-process emulator)",
         f"{statistics.median(samples['direct']) * 1e6:.0f} us", "1.00x"),
        ("MCP tool call over stdio (same emulator code)",
         f"{statistics.median(samples['tool']) * 1e6:.0f} us",
         f"{statistics.median(ratios):.2f}x"),
    ]
    print_table(f"MCP tool-call overhead, {rounds} interleaved rounds of {calls} calls each",
                rows, ("path", "median per call", "paired ratio"))
    print(f"\nper-round ratios: median {statistics.median(ratios):.2f}x, interquartile"
          f" {quartiles[0]:.2f}x-{quartiles[2]:.2f}x, range {ratios[0]:.2f}x-{ratios[-1]:.2f}x")
    save("mcp_overhead", samples)


if __name__ == "__main__":
    main()
