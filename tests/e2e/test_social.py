"""The social layer in Chromium: recommend, the header's bell, the comments panel with its
highlights on the page's words, for members and a reader guest.

Alice owns "Projet Pont", Bob edits it, Carol comments in it (tests.support.space_seeds);
each is a browser context signed in through the sign-in form.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import signed_in
from tests.support.editor import open_page
from tests.support.servers import AtelierServer
from tests.support.space_seeds import Space, add_person

pytestmark = pytest.mark.browser

CAROL = "carol@agri.gouv.fr"


def _add_carol(server: AtelierServer, space: Space) -> int:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(
            asyncio.run, add_person(server.data_dir, space.slug, CAROL, "Carol Petit", "commenter")
        ).result()


def _bell(page: Page):
    return page.locator("header .fr-header__tools [data-bell]")


def test_recommend_and_the_bell_update_live(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    _add_carol(server, space)
    carol = open_page(signed_in(browser, server, CAROL), space.notes_url)
    bob = open_page(signed_in(browser, server, "bob@agri.gouv.fr"), space.notes_url)
    expect(_bell(carol)).to_have_attribute("aria-label", "Notifications")

    # Carol recommends the page: Bob's count follows, live.
    recommend = carol.get_by_role("button", name="Recommander")
    expect(recommend).to_have_attribute("aria-pressed", "false")
    recommend.click()
    expect(recommend).to_have_attribute("aria-pressed", "true")
    expect(carol.locator("[data-recommend-who]")).to_have_text("Recommandé par vous")
    expect(bob.locator("[data-recommend-who]")).to_have_text("Recommandé par Carol Petit")
    recommend.click()
    expect(bob.locator("[data-recommend-who]")).to_have_text("Aucune recommandation")

    # Bob mentions Carol in a comment: her bell counts it without a reload.
    token = bob.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    carol_id = carol.locator("[data-recommend]").get_attribute("data-me")
    answer = bob.request.post(
        f"/api/items/page/{space.notes_id}/commentaires",
        headers={"X-CSRF-Token": token},
        data={"body": f'<p><span data-type="mention" data-id="{carol_id}">@Carol</span> ?</p>'},
    )
    assert answer.status == 201, answer.text()
    expect(_bell(carol)).to_have_attribute("aria-label", "Notifications (1 non lue)")
    expect(_bell(carol).locator("[data-bell-count]")).to_have_text("1")

    # Her notifications page lists it; marking it read empties the bell.
    listing = carol.context.new_page()
    listing.goto("/notifications")
    expect(listing.get_by_role("link", name="Compte rendu")).to_be_visible()
    listing.get_by_role("button", name="Marquer comme lue").click()
    expect(_bell(listing)).to_have_attribute("aria-label", "Notifications")
    expect(_bell(carol)).to_have_attribute("aria-label", "Notifications")
