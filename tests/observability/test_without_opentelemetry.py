"""Without opentelemetry-api the SDK does nothing for telemetry, and costs nothing: a fresh
process in which importing ``opentelemetry`` fails runs a workflow on the emulators."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

EXAMPLES = Path(__file__).parents[2] / "examples"

SCRIPT = textwrap.dedent("""
    import importlib.abc, json, logging, sys, tempfile

    class Blocked(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                raise ImportError(f"{name} is blocked in this test")
            return None

    sys.meta_path.insert(0, Blocked())

    from connector_sdk import Runtime, load_workflow, run_workflow_sync
    from connector_sdk import _telemetry

    records = []
    class Keep(logging.Handler):
        def emit(self, record):
            records.append({k: getattr(record, k, "absent") for k in _telemetry.LOG_FIELDS})
    tokens = logging.getLogger("connector_sdk.tokens")
    tokens.setLevel(logging.DEBUG)
    tokens.addHandler(Keep())

    with Runtime(sandbox=True, home=tempfile.mkdtemp()) as runtime:
        flow = load_workflow(sys.argv[1], services=runtime.services)
        result = run_workflow_sync(runtime, flow, {"streams": 2})
        client = runtime.async_client(runtime.resolve_authentication("twitch", "twitch"))
        transport = type(client._transport).__name__
    print(json.dumps({
        "status": result.status,
        "otel": _telemetry.otel() is not None,
        "imported": sorted(m for m in sys.modules if m.startswith("opentelemetry")),
        "transport": transport,
        "records": records,
    }))
""")


def test_without_opentelemetry_a_workflow_runs_untraced_with_structured_logs() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(EXAMPLES / "twitch-top-streams.yaml")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["status"] == "succeeded"
    assert report["otel"] is False
    assert report["imported"] == []
    assert report["transport"] != "AsyncTracedTransport"  # not wrapped: nothing per request
    records = report["records"]
    assert records, "the token layer logged nothing"
    for record in records:
        assert record["service"] == "twitch"
        assert record["authentication"] == "twitch"
        assert record["trace_id"] is None and record["span_id"] is None
    first = records[0]
    assert first["operation"] == "twitch.get_top_games"
    assert first["workflow"] == "twitch-top-streams"
    assert first["step"] == "top_games"
    assert first["attempt"] == 1
