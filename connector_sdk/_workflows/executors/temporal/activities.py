"""The activities a worker runs: one step or one foreach item, through the worker's runtime.

An activity receives a ``StepCall`` as a plain dict (the step id, the operation, the
authentication *name*, the rendered input, the item index, the page limits) and returns an
``Outcome`` as a plain dict: what crosses the Temporal server names an authentication, it
never carries a token or a secret (the worker resolves the name in its own store and gets
its token through its runtime, shared across workers by the Redis token cache).

Failures become Temporal's own mechanisms (``kind_of``):

* **permanent** (an HTTP 4xx other than 408/429, an invalid input or workflow value, a
  missing or mismatched authentication, bad credentials, a refused URL, a store key that
  does not open): a non-retryable ``ApplicationError`` at once;
* **transient** (a transport error, an HTTP 5xx, a token endpoint that could not be
  reached, a store that is down): a retryable ``ApplicationError``, retried by the
  activity's retry policy;
* **rate limited** (``Retry-After``, ``Ratelimit-Reset``, a throttled GraphQL answer): the
  provider's wait becomes the error's ``next_retry_delay``, so the server schedules the
  retry: the wait survives a worker restart and holds no worker slot. Waits shorter than
  ``INLINE_WAIT`` seconds are slept in the activity (a new attempt would cost more).

Every error carries the report a local run shows (``step.error_report``) as its details, so
a run on Temporal fails with the same message as a local run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from .... import _errors
from ...._errors import ConnectorSDKError, RateLimitError
from ...._http.seam import httpx
from ...._operations.ratelimit import RateLimitPolicy
from ...step import StepCall, error_report, run_step_call, secrets_of

if TYPE_CHECKING:
    from ...._manifest.model import Authentication
    from ...._runtime.runtime import Runtime

__all__ = ["INLINE_WAIT", "MAX_RETRY_DELAY", "StepActivities", "activities_of", "kind_of"]

#: Rate-limit waits shorter than this (seconds) are slept inside the activity.
INLINE_WAIT = 0.5
#: The longest wait a provider's hint becomes (a longer one is asked again after this).
MAX_RETRY_DELAY = 3600.0
#: The ``type`` of the errors this module raises, for retry policies and readers of history.
PERMANENT, TRANSIENT, RATE_LIMITED = "ConnectorPermanentError", "ConnectorTransientError", \
    "ConnectorRateLimited"


class _Deferral:
    """The rate-limit policy of one call whose long waits are handed to the server: its
    sleep records the wait and raises ``RateLimitError`` (a ``ConnectorSDKError``, so a
    plugin's handler passes it through), which the activity turns into a retry delay."""

    __slots__ = ("policy", "seconds")

    def __init__(self) -> None:
        self.seconds: float | None = None
        self.policy = RateLimitPolicy(max_waits=20, max_wait=MAX_RETRY_DELAY, sleep=self._sleep)

    async def _sleep(self, seconds: float) -> None:
        if seconds < INLINE_WAIT:
            await asyncio.sleep(seconds)
            return
        self.seconds = seconds
        raise RateLimitError(f"rate limited: the provider asked to wait {seconds:.1f} s",
                             status=429)


def kind_of(report: dict[str, Any]) -> str:
    """``PERMANENT`` or ``TRANSIENT``: whether retrying the call of this error report could
    succeed, from the error's class (``report["type"]``) and HTTP status."""
    name, status = str(report.get("type")), report.get("status")
    found = getattr(_errors, name, None) or getattr(httpx, name, None)
    cls = found if isinstance(found, type) else None
    if cls is None:
        return PERMANENT
    if issubclass(cls, httpx.HTTPError | _errors.TokenTransportError | _errors.RateLimitError
                  | _errors.AuthenticationConflict) or cls is _errors.StoreError:
        return TRANSIENT
    if issubclass(cls, _errors.TokenEndpointError | _errors.APIError):
        return PERMANENT if status is not None and _is_client_error(status) else TRANSIENT
    return PERMANENT  # operation, parameter, policy, workflow, missing authentication, key


def _is_client_error(status: int) -> bool:
    return 400 <= status < 500 and status not in (408, 429)


class StepActivities:
    """The activities of one worker, over one runtime for the worker's lifetime.

    Clients are kept per (authentication, service) and reused by every call of that
    authentication on this worker while its stored record is unchanged.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._clients: dict[tuple[str, str], tuple[Any, httpx.AsyncClient]] = {}
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        for _, client in clients.values():
            await client.aclose()

    def _resolve(self, name: str, service: str) -> Authentication:
        return self.runtime.resolve_authentication(name, service)

    async def _client(self, authentication: Authentication) -> httpx.AsyncClient:
        key = (authentication.name, authentication.service.id)
        stamp = (authentication.created_at, authentication.updated_at)
        held = self._clients.get(key)
        if held is not None and held[0] == stamp:
            return held[1]
        async with self._lock:
            held = self._clients.get(key)
            if held is not None and held[0] == stamp:
                return held[1]
            client = self.runtime.async_client(authentication)
            if held is not None:
                await held[1].aclose()
            self._clients[key] = (stamp, client)
            return client

    @activity.defn(name="connector-sdk.check_authentications")
    async def check_authentications(self, steps: list[dict[str, str]]) -> dict[str, Any] | None:
        """Resolve each step's authentication before any request: the report of the first
        that cannot be resolved (the run then fails with no step run, as a local run does),
        else None. A store that is down is retried."""
        seen: set[tuple[str, str]] = set()
        for step in steps:
            key = (step["authentication"], step["operation"].partition(".")[0])
            if key in seen:
                continue
            seen.add(key)
            try:
                await asyncio.to_thread(self._resolve, *key)
            except ConnectorSDKError as exc:
                report = _report(exc, step)
                if kind_of(report) == TRANSIENT:
                    raise _application_error(report) from None
                return report
        return None

    @activity.defn(name="connector-sdk.run_step")
    async def run_step(self, call: dict[str, Any]) -> dict[str, Any]:
        """Run one ``StepCall``; its ``Outcome`` as a dict when it succeeded, else raises
        ``ApplicationError`` carrying the error report (see the module docstring)."""
        step_call = StepCall(**call)
        try:
            authentication = await asyncio.to_thread(self._resolve, step_call.authentication,
                                                     step_call.service)
        except ConnectorSDKError as exc:
            raise _application_error(_report(exc, call)) from None
        client = await self._client(authentication)
        deferral = _Deferral()
        beat = asyncio.create_task(_heartbeat())
        try:
            outcome = await run_step_call(
                self.runtime, step_call, authentication=authentication, client=client,
                policy=deferral.policy, secrets=secrets_of([authentication]))
        finally:
            beat.cancel()
        if outcome.status == "succeeded":
            return asdict(outcome)
        report = outcome.error or {}
        if deferral.seconds is not None:
            raise ApplicationError(
                f"step '{step_call.step}': rate limited by service '{step_call.service}';"
                f" the next attempt in {deferral.seconds:.1f} s", report, type=RATE_LIMITED,
                next_retry_delay=timedelta(seconds=deferral.seconds))
        raise _application_error(report)


async def _heartbeat() -> None:
    """Heartbeat while the call runs, so a worker that dies is noticed within the heartbeat
    timeout, not the (much longer) start-to-close timeout."""
    timeout = activity.info().heartbeat_timeout
    every = timeout.total_seconds() / 3 if timeout else 5.0
    while True:
        await asyncio.sleep(every)
        activity.heartbeat()


def _report(exc: BaseException, call: dict[str, Any]) -> dict[str, Any]:
    return error_report(exc, step=call.get("step") or call["id"], operation=call["operation"],
                        authentication=call["authentication"], item=call.get("item"))


def _application_error(report: dict[str, Any]) -> ApplicationError:
    kind = kind_of(report)
    return ApplicationError(report.get("message", "the step failed"), report, type=kind,
                            non_retryable=kind == PERMANENT)


def activities_of(holder: StepActivities) -> list[Callable[..., Awaitable[Any]]]:
    """The activity callables to register on a worker."""
    return [holder.check_authentications, holder.run_step]
