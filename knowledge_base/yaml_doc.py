"""Read a YAML file into plain data while remembering the line of every field.

A ``Loc`` is the path to a value, e.g. ``("articles", 2, "text", "ru")``. ``YamlDocument.where``
turns a ``Loc`` into "FILE:LINE: articles[2].text.ru" so that every problem names the place to fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from knowledge_base.errors import KnowledgeBaseError

Loc = tuple[str | int, ...]


def display_path(path: Path) -> str:
    """The path relative to the working directory when it is below it, else absolute."""
    absolute = path.resolve()
    try:
        return str(absolute.relative_to(Path.cwd().resolve()))
    except ValueError:
        return os.fspath(absolute)


def format_loc(loc: Loc) -> str:
    """``("articles", 2, "text")`` -> ``"articles[2].text"``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(document)"


@dataclass(frozen=True)
class YamlDocument:
    """The data of one YAML file plus the (1-based) line of every mapping key and list item."""

    path: Path
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)
    literal_starts: dict[Loc, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return display_path(self.path)

    def line(self, loc: Loc) -> int:
        """The line of ``loc``, or of its nearest ancestor that exists in the file."""
        for end in range(len(loc), 0, -1):
            found = self.lines.get(loc[:end])
            if found is not None:
                return found
        return 1

    def line_in_text(self, loc: Loc, offset: int) -> int:
        """The line of character ``offset`` inside the string at ``loc`` (exact for ``|`` blocks)."""
        start = self.literal_starts.get(loc)
        if start is None:
            return self.line(loc)
        value = self.get(loc)
        if not isinstance(value, str):
            return self.line(loc)
        return start + value.count("\n", 0, offset)

    def get(self, loc: Loc) -> Any:
        value = self.data
        for part in loc:
            try:
                value = value[part]
            except (KeyError, IndexError, TypeError):
                return None
        return value

    def place(self, loc: Loc, *, line: int | None = None) -> str:
        """``"FILE:LINE"`` for ``loc``."""
        return f"{self.name}:{line if line is not None else self.line(loc)}"

    def where(self, loc: Loc, *, line: int | None = None) -> str:
        """``"FILE:LINE: FIELD"`` for ``loc``."""
        return f"{self.place(loc, line=line)}: {format_loc(loc)}"

    def problem(self, loc: Loc, message: str, *, line: int | None = None) -> str:
        return f"{self.where(loc, line=line)}: {message}"


def read_yaml(path: Path) -> YamlDocument:
    """Parse ``path``; raise KnowledgeBaseError naming the line for syntax errors and duplicate keys."""
    name = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KnowledgeBaseError([f"{name}:1: cannot read the file: {exc}"]) from exc
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        builder = _Builder(loader, name)
        data = builder.build(root, ()) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        raise KnowledgeBaseError([_syntax_problem(name, exc)]) from exc
    except yaml.YAMLError as exc:
        raise KnowledgeBaseError([f"{name}:1: YAML error: {exc}"]) from exc
    finally:
        loader.dispose()
    if builder.problems:
        raise KnowledgeBaseError(builder.problems)
    return YamlDocument(path, data, builder.lines, builder.literal_starts)


def _syntax_problem(name: str, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    message = exc.problem or exc.context or "invalid YAML"
    if exc.context and exc.problem:
        started = exc.context_mark.line + 1 if exc.context_mark is not None else line
        message += f" ({exc.context}, which starts on line {started})"
    return f"{name}:{line}: YAML syntax error: {message}"


class _Builder:
    """Turns a composed node tree into plain Python data, recording lines as it goes."""

    def __init__(self, loader: yaml.SafeLoader, name: str) -> None:
        self._loader = loader
        self._name = name
        self.lines: dict[Loc, int] = {}
        self.literal_starts: dict[Loc, int] = {}
        self.problems: list[str] = []

    def build(self, node: Node, loc: Loc) -> Any:
        if isinstance(node, MappingNode):
            return self._mapping(node, loc)
        if isinstance(node, SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                self.lines[(*loc, index)] = item.start_mark.line + 1
                items.append(self.build(item, (*loc, index)))
            return items
        if isinstance(node, ScalarNode) and node.style == "|":
            # The text of a literal block starts on the line after the "|" indicator.
            self.literal_starts[loc] = node.start_mark.line + 2
        return self._loader.construct_object(node, deep=True)

    def _mapping(self, node: MappingNode, loc: Loc) -> dict[Any, Any]:
        self._loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self._loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str | int):
                self.problems.append(f"{self._name}:{line}: {format_loc(loc)}: bad key {key!r}")
                continue
            if key in result:
                field_loc = format_loc((*loc, key))
                self.problems.append(f"{self._name}:{line}: {field_loc}: duplicate key {key!r}")
                continue
            self.lines[(*loc, key)] = line
            result[key] = self.build(value_node, (*loc, key))
        return result
