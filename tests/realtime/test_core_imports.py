"""The sans-I/O core of the realtime engine imports no I/O: only the stdlib, pycrdt and the
shared token bucket (itself pure)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.imports import imported_top_level_names

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
