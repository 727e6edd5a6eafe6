"""A foreach under the provider's rate limit: its time against the time the bucket allows.

A ``foreach`` of ``--items`` ``twitch.get_users`` calls at ``--concurrency`` runs against the
in-process Twitch emulator, whose bucket holds ``--limit`` points refilled continuously over
``--window`` seconds (Twitch: 800 points a minute). A full bucket lets ``limit`` calls through
at once, then one per ``window / limit`` seconds, so the fastest any client can finish is

    allowed = max(0, items - limit) * window / limit

and the figure is ``elapsed / allowed`` (target <= 1.10x) with 0 failed items and no
``RateLimitError``. The default window is 6 s instead of Twitch's 60 s: the same bucket logic
(limit, refill rate, ``Ratelimit-Reset`` epoch in whole seconds) ten times faster, so that
10,000 items take about 70 s instead of 12 minutes; ``--window 60`` measures the real one.

    python benchmarks/ratelimit_foreach.py [--items 10000] [--window 6] [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from _common import print_table, save

import connector_sdk
from connector_sdk._http.seam import httpx
from connector_sdk._http.settings import HttpSettings
from connector_sdk.sandbox import SandboxTransport

WORKFLOW = """
workflow_version: 1
inputs: {logins: {type: array}}
steps:
  - id: users
    operation: twitch.get_users
    authentication: twitch
    foreach: "{{ inputs.logins }}"
    concurrency: %d
    continue_on_error: true
    inputs: {login: ["{{ item }}"]}
"""


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts the Helix answers by status (a 429 is a request the pacing failed to avoid)."""

    def __init__(self, inner: SandboxTransport) -> None:
        self.inner = inner
        self.statuses: dict[int, int] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.host == "api.twitch.tv":
            self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        return response


def allowed_seconds(items: int, limit: int, window: float) -> float:
    """The least time ``items`` calls can take against a full bucket of ``limit`` points
    refilled over ``window`` seconds."""
    return max(0, items - limit) * window / limit


def run_foreach(items: int, *, limit: int, window: float, concurrency: int, home: Path,
                policy: connector_sdk.RateLimitPolicy | None = None) -> dict[str, Any]:
    """One foreach run; its figures (elapsed, failures, RateLimitErrors, 429s, requests)."""
    from connector_twitch.emulator import TwitchSandbox

    twitch = TwitchSandbox(rate_limit=limit, rate_window=window)
    inner = SandboxTransport(twitch)
    counting = CountingTransport(inner)
    runtime = connector_sdk.Runtime(home=home,
                                    http=HttpSettings(transport=inner, async_transport=counting))
    try:
        runtime.create_authentication("twitch", "twitch", twitch.parameters())
        flow = connector_sdk.load_workflow((WORKFLOW % concurrency).encode(), file="<bench>",
                                           services=runtime.services)
        users = [u["login"] for u in twitch.data.users]
        logins = [users[i % len(users)] for i in range(items)]
        started = time.perf_counter()
        result = connector_sdk.run_workflow_sync(runtime, flow, {"logins": logins},
                                                 policy=policy)
        elapsed = time.perf_counter() - started
    finally:
        runtime.close()
    step = result.steps["users"]
    failed = [i for i in step.items or [] if i.status == "failed"]
    rate_limited = [i for i in failed if (i.error or {}).get("type") == "RateLimitError"]
    return {"items": items, "status": result.status, "elapsed": elapsed,
            "failed": len(failed), "rate_limit_errors": len(rate_limited),
            "responses_429": counting.statuses.get(429, 0),
            "responses_200": counting.statuses.get(200, 0),
            "succeeded": sum(i.status == "succeeded" for i in step.items or [])}


def rows_for(runs: Iterable[dict[str, Any]], limit: int, window: float) -> list[tuple[str, ...]]:
    rows = []
    for run in runs:
        allowed = allowed_seconds(run["items"], limit, window)
        ratio = run["elapsed"] / allowed if allowed else float("nan")
        rows.append((f"{run['items']:,}", f"{run['elapsed']:.1f} s", f"{allowed:.1f} s",
                     f"{ratio:.3f}x", str(run["failed"]), str(run["rate_limit_errors"]),
                     str(run["responses_429"])))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, action="append",
                        help="item counts to run (default 1,000 and 10,000)")
    parser.add_argument("--limit", type=int, default=800)
    parser.add_argument("--window", type=float, default=6.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="300 items, 100 points per 2 s")
    args = parser.parse_args()
    limit, window, counts = args.limit, args.window, args.items or [1000, 10_000]
    if args.quick:
        limit, window, counts = 100, 2.0, [300]
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-ratelimit-") as tmp:
        for n, items in enumerate(counts):
            runs.append(run_foreach(items, limit=limit, window=window,
                                    concurrency=args.concurrency, home=Path(tmp) / str(n)))
    print_table(f"foreach under a {limit}-point bucket refilled over {window:g} s"
                f" (Twitch: 800 over 60 s), concurrency {args.concurrency}",
                rows_for(runs, limit, window),
                ("items", "elapsed", "bucket allows", "ratio", "failed", "RateLimitError",
                 "429s"))
    print("  target: ratio <= 1.10x with 0 failed items")
    save("ratelimit_foreach", {"limit": limit, "window": window, "runs": runs})


def run(server: Any = None, *, quick: bool = False) -> Any:
    """Section 3b of ``run.py``: Twitch's real bucket (800 per 60 s) at 1,000 items and the
    ten-times-faster one at 10,000; ``--quick``: 300 items against 100 per 2 s."""
    from _sections import Section, Table, judge

    plans = [(300, 100, 2.0)] if quick else [(1000, 800, 60.0), (10_000, 800, 6.0)]
    section = Section("ratelimit", figures={"runs": []})
    with tempfile.TemporaryDirectory(prefix="bench-ratelimit-") as tmp:
        for n, (items, limit, window) in enumerate(plans):
            figures = run_foreach(items, limit=limit, window=window, concurrency=50,
                                  home=Path(tmp) / str(n))
            section.figures["runs"].append({**figures, "limit": limit, "window": window})
            section.tables.append(Table(
                f"3b. foreach under a {limit}-point bucket refilled over {window:g} s,"
                " concurrency 50", ("items", "elapsed", "bucket allows", "ratio", "failed",
                                    "RateLimitError", "429s"),
                rows_for([figures], limit, window)))
            allowed = allowed_seconds(items, limit, window)
            ratio = figures["elapsed"] / allowed if allowed else float("nan")
            section.targets.append(judge(
                f"foreach {items:,} items under {limit}/{window:g} s: elapsed / bucket allows",
                ratio, "<= 1.10x", ratio <= 1.10, timed=True, quick=quick))
            section.targets.append(judge(
                f"foreach {items:,} items under {limit}/{window:g} s: failed items",
                str(figures["failed"]), "0", figures["failed"] == 0, timed=False,
                quick=quick))
    return section


if __name__ == "__main__":
    main()
