"""One token fetch with retries, written once as a generator for the sync and async drivers.

``fetch_flow`` is the policy, with no I/O: it yields the ``TokenRequest`` to send (answered
with an ``Answer``, or a thrown ``httpx.TransportError``) and float seconds to sleep, and
returns the grant's ``TokenGrant`` or raises the final ``TokenError``. Retries follow
``RetryPolicy`` (``_http.retry``): transient failures (timeouts, connection errors, 5xx) are
retried with backoff or ``Retry-After`` within the call; permanent ones (4xx) are not.
``Outcome`` tells the caller whether the retries were spent, for the failure cooldown.
``drive_sync``/``drive_async`` perform the steps with a ``send`` the caller provides;
``post_sync``/``post_async`` are the sends: one POST, its answer read within one deadline
and a limit on decoded bytes (``_http.body``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any

from .._errors import TokenError, TokenResponseError, TokenTransportError
from .._http.body import Body, send_async, send_sync, too_large
from .._http.messages import shown_text
from .._http.retry import RetryPolicy, is_retryable_status, parse_retry_after, retry_delay
from .._http.seam import httpx
from .._http.settings import HttpSettings
from .._telemetry import get_logger
from .grants import Grant
from .request import TokenRequest
from .response import ResponseContext, TokenGrant, endpoint_error
from .single_flight import copy_error

__all__ = [
    "Answer",
    "FetchFlow",
    "Outcome",
    "drive_async",
    "drive_sync",
    "fetch_flow",
    "post_async",
    "post_sync",
]

logger = get_logger("connector_sdk.tokens")


@dataclass(slots=True)
class Answer:
    """What the drivers read of a token endpoint's answer (the body bounded)."""

    status: int
    content_type: str | None
    retry_after: str | None
    body: bytes


@dataclass(slots=True)
class Outcome:
    """What the fetch flow leaves behind for the cooldown decision."""

    retry_after: float | None = None
    transient: bool = False


FetchFlow = Generator[TokenRequest | float, Any, TokenGrant]


def fetch_flow(
    request: TokenRequest,
    ctx: ResponseContext,
    grant: Grant,
    retry: RetryPolicy,
    *,
    attempts: int,
    outcome: Outcome,
    timeout: float,
    count: Callable[[str], None],
    wall_clock: Callable[[], float],
    rng: Callable[[], float],
) -> FetchFlow:
    """The retry loop for ``request``; ``count`` is told of ``requests`` and ``tokens``."""
    policy = dataclasses.replace(retry, max_attempts=attempts)
    attempt = 0
    while True:
        attempt += 1
        count("requests")
        logger.debug(
            "token request service=%s authentication=%s attempt=%d/%d",
            ctx.service,
            ctx.authentication,
            attempt,
            attempts,
            extra={"attempt": attempt},
        )
        retry_after: float | None = None
        error: TokenError
        try:
            answer: Answer = yield request
        except httpx.TransportError as exc:
            error = transport_error(request, exc, attempt, timeout)
            logger.debug(
                "token request failed service=%s authentication=%s attempt=%d error=%s",
                ctx.service,
                ctx.authentication,
                attempt,
                type(exc).__name__,
                extra={"attempt": attempt},
            )
        else:
            logger.debug(
                "token response service=%s authentication=%s attempt=%d status=%d",
                ctx.service,
                ctx.authentication,
                attempt,
                answer.status,
                extra={"attempt": attempt},
            )
            if 200 <= answer.status < 300:
                token = grant.parse(answer.status, answer.content_type, answer.body, ctx)
                count("tokens")
                return token
            error = endpoint_error(
                answer.status, answer.content_type, answer.body, ctx, attempts=attempt
            )
            if error.permanent or not is_retryable_status(answer.status):
                raise error
            if answer.status in (429, 503):
                retry_after = parse_retry_after(answer.retry_after, now=wall_clock())
        outcome.transient = True
        outcome.retry_after = retry_after
        delay = retry_delay(policy, attempt, retry_after=retry_after, rng=rng)
        if delay is None:
            if retry_after is not None and retry_after > policy.retry_after_cap:
                error = copy_error(
                    error,
                    f"{error} (the endpoint asked to wait {retry_after:.0f} s, more than the"
                    f" {policy.retry_after_cap:.0f} s the SDK waits within a call)",
                )
            raise error
        logger.debug(
            "token retry service=%s authentication=%s attempt=%d wait=%.3f",
            ctx.service,
            ctx.authentication,
            attempt,
            delay,
            extra={"attempt": attempt},
        )
        yield delay


def transport_error(
    request: TokenRequest, exc: httpx.TransportError, attempt: int, timeout: float
) -> TokenTransportError:
    """The error for a token request that got no answer; names the endpoint, not the body."""
    url = request.url
    if isinstance(exc, httpx.TimeoutException):
        what = f"did not answer within {timeout:g} s ({type(exc).__name__})"
    else:
        detail = shown_text(str(exc), request.redact, 120)
        what = f"could not be reached ({type(exc).__name__}: {detail})"
    tries = f" after {attempt} attempts" if attempt > 1 else ""
    return TokenTransportError(
        f"service '{request.service}', authentication '{request.authentication}': the token"
        f" endpoint {url.scheme}://{url.host}{url.path} {what}{tries}; check network access to"
        " the provider and try again",
        service=request.service,
        authentication=request.authentication,
        permanent=False,
    )


def drive_sync(flow: FetchFlow, send: Callable[[TokenRequest], Answer]) -> TokenGrant:
    """Run ``flow`` on this thread: ``send`` blocks, sleeps are ``time.sleep``."""
    value: Any = None
    thrown: BaseException | None = None
    try:
        while True:
            try:
                step = flow.throw(thrown) if thrown is not None else flow.send(value)
            except StopIteration as stop:
                grant: TokenGrant = stop.value
                return grant
            value, thrown = None, None
            if isinstance(step, float):
                time.sleep(step)
                continue
            try:
                value = send(step)
            except httpx.TransportError as exc:
                thrown = exc
    finally:
        flow.close()


async def drive_async(
    flow: FetchFlow, send: Callable[[TokenRequest], Awaitable[Answer]]
) -> TokenGrant:
    """Run ``flow`` in the event loop: ``send`` and the sleeps are awaited."""
    value: Any = None
    thrown: BaseException | None = None
    try:
        while True:
            try:
                step = flow.throw(thrown) if thrown is not None else flow.send(value)
            except StopIteration as stop:
                grant: TokenGrant = stop.value
                return grant
            value, thrown = None, None
            if isinstance(step, float):
                await asyncio.sleep(step)
                continue
            try:
                value = await send(step)
            except httpx.TransportError as exc:
                thrown = exc
    finally:
        flow.close()


def post_sync(client: httpx.Client, spec: TokenRequest, settings: HttpSettings) -> Answer:
    """Send ``spec`` and read its answer within ``settings``' deadline and size limit."""
    request = client.build_request(
        "POST", spec.url, headers=list(spec.headers), content=spec.body
    )
    return _answer(spec, send_sync(client, request, limit=settings.max_token_response_bytes,
                                   seconds=settings.timeout))


async def post_async(
    client: httpx.AsyncClient, spec: TokenRequest, settings: HttpSettings
) -> Answer:
    """The async twin of ``post_sync``."""
    request = client.build_request(
        "POST", spec.url, headers=list(spec.headers), content=spec.body
    )
    return _answer(spec, await send_async(
        client, request, limit=settings.max_token_response_bytes, seconds=settings.timeout))


def _answer(spec: TokenRequest, body: Body) -> Answer:
    """What the fetch flow reads; an answer over the limit or with a damaged coding is a
    ``TokenResponseError`` naming the endpoint (and the limit), never a truncated parse."""
    response = body.response
    if not body.complete:
        url = spec.url
        port = f":{url.port}" if url.port is not None else ""
        what = (too_large(len(body.content), "max_token_response_bytes") if body.over_limit
                else f"its body's {body.damaged} coding is damaged")
        raise TokenResponseError(
            f"service '{spec.service}', authentication '{spec.authentication}': the token"
            f" endpoint {url.scheme}://{url.host}{port}{url.path} answered HTTP"
            f" {response.status_code} but {what}",
            service=spec.service, authentication=spec.authentication,
            status=response.status_code)
    return Answer(
        status=response.status_code,
        content_type=response.headers.get("content-type"),
        retry_after=response.headers.get("retry-after"),
        body=body.content,
    )

