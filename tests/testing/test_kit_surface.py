"""The kit's packaging promises: a pytest plugin through the entry point, never imported by
``import connector_sdk``, every public name resolving, fixtures working without a conftest."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest

import connector_sdk.testing as kit

pytest_plugins = ["pytester"]


def test_the_plugin_is_registered_through_pytest11() -> None:
    found = [ep for ep in entry_points(group="pytest11") if ep.name == "connector_sdk"]
    assert [ep.value for ep in found] == ["connector_sdk.testing.pytest_plugin"]


def test_importing_the_sdk_imports_neither_the_kit_nor_pytest() -> None:
    code = ("import sys, connector_sdk; connector_sdk.Runtime;"
            " print(sorted(m for m in sys.modules"
            " if m.startswith(('connector_sdk.testing', 'pytest', '_pytest'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_the_kit_servers_need_no_pytest() -> None:
    code = ("import sys, connector_sdk.testing as k; s = k.LoopbackServer(); s.close();"
            " k.TokenServer().close(); print('pytest' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_all_is_sorted_and_resolves() -> None:
    def isort_style(name: str) -> tuple[int, str]:  # constants, classes, then functions
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert kit.__all__ == sorted(kit.__all__, key=isort_style)
    for name in kit.__all__:
        assert getattr(kit, name) is not None, name


def test_every_fixture_works_in_a_project_without_conftest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_fixtures="""
import httpx

def test_all(sdk_runtime, make_sdk_runtime, sdk_home, local_server, token_server,
             api_server, fake_clock, canary, emulator):
    assert sdk_runtime.config.home == sdk_home
    assert make_sdk_runtime().config.home != sdk_home
    api_server.route("GET", "/v1/ping", json={"pong": True})
    token = token_server.issue()
    answer = httpx.get(api_server.url + "/v1/ping", headers={"Authorization": "Bearer " + token})
    assert answer.json() == {"pong": True}
    assert token_server.url.startswith(local_server.url)
    fake_clock.advance(5)
    assert fake_clock() == 1_750_000_005.0
    twitch = emulator("twitch", clock=fake_clock)
    assert twitch.serves("api.twitch.tv")
""")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_plugin_can_be_disabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_off="def test_it(local_server):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:connector_sdk", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'local_server' not found*"])
