"""render_url and check_url: encoding by position and the checks on the rendered URL."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from connector_sdk._errors import NetworkPolicyError
from connector_sdk._http.policy import check_url, is_loopback_host, render_url
from connector_sdk._manifest.templates import parse_template
from connector_sdk._secrets import Secret

from . import hostile_values

data = hostile_values

SHOP = ["*.myshopify.com"]
GRAPHQL = "https://{{shop}}.myshopify.com/admin/api/{{api_version}}/graphql.json"


def shopify(template: str, values: dict[str, Any], **kw: Any) -> httpx.URL:
    kw.setdefault("allowed_hosts", SHOP)
    return render_url(template, values, service="shopify", url_name="base_url", **kw)


# --- path, query and fragment values -------------------------------------------------------


@pytest.mark.parametrize("case", [pytest.param(v, id=v.label) for v in data.PATH_VALUES])
def test_path_value_is_encoded_as_exactly_one_segment(case: Any) -> None:
    values = {"shop": "my-store", "api_version": case.value}
    if case.segment is None:
        with pytest.raises(NetworkPolicyError) as caught:
            shopify(GRAPHQL, values)
        assert caught.value.parameter == "api_version"
        assert "api_version" in str(caught.value)
        return
    url = shopify(GRAPHQL, values)
    expected = f"https://my-store.myshopify.com/admin/api/{case.segment}/graphql.json"
    assert str(url) == expected
    assert url.raw_path.decode().split("/") == ["", "admin", "api", case.segment,
                                                "graphql.json"]


def test_plain_api_version_renders_the_documented_graphql_url() -> None:
    url = shopify(GRAPHQL, {"shop": "my-store", "api_version": "2025-10"})
    assert str(url) == "https://my-store.myshopify.com/admin/api/2025-10/graphql.json"


def test_value_completing_a_dot_segment_with_literal_text_is_refused() -> None:
    with pytest.raises(NetworkPolicyError, match=re.escape("'.' or '..' segment")):
        shopify("https://a.myshopify.com/admin/.{{a}}/x", {"a": ""})
    url = shopify("https://a.myshopify.com/admin/.{{a}}/x", {"a": "%2e"})
    assert url.raw_path == b"/admin/.%252e/x"


def test_query_value_is_encoded_as_one_component() -> None:
    url = render_url("https://api.twitch.tv/helix/users?login={{login}}&first=1",
                     {"login": "a&admin=1 #x/y+z="}, service="twitch", url_name="base_url",
                     allowed_hosts=["api.twitch.tv"])
    assert str(url) == ("https://api.twitch.tv/helix/users"
                        "?login=a%26admin%3D1%20%23x%2Fy%2Bz%3D&first=1")
    assert url.params.get_list("login") == ["a&admin=1 #x/y+z="]
    assert url.params["first"] == "1"


def test_twitch_cursor_is_encoded_like_the_documented_vector() -> None:
    url = render_url("https://api.twitch.tv/helix/games/top?first=1&after={{after}}",
                     {"after": "eyJiIjpudWxsLCJhIjp7Ik9mZnNldCI6MjB9fQ=="}, service="twitch",
                     url_name="base_url", allowed_hosts=["api.twitch.tv"])
    assert str(url).endswith("after=eyJiIjpudWxsLCJhIjp7Ik9mZnNldCI6MjB9fQ%3D%3D")


def test_fragment_value_is_encoded() -> None:
    url = shopify("https://a.myshopify.com/x#{{f}}", {"f": "a b/#"})
    assert url.fragment == "a b/#"
    assert str(url) == "https://a.myshopify.com/x#a%20b%2F%23"


@pytest.mark.parametrize("part", ["query", "fragment", "path"])
def test_control_characters_are_refused_in_every_position(part: str) -> None:
    template = {"query": "https://a.myshopify.com/x?q={{v}}",
                "fragment": "https://a.myshopify.com/x#{{v}}",
                "path": "https://a.myshopify.com/x/{{v}}"}[part]
    with pytest.raises(NetworkPolicyError, match="control character") as caught:
        shopify(template, {"v": "ok\r\nHost: evil.com"})
    assert caught.value.parameter == "v"


def test_non_string_values_render_as_text() -> None:
    url = shopify("https://a.myshopify.com/items/{{id}}?live={{live}}", {"id": 42, "live": True})
    assert str(url) == "https://a.myshopify.com/items/42?live=true"


# --- the rendered URL ------------------------------------------------------------------------


def test_missing_value_names_the_parameter() -> None:
    with pytest.raises(NetworkPolicyError, match="'shop' has no value") as caught:
        shopify(GRAPHQL, {"api_version": "2025-10"})
    assert caught.value.parameter == "shop"


def test_host_outside_allowed_hosts_is_refused_with_the_fix() -> None:
    with pytest.raises(NetworkPolicyError) as caught:
        render_url("https://{{shopify_url}}/admin/oauth/access_token",
                   {"shopify_url": "evil.com"}, service="shopify", url_name="token_url",
                   allowed_hosts=SHOP)
    message = str(caught.value)
    assert message.startswith("service 'shopify': token_url:")
    assert "'shopify_url'" in message
    assert "*.myshopify.com" in message
    assert "my-name.myshopify.com" in message
    assert "evil.com" not in message


def test_literal_host_must_also_be_allowed() -> None:
    with pytest.raises(NetworkPolicyError, match="allowed_hosts") as caught:
        render_url("https://id.twitch.tv/oauth2/token", {}, service="twitch",
                   url_name="token_url", allowed_hosts=["api.twitch.tv"])
    assert caught.value.parameter is None


def test_literal_port_is_kept_and_default_port_is_dropped() -> None:
    url = shopify("https://{{shop}}.myshopify.com:8443/x", {"shop": "a"})
    assert url.port == 8443
    assert str(shopify("https://{{shop}}.myshopify.com:443/x", {"shop": "a"})) == (
        "https://a.myshopify.com/x")


@pytest.mark.parametrize(("template", "rule"), [
    ("http://{{shop}}.myshopify.com/x", "URL-NOT-HTTPS"),
    ("https://{{user}}@{{shop}}.myshopify.com/x", "URL-PLACEHOLDER-POSITION"),
    ("https://{{shop}}.myshopify.com:{{port}}/x", "URL-PLACEHOLDER-POSITION"),
    ("https://u:p@{{shop}}.myshopify.com/x", "URL-USERINFO"),
    ("{{url}}", "URL-NOT-ABSOLUTE"),
])
def test_templates_breaking_static_rules_are_refused(template: str, rule: str) -> None:
    values = {"shop": "a", "user": "u", "port": "443", "url": "https://a.myshopify.com/x"}
    with pytest.raises(NetworkPolicyError, match=rule):
        shopify(template, values)


def test_http_loopback_needs_allow_loopback() -> None:
    template = "http://127.0.0.1:8080/oauth/token"
    with pytest.raises(NetworkPolicyError, match="scheme 'http'"):
        render_url(template, {}, service="s", url_name="token_url", allowed_hosts=["127.0.0.1"])
    url = render_url(template, {}, service="s", url_name="token_url",
                     allowed_hosts=["127.0.0.1"], allow_loopback=True)
    assert str(url) == "http://127.0.0.1:8080/oauth/token"


def test_allow_loopback_does_not_bypass_allowed_hosts() -> None:
    with pytest.raises(NetworkPolicyError, match="allowed_hosts"):
        render_url("http://127.0.0.1:8080/x", {}, service="s", url_name="token_url",
                   allowed_hosts=["api.example.com"], allow_loopback=True)


def test_secret_values_are_revealed_only_into_the_url(canary: str) -> None:
    url = shopify("https://a.myshopify.com/x?key={{key}}", {"key": Secret(canary)})
    assert url.params["key"] == canary
    with pytest.raises(NetworkPolicyError) as caught:
        shopify("https://{{key}}.myshopify.com/x", {"key": Secret(canary + "/x")})
    assert canary not in str(caught.value)


def test_accepts_a_parsed_template_and_a_string_alike() -> None:
    values = {"shop": "a", "api_version": "2025-10"}
    assert shopify(parse_template(GRAPHQL), values) == shopify(GRAPHQL, values)


def test_rendered_url_reaches_a_loopback_server(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/admin/api/2025-10/shop.json").respond_with_json({"shop": {}})
    template = f"http://127.0.0.1:{httpserver.port}/admin/api/{{{{api_version}}}}/shop.json"
    url = render_url(template, {"api_version": "2025-10"}, service="shopify",
                     url_name="base_url", allowed_hosts=["127.0.0.1"], allow_loopback=True)
    with httpx.Client(timeout=5) as client:
        response = client.get(url)
    assert response.json() == {"shop": {}}
    assert len(httpserver.log) == 1


# --- check_url ------------------------------------------------------------------------------


def check(url: str, **kw: Any) -> httpx.URL:
    kw.setdefault("allowed_hosts", SHOP)
    return check_url(url, service="shopify", url_name="next page", **kw)


def test_check_url_accepts_a_link_header_url_verbatim() -> None:
    link = "https://my-store.myshopify.com/admin/api/2025-10/products.json?limit=50&page_info=abc"
    assert str(check(link, path_prefix="/admin/api/")) == link


@pytest.mark.parametrize(("url", "reason"), [
    ("https://evil.com/admin/api/x", "allowed_hosts"),
    ("https://a.b.myshopify.com/x", "allowed_hosts"),
    ("http://my-store.myshopify.com/x", "scheme 'http'"),
    ("ftp://my-store.myshopify.com/x", "scheme 'ftp'"),
    ("https://user:pw@my-store.myshopify.com/x", "user:password@"),
    ("https://my-store.myshopify.com:6379/x", "port 6379"),
    ("https://my-store.myshopify.com/admin/../oauth", "'.' or '..'"),
    ("https://my-store.myshopify.com/admin/%2e%2E/oauth", "'.' or '..'"),
    ("https://my-store.myshopify.com\\@evil.com/x", "backslash"),
    ("https://my-store.myshopify.com/x\r\nX: y", "control character"),
    ("/admin/api/2025-10/products.json", "absolute"),
    ("https://169.254.169.254/latest/meta-data", "allowed_hosts"),
    ("https://my-store.myshopify.com/other/path", "outside '/admin/api/'"),
    ("https://my-store.myshopify.com:99999/x", "cannot be parsed"),
])
def test_check_url_refuses(url: str, reason: str) -> None:
    with pytest.raises(NetworkPolicyError, match=re.escape(reason)):
        check(url, path_prefix="/admin/api/" if "other" in url else "")


def test_check_url_allows_listed_ports_and_loopback_ports() -> None:
    assert check("https://my-store.myshopify.com:8443/x", allowed_ports={8443}).port == 8443
    url = check_url("http://127.0.0.1:54321/page/2", service="s", url_name="next page",
                    allowed_hosts=["127.0.0.1"], allow_loopback=True)
    assert url.port == 54321


def test_check_url_takes_an_httpx_url() -> None:
    url = httpx.URL("https://my-store.myshopify.com/x")
    assert check(url) == url  # type: ignore[arg-type]


@pytest.mark.parametrize(("host", "expected"), [
    ("localhost", True), ("LOCALHOST", True), ("127.0.0.1", True), ("127.8.9.10", True),
    ("::1", True), ("[::1]", True), ("localhost.", False), ("127.1", False),
    ("0x7f.0.0.1", False), ("2130706433", False), ("10.0.0.1", False),
    ("localhost.example.com", False), ("::ffff:127.0.0.1", False), ("", False),
])
def test_is_loopback_host(host: str, expected: bool) -> None:
    assert is_loopback_host(host) is expected


# --- properties ------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_host_value_is_refused_or_stays_on_an_allowed_host(value: str) -> None:
    try:
        url = render_url("https://{{shopify_url}}/admin/oauth/access_token",
                         {"shopify_url": value}, service="shopify", url_name="token_url",
                         allowed_hosts=SHOP)
    except NetworkPolicyError as exc:
        refused: NetworkPolicyError | None = exc
    else:
        refused = None
    if refused is not None:
        assert refused.parameter == "shopify_url"
        return
    host = url.raw_host.decode()
    assert host == value.lower()
    assert host.endswith(".myshopify.com")
    assert host.count(".") == 2
    assert (url.scheme, url.port, url.userinfo, url.raw_path) == (
        "https", None, b"", b"/admin/oauth/access_token")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_path_value_stays_one_segment(value: str) -> None:
    try:
        url = shopify(GRAPHQL, {"shop": "my-store", "api_version": value})
    except NetworkPolicyError as exc:
        refused: NetworkPolicyError | None = exc
    else:
        refused = None
    if refused is not None:
        assert refused.parameter == "api_version"
        return
    segments = url.raw_path.decode("ascii").split("/")
    assert segments[:3] == ["", "admin", "api"]
    assert segments[4:] == ["graphql.json"]
    assert unquote(segments[3]) == value
