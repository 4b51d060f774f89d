"""One list of phrase keys: every key the code asks for is in ``PhraseKey``, and ``kb check``
requires exactly that list, so a phrase deleted from phrases.yml fails the check (with file and
line) instead of failing at run time."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge_base import PhraseKey, check_knowledge_base
from knowledge_base.checks import REQUIRED_PHRASES
from knowledge_base.phrase_keys import PHRASE_KEYS
from tests.support.kb_files import line_of

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "handoff", "channels", "knowledge_base")
# Keys the checker did not require before (they failed only at run time), and the new ones.
ONCE_UNCHECKED = (
    "cancel_button", "handoff_sorry", "rating_invalid", "returned_to_bot", "contact_verified",
    "contact_refused", "nlu_down_retry", "processing_failed", "handoff_limit",
)


# -- the scanner ------------------------------------------------------------------------------

def _keys_in(node: ast.expr, names: dict[str, list[ast.expr]]) -> Iterator[tuple[str, int]]:
    """Phrase keys an argument can be: a literal, ``PhraseKey.X``, either branch of ``a if c
    else b``, or a local name assigned one of those in the same function."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value, node.lineno
    elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
          and node.value.id == "PhraseKey"):
        member = PhraseKey.__members__.get(node.attr)
        yield (member.value if member else f"PhraseKey.{node.attr}"), node.lineno
    elif isinstance(node, ast.IfExp):
        yield from _keys_in(node.body, names)
        yield from _keys_in(node.orelse, names)
    elif isinstance(node, ast.Name):
        for value in names.pop(node.id, []):  # pop: a name assigned from itself ends here
            yield from _keys_in(value, names)


def _assignments(scope: ast.AST) -> dict[str, list[ast.expr]]:
    found: dict[str, list[ast.expr]] = {}
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found.setdefault(target.id, []).append(node.value)
    return found


def _key_arguments(call: ast.Call) -> list[ast.expr]:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    args: list[ast.expr] = []
    if name == "phrase" and call.args:
        args.append(call.args[0])
    elif name == "_say" and len(call.args) >= 2:
        args.append(call.args[1])
    return args + [kw.value for kw in call.keywords if kw.arg in ("phrase", "phrase_key")]


class _Scanner(ast.NodeVisitor):
    def __init__(self) -> None:
        self.scopes: list[ast.AST] = []
        self.used: set[tuple[str, int]] = set()

    def visit_Module(self, node: ast.Module) -> None:
        self._in_scope(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._in_scope(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._in_scope(node)

    def visit_Call(self, node: ast.Call) -> None:
        for arg in _key_arguments(node):  # names resolve in the innermost function
            self.used.update(_keys_in(arg, _assignments(self.scopes[-1])))
        self.generic_visit(node)

    def _in_scope(self, node: ast.AST) -> None:
        self.scopes.append(node)
        self.generic_visit(node)
        self.scopes.pop()


def phrase_keys_used(source: str) -> list[tuple[str, int]]:
    """(key, line) for every phrase key used in ``source``: ``*.phrase(KEY, ...)``,
    ``*._say(decision, KEY, ...)`` and keyword arguments ``phrase=KEY`` / ``phrase_key=KEY``."""
    scanner = _Scanner()
    scanner.visit(ast.parse(source))
    return sorted(scanner.used, key=lambda pair: (pair[1], pair[0]))


def code_files() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


# -- the tests --------------------------------------------------------------------------------

def test_every_phrase_key_the_code_uses_is_in_the_one_list() -> None:
    unknown = [
        f"{path.relative_to(ROOT)}:{line}: {key!r}"
        for path in code_files()
        for key, line in phrase_keys_used(path.read_text(encoding="utf-8"))
        if key not in PHRASE_KEYS
    ]
    assert unknown == [], "add these to knowledge_base/phrase_keys.py (and phrases.yml)"


def test_the_scanner_sees_every_way_the_code_names_a_key() -> None:
    used = {key for path in code_files()
            for key, _ in phrase_keys_used(path.read_text(encoding="utf-8"))}
    # a literal (handoff), _say's second argument and a conditional name (policy), a
    # keyword (policy's escalation), and the core's own key
    assert {"cancel_button", "handoff_sorry", "non_text", "contact_verified", "contact_refused",
            "nlu_unavailable", "processing_failed"} <= used
    snippet = (
        "def f(kb, decision, ok):\n"
        "    key = 'typo_one' if ok else PhraseKey.HANDOFF_SORRY\n"
        "    kb.phrase('typo_two', 'ru'); self._say(decision, key)\n"
        "    self._escalate(decision, 'x', phrase='typo_three'); kb.phrase(PhraseKey.NOPE, 'ru')\n"
    )
    assert phrase_keys_used(snippet) == [
        ("handoff_sorry", 2), ("typo_one", 2), ("typo_two", 3), ("PhraseKey.NOPE", 4),
        ("typo_three", 4),
    ]


def test_the_checker_requires_exactly_the_one_list() -> None:
    assert REQUIRED_PHRASES == PHRASE_KEYS == tuple(PhraseKey)
    assert len(set(PHRASE_KEYS)) == len(PHRASE_KEYS)
    assert check_knowledge_base() == []


def _drop_phrase(path: Path, key: str) -> None:
    """Delete the block ``  key:`` (and its indented lines) from phrases.yml."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.rstrip() == f"  {key}:")
    end = start + 1
    while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
        end += 1
    path.write_text("".join(lines[:start] + lines[end:]), encoding="utf-8")


@pytest.mark.parametrize("key", ONCE_UNCHECKED)
def test_deleting_a_phrase_the_code_uses_fails_the_check(data_dir: Path, key: str) -> None:
    path = data_dir / "phrases.yml"
    _drop_phrase(path, key)
    assert f"  {key}:" not in path.read_text(encoding="utf-8")
    assert check_knowledge_base(data_dir) == [
        f"{path.resolve()}:{line_of(path, 'phrases:')}: phrases: missing phrase {key!r}"
    ]


def test_every_key_in_the_list_is_used_by_the_code() -> None:
    used = {key for path in code_files()
            for key, _ in phrase_keys_used(path.read_text(encoding="utf-8"))}
    assert [key for key in PHRASE_KEYS if key not in used] == [], "stale keys in the list"
