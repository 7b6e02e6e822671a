"""The live stream's sans-I/O core imports no I/O, and the engine none of the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.imports import imported_top_level_names

LIVE = Path(__file__).parent.parent.parent / "live"
CORE_MODULES = ["protocol.py", "session.py", "errors.py"]
ALLOWED = {"__future__", "collections", "dataclasses", "enum", "json", "re", "typing", "live"}


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_only_the_stdlib(module: str) -> None:
    names = imported_top_level_names((LIVE / module).read_text())
    assert names <= ALLOWED, f"live/{module} imports {sorted(names - ALLOWED)}"


@pytest.mark.parametrize("module", sorted(p.name for p in LIVE.glob("*.py")))
def test_the_live_engine_never_imports_the_other_engines_or_the_web_app(module: str) -> None:
    names = imported_top_level_names((LIVE / module).read_text())
    assert not names & {"realtime", "sfu", "web"}, f"live/{module} imports {sorted(names)}"
