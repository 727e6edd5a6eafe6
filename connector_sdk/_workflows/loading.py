"""Reading a workflow file: parse, check against a service registry, build the ``Workflow``.

``load_workflow`` runs every check ``connector-sdk validate`` runs (schema, references,
operations and their input schemas) and raises ``WorkflowError`` carrying all the problems
when any is an error. The checks themselves never load plugins: this module is the caller
that chooses the registry, the one given or, by default, the installed services
(``installed_services``, loaded once per process and plugin selection).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import WorkflowError
from .._manifest.reader import load_yaml, read_yaml_file
from .checks import check_workflow_document
from .model import Workflow, build_workflow

if TYPE_CHECKING:
    from .._plugins.registry import ServiceRegistry

__all__ = ["installed_services", "load_workflow"]


def load_workflow(
    source: Path | str | bytes,
    *,
    file: str | None = None,
    services: ServiceRegistry | None = None,
) -> Workflow:
    """Read and check a workflow; raises ``WorkflowError`` listing every problem.

    ``source`` is a path (a one-line ``str`` ending in .yaml/.yml counts as one), or YAML
    text/bytes (then ``file`` names it in messages). ``services`` is the registry to check
    operations against (a runtime passes its own); by default the installed services.
    """
    if isinstance(source, str) and "\n" not in source and source.endswith((".yaml", ".yml")):
        source = Path(source)  # a file name, not YAML text
    if isinstance(source, Path):
        doc, problems = read_yaml_file(source, file)
    else:
        doc, problems = load_yaml(source, file or "<workflow>")
    if doc is not None:
        registry = installed_services() if services is None else services
        problems = problems + check_workflow_document(doc, services=registry)
    if doc is None or problems:
        where = file or (str(source) if isinstance(source, Path) else "<workflow>")
        errors = [p for p in problems if p.severity == "error"]
        if doc is None or errors:
            raise WorkflowError(
                f"workflow {where} is invalid ({len(errors) or len(problems)} problem(s));"
                " fix them (`connector-sdk validate` shows the same list)",
                problems=sorted(problems, key=lambda p: (p.line, p.column, p.rule)))
    return build_workflow(doc)


def _plugin_selection(environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    return (environ.get("CONNECTOR_SDK_LOAD_PLUGINS"), environ.get("CONNECTOR_SDK_BLOCK_PLUGINS"))


def installed_services() -> ServiceRegistry:
    """The installed services for the current plugin selection, loaded once per process."""
    return _installed_services(*_plugin_selection(os.environ))


@cache
def _installed_services(load: str | None, block: str | None) -> ServiceRegistry:
    """The installed services for one allow/block selection, loaded once per process."""
    from .._plugins.manager import load_plugins

    return load_plugins(os.environ).registry
