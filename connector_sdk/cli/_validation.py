"""``connector-sdk validate``'s engine: which files to check, and their problems.

Results are kept apart from reporting (``cli/_reporters.py``). A file named on the command
line is always checked; a file found by recursing into a directory is checked only when it
declares ``manifest_version``, ``workflow_version`` or ``redirects_version`` (a redirect
configuration, docs/redirects.md) at its top level, so a repository's other YAML (CI
configs, pre-commit) is not reported as a broken manifest.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .._problems import Problem

if TYPE_CHECKING:
    from .._manifest.model import Service
    from .._plugins.registry import ServiceRegistry
from .._manifest.reader import MAX_FILE_BYTES, Document, read_yaml_file

__all__ = ["FileResult", "discover", "validate_document", "validate_paths"]

_KIND_LINE = re.compile(rb"^(manifest_version|workflow_version|redirects_version)\s*:", re.M)
_SUFFIXES = (".yaml", ".yml")


@dataclass
class FileResult:
    """One checked file: its kind (manifest, workflow, redirects or unknown), its problems."""

    file: str
    kind: str
    problems: list[Problem] = field(default_factory=list)


def discover(
    paths: Iterable[Path], *, skip_undeclared: bool = False
) -> tuple[list[Path], list[Problem]]:
    """Expand directories into their manifest and workflow files (sorted, deduplicated).

    ``skip_undeclared`` applies the directory rule to named files too (for pre-commit, which
    passes every changed YAML file).
    """
    found: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            inside = [p for p in _walk(path) if _declares_kind(p)]
            if not inside:
                problems.append(Problem(str(path), 0, 0, "NO-MANIFESTS",
                                        "directory holds no manifest or workflow (no *.yaml or"
                                        " *.yml file with manifest_version or workflow_version)"))
            found.extend(inside)
        elif not skip_undeclared or _declares_kind(path):
            found.append(path)
    unique = list(dict.fromkeys(found))
    return unique, problems


def _walk(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.suffix in _SUFFIXES and path.is_file() and not any(
            part.startswith(".") for part in path.relative_to(root).parts
        ):
            yield path


def _declares_kind(path: Path) -> bool:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            return True  # let validation report it (a pipe would block here)
        with path.open("rb") as handle:
            return bool(_KIND_LINE.search(handle.read(65536)))
    except OSError:
        return True


def _is_workflow(doc: Document) -> bool:
    data = doc.data
    return isinstance(data, dict) and "workflow_version" in data and "manifest_version" not in data


def _is_redirects(doc: Document) -> bool:
    data = doc.data
    return isinstance(data, dict) and "redirects_version" in data and not (
        {"manifest_version", "workflow_version"} & set(data))


def validate_document(doc: Document, *, services: ServiceRegistry | None = None) -> FileResult:
    """Check a parsed document as what it declares itself to be.

    Workflows are checked against ``services`` (default: the installed ones).
    """
    if _is_redirects(doc):
        from .._manifest.redirects import check_redirects_document

        return FileResult(doc.file, "redirects", check_redirects_document(doc))
    if _is_workflow(doc):
        from .._workflows.checks import check_workflow_document
        from .._workflows.loading import installed_services

        registry = installed_services() if services is None else services
        return FileResult(doc.file, "workflow", check_workflow_document(doc, services=registry))
    from .._manifest.loader import check_manifest_document

    return FileResult(doc.file, "manifest", check_manifest_document(doc))


def validate_paths(paths: Iterable[Path], *, skip_undeclared: bool = False) -> list[FileResult]:
    """Validate every file under ``paths``; every problem of every file is reported.

    Manifests come first, so that workflows in the same run are checked against them (as
    well as against the installed services): a repository's CI or pre-commit can check its
    connector and its example workflows without installing the connector.
    """
    files, problems = discover(paths, skip_undeclared=skip_undeclared)
    results: dict[int, FileResult] = {}
    docs: list[tuple[int, Document, list[Problem]]] = []
    for index, path in enumerate(files):
        doc, load_problems = read_yaml_file(path)
        if doc is None:
            results[index] = FileResult(str(path), "unknown", load_problems)
        else:
            docs.append((index, doc, load_problems))
    local: list[Service] = []
    workflows = any(_is_workflow(doc) for _, doc, _ in docs)
    merged: ServiceRegistry | None = None
    for index, doc, load_problems in sorted(docs, key=lambda d: _is_workflow(d[1])):
        if _is_workflow(doc) and local and merged is None:
            merged = _with_local(local)
        result = validate_document(doc, services=merged if _is_workflow(doc) else None)
        result.problems = sorted(set(load_problems + result.problems),
                                 key=lambda p: (p.line, p.column, p.rule, p.message))
        if workflows and result.kind == "manifest" and not result.problems:
            from .._manifest.loader import build_service

            local.append(build_service(doc.data, source=doc.file))
        results[index] = result
    return [FileResult(p.file, "directory", [p]) for p in problems] + [
        results[i] for i in sorted(results)]


def _with_local(local: list[Service]) -> ServiceRegistry:
    """The installed services, with this run's valid manifests in place of same-id ones."""
    from .._plugins.registry import ServiceRegistry
    from .._workflows.loading import installed_services

    merged = ServiceRegistry(services=dict(installed_services().services))
    merged.services.update({service.id: service for service in local})
    return merged
