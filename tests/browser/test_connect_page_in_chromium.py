"""The connect page in a real headless Chromium (Debian's, through Playwright), against the
emulators: what an end user sees and what the browser enforces (patterns, CSP frame
ancestors), accessibility (axe-core), and a canary secret that never comes back."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from connector_sdk.connect_page import mint_link
from connector_sdk.connect_page.patterns import browser_pattern

from ..connect_page.harness import ROOT, Served, free_socket, serve, serve_code

__all__ = ["serve"]  # the connect page's fixture, used here


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A fresh browser context (no shared storage) and page."""
    context = chromium.new_context()
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def artifacts(artifacts_dir: Path) -> Path:
    """Screenshots of each page state: ``$CONNECTOR_SDK_TEST_ARTIFACTS/browser/connect-page``
    (CI keeps it), else a temporary directory."""
    directory = artifacts_dir / "connect-page"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _shot(page: Any, artifacts: Path, state: str) -> Path:
    path = artifacts / f"{state}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _serious(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']}: {v['help']}" for v in results.response["violations"]
            if v.get("impact") in ("serious", "critical")]


class _Recorder:
    """Every answer the browser received: status, headers and body text."""

    def __init__(self, page: Any) -> None:
        self.answers: list[tuple[str, dict[str, str], str]] = []
        page.on("response", self._record)

    def _record(self, response: Any) -> None:
        try:
            body = response.text()
        except Exception:  # a redirect has no body to read
            body = ""
        self.answers.append((response.url, dict(response.headers), body))

    def contains(self, value: str) -> bool:
        return any(value in url or value in str(headers) or value in body
                   for url, headers, body in self.answers)


def _fill_shop(page: Any, served: Served, *, secret: str, shop: str | None = None,
               client_id: str | None = None) -> None:
    parameters = served.runtime.emulator("shopify").parameters()
    page.get_by_label("Shop domain").fill(shop or parameters["shopify_url"])
    page.get_by_label("Client ID").fill(client_id or parameters["client_id"])
    page.get_by_label("Client secret").fill(secret)


def test_a_shopify_connection_is_made_in_the_browser(
        serve: Any, page: Any, artifacts: Path, canary: str,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    served = serve()
    served.runtime.emulator("shopify").clients["canary-client"] = canary
    recorder = _Recorder(page)
    page.goto(mint_link(served.config, "acme", "shopify", "acme-shop"))
    assert page.get_by_role("heading", level=1).inner_text() == "Connect Shopify Admin API"
    assert _serious(page) == []
    _shot(page, artifacts, "form")
    _fill_shop(page, served, secret=canary, client_id="canary-client")
    page.get_by_role("button", name="Save and test").click()
    page.wait_for_selector("text=is connected")
    assert _serious(page) == []
    _shot(page, artifacts, "success")
    assert page.url.startswith(served.origin("acme"))
    (record,) = served.runtime.list_authentications()
    assert record.name == "acme-shop"
    assert not recorder.contains(canary)
    assert canary not in caplog.text
    for file in served.runtime.config.home.rglob("*"):
        if file.is_file():
            assert canary.encode() not in file.read_bytes(), f"{file.name} holds it in clear"


def test_a_bad_shop_domain_is_refused_in_the_browser(serve: Any, page: Any,
                                                     artifacts: Path) -> None:
    served = serve()
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(mint_link(served.config, "acme", "shopify", "acme-shop"))
    _fill_shop(page, served, secret="whatever", shop="my-store.example.com")
    page.get_by_role("button", name="Save and test").click()
    shop = page.get_by_label("Shop domain")
    assert shop.evaluate("e => e.validity.patternMismatch") is True
    assert posts == []  # the browser stopped it: nothing was sent
    # the server refuses it too once the browser check is out of the way
    shop.evaluate("e => e.removeAttribute('pattern')")
    page.get_by_role("button", name="Save and test").click()
    page.wait_for_selector("text=There is a problem")
    assert len(posts) == 1
    error = page.locator("#field-0-error").inner_text()
    assert "does not match the pattern" in error and "my-store.myshopify.com" in error
    assert page.get_by_label("Client secret").input_value() == ""  # never echoed
    assert page.get_by_label("Shop domain").get_attribute("aria-invalid") == "true"
    assert _serious(page) == []
    _shot(page, artifacts, "error")


def test_a_reused_link_shows_a_refusal(serve: Any, page: Any, artifacts: Path) -> None:
    served = serve()
    link = mint_link(served.config, "acme", "shopify", "acme-shop")
    page.goto(link)
    answer = page.goto(link)
    assert answer.status == 403
    assert page.get_by_role("heading", level=1).inner_text() == \
        "This link has already been used"
    assert _serious(page) == []
    _shot(page, artifacts, "refused")


class _Parent(BaseHTTPRequestHandler):
    """A platform's page embedding the connect page: ``/?src=URL`` holds one iframe."""

    def do_GET(self) -> None:
        src = self.path.partition("?src=")[2]
        from urllib.parse import unquote

        body = (f'<!doctype html><html lang="en"><title>parent</title>'
                f'<iframe title="connect" src="{unquote(src)}"></iframe></html>').encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def parent() -> Iterator[tuple[int, Any]]:
    sock = free_socket()
    port = int(sock.getsockname()[1])
    sock.close()
    server = ThreadingHTTPServer(("127.0.0.1", port), _Parent)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield port, server
    server.shutdown()
    server.server_close()


def _framed(page: Any, parent_origin: str, link: str) -> Any:
    from urllib.parse import quote

    page.goto(f"{parent_origin}/?src={quote(link, safe='')}")
    page.wait_for_load_state("load")
    return page.frames[1]


def test_the_page_loads_in_a_frame_of_an_allowed_origin_only(
        serve: Any, page: Any, parent: tuple[int, Any]) -> None:
    port, _ = parent
    served = serve(frame_port=port)
    refusals: list[str] = []
    page.on("console", lambda m: refusals.append(m.text) if "frame-ancestors" in m.text
            else None)
    allowed = _framed(page, f"http://app.localhost:{port}",
                      mint_link(served.config, "acme", "shopify", "framed"))
    allowed.wait_for_selector("h1")
    assert allowed.locator("h1").inner_text() == "Connect Shopify Admin API"
    assert refusals == []
    blocked = _framed(page, f"http://evil.localhost:{port}",
                      mint_link(served.config, "acme", "shopify", "framed-2"))
    page.wait_for_timeout(500)
    # the frame's content never loaded: Chromium shows its error page in its place
    assert blocked.url.startswith("chrome-error://")
    assert "Connect Shopify" not in blocked.content()
    assert any("frame-ancestors" in text for text in refusals)


PATTERNS = [
    (r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.myshopify\.com$",
     ["my-store.myshopify.com"], ["my-store.example.com", "-a.myshopify.com"]),
    (r"^[0-9]{4}-(01|04|07|10)$", ["2025-10"], ["2025-11", "x2025-10"]),
    (r"^[a-z0-9]{30}$", ["a" * 30], ["a" * 29, "A" * 30]),
    (r"abc", ["xxabcxx", "abc"], ["ab"]),
    (r"^a|b$", ["ax", "xb"], ["xa"]),
    (r"^[\w.+-]+@[^@\s]+$", ["a.b+c@d"], ["a@b@c", "a @b"]),
    (r"^[^/?#]+$", ["host"], ["ho/st"]),
]


def test_translated_patterns_compile_with_the_v_flag_and_agree_with_re2(page: Any) -> None:
    import re2

    page.set_content("<html></html>")
    for pattern, good, bad in PATTERNS:
        translated = browser_pattern(pattern)
        assert translated is not None, pattern
        for value in good + bad:
            expected = re2.search(pattern, value) is not None
            matched = page.evaluate(
                "([p, v]) => new RegExp('^(?:' + p + ')$', 'v').test(v)", [translated, value])
            assert matched == expected, (pattern, value)


def test_a_docs_screenshot_is_in_the_repository() -> None:
    image = ROOT / "docs" / "images" / "connect-page.png"
    assert image.exists() and image.stat().st_size > 1000
    assert "images/connect-page.png" in (ROOT / "docs" / "connect-page.md").read_text()



def _connect(page: Any) -> Any:
    """Press Connect: the consent opens in a new window (a consent page refuses frames)."""
    with page.context.expect_page() as opened:
        page.get_by_role("button", name="Connect").click()
    return opened.value


def test_a_twitch_user_connects_through_the_consent_page(
        serve: Any, page: Any, artifacts: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    served = serve_code(serve, "twitch", "acme")
    recorder = _Recorder(page)
    page.goto(mint_link(served.config, "acme", "twitch", "acme-twitch"))
    assert page.get_by_role("heading", level=1).inner_text() == "Connect Twitch Helix"
    assert page.locator("input:not([type=hidden])").count() == 0  # all fixed by the platform
    _shot(page, artifacts, "connect")
    consent = _connect(page)
    recorder_consent = _Recorder(consent)
    consent.wait_for_url(f"{served.sandbox.url}/**")
    _shot(consent, artifacts, "consent")
    consent.get_by_role("button", name="Approve").click()
    consent.wait_for_selector("text=is connected")
    assert consent.url.startswith(f"{served.origin('acme')}/oauth2/callback")
    assert consent.get_by_role("heading", level=1).inner_text() == "Twitch Helix is connected"
    assert _serious(consent) == []
    _shot(consent, artifacts, "connected")
    recorder.answers += recorder_consent.answers
    (record,) = served.runtime.list_authentications()
    assert (record.name, record.service, record.grant) == ("acme-twitch", "twitch",
                                                           "authorization_code")
    from connector_twitch.emulator import TWITCH_CLIENT_SECRET

    assert not recorder.contains(TWITCH_CLIENT_SECRET)  # the platform's secret stays put
    assert TWITCH_CLIENT_SECRET not in caplog.text


def test_a_denied_consent_stores_nothing_and_says_so(serve: Any, page: Any,
                                                     artifacts: Path) -> None:
    served = serve_code(serve, "twitch", "acme")
    page.goto(mint_link(served.config, "acme", "twitch", "acme-twitch"))
    consent = _connect(page)
    consent.wait_for_url(f"{served.sandbox.url}/**")
    consent.get_by_role("button", name="Deny").click()
    consent.wait_for_selector("text=The connection was not made")
    assert consent.url.startswith(served.origin("acme"))
    assert "You did not approve access" in consent.content()
    assert served.runtime.list_authentications() == []
    _shot(consent, artifacts, "denied")


def test_the_form_is_filled_and_sent_with_the_keyboard_alone(serve: Any, page: Any) -> None:
    served = serve()
    parameters = served.runtime.emulator("shopify").parameters()
    page.goto(mint_link(served.config, "acme", "shopify", "keyboard"))
    focused = []
    for value in (parameters["shopify_url"], parameters["client_id"],
                  parameters["client_secret"], None):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.labels[0].textContent.trim()"))
        if value is not None:
            page.keyboard.type(value)
    assert focused == ["Shop domain", "Client ID", "Client secret",
                       "Admin API version (optional)"]
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Save and test"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # the focus is visible
    page.keyboard.press("Enter")
    page.wait_for_selector("text=is connected")


def test_connect_from_inside_the_platforms_frame_opens_the_consent_in_a_window(
        serve: Any, page: Any, parent: tuple[int, Any]) -> None:
    port, _ = parent
    served = serve_code(lambda **options: serve(frame_port=port, **options), "twitch", "acme")
    frame = _framed(page, f"http://app.localhost:{port}",
                    mint_link(served.config, "acme", "twitch", "framed-twitch"))
    frame.wait_for_selector("h1")
    with page.context.expect_page() as opened:
        frame.get_by_role("button", name="Connect").click()
    consent = opened.value
    consent.get_by_role("button", name="Approve").click()
    consent.wait_for_selector("text=is connected")
    assert consent.url.startswith(served.origin("acme"))
    assert [r.name for r in served.runtime.list_authentications()] == ["framed-twitch"]
