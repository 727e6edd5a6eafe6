"""The connect page's rules over plain HTTP (no browser): sessions, CSRF, domains, headers,
server-side validation and the client-credentials path against the Shopify emulator."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import httpx
import pytest

from connector_sdk.connect_page import mint_link

from .harness import Served, serve_code


def _client(served: Served, organisation: str = "acme") -> httpx.Client:
    # Host header of the organisation's domain, sent to 127.0.0.1 (as *.localhost resolves)
    return httpx.Client(base_url=f"http://127.0.0.1:{served.port}",
                        headers={"Host": f"{organisation}.localhost:{served.port}"},
                        follow_redirects=False, timeout=30)


def _path(link: str) -> str:
    return link[link.index("/?"):]


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert match, f"no hidden field {name}"
    return match.group(1)


def _open(served: Served, client: httpx.Client, *, name: str = "acme-shop",
          organisation: str = "acme") -> tuple[str, str]:
    answer = client.get(_path(mint_link(served.config, organisation, "shopify", name)))
    assert answer.status_code == 200, answer.text
    return _hidden(answer.text, "page"), _hidden(answer.text, "csrf")


def _shop(served: Served) -> dict[str, str]:
    parameters: dict[str, str] = served.runtime.emulator("shopify").parameters()
    return {k: v for k, v in parameters.items() if k != "api_version"}


def test_every_answer_carries_the_security_headers(serve: Any) -> None:
    served = serve(frame_port=8123)
    with _client(served) as client:
        form = client.get(_path(mint_link(served.config, "acme", "shopify", "a")))
        refused = client.get("/")
        css = client.get("/static/connect.css")
    for answer in (form, refused, css):
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"
    policy = form.headers["content-security-policy"]
    assert policy == ("default-src 'none'; style-src 'self'; form-action 'self';"
                      " frame-ancestors http://app.localhost:8123; base-uri 'none'")
    assert "frame-ancestors 'none'" in refused.headers["content-security-policy"]
    assert "<script" not in form.text and "style=" not in form.text


def test_a_page_without_a_session_link_is_refused(serve: Any) -> None:
    served = serve()
    with _client(served) as client:
        answer = client.get("/")
        forged = client.get("/?session=WyJ4Il0.aaaa.bbbb")
    assert answer.status_code == 403 and "This page needs a link" in answer.text
    assert forged.status_code == 403 and "This link is not valid" in forged.text


def test_a_session_link_works_once(serve: Any) -> None:
    served = serve()
    link = _path(mint_link(served.config, "acme", "shopify", "once"))
    with _client(served) as client:
        first = client.get(link)
        second = client.get(link)
    assert first.status_code == 200
    assert second.status_code == 403 and "already been used" in second.text


def test_an_expired_session_link_is_refused(serve: Any, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    served = serve(max_age=60)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 3600)  # minted an hour ago
    link = _path(mint_link(served.config, "acme", "shopify", "late"))
    monkeypatch.setattr(time, "time", real)
    with _client(served) as client:
        answer = client.get(link)
    assert answer.status_code == 403 and "This link has expired" in answer.text


def test_a_link_on_another_organisations_domain_is_refused(serve: Any) -> None:
    served = serve()
    link = _path(mint_link(served.config, "acme", "shopify", "wrong-domain"))
    with _client(served, "globex") as client:
        answer = client.get(link)
    assert answer.status_code == 403 and "wrong domain" in answer.text
    with _client(served, "acme") as client:  # the refusal did not spend it
        assert client.get(link).status_code == 200


def test_a_post_with_a_forged_or_foreign_csrf_token_is_refused(serve: Any) -> None:
    served = serve()
    with _client(served) as client:
        page, _ = _open(served, client, name="csrf-one")
        _, other_csrf = _open(served, client, name="csrf-two")
        forged = client.post("/", data={"page": page, "csrf": "WyJ4Il0.forged.token",
                                        **_shop(served)})
        foreign = client.post("/", data={"page": page, "csrf": other_csrf, **_shop(served)})
        missing = client.post("/", data={"page": page, **_shop(served)})
    for answer in (forged, foreign, missing):
        assert answer.status_code == 403 and "could not be accepted" in answer.text
    assert served.runtime.list_authentications() == []


def test_a_cross_site_post_is_refused(serve: Any) -> None:
    served = serve()
    with _client(served) as client:
        page, csrf = _open(served, client)
        answer = client.post("/", data={"page": page, "csrf": csrf, **_shop(served)},
                             headers={"Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 403 and "another site" in answer.text


def test_a_bad_shop_domain_is_refused_by_the_server(serve: Any, canary: str) -> None:
    served = serve()
    with _client(served) as client:
        page, csrf = _open(served, client)
        answer = client.post("/", data={"page": page, "csrf": csrf,
                                        **{**_shop(served), "client_secret": canary,
                                           "shopify_url": "evil.example.com/x"}})
    assert answer.status_code == 400
    error = re.search(r'<p class="error" id="field-0-error">(.*?)</p>', answer.text, re.S)
    assert error and "does not match the pattern" in error.group(1)
    assert "my-store.myshopify.com" in error.group(1)  # how to fix it
    assert 'value="evil.example.com/x"' in answer.text  # a plain value is shown again
    assert canary not in answer.text  # a secret never is
    assert served.runtime.list_authentications() == []


def test_client_credentials_are_created_and_tested(serve: Any, canary: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    served = serve()
    emulator = served.runtime.emulator("shopify")
    emulator.clients["canary-client"] = canary
    before = emulator.token_requests if hasattr(emulator, "token_requests") else None
    with _client(served) as client:
        page, csrf = _open(served, client)
        answer = client.post("/", data={"page": page, "csrf": csrf, **_shop(served),
                                        "client_id": "canary-client", "client_secret": canary})
        again = client.post("/", data={"page": page, "csrf": csrf, **_shop(served),
                                       "client_id": "canary-client", "client_secret": canary})
    assert answer.status_code == 200 and "is connected" in answer.text
    assert again.status_code == 403  # the page session is spent
    (record,) = served.runtime.list_authentications()
    assert record.name == "acme-shop" and record.service == "shopify"
    assert served.runtime.get_authentication("acme-shop").parameters[
        "client_secret"].reveal() == canary
    if before is not None:
        assert emulator.token_requests == before + 1
    for answer_ in (answer, again):
        assert canary not in answer_.text and canary not in str(answer_.headers)
    assert canary not in caplog.text
    store = served.runtime.config.home
    for file in store.rglob("*"):
        if file.is_file():
            assert canary.encode() not in file.read_bytes(), f"{file.name} holds it in clear"


def test_wrong_credentials_store_nothing_and_say_so(serve: Any) -> None:
    served = serve()
    with _client(served) as client:
        page, csrf = _open(served, client)
        answer = client.post("/", data={"page": page, "csrf": csrf, **_shop(served),
                                        "client_secret": "not-the-secret"})
    assert answer.status_code == 400
    assert "did not give a token with these values, so nothing was saved" in answer.text
    assert served.runtime.list_authentications() == []
    with _client(served) as client:  # the refusal gave the page session back: fix and retry
        fixed = client.post("/", data={"page": page, "csrf": csrf, **_shop(served)})
    assert fixed.status_code == 200 and "is connected" in fixed.text


def test_a_link_is_spent_for_every_process_sharing_the_store(serve: Any) -> None:
    from starlette.testclient import TestClient

    from connector_sdk import Runtime
    from connector_sdk.connect_page import create_app

    served = serve()
    link = _path(mint_link(served.config, "acme", "shopify", "shared"))
    with Runtime(sandbox=True, home=served.runtime.config.home,
                 redirects=served.config.redirects) as other:
        second = TestClient(create_app(other, served.config),
                            base_url=f"http://acme.localhost:{served.port}")
        assert second.get(link).status_code == 200  # opened by "the other process"
    with _client(served) as client:
        answer = client.get(link)
    assert answer.status_code == 403 and "already been used" in answer.text



def _approved_callback(served: Served, client: httpx.Client) -> str:
    """Connect on acme's page, approve at the emulator: the callback URL it sends back."""
    answer = client.get(_path(mint_link(served.config, "acme", "twitch", "acme-twitch")))
    policy = answer.headers["content-security-policy"]
    assert f"form-action 'self' https://id.twitch.tv {served.sandbox.url};" in policy
    connect = client.post("/", data={"page": _hidden(answer.text, "page"),
                                     "csrf": _hidden(answer.text, "csrf")})
    assert connect.status_code == 302
    location = connect.headers["location"]
    prefix = f"{served.sandbox.url}/_sandbox/"
    assert location.startswith(prefix)
    callback: str = served.runtime.emulator("twitch").approve(
        "https://" + location[len(prefix):])
    assert callback.startswith(f"{served.origin('acme')}/oauth2/callback?")
    return callback


def test_a_callback_completes_only_on_its_organisations_domain(serve: Any) -> None:
    served = serve_code(serve, "twitch", "acme")
    with _client(served) as acme, _client(served, "globex") as globex:
        callback = _approved_callback(served, acme)
        path = callback[len(served.origin("acme")):]
        elsewhere = globex.get(path)
        assert elsewhere.status_code == 400 and "another organisation" in elsewhere.text
        assert served.runtime.list_authentications() == []
        callback = _approved_callback(served, acme)
        path = callback[len(served.origin("acme")):]
        done = acme.get(path)
        replayed = acme.get(path)
    assert done.status_code == 200 and "Twitch Helix is connected" in done.text
    assert replayed.status_code == 400 and "already used" in replayed.text
    (record,) = served.runtime.list_authentications()
    assert record.grant == "authorization_code"


def test_a_callback_on_an_unknown_path_or_host_is_not_found(serve: Any) -> None:
    served = serve()
    with _client(served) as client:
        assert client.get("/elsewhere?code=x&state=y").status_code == 404
    with _client(served, "initech") as client:
        assert client.get("/oauth2/callback?code=x&state=y").status_code == 404



def _begin_shopify(served: Served, client: httpx.Client) -> str:
    answer = client.get(_path(mint_link(served.config, "globex", "shopify", "globex-shop")))
    assert 'name="client_id"' not in answer.text and 'name="client_secret"' not in answer.text
    assert "form-action 'self' https://*.myshopify.com" in answer.headers[
        "content-security-policy"]
    shop = served.runtime.emulator("shopify").parameters()["shopify_url"]
    connect = client.post("/", data={"page": _hidden(answer.text, "page"),
                                     "csrf": _hidden(answer.text, "csrf"), "shopify_url": shop})
    assert connect.status_code == 302, connect.text
    prefix = f"{served.sandbox.url}/_sandbox/"
    callback: str = served.runtime.emulator("shopify").approve(
        "https://" + connect.headers["location"][len(prefix):])
    assert callback.startswith(f"{served.origin('globex')}/oauth2/callback?")
    return callback[len(served.origin("globex")):]


def test_a_merchant_connects_a_shop_with_the_authorization_code(serve: Any) -> None:
    served = serve_code(serve, "shopify", "globex")
    with _client(served, "globex") as client:
        tampered = _begin_shopify(served, client).replace("hmac=", "hmac=0")
        refused = client.get(tampered)
        done = client.get(_begin_shopify(served, client))
    assert refused.status_code == 400 and "The connection was not made" in refused.text
    assert done.status_code == 200 and "Shopify Admin API is connected" in done.text
    (record,) = served.runtime.list_authentications()
    assert (record.name, record.grant) == ("globex-shop", "authorization_code")


@pytest.mark.parametrize(("content", "kind"), [
    (b"page=x&csrf=y&" + b"a" * 70_000, "application/x-www-form-urlencoded"),
    (b"page=x&csrf=y", "multipart/form-data; boundary=x"),
    (b"page=\xff", "application/x-www-form-urlencoded"),
])
def test_a_body_that_is_not_a_small_urlencoded_form_is_not_read(
        serve: Any, content: bytes, kind: str) -> None:
    served = serve()
    with _client(served) as client:
        answer = client.post("/", content=content, headers={"Content-Type": kind})
    assert answer.status_code == 400 and "could not be read" in answer.text


def test_an_internal_error_is_a_plain_500_with_the_security_headers(
        serve: Any, monkeypatch: pytest.MonkeyPatch, canary: str) -> None:
    served = serve()
    served.runtime.emulator("shopify").clients["canary-client"] = canary

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug, not a user error")

    monkeypatch.setattr(served.runtime, "create_authentication", broken)
    with _client(served) as client:
        page, csrf = _open(served, client)
        answer = client.post("/", data={"page": page, "csrf": csrf, **_shop(served),
                                        "client_id": "canary-client", "client_secret": canary})
    assert answer.status_code == 500
    assert "a bug" not in answer.text and canary not in answer.text
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"


def test_a_page_session_allows_five_refused_token_requests(serve: Any) -> None:
    served = serve()
    emulator = served.runtime.emulator("shopify")
    with _client(served) as client:
        page, csrf = _open(served, client)
        before = emulator.token_requests
        answers = [client.post("/", data={"page": page, "csrf": csrf, **_shop(served),
                                          "client_secret": f"guess-{n}"}) for n in range(6)]
    assert [a.status_code for a in answers] == [400, 400, 400, 400, 403, 403]
    assert "Too many attempts" in answers[4].text
    assert "already been used" in answers[5].text
    assert emulator.token_requests == before + 5  # the sixth never reached the provider
    assert served.runtime.list_authentications() == []
