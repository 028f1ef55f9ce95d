"""The import direction of DESIGN.md, checked on every module's imports (read with ``ast``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "tradewind"

# Lower layers first; a module may import its own layer and the ones above it in this list.
LAYERS = ["domain", "analysis", "analysts", "market", "signals", "trading", "assistants", "adapters", "top"]
LAYER_OF = {"adapters": "adapters", "storage": "adapters"}
FRAMEWORKS = {"fastapi", "starlette", "sqlalchemy", "alembic", "httpx", "openai", "uvicorn", "redis", "typer"}


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) < 2:
        return "top"
    head = parts[1]
    if head in LAYERS:
        return head
    return LAYER_OF.get(head, "top")


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        found.append((name, path))
    return found


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_every_layer_module_is_seen() -> None:
    names = {name for name, _ in modules()}
    assert {"tradewind.domain.candle", "tradewind.market.streamer", "tradewind.api.app"} <= names


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_imports_point_down(module: str, path: Path) -> None:
    own = LAYERS.index(layer(module))
    for name in imports(path):
        root = name.split(".")[0]
        if root == "tradewind":
            target = layer(name)
            assert LAYERS.index(target) <= own, f"{module} ({layer(module)}) imports {name} ({target}), a higher layer"
        elif own < LAYERS.index("adapters"):
            assert root not in FRAMEWORKS, f"{module} imports framework {root!r} below adapters/"


def test_the_checker_catches_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from tradewind.api.app import create_app\nimport sqlalchemy\n")
    found = imports(bad)
    assert LAYERS.index(layer(found[0])) > LAYERS.index(layer("tradewind.domain.bad"))
    assert "sqlalchemy" in found
