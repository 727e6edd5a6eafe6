"""Static URL-template analysis and host rules (connector_sdk._manifest.url_template)."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from connector_sdk._manifest.host_values import value_pattern_is_host_safe
from connector_sdk._manifest.templates import parse_template
from connector_sdk._manifest.url_template import (
    SAFE_HOST_VALUE,
    host_allowed,
    host_pattern_problems,
    placeholder_positions,
    static_url_problems,
    url_layout,
)

from . import hostile_values

data = hostile_values
SHOPIFY_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}\.myshopify\.com$"


def rules(text: str, **kw: Any) -> list[str]:
    return [rule for rule, _ in static_url_problems(parse_template(text), **kw)]


# --- placeholder_positions ---------------------------------------------------------------


@pytest.mark.parametrize(("template", "expected"), [
    ("https://{{shopify_url}}/admin/oauth/access_token", {"shopify_url": {"host"}}),
    ("https://{{shop}}.myshopify.com/admin/oauth/access_token", {"shop": {"host"}}),
    ("https://api-{{region}}.example.com/", {"region": {"host"}}),
    ("https://{{shop}}.myshopify.com/admin/api/{{api_version}}/graphql.json",
     {"shop": {"host"}, "api_version": {"path"}}),
    ("https://api.twitch.tv/helix/users?login={{login}}&id={{id}}",
     {"login": {"query"}, "id": {"query"}}),
    ("https://a.example.com/x#{{f}}", {"f": {"fragment"}}),
    ("{{scheme}}://a.example.com/", {"scheme": {"scheme"}}),
    ("https://{{user}}:{{password}}@a.example.com/",
     {"user": {"userinfo"}, "password": {"userinfo"}}),
    ("https://a.example.com:{{port}}/", {"port": {"port"}}),
    ("https://{{tenant}}.example.com/{{tenant}}/x?t={{tenant}}",
     {"tenant": {"host", "path", "query"}}),
    ("https://a.example.com/v{{n}}/x", {"n": {"path"}}),
])
def test_placeholder_positions(template: str, expected: dict[str, set[str]]) -> None:
    assert placeholder_positions(parse_template(template)) == expected


def test_sentinel_never_collides_with_literal_text() -> None:
    template = parse_template("https://zqph0x.example.com/{{a}}")
    assert placeholder_positions(template) == {"a": {"path"}}
    assert url_layout(template).host == "zqph0x.example.com"


def test_path_prefix_is_the_literal_path_before_the_first_placeholder() -> None:
    layout = url_layout(parse_template(
        "https://{{shop}}.myshopify.com/admin/api/{{v}}/graphql.json?x={{y}}"))
    assert layout.path_prefix == "/admin/api/"
    assert url_layout(parse_template("https://{{h}}/admin/oauth/token")).path_prefix == (
        "/admin/oauth/token")


# --- static_url_problems ----------------------------------------------------------------


@pytest.mark.parametrize("template", [
    "https://{{shopify_url}}/admin/oauth/access_token",
    "https://id.twitch.tv/oauth2/token",
    "https://{{shop}}.myshopify.com/admin/api/{{api_version}}/graphql.json",
    "http://127.0.0.1:8080/oauth/token",
    "http://localhost/oauth/token",
    "http://[::1]:9000/x",
    "https://api.example.com:8443/x?q={{q}}",
])
def test_good_templates_have_no_problems(template: str) -> None:
    assert rules(template) == []


@pytest.mark.parametrize(("template", "expected"), [
    ("/oauth/token", ["URL-NOT-ABSOLUTE"]),
    ("{{base_url}}/oauth/token", ["URL-NOT-ABSOLUTE"]),
    ("https:///oauth/token", ["URL-NOT-ABSOLUTE"]),
    ("http://api.example.com/x", ["URL-NOT-HTTPS"]),
    ("http://{{host}}/x", ["URL-NOT-HTTPS"]),
    ("http://127.0.0.1.evil.com/x", ["URL-NOT-HTTPS"]),
    ("ftp://api.example.com/x", ["URL-NOT-HTTPS"]),
    ("{{scheme}}://api.example.com/x", ["URL-PLACEHOLDER-POSITION"]),
    ("https://{{user}}@api.example.com/x", ["URL-PLACEHOLDER-POSITION"]),
    ("https://api.example.com:{{port}}/x", ["URL-PLACEHOLDER-POSITION"]),
    ("https://user:pass@api.example.com/x", ["URL-USERINFO"]),
    ("https://@api.example.com/x", ["URL-USERINFO"]),
    ("https://api.example.com:99999/x", ["URL-SYNTAX"]),
    ("https://api.example.com:x/", ["URL-SYNTAX"]),
    ("https://api.example.com/a b", ["URL-SYNTAX"]),
    ("https://api.example.com\\@evil.com/", ["URL-SYNTAX", "URL-USERINFO"]),
    ("https://[{{ip}}]/x", ["URL-SYNTAX"]),
    ("https://b\u00fccher.example/x", ["URL-SYNTAX"]),
])
def test_bad_templates_are_reported_by_rule(template: str, expected: list[str]) -> None:
    assert rules(template) == expected


def test_messages_say_how_to_fix() -> None:
    [(rule, message)] = static_url_problems(parse_template("http://api.example.com/x"))
    assert rule == "URL-NOT-HTTPS"
    assert "use https" in message


def test_literal_host_is_checked_against_allowed_hosts_when_given() -> None:
    assert rules("https://id.twitch.tv/oauth2/token", allowed_hosts=["id.twitch.tv"]) == []
    assert rules("https://id.twitch.tv/oauth2/token", allowed_hosts=["api.twitch.tv"]) == [
        "URL-HOST-NOT-ALLOWED"]
    # a templated host is decided when rendered
    assert rules("https://{{shop}}.myshopify.com/x", allowed_hosts=["api.twitch.tv"]) == []


def test_url_template_module_does_not_import_httpx() -> None:
    code = ("import sys, connector_sdk._manifest.url_template; "
            "sys.exit(1 if 'httpx' in sys.modules else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()


# --- host_pattern_problems ----------------------------------------------------------------


@pytest.mark.parametrize("pattern", [
    "api.twitch.tv", "id.twitch.tv", "*.myshopify.com", "*.MyShopify.com", "127.0.0.1",
    "::1", "localhost", "xn--bcher-kva.example", "a.b.c.example.com",
])
def test_valid_allowed_host_entries(pattern: str) -> None:
    assert host_pattern_problems(pattern) is None


@pytest.mark.parametrize("pattern", [
    "", "*", "*.com", "*.", "**.example.com", "a.*.example.com", "*example.com",
    "api*.example.com", "https://api.example.com", "api.example.com:443",
    "api.example.com/path", "user@api.example.com", "api.example.com.", "-api.example.com",
    "api_x.example.com", "b\u00fccher.example", "api example.com", "*.1", "0x7f.1",
    "10.0.0", "a" * 64 + ".example.com", "api.example.com?x", "*.*.example.com",
])
def test_invalid_allowed_host_entries(pattern: str) -> None:
    problem = host_pattern_problems(pattern)
    assert problem is not None
    assert problem  # a message to show


# --- host_allowed ---------------------------------------------------------------------------


@pytest.mark.parametrize(("host", "allowed", "expected"), [
    ("my-store.myshopify.com", ["*.myshopify.com"], True),
    ("MY-STORE.MyShopify.COM", ["*.myshopify.com"], True),
    ("my-store.myshopify.com", ["*.MYSHOPIFY.com"], True),
    ("a.b.myshopify.com", ["*.myshopify.com"], False),
    ("myshopify.com", ["*.myshopify.com"], False),
    (".myshopify.com", ["*.myshopify.com"], False),
    ("evilmyshopify.com", ["*.myshopify.com"], False),
    ("my-store.myshopify.com.evil.com", ["*.myshopify.com"], False),
    ("my-store.myshopify.com.", ["*.myshopify.com"], False),
    ("-x.myshopify.com", ["*.myshopify.com"], False),
    ("api.twitch.tv", ["api.twitch.tv"], True),
    ("API.Twitch.TV", ["api.twitch.tv"], True),
    ("x.api.twitch.tv", ["api.twitch.tv"], False),
    ("twitch.tv", ["api.twitch.tv"], False),
    ("id.twitch.tv", ["api.twitch.tv", "id.twitch.tv"], True),
    ("127.0.0.1", ["127.0.0.1"], True),
    ("::1", ["::1"], True),
    ("::1", ["[::1]"], True),
    ("127.0.0.1", ["*.0.0.1"], False),
    ("10.0.0.1", ["*.0.0.1"], False),
    ("1.2.3.4", ["*.example.com"], False),
    ("anything.com", ["*"], False),
    ("evil.com", ["*.com"], False),
    ("evil.com", [], False),
])
def test_host_allowed(host: str, allowed: list[str], expected: bool) -> None:
    assert host_allowed(host, allowed) is expected


# --- SAFE_HOST_VALUE ------------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    "my-store.myshopify.com", "a", "my-store", "A1.b2", "x" * 63, "a.b.c", "xn--bcher-kva",
    ".".join(["a" * 63] * 3) + "." + "a" * 61,
])
def test_safe_host_value_accepts(value: str) -> None:
    assert SAFE_HOST_VALUE.fullmatch(value)


#: Hostile values that are well-formed DNS names or IPv4 addresses: SAFE_HOST_VALUE lets them
#: through and ``host_allowed`` refuses them. Every other hostile value fails the shape test.
WELL_FORMED_HOSTILE = {
    "allowed-as-prefix", "allowed-as-prefix-shop", "aws-metadata", "bare-suffix", "localhost",
    "loopback", "loopback-decimal", "loopback-hex", "loopback-hex-short", "loopback-octal",
    "loopback-short", "metadata-name", "other-host", "private-10", "private-192",
    "punycode-lookalike", "punycode-other-host", "two-labels-deep",
}


@pytest.mark.parametrize("hostile", [pytest.param(v, id=v.label) for v in data.HOST_VALUES])
def test_safe_host_value_refuses_every_malformed_hostile_value(hostile: Any) -> None:
    matched = SAFE_HOST_VALUE.fullmatch(hostile.value) is not None
    assert matched is (hostile.label in WELL_FORMED_HOSTILE)
    if matched:
        assert not host_allowed(hostile.value, ["*.myshopify.com"])


def test_safe_host_value_refuses_a_254_character_host() -> None:
    assert not SAFE_HOST_VALUE.fullmatch(".".join(["a" * 63] * 3) + "." + "a" * 62)


# --- value_pattern_is_host_safe --------------------------------------------------------------

SAFE_SCHEMAS: list[dict[str, Any]] = [
    {"type": "string", "pattern": SHOPIFY_PATTERN},
    {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]{0,62}$"},
    {"type": "string", "pattern": r"^[a-zA-Z0-9][a-zA-Z0-9\-]*\.myshopify\.com$"},
    {"type": "string", "pattern": r"^(?:eu|us)-[0-9]+$"},
    {"type": "string", "pattern": r"^(eu|us)\.api$"},
    {"type": "string", "pattern": r"^[a-z.-]+$"},
    {"type": "string", "enum": ["us.api.example.com", "eu.api.example.com"]},
    {"type": "string", "const": "api.example.com"},
    {"allOf": [{"type": "string"}, {"pattern": SHOPIFY_PATTERN}]},
    {"anyOf": [{"const": "a.example.com"}, {"pattern": SHOPIFY_PATTERN}]},
]

UNSAFE_SCHEMAS: list[dict[str, Any]] = [
    {"type": "string"},
    {"type": "string", "pattern": r"^.*$"},
    {"type": "string", "pattern": r".+"},
    {"type": "string", "pattern": r"^[^/]+$"},
    {"type": "string", "format": "uri"},
    {"type": "string", "format": "hostname"},
    {"type": "string", "format": "idn-hostname"},
    {"type": "string", "pattern": r"[a-z0-9][a-z0-9-]{0,62}\.myshopify\.com"},  # unanchored
    {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]*\.myshopify\.com"},  # Shopify's doc
    {"type": "string", "pattern": r"^[a-z0-9-]+.myshopify.com$"},  # unescaped dots
    {"type": "string", "pattern": r"^a|b$"},  # alternation escapes the anchors
    {"type": "string", "pattern": r"^\S+$"},
    {"type": "string", "pattern": r"^\w+$"},
    {"type": "string", "pattern": r"^\d+$"},  # Unicode digits in Python
    {"type": "string", "pattern": r"^[\w.-]+$"},
    {"type": "string", "pattern": r"^[a-zA-Z0-9_-]+$"},  # underscore
    {"type": "string", "pattern": r"^[A-z]+$"},  # range spans [\]^_`
    {"type": "string", "pattern": r"^[.-9]+$"},  # range spans /
    {"type": "string", "pattern": r"^(?i)[a-z]+$"},  # Kelvin sign matches k
    {"type": "string", "pattern": r"^[a-z]+\/x$"},
    {"type": "string", "pattern": r"^[a-z]+(\.com$"},
    {"type": "string", "pattern": r"^[a-z]+$\n"},
    {"type": "string", "enum": ["api.example.com", "evil.com/"]},
    {"type": "string", "enum": []},
    {"type": "string", "const": "a@b"},
    {"type": "string", "const": 5},
    {"anyOf": [{"const": "a.example.com"}, {"type": "string"}]},
]


@pytest.mark.parametrize("schema", SAFE_SCHEMAS, ids=repr)
def test_host_safe_schemas(schema: dict[str, Any]) -> None:
    assert value_pattern_is_host_safe(schema) is True


@pytest.mark.parametrize("schema", UNSAFE_SCHEMAS, ids=repr)
def test_schemas_that_admit_unsafe_hosts(schema: dict[str, Any]) -> None:
    assert value_pattern_is_host_safe(schema) is False


def test_hostname_format_counts_only_when_the_caller_checks_it() -> None:
    schema = {"type": "string", "format": "hostname"}
    assert value_pattern_is_host_safe(schema, hostname_format_checked=True) is True


@pytest.mark.parametrize("schema", [s for s in SAFE_SCHEMAS if "pattern" in s], ids=repr)
def test_safe_patterns_match_no_hostile_value_with_an_unsafe_character(
    schema: dict[str, Any],
) -> None:
    compiled = re.compile(schema["pattern"])
    for hostile in data.HOST_VALUES:
        if re.fullmatch(r"[A-Za-z0-9.-]*", hostile.value):
            continue  # only the alphabet is the pattern's job; structure is render_url's
        assert compiled.search(hostile.value) is None or hostile.value.endswith("\n"), (
            hostile.label)


def test_shopify_pattern_admits_the_documented_shop_domains() -> None:
    compiled = re.compile(SHOPIFY_PATTERN)
    for value, _ in data.SHOP_DOMAINS_ACCEPTED[:3]:
        assert compiled.fullmatch(value)
