"""The app inside a platform's own ASGI app, and an organisation's logo."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from connector_sdk import Runtime
from connector_sdk.connect_page import ConnectPageConfig, create_app, load_config, mint_link

from .harness import KEY, write_config


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    with Runtime(sandbox=True, home=tmp_path / "home") as made:
        yield made


def _config(tmp_path: Path, old: str = "", new: str = "") -> ConnectPageConfig:
    path = write_config(tmp_path, 8400)
    path.write_text(path.read_text().replace(old, new))
    return load_config(path, environ={"CONNECT_PAGE_TEST_KEY": KEY})


def test_mounted_under_a_path_its_forms_and_styles_follow_the_mount(
        tmp_path: Path, runtime: Runtime) -> None:
    config = _config(tmp_path)
    platform = Starlette(routes=[Mount("/connect", app=create_app(runtime, config))])
    client = TestClient(platform, base_url="http://acme.localhost:8400")
    link = mint_link(config, "acme", "shopify", "mounted",
                     base_url="http://acme.localhost:8400/connect")
    assert link.startswith("http://acme.localhost:8400/connect/?session=")
    page = client.get(link)
    assert page.status_code == 200
    assert '<form method="post" action="/connect/">' in page.text
    assert 'href="/connect/static/connect.css"' in page.text
    assert 'href="/connect/brand/acme.css"' in page.text
    assert client.get("/connect/static/connect.css").status_code == 200
    brand = client.get("/connect/brand/acme.css")
    assert brand.text == ":root { --accent: #0b57d0; --bg: #ffffff; --text: #1f1f1f; }\n"
    assert brand.headers["x-content-type-options"] == "nosniff"


def test_a_logo_is_the_only_image_origin_allowed(tmp_path: Path, runtime: Runtime) -> None:
    config = _config(tmp_path, "name: Acme Integrations",
                     "name: Acme Integrations\n      logo_url: https://cdn.acme.example/l.svg")
    client = TestClient(create_app(runtime, config), base_url="http://acme.localhost:8400")
    page = client.get(mint_link(config, "acme", "shopify", "logo"))
    policy = page.headers["content-security-policy"]
    assert "img-src https://cdn.acme.example;" in policy
    assert re.search(r'<img class="logo" src="https://cdn.acme.example/l.svg"'
                     r' alt="Acme Integrations logo"', page.text)
    other = client.get(mint_link(config, "globex", "shopify", "no-logo"),
                       headers={"Host": "globex.localhost:8400"})
    assert "img-src" not in other.headers["content-security-policy"]
    assert "<img" not in other.text
