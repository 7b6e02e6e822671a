"""Signing out in Chromium leaves none of the documents on the computer: the editor's
IndexedDB copies, the service worker and its offline cache are gone (Clear-Site-Data)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import signed_in
from tests.support.editor import open_page
from tests.support.servers import AtelierServer
from tests.support.space_seeds import seed_space

pytestmark = pytest.mark.browser

WHAT_THE_SITE_KEEPS = """async () => ({
  databases: (await indexedDB.databases()).map((d) => d.name),
  caches: await caches.keys(),
  workers: (await navigator.serviceWorker.getRegistrations()).length,
})"""


def kept(page: Page) -> dict[str, object]:
    result: dict[str, object] = page.evaluate(WHAT_THE_SITE_KEEPS)
    return result


def test_signing_out_clears_the_offline_copies_of_documents(
    browser: Browser, server: AtelierServer
) -> None:
    with ThreadPoolExecutor(1) as pool:  # Playwright's loop lives on this thread
        space = pool.submit(asyncio.run, seed_space(server.data_dir)).result()
    context = signed_in(browser, server, "alice@agri.gouv.fr")
    try:
        page = open_page(context, space.notes_url)
        expect(page.locator("#editor")).to_have_attribute("data-offline-ready", "true")
        before = kept(page)
        assert before["databases"] and before["caches"] and before["workers"], before
        page.get_by_role("button", name="Se déconnecter").click()
        expect(page).to_have_url(f"{server.http_url}/connexion?avis=deconnecte")
        assert kept(page) == {"databases": [], "caches": [], "workers": 0}
    finally:
        context.close()
