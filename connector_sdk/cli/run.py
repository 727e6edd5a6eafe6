"""``connector-sdk run WORKFLOW.yaml``: run a workflow and print its result.

Exit codes: 0 the run succeeded (or ended ``partial``: only ``continue_on_error`` steps
failed), 1 a step failed (the report is still printed, JSON or text), 2 usage: a missing or
invalid workflow file, bad ``--input`` values, or an error found before any request.

Progress goes to stderr (for runs with several steps or a foreach), the result to stdout, so
``--format json > result.json`` captures only the report. ``--sandbox`` routes every request
to the in-process emulators the services' plugins register, with throwaway authentications.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .._config import parse_bool
from ._common import UsageError, add_runtime_arguments, make_runtime

if TYPE_CHECKING:
    from .._workflows.model import Workflow, WorkflowInput
    from .._workflows.results import RunEvent, RunResult, StepResult


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("workflow", type=Path, metavar="WORKFLOW.yaml",
                        help="the workflow file (see docs/workflows.md)")
    parser.add_argument("--input", "-i", action="append", default=[], metavar="NAME=VALUE",
                        help="a workflow input; numbers and booleans as text, arrays and"
                             " objects as JSON (repeatable)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="result format on stdout (default: text)")
    parser.add_argument("--sandbox", action="store_true",
                        help="run against the services' in-process emulators (from their"
                             " plugins) with throwaway authentications (nothing leaves the"
                             " process)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    parser.add_argument("--results-jsonl", type=Path, metavar="FILE",
                        help="write each step call's result (every foreach item) to FILE as"
                             " one JSON line, as it finishes (owner-only; a large foreach"
                             " then keeps no item output in memory; --engine local only)")
    parser.add_argument("--engine", choices=("local", "temporal"), default="local",
                        help="local: run here (default); temporal: on Temporal workers"
                             " (docs/temporal.md, extra connector-sdk[temporal])")
    parser.add_argument("--temporal", metavar="HOST:PORT", help="with --engine temporal: the"
                        " Temporal server")
    parser.add_argument("--task-queue", metavar="QUEUE", help="with --engine temporal: the"
                        " workers' task queue")
    parser.add_argument("--namespace", default="default", help=argparse.SUPPRESS)
    parser.add_argument("--no-wait", action="store_true", help="with --engine temporal:"
                        " print the workflow id and return (see `connector-sdk runs show`)")
    add_runtime_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from .._errors import WorkflowError
    from .._workflows.executors.local import run_workflow_sync
    from .._workflows.loading import load_workflow

    path: Path = args.workflow
    if not path.is_file():
        raise UsageError(f"no such workflow file: {path}")
    if _is_service_manifest(path):
        raise UsageError(f"{path} is a service manifest, not a workflow (it declares"
                         " manifest_version); check it with `connector-sdk validate`, or run a"
                         " workflow file (workflow_version: 1)")
    with make_runtime(args, sandbox=args.sandbox) as runtime:
        try:
            workflow = load_workflow(path, services=runtime.services)
        except WorkflowError as exc:
            raise UsageError(str(exc)) from None
        inputs = parse_inputs(workflow, args.input)
        show = not args.quiet and (len(workflow.steps) > 1
                                   or any(s.foreach for s in workflow.steps))
        progress = _Progress(sys.stderr) if show else None
        try:
            if args.engine == "temporal" and args.results_jsonl is not None:
                raise UsageError("--results-jsonl works with --engine local only (a Temporal"
                                 " run's results are in its history: `connector-sdk runs`)")
            if args.engine == "temporal":
                from ._temporal import start_on_temporal

                started = start_on_temporal(args, runtime, workflow, inputs)
                if started is None:  # --no-wait: the id is printed
                    return 0
                result = started
            elif args.results_jsonl is not None:
                result = _run_streaming(runtime, workflow, inputs, args.results_jsonl, progress)
            else:
                result = run_workflow_sync(runtime, workflow, inputs,
                                           on_event=progress.event if progress else None)
        except WorkflowError as exc:
            raise UsageError(f"{exc} (nothing was sent)") from None
    if args.format == "json":
        sys.stdout.write(result.to_json() + "\n")
    else:
        sys.stdout.write(render_text(result, sandbox=args.sandbox))
    sys.stdout.flush()
    return 0 if result.ok else 1


def _run_streaming(runtime: Any, workflow: Workflow, inputs: dict[str, Any], path: Path,
                   progress: _Progress | None) -> RunResult:
    from .._workflows.executors.local import run_workflow_sync
    from .._workflows.results import JsonLinesSink
    from .._workflows.step import secrets_of

    try:
        sink = JsonLinesSink(path)
    except OSError as exc:
        raise UsageError(f"--results-jsonl {path}: cannot write the file ({exc.strerror})"
                         ) from None
    with sink:
        sink.secrets = secrets_of(_resolved(runtime, workflow))
        return run_workflow_sync(runtime, workflow, inputs, on_result=sink,
                                 on_event=progress.event if progress else None)


def _resolved(runtime: Any, workflow: Workflow) -> list[Any]:
    """The run's authentications that resolve (the run reports one that does not)."""
    from .._errors import ConnectorSDKError

    found = []
    for step in workflow.steps:
        try:
            found.append(runtime.resolve_authentication(step.authentication, step.service))
        except ConnectorSDKError:
            continue
    return found


# -- inputs -----------------------------------------------------------------------------------


def parse_inputs(workflow: Workflow, pairs: Sequence[str]) -> dict[str, Any]:
    """``NAME=VALUE`` pairs into typed values, by each input's declared type."""
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--input '{pair}': write NAME=VALUE")
        spec = workflow.inputs.get(name)
        if spec is None:
            declared = ", ".join(workflow.inputs) or "none"
            raise UsageError(f"--input {name}: the workflow has no input '{name}' (inputs:"
                             f" {declared})")
        values[name] = _coerce(spec, text)
    return values


def _coerce(spec: WorkflowInput, text: str) -> Any:
    kind = spec.type
    try:
        if kind == "string":
            return text
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
        if kind == "boolean":
            flag = parse_bool(text)
            if flag is None:
                raise ValueError(text)
            return flag
        value = json.loads(text)
    except ValueError:
        raise UsageError(f"--input {spec.name}: '{text[:40]}' is not a valid {kind}"
                         + (" (write it as JSON)" if kind in ("array", "object") else "")
                         ) from None
    expected = list if kind == "array" else dict
    if not isinstance(value, expected):
        raise UsageError(f"--input {spec.name}: expected a JSON {kind}")
    return value


# -- progress on stderr -----------------------------------------------------------------------


class _Progress:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def event(self, event: RunEvent) -> None:
        head = f"[{event.position}/{event.total_steps}] {event.step}"
        if event.kind == "step_started":
            what = f"{event.operation} as '{event.authentication}'"
            if event.total:
                what += f", {event.total} item(s)"
            self._print(f"{head}: {what}")
        elif event.kind == "foreach_progress" and event.done < event.total >= 20:
            failed = f", {event.failed} failed" if event.failed else ""
            self._print(f"{head}: {event.done}/{event.total} item(s) done{failed}")
        elif event.kind == "step_finished":
            if event.status == "succeeded":
                self._print(f"{head}: ok in {_duration(event.duration_ms or 0)}")
            else:
                message = (event.error or {}).get("message", "")
                self._print(f"{head}: FAILED in {_duration(event.duration_ms or 0)}: {message}")

    def _print(self, line: str) -> None:
        print(line, file=self.out, flush=True)


# -- text result ------------------------------------------------------------------------------

_MAX_ROWS = 20
_MAX_COLUMNS = 6
_MAX_CELL = 48


def render_text(result: RunResult, *, sandbox: bool = False) -> str:
    """A readable summary: status, one line per step, the outputs, the error if any."""
    lines: list[str] = []
    where = " (sandbox)" if sandbox else ""
    lines.append(f"workflow {result.workflow}{where}: {result.status} in"
                 f" {_duration(result.duration_ms)}")
    lines.append("")
    width = max((len(s) for s in result.steps), default=4)
    op_width = max((len(s.operation) for s in result.steps.values()), default=4)
    for step_id, step in result.steps.items():
        lines.append(f"  {_mark(step.status):<7} {step_id:<{width}}  {step.operation:<{op_width}}"
                     f"  {_step_summary(step):<16} {_duration(step.duration_ms):>8}")
    if result.outputs:
        lines.append("")
        for name, value in result.outputs.items():
            lines.extend(_render_output(name, value))
    for warning in result.warnings:
        lines.append(f"warning: {warning}")
    if result.error is not None:
        error = result.error
        lines.append("")
        status = f"HTTP {error['status']}: " if error.get("status") else ""
        item = f", item {error['item']}" if "item" in error else ""
        lines.append(f"error: step '{error['step']}'{item} ({error['operation']} as"
                     f" '{error['authentication']}'): {status}{error['message']}")
        provider = error.get("provider_message")
        if provider and provider not in error["message"]:
            lines.append(f"  provider said: {provider}")
    return "\n".join(lines) + "\n"


def _mark(status: str) -> str:
    return {"succeeded": "ok", "failed": "FAILED", "skipped": "skipped"}.get(status, status)


def _step_summary(step: StepResult) -> str:
    if step.items is not None:
        ok = sum(1 for i in step.items if i.status == "succeeded")
        return f"{ok}/{len(step.items)} items ok"
    if step.status != "succeeded":
        return ""
    rows = _rows(step.output)
    if rows is not None:
        return f"{len(rows)} result(s)"
    return "done"


def _duration(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def _rows(value: Any) -> list[Mapping[str, Any]] | None:
    """The list of objects a value shows as a table: the value itself, the only list inside
    an envelope (Helix ``data``, Shopify ``products``), or such lists of several envelopes."""
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        inner = [_envelope(v) for v in value]
        if all(rows is not None for rows in inner):
            return [row for rows in inner if rows is not None for row in rows]
        return value
    if isinstance(value, Mapping):
        return _envelope(value)
    return None


def _envelope(value: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    lists = [v for v in value.values() if isinstance(v, list)]
    if len(lists) == 1 and all(isinstance(v, Mapping) for v in lists[0]):
        others = [v for v in value.values() if not isinstance(v, list)]
        if all(isinstance(v, Mapping) or v is None for v in others):  # pagination, cost
            return lists[0]
    return None


def _render_output(name: str, value: Any) -> list[str]:
    if value is None or isinstance(value, str | int | float | bool):
        return [f"{name}: {_cell(value, 200)}"]
    if isinstance(value, list) and all(not isinstance(v, list | Mapping) for v in value):
        return [f"{name}: {', '.join(_cell(v, 60) for v in value)}"]
    rows = _rows(value)
    if rows is not None:
        return [f"{name} ({len(rows)}):", *_table(rows), ""]
    if isinstance(value, Mapping) and all(not isinstance(v, list | Mapping)
                                          for v in value.values()):
        return [f"{name}:", *(f"  {k}: {_cell(v, 200)}" for k, v in value.items())]
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return [f"{name}: {_cell(text, 300)}"]


def _table(rows: list[Mapping[str, Any]]) -> list[str]:
    columns = _columns(rows)
    if not columns:
        return [f"  {json.dumps(row, ensure_ascii=False)[:200]}" for row in rows[:_MAX_ROWS]]
    cells = [[_cell(row.get(c), _MAX_CELL) for c in columns] for row in rows[:_MAX_ROWS]]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [all(isinstance(row.get(c), int | float) and not isinstance(row.get(c), bool)
                   for row in rows[:_MAX_ROWS] if row.get(c) is not None) for c in columns]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w)
                 for v, w, num in zip(values, widths, numeric, strict=True)]
        return ("  " + "  ".join(parts)).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out.extend(line(row) for row in cells)
    if len(rows) > _MAX_ROWS:
        out.append(f"  … and {len(rows) - _MAX_ROWS} more (--format json shows all)")
    return out


def _columns(rows: list[Mapping[str, Any]]) -> list[str]:
    """Scalar columns of the first row, without ids, URLs and flags: what a person reads."""
    chosen = []
    for key, value in rows[0].items():
        if isinstance(value, list | Mapping | bool):
            continue
        if key == "id" and any(k.endswith("name") or k == "title" for k in rows[0]):
            continue
        if key.endswith(("_id", "_url", "url", "cursor", "_gid")) or key == "admin_graphql_api_id":
            continue
        if all(row.get(key) in ("", None) for row in rows[:_MAX_ROWS]):
            continue
        chosen.append(key)
    return chosen[:_MAX_COLUMNS]


def _cell(value: Any, limit: int) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_service_manifest(path: Path) -> bool:
    import re

    try:
        with path.open("rb") as handle:
            head = handle.read(65536)
    except OSError:
        return False
    return bool(re.search(rb"^manifest_version\s*:", head, re.M)) and not re.search(
        rb"^workflow_version\s*:", head, re.M)
