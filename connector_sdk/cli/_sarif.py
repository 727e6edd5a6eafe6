"""``validate --format sarif``: problems as a SARIF 2.1.0 log, for code-scanning UIs.

SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html) is what
GitHub code scanning and most CI dashboards read. The log is built here from ``Problem``
values, with no library: the one Python object model (sarif-om) has had no release since
2019, and the subset we write is small. What callers may rely on:

- one run; ``tool.driver.rules`` is every rule id ``validate`` can report (stable ids, in
  catalogue order, with their one-line description; ``helpUri`` to the rule's section of
  the docs when the installed distribution declares a ``Documentation`` project URL, since
  SARIF wants an absolute URI there);
- one result per problem: ``ruleId`` and ``ruleIndex``, ``level`` (``error`` or
  ``warning``), ``message.text`` (the problem's message and JSON path), and a location
  whose ``artifactLocation.uri`` is relative to the working directory (an absolute ``file:``
  URI outside it) with ``region.startLine``/``startColumn`` when the position is known;
- columns count Unicode code points (``columnKind: unicodeCodePoints``), as the reader does.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._problems import Problem

__all__ = ["SARIF_SCHEMA", "rule_catalogue", "sarif_log"]

SARIF_SCHEMA = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
                "sarif-schema-2.1.0.json")

#: Where each family of rules is documented (a page and its "Rules" section).
_PAGES = (("WORKFLOW-", "workflows.md#rules"), ("OPERATION-", "operations.md#rules"),
          ("REDIRECT-", "redirects.md#rules-checked-at-start-up"))


def rule_catalogue() -> dict[str, str]:
    """Every rule id ``validate`` reports, with its description: manifests and workflows
    (``_manifest.rules``), then redirect configurations (``_manifest.redirects``)."""
    from .._manifest.redirects import REDIRECT_RULES
    from .._manifest.rules import RULES

    return {**RULES, **REDIRECT_RULES}


def _docs_url() -> str | None:
    """The distribution's ``Documentation`` project URL (a directory of the docs pages)."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        urls: list[str] = metadata("connector-sdk").get_all("Project-URL") or []
    except PackageNotFoundError:
        return None
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "documentation" and url.strip():
            return url.strip().rstrip("/")
    return None


def _help_uri(rule: str, docs_url: str) -> str:
    page = next((p for prefix, p in _PAGES if rule.startswith(prefix)), "manifest.md#rules")
    return f"{docs_url}/{page}"


def _artifact_uri(file: str, cwd: Path) -> str:
    """``file`` as a URI reference: relative to ``cwd`` when inside it, else ``file:``."""
    path = Path(os.path.normpath(cwd / file))  # `../x.yaml` is outside: a file: URI
    try:
        path = path.relative_to(cwd)
    except ValueError:
        return path.as_uri()
    return urllib.parse.quote(path.as_posix())


def _location(problem: Problem, cwd: Path) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": _artifact_uri(problem.file, cwd)}}
    if problem.line:
        physical["region"] = {"startLine": problem.line,
                              "startColumn": max(problem.column, 1)}
    return {"physicalLocation": physical}


def sarif_log(problems: Sequence[Problem], *, cwd: Path | None = None,
              docs_url: str | None = None) -> dict[str, Any]:
    """The SARIF 2.1.0 log of ``problems`` (``docs_url`` defaults to the distribution's)."""
    from .._version import __version__

    where = Path.cwd() if cwd is None else cwd
    base = docs_url if docs_url is not None else _docs_url()
    catalogue = rule_catalogue()
    for problem in problems:  # a rule from elsewhere (a plugin) still gets a descriptor
        catalogue.setdefault(problem.rule, problem.rule)
    index = {rule: i for i, rule in enumerate(catalogue)}
    rules = []
    for rule, description in catalogue.items():
        descriptor: dict[str, Any] = {"id": rule, "shortDescription": {"text": description}}
        if base:
            descriptor["helpUri"] = _help_uri(rule, base)
        rules.append(descriptor)
    results = []
    for problem in problems:
        text = problem.message + (f" (at {problem.json_path})" if problem.path else "")
        result: dict[str, Any] = {
            "ruleId": problem.rule, "ruleIndex": index[problem.rule],
            "level": "warning" if problem.severity == "warning" else "error",
            "message": {"text": text},
        }
        if not problem.file.startswith("<"):  # "<plugin x>" names no file
            result["locations"] = [_location(problem, where)]
        results.append(result)
    driver = {"name": "connector-sdk", "version": __version__,
              "semanticVersion": __version__, "rules": rules}
    if base:
        driver["informationUri"] = base
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "columnKind": "unicodeCodePoints",
                  "results": results}],
    }
