"""The sans-I/O core of the realtime engine imports no I/O: only the stdlib, pycrdt and the
shared token bucket (itself pure)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REALTIME = Path(__file__).parent.parent.parent / "realtime"
ROOT = REALTIME.parent
CORE_MODULES = ["protocol.py", "awareness.py", "room.py", "errors.py"]
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
    "plumbing.ratelimit",
}


def imported_top_level_names(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # The shared plumbing holds I/O (the bus) beside pure parts: named in full.
            top = node.module.split(".")[0]
            names.add(node.module if top == "plumbing" else top)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            names.add("__import__")  # dynamic imports would dodge this check
    return names


@pytest.mark.parametrize(
    "module", [f"realtime/{name}" for name in CORE_MODULES] + ["plumbing/ratelimit.py"]
)
def test_core_module_imports_only_the_stdlib_and_pycrdt(module: str) -> None:
    names = imported_top_level_names((ROOT / module).read_text())
    assert names <= ALLOWED, f"{module} imports {sorted(names - ALLOWED)}"


@pytest.mark.parametrize(
    "source",
    [
        "import asyncio",
        "from starlette.websockets import WebSocket",
        "import redis.asyncio as redis",
        "def f():\n    import time\n    return time.time()",
        "from socket import socket",
        "sqlalchemy = __import__('sqlalchemy')",
        "from plumbing.bus import RedisBus",
    ],
)
def test_the_check_catches_io_imports(source: str) -> None:
    assert not imported_top_level_names(source) <= ALLOWED


def test_relative_imports_stay_inside_the_core() -> None:
    for module in CORE_MODULES:
        tree = ast.parse((REALTIME / module).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                assert node.module in {"errors", "protocol", "awareness"}, (
                    module,
                    node.module,
                )
