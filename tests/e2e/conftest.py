"""Browser fixtures: Debian's Chromium driven by Playwright, and helpers to open the editor."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ATELIER, ROOT, AtelierServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser() -> Iterator[object]:
    """One headless Chromium for the test (contexts in it are separate people)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium (make sysdeps)")
    if not (ROOT / "web" / "static" / "build" / "page.js").exists():
        pytest.fail("the editor bundle is not built: run `make bundle`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def mint_token(server: AtelierServer, prefix: str, *, access: str = "rw", name: str = "") -> str:
    """`atelier token` with a display name (the caret label of whoever opens the page)."""
    args = [*ATELIER, "token", "--docs", prefix, "--access", access]
    if name:
        args += ["--name", name]
    out = subprocess.run(
        args, cwd=ROOT, env=server.env, capture_output=True, text=True, check=True
    ).stdout
    return out.strip().splitlines()[-1]
