"""jsonschema-rs decides valid/invalid first, jsonschema phrases the problems: the two must
agree, or a problem would be lost (rs says valid) or a message be missing (rs says invalid).
Checked on every fixture and shipped manifest; tests/reliability/test_fuzz_schemas.py checks
the direction that matters on generated schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connector_sdk._manifest.embedded import _fast_meta_validator, _meta_validator
from connector_sdk._manifest.keywords import subschemas
from connector_sdk._manifest.package import fast_is_valid, fast_validator
from connector_sdk._manifest.reader import read_yaml_file
from connector_sdk._manifest.schemas import validator

ROOT = Path(__file__).parents[2]
DOCUMENTS = sorted([*ROOT.glob("tests/manifest/fixtures/*/*.yaml"),
                    *ROOT.glob("tests/workflows/fixtures/*/*.yaml"),
                    *ROOT.glob("connectors/*/connector_*/*.yaml")])


def embedded(data: Any) -> list[Any]:
    found = [data.get("parameters")]
    for operation in (data.get("operations") or {}).values():
        if isinstance(operation, dict):
            found += [operation.get("input"), operation.get("output")]
    return [s for s in found if isinstance(s, dict)]


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_both_engines_agree_on_the_document_and_its_embedded_schemas(path: Path) -> None:
    doc, _ = read_yaml_file(path)
    if doc is None or not isinstance(doc.data, dict):
        pytest.skip("not a mapping: never reaches the schemas")
    name = "workflow" if "workflow_version" in doc.data else "manifest"
    slow = not any(True for _ in validator(name).iter_errors(doc.data))
    assert fast_is_valid(fast_validator(name), doc.data) == slow
    if name == "manifest":
        for schema in embedded(doc.data):
            for _, sub in subschemas(schema):
                slow = not any(True for _ in _meta_validator().iter_errors(sub))
                assert fast_is_valid(_fast_meta_validator(), sub) == slow, sub
