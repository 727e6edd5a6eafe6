"""The canary fixture itself: a test that leaks its canary must fail, and one that does not
must pass. Run in a fresh pytest process with a copy of our conftest."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).parent / "conftest.py").read_text()


@pytest.mark.parametrize(("body", "outcome"), [
    ("print(canary)", "failed"),
    ("import logging; logging.getLogger('x').debug('value %s', canary)", "failed"),
    ("raise ValueError(f'bad {canary}')", "failed"),
    ("print('no secret here'); assert canary", "passed"),
])
def test_a_leaked_canary_fails_the_test(pytester: pytest.Pytester, body: str, outcome: str) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_leak=f"def test_it(canary):\n    {body}\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-o", "log_level=DEBUG")
    result.assert_outcomes(**{outcome: 1})
    if outcome == "failed":
        result.stdout.fnmatch_lines(["*a canary secret leaked into*"])
        assert "canary-" not in result.stdout.str()
