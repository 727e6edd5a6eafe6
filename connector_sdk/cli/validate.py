"""``connector-sdk validate [PATH ...]``: check manifests, workflows and redirect
configurations; exit 0, 1 or 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ._usage import UsageError

if TYPE_CHECKING:
    from ._validation import FileResult


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="files or directories (default: every installed plugin's manifests)")
    parser.add_argument("--format", choices=("text", "json", "github", "sarif"),
                        default="text",
                        help="output format (default: text; sarif: SARIF 2.1.0 for code"
                             " scanning)")
    parser.add_argument("--skip-undeclared", action="store_true",
                        help="skip named files that declare none of manifest_version,"
                             " workflow_version and redirects_version (for pre-commit, which"
                             " passes every YAML file)")


def run(args: argparse.Namespace) -> int:
    from ._reporters import report
    from ._validation import validate_paths

    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        raise UsageError(f"no such file or directory: {', '.join(missing)}")
    if args.paths:
        results = validate_paths(args.paths, skip_undeclared=args.skip_undeclared)
    else:
        results = _installed_results()
        if not results:
            raise UsageError("no path given and no installed plugin registers a manifest; pass"
                             " files or directories")
    report(results, args.format, sys.stdout)
    return 1 if any(r.problems for r in results) else 0


def _installed_results() -> list[FileResult]:
    """Installed plugins' manifests: valid services, and the problems of invalid ones."""
    import os

    from .._plugins.manager import load_plugins
    from .._problems import Problem
    from ._validation import FileResult

    plugins = load_plugins(os.environ)
    results = [FileResult(s.source, "manifest") for s in plugins.registry]
    for failure in plugins.failures:
        problems = list(failure.problems) or [
            Problem(f"<plugin {failure.plugin}>", 0, 0, "PLUGIN-LOAD", failure.message)]
        results.append(FileResult(problems[0].file, "manifest", problems))
    return results
