"""Redirect URLs as configuration: selection per organisation, and every invalid file refused
with its position, rule id and fix (docs/redirects.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connector_sdk import OrganisationRedirect, Redirects, RedirectsError, load_redirects
from connector_sdk._manifest.redirects import REDIRECT_RULES
from connector_sdk.cli._validation import validate_paths

FIXTURES = Path(__file__).parent / "fixtures"
VALID = FIXTURES / "valid.yaml"
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))
DOCS = (Path(__file__).parents[2] / "docs" / "redirects.md").read_text(encoding="utf-8")

PRIMARY = "https://auth.example.com/oauth2/callback"
ACME = "https://acme.integration-authentication.example/oauth2/callback"


@pytest.fixture(scope="module")
def redirects() -> Redirects:
    return load_redirects(VALID)


def test_the_primary_is_the_first_url(redirects: Redirects) -> None:
    assert redirects.primary == PRIMARY
    assert redirects.redirect_urls[1] == ACME
    assert redirects.source == str(VALID)


def test_an_organisation_gets_its_white_labelled_url(redirects: Redirects) -> None:
    assert redirects.redirect_url_for("acme", accepts_multiple=True) == ACME
    assert redirects.redirect_url_for("globex", accepts_multiple=True) == \
        "https://globex.integration-authentication.example/oauth2/callback"


def test_no_organisation_gets_the_primary(redirects: Redirects) -> None:
    assert redirects.redirect_url_for(None, accepts_multiple=True) == PRIMARY
    assert redirects.redirect_url_for(None, accepts_multiple=False) == PRIMARY


def test_a_service_that_accepts_one_redirect_url_gets_the_primary(redirects: Redirects) -> None:
    assert redirects.redirect_url_for("acme", accepts_multiple=False) == PRIMARY


@pytest.mark.parametrize("accepts_multiple", [True, False])
def test_an_unknown_organisation_is_an_error_with_the_closest_name(
        redirects: Redirects, accepts_multiple: bool) -> None:
    with pytest.raises(RedirectsError, match="did you mean 'acme'") as caught:
        redirects.redirect_url_for("acmee", accepts_multiple=accepts_multiple)
    assert caught.value.organisation == "acmee"


def test_an_organisation_is_found_by_the_host_of_its_url(redirects: Redirects) -> None:
    found = redirects.organisation_for_host("ACME.integration-authentication.example:443")
    assert found == OrganisationRedirect("acme", ACME)
    assert found.host == "acme.integration-authentication.example"
    assert redirects.organisation_for_host("acme.localhost:8443").name == "acme-dev"
    assert redirects.organisation_for_host("auth.example.com") is None  # the primary's host
    assert redirects.organisation_for_host("evil.example") is None


def test_a_mapping_is_read_like_the_file() -> None:
    loaded = load_redirects({
        "redirects_version": 1, "redirect_urls": (PRIMARY, ACME),
        "organisations": {"acme": {"redirect_url": ACME}}})
    assert loaded.redirect_urls == (PRIMARY, ACME)
    assert loaded.organisation("acme").redirect_url == ACME


def test_a_bad_mapping_names_the_problem_without_a_line() -> None:
    with pytest.raises(RedirectsError) as caught:
        load_redirects({"redirects_version": 1, "redirect_urls": [ACME],
                        "organisations": {"acme": {"redirect_url": ACME}}})
    [problem] = caught.value.problems
    assert problem.rule == "REDIRECT-WHITE-LABEL-FIRST" and problem.line == 0
    assert "<redirects>: REDIRECT-WHITE-LABEL-FIRST" in str(caught.value)
    assert "put the platform's own redirect URL first" in str(caught.value)


@pytest.mark.parametrize("fixture", INVALID, ids=lambda p: p.stem)
def test_each_invalid_file_is_refused_naming_file_line_and_its_rule(fixture: Path) -> None:
    with pytest.raises(RedirectsError) as caught:
        load_redirects(fixture)
    problems = caught.value.problems
    assert {p.rule for p in problems} == {fixture.stem}, [p.format_text() for p in problems]
    lines = fixture.read_text().splitlines()
    for problem in problems:
        assert problem.file == str(fixture) and problem.line >= 1 and problem.column >= 1
        assert problem.line <= len(lines)
        assert f"{fixture}:{problem.line}:{problem.column}: {fixture.stem}" in str(caught.value)
    assert "hunter2" not in str(caught.value)  # a credential in a URL is never echoed


def test_validate_reports_the_same_problems_as_loading() -> None:
    results = validate_paths([VALID, *INVALID], skip_undeclared=True)
    assert [r.kind for r in results] == ["redirects"] * len(results)
    assert results[0].problems == []
    for fixture, result in zip(INVALID, results[1:], strict=True):
        assert {p.rule for p in result.problems} == {fixture.stem}


def test_every_redirect_rule_has_a_fixture_and_is_documented() -> None:
    assert set(REDIRECT_RULES) <= {p.stem for p in INVALID}
    assert [r for r in REDIRECT_RULES if not re.search(rf"`{re.escape(r)}`", DOCS)] == []


def _urls(*urls: str) -> dict[str, object]:
    return {"redirects_version": 1, "redirect_urls": list(urls)}


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/cb", "http://127.8.9.10/cb", "http://[::1]:8000/cb",
    "http://localhost:8000/cb", "http://acme.localhost:8000/cb", "HTTP://LOCALHOST/cb",
    "https://auth.example.com:8443/cb?tenant=a", "https://192.0.2.10/cb",
])
def test_https_and_loopback_http_are_accepted(url: str) -> None:
    assert load_redirects(_urls(url)).primary == url


@pytest.mark.parametrize(("url", "rule"), [
    ("http://10.0.0.1/cb", "REDIRECT-URL-NOT-HTTPS"),
    ("http://localhost.evil.example/cb", "REDIRECT-URL-NOT-HTTPS"),
    ("http://127.0.0.1.nip.io/cb", "REDIRECT-URL-NOT-HTTPS"),
    ("http://[::2]/cb", "REDIRECT-URL-NOT-HTTPS"),
    ("ftp://auth.example.com/cb", "REDIRECT-URL-NOT-HTTPS"),
    ("com.example.app:/oauth2redirect", "REDIRECT-URL-INVALID"),
    ("https://auth.example.com:99999/cb", "REDIRECT-URL-INVALID"),
    ("https://auth.example.com:0/cb", "REDIRECT-URL-INVALID"),
    ("https://auth.exämple.com/cb", "REDIRECT-URL-INVALID"),
    ("https://*.example.com/cb", "REDIRECT-URL-INVALID"),
    ("https://{{ shop }}.example.com/cb", "REDIRECT-URL-INVALID"),
    ("https://auth.example.com/c b", "REDIRECT-URL-INVALID"),
    ("https://auth.example.com@evil.example/cb", "REDIRECT-URL-USERINFO"),
    ("https://auth.example.com/cb#", "REDIRECT-URL-FRAGMENT"),
])
def test_a_bad_url_is_refused_with_its_rule(url: str, rule: str) -> None:
    with pytest.raises(RedirectsError) as caught:
        load_redirects(_urls(url))
    assert [p.rule for p in caught.value.problems] == [rule]


def test_an_organisation_may_not_name_the_primary_even_when_others_follow() -> None:
    with pytest.raises(RedirectsError) as caught:
        load_redirects({**_urls(PRIMARY, ACME), "organisations": {
            "acme": {"redirect_url": ACME}, "platform": {"redirect_url": PRIMARY}}})
    assert [p.rule for p in caught.value.problems] == ["REDIRECT-WHITE-LABEL-FIRST"]
    assert "organisation 'platform'" in str(caught.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RedirectsError, match="FILE-UNREADABLE cannot read the file"):
        load_redirects(tmp_path / "nowhere.yaml")
