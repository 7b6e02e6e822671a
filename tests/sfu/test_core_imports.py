"""The SFU's sans-I/O cores import no asyncio, aiortc, av, Starlette, Redis or database."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.imports import imported_top_level_names

SFU = Path(__file__).parent.parent.parent / "sfu"
CORE_MODULES = [
    "signaling.py",
    "room.py",
    "forwarding.py",
    "feedback.py",
    "errors.py",
    "candidates.py",
]
ALLOWED = {
    *("__future__", "collections", "dataclasses", "itertools", "json", "typing", "sfu"),
    *("ipaddress", "re"),
}


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_only_the_stdlib_and_other_cores(module: str) -> None:
    names = imported_top_level_names((SFU / module).read_text())
    assert names <= ALLOWED, f"sfu/{module} imports {sorted(names - ALLOWED)}"


def test_cores_import_only_cores_from_the_package() -> None:
    import ast

    for module in CORE_MODULES:
        for node in ast.walk(ast.parse((SFU / module).read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sfu"):
                assert f"{node.module.removeprefix('sfu.')}.py" in CORE_MODULES, (
                    module,
                    node.module,
                )


def test_only_peer_imports_aiortc() -> None:
    for path in SFU.glob("*.py"):
        names = imported_top_level_names(path.read_text())
        if path.name != "peer.py":
            assert not names & {"aiortc", "aioice", "av"}, path.name
