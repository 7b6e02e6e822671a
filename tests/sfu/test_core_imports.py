"""The SFU's sans-I/O cores import no asyncio, aiortc, av, Starlette, Redis or database; only
the aiortc glue imports aiortc, aioice, av or pylibsrtp."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.imports import CORES, imported_modules, imported_top_level_names

SFU = Path(__file__).parent.parent.parent / "sfu"
ALLOWED = {
    *("__future__", "collections", "dataclasses", "itertools", "json", "typing", "sfu"),
    *("ipaddress", "re", "struct", "time", "base64", "hashlib", "hmac"),
}
# One job each: ICE, the patches and typed views, packets in, frames in, frames and
# packetising, frames out, SRTP, the peers.
AIORTC_GLUE = {
    *("ice.py", "aiortc_internals.py", "receiving.py", "frame_assembly.py", "frames.py"),
    *("sending.py", "srtp.py", "peers.py"),
}
MEDIA_LIBRARIES = {"aiortc", "aioice", "av", "pylibsrtp"}


@pytest.mark.parametrize("module", CORES["sfu"])
def test_core_module_imports_only_the_stdlib_and_other_cores(module: str) -> None:
    names = imported_top_level_names((SFU / f"{module}.py").read_text())
    assert names <= ALLOWED, f"sfu/{module}.py imports {sorted(names - ALLOWED)}"


def test_cores_import_only_cores_from_the_package() -> None:
    cores = {f"sfu.{name}" for name in CORES["sfu"]}
    for module in CORES["sfu"]:
        names = imported_modules((SFU / f"{module}.py").read_text(), f"sfu.{module}")
        # `from sfu.x import Name` lists `sfu.x.Name` too: the module is the first two parts.
        reached = {".".join(n.split(".")[:2]) for n in names if n.startswith("sfu.")}
        assert reached <= cores, (module, sorted(reached - cores))


def test_only_the_aiortc_glue_imports_aiortc() -> None:
    for path in sorted(SFU.rglob("*.py")):
        names = imported_top_level_names(path.read_text())
        if path.name not in AIORTC_GLUE:
            assert not names & MEDIA_LIBRARIES, path.relative_to(SFU)
    for name in AIORTC_GLUE:
        assert (SFU / name).is_file(), name
