"""The kit's loopback server and API server: routes, scripts, counters, faults, 401s."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from connector_sdk.testing import APIServer, Exchange, LoopbackServer, Reply, TokenServer, faults


def test_scripted_answers_come_before_routes_then_404(local_server: LoopbackServer) -> None:
    local_server.route("/a", Reply(200, json={"from": "route"}))
    local_server.script("/a", Reply(201, body="first"), Reply(202, body="second"))
    base = local_server.url
    got = [httpx.get(base + "/a").status_code for _ in range(4)]
    assert got == [201, 202, 200, 200]
    missing = httpx.get(base + "/nowhere")
    assert missing.status_code == 404 and "GET /nowhere" in missing.json()["message"]
    assert local_server.count("/a") == 4 and local_server.count() == 5


def test_route_templates_capture_segments_and_filter_method_and_host(
    local_server: LoopbackServer,
) -> None:
    local_server.route("/things/{id}", lambda ex: Reply(json={"id": ex.params["id"]}),
                       method="GET", host="api.example.com")
    base = local_server.url
    ok = httpx.get(base + "/things/42", headers={"Host": "api.example.com"})
    assert ok.json() == {"id": "42"}
    assert httpx.post(base + "/things/42", headers={"Host": "api.example.com"}
                      ).status_code == 404
    assert httpx.get(base + "/things/42", headers={"Host": "other.example.com"}
                     ).status_code == 404
    assert httpx.get(base + "/things/4/2", headers={"Host": "api.example.com"}
                     ).status_code == 404


def test_a_path_parameter_takes_the_rest_of_the_path(local_server: LoopbackServer) -> None:
    local_server.route("/files/{name:path}", lambda ex: Reply(json=ex.params))
    assert httpx.get(local_server.url + "/files/a/b.txt").json() == {"name": "a/b.txt"}
    assert httpx.get(local_server.url + "/files/").status_code == 404


def test_a_responder_may_answer_by_itself_and_sees_the_request(
    local_server: LoopbackServer,
) -> None:
    def echo(exchange: Exchange) -> None:
        exchange.reply(200, json_body={"method": exchange.method, "form": exchange.form(),
                                       "query": exchange.query})

    local_server.route("/echo", echo)
    answer = httpx.post(local_server.url + "/echo?x=1", data={"a": "b c"})
    assert answer.json() == {"method": "POST", "form": {"a": "b c"}, "query": {"x": "1"}}
    seen = local_server.requests("/echo")[0]
    assert seen.body == b"a=b+c" and seen.headers["content-type"].startswith(
        "application/x-www-form-urlencoded")


def test_a_streamed_request_body_is_read_whole(local_server: LoopbackServer) -> None:
    local_server.route("/upload", Reply(204))
    httpx.post(local_server.url + "/upload", content=iter([b"ab", b"cd"]))
    assert local_server.requests("/upload")[0].body == b"abcd"


@pytest.mark.parametrize("fault", [faults.drop(), faults.reset(), faults.drop_mid_body(),
                                   faults.reset_mid_body()])
def test_broken_connections_are_transport_errors(local_server: LoopbackServer, fault) -> None:  # type: ignore[no-untyped-def]
    local_server.script("/x", fault)
    with pytest.raises(httpx.TransportError):
        httpx.get(local_server.url + "/x", timeout=5).read()


def test_a_hang_ends_when_the_server_closes() -> None:
    server = LoopbackServer()
    server.script("/slow", faults.hang(60))
    errors: list[BaseException] = []

    def call() -> None:
        try:
            httpx.get(server.url + "/slow", timeout=30)
        except httpx.TransportError as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    while server.count("/slow") == 0:
        time.sleep(0.01)
    started = time.monotonic()
    server.close()
    thread.join(20)
    assert not thread.is_alive() and errors
    assert time.monotonic() - started < 15


def test_connections_are_counted(local_server: LoopbackServer) -> None:
    with socket.create_connection(("127.0.0.1", local_server.port)):
        pass
    deadline = time.monotonic() + 10
    while local_server.connections == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert local_server.connections == 1 and local_server.count() == 0


def test_a_trickling_body_stops_after_its_time(local_server: LoopbackServer) -> None:
    local_server.script("/drip", faults.trickle(0.05, 0.3))
    with pytest.raises(httpx.TransportError):
        httpx.get(local_server.url + "/drip", timeout=5).read()


def test_huge_sends_the_declared_size(local_server: LoopbackServer) -> None:
    local_server.script("/big", faults.huge(200, 300_000))
    assert len(httpx.get(local_server.url + "/big").content) == 300_000


@pytest.mark.parametrize(("where", "how"), [
    ("Authorization", "Bearer {}"),
    ("Authorization", "OAuth {}"),
    ("X-Shopify-Access-Token", "{}"),
    ("query", "{}"),
])
def test_the_api_accepts_a_valid_token_wherever_it_is_attached(
    token_server: TokenServer, api_server: APIServer, where: str, how: str
) -> None:
    api_server.route("GET", "/v1/items", json={"items": []})
    token = token_server.issue()
    value = how.format(token)
    kwargs = {"params": {"access_token": value}} if where == "query" else {
        "headers": {where: value}}
    assert httpx.get(api_server.url + "/v1/items", **kwargs).status_code == 200  # type: ignore[arg-type]
    assert httpx.get(api_server.url + "/v1/items").status_code == 401
    assert httpx.get(api_server.url + "/v1/items",
                     headers={"Authorization": "Bearer forged"}).status_code == 401


def test_an_open_route_needs_no_token(api_server: APIServer) -> None:
    api_server.route("GET", "/health", json={"ok": True}, auth=False)
    assert httpx.get(api_server.url + "/health").json() == {"ok": True}


def test_an_api_with_a_prefix_and_its_own_server() -> None:
    api = APIServer(prefix="/v2/")
    try:
        api.route("GET", "/ping", body="pong")
        assert api.url.endswith("/v2")
        assert httpx.get(api.url + "/ping").text == "pong"
        assert api.count("/ping") == 1
    finally:
        api.close()
