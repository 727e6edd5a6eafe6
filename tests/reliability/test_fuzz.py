"""Fuzzing with hypothesis: the parsers and validators raise only their documented errors,
never hang and keep memory bounded, whatever they are fed.

Targets and what each may raise (anything else fails the example):

* ``_manifest.reader.load_yaml``: nothing (problems are returned);
* ``cli._validation.validate_document`` on mutated manifests and workflows (structure-aware:
  the valid fixtures and the shipped manifests, with values replaced, keys dropped or added):
  nothing. ``load_manifest`` then returns a ``Service`` exactly when it returns no problem, and
  ``load_service`` agrees: the service, or ``ManifestError`` carrying the same problems;
  ``load_workflow`` returns a ``Workflow`` or raises ``WorkflowError`` carrying problems;
* ``_manifest.templates.parse_template``: ``TemplateSyntaxError``; ``Template.render``:
  ``KeyError``;
* ``_http.policy.render_url``: ``NetworkPolicyError`` (and ``TemplateSyntaxError`` for
  unparsed template text); a URL it returns is https on an allowed host;
* ``_auth.response.parse_token_response``: ``TokenResponseError``; a grant it returns has
  a token and a lifetime within bounds; ``endpoint_error``: nothing, and never the secret.

The budget per target is ``CONNECTOR_SDK_FUZZ_EXAMPLES`` (default 100 in the plain test run,
``scripts/reliability`` uses more). Each example has a deadline; memory growth over the
module is checked at the end.
"""

from __future__ import annotations

import copy
import json
import os
import resource
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector_sdk import (
    ManifestError,
    NetworkPolicyError,
    TokenResponseError,
    Workflow,
    WorkflowError,
    load_service,
    load_workflow,
)
from connector_sdk._auth.response import (
    ResponseContext,
    endpoint_error,
    parse_token_response,
)
from connector_sdk._http.policy import render_url
from connector_sdk._manifest.loader import load_manifest
from connector_sdk._manifest.reader import load_yaml
from connector_sdk._manifest.templates import TemplateSyntaxError, parse_template
from connector_sdk._manifest.url_template import host_allowed
from connector_sdk._problems import Problem
from connector_sdk._workflows.loading import installed_services
from connector_sdk.cli._validation import validate_document

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(300)]

EXAMPLES = int(os.environ.get("CONNECTOR_SDK_FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=timedelta(seconds=2), derandomize=True,
                database=None, suppress_health_check=list(HealthCheck))

ROOT = Path(__file__).parents[2]
MANIFESTS = sorted([
    *ROOT.glob("tests/manifest/fixtures/valid/*.yaml"),
    *ROOT.glob("connectors/*/connector_*/*.yaml"),
])
WORKFLOWS = sorted(ROOT.glob("tests/workflows/fixtures/valid/*.yaml"))
SECRET = "fuzz-canary-5f2d0c9e1b7a"


@pytest.fixture(scope="module", autouse=True)
def bounded_memory() -> Any:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 300 * 1024, f"fuzzing grew the peak memory by {grown_kb // 1024} MB"


class Counter:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> None:
        self.n += 1


@pytest.fixture
def examples(figures):  # type: ignore[no-untyped-def]
    counter = Counter()
    yield counter
    figures.add("fuzz.examples", counter.n)


# -- strategies ------------------------------------------------------------------------------

YAML_BITS = ["key", ":", " ", "\n", "  ", "- ", "[", "]", "{", "}", ",", "&a ", "*a", "<<: ",
             "!!python/object:os.system ", "!!binary ", "|", ">", "'", '"', "#", "---\n",
             "...\n", "? ", "%YAML 1.1\n", "\t", "~", "1e9", "0x1f", "yes", "{{ x }}", "\\",
             "\u2028", "\ufeff", "&b [*a, *a, *a, *a]"]
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _load_fixture(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@st.composite
def mutated(draw: st.DrawFn, fixtures: list[Path]) -> str:
    """A valid document with one to three mutations, dumped back to YAML text."""
    doc = copy.deepcopy(_load_fixture(draw(st.sampled_from(fixtures))))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths[1:] or paths))
        parent: Any = doc
        for step in path[:-1]:
            parent = parent[step]
        if not path:
            break
        action = draw(st.sampled_from(["replace", "delete", "add", "template"]))
        key = path[-1]
        if action == "replace":
            parent[key] = draw(json_values)
        elif action == "delete":
            del parent[key]
        elif action == "template":
            parent[key] = draw(st.sampled_from(["{{ x }}", "{{", "}}", "{{ a.b.0 }}",
                                                "https://{{ tenant }}.evil.com/", "{{ }}",
                                                "{{ steps.a.data }}", "${x}"]))
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(json_values)
        else:
            parent.append(draw(json_values))
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


# -- targets ---------------------------------------------------------------------------------


@FUZZ
@given(text=st.text(max_size=400) | st.lists(st.sampled_from(YAML_BITS), max_size=60).map(
    "".join))
def test_yaml_loader_returns_problems_for_any_text(text: str, examples: Counter) -> None:
    examples()
    doc, problems = load_yaml(text, "fuzz.yaml")
    assert doc is not None or problems
    assert all(isinstance(p, Problem) for p in problems)


@FUZZ
@given(raw=st.binary(max_size=400))
def test_yaml_loader_returns_problems_for_any_bytes(raw: bytes, examples: Counter) -> None:
    examples()
    doc, problems = load_yaml(raw, "fuzz.yaml")
    assert doc is not None or problems


def _validate_text(text: str) -> None:
    doc, problems = load_yaml(text, "fuzz.yaml")
    if doc is None:
        assert problems
        return
    result = validate_document(doc)
    assert all(isinstance(p, Problem) for p in result.problems)


@FUZZ
@given(text=mutated(MANIFESTS))
def test_manifest_validator_reports_problems_for_mutated_manifests(
    text: str, examples: Counter
) -> None:
    examples()
    _validate_text(text)
    service, problems = load_manifest(text)
    assert (service is None) == bool(problems)
    if service is None:
        with pytest.raises(ManifestError) as caught:
            load_service(text)
        assert caught.value.problems == problems
    else:
        assert load_service(text).id == service.id


@pytest.mark.skipif(not WORKFLOWS, reason="no workflow fixtures yet")
@FUZZ
@given(text=mutated(WORKFLOWS or MANIFESTS))
def test_workflow_validator_reports_problems_for_mutated_workflows(
    text: str, examples: Counter
) -> None:
    examples()
    _validate_text(text)
    outcome: Workflow | WorkflowError
    try:
        outcome = load_workflow(text, file="fuzz.yaml", services=installed_services())
    except WorkflowError as exc:
        outcome = exc
    if isinstance(outcome, WorkflowError):
        assert outcome.problems, "an invalid workflow file names its problems"
    else:
        assert outcome.steps


@FUZZ
@given(text=st.text(max_size=200) | st.lists(st.sampled_from(
    ["{{", "}}", " ", "name", ".", "0", "a.b", "{", "}", "-", "x"]), max_size=30).map("".join),
       values=st.dictionaries(st.sampled_from(["name", "x", "a", "a.b"]), json_scalars))
def test_template_parser_and_renderer_raise_only_their_errors(
    text: str, values: dict[str, Any], examples: Counter
) -> None:
    examples()
    try:
        template = parse_template(text)
    except TemplateSyntaxError:
        return
    try:
        rendered = template.render(values)
    except KeyError as exc:
        assert exc.args[0] in template.names  # noqa: PT017
        return
    assert isinstance(rendered, str)


URL_TEMPLATES = [
    ("https://{{shop}}/admin/oauth/access_token", ["*.myshopify.com"]),
    ("https://{{tenant}}.acme.example/oauth/token", ["*.acme.example"]),
    ("https://{{shop}}/admin/api/{{version}}/graphql.json", ["*.myshopify.com"]),
    ("https://api.twitch.tv/helix/users/{{id}}", ["api.twitch.tv"]),
    ("https://api.example.com/v1?x={{q}}", ["api.example.com"]),
]
url_values = st.text(max_size=60) | st.lists(st.sampled_from(
    ["my-store", ".", "myshopify.com", "evil.com", "/", "@", ":", "%2F", "\\", "#", "?",
     "\r\n", "xn--", "\uff0e", "127.0.0.1", "[::1]", "a" * 63, "-", "..", " "]),
    max_size=8).map("".join)


@FUZZ
@given(case=st.sampled_from(URL_TEMPLATES), values=st.dictionaries(
    st.sampled_from(["shop", "tenant", "version", "id", "q"]),
    url_values | st.integers() | st.booleans() | st.none(), min_size=0, max_size=5))
def test_render_url_refuses_or_renders_an_allowed_https_url(
    case: tuple[str, list[str]], values: dict[str, Any], examples: Counter
) -> None:
    examples()
    template, allowed = case
    try:
        url = render_url(template, values, service="fuzz", url_name="token_url",
                         allowed_hosts=allowed)
    except NetworkPolicyError:
        return
    assert url.scheme == "https"
    assert host_allowed(url.host, allowed), str(url)


@FUZZ
@given(template=st.text(max_size=120), values=st.dictionaries(st.text(max_size=8),
                                                              url_values, max_size=3))
def test_render_url_on_arbitrary_template_text(
    template: str, values: dict[str, Any], examples: Counter
) -> None:
    examples()
    try:
        url = render_url(template, values, service="fuzz", url_name="base_url",
                         allowed_hosts=["*.example.com"])
    except (NetworkPolicyError, TemplateSyntaxError):
        return
    assert url.scheme == "https"


CTX = ResponseContext(service="fuzz", authentication="main", default_token_type="bearer",
                      redact=(SECRET,), requested_scopes=("read",))
token_bodies = st.fixed_dictionaries({}, optional={
    "access_token": json_values | st.text(min_size=1, max_size=30),
    "token_type": st.sampled_from(["bearer", "Bearer", "mac", "", "BEARER"]) | json_values,
    "expires_in": st.integers() | st.floats() | st.text(max_size=12) | json_values,
    "scope": st.text(max_size=30) | st.lists(st.text(max_size=8)) | json_values,
    "error": st.sampled_from(["invalid_client", "", "server_error"]) | json_values,
    "error_description": st.just(f"echo {SECRET}") | json_values,
}).map(lambda fields: json.dumps(fields).encode())


@FUZZ
@given(status=st.sampled_from([200, 201, 203, 299]),
       content_type=st.sampled_from([None, "application/json", "text/html", "text/plain"]),
       body=token_bodies | st.binary(max_size=300))
def test_token_response_parser_raises_only_token_response_errors(
    status: int, content_type: str | None, body: bytes, examples: Counter
) -> None:
    examples()
    try:
        grant = parse_token_response(status, content_type, body, CTX)
    except TokenResponseError as error:
        assert SECRET not in str(error)  # noqa: PT017
        return
    assert grant.access_token.reveal()
    assert 0 <= grant.expires_in <= CTX.max_lifetime
    assert SECRET not in repr(grant)


@FUZZ
@given(status=st.integers(300, 599),
       content_type=st.sampled_from([None, "application/json", "text/html", "text/plain"]),
       body=token_bodies | st.binary(max_size=300) | st.text(max_size=300).map(
           lambda t: f"<html><title>{t} {SECRET}</title></html>".encode()))
def test_endpoint_error_never_raises_and_never_shows_the_secret(
    status: int, content_type: str | None, body: bytes, examples: Counter
) -> None:
    examples()
    error = endpoint_error(status, content_type, body, CTX)
    assert error.status == status
    assert SECRET not in str(error)
    assert len(str(error)) < 1000


# -- defects found by fuzzing in modules this suite may not fix --------------------------------

REQUIRED_LIST_ITEM = """\
manifest_version: 1
service: {id: acme, title: Acme, version: 1.0.0, description: d}
parameters:
  type: object
  properties:
    client_id: {type: string}
    client_secret: {type: string, secret: true}
auth:
  grant: client_credentials
  token_url: https://api.acme.example/oauth/token
  client_id: '{{ client_id }}'
  client_secret: '{{ client_secret }}'
  headers: {Authorization: 'Bearer {{ access_token }}'}
allowed_hosts: [api.acme.example]
base_url: https://api.acme.example
operations:
  op:
    title: t
    description: d
    input: {type: object, required: [[]], properties: {}}
    request: {method: GET, path: /x}
"""


def test_operation_input_required_holding_a_list_is_a_problem_not_a_crash(figures) -> None:
    doc, problems = load_yaml(REQUIRED_LIST_ITEM, "fuzz.yaml")
    assert doc is not None
    assert validate_document(doc).problems


HEADER_PROBLEMS = {
    "contains a line break (CR or LF), which would end the header",
    "contains a NUL character",
    "contains a control character",
    "contains non-ASCII text; header values must be ASCII",
    "starts or ends with whitespace",
}
HEADER_BITS = ["\r", "\n", "\x00", "\t", " ", "\x1b", "\x7f", "é", "\u2028", "a", "Z", "=", ";"]


@FUZZ
@given(value=st.text(max_size=60) | st.lists(st.sampled_from(HEADER_BITS), max_size=20).map(
    "".join))
def test_header_values_are_refused_where_they_enter_or_safe_to_send(
    value: str, examples: Counter
) -> None:
    """Header rendering (issue 10.8): a value the one header check accepts is one the HTTP
    library sends as it is (h11 serialises it, unchanged); a token the provider sends is
    either refused as a TokenResponseError that never quotes it, or passes that check."""
    import h11

    from connector_sdk._http.headers import header_value_problem

    examples()
    problem = header_value_problem(value)
    if problem is None:
        connection = h11.Connection(h11.CLIENT)
        data = connection.send(h11.Request(method="GET", target="/",
                                           headers=[("Host", "a"), ("X-Value", value)]))
        assert f"X-Value: {value}\r\n".encode("ascii") in (data or b"")
    else:  # one of the check's fixed phrases: never the value itself
        assert problem in HEADER_PROBLEMS
    body = json.dumps({"access_token": value + SECRET, "expires_in": 60}).encode()
    try:
        grant = parse_token_response(200, "application/json", body, CTX)
    except TokenResponseError as error:
        assert SECRET not in str(error)  # noqa: PT017
        return
    assert header_value_problem(grant.access_token.reveal()) is None
