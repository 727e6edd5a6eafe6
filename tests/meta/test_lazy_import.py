"""``import connector_sdk`` is cheap: it loads none of the heavy dependencies, so
``connector-sdk --version`` and a plugin's ``import connector_sdk`` pay no import floor."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("httpx", "jsonschema", "referencing", "yaml")


def test_importing_the_package_loads_no_heavy_dependency() -> None:
    code = ("import sys, connector_sdk; "
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.strip() == ""


def test_every_public_name_still_resolves_on_first_use() -> None:
    code = ("import connector_sdk; "
            "missing = [n for n in connector_sdk.__all__"
            " if getattr(connector_sdk, n, None) is None]; "
            "print(' '.join(missing))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.strip() == ""
