"""The project's tests use the public test kit, ``connector_sdk.testing``.

Its pytest plugin is registered through the ``pytest11`` entry point of this distribution
(``pip install -e .`` registers it), so ``canary``, ``make_canary``, ``fake_clock``,
``local_server``, ``token_server``, ``api_server``, ``emulator``, ``cassette``,
``sdk_runtime`` and ``make_sdk_runtime`` are available in every test here, exactly as in a
connector author's tests (docs/testing.md). Test directories add their own fixtures in their
own ``conftest.py``, built from the kit's classes.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("connector_sdk"):
        raise pytest.UsageError(
            "the connector_sdk.testing pytest plugin is not loaded: install the project with"
            " `pip install -e .[test]` (it registers the plugin's entry point), and do not"
            " disable it with -p no:connector_sdk")
