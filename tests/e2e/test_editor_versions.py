"""Version history in Chromium: name a version, keep editing, restore it; both editors see it live.

The space and accounts come from the `space` fixture's seed (Alice owns the space, Bob
is an editor); both work through their browsers, each in their own context.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.support.browser import signed_in
from tests.support.editor import open_page, surface, type_at_end
from tests.support.servers import AtelierServer
from tests.support.space_seeds import Space

pytestmark = pytest.mark.browser


def test_a_restored_version_appears_live_in_every_open_editor(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    alice_context = signed_in(browser, server, "alice@agri.gouv.fr")
    bob_context = signed_in(browser, server, "bob@agri.gouv.fr")
    alice = open_page(alice_context, space.notes_url)
    bob = open_page(bob_context, space.notes_url)

    type_at_end(alice, "Version du lundi.")
    expect(surface(bob)).to_contain_text("Version du lundi.")
    expect(alice.get_by_role("status")).to_have_text("Enregistré")

    history = alice_context.new_page()
    history.goto(space.notes_url + "/versions")
    history.get_by_label("Nom de la version").fill("Lundi")
    history.get_by_role("button", name="Nommer cette version").click()
    expect(history.get_by_role("link", name="Lundi")).to_be_visible()

    type_at_end(alice, " Ajout du mardi.")
    expect(surface(bob)).to_contain_text("Version du lundi. Ajout du mardi.")

    restore = bob_context.new_page()
    restore.goto(space.notes_url + "/versions")
    restore.get_by_role("link", name="Lundi").click()
    expect(restore.get_by_role("article")).to_contain_text("Version du lundi.")
    restore.get_by_role("button", name="Restaurer cette version").click()
    expect(restore).to_have_url(f"{server.http_url}{space.notes_url}")

    # The editors that stayed open take the restore as a live change, in both contexts.
    for page in (alice, bob):
        expect(surface(page)).not_to_contain_text("Ajout du mardi.")
        expect(surface(page)).to_contain_text("Version du lundi.")
    type_at_end(bob, " Reprise.")
    expect(surface(alice)).to_contain_text("Version du lundi. Reprise.")

    history.reload()
    expect(history.get_by_role("link", name="Avant restauration")).to_be_visible()
