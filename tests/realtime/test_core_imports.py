"""The sans-I/O core of the realtime engine imports no I/O: only the stdlib and pycrdt."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REALTIME = Path(__file__).parent.parent.parent / "realtime"
CORE_MODULES = ["protocol.py", "awareness.py", "room.py", "errors.py", "ratelimit.py"]
ALLOWED = {
    "__future__",
    "bisect",
    "collections",
    "dataclasses",
    "enum",
    "itertools",
    "json",
    "typing",
    "pycrdt",
}


def imported_top_level_names(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            names.add("__import__")  # dynamic imports would dodge this check
    return names


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_only_the_stdlib_and_pycrdt(module: str) -> None:
    names = imported_top_level_names((REALTIME / module).read_text())
    assert names <= ALLOWED, f"realtime/{module} imports {sorted(names - ALLOWED)}"


@pytest.mark.parametrize(
    "source",
    [
        "import asyncio",
        "from starlette.websockets import WebSocket",
        "import redis.asyncio as redis",
        "def f():\n    import time\n    return time.time()",
        "from socket import socket",
        "sqlalchemy = __import__('sqlalchemy')",
    ],
)
def test_the_check_catches_io_imports(source: str) -> None:
    assert not imported_top_level_names(source) <= ALLOWED


def test_relative_imports_stay_inside_the_core() -> None:
    for module in CORE_MODULES:
        tree = ast.parse((REALTIME / module).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                assert node.module in {"errors", "protocol", "awareness", "ratelimit"}, (
                    module,
                    node.module,
                )
