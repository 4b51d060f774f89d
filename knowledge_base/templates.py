"""Placeholders in texts: ``{country}``, ``{phone_abroad}``; ``{{`` and ``}}`` are literal braces."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_TOKEN = re.compile(r"\{\{|\}\}|\{(?P<inner>[^{}]*)\}|[{}]")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Placeholder:
    name: str
    offset: int


@dataclass(frozen=True)
class TemplateProblem:
    message: str
    offset: int


def scan(text: str) -> tuple[list[Placeholder], list[TemplateProblem]]:
    """The placeholders of ``text`` and the malformed braces in it."""
    found: list[Placeholder] = []
    problems: list[TemplateProblem] = []
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        inner = match.group("inner")
        if inner is None:
            problems.append(
                TemplateProblem(
                    f"unmatched {token!r} (write {token * 2} for a brace)", match.start()
                )
            )
        elif _NAME.match(inner):
            found.append(Placeholder(inner, match.start()))
        else:
            problems.append(
                TemplateProblem(f"bad placeholder {token!r}: use {{name}} only", match.start())
            )
    return found, problems


def placeholder_names(text: str) -> set[str]:
    return {placeholder.name for placeholder in scan(text)[0]}


def render(text: str, variables: Mapping[str, object]) -> str:
    """Fill the placeholders; KeyError names a missing variable."""
    return text.format_map(variables)
