"""The JSON Schemas that ship inside the package: their data, registry and fast validators.

The schemas are package data (``connector_sdk/schemas/*.json``), so an installed SDK validates
without the repository; the repository's top-level ``schemas/`` holds the same files for
editors (a test checks they are identical). Everything here is cached per process: it holds
package data only, never a manifest's content.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

__all__ = ["SCHEMA_NAMES", "fast_is_valid", "fast_validator", "package_registry",
           "refuse_retrieval", "schema"]

SCHEMA_NAMES = ("manifest", "workflow")


@cache
def schema(name: str) -> dict[str, Any]:
    """The parsed schema ``name`` (``manifest`` or ``workflow``) from package data."""
    text = files("connector_sdk").joinpath("schemas", f"{name}.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def refuse_retrieval(uri: str) -> Any:
    """A ``referencing`` retrieve function that refuses every URI: nothing is ever fetched."""
    from referencing.exceptions import NoSuchResource

    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]


@cache
def package_registry() -> Any:
    """A ``referencing`` registry of the package's own schemas that never retrieves anything."""
    from referencing import Registry, Resource

    resources = []
    for name in SCHEMA_NAMES:
        try:
            contents = schema(name)
        except FileNotFoundError:
            continue
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry(retrieve=refuse_retrieval).with_resources(resources)  # type: ignore[call-arg]


@cache
def fast_validator(name: str) -> Any:
    """jsonschema-rs for package schema ``name``: offline, linear-time regexes, built once."""
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(schema(name), offline=True,
                                              pattern_options=jsonschema_rs.RegexOptions())


def fast_is_valid(validator: Any, instance: Any) -> bool:
    """Whether a jsonschema-rs ``validator`` accepts ``instance``; ``False`` (so jsonschema
    decides, and phrases) when it cannot read the instance (a non-string key, bytes)."""
    try:
        return bool(validator.is_valid(instance))
    except (ValueError, TypeError, OverflowError):
        return False
