"""The Python, packaging, README and test files of a new connector (``connector-sdk new``)."""

from __future__ import annotations

import json

__all__ = ["package_files"]


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))


def package_files(name: str, title: str, *, example_parameters: dict[str, str],
                  example_host: str, token_path: str, base_path: str) -> dict[str, str]:
    """Everything but the manifest, for service ``name`` titled ``title``."""
    from .._version import __version__

    package = "connector_" + name.replace("-", "_")
    distribution = "connector-" + name
    params = {**example_parameters, "client_id": "my-client"}
    params_literal = json.dumps(params)
    return {
        "pyproject.toml": f"""\
[build-system]
requires = ["hatchling>=1.21"]
build-backend = "hatchling.build"

[project]
name = "{distribution}"
version = "0.1.0"
description = {json.dumps(f"{title} connector for connector-sdk.")}
requires-python = ">=3.11"
dependencies = ["connector-sdk>={__version__}"]

[project.optional-dependencies]
test = ["connector-sdk[testing]>={__version__}"]

# connector-sdk finds the plugin through this entry point (docs/plugin-hooks.md).
[project.entry-points.connector_sdk]
{name} = "{package}"

[tool.hatch.build.targets.wheel]
packages = ["{package}"]

[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = "--import-mode=importlib"
""",
        f"{package}/__init__.py": f'''\
"""{title} for connector-sdk: registers the ``{name}`` service manifest."""

from __future__ import annotations

from importlib.resources import files

import connector_sdk


@connector_sdk.hookimpl
def register_services(register: connector_sdk.ServiceRegistrar) -> None:
    register(files(__package__) / "{name}.yaml")
''',
        "README.md": f"""\
# {title} connector for connector-sdk

The `{name}` service: an OAuth2 client-credentials API, described by
[`{package}/{name}.yaml`]({package}/{name}.yaml) and registered with connector-sdk through the
`connector_sdk` entry point in `pyproject.toml`.

```console
$ pip install -e ".[test]"            # the connector, connector-sdk and its test kit
$ connector-sdk validate .            # check the manifest
$ pytest                              # the conformance suite and the tests in tests/
$ connector-sdk docs {name}           # the service's reference page, in Markdown
```

Run it against a local server during development: every request (token endpoint included)
goes to a server on 127.0.0.1 instead of the real hosts, with its real URL and `Host` header
kept, so the manifest is not edited:

```console
$ connector-sdk auth create {name} --name dev \\
    {" ".join(f"--param {k}={v}" for k, v in params.items())} --param client_secret=@env:SECRET
$ connector-sdk call {name}.list_items --auth dev --local-server http://127.0.0.1:8080
```

Tests use connector-sdk's test kit (`connector_sdk.testing`): a token server and an API on
loopback, fake clocks, canary secrets, and `ConnectorConformance`, the standard checks every
connector should pass.
""",
        "tests/test_" + name.replace("-", "_") + ".py": f'''\
"""Tests of the {title} connector with connector-sdk's test kit."""

from __future__ import annotations

from connector_sdk import call_operation_sync
from connector_sdk.testing import APIServer, ConnectorConformance, TokenServer

PARAMETERS = {params_literal}


class Test{_camel(name)}Conformance(ConnectorConformance):
    """The standard checks: manifest, operations, tokens, 401 refresh, Retry-After, leaks."""

    service_id = "{name}"
    parameters = PARAMETERS
    responses = {{"list_items": {{"items": [{{"id": "1"}}]}}}}


def test_list_items_fetches_one_token_and_reads_the_api(make_sdk_runtime, local_server, canary):
    # The kit's token server and API stand where the manifest's URLs point, on one loopback
    # server; the runtime is routed there with the real URLs kept (a local server).
    tokens = TokenServer(local_server, path="{token_path}", host="{example_host}",
                         clients={{"my-client": canary}})
    api = APIServer(local_server, tokens=tokens, host="{example_host}", prefix="{base_path}")
    api.route("GET", "/items", json={{"items": [{{"id": "1"}}, {{"id": "2"}}]}})
    runtime = make_sdk_runtime(local_server=local_server)
    auth = runtime.authentication("{name}", {{**PARAMETERS, "client_secret": canary}})

    output = call_operation_sync(runtime, "{name}.list_items", auth, {{"limit": 2}})

    assert output == {{"items": [{{"id": "1"}}, {{"id": "2"}}]}}
    assert api.requests("/items")[0].query == {{"limit": "2"}}
    assert tokens.count == 1
''',
        ".gitignore": "__pycache__/\n*.egg-info/\n.pytest_cache/\nbuild/\ndist/\n",
    }
