"""The lines between the packages hold: the engines (realtime/, sfu/) never import the web app
nor each other, the shared plumbing imports none of them, and an engine's sans-I/O cores import
neither its I/O shell nor the I/O libraries (aiortc, Starlette, Redis, the database).

Every import counts, at any depth (in a function, under TYPE_CHECKING). Each check lists all
it finds and fails with the whole list.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.imports import CORES, imported_modules
from tests.support.servers import ROOT

PACKAGES = ("plumbing", "realtime", "sfu", "web")
ENGINES = ("realtime", "sfu")
# What a core may never import, whatever its engine.
IO_LIBRARIES = {
    *("asyncio", "socket", "aiortc", "aioice", "av", "pylibsrtp", "starlette", "uvicorn"),
    *("redis", "sqlalchemy", "aiosqlite", "asyncpg"),
}


def modules() -> Iterator[tuple[str, str]]:
    """(dotted name, source) of every module of the product."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            dotted = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            if dotted.startswith("web.migrations"):
                continue  # Alembic's scripts
            yield dotted, path.read_text()


def crossings(module: str, source: str) -> list[str]:
    """Every import of `module` that crosses a line it may not cross: `module -> name: why`."""
    found: set[str] = set()
    package = module.split(".")[0]
    core = package in CORES and module.split(".", 1)[-1] in CORES[package]
    cores = {f"{package}.{name}" for name in CORES.get(package, ())}
    for name in imported_modules(source, module):
        top = name.split(".")[0]
        reached = ".".join(name.split(".")[:2])  # the module of `from package.module import x`
        if package in ENGINES and top == "web":
            found.add(f"{module} -> {reached}: an engine imports the web app")
        elif package in ENGINES and top in ENGINES and top != package:
            found.add(f"{module} -> {reached}: an engine imports another engine")
        elif package == "plumbing" and top in ("realtime", "sfu", "web"):
            found.add(f"{module} -> {reached}: the shared plumbing imports what it serves")
        elif core and top in IO_LIBRARIES:
            found.add(f"{module} -> {top}: a sans-I/O core imports I/O")
        elif core and top == package and name != package and reached not in cores:
            found.add(f"{module} -> {reached}: a core imports its engine's shell")
    return sorted(found)


def test_no_module_imports_across_the_lines_between_packages() -> None:
    found = [line for module, source in modules() for line in crossings(module, source)]
    assert not found, "Imports across the lines (" + str(len(found)) + "):\n  " + "\n  ".join(found)


def test_the_cores_named_exist() -> None:
    for package, names in CORES.items():
        for name in names:
            assert (ROOT / package / f"{name}.py").is_file(), f"{package}/{name}.py"


# --- the check catches what it is meant to -------------------------------------------------


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("sfu.endpoint", "from web.config import Settings"),
        ("sfu.node", "def f():\n    from web.visio import access"),
        ("realtime.rooms", "import sfu.room"),
        ("sfu.room_runtime", "from realtime.protocol import SyncStep1"),
        ("plumbing.bus", "from sfu.errors import SfuError"),
        ("sfu.rtp", "import aiortc"),
        ("sfu.room", "from sfu.peers import PublisherPeer"),
        ("sfu.forwarding", "from .node import SfuNode"),
        ("realtime.protocol", "from realtime.rooms import DocumentRooms"),
        ("realtime.awareness", "import asyncio"),
    ],
)
def test_the_check_finds_an_import_across_a_line(module: str, source: str) -> None:
    assert crossings(module, source)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("web.app", "from sfu.endpoint import VisioEndpoint\nfrom realtime.rooms import X"),
        ("sfu.node", "from plumbing.bus import Bus\nfrom sfu.peers import PublisherPeer"),
        ("sfu.room", "from sfu.signaling import Chat\nfrom sfu import errors"),
        ("realtime.room", "from .protocol import SyncStep1\nimport pycrdt"),
    ],
)
def test_the_check_lets_imports_within_the_lines_through(module: str, source: str) -> None:
    assert crossings(module, source) == []
