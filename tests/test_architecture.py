"""The direction of imports (docs/architecture.md): nlu <- knowledge_base <- core <- channels,
handoff <- the composition root. A module that reaches up fails here, naming file and line."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("backoffice", "bot", "channels", "handoff", "knowledge_base", "nlu")
# The one composition root: builds everything from settings, so it may import every part.
COMPOSITION_ROOT = {
    "bot/app.py", "bot/services.py", "bot/cli.py", "bot/commands.py", "bot/nlu_commands.py",
    # the schema of the whole app: every part's tables join the metadata for autogenerate
    "bot/migrations/env.py",
}
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "nlu": ("bot", "channels", "handoff", "knowledge_base"),
    "knowledge_base": ("bot", "channels", "handoff"),
    "bot": ("backoffice", "channels", "handoff"),
    "channels": ("backoffice", "handoff"),
    "handoff": ("backoffice", "channels"),
    "backoffice": ("channels", "handoff"),
}


def _modules() -> list[Path]:
    files: list[Path] = []
    for package in PACKAGES:
        files += [
            path for path in (ROOT / package).rglob("*.py")
            if "rasa_addons" not in path.parts and "versions" not in path.parts
        ]
    return sorted(files)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_imports_point_one_way() -> None:
    problems = []
    for path in _modules():
        relative = path.relative_to(ROOT).as_posix()
        if relative in COMPOSITION_ROOT:
            continue
        package = relative.split("/", 1)[0]
        for line, module in _imports(path):
            top = module.split(".", 1)[0]
            if top in FORBIDDEN[package]:
                problems.append(f"{relative}:{line}: {package}/ must not import {module}")
    assert not problems, "\n".join(problems)


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """The rule above would catch a core module importing a channel (it is not vacuous)."""
    bad = tmp_path / "bad.py"
    bad.write_text("from channels.web import WebChatChannel\n", encoding="utf-8")
    assert _imports(bad) == [(1, "channels.web")]
    assert "channels" in FORBIDDEN["bot"]


@pytest.mark.parametrize(
    ("module", "must_not_load"),
    [
        ("handoff.tables", ("handoff.api", "handoff.page", "fastapi")),
        ("bot.storage", ("channels", "handoff", "fastapi")),
        ("nlu", ("bot", "knowledge_base", "fastapi")),
    ],
)
def test_tables_and_lower_layers_import_alone(module: str, must_not_load: tuple[str, ...]) -> None:
    """Importing tables (e.g. for migrations) must not drag in web routes or upper layers."""
    code = (
        f"import sys, {module}\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {must_not_load!r} "
        f"or m in {must_not_load!r})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"importing {module} loaded: {result.stdout.strip()}"


def test_nothing_points_outside_the_repository() -> None:
    """A user who clones the repository has nothing beside it: no README, Makefile, script or
    module may reach a path outside it."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    outside = ("../shared", "/work/", "../eval")
    problems = []
    for name in tracked:
        path = ROOT / name
        if path.suffix not in (".md", ".py", ".yml", ".toml", ".sh", ".js", ".html", "") or (
            path.name == "test_architecture.py"
        ):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if any(marker in line for marker in outside):
                problems.append(f"{name}:{number}: {line.strip()[:100]}")
    assert problems == [], "\n".join(problems)
