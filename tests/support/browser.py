"""Debian's Chromium driven by Playwright, and a person signed in through its pages."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.support.people import PASSWORD
from tests.support.servers import ROOT, AtelierServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextlib.contextmanager
def chromium(*args: str, bundle: str = "page.js") -> Iterator[Browser]:
    """One headless Chromium (contexts in it are separate people), launched with `args` added;
    the test is skipped without Chromium and fails when the front-end `bundle` is not built."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium (make sysdeps)")
    if not (ROOT / "web" / "static" / "build" / bundle).exists():
        pytest.fail(f"the {bundle} bundle is not built: run `make bundle`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *args]
        )
        try:
            yield browser
        finally:
            browser.close()


def signed_in(
    browser: Browser, server: AtelierServer, email: str, **options: Any
) -> BrowserContext:
    """A browser context (a person) signed in with the sign-in form; `options`: more of
    Playwright's context options (a time zone, a viewport...)."""
    context = browser.new_context(base_url=server.http_url, **options)
    page = context.new_page()
    page.goto("/connexion")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter", exact=True).click()
    expect(page).not_to_have_url(f"{server.http_url}/connexion")
    page.close()
    return context
