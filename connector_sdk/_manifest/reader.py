"""Reading YAML safely, with the position of every key and value.

PyYAML's ``safe_load`` is not enough for a validator: it silently keeps the last of two
duplicate keys, expands aliases without bound (a "billion laughs" file walks forever in later
checks), turns ``2025-10-01`` into a ``date`` that JSON Schema cannot type, and forgets where
each value came from. ``load_yaml`` composes the node graph with the safe loader, then builds
plain JSON-like data itself, recording the line and column of every path so that each problem
can point at the exact spot. It never raises for bad input: it returns problems.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .._problems import Problem

__all__ = ["MAX_FILE_BYTES", "MAX_NODES", "Document", "load_yaml", "read_yaml_file"]

#: Manifests and workflows are small; anything larger is a mistake or an attack.
MAX_FILE_BYTES = 2 * 1024 * 1024
#: Nodes after alias expansion; bounds every later walk over the document.
MAX_NODES = 200_000

Path_ = tuple[str | int, ...]


@dataclass
class Document:
    """A parsed file: ``data`` (JSON-like) and where each path's key and value stand."""

    file: str
    data: Any
    value_marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of ``path``'s value (or key), else of its nearest parent."""
        marks = self.key_marks if key else self.value_marks
        probe = tuple(path)
        while True:
            if probe in marks:
                return marks[probe]
            if key and probe in self.value_marks:
                return self.value_marks[probe]
            if not probe:
                return (1, 1)
            probe = probe[:-1]

    def problem(
        self, path: Path_, rule: str, message: str, *, key: bool = False, severity: str = "error"
    ) -> Problem:
        line, column = self.where(path, key=key)
        return Problem(self.file, line, column, rule, message, tuple(path), severity)  # type: ignore[arg-type]


_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml parses about 10x faster


class _Loader(_Base):  # type: ignore[misc,valid-type]
    """Safe loader without YAML 1.1 timestamps: dates stay strings, as in JSON."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


_STR = "tag:yaml.org,2002:str"
_MERGE_TAGS = frozenset({"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"})


class _TooLarge(Exception):
    pass


def _mark(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _count_nodes(root: yaml.Node) -> int:
    """Nodes after alias expansion, memoised so a bomb is measured without being walked."""
    memo: dict[int, int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        if id(node) in memo:
            return memo[id(node)]
        if depth > 200:
            raise _TooLarge("nesting deeper than 200 levels")
        total = 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                total += size(key, depth + 1) + size(value, depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += size(item, depth + 1)
        if total > MAX_NODES:
            raise _TooLarge(f"more than {MAX_NODES} values once aliases are expanded")
        memo[id(node)] = total
        return total

    return size(root, 0)


class _Builder:
    """Turns composed nodes into plain data, collecting marks and structural problems."""

    def __init__(self, doc: Document, loader: _Loader) -> None:
        self.doc = doc
        self.loader = loader
        self.problems: list[Problem] = []

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.doc.value_marks.setdefault(path, _mark(node))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        if node.tag == _STR:  # what SafeConstructor.construct_yaml_str returns, without it
            return node.value
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        if any(key.tag in _MERGE_TAGS for key, _ in node.value):
            self.loader.flatten_mapping(node)  # resolves "<<" merge keys
        out: dict[str, Any] = {}
        first_seen: dict[str, tuple[int, int]] = {}
        for key_node, value_node in node.value:
            key = self._scalar(key_node) if isinstance(key_node, yaml.ScalarNode) \
                else self.loader.construct_object(key_node, deep=True)
            line, column = _mark(key_node)
            if not isinstance(key, str):
                self.problems.append(
                    Problem(
                        self.doc.file, line, column, "YAML-KEY-NOT-STRING",
                        f"key {key!r} is a {type(key).__name__}; keys must be strings:"
                        " quote it", path,
                    )
                )
                key = str(key)
            if key in first_seen:
                self.problems.append(
                    Problem(
                        self.doc.file, line, column, "YAML-DUPLICATE-KEY",
                        f"key '{key}' appears twice (first at line {first_seen[key][0]});"
                        " YAML keeps only one of them: remove or rename one",
                        (*path, key),
                    )
                )
                continue
            first_seen[key] = (line, column)
            self.doc.key_marks[(*path, key)] = (line, column)
            out[key] = self.build(value_node, (*path, key))
        return out


def load_yaml(text: bytes | str, file: str) -> tuple[Document | None, list[Problem]]:
    """Parse one YAML document; returns ``(document, problems)``, document None if unusable."""
    doc = Document(file=file, data=None)

    def fail(rule: str, message: str, line: int = 1, column: int = 1) -> tuple[None, list[Problem]]:
        return None, [Problem(file, line, column, rule, message)]

    if isinstance(text, bytes):
        raw = text
        if len(raw) > MAX_FILE_BYTES:
            return fail(
                "FILE-TOO-LARGE",
                f"file is {len(raw) / 1e6:.1f} MB; manifests and workflows are limited to"
                f" {MAX_FILE_BYTES / 1e6:.1f} MB: is this the right file?",
            )
        if b"\x00" in raw:
            return fail("FILE-BINARY", "file contains NUL bytes: it is binary, not YAML")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
            return fail(
                "FILE-ENCODING",
                f"byte 0x{raw[exc.start]:02x} is not UTF-8: save the file as UTF-8",
                line, column,
            )
    if not text.strip():
        return fail("FILE-EMPTY", "file is empty: a manifest is a YAML mapping")

    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return fail("FILE-EMPTY", "file has no YAML document: a manifest is a YAML mapping")
        _count_nodes(root)
        builder = _Builder(doc, loader)
        doc.data = builder.build(root, ())
    except _TooLarge as exc:
        return fail("YAML-TOO-COMPLEX", f"document is too complex ({exc}): remove the aliases")
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        if "expected a single document" in what:
            return fail("YAML-MULTIPLE-DOCUMENTS", "file holds several YAML documents"
                        " ('---'): keep one manifest per file", line, column)
        lines = text.splitlines()
        if 0 < line <= len(lines) and "\t" in lines[line - 1][: column + 1]:
            what += " (YAML indents with spaces, never tabs: replace the tab)"
        return fail("YAML-SYNTAX", f"YAML syntax error: {what}", line, column)
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        return fail("YAML-SYNTAX", f"YAML error: {exc}")
    finally:
        loader.dispose()
    return doc, builder.problems


def read_yaml_file(path: Path, display: str | None = None) -> tuple[Document | None, list[Problem]]:
    """Read and parse ``path``; unreadable files and oversize files become problems."""
    name = display or str(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
            return None, [Problem(name, 1, 1, "FILE-UNREADABLE",
                                  "not a regular file (a directory, pipe or device): point at"
                                  " a manifest or workflow file")]
        if info.st_size > MAX_FILE_BYTES:
            return None, [Problem(name, 1, 1, "FILE-TOO-LARGE",
                                  f"file is {info.st_size / 1e6:.1f} MB; manifests and"
                                  f" workflows are limited to {MAX_FILE_BYTES / 1e6:.1f} MB:"
                                  " is this the right file?")]
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)  # the file may grow after the stat
    except OSError as exc:
        return None, [Problem(name, 0, 0, "FILE-UNREADABLE",
                              f"cannot read the file: {exc.strerror or exc}")]
    return load_yaml(raw, name)
