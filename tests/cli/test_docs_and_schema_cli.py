"""``connector-sdk docs`` renders a service's reference page from its manifest (installed or a
file); ``connector-sdk schema`` prints the packaged JSON Schemas with the dialect's URL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from connector_sdk import load_service
from connector_sdk.cli import main
from connector_sdk.testing.emulators import installed_services

ROOT = Path(__file__).parents[2]
ACME = ROOT / "tests" / "manifest" / "fixtures" / "valid" / "acme.yaml"


def docs(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["docs", *args]) == 0
    return capsys.readouterr().out


def _tables_are_well_formed(page: str) -> None:
    for block in re.findall(r"(?:^\|.*\|\n)+", page, re.M):
        widths = {len(re.findall(r"(?<!\\)\|", row)) for row in block.splitlines()}
        assert len(widths) == 1, block


@pytest.mark.parametrize("service_id", ["twitch", "shopify"])
def test_an_installed_service_page_covers_every_part_of_its_manifest(
    capsys: pytest.CaptureFixture[str], service_id: str,
) -> None:
    service = installed_services().get(service_id)
    page = docs(capsys, service_id)
    assert page.startswith(f"# {service.title}\n")
    for heading in ("## Authentication", "## Hosts", "## Operations", "## Rate limits"):
        assert f"\n{heading}\n" in page
    assert f"`{service.auth.token_url.source}`" in page
    assert service.base_url.source in page
    for host in service.allowed_hosts:
        assert f"`{host}`" in page
    for spec in service.parameters:
        row = next(line for line in page.splitlines() if line.startswith(f"| `{spec.name}` |"))
        assert ("| **yes** |" in row) == spec.secret
    for operation in service.operations.values():
        assert f"### `{service_id}.{operation.id}`: " in page
        if operation.raw.get("rate_limit"):
            assert f"- Rate limit: `{operation.raw['rate_limit']}`" in page
    _tables_are_well_formed(page)


def test_a_manifest_file_is_rendered_before_it_is_installed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    page = docs(capsys, str(ACME))
    service = load_service(ACME)
    assert page.startswith("# Acme API\n")
    assert "- Scopes requested: `read write`" in page
    assert "- Client authentication: `client_secret_basic`" in page
    assert "enum `[\"eu\", \"us\"]`; default `eu`" in page
    assert "This service declares no operations." in page
    assert service.id == "acme"
    out = tmp_path / "acme.md"
    assert main(["docs", str(ACME), "--output", str(out)]) == 0
    assert out.read_text() == page
    assert f"wrote the reference page of 'acme' to {out}" in capsys.readouterr().err


def test_an_invalid_manifest_or_unknown_service_is_an_error_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(ACME.read_text().replace("token_url: https://", "token_url: http://"))
    assert main(["docs", str(broken)]) == 1
    assert "broken.yaml:26:14: URL-NOT-HTTPS" in capsys.readouterr().err
    assert main(["docs", "twich"]) == 1
    assert "twitch" in capsys.readouterr().err  # did you mean
    assert main(["docs", str(tmp_path / "absent.yaml")]) == 2
    assert "no such manifest file" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["manifest", "workflow", "redirects", "connect-page"])
def test_schema_prints_the_packaged_schema_with_the_dialect_url(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str,
) -> None:
    assert main(["schema", kind]) == 0
    printed = capsys.readouterr().out
    data = json.loads(printed)
    assert next(iter(data)) == "$schema"
    assert data["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(data)
    shipped = json.loads((ROOT / "schemas" / f"{kind}.schema.json").read_text())
    assert data == shipped
    out = tmp_path / "nested" / f"{kind}.json"
    assert main(["schema", kind, "-o", str(out)]) == 0
    assert out.read_text() == printed


def test_the_printed_manifest_schema_accepts_the_shipped_manifests(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import yaml

    assert main(["schema", "manifest"]) == 0
    validator = jsonschema.Draft202012Validator(json.loads(capsys.readouterr().out))
    for service_id in ("twitch", "shopify"):
        document = yaml.safe_load(Path(installed_services().get(service_id).source).read_text())
        assert list(validator.iter_errors(document)) == []
