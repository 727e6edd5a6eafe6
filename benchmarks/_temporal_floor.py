"""The engine's floor of benchmarks/temporal_fanout.py: bare temporalio and httpx, no SDK.

``floor.fanout`` runs one ``floor.get_user`` activity per id on ``concurrency`` lanes that
take the next index in turn (the shape of the SDK's foreach), and returns the answers in
order. The activity makes the HTTP calls the SDK makes for ``twitch.get_users`` with
``id: [ID]``: a client-credentials token request once per worker process, then
``GET /helix/users?id=ID`` with ``Authorization: Bearer`` and ``Client-Id``, sent to the
loopback emulator with the real host in ``Host``. Nothing else: no codec, no validation, no
shared token cache, no heartbeats, no error mapping.

    python benchmarks/_temporal_floor.py ADDRESS TASK_QUEUE EMULATOR_URL

The client id and secret come from ``FLOOR_CLIENT_ID`` and ``FLOOR_CLIENT_SECRET``. Prints
``floor worker: serving …`` once it polls; stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():  # the activity's, never used by the workflow
    import httpx

WORKFLOW = "floor.fanout"
ACTIVITY = "floor.get_user"
ID_HOST, API_HOST = "id.twitch.tv", "api.twitch.tv"


@workflow.defn(name=WORKFLOW)
class Fanout:
    @workflow.run
    async def run(self, request: dict[str, Any]) -> list[Any]:
        ids: list[str] = request["ids"]
        results: list[Any] = [None] * len(ids)
        state = {"next": 0}

        async def lane() -> None:
            while state["next"] < len(ids):
                index = state["next"]
                state["next"] = index + 1
                results[index] = await workflow.execute_activity(
                    ACTIVITY, ids[index], start_to_close_timeout=timedelta(seconds=60))

        await asyncio.gather(*(lane() for _ in range(min(request["concurrency"], len(ids)))))
        return results


class Calls:
    """One worker's HTTP client and its token, fetched on first use."""

    def __init__(self, url: str, client_id: str, secret: str) -> None:
        self.http = httpx.AsyncClient(base_url=url, timeout=30)
        self.client_id, self.secret = client_id, secret
        self.token: str | None = None
        self.lock = asyncio.Lock()

    async def bearer(self) -> str:
        async with self.lock:
            if self.token is None:
                answer = await self.http.post(
                    "/oauth2/token", headers={"Host": ID_HOST},
                    data={"grant_type": "client_credentials", "client_id": self.client_id,
                          "client_secret": self.secret})
                answer.raise_for_status()
                self.token = str(answer.json()["access_token"])
            return self.token

    @activity.defn(name=ACTIVITY)
    async def get_user(self, user_id: str) -> Any:
        token = await self.bearer()
        answer = await self.http.get(
            "/helix/users", params={"id": user_id},
            headers={"Host": API_HOST, "Authorization": f"Bearer {token}",
                     "Client-Id": self.client_id})
        answer.raise_for_status()
        return answer.json()


async def serve(address: str, queue: str, url: str) -> None:
    calls = Calls(url, os.environ["FLOOR_CLIENT_ID"], os.environ["FLOOR_CLIENT_SECRET"])
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    client = await Client.connect(address)
    async with Worker(client, task_queue=queue, workflows=[Fanout],
                      activities=[calls.get_user], max_concurrent_activities=100):
        print(f"floor worker: serving task queue '{queue}' on {address}", flush=True)
        await stop.wait()
    await calls.http.aclose()


if __name__ == "__main__":
    asyncio.run(serve(*sys.argv[1:4]))
    sys.stdout.flush()
    os._exit(0)  # temporalio's core threads can abort a finalizing interpreter
