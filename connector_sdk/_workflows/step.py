"""The unit every executor runs: one step, or one foreach item, of a workflow.

Pure inputs in, a JSON-ready outcome out. A ``StepCall`` carries the step id, the operation,
the authentication *name*, the rendered input, the item index and the page limits, never a
token or a secret, so it can cross a process boundary (a durable engine's activity
arguments). ``run_step_call`` performs it through a runtime and returns an ``Outcome``: a
failure is a value with the error report every executor shows, not an exception; only a bug
(an exception that is not a ``ConnectorSDKError`` or an httpx error) propagates.

The parts around it are pure, so an engine that replays a workflow gets the same answers:
``render_call`` renders a step's compiled inputs in a scope (the run's inputs, earlier
steps' outputs, the current item); ``check_items`` bounds a foreach list;
``error_report`` builds the report of a failure, scrubbed of the given secrets.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .._auth.request import SecretStrings
from .._errors import ConnectorSDKError, WorkflowError
from .._http.redact import redact
from .._http.seam import httpx
from .._telemetry import step_unit
from .limits import MAX_FOREACH_ITEMS
from .model import Step

if TYPE_CHECKING:
    from .._manifest.model import Authentication
    from .._operations.ratelimit import RateLimitPolicy
    from .._runtime.runtime import Runtime

__all__ = [
    "STEP_ERRORS",
    "Outcome",
    "StepCall",
    "check_items",
    "elapsed_ms",
    "error_report",
    "render_call",
    "run_step_call",
    "secrets_of",
]

#: Errors that fail a step or an item; anything else is a bug and propagates.
STEP_ERRORS = (ConnectorSDKError, httpx.HTTPError)


@dataclass(frozen=True, slots=True)
class StepCall:
    """One operation call of a step (``item`` is the foreach index, None for a plain step)."""

    step: str
    operation: str
    authentication: str
    input: Any
    item: int | None = None
    max_pages: int | None = None
    max_items: int | None = None

    @property
    def service(self) -> str:
        return self.operation.partition(".")[0]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one ``StepCall`` gave: its output, or the error report of its failure."""

    status: Literal["succeeded", "failed"]
    output: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0


def render_call(step: Step, scope: Mapping[str, Any], *, item: int | None = None) -> StepCall:
    """The call ``step`` makes in ``scope`` (``inputs``, ``steps`` and, per item, ``item``).

    Raises ``WorkflowError`` when a reference cannot be resolved in ``scope``.
    """
    return StepCall(step.id, step.operation, step.authentication, step.inputs.render(scope),
                    item=item, max_pages=step.max_pages, max_items=step.max_items)


def check_items(step: Step, items: Any) -> list[Any]:
    """``items`` if it is a list within the limit; else ``WorkflowError`` naming the step."""
    if not isinstance(items, list):
        kind = "null" if items is None else type(items).__name__
        raise WorkflowError(f"step '{step.id}': foreach needs a list, got {kind}",
                            step=step.id)
    if len(items) > MAX_FOREACH_ITEMS:
        raise WorkflowError(
            f"step '{step.id}': foreach has {len(items)} items, more than the limit of"
            f" {MAX_FOREACH_ITEMS}; nothing was sent for this step: split the work",
            step=step.id)
    return items


def secrets_of(authentications: Iterable[Authentication]) -> Sequence[str]:
    """Every secret value of ``authentications`` in each form a message could show it; live
    (``SecretStrings``: a reference resolved after the step began is masked too).

    Short values are kept too, as everywhere else the redactor runs: a garbled message is
    better than a shown secret."""
    return SecretStrings(authentications)


def error_report(
    exc: BaseException,
    *,
    step: str,
    operation: str,
    authentication: str,
    item: int | None = None,
    secrets: Iterable[str] = (),
) -> dict[str, Any]:
    """The JSON-ready report of a failure: where, which error, the provider's message.

    Messages are scrubbed of ``secrets`` as a last line of defence (the errors themselves
    never carry a secret).
    """
    hidden = tuple(secrets)
    report: dict[str, Any] = {
        "step": step,
        "operation": operation,
        "authentication": authentication,
        "service": operation.partition(".")[0],
    }
    if item is not None:
        report["item"] = item
    report["type"] = type(exc).__name__
    report["status"] = getattr(exc, "status", None)
    said = getattr(exc, "provider_message", None)
    report["provider_message"] = redact(said, hidden) if isinstance(said, str) and said \
        else said
    report["message"] = redact(str(exc), hidden) or type(exc).__name__
    return report


async def run_step_call(
    runtime: Runtime,
    call: StepCall,
    *,
    authentication: Authentication | None = None,
    client: httpx.AsyncClient | None = None,
    policy: RateLimitPolicy | None = None,
    secrets: Iterable[str] | None = None,
) -> Outcome:
    """``_perform`` within the step's (or item's) span and log fields, whichever executor
    runs it; a failed outcome marks the span failed with the error's type."""
    with step_unit(call) as unit:
        outcome = await _perform(runtime, call, authentication=authentication, client=client,
                                 policy=policy, secrets=secrets)
        if outcome.error is not None:
            unit.fail(outcome.error.get("type"))
        return outcome


async def _perform(
    runtime: Runtime,
    call: StepCall,
    *,
    authentication: Authentication | None = None,
    client: httpx.AsyncClient | None = None,
    policy: RateLimitPolicy | None = None,
    secrets: Iterable[str] | None = None,
) -> Outcome:
    """Perform ``call`` through ``runtime`` and report how it went.

    ``authentication`` is the resolved ``call.authentication`` (default: resolved now with
    ``runtime.resolve_authentication``); ``client`` a client to share across calls (default:
    one for this call); ``policy`` bounds the rate-limit waits; ``secrets`` are scrubbed from
    the error report (default: the authentication's own).
    """
    from .._operations.calls import PageLimits, call_operation

    started = time.perf_counter()
    resolved = authentication
    try:
        if resolved is None:
            resolved = runtime.resolve_authentication(call.authentication, call.service)
        limits = None
        if call.max_pages is not None or call.max_items is not None:
            limits = PageLimits(max_pages=call.max_pages, max_items=call.max_items)
        output = await call_operation(runtime, call.operation, resolved, call.input,
                                      limits=limits, client=client, policy=policy)
    except STEP_ERRORS as exc:
        hidden = secrets if secrets is not None else secrets_of(
            [resolved] if resolved is not None else [])
        return Outcome("failed", error=error_report(
            exc, step=call.step, operation=call.operation, authentication=call.authentication,
            item=call.item, secrets=hidden), duration_ms=elapsed_ms(started))
    return Outcome("succeeded", output=output, duration_ms=elapsed_ms(started))


def elapsed_ms(started: float) -> float:
    """Milliseconds since ``started`` (a ``time.perf_counter()``), rounded to microseconds."""
    return round((time.perf_counter() - started) * 1000, 3)
