"""Images in pages of spaces, in Chromium: an image copied from a page of one space into a page
of another shows to the readers of the second page, who cannot read the first.

The copy is made as the browser makes it: the HTML that ProseMirror writes to the clipboard
from the first page, pasted into the second.
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import signed_in
from tests.support.editor import open_page, surface, toolbar_button
from tests.support.images import png_file
from tests.support.people import PASSWORD, Who
from tests.support.servers import AtelierServer
from web.accounts.users import create_user
from web.database import create_engine, database_url
from web.spaces.guest_links import create_guest_link
from web.spaces.services import create_space
from web.spaces.tree import create_page

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Pages:
    plans_url: str  # in space A, which only Alice reads
    summary_url: str  # in space B, shared with a guest
    guest_token: str


async def _seed(data_dir: Path) -> Pages:
    engine = create_engine(database_url(data_dir.resolve(), None))
    try:
        alice = Who(
            await create_user(
                engine, email="alice@agri.gouv.fr", display_name="Alice Martin", password=PASSWORD
            )
        )
        a = await create_space(engine, alice, name="Projet Pont")
        b = await create_space(engine, alice, name="Partenaires")
        plans = await create_page(engine, alice, a.id, "Plans")
        summary = await create_page(engine, alice, b.id, "Synthèse")
        link = await create_guest_link(
            engine, alice, b.id, role="reader", page_id=summary.id, label="Prestataire"
        )
        return Pages(
            f"/espaces/{a.slug}/pages/{plans.id}",
            f"/espaces/{b.slug}/pages/{summary.id}",
            link.token,
        )
    finally:
        await engine.dispose()


@pytest.fixture
def pages(server: AtelierServer) -> Pages:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _seed(server.data_dir)).result()


def insert_image(page: Page, path: Path, alt: str) -> None:
    surface(page).click()
    toolbar_button(page, "image").click()
    dialog = page.get_by_role("dialog", name="Insérer une image")
    dialog.get_by_label("Fichier (PNG, JPEG, GIF ou WebP)").set_input_files(path)
    dialog.get_by_label("Texte alternatif (ce que montre l’image)").fill(alt)
    dialog.get_by_role("button", name="Insérer", exact=True).click()
    expect(dialog).to_be_hidden()


def paste_html(page: Page, html: str) -> None:
    surface(page).click()
    page.evaluate(
        """html => {
            const clipboard = new DataTransfer();
            clipboard.setData("text/html", html);
            const paste = new ClipboardEvent("paste", {
                clipboardData: clipboard, bubbles: true, cancelable: true,
            });
            document.querySelector("#editor .ProseMirror").dispatchEvent(paste);
        }""",
        html,
    )


def test_an_image_pasted_from_another_spaces_page_shows_to_the_readers_of_the_new_page(
    browser: Browser, server: AtelierServer, pages: Pages, tmp_path: Path
) -> None:
    alice_context = signed_in(browser, server, "alice@agri.gouv.fr")
    plans = open_page(alice_context, pages.plans_url)
    insert_image(plans, png_file(tmp_path), "Schéma du pont")
    expect(surface(plans).get_by_role("img", name="Schéma du pont")).to_have_js_property(
        "naturalWidth", 4
    )
    copied = str(plans.evaluate("window.atelier.editor.getHTML()"))
    assert f'src="{pages.plans_url}/images/' in copied

    guest = browser.new_context(base_url=server.http_url).new_page()
    guest.goto(f"/invite/{pages.guest_token}")
    guest.get_by_label("Votre nom").fill("Claire (prestataire)")
    guest.get_by_role("button", name="Entrer").click()
    expect(guest.locator("#editor")).to_have_attribute("data-ready", "true")

    summary = open_page(alice_context, pages.summary_url)
    paste_html(summary, copied)
    # The page's text comes to point at the new page, where the image was brought over...
    summary.wait_for_function(
        'url => window.atelier.editor.getHTML().includes(`src="${url}/images/`)',
        arg=pages.summary_url,
    )
    assert pages.plans_url not in str(summary.evaluate("window.atelier.editor.getHTML()"))
    here = re.escape(pages.summary_url)
    expect(surface(summary).get_by_role("img", name="Schéma du pont")).to_have_js_property(
        "naturalWidth", 4
    )
    # ... so the guest, who cannot read the first space, sees it.
    image = surface(guest).get_by_role("img", name="Schéma du pont")
    expect(image).to_have_attribute("src", re.compile(rf"^{here}/images/"))
    expect(image).to_have_js_property("naturalWidth", 4)
    # The first page's address still answers nothing to the guest.
    name = str(image.get_attribute("src")).rsplit("/", 1)[1]
    answer = guest.request.get(f"{pages.plans_url}/images/{name}")
    assert answer.status == 404
