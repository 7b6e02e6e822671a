"""The screenshots script (`make screenshots`) runs to the end and leaves real pictures of the
pages, laptop and phone, where it was told to."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.servers import ROOT

pytestmark = pytest.mark.browser

PNG = b"\x89PNG\r\n\x1a\n"


# A server, Chromium and a seeded tour in a subprocess: on a loaded 2-core machine this has
# taken over the suite's 180 s default, so it gets the subprocess's own limit.
@pytest.mark.timeout(660)
def test_the_screenshots_script_saves_each_page_at_laptop_and_phone_size(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "bench/screenshots.py", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    laptop = sorted(p.name for p in (tmp_path / "ordinateur").glob("*.png"))
    phone = sorted(p.name for p in (tmp_path / "telephone").glob("*.png"))
    assert laptop == phone and any("page-editeur" in name for name in laptop), laptop
    for picture in (tmp_path / "ordinateur").glob("*.png"):
        data = picture.read_bytes()
        width = int.from_bytes(data[16:20], "big")
        assert data.startswith(PNG) and width == 1280, picture.name
    for picture in (tmp_path / "telephone").glob("*.png"):
        width = int.from_bytes(picture.read_bytes()[16:20], "big")
        assert width == 390, f"{picture.name} is {width} px wide: something overflows on a phone"
