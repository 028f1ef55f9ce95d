"""The layers of DESIGN.md, checked on every module's imports (read with ``ast``, nothing is imported).

Why: the layering is what keeps the domain and the services testable without a database, a web
framework or an exchange SDK, and it only holds if a test refuses every way around it. So besides
plain imports pointing up, this test refuses relative imports (the code base uses absolute ones
only), ``importlib.import_module``/``__import__`` string literals and ``"tradewind.x:attr"``
strings handed to loaders such as uvicorn (checked like imports), ``tradewind.<x>`` names that
are no known layer or top-level module, and third-party packages outside each layer's allow-list.
Every problem is reported as ``path:line: module imports name: why``.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "tradewind"

# Lower layers first; a module may import its own layer and the ones before it in this list.
LAYERS = ["domain", "analysis", "analysts", "market", "signals", "trading", "assistants", "adapters", "top"]
# Every name allowed right under ``tradewind.``, and its layer (py.typed is a marker, not a module).
LAYER_OF = {name: name for name in LAYERS[:-1]} | {"storage": "adapters"}
LAYER_OF |= dict.fromkeys(["api", "web", "cli", "bootstrap", "settings", "client", "__main__"], "top")

# Third-party roots (besides the standard library) each layer may import, from DESIGN.md's table
# and what the code really needs; ``None`` means anything. Widen a list on purpose, never to pass.
_ANALYSTS = {"numpy", "pydantic", "orjson"}  # the LLM reply's JSON schema and the prompt's JSON
_MARKET = {"numpy", "orjson", "ccxt", "alpaca", "requests"}  # feed SDKs; requests is alpaca-py's transport
ALLOWED: dict[str, frozenset[str] | None] = {
    "domain": frozenset({"numpy", "numba"}),  # numba: the one-pass candle check every analysis runs
    "analysis": frozenset({"numpy", "talib", "numba"}),
    "analysts": frozenset(_ANALYSTS),
    "market": frozenset(_MARKET),
    "signals": frozenset({"numpy"}),
    "trading": frozenset({"numpy"}),
    "assistants": frozenset(_ANALYSTS),  # tool schemas, JSON and the tools' arrays, like analysts/
    "adapters": frozenset(_ANALYSTS | _MARKET | {"sqlalchemy", "alembic", "psycopg", "openai", "redis", "httpx",
                                                  "pypdf", "argon2", "jwt"}),  # argon2, jwt: API keys and bearer JWTs
    "top": None,
}
# DESIGN.md names these; they must never appear below adapters/.
FRAMEWORKS = {"fastapi", "starlette", "sqlalchemy", "alembic", "httpx", "openai", "uvicorn", "redis", "typer"}

IMPORTERS = {"import_module", "__import__"}  # their first string argument is an import
LOADER_STRING = re.compile(r"tradewind(\.\w+)+(:[\w.]+)?")  # e.g. uvicorn's "tradewind.api.app:create_app"


def layer(module: str) -> str | None:
    """The layer of a dotted ``tradewind`` name, or None if its package is unknown.

    The root package counts as domain: every module imports its ``__init__``, so it must import nothing above.
    """
    parts = module.split(".")
    return "domain" if len(parts) < 2 else LAYER_OF.get(parts[1])


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        found.append((".".join(rel.parts).removesuffix(".__init__"), path))
    return found


def imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of each import; a relative one keeps its leading dots."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if module == "tradewind":  # from tradewind import market -> tradewind.market; __version__ stays
                names = (alias.name for alias in node.names)
                yield from ((node.lineno, module if n.startswith("__") else f"{module}.{n}") for n in names)
            else:
                yield node.lineno, module
        elif isinstance(node, ast.Call):
            func = node.func
            callee = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            for i, arg in enumerate([*node.args, *(keyword.value for keyword in node.keywords)]):
                if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                    continue
                if (callee in IMPORTERS and i == 0) or LOADER_STRING.fullmatch(arg.value):
                    yield arg.lineno, arg.value.partition(":")[0]


def problems(module: str, path: Path) -> list[str]:
    """Every layering problem of one module file (empty when it is fine)."""
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    own = layer(module)
    found = [] if own else [f"{shown}: {module} sits in an unknown package (add it to LAYER_OF on purpose)"]
    for line, name in imported(ast.parse(path.read_text(), filename=str(path))):
        at = f"{shown}:{line}: {module} ({own}) imports {name}"
        root = name.split(".")[0]
        if name.startswith("."):
            found.append(f"{at}: a relative import (use an absolute one)")
        elif root == "tradewind":
            target = layer(name)
            if target is None:
                found.append(f"{at}: tradewind.{name.split('.')[1]} is no known layer or top-level module")
            elif own and LAYERS.index(target) > LAYERS.index(own):
                found.append(f"{at}: {target} is a higher layer")
        elif own and root not in sys.stdlib_module_names:
            allowed = ALLOWED[own]
            if allowed is not None and root not in allowed:
                found.append(f"{at}: third-party {root!r} is not in the {own} allow-list")
    return found


def test_every_layer_module_is_seen() -> None:
    names = {name for name, _ in modules()}
    assert {"tradewind.domain.candle", "tradewind.market.streamer", "tradewind.api.app"} <= names


def test_allow_lists_cover_the_layers_and_keep_frameworks_out() -> None:
    assert ALLOWED.keys() == set(LAYERS) and set(LAYER_OF.values()) == set(LAYERS)
    for name in LAYERS[: LAYERS.index("adapters")]:
        assert not (ALLOWED[name] or set()) & FRAMEWORKS, f"a framework is allowed in {name}/"


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_imports_respect_the_layers(module: str, path: Path) -> None:
    found = problems(module, path)
    assert not found, "\n".join(found)


BAD = """\
import importlib
import fastapi
import uvicorn
from tradewind.api.app import create_app
from . import sibling
from ..market import streamer
from tradewind.nowhere import thing
importlib.import_module("tradewind.storage.db")
__import__("sqlalchemy.orm")
uvicorn.run("tradewind.cli:app")
"""
GOOD = """\
from __future__ import annotations
import importlib
import numpy as np
from tradewind import __version__, domain
from tradewind.domain.candle import Candle
importlib.import_module("json")
print("tradewind.api.app:create_app is only text here")
"""


def test_the_checker_reports_each_bad_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(BAD)
    found = "\n".join(problems("tradewind.domain.bad", bad))
    expected = [
        "2: tradewind.domain.bad (domain) imports fastapi: third-party 'fastapi' is not in the domain allow-list",
        "3: tradewind.domain.bad (domain) imports uvicorn: third-party",
        "4: tradewind.domain.bad (domain) imports tradewind.api.app: top is a higher layer",
        "5: tradewind.domain.bad (domain) imports .: a relative import",
        "6: tradewind.domain.bad (domain) imports ..market: a relative import",
        "7: tradewind.domain.bad (domain) imports tradewind.nowhere: tradewind.nowhere is no known layer",
        "8: tradewind.domain.bad (domain) imports tradewind.storage.db: adapters is a higher layer",
        "9: tradewind.domain.bad (domain) imports sqlalchemy.orm: third-party 'sqlalchemy'",
        "10: tradewind.domain.bad (domain) imports tradewind.cli: top is a higher layer",
    ]
    for line in expected:
        assert f"{bad}:{line}" in found, f"not reported: {line}\n{found}"
    assert len(found.splitlines()) == len(expected)


def test_the_checker_accepts_a_good_module_but_not_an_unknown_package(tmp_path: Path) -> None:
    good = tmp_path / "good.py"
    good.write_text(GOOD)
    assert problems("tradewind.domain.good", good) == []
    unknown = f"{good}: tradewind.nowhere.good sits in an unknown package (add it to LAYER_OF on purpose)"
    assert problems("tradewind.nowhere.good", good) == [unknown]
