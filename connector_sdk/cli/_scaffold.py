"""The files of a new connector distribution, from a few answers: pure, no I/O.

``plan(answers)`` returns ``{relative path: text}``. The manifest it writes validates as is:
every placeholder of the token URL becomes a constrained parameter (one DNS label in a host
label, a whole DNS name under the URL's domain when the host is a parameter, one path
segment in the path), ``allowed_hosts`` is derived from the same host so the rendered URLs
always match it, and each parameter carries an example value that the tests and the
conformance suite use.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .._manifest.templates import parse_template

__all__ = ["Answers", "ScaffoldError", "plan"]

_LABEL = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_SEGMENT = "^[A-Za-z0-9._~-]{1,64}$"
_ID = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


class ScaffoldError(ValueError):
    """An answer the scaffold cannot build a valid manifest from; the message says why."""


@dataclass(frozen=True)
class Answers:
    """What ``connector-sdk new`` asks: the service id, its title, the token URL (may hold
    ``{{ placeholders }}``) and whether the whole host is a parameter."""

    name: str
    title: str
    token_url: str
    host_parameter: bool


@dataclass
class _Manifest:
    token_url: str
    base_url: str
    allowed_host: str
    parameters: dict[str, dict[str, object]] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)
    example_host: str = ""


def default_token_url(name: str) -> str:
    """``https://{{ tenant }}.NAME.example/oauth/token`` (RFC 2606 reserves ``.example``)."""
    return "https://{{ tenant }}." + name.replace("_", "-") + ".example/oauth/token"


def _split(url: str) -> tuple[str, str]:
    if not url.startswith("https://"):
        raise ScaffoldError(f"the token URL must start with https:// (got {url!r})")
    rest = url[len("https://"):]
    host, slash, path = rest.partition("/")
    if not host or "@" in host or "?" in rest or "#" in rest:
        raise ScaffoldError(f"the token URL must be https://HOST/PATH with no user, query or"
                            f" fragment (got {url!r})")
    return host, slash + path


def _placeholders(text: str) -> list[str]:
    try:
        return list(parse_template(text).names)
    except ValueError as exc:
        raise ScaffoldError(f"the token URL has a broken placeholder: {exc}") from None


def _manifest(answers: Answers) -> _Manifest:
    host, path = _split(answers.token_url)
    if answers.host_parameter:
        literal = re.sub(r"\{\{[^}]*\}\}\.?", "", host).strip(".")
        domain = literal.split(".", 1)[1] if literal.count(".") >= 2 else literal
        if "." not in domain:
            raise ScaffoldError(f"with the host as a parameter, the token URL's host must"
                                f" name a domain (like auth.acme.example), not {host!r}")
        result = _Manifest("https://{{ host }}" + path, "https://{{ host }}/v1", "*." + domain)
        result.parameters["host"] = {
            "type": "string", "title": "Host",
            "description": f"Your {answers.title} host, a name under {domain}.",
            "pattern": "^" + _LABEL + re.escape("." + domain) + "$"}
        result.examples["host"] = result.example_host = "demo." + domain
        names_in_host: list[str] = []
    else:
        labels = host.split(".")
        names_in_host = _placeholders(host)
        if any(_placeholders(label) for label in labels[1:]) or (
                names_in_host and not re.fullmatch(r"\{\{\s*[a-z_][a-z0-9_]*\s*\}\}",
                                                   labels[0])):
            raise ScaffoldError("a placeholder in the token URL's host must be its whole first"
                                " label ({{ tenant }}.acme.example), or make the whole host a"
                                " parameter (--host-parameter)")
        rest = ".".join(labels[1:])
        allowed = "*." + rest if names_in_host else host
        result = _Manifest(answers.token_url, "https://" + host + "/v1", allowed)
        for name in names_in_host:
            result.parameters[name] = {
                "type": "string", "title": name.replace("_", " ").capitalize(),
                "description": f"Your {answers.title} {name}: the first label of the host"
                               f" ({'demo.' + '.'.join(labels[1:])}).",
                "pattern": "^" + _LABEL + "$"}
            result.examples[name] = "demo"
        result.example_host = "demo." + rest if names_in_host else host
    for name in _placeholders(path):
        if name in result.parameters:
            continue
        result.parameters[name] = {
            "type": "string", "title": name.replace("_", " ").capitalize(),
            "description": f"The {name} in the token URL's path (one path segment).",
            "pattern": _SEGMENT}
        result.examples[name] = "demo"
    reserved = {"client_id", "client_secret", "access_token", "token_type"} & set(
        result.parameters)
    if reserved:
        raise ScaffoldError(f"the token URL uses reserved names: {', '.join(sorted(reserved))}")
    return result


def _yaml(value: object) -> str:
    """A YAML flow scalar: JSON is valid YAML, and quotes every string safely."""
    return json.dumps(value)


def _manifest_text(answers: Answers, m: _Manifest) -> str:
    required = [*m.parameters, "client_id", "client_secret"]
    props = []
    for name, schema in m.parameters.items():
        props.append(f"    {name}:\n" + "".join(
            f"      {key}: {_yaml(value)}\n" for key, value in schema.items())
            + f"      examples: [{_yaml(m.examples[name])}]\n")
    return f"""\
# The {answers.title} service for connector-sdk: `connector-sdk validate` checks this file,
# `connector-sdk docs {answers.name}` renders its reference page (docs/manifest.md: every field).
manifest_version: 1
service:
  id: {answers.name}
  title: {_yaml(answers.title)}
  version: "0.1.0"
  description: {_yaml(f"The {answers.title} API through OAuth2 client credentials.")}

parameters:
  type: object
  required: [{", ".join(required)}]
  additionalProperties: false
  properties:
{"".join(props)}    client_id:
      type: string
      title: Client ID
      minLength: 1
    client_secret:
      type: string
      title: Client secret
      secret: true
      minLength: 1

auth:
  grant: client_credentials
  token_url: {_yaml(m.token_url)}
  client_authentication: client_secret_post
  client_id: '{{{{ client_id }}}}'
  client_secret: '{{{{ client_secret }}}}'
  headers:
    Authorization: 'Bearer {{{{ access_token }}}}'

allowed_hosts: [{_yaml(m.allowed_host)}]
base_url: {_yaml(m.base_url)}

operations:
  list_items:
    title: List items
    description: The first page of items.
    input:
      type: object
      additionalProperties: false
      properties:
        limit: {{type: integer, minimum: 1, maximum: 100, description: Items per page.}}
    output:
      type: object
      required: [items]
      properties:
        items: {{type: array, items: {{type: object}}}}
    request:
      method: GET
      path: /items
      query:
        limit: '{{{{ limit }}}}'
"""


def plan(answers: Answers) -> dict[str, str]:
    """The files to write, by path relative to the new directory."""
    if not _ID.fullmatch(answers.name):
        raise ScaffoldError(f"'{answers.name}' is not a service id: lower-case letters, digits,"
                            " '_' and '-', starting with a letter (at most 63 characters)")
    if not answers.title.strip():
        raise ScaffoldError("the title must not be empty")
    from ._scaffold_files import package_files

    m = _manifest(answers)
    token_path = parse_template(_split(answers.token_url)[1]).render(m.examples)
    files = package_files(answers.name, answers.title, example_parameters=m.examples,
                          example_host=m.example_host, token_path=token_path, base_path="/v1")
    package = "connector_" + answers.name.replace("-", "_")
    files[f"{package}/{answers.name}.yaml"] = _manifest_text(answers, m)
    return files
