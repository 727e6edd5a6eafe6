"""The configuration file is checked at start-up: each problem names file:line, rule and fix;
the form is derived from the parameter schema; patterns the browser cannot share are left
to the server."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector_sdk import ConfigError, Runtime
from connector_sdk.connect_page import check_services, load_config
from connector_sdk.connect_page.config import contrast
from connector_sdk.connect_page.form import build_fields, read_form_values
from connector_sdk.connect_page.patterns import browser_pattern

from .harness import KEY, write_config

ENV = {"CONNECT_PAGE_TEST_KEY": KEY}


def _config(tmp_path: Path, replace: tuple[str, str] | None = None, **kwargs: object) -> Path:
    path = write_config(tmp_path, 8400, **kwargs)  # type: ignore[arg-type]
    if replace is not None:
        text = path.read_text()
        assert replace[0] in text
        path.write_text(text.replace(*replace))
    return path


def _problem(tmp_path: Path, replace: tuple[str, str], environ: dict[str, str] = ENV) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, replace), environ=environ)
    return str(caught.value)


def test_a_valid_file_gives_each_organisation_its_domain_and_branding(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, frame_port=9000), environ=ENV)
    acme = config.organisation("acme")
    assert acme.host == "acme.localhost"
    assert acme.callback_path == "/oauth2/callback"
    assert acme.frame_ancestors == ("http://app.localhost:9000",)
    assert acme.branding.name == "Acme Integrations"
    assert config.organisation("globex").branding.accent == "#1a56b8"  # the default
    assert KEY not in repr(config)


def test_a_missing_session_key_names_the_variable_and_the_line(tmp_path: Path) -> None:
    message = _problem(tmp_path, ("max_age: 900", "max_age: 900"), environ={})
    assert "connect-page.yaml:3:" in message and "CONNECT-SESSION-KEY" in message
    assert "$CONNECT_PAGE_TEST_KEY is not set" in message


@pytest.mark.parametrize(("replace", "rule", "line"), [
    (("#0b57d0", "#0b57dx"), "SCHEMA-PATTERN", 9),
    (("background: \"#ffffff\"", "background: \"#fafafa\", text2: 1"), "SCHEMA", 9),
    (("#1f1f1f", "#dddddd"), "CONNECT-CONTRAST", 9),
    (("#0b57d0", "#ffee00"), "CONNECT-CONTRAST", 9),
    (("[http://app.localhost:1]", "[http://app.example.com]"), "CONNECT-ORIGIN-NOT-HTTPS", 6),
    (("  globex:\n    branding", "  initech:\n    branding"), "CONNECT-ORGANISATION-UNKNOWN",
     13),
    (("name: Acme Integrations", "name: Acme\n      logo_url: http://cdn.example/l.png"),
     "SCHEMA-PATTERN", 9),
])
def test_each_bad_setting_is_a_start_up_error_at_its_line(
        tmp_path: Path, replace: tuple[str, str], rule: str, line: int) -> None:
    message = _problem(tmp_path, replace)
    assert rule in message
    assert f"connect-page.yaml:{line}:" in message


def test_an_invalid_redirect_file_is_reported_through_the_config(tmp_path: Path) -> None:
    path = _config(tmp_path)
    redirects = tmp_path / "redirects.yaml"
    redirects.write_text(redirects.read_text().replace("http://platform.localhost",
                                                       "http://platform.example"))
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=ENV)
    assert "CONNECT-REDIRECTS-INVALID" in str(caught.value)
    assert "REDIRECT-URL-NOT-HTTPS" in str(caught.value)


def test_a_secret_fixed_parameter_must_come_from_the_environment(tmp_path: Path) -> None:
    services = "      shopify: {grant: client_credentials, fixed: {client_secret: hunter2}}"
    config = load_config(_config(tmp_path, ("      shopify: {grant: client_credentials}",
                                            services)), environ=ENV)
    with Runtime(home=tmp_path / "home") as runtime, pytest.raises(ConfigError) as caught:
        check_services(config, runtime)
    assert "connect-page.yaml:11: fixed parameter 'client_secret' is secret" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_an_unknown_service_or_grant_is_a_start_up_error(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, ("shopify: {grant: client_credentials}",
                                            "shopfy: {}")),
                         environ=ENV)
    with Runtime(home=tmp_path / "home") as runtime, pytest.raises(ConfigError) as caught:
        check_services(config, runtime)
    assert "connect-page.yaml:11: " in str(caught.value)
    assert "shopfy" in str(caught.value) and "did you mean 'shopify'" in str(caught.value)


def test_contrast_follows_wcag() -> None:
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48


def test_the_form_follows_the_parameter_schema(tmp_path: Path) -> None:
    with Runtime(home=tmp_path / "home") as runtime:
        service = runtime.service("shopify")
    fields = {f.name: f for f in build_fields(service, {"client_id": "fixed"},
                                              shown={"client_secret": "typed"})}
    assert set(fields) == {"shopify_url", "client_secret", "api_version"}  # client_id fixed
    shop = fields["shopify_url"]
    assert (shop.label, shop.widget, shop.required) == ("Shop domain", "text", True)
    assert shop.placeholder == "e.g. my-store.myshopify.com"
    assert shop.pattern == r"[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?\.myshopify\.com"
    assert shop.hint and shop.described_by == shop.hint_id
    secret = fields["client_secret"]
    assert secret.widget == "password" and secret.value == ""  # never shown again
    assert fields["api_version"].value == "2025-10" and not fields["api_version"].required
    posted = read_form_values(service, {"client_id": "fixed"},
                              {"client_id": "forged", "shopify_url": "a.myshopify.com",
                               "client_secret": "s", "api_version": ""})
    assert posted.values == {"shopify_url": "a.myshopify.com", "client_secret": "s"}
    assert "client_secret" not in posted.shown


@pytest.mark.parametrize("pattern", [
    r"^(?P<name>a)$", r"(?i)abc", r"^\p{L}+$", r"^[[:alpha:]]+$", r"\bword\b", r"\Aabc\z",
    r"a{,3}", r"^[a-z]", r"(unclosed", r"x]", "a\nb",
])
def test_patterns_outside_the_shared_subset_get_no_browser_check(pattern: str) -> None:
    if pattern == r"^[a-z]":
        assert browser_pattern(pattern) == r"[\s\S]*(?:^[a-z])[\s\S]*"
        return
    assert browser_pattern(pattern) is None


def test_a_fixed_value_the_schema_refuses_is_a_start_up_error(tmp_path: Path) -> None:
    services = "      shopify: {fixed: {shopify_url: not-a-shop}}"
    config = load_config(_config(tmp_path, ("      shopify: {grant: client_credentials}",
                                            services)), environ=ENV)
    with Runtime(home=tmp_path / "home") as runtime, pytest.raises(ConfigError) as caught:
        check_services(config, runtime)
    assert "connect-page.yaml:11: fixed parameter 'shopify_url' does not match the pattern" \
        in str(caught.value)


_INJECTION = "https://cdn.example;script-src 'unsafe-inline' *;frame-ancestors */logo.png"


@pytest.mark.parametrize(("replace", "rules", "line"), [
    # a directive smuggled in the logo's host, with and without spaces
    (("name: Acme Integrations", f'name: Acme\n      logo_url: "{_INJECTION}"'),
     ("SCHEMA-PATTERN", "CONNECT-LOGO-URL"), 9),
    (("name: Acme Integrations",
      "name: Acme\n      logo_url: \"https://cdn.example;script-src:1/l.png\""),
     ("SCHEMA-PATTERN", "CONNECT-LOGO-URL"), 9),
    (("name: Acme Integrations", 'name: Acme\n      logo_url: "https://cdn.example/l.png\\n"'),
     ("SCHEMA-PATTERN", "CONNECT-LOGO-URL"), 9),
    # within the schema's pattern, not a DNS name: only the load-time check refuses it
    (("name: Acme Integrations", "name: Acme\n      logo_url: https://cdn..example/l.png"),
     ("CONNECT-LOGO-URL",), 9),
    (("[http://app.localhost:1]", "[https://-app.example]"), ("CONNECT-ORIGIN-INVALID",), 6),
    (("[http://app.localhost:1]", '["http://app.localhost:1\\nSet-Cookie: x=1"]'),
     ("SCHEMA-PATTERN", "CONNECT-ORIGIN-INVALID"), 6),
    (("[http://app.localhost:1]", '["https://app.example\\n"]'),
     ("SCHEMA-PATTERN", "CONNECT-ORIGIN-INVALID"), 6),
    (("[http://app.localhost:1]", "[https://app.example:0]"), ("CONNECT-ORIGIN-INVALID",), 6),
])
def test_a_value_that_would_reach_the_csp_header_must_be_a_clean_origin(
        tmp_path: Path, replace: tuple[str, str], rules: tuple[str, ...], line: int) -> None:
    message = _problem(tmp_path, replace)
    assert any(rule in message for rule in rules), message
    assert f"connect-page.yaml:{line}:" in message


def test_the_csp_origins_are_rebuilt_from_the_parsed_host_and_port(tmp_path: Path) -> None:
    from connector_sdk.connect_page.headers import content_security_policy

    config = load_config(_config(tmp_path, (
        "name: Acme Integrations",
        "name: Acme\n      logo_url: https://CDN.Example:8443/a;b/l.png?v=1")), environ=ENV)
    acme = config.organisation("acme")
    assert acme.branding.logo_origin == "https://cdn.example:8443"
    policy = content_security_policy(logo_origin=acme.branding.logo_origin, form_origins=[],
                                     frame_ancestors=acme.frame_ancestors)
    directives = [part.split()[0] for part in policy.split("; ")]
    assert directives == ["default-src", "style-src", "img-src", "form-action",
                          "frame-ancestors", "base-uri"]
    assert "img-src https://cdn.example:8443;" in policy
