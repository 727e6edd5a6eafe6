"""Every rule id ``connector-sdk validate`` can report, with what it means.

Rule ids are stable: CI configurations and editors match on them. ``docs/manifest.md`` and
``docs/workflows.md`` document each one, and the test suite holds a failing fixture for each
(tests check both).
"""

from __future__ import annotations

__all__ = ["RULES"]

RULES: dict[str, str] = {
    # reading the file
    "FILE-UNREADABLE": "the file cannot be read (permissions, a directory, a broken link)",
    "FILE-TOO-LARGE": "the file is larger than 2 MB",
    "FILE-BINARY": "the file contains NUL bytes",
    "FILE-ENCODING": "the file is not UTF-8",
    "FILE-EMPTY": "the file has no YAML document",
    "NO-MANIFESTS": "a directory holds no manifest or workflow file",
    # YAML
    "YAML-SYNTAX": "the YAML does not parse",
    "YAML-MULTIPLE-DOCUMENTS": "the file holds several YAML documents",
    "YAML-DUPLICATE-KEY": "a mapping has the same key twice",
    "YAML-KEY-NOT-STRING": "a mapping key is not a string",
    "YAML-TOO-COMPLEX": "aliases expand to too many values, or nesting is too deep",
    "DOC-NOT-MAPPING": "the document is not a mapping",
    # schema
    "SCHEMA-UNKNOWN-KEY": "a key the format does not have (with a suggestion)",
    "SCHEMA-REQUIRED": "a required key is missing",
    "SCHEMA-TYPE": "a value has the wrong type",
    "SCHEMA-ENUM": "a value is not one of the allowed values",
    "SCHEMA-PATTERN": "a value does not match its pattern",
    "SCHEMA-OPERATION-KIND": "an operation has both or neither of request and handler",
    "SCHEMA-MINITEMS": "a list is shorter than allowed",
    # manifest rules
    "PLACEHOLDER-SYNTAX": "'{{' that does not open a {{ name }} placeholder",
    "PLACEHOLDER-UNKNOWN": "a placeholder names no declared parameter",
    "PARAMETER-UNUSED": "a declared parameter is used by no template",
    "PARAMETER-OPTIONAL-UNSET": "a template uses a parameter that is optional with no default",
    "PARAMETER-RESERVED": "a parameter is named like a token field (access_token, token_type)",
    "PARAMETER-UNKNOWN-KEYWORD": "a parameter schema uses a keyword JSON Schema does not know",
    "PARAMETERS-SCHEMA-INVALID": "the parameter schema is not a valid JSON Schema",
    "PARAMETER-DEFAULT-INVALID": "a parameter's default does not satisfy its own schema",
    "PARAMETER-REQUIRED-UNKNOWN": "'required' names an undeclared parameter",
    "SECRET-IN-URL": "a secret parameter is placed in a URL",
    "SECRET-NOT-MARKED": "a parameter named like a secret is not marked secret: true",
    "SECRET-DEFAULT": "a secret parameter has a default value",
    "URL-SYNTAX": "a URL template does not parse, or has a bad port or stray characters",
    "URL-NOT-ABSOLUTE": "a URL template has no scheme or host",
    "URL-NOT-HTTPS": "a URL template is not https (http only for literal loopback hosts)",
    "URL-PLACEHOLDER-POSITION": "a placeholder in a URL's scheme, userinfo or port",
    "URL-USERINFO": "a URL template contains user:password@",
    "URL-HOST-NOT-ALLOWED": "a URL's host is not in allowed_hosts",
    "HOST-PLACEHOLDER-UNCONSTRAINED": "a host placeholder's schema admits non-host characters",
    "HOST-PATTERN-INVALID": "an allowed_hosts entry is not a host name or *.suffix",
    # grants and scopes
    "AUTH-GRANT-DUPLICATE": "auth.grant lists a grant twice",
    "AUTH-CODE-MISSING": "authorization_code is offered but auth has no authorization_code block",
    "AUTH-CODE-UNUSED": "an authorization_code block while auth.grant does not offer it",
    "AUTH-PARAMETER-RESERVED": "an extra parameter or field the SDK's flow sets itself",
    "AUTH-CALLBACK-SECRET": "callback_signature.secret is not exactly one secret parameter",
    "AUTH-CALLBACK-PARAMETER-INVALID": "a callback parameter names an undeclared or secret one",
    "SCOPE-DUPLICATE": "a scope is listed twice",
    "SCOPE-CONTAINS-SEPARATOR": "a scope contains auth.scope_separator",
    "OPERATION-SCOPES-UNOBTAINABLE": "an operation needs scopes no offered grant can obtain",
    # operations
    "OPERATION-PLACEHOLDER-UNKNOWN": "a request placeholder names no input of its operation",
    "OPERATION-PATH-INVALID": "an operation path is not a plain path relative to base_url",
    "OPERATION-PATH-INPUT-OPTIONAL": "a path placeholder names an input that is not required",
    "OPERATION-SCHEMA-INVALID": "an input/output schema is invalid, or the input is no object",
    "OPERATION-UNKNOWN-KEYWORD": "an input/output schema keyword JSON Schema does not know",
    "OPERATION-PAGINATION-INCONSISTENT": "a pagination block does not fit its style",
    "OPERATION-HEADER-RESERVED": "an operation header would replace a token or transport header",
    "OPERATION-RATE-LIMIT-UNDECLARED": "an operation's rate_limit names no bucket of rate_limits",
    # embedded schemas (parameters, operation inputs and outputs)
    "REF-NOT-LOCAL": "a $ref/$dynamicRef points outside its schema, or an $id rebases them",
    "REF-UNRESOLVED": "a '#...' reference points to nothing that is a schema",
    "REGEX-INVALID": "a pattern or patternProperties key is not a regular expression",
    "REGEX-UNSUPPORTED": "a regex uses what the linear-time engine lacks (lookaround, backrefs)",
    # workflows
    "WORKFLOW-STEP-DUPLICATE": "two steps have the same id",
    "WORKFLOW-PLACEHOLDER-SYNTAX": "'{{' that does not open a {{ reference }} in a workflow",
    "WORKFLOW-REFERENCE-ROOT": "a reference starts with neither inputs., steps. nor item",
    "WORKFLOW-INPUT-UNDECLARED": "{{ inputs.x }} names an input the workflow does not declare",
    "WORKFLOW-INPUT-DEFAULT-INVALID": "a workflow input's default does not have its type",
    "WORKFLOW-STEP-UNKNOWN": "{{ steps.x }} names no step",
    "WORKFLOW-REFERENCE-SELF": "a step refers to its own output",
    "WORKFLOW-REFERENCE-LATER": "a step refers to a step that runs later (or a cycle)",
    "WORKFLOW-ITEM-OUTSIDE-FOREACH": "{{ item }} outside the inputs of a foreach step",
    "WORKFLOW-FOREACH-NOT-LIST": "foreach is neither a list nor exactly one placeholder",
    "WORKFLOW-FOREACH-TOO-LARGE": "a literal foreach list has more than 100,000 items",
    "WORKFLOW-CONCURRENCY-INVALID": "concurrency outside 1..100, or without foreach",
    "WORKFLOW-LIMITS-INVALID": "max_pages or max_items below 1",
    "WORKFLOW-OPERATION-UNKNOWN": "the operation's service is not installed or lacks it",
    "WORKFLOW-STEP-INPUT-MISSING": "a step lacks an input its operation requires",
    "WORKFLOW-STEP-INPUT-INVALID": "a literal step input violates the operation's input schema",
    # plugins
    "PLUGIN-LOAD": "an installed plugin failed to load (validate with no path)",
}
