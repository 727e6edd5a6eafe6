"""A small, honest GraphQL parser for emulators of GraphQL APIs.

It reads one anonymous or named ``query`` operation: variable definitions, fields with
aliases, arguments (literals, lists, objects, enums, ``$variables``) and nested selection sets.
Anything else the GraphQL language has (mutations, subscriptions, fragments, directives,
several operations) raises ``GraphQLUnsupported`` naming the construct, so a caller learns
that the *emulator* cannot answer, rather than getting a wrong answer. Syntax errors raise
``GraphQLSyntaxError`` with the line and column, as a GraphQL server reports them.

It is deliberately not a general GraphQL implementation (graphql-core is not a dependency):
``parse(source)`` returns the root selections and the variable defaults, and an emulator
walks the ``Field`` tree with its own resolvers (execution, types and cost are its job).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Field", "GraphQLSyntaxError", "GraphQLUnsupported", "Variable", "parse"]

_TOKEN = re.compile(
    r"""
    (?P<ignored>[\s,\ufeff]+|\#[^\n]*)
  | (?P<spread>\.\.\.)
  | (?P<punct>[{}()\[\]:$!=@|&])
  | (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
    """,
    re.VERBOSE,
)


class GraphQLSyntaxError(Exception):
    """The document is not valid GraphQL; ``line`` and ``column`` are 1-based."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


class GraphQLUnsupported(Exception):
    """Valid GraphQL that the sandbox does not implement; the message names what."""


@dataclass(frozen=True)
class Variable:
    """A ``$name`` reference in an argument, resolved by the executor."""

    name: str


@dataclass
class Field:
    """One selected field: response key, field name, raw arguments and sub-selections."""

    name: str
    alias: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    selections: list[Field] | None = None
    line: int = 1
    column: int = 1

    @property
    def key(self) -> str:
        return self.alias or self.name


@dataclass
class _Token:
    kind: str
    text: str
    line: int
    column: int


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    position, line, line_start = 0, 1, 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            raise GraphQLSyntaxError(
                f"Parse error on {source[position]!r}", line, position - line_start + 1
            )
        kind, text = match.lastgroup or "", match.group()
        if kind != "ignored":
            tokens.append(_Token(kind, text, line, position - line_start + 1))
        newlines = text.count("\n")
        if newlines:
            line += newlines
            line_start = match.start() + text.rindex("\n") + 1
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = _tokenize(source)
        self.index = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def next(self) -> _Token:
        token = self.peek()
        if token is None:
            last = self.tokens[-1] if self.tokens else _Token("", "", 1, 1)
            raise GraphQLSyntaxError("Parse error: unexpected end of document",
                                     last.line, last.column)
        self.index += 1
        return token

    def at(self, text: str) -> bool:
        token = self.peek()
        return token is not None and token.text == text and token.kind != "string"

    def expect(self, text: str) -> _Token:
        token = self.next()
        if token.text != text or token.kind == "string":
            raise GraphQLSyntaxError(f"Parse error on {token.text!r}: expected {text!r}",
                                     token.line, token.column)
        return token

    def name(self) -> _Token:
        token = self.next()
        if token.kind != "name":
            raise GraphQLSyntaxError(f"Parse error on {token.text!r}: expected a name",
                                     token.line, token.column)
        return token

    def document(self) -> tuple[list[Field], dict[str, Any]]:
        token = self.peek()
        if token is None:
            raise GraphQLSyntaxError("Parse error: the document is empty", 1, 1)
        defaults: dict[str, Any] = {}
        if token.kind == "name":
            if token.text in ("mutation", "subscription"):
                raise GraphQLUnsupported(f"{token.text} operations are")
            if token.text == "fragment":
                raise GraphQLUnsupported("fragments are")
            if token.text != "query":
                raise GraphQLSyntaxError(f"Parse error on {token.text!r}", token.line,
                                         token.column)
            self.next()
            if self.peek() is not None and self.peek().kind == "name":  # type: ignore[union-attr]
                self.next()
            if self.at("("):
                defaults = self.variable_definitions()
        if self.at("@"):
            raise GraphQLUnsupported("directives are")
        selections = self.selection_set()
        extra = self.peek()
        if extra is not None:
            if extra.text in ("query", "mutation", "fragment", "{", "subscription"):
                raise GraphQLUnsupported("documents with several definitions are")
            raise GraphQLSyntaxError(f"Parse error on {extra.text!r}", extra.line, extra.column)
        return selections, defaults

    def variable_definitions(self) -> dict[str, Any]:
        defaults: dict[str, Any] = {}
        self.expect("(")
        while not self.at(")"):
            self.expect("$")
            name = self.name().text
            self.expect(":")
            self.type_reference()
            if self.at("="):
                self.next()
                defaults[name] = self.value(const=True)
        self.expect(")")
        return defaults

    def type_reference(self) -> None:
        if self.at("["):
            self.next()
            self.type_reference()
            self.expect("]")
        else:
            self.name()
        if self.at("!"):
            self.next()

    def selection_set(self) -> list[Field]:
        self.expect("{")
        fields: list[Field] = []
        while not self.at("}"):
            if self.at("..."):
                raise GraphQLUnsupported("fragments and inline fragments are")
            fields.append(self.field())
        self.expect("}")
        if not fields:
            token = self.tokens[self.index - 1]
            raise GraphQLSyntaxError("Parse error: empty selection set", token.line, token.column)
        return fields

    def field(self) -> Field:
        first = self.name()
        alias, name = None, first
        if self.at(":"):
            self.next()
            alias, name = first.text, self.name()
        result = Field(name=name.text, alias=alias, line=first.line, column=first.column)
        if self.at("("):
            self.next()
            while not self.at(")"):
                argument = self.name().text
                self.expect(":")
                result.arguments[argument] = self.value(const=False)
            self.expect(")")
        if self.at("@"):
            raise GraphQLUnsupported("directives are")
        if self.at("{"):
            result.selections = self.selection_set()
        return result

    def value(self, *, const: bool) -> Any:
        token = self.next()
        if token.text == "$" and token.kind == "punct":
            if const:
                raise GraphQLSyntaxError("Parse error: a variable in a constant value",
                                         token.line, token.column)
            return Variable(self.name().text)
        if token.kind == "number":
            return float(token.text) if any(c in token.text for c in ".eE") else int(token.text)
        if token.kind == "string":
            return json.loads(token.text)
        if token.kind == "name":
            return {"true": True, "false": False, "null": None}.get(token.text, token.text)
        if token.text == "[":
            items = []
            while not self.at("]"):
                items.append(self.value(const=const))
            self.next()
            return items
        if token.text == "{":
            obj = {}
            while not self.at("}"):
                key = self.name().text
                self.expect(":")
                obj[key] = self.value(const=const)
            self.next()
            return obj
        raise GraphQLSyntaxError(f"Parse error on {token.text!r}", token.line, token.column)


def parse(source: str) -> tuple[list[Field], dict[str, Any]]:
    """The root selections of ``source`` and the defaults of its variable definitions."""
    return _Parser(source).document()
