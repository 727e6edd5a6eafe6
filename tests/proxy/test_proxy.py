"""Proxies on real loopback parts: a threaded CONNECT proxy, a TLS server, a test CA.

The targets are https on names that do not resolve (``api.acme.test``): only the proxy
knows where they are (it maps every ``*.acme.test`` CONNECT to 127.0.0.1), so a request
that skipped the proxy fails to connect instead of passing unnoticed. The TLS server's
certificate is signed by a CA made for the test with ``cryptography``; ``HttpSettings.verify``
trusts it. The network policy stays strict (no ``allow_loopback``): it judges the target
host, which is in ``allowed_hosts``, and never the proxy, which is not.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import select
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connector_sdk import (
    ConfigError,
    HttpSettings,
    NetworkPolicyError,
    Service,
    TokenEndpointError,
    TokenTransportError,
)
from connector_sdk._auth.client import build_async_client, build_client
from connector_sdk._auth.manager import TokenManager
from connector_sdk._auth.revocation import revoke
from connector_sdk._http.proxy import describe
from connector_sdk.testing import (
    FAST_RETRY,
    LoopbackServer,
    Reply,
    authentication,
    loopback_service,
)

HOST = "api.acme.test"


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
          issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) as PEM files."""
    folder = tmp_path_factory.mktemp("tls")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "connector-sdk test CA")])
    ca = _cert("connector-sdk test CA", ca_key, ca_name, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert(HOST, key, ca_name, ca_key, ca=False)
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.fixture
def tls_server(tls_files: tuple[Path, Path, Path]) -> Iterator[LoopbackServer]:
    """The kit's loopback server speaking TLS with the test CA's certificate for HOST."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files[1], tls_files[2])
    server = LoopbackServer()
    httpd = server._httpd  # the kit's server has no TLS switch
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    server.route("/oauth/token", Reply(200, json={"access_token": "tok-via-proxy",
                                                  "token_type": "bearer", "expires_in": 3600}))
    server.route("/api/items", Reply(200, json={"items": [1, 2]}))
    server.route("/oauth/revoke", Reply(200))
    with server:
        yield server


@dataclass
class ConnectProxy:
    """A forward proxy on 127.0.0.1: CONNECT tunnels (its "DNS": any ``*.acme.test:443``
    is 127.0.0.1 at ``upstream_port``), 502 for anything else; ``seen`` records (method,
    target, Proxy-Authorization) of every request; ``credentials`` requires that pair."""

    credentials: tuple[str, str] | None = None
    upstream_port: int = 0
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._closing = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        if self.credentials is None:
            return f"http://127.0.0.1:{self.port}"
        user, password = self.credentials
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip()
                       for k, _, v in (line.partition(":") for line in lines[1:])}
            authorization = headers.get("proxy-authorization")
            self.seen.append((method, target, authorization))
            if self.credentials is not None:
                expected = "Basic " + base64.b64encode(
                    ":".join(self.credentials).encode()).decode()
                if authorization != expected:
                    conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                                 b"Content-Length: 0\r\n\r\n")
                    return
            host, _, port = target.rpartition(":")
            if method != "CONNECT" or not host.endswith(".acme.test") or port != "443":
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            with socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self._pipe(conn, upstream)

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        while not self._closing.is_set():
            ready, _, _ = select.select([a, b], [], [], 0.1)
            for source in ready:
                data = source.recv(65536)
                if not data:
                    return
                (b if source is a else a).sendall(data)

    def targets(self) -> list[str]:
        return [target for method, target, _ in self.seen if method == "CONNECT"]

    def close(self) -> None:
        self._closing.set()
        self._listener.close()


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    made = ConnectProxy(credentials=("proxy-user", "proxy-pass-canary"))
    yield made
    made.close()


@pytest.fixture(autouse=True)
def _clean_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def _service(server: LoopbackServer, proxy: ConnectProxy) -> Service:
    """The service at https://api.acme.test (port 443, which the proxy maps to ``server``)."""
    proxy.upstream_port = server.port
    service = loopback_service(f"https://{HOST}", service_id="acme",
                               revocation="/oauth/revoke")
    return replace(service, allowed_hosts=(HOST,))


def _verify(files: tuple[Path, Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(files[0]))


def _manager(settings: HttpSettings) -> TokenManager:
    return TokenManager(settings=settings, retry=FAST_RETRY)


def test_token_api_and_revocation_requests_tunnel_through_https_proxy_from_env(
    tls_server: LoopbackServer, tls_files: tuple[Path, Path, Path], proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    auth = authentication(_service(tls_server, proxy), client_id="id", client_secret="s")
    manager = _manager(HttpSettings(timeout=5.0, verify=_verify(tls_files)))
    try:
        with build_client(auth, manager) as client:
            assert client.get("/items").json() == {"items": [1, 2]}
        assert revoke(auth, manager).revoked
    finally:
        manager.close()
    assert [s.route for s in tls_server.seen] == ["/oauth/token", "/api/items",
                                                  "/oauth/revoke"]
    assert tls_server.seen[1].headers["authorization"] == "Bearer tok-via-proxy"
    assert set(proxy.targets()) == {f"{HOST}:443"}
    assert all(a is not None for _, _, a in proxy.seen)  # the proxy's credentials were sent


def test_async_client_uses_the_explicit_proxy_setting(
    tls_server: LoopbackServer, tls_files: tuple[Path, Path, Path], proxy: ConnectProxy,
) -> None:
    auth = authentication(_service(tls_server, proxy), client_id="id", client_secret="s")
    manager = _manager(HttpSettings(timeout=5.0, verify=_verify(tls_files), proxy=proxy.url))

    async def call() -> object:
        async with build_async_client(auth, manager) as client:
            return (await client.get("/items")).json()

    try:
        assert asyncio.run(call()) == {"items": [1, 2]}
    finally:
        manager.close()
    assert [s.route for s in tls_server.seen] == ["/oauth/token", "/api/items"]
    assert proxy.targets()


def test_without_the_proxy_the_unresolvable_target_is_unreachable(
    tls_server: LoopbackServer, tls_files: tuple[Path, Path, Path], proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """NO_PROXY naming the target's domain sends it direct: the proxy sees nothing and the
    name (known only to the proxy) does not resolve, a typed error that shows no secret."""
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "localhost, .acme.test")
    auth = authentication(_service(tls_server, proxy), client_id="id", client_secret="s")
    manager = _manager(HttpSettings(timeout=5.0, verify=_verify(tls_files)))
    try:
        with pytest.raises(TokenTransportError) as caught:
            manager.get_token(auth)
    finally:
        manager.close()
    assert proxy.seen == []
    assert tls_server.seen == []
    assert "proxy-pass-canary" not in str(caught.value)


def test_no_proxy_sends_a_loopback_target_direct(
    local_server: LoopbackServer, proxy: ConnectProxy, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    local_server.route("/oauth/token", Reply(200, json={"access_token": "t",
                                                        "token_type": "bearer"}))
    auth = authentication(loopback_service(local_server), client_id="id", client_secret="s")
    manager = _manager(HttpSettings(timeout=5.0, allow_loopback=True))
    try:
        assert manager.get_token(auth).access_token.reveal() == "t"
    finally:
        manager.close()
    assert proxy.seen == []
    assert local_server.count("/oauth/token") == 1


def test_http_proxy_applies_to_plain_http_targets_too(
    local_server: LoopbackServer, proxy: ConnectProxy, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The control case of the test above: without NO_PROXY, the same request reaches the
    proxy (as an absolute-form request, which this proxy refuses with 502)."""
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    auth = authentication(loopback_service(local_server), client_id="id", client_secret="s")
    manager = _manager(HttpSettings(timeout=5.0, allow_loopback=True))
    try:
        with pytest.raises(TokenEndpointError) as caught:  # the proxy's answer
            manager.get_token(auth)
    finally:
        manager.close()
    assert caught.value.status == 502
    assert [m for m, _, _ in proxy.seen][:1] == ["POST"]
    assert local_server.count() == 0


def test_network_policy_judges_the_target_not_the_proxy(
    tls_server: LoopbackServer, tls_files: tuple[Path, Path, Path], proxy: ConnectProxy,
) -> None:
    """A proxy on a host outside allowed_hosts is fine; a target outside them is refused
    before anything reaches the proxy."""
    auth = authentication(_service(tls_server, proxy), client_id="id", client_secret="s")
    manager = _manager(HttpSettings(timeout=5.0, verify=_verify(tls_files), proxy=proxy.url))
    try:
        with build_client(auth, manager) as client:
            assert client.get("/items").status_code == 200
            proxy.seen.clear()
            with pytest.raises(NetworkPolicyError):
                client.get("https://elsewhere.acme.test/items")
    finally:
        manager.close()
    assert proxy.seen == []


def test_proxy_credentials_never_show(proxy: ConnectProxy) -> None:
    settings = HttpSettings(proxy=proxy.url)
    assert "proxy-pass-canary" not in repr(settings)
    assert "proxy-user" not in repr(settings)
    assert describe("http://u:p%40ss@proxy:3128/x") == "http://**********@proxy:3128/x"
    with pytest.raises(ConfigError) as caught:
        HttpSettings(proxy="socks5://u:proxy-pass-canary@127.0.0.1:1080").proxy_routes()
    assert "proxy-pass-canary" not in str(caught.value)
    assert caught.value.setting == "HttpSettings.proxy"


def test_an_unusable_proxy_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "ftp://user:pw-canary@proxy:21")
    with pytest.raises(ConfigError) as caught:
        HttpSettings().proxy_routes()
    assert caught.value.setting == "HTTPS_PROXY"
    assert "pw-canary" not in str(caught.value)
    assert HttpSettings(trust_env=False).proxy_routes() == {}
