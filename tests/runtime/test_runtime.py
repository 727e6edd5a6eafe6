"""The Python API a workflow runtime embeds, against the Twitch and Shopify emulators on a
real loopback socket (manifests unchanged: the transport reroutes, the URLs stay real)."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from pathlib import Path

import pytest
from connector_shopify.emulator import ShopifySandbox
from connector_twitch.emulator import TwitchSandbox

from connector_sdk import (
    AuthenticationExists,
    AuthenticationMismatch,
    AuthenticationNotFound,
    ParameterError,
    Runtime,
    ServiceNotFound,
    UnauthorizedError,
)
from connector_sdk._secrets import Secret
from connector_sdk.sandbox import SandboxServer

TWITCH = TwitchSandbox().parameters()
SHOPIFY = ShopifySandbox().parameters()


def test_create_and_get_round_trip_keeps_secrets_wrapped(runtime: Runtime) -> None:
    created = runtime.create_authentication("twitch", "app", TWITCH)
    assert isinstance(created.parameters["client_secret"], Secret)
    loaded = runtime.get_authentication("app")
    assert loaded.parameters["client_secret"].reveal() == TWITCH["client_secret"]
    assert TWITCH["client_secret"] not in repr(loaded)
    assert [r.name for r in runtime.list_authentications()] == ["app"]


def test_defaults_are_applied(runtime: Runtime) -> None:
    params = {k: v for k, v in SHOPIFY.items() if k != "api_version"}
    auth = runtime.create_authentication("shopify", "shop", params)
    assert auth.parameters["api_version"] == "2025-10"


def test_every_invalid_field_is_listed_without_values(runtime: Runtime, canary: str) -> None:
    with pytest.raises(ParameterError) as exc:
        runtime.create_authentication("shopify", "bad", {
            "shopify_url": f"{canary}.evil.com/", "client_secret": canary, "clientid": "x"})
    err = exc.value
    assert set(err.fields) == {"shopify_url", "client_id", "clientid"}
    assert "did you mean 'client_id'" in str(err)
    assert canary not in str(err)
    assert canary not in repr(err.fields)


def test_control_characters_are_refused(runtime: Runtime) -> None:
    with pytest.raises(ParameterError) as exc:
        runtime.create_authentication("twitch", "nl", {**TWITCH, "client_secret": "abc\n"})
    assert exc.value.fields == {"client_secret": [
        "contains a control character (a line break?): remove it"]}


def test_duplicate_and_missing_names(runtime: Runtime) -> None:
    runtime.create_authentication("twitch", "app", TWITCH)
    with pytest.raises(AuthenticationExists):
        runtime.create_authentication("twitch", "app", TWITCH)
    with pytest.raises(AuthenticationNotFound):
        runtime.get_authentication("nope")
    with pytest.raises(ServiceNotFound):
        runtime.create_authentication("nosuch", "x", {})


def test_secret_is_not_in_the_store_file(runtime: Runtime, tmp_path: Path, canary: str) -> None:
    runtime.create_authentication("shopify", "shop", {**SHOPIFY, "client_secret": canary})
    runtime.close()
    for path in (tmp_path / "home").iterdir():
        assert canary.encode() not in path.read_bytes(), path.name


def test_sync_client_calls_twitch_with_both_headers(
    runtime: Runtime, sandboxes: tuple[TwitchSandbox, ShopifySandbox, SandboxServer]
) -> None:
    twitch = sandboxes[0]
    runtime.create_authentication("twitch", "app", TWITCH)
    with runtime.client("app") as client:
        response = client.get("/users", params={"login": "twitchdev"})
        again = client.get("/games/top", params={"first": 2})
    assert response.status_code == 200
    assert response.url.host == "api.twitch.tv"
    assert len(again.json()["data"]) == 2
    assert twitch.token_requests == 1


def test_async_client_calls_shopify_with_the_shop_domain(
    runtime: Runtime, sandboxes: tuple[TwitchSandbox, ShopifySandbox, SandboxServer]
) -> None:
    runtime.create_authentication("shopify", "shop", SHOPIFY)

    async def main() -> int:
        async with runtime.async_client("shop") as client:
            results = await asyncio.gather(*(client.get("/products/count.json")
                                             for _ in range(20)))
        return len({r.json()["count"] for r in results if r.status_code == 200})

    assert asyncio.run(main()) == 1
    assert sandboxes[1].token_requests == 1


def test_revoked_token_is_replaced_once_and_the_call_succeeds(
    runtime: Runtime, sandboxes: tuple[TwitchSandbox, ShopifySandbox, SandboxServer]
) -> None:
    twitch = sandboxes[0]
    runtime.create_authentication("twitch", "app", TWITCH)
    with runtime.client("app") as client:
        assert client.get("/games/top").status_code == 200
        twitch.revoke_all_tokens()
        assert client.get("/games/top").status_code == 200
    assert twitch.token_requests == 2


def test_second_401_names_the_authentication(
    runtime: Runtime, sandboxes: tuple[TwitchSandbox, ShopifySandbox, SandboxServer]
) -> None:
    twitch = sandboxes[0]
    runtime.create_authentication("twitch", "app", TWITCH)
    original = twitch.handle

    def always_revoked(request):  # type: ignore[no-untyped-def]
        if request.url.host == "api.twitch.tv":
            twitch.revoke_all_tokens()
        return original(request)

    twitch.handle = always_revoked  # type: ignore[method-assign]
    with runtime.client("app") as client, pytest.raises(UnauthorizedError) as exc:
        client.get("/games/top")
    assert "app" in str(exc.value)
    assert twitch.token_requests == 2


def test_delete_revokes_the_cached_twitch_token(
    runtime: Runtime, sandboxes: tuple[TwitchSandbox, ShopifySandbox, SandboxServer]
) -> None:
    twitch = sandboxes[0]
    runtime.create_authentication("twitch", "app", TWITCH)
    runtime.get_token("app")
    result = runtime.delete_authentication("app")
    assert result is not None and result.revoked
    assert twitch.requests_by_path["/oauth2/revoke"] == 1
    with pytest.raises(AuthenticationNotFound):
        runtime.get_authentication("app")


def test_delete_happens_even_when_revocation_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    twitch = TwitchSandbox()
    server = SandboxServer(twitch).start()
    environ = {"CONNECTOR_SDK_HOME": str(tmp_path / "home")}
    with Runtime(environ=environ, sandbox_url=server.url) as runtime:
        runtime.create_authentication("twitch", "app", TWITCH)
        runtime.get_token("app")
        server.stop()
        result = runtime.delete_authentication("app")
        assert result is not None and not result.ok
        assert runtime.list_authentications() == []


def test_two_runtimes_do_not_share_tokens(
    tmp_path: Path, sandboxes: tuple[TwitchSandbox, ShopifySandbox, SandboxServer]
) -> None:
    server = sandboxes[2]
    with Runtime(environ={"CONNECTOR_SDK_HOME": str(tmp_path / "a")}, sandbox_url=server.url) \
            as a, Runtime(environ={"CONNECTOR_SDK_HOME": str(tmp_path / "b")},
                          sandbox_url=server.url) as b:
        for rt in (a, b):
            rt.get_token(rt.authentication("twitch", TWITCH, name="same"))
    assert sandboxes[0].token_requests == 2


def test_in_process_sandbox_needs_no_store(tmp_path: Path) -> None:
    home = tmp_path / "untouched"
    with Runtime(environ={"CONNECTOR_SDK_HOME": str(home)}, sandbox=True) as runtime:
        auth = runtime.resolve_authentication("demo", "twitch")
        with runtime.client(auth) as client:
            assert client.get("/streams", params={"first": 1}).status_code == 200
    assert not home.exists()


def test_wrong_service_for_an_authentication(runtime: Runtime) -> None:
    runtime.create_authentication("twitch", "app", TWITCH)
    with pytest.raises(AuthenticationMismatch, match="is for service 'twitch', not 'shopify'"):
        runtime.resolve_authentication("app", "shopify")


def test_debug_logs_carry_no_secret_and_no_token(
    runtime: Runtime, caplog: pytest.LogCaptureFixture, canary: str,
    sandboxes: tuple[TwitchSandbox, ShopifySandbox, SandboxServer],
) -> None:
    caplog.set_level(logging.DEBUG)
    twitch = sandboxes[0]
    twitch.clients[TWITCH["client_id"]] = canary  # the emulator now accepts the canary
    issued: list[str] = []
    original = twitch.handle

    def recording(request):  # type: ignore[no-untyped-def]
        response = original(request)
        if request.url.path == "/oauth2/token" and response.status_code == 200:
            issued.append(json.loads(response.content)["access_token"])
        return response

    twitch.handle = recording  # type: ignore[method-assign]
    runtime.create_authentication("twitch", "app", {**TWITCH, "client_secret": canary})
    with runtime.client("app") as client:
        assert client.get("/games/top").status_code == 200
    [token] = issued
    text = caplog.text + json.dumps([r.getMessage() for r in caplog.records])
    assert canary not in text
    assert token not in text


def test_store_file_is_a_real_sqlite_database(runtime: Runtime, tmp_path: Path) -> None:
    runtime.create_authentication("twitch", "app", TWITCH)
    db = tmp_path / "home" / "authentications.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.parametrize(("shop", "accepted"), [
    ("my-store.myshopify.com", True), ("store1.myshopify.com", True), ("a.myshopify.com", True),
    ("evil.com", False), ("my-store.myshopify.com.evil.com", False),
    ("evil.com/.myshopify.com", False), ("evil.com?.myshopify.com", False),
    ("evil.com#.myshopify.com", False), ("user@my-store.myshopify.com", False),
    ("my-store.myshopify.com:443", False), ("https://my-store.myshopify.com/admin", False),
    ("-store.myshopify.com", False), ("store-.myshopify.com", False),
    ("my_store.myshopify.com", False), ("my store.myshopify.com", False),
    ("my-store.myshopify.com.", False), ("", False), ("MY-STORE.myshopify.com", False),
])
def test_shop_domain_accept_and_reject_lists(shop: str, accepted: bool) -> None:
    """Shopify's shop-hostname rule ("Security checks" in
    https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant),
    checked by the Shopify manifest's parameter schema alone."""
    with Runtime(environ={}, sandbox=True) as runtime:
        params = {**SHOPIFY, "shopify_url": shop}
        if accepted:
            assert runtime.authentication("shopify", params).parameters["shopify_url"] == shop
        else:
            with pytest.raises(ParameterError) as exc:
                runtime.authentication("shopify", params)
            assert set(exc.value.fields) == {"shopify_url"}


def test_wrong_key_still_lists_shows_and_deletes(tmp_path: Path, canary: str) -> None:
    from connector_sdk import SecretKeyError
    from connector_sdk._stores.crypto import generate_key_text

    home = str(tmp_path / "home")
    with Runtime(environ={"CONNECTOR_SDK_HOME": home,
                          "CONNECTOR_SDK_SECRET_KEY": generate_key_text()}) as runtime:
        runtime.create_authentication("twitch", "app", {**TWITCH, "client_secret": canary})
    with Runtime(environ={"CONNECTOR_SDK_HOME": home,
                          "CONNECTOR_SDK_SECRET_KEY": generate_key_text()}) as runtime:
        assert [r.name for r in runtime.list_authentications()] == ["app"]
        with pytest.raises(SecretKeyError, match="does not match"):
            runtime.get_authentication("app")
        result = runtime.delete_authentication("app")
        assert result is not None and not result.ok
        assert runtime.list_authentications() == []


def test_delete_works_when_the_token_url_is_refused(tmp_path: Path) -> None:
    """A loopback http service deleted without --allow-loopback: deleted, not revoked."""
    from connector_sdk import hookimpl

    manifest = (Path(__file__).parents[1] / "manifest" / "fixtures" / "valid" / "acme.yaml") \
        .read_text().replace("https://{{ tenant }}.acme.example/oauth/token",
                             "http://127.0.0.1:9/oauth/token?t={{ tenant }}") \
        .replace("allowed_hosts: ['*.acme.example']",
                 "allowed_hosts: ['*.acme.example', '127.0.0.1']")

    class Plugin:
        @hookimpl
        def register_services(self, register):  # type: ignore[no-untyped-def]
            register(manifest)

    environ = {"CONNECTOR_SDK_HOME": str(tmp_path / "home")}
    params = {"tenant": "t1", "client_id": "c", "client_secret": "s"}
    with Runtime(environ=environ, extra_plugins={"acme": Plugin()},
                 allow_loopback=True) as runtime:
        assert not runtime.plugins.failures, runtime.plugins.failures
        runtime.create_authentication("acme", "a", params)
    with Runtime(environ=environ, extra_plugins={"acme": Plugin()}) as runtime:
        runtime.delete_authentication("a")
        assert runtime.list_authentications() == []


def test_a_host_outside_allowed_hosts_is_refused_when_the_authentication_is_created(
    tmp_path: Path,
) -> None:
    from connector_sdk import NetworkPolicyError, hookimpl

    manifest = (Path(__file__).parents[1] / "manifest" / "fixtures" / "valid" / "acme.yaml") \
        .read_text().replace("'^[a-z0-9][a-z0-9-]{0,40}$'", "'^[a-z0-9.-]+$'")

    class Plugin:
        @hookimpl
        def register_services(self, register):  # type: ignore[no-untyped-def]
            register(manifest)

    with Runtime(environ={"CONNECTOR_SDK_HOME": str(tmp_path / "h")},
                 extra_plugins={"acme": Plugin()}) as runtime:
        assert not runtime.plugins.failures, runtime.plugins.failures
        params = {"tenant": "evil.com", "client_id": "c", "client_secret": "s"}
        with pytest.raises(NetworkPolicyError) as exc:
            runtime.create_authentication("acme", "a", params)
        assert exc.value.parameter == "tenant"
        assert runtime.list_authentications() == []


def test_closing_the_runtime_revokes_the_twitch_tokens_it_held(
    tmp_path: Path, sandboxes: tuple[TwitchSandbox, ShopifySandbox, SandboxServer]
) -> None:
    twitch, shopify, server = sandboxes
    with Runtime(environ={"CONNECTOR_SDK_HOME": str(tmp_path / "h")},
                 sandbox_url=server.url) as runtime:
        runtime.get_token(runtime.authentication("twitch", TWITCH, name="t"))
        runtime.get_token(runtime.authentication("shopify", SHOPIFY, name="s"))
    assert twitch.requests_by_path["/oauth2/revoke"] == 1  # Shopify declares no revocation
    with Runtime(environ={"CONNECTOR_SDK_HOME": str(tmp_path / "h")}, sandbox_url=server.url,
                 revoke_on_close=False) as runtime:
        runtime.get_token(runtime.authentication("twitch", TWITCH, name="t"))
    assert twitch.requests_by_path["/oauth2/revoke"] == 1
