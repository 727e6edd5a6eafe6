"""Which operations become MCP tools, and each tool's definition, derived from the manifests.

What callers may rely on:

* nothing is exposed by default: tools exist only for the services of the authentications
  given, and ``--operations`` globs narrow that further (a glob matching nothing is an error,
  so a typo never silently exposes less, or more, than meant);
* a tool name is ``<service>_<operation>``: MCP allows 1-128 characters of
  ``[A-Za-z0-9._-]`` (https://modelcontextprotocol.io/specification/2025-11-25/server/tools#tool-names)
  but Claude Desktop and the OpenAI API refuse a whole tool list with a dot in one name or a
  name over 64 characters, so names keep to ``^[A-Za-z0-9_-]{1,64}$``; a longer one is cut and
  given a hash suffix, and two operations that would share a name are refused;
* the input schema is the operation's, plus ``authentication`` (an enum of the exposed
  names, required) when one service has several, and ``cursor`` for a paginated operation;
  the output schema is the operation's declared ``output`` (an object schema; a paginated one
  gains ``next_cursor``);
* annotations: ``readOnlyHint`` for GET and HEAD, ``destructiveHint`` for DELETE,
  ``idempotentHint`` for PUT and DELETE (RFC 9110 §9.2.2), ``openWorldHint`` always; other
  methods and Python handlers get no hint the client could read as "safe";
* the description says which hosts the tool reaches (rendered from each authentication's
  parameters) and, where the operation declares them, which scopes it needs. No credential
  value appears in a definition.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from .._errors import OperationError
from .._hints import did_you_mean
from .._http.policy import render_url
from .._manifest.dialect import plain
from .._manifest.model import Authentication, OperationSpec, Service
from .._secrets import Secret

__all__ = [
    "AUTHENTICATION_ARGUMENT",
    "CURSOR_ARGUMENT",
    "NEXT_CURSOR",
    "ToolSpec",
    "derive_tools",
    "tool_name",
]

TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
NAME_LIMIT = 64
AUTHENTICATION_ARGUMENT = "authentication"
CURSOR_ARGUMENT = "cursor"
NEXT_CURSOR = "next_cursor"


@dataclass(frozen=True)
class ToolSpec:
    """One exposed tool: the operation it runs, the authentications it may use, its wire
    definition (``tools/list`` JSON: name, title, description, inputSchema, outputSchema,
    annotations) and its output schema as published (None: no structured-output promise)."""

    name: str
    operation: str
    service: Service
    spec: OperationSpec
    authentications: Mapping[str, Authentication]
    definition: Mapping[str, Any]
    output_schema: Mapping[str, Any] | None

    @property
    def paginated(self) -> bool:
        return self.spec.pagination is not None and self.spec.handler is None

    @property
    def chooses_authentication(self) -> bool:
        """True when the model picks one of several authentications by name."""
        return len(self.authentications) > 1


def tool_name(service_id: str, operation_id: str) -> str:
    """``twitch_get_users``; cut to 64 characters with a stable hash suffix when longer."""
    name = f"{service_id}_{operation_id}"
    if len(name) > NAME_LIMIT:
        digest = hashlib.sha256(f"{service_id}.{operation_id}".encode()).hexdigest()[:8]
        name = f"{name[: NAME_LIMIT - 9]}_{digest}"
    assert TOOL_NAME.fullmatch(name), name  # service and operation ids are [a-z0-9_-]
    return name


def derive_tools(
    authentications: Sequence[Authentication], operations: Sequence[str] = ("*",)
) -> list[ToolSpec]:
    """The tools for ``authentications`` (grouped by service, in the order given) whose
    ``service.operation`` matches one of the ``operations`` globs.

    Raises ``OperationError`` when nothing is named, an authentication is given twice, a
    glob matches no operation of the exposed services, or two operations would share a
    tool name; ``NetworkPolicyError`` when an authentication's URLs do not render.
    """
    if not authentications:
        raise OperationError(
            "no service is exposed: name each authentication the tools may use (--auth NAME);"
            " nothing is exposed by default")
    by_service: dict[str, dict[str, Authentication]] = {}
    for authentication in authentications:
        named = by_service.setdefault(authentication.service.id, {})
        if authentication.name in named:
            raise OperationError(
                f"authentication '{authentication.name}' of service"
                f" '{authentication.service.id}' is given twice: give each once")
        named[authentication.name] = authentication
    candidates = [(auths, op) for auths in by_service.values()
                  for op in next(iter(auths.values())).service.operations.values()]
    names = [f"{next(iter(a.values())).service.id}.{op.id}" for a, op in candidates]
    for pattern in operations:
        if not any(fnmatchcase(name, pattern) for name in names):
            raise OperationError(
                f"--operations '{pattern}' matches no operation of the exposed services"
                f" ({', '.join(by_service)}){did_you_mean(pattern, names)}; a service is"
                " exposed only through an authentication of it (--auth)")
    tools: dict[str, ToolSpec] = {}
    for (auths, spec), qualified in zip(candidates, names, strict=True):
        if not any(fnmatchcase(qualified, pattern) for pattern in operations):
            continue
        tool = _tool(auths, spec)
        if tool.name in tools:
            raise OperationError(
                f"operations '{tools[tool.name].operation}' and '{qualified}' would both be"
                f" the tool '{tool.name}': leave one out with --operations")
        tools[tool.name] = tool
    return list(tools.values())


def _tool(authentications: Mapping[str, Authentication], spec: OperationSpec) -> ToolSpec:
    service = next(iter(authentications.values())).service
    name = tool_name(service.id, spec.id)
    qualified = f"{service.id}.{spec.id}"
    output = _output_schema(spec)
    definition: dict[str, Any] = {
        "name": name,
        "title": spec.title,
        "description": _description(service, spec, authentications),
        "inputSchema": _input_schema(qualified, spec, authentications),
        "annotations": tool_annotations(spec),
    }
    if output is not None:
        definition["outputSchema"] = output
    return ToolSpec(name=name, operation=qualified, service=service, spec=spec,
                    authentications=dict(authentications), definition=definition,
                    output_schema=output)


def tool_annotations(spec: OperationSpec) -> dict[str, Any]:
    """The MCP tool annotations the operation's HTTP method justifies (hints, not rules)."""
    hints: dict[str, Any] = {"title": spec.title}
    method = spec.request.method.upper() if spec.request is not None else None
    if method in ("GET", "HEAD"):
        hints["readOnlyHint"] = True
    elif method is not None:
        hints["readOnlyHint"] = False
        if method == "DELETE":
            hints["destructiveHint"] = True
        if method in ("PUT", "DELETE"):
            hints["idempotentHint"] = True
    hints["openWorldHint"] = True
    return hints


def _input_schema(
    qualified: str, spec: OperationSpec, authentications: Mapping[str, Authentication]
) -> dict[str, Any]:
    schema: dict[str, Any] = plain(spec.input_schema)
    properties: dict[str, Any] = schema.setdefault("properties", {})
    added: dict[str, Any] = {}
    if spec.pagination is not None and spec.handler is None:
        added[CURSOR_ARGUMENT] = {
            "type": "string",
            "description": f"The {NEXT_CURSOR} of the previous page: call again with the same"
                           " arguments and this cursor to get the next page.",
        }
    if len(authentications) > 1:
        added[AUTHENTICATION_ARGUMENT] = {
            "type": "string",
            "enum": list(authentications),
            "description": "Which account to call the API as (a name; credentials stay"
                           " with the server).",
        }
        schema["required"] = [*schema.get("required", []), AUTHENTICATION_ARGUMENT]
    for argument in added:
        if argument in properties:
            raise OperationError(
                f"operation '{qualified}' has an input named '{argument}', which the MCP"
                " tool needs for itself: leave the operation out with --operations",
                operation=qualified)
    properties.update(added)
    return schema


def _output_schema(spec: OperationSpec) -> dict[str, Any] | None:
    """The declared output schema when it describes an object (MCP's outputSchema must,
    before protocol 2026-07-28); a paginated one gains the ``next_cursor`` property."""
    if spec.output_schema is None or spec.output_schema.get("type") != "object":
        return None
    schema: dict[str, Any] = plain(spec.output_schema)
    if spec.pagination is not None and spec.handler is None:
        schema.setdefault("properties", {})[NEXT_CURSOR] = {
            "type": ["string", "null"],
            "description": f"Give it as '{CURSOR_ARGUMENT}' for the next page; null after"
                           " the last page.",
        }
    return schema


def _description(
    service: Service, spec: OperationSpec, authentications: Mapping[str, Authentication]
) -> str:
    lines = [spec.description.strip() or spec.title]
    where = spec.request.method + " " + spec.request.path.source if spec.request else None
    reaches = []
    for name, authentication in authentications.items():
        api = _host(service, "base_url", service.base_url, authentication)
        token = _host(service, "token_url", service.auth.token_url, authentication)
        who = f" (authentication '{name}')" if len(authentications) > 1 else ""
        reaches.append(f"{api}{who}" if token == api else f"{api}{who}, token from {token}")
    lines.append(f"Service: {service.title} ({service.id}); "
                 + (f"request: {where}; " if where else "implemented by a Python handler; ")
                 + "reaches only " + "; ".join(reaches)
                 + " (the SDK's network policy refuses every other host).")
    scopes = tuple(getattr(spec, "scopes", None) or ())
    if scopes:
        lines.append("Needs scopes: " + ", ".join(scopes) + ".")
    if spec.pagination is not None and spec.handler is None:
        lines.append(f"Returns one page and {NEXT_CURSOR}; call again with the same arguments"
                     f" and '{CURSOR_ARGUMENT}' set to it for the next page.")
    if len(authentications) > 1:
        lines.append(f"Choose the account with '{AUTHENTICATION_ARGUMENT}': "
                     + ", ".join(f"'{n}'" for n in authentications) + ".")
    return "\n".join(lines)


def _host(
    service: Service, url_name: str, template: Any, authentication: Authentication
) -> str:
    """The host a URL template renders to for ``authentication``. The scheme is checked on
    every request (where ``allow_loopback`` applies), so it is not judged here; a host that
    a secret parameter would fill is not shown."""
    url = render_url(template, authentication.parameters, service=service.id,
                     url_name=url_name, allowed_hosts=service.allowed_hosts,
                     allow_loopback=True)
    host = url.host
    for value in authentication.parameters.values():
        if isinstance(value, Secret) and value.reveal() and value.reveal() in host:
            return "a host given by a secret parameter"
    return host if url.port is None else f"{host}:{url.port}"
