"""Pages of spaces in Chromium: signed-in members co-edit, link pages, a guest link reads.

Accounts, the space, its pages and the guest link are made with the services on the
server's own database; people then sign in and work through the browser, and the socket is
authorised by their session cookie.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.support.browser import signed_in
from tests.support.editor import open_page, surface, type_at_end
from tests.support.servers import AtelierServer
from tests.support.space_seeds import Space

pytestmark = pytest.mark.browser


def test_members_co_edit_a_page_and_see_each_others_named_carets(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    alice = open_page(signed_in(browser, server, "alice@agri.gouv.fr"), space.notes_url)
    bob = open_page(signed_in(browser, server, "bob@agri.gouv.fr"), space.notes_url)
    expect(alice.get_by_role("heading", level=1)).to_have_text("Compte rendu")
    breadcrumbs = alice.get_by_role("navigation", name="Fil d’Ariane")
    expect(breadcrumbs.get_by_role("link")).to_have_text(["Projet Pont", "Accueil"])

    type_at_end(alice, "Ordre du jour : ")
    expect(surface(bob)).to_contain_text("Ordre du jour :")
    type_at_end(bob, "budget.")
    expect(surface(alice)).to_contain_text("Ordre du jour : budget.")
    expect(alice.locator(".collaboration-carets__label", has_text="Bob Durand")).to_be_visible()
    expect(bob.locator(".collaboration-carets__label", has_text="Alice Martin")).to_be_visible()
    expect(alice.get_by_role("status")).to_have_text("Enregistré")


def test_a_link_to_another_page_of_the_space_is_picked_by_its_title(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    alice = open_page(signed_in(browser, server, "alice@agri.gouv.fr"), space.notes_url)
    bob = open_page(signed_in(browser, server, "bob@agri.gouv.fr"), space.notes_url)
    home_url = f"/espaces/{space.slug}/pages/{space.home_id}"
    options = alice.locator("datalist#space-pages option")
    expect(options).to_have_count(1)
    expect(options).to_have_attribute("label", "Accueil")

    type_at_end(alice, "Retour à ")
    alice.locator("[data-editor-toolbar] [data-command=link]").click()
    dialog = alice.get_by_role("dialog", name="Lien")
    dialog.get_by_label("Adresse, ou page de l’espace").fill(home_url)
    dialog.get_by_role("button", name="Appliquer").click()

    link = surface(bob).get_by_role("link", name="Accueil")
    expect(link).to_have_attribute("href", home_url)


def test_a_guest_link_reader_watches_live_cannot_type_and_is_cut_off_on_revocation(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    alice_context = signed_in(browser, server, "alice@agri.gouv.fr")
    alice = open_page(alice_context, space.notes_url)

    guest = browser.new_context(base_url=server.http_url).new_page()
    guest.goto(f"/invite/{space.guest_token}")
    guest.get_by_label("Votre nom").fill("Claire (prestataire)")
    guest.get_by_role("button", name="Entrer").click()
    expect(guest).to_have_url(f"{server.http_url}{space.notes_url}")
    expect(guest.locator("#editor")).to_have_attribute("data-ready", "true")
    expect(surface(guest)).to_have_attribute("contenteditable", "false")
    # A guest of one page is not shown the titles of the space's other pages.
    expect(guest.locator("datalist#space-pages option")).to_have_count(0)

    type_at_end(alice, "Visible par l'invitée.")
    expect(surface(guest)).to_contain_text("Visible par l'invitée.")
    surface(guest).click()
    guest.keyboard.type("intrusion")
    type_at_end(alice, " Suite.")
    expect(surface(guest)).to_contain_text("Visible par l'invitée. Suite.")
    expect(surface(alice)).not_to_contain_text("intrusion")

    links = alice_context.new_page()
    links.goto(f"/espaces/{space.slug}/liens")
    links.get_by_role("button", name="Révoquer Prestataire").click()
    expect(guest.get_by_role("status")).to_have_text(
        "Accès refusé par le serveur — rechargez la page"
    )
    expect(surface(guest)).to_have_attribute("aria-readonly", "true")
    # Alice's text reaches another tab of hers, and no longer the guest.
    other_tab = open_page(alice_context, space.notes_url)
    type_at_end(alice, " Après révocation.")
    expect(surface(other_tab)).to_contain_text("Après révocation.")
    expect(surface(guest)).not_to_contain_text("Après révocation.")


def test_an_editor_whose_role_is_lowered_turns_read_only_without_reloading(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    alice_context = signed_in(browser, server, "alice@agri.gouv.fr")
    bob = open_page(signed_in(browser, server, "bob@agri.gouv.fr"), space.notes_url)
    type_at_end(bob, "Écrit par Bob.")
    expect(bob.get_by_role("status")).to_have_text("Enregistré")

    members = alice_context.new_page()
    members.goto(f"/espaces/{space.slug}/membres")
    members.get_by_label("Rôle de Bob Durand").select_option("reader")
    members.get_by_label("Rôle de Bob Durand").locator("xpath=ancestor::form").locator(
        "button"
    ).click()

    # The same page, without a reload: the status says why, typing is no longer possible.
    expect(bob.get_by_role("status")).to_have_text("Lecture seule : votre accès a changé")
    expect(surface(bob)).to_have_attribute("aria-readonly", "true")
    expect(surface(bob)).to_have_attribute("contenteditable", "false")
    expect(bob.locator("[data-editor-toolbar]")).to_be_hidden()
