"""httpx's Auth contract: a streaming request body that meets a 401 is sent again, whole,
with the new token (``requires_request_body``), over a real loopback server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator

import pytest

from connector_sdk._auth.client import build_async_client, build_client

CHUNKS = [b"first chunk;", b"second chunk;", b"x" * 70_000]
WHOLE = b"".join(CHUNKS)


class RejectsFirstToken:
    """Issues numbered tokens; the upload endpoint refuses the first token with a 401."""

    def __init__(self, kit, server) -> None:
        self.kit = kit
        self.issued: list[str] = []
        self.lock = threading.Lock()
        server.default("/token", self.token)
        server.default("/api/upload", self.upload)

    def token(self, seen):
        with self.lock:
            value = f"tok-{len(self.issued)}"
            self.issued.append(value)
        return self.kit.token_reply(value, expires_in=3600)

    def upload(self, seen):
        if seen.headers.get("authorization") == "Bearer tok-0":
            return self.kit.Reply(401, json={"error": "invalid_token"})
        return self.kit.Reply(200, json={"received": len(seen.body)})


def chunks() -> Iterator[bytes]:
    yield from CHUNKS


async def achunks() -> AsyncIterator[bytes]:
    for chunk in CHUNKS:
        await asyncio.sleep(0)
        yield chunk


@pytest.fixture
def provider(kit, server):
    return RejectsFirstToken(kit, server)


def assert_replayed_whole(server, response) -> None:
    assert response.status_code == 200
    assert response.json() == {"received": len(WHOLE)}
    uploads = server.requests("/api/upload")
    assert [s.headers["authorization"] for s in uploads] == ["Bearer tok-0", "Bearer tok-1"]
    assert [s.body for s in uploads] == [WHOLE, WHOLE]
    assert server.count("/token") == 2


def test_streaming_body_is_replayed_after_a_401(kit, server, make_manager, provider):
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    with build_client(auth, make_manager()) as client:
        response = client.post("/upload", content=chunks())
    assert_replayed_whole(server, response)


def test_async_streaming_body_is_replayed_after_a_401(kit, server, make_manager, provider):
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    manager = make_manager()

    async def main():
        async with build_async_client(auth, manager) as client:
            return await client.post("/upload", content=achunks())

    assert_replayed_whole(server, asyncio.run(main()))


def test_streaming_body_without_a_401_is_sent_once(kit, server, make_manager, provider):
    auth = kit.auth(kit.service(), client_id="a", client_secret="b")
    manager = make_manager()
    manager.get_token(auth)  # tok-0, refused
    manager.invalidate(auth, manager.get_token(auth))
    manager.get_token(auth)  # tok-1, accepted
    with build_client(auth, manager) as client:
        response = client.post("/upload", content=chunks())
    assert response.status_code == 200
    assert [s.body for s in server.requests("/api/upload")] == [WHOLE]
