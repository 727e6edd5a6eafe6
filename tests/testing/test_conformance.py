"""The conformance suite itself: a sound connector passes every check with nothing but
declared responses (no emulator), and each kind of fault fails the check named for it."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

MANIFEST = '''\
manifest_version: 1
service: {id: acme, title: Acme, version: 1.0.0, description: A made-up tenant API.}
parameters:
  type: object
  required: [tenant, client_id, client_secret]
  properties:
    tenant: {type: string, pattern: '^[a-z0-9-]{1,40}$', examples: [demo]}
    client_id: {type: string}
    client_secret: {type: string, secret: true}
auth:
  grant: client_credentials
  token_url: https://{{ tenant }}.acme.example/oauth/token
  client_authentication: client_secret_basic
  client_id: '{{ client_id }}'
  client_secret: '{{ client_secret }}'
  headers: {Authorization: 'Bearer {{ access_token }}'}
allowed_hosts: ['*.acme.example']
base_url: https://{{ tenant }}.acme.example/api/v1
operations:
  list_items:
    title: List items
    description: Every item.
    input: {type: object, properties: {tag: {type: string}}}
    request: {method: GET, path: /items, query: {tag: '{{ tag }}'}}
  get_item:
    title: Get an item
    description: One item.
    input: {type: object, required: [id], properties: {id: {type: string}}}
    output: {type: object, required: [id]}
    request: {method: GET, path: '/items/{{ id }}'}
'''

MODULE = '''
import logging
from connector_sdk import hookimpl
from connector_sdk.testing import ConnectorConformance

MANIFEST = {manifest!r}

class Plugin:
    @hookimpl
    def register_services(self, register):
        register(MANIFEST)
{extra_plugin}

class TestAcmeConformance(ConnectorConformance):
    service_id = "acme"
    plugin = Plugin()
    inputs = {inputs}
    responses = {{"list_items": {{"items": []}}, "get_item": {{"id": "7"}}}}
    routes = {{"GET /things/7": {{"id": "7"}}}}
'''


def run(pytester: pytest.Pytester, *, inputs: str = '{"get_item": {"id": "7"}}',
        extra_plugin: str = "", manifest: str = MANIFEST) -> pytest.RunResult:
    pytester.makepyfile(test_acme=MODULE.format(manifest=manifest, inputs=inputs,
                                                extra_plugin=textwrap.indent(extra_plugin, "    ")))
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rfs", "-o",
                                         "log_level=DEBUG")


def test_a_sound_host_parameterized_connector_passes_every_check(
    pytester: pytest.Pytester,
) -> None:
    result = run(pytester)
    result.assert_outcomes(passed=9, skipped=1)  # a manifest registered as text: no file
    assert "was not read from a file" in result.stdout.str()


def test_a_missing_example_input_fails_its_operation(pytester: pytest.Pytester) -> None:
    result = run(pytester, inputs="{}")
    result.assert_outcomes(passed=8, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*test_operation_runs?get_item?*",
                                 "*requires id: give an example in inputs*"])


def test_a_handler_that_logs_the_secret_fails(pytester: pytest.Pytester) -> None:
    manifest = MANIFEST.replace(
        "    request: {method: GET, path: '/items/{{ id }}'}\n", "    handler: get_item\n")
    handler = '''
@hookimpl
def register_operation_handlers(self, register):
    async def get_item(context, values):
        secret = context.authentication.parameters["client_secret"].reveal()
        logging.getLogger("acme").info("calling with %s", secret)
        answer = await context.client.get("/things/" + values["id"])
        return answer.json()
    register("acme.get_item", get_item)
'''
    result = run(pytester, manifest=manifest, extra_plugin=handler)
    result.stdout.fnmatch_lines(["*test_operation_runs?get_item*",
                                 "*a canary secret leaked into: Captured log call*"])
    result.assert_outcomes(passed=8, failed=1, skipped=1)
