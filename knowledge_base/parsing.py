"""Read one YAML file and validate its shape; every problem names file, line and field."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from knowledge_base import schema
from knowledge_base.errors import KnowledgeBaseError
from knowledge_base.yaml_doc import Loc, YamlDocument, read_yaml

M = TypeVar("M", bound=BaseModel)

_LANGUAGE_NAMES = {"ru": "Russian", "en": "English", "be": "Belarusian"}


@dataclass(frozen=True)
class Parsed(Generic[M]):
    """A valid file: its document (for lines) and its model."""

    doc: YamlDocument
    model: M


def parse_file(path: Path, model: type[M]) -> tuple[Parsed[M] | None, list[str]]:
    """``(parsed, [])`` for a valid file, ``(None, problems)`` otherwise."""
    try:
        doc = read_yaml(path)
    except KnowledgeBaseError as exc:
        return None, exc.problems
    try:
        return Parsed(doc, model.model_validate(doc.data)), []
    except ValidationError as exc:
        errors = exc.errors()
        return None, [_problem(doc, error) for error in errors if not _consequence(error, errors)]


def _consequence(error: Any, errors: list[Any]) -> bool:
    """A list that is "too short" only because its items failed is not a problem of its own."""
    if error["type"] != "too_short":
        return False
    loc = error["loc"]
    return any(len(other["loc"]) > len(loc) and other["loc"][: len(loc)] == loc for other in errors)


def _problem(doc: YamlDocument, error: Any) -> str:
    loc: Loc = tuple(part for part in error["loc"] if part != "[key]")
    kind = error["type"]
    if kind == "missing" and loc:
        return doc.problem(loc[:-1], _missing(loc[-1]))
    if kind == "extra_forbidden" and loc:
        name = str(loc[-1])
        return doc.problem(loc[:-1], f"unknown field {name!r}{_suggest(name)}", line=doc.line(loc))
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind in ("model_type", "dict_type") and not loc:
        message = "expected a mapping at the top of the file"
    elif kind == "literal_error" or kind.startswith(("string_", "bool_", "float_", "int_")):
        message = f"{message} (got {error.get('input')!r})"
    return doc.problem(loc, message)


def _missing(name: str | int) -> str:
    language = _LANGUAGE_NAMES.get(str(name))
    if language is not None:
        return f"missing {language} text {name!r}"
    return f"missing required field {name!r}"


def _known_fields() -> list[str]:
    names: set[str] = set()
    for value in vars(schema).values():
        if isinstance(value, type) and issubclass(value, BaseModel):
            names.update(value.model_fields)
    return sorted(names)


def _suggest(name: str) -> str:
    close = difflib.get_close_matches(name, _known_fields(), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
