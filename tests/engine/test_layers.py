"""The dependency direction the style guide draws, checked on the source's imports.

The pure engine imports nothing from the store, the services, the API, SQLAlchemy, FastAPI
or the settings; the quality side of the evaluation (what ``matcher eval`` runs) imports no
services and no store, so it measures the engine the service ships, not the service.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
ENGINE_FORBIDDEN = (
    "matcher.store",
    "matcher.services",
    "matcher.api",
    "matcher.settings",
    "sqlalchemy",
    "fastapi",
)
QUALITY_FORBIDDEN = ("matcher.store", "matcher.services", "matcher.api")
QUALITY_MODULES = ("dataset.py", "metrics.py", "systems.py", "quality.py", "quality_report.py")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at top level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def offending(path: Path, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        module
        for module in imported_modules(path)
        if any(module == prefix or module.startswith(f"{prefix}.") for prefix in forbidden)
    )


@pytest.mark.parametrize(
    "path", sorted((ROOT / "matcher" / "engine").rglob("*.py")), ids=lambda path: path.name
)
def test_the_engine_imports_nothing_above_it(path: Path) -> None:
    assert offending(path, ENGINE_FORBIDDEN) == []


@pytest.mark.parametrize("name", QUALITY_MODULES)
def test_the_quality_evaluation_imports_no_services_or_store(name: str) -> None:
    assert offending(ROOT / "evaluation" / name, QUALITY_FORBIDDEN) == []
