"""Fixtures every test may use.

``canary`` hands out a unique fake secret. Any test that took one fails if the canary shows
up in what pytest captured for it: stdout, stderr, log records at DEBUG, or the exception and
traceback it failed with. Tests that read output themselves (capsys, CliRunner-like helpers)
check what they read with ``assert_no_canary``.
"""

from __future__ import annotations

import secrets

import pytest

_CANARIES = pytest.StashKey[list[str]]()


def assert_no_canary(text: str, *canaries: str) -> None:
    """Fail, without printing the canary, if any canary occurs in ``text``."""
    for value in canaries:
        assert value not in text, "a canary secret leaked into the checked text"


@pytest.fixture
def canary(request: pytest.FixtureRequest) -> str:
    """A fresh fake secret value; the test fails if it leaks into captured output."""
    value = "canary-" + secrets.token_hex(12)
    request.node.stash.setdefault(_CANARIES, []).append(value)
    return value


@pytest.fixture
def make_canary(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """A factory of canaries, for tests that need several (secret and token)."""

    def make(prefix: str = "canary") -> str:
        value = f"{prefix}-" + secrets.token_hex(12)
        request.node.stash.setdefault(_CANARIES, []).append(value)
        return value

    return make


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    canaries = item.stash.get(_CANARIES, [])
    if not canaries:
        return report
    # each phase's report repeats the earlier phases' sections: judge only its own
    sections = [(name, content) for name, content in report.sections
                if name.endswith(f" {report.when}")]
    if report.longrepr is not None:
        sections.append(("exception", str(report.longrepr)))
    leaked = [name for name, content in sections if any(value in content for value in canaries)]
    if leaked:
        report.outcome = "failed"
        report.longrepr = (
            f"a canary secret leaked into: {', '.join(sorted(set(leaked)))} "
            "(the secret itself is not shown)"
        )
        report.sections = []
    return report
