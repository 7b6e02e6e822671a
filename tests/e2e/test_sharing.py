"""Sharing in Chromium: the "Partager" dialog of a page (a link made and copied, a role
changed, a link revoked, all without leaving the page, by keyboard where it counts), the
guest's "Accueil", and the page a guest meets once their link is revoked."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.support.browser import signed_in
from tests.support.editor import open_page
from tests.support.servers import AtelierServer
from tests.support.space_seeds import Space

pytestmark = pytest.mark.browser


def test_share_a_page_copy_a_link_change_a_role_revoke_and_the_guest_is_told(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    # The guest of the seeded "Prestataire" link comes in; "Accueil" leads to the shared page.
    guest_context = browser.new_context(base_url=server.http_url)
    guest = guest_context.new_page()
    guest.goto(f"/invite/{space.guest_token}")
    guest.get_by_label("Votre nom").fill("Claire Prestataire")
    guest.get_by_role("button", name="Entrer", exact=True).click()
    expect(guest).to_have_url(re.compile(re.escape(space.notes_url) + "$"))
    expect(guest.get_by_role("link", name="Partager")).to_have_count(0)
    navigation = guest.get_by_role("navigation", name="Navigation principale")
    navigation.get_by_role("link", name="Accueil").click()
    expect(guest).to_have_url(re.compile(re.escape(space.notes_url) + "$"))
    expect(guest.get_by_role("heading", level=1)).to_have_text("Compte rendu")

    alice_context = signed_in(browser, server, "alice@agri.gouv.fr")
    alice_context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.http_url)
    alice = open_page(alice_context, space.notes_url)
    alice.evaluate("window.stillTheSamePage = true")  # gone if anything reloads the page

    share = alice.get_by_role("link", name="Partager")
    share.focus()
    alice.keyboard.press("Enter")
    dialog = alice.get_by_role("dialog", name="Partager « Compte rendu »")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name="Partager « Compte rendu »")).to_be_focused()
    expect(dialog.locator(".atelier-share__who", has_text="Bob Durand")).to_be_visible()
    expect(dialog.get_by_text("créé par Alice Martin")).to_be_visible()

    # Tab goes round inside the dialog: never back to the page behind it.
    for _ in range(40):
        alice.keyboard.press("Tab")
        assert alice.evaluate("document.activeElement.closest('dialog[open]') !== null"), (
            "the focus left the dialog"
        )

    # A link for a commenter, made and copied.
    dialog.get_by_label("Rôle donné par le lien").select_option(label="Commentateur")
    dialog.get_by_label("Libellé (facultatif)").fill("Cabinet d’études")
    dialog.get_by_role("button", name="Créer un lien").click()
    new_link = dialog.get_by_label("Lien à transmettre")
    expect(new_link).to_have_value(re.compile(r"/invite/[\w-]{20,}$"))
    copy = dialog.get_by_role("button", name="Copier")
    expect(copy).to_be_focused()
    copy.click()
    expect(dialog.get_by_role("status").filter(has_text="Lien copié")).to_be_visible()
    assert alice.evaluate("navigator.clipboard.readText()") == new_link.input_value()
    expect(dialog.get_by_text("Cabinet d’études Commentateur · Actif")).to_be_visible()

    # Bob, editor, becomes a reader.
    dialog.get_by_label("Rôle de Bob Durand").select_option(label="Lecteur")
    dialog.get_by_role("button", name="Changer Bob Durand").click()
    # The dialog takes no other form while one is on its way (aria-busy): wait for the answer.
    expect(dialog).not_to_have_attribute("aria-busy", "true")
    expect(dialog.get_by_label("Rôle de Bob Durand")).to_have_value("reader")

    # The guest's link is revoked.
    dialog.get_by_role("button", name="Révoquer Prestataire").click()
    expect(dialog.get_by_role("button", name="Révoquer Prestataire")).to_have_count(0)
    expect(dialog.get_by_text(re.compile(r"Révoqué · révoqué le"))).to_be_visible()

    # Escape closes the dialog, and the focus is back on its button, on the same page.
    alice.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(share).to_be_focused()
    assert alice.evaluate("window.stillTheSamePage === true")

    # The guest's page, reloaded, and the link opened again: it says so, and whom to ask.
    for address in (space.notes_url, f"/invite/{space.guest_token}"):
        guest.goto(address)
        expect(guest.get_by_role("heading", level=1)).to_have_text(
            "Ce lien d’invitation a été révoqué"
        )
        expect(guest.get_by_text("demandez un nouveau lien à Alice Martin")).to_be_visible()
        expect(guest.get_by_label("Mot de passe")).to_have_count(0)
    guest_context.close()
    alice_context.close()
