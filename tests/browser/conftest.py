"""Real headless Chromium for the browser tests: Debian's ``/usr/bin/chromium`` driven by
Playwright's Python client through ``executable_path`` (no browser is ever downloaded).

Fixtures:

* ``chromium``: a Playwright ``Browser`` for each test module (headless, the flags below; each
  ``new_context()`` is a fresh profile, so nothing is shared between tests).
* ``artifacts_dir``: where a test keeps screenshots. ``$CONNECTOR_SDK_TEST_ARTIFACTS/browser``
  when that variable is set (CI keeps the directory), else a pytest temporary directory.

Without Chromium or Playwright the tests are skipped with the install commands, except under
``CONNECTOR_SDK_REQUIRE_SERVICES=1`` (CI), where a missing browser fails them: CI must never
skip them.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
INSTALL = ("install chromium: `bash scripts/services install` (Debian's chromium package) and "
           "`pip install 'connector-sdk[browser]'` (Playwright's Python client; never "
           "`playwright install`)")


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is not installed"
    return None


# Module scope, not session: while sync Playwright runs, its event loop is the running loop
# of the main thread, so every later test calling asyncio.run() would fail.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright (a ``playwright.sync_api.Browser``)."""
    missing = _missing()
    if missing is not None:
        if os.environ.get("CONNECTOR_SDK_REQUIRE_SERVICES", "").strip() == "1":
            pytest.fail(f"CONNECTOR_SDK_REQUIRE_SERVICES=1 but {missing}; {INSTALL}")
        pytest.skip(f"{missing}; {INSTALL}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory for screenshots that outlives the test when CI names one."""
    configured = os.environ.get("CONNECTOR_SDK_TEST_ARTIFACTS", "").strip()
    if not configured:
        return tmp_path_factory.mktemp("browser-artifacts")
    directory = Path(configured) / "browser"
    directory.mkdir(parents=True, exist_ok=True)
    return directory
