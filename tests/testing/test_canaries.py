"""The kit's canary fixture itself: a test that leaks its canary must fail, and one that does
not must pass. Each case runs in a fresh pytest process whose only connector-sdk fixtures are
those of the installed plugin (no conftest), as in a connector author's project."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


@pytest.mark.parametrize(("body", "outcome"), [
    ("print(canary)", "failed"),
    ("import sys; sys.stderr.write(canary)", "failed"),
    ("import logging; logging.getLogger('x').debug('value %s', canary)", "failed"),
    ("raise ValueError(f'bad {canary}')", "failed"),
    ("second = make_canary('token'); print(second)", "failed"),
    ("print('no secret here'); assert canary", "passed"),
])
def test_a_leaked_canary_fails_the_test(pytester: pytest.Pytester, body: str, outcome: str) -> None:
    pytester.makepyfile(test_leak=f"def test_it(canary, make_canary):\n    {body}\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-o", "log_level=DEBUG")
    result.assert_outcomes(**{outcome: 1})
    if outcome == "failed":
        result.stdout.fnmatch_lines(["*a canary secret leaked into*"])
        assert "canary-" not in result.stdout.str()
        assert "token-" not in result.stdout.str()


def test_a_leak_in_a_fixture_teardown_fails_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_leak="""
import pytest

@pytest.fixture
def noisy(canary):
    yield canary
    print("closing with", canary)

def test_it(noisy):
    assert noisy
""")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    assert "canary-" not in result.stdout.str()
