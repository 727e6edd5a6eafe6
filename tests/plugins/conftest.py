"""A third-party connector distribution, built from source and pip-installed into its own
directory, for tests that must see real entry points (as a user's installed plugin is seen).

The distribution ``connector-sdk-scratch`` holds four plugins:

* ``scratch``: the service ``scratch`` and its own emulator, registered through
  ``register_emulators`` and written with ``connector_sdk.sandbox`` as its docs say;
* ``plain``: the service ``plain`` and no emulator;
* ``typo``: a misspelt ``register_service`` hook (it must fail to load, by name);
* ``broken``: a module that fails to import.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ACME = (Path(__file__).parents[1] / "manifest" / "fixtures" / "valid" / "acme.yaml").read_text()

SCRATCH_PYPROJECT = """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "connector-sdk-scratch"
version = "0.0.1"

[project.entry-points.connector_sdk]
scratch = "connector_scratch"
plain = "connector_plain"
typo = "connector_typo"
broken = "connector_broken"

[tool.hatch.build.targets.wheel]
packages = ["connector_scratch", "connector_plain", "connector_typo", "connector_broken"]
"""

SCRATCH_MANIFEST = """
manifest_version: 1
service:
  id: scratch
  title: Scratch API
  version: 1.0.0
  description: A third-party service whose connector ships its own emulator.
parameters:
  type: object
  required: [client_id, client_secret]
  properties:
    client_id: {type: string, minLength: 1}
    client_secret: {type: string, secret: true, minLength: 1}
auth:
  grant: client_credentials
  token_url: https://auth.scratch.example/oauth/token
  client_authentication: client_secret_post
  client_id: '{{ client_id }}'
  client_secret: '{{ client_secret }}'
  headers:
    Authorization: 'Bearer {{ access_token }}'
allowed_hosts: [auth.scratch.example, api.scratch.example]
base_url: https://api.scratch.example/v1
operations:
  list_items:
    title: List items
    description: Every item, in one page.
    input: {type: object, additionalProperties: false, properties: {}}
    request:
      method: GET
      path: /items
"""

#: The emulator as docs/plugin-hooks.md tells a connector author to write one.
SCRATCH_EMULATOR = '''
from connector_sdk.sandbox import SandboxBase, TokenRecord, json_response, read_form

CLIENT_ID, CLIENT_SECRET = "sbx-scratch-client", "sbx-scratch-secret"


class ScratchSandbox(SandboxBase):
    name = "scratch"

    def __init__(self, *, items=3, clock=None):
        super().__init__(clock=clock)
        self.items = items

    @property
    def hosts(self):
        return ("auth.scratch.example", "api.scratch.example")

    def serves(self, host):
        return host in self.hosts

    def parameters(self):
        return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}

    def handle(self, request):
        with self.lock:
            if request.url.host == "auth.scratch.example":
                self.count_request(request, token=True)
                form = read_form(request) or {}
                if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID,
                                                                         CLIENT_SECRET):
                    return json_response(401, {"error": "invalid_client"})
                record = TokenRecord(CLIENT_ID, expires_at=self.clock() + 3600)
                return json_response(200, {"access_token": self.mint_token(record),
                                           "token_type": "Bearer", "expires_in": 3600})
            self.count_request(request, api=True)
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            found = self.find_token(token)
            if found is None or not found.valid_at(self.clock()):
                return json_response(401, {"error": "invalid_token"})
            return json_response(200, {"items": [{"id": n} for n in range(self.items)]})
'''


@pytest.fixture(scope="session")
def scratch_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scratch distribution installed with pip into a directory of its own."""
    src = tmp_path_factory.mktemp("scratch-src")
    (src / "pyproject.toml").write_text(SCRATCH_PYPROJECT)
    scratch = src / "connector_scratch"
    scratch.mkdir()
    (scratch / "scratch.yaml").write_text(SCRATCH_MANIFEST)
    (scratch / "emulator.py").write_text(SCRATCH_EMULATOR)
    (scratch / "__init__.py").write_text(textwrap.dedent("""
        from importlib.resources import files
        import connector_sdk

        @connector_sdk.hookimpl
        def register_services(register):
            register(files(__package__) / "scratch.yaml")

        @connector_sdk.hookimpl
        def register_emulators(register):
            def factory(**options):
                from .emulator import ScratchSandbox
                return ScratchSandbox(**options)
            register("scratch", factory)
    """))
    # plain: a service and no emulator; typo: the hook name misspelt (no "s")
    for name, hook in (("plain", "register_services"), ("typo", "register_service")):
        package = src / f"connector_{name}"
        package.mkdir()
        (package / f"{name}.yaml").write_text(ACME.replace("id: acme", f"id: {name}"))
        (package / "__init__.py").write_text(textwrap.dedent(f"""
            from importlib.resources import files
            import connector_sdk

            @connector_sdk.hookimpl
            def {hook}(register):
                register(files(__package__) / "{name}.yaml")
        """))
    broken = src / "connector_broken"
    broken.mkdir()
    (broken / "__init__.py").write_text("import a_module_that_does_not_exist\n")
    site = tmp_path_factory.mktemp("scratch-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(src)],
        check=True, timeout=300, capture_output=True,
    )
    return site


def scratch_cli(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``connector-sdk ARGS`` in a subprocess that sees the scratch distribution installed."""
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    environ = dict(os.environ, PYTHONPATH=path, **env)
    return subprocess.run([sys.executable, "-m", "connector_sdk.cli", *args], env=environ,
                          capture_output=True, text=True, timeout=120, check=False)
