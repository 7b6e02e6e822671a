"""Pages of spaces in Chromium: signed-in members co-edit, link pages, a guest link reads.

Accounts, the space, its pages and the guest link are made with the services on the
server's own database; people then sign in and work through the browser, and the socket is
authorised by their session cookie.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.support.browser import signed_in
from tests.support.editor import open_page, surface, toolbar_button, type_at_end
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


def test_a_link_to_another_page_of_the_space_is_found_by_part_of_its_title(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    alice = open_page(signed_in(browser, server, "alice@agri.gouv.fr"), space.notes_url)
    bob = open_page(signed_in(browser, server, "bob@agri.gouv.fr"), space.notes_url)
    home_url = f"/espaces/{space.slug}/pages/{space.home_id}"
    expect(alice.locator("#space-pages [role=option]")).to_have_count(1)

    type_at_end(alice, "Retour à ")
    toolbar_button(alice, "link").click()
    dialog = alice.get_by_role("dialog", name="Lien")
    expect(dialog.get_by_role("button", name="Retirer le lien")).to_be_hidden()  # no link yet
    field = dialog.get_by_role("combobox", name="Adresse, ou page de l’espace")
    field.press_sequentially("accu")
    option = dialog.get_by_role("option", name="Accueil")
    expect(option).to_be_visible()
    expect(field).to_have_attribute("aria-expanded", "true")
    field.press("ArrowDown")
    expect(option).to_have_attribute("aria-selected", "true")
    field.press("Enter")
    expect(field).to_have_value(home_url)
    dialog.get_by_role("button", name="Appliquer").click()

    link = surface(bob).get_by_role("link", name="Accueil")
    expect(link).to_have_attribute("href", home_url)
    # On the link, the dialog offers to take it off; an exact title is accepted as typed.
    surface(alice).get_by_role("link", name="Accueil").click()
    toolbar_button(alice, "link").click()
    expect(dialog.get_by_role("button", name="Retirer le lien")).to_be_visible()
    expect(field).to_have_value(home_url)
    field.fill("accueil")
    dialog.get_by_role("button", name="Appliquer").click()
    expect(dialog).to_be_hidden()
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
    expect(guest.locator("#space-pages [role=option]")).to_have_count(0)
    expect(guest.get_by_role("navigation", name="Pages de l’espace")).to_have_count(0)

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


# The tree as shown: [title, [children…]] for a page with sub-pages, else its title.
_TREE_SHAPE = """() => {
  const walk = (list) => [...list.children].map((li) => {
    const title = li.querySelector(":scope > .atelier-pagetree__row > a").textContent;
    const sub = li.querySelector(":scope > [data-tree-children]");
    return sub && sub.children.length ? [title, walk(sub)] : title;
  });
  return JSON.stringify(walk(document.querySelector("[data-page-tree] [data-tree-children]")));
}"""


def _tree_is(page: Page, shape: list[object]) -> None:
    wanted = json.dumps(shape, separators=(",", ":"), ensure_ascii=False)
    page.wait_for_function(f"() => ({_TREE_SHAPE})() === {json.dumps(wanted)}")


def test_the_page_tree_nests_by_drag_and_keyboard_renames_in_place_and_undoes_the_trash(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    page = open_page(signed_in(browser, server, "alice@agri.gouv.fr"), space.notes_url)
    tree = page.get_by_role("navigation", name="Pages de l’espace")
    said = tree.locator("[data-tree-announce]")
    _tree_is(page, [["Accueil", ["Compte rendu"]]])
    expect(tree.get_by_role("link", name="Compte rendu")).to_have_attribute("aria-current", "page")

    # A sub-page made from the tree.
    tree.get_by_role("button", name="Actions pour « Accueil »").click()
    tree.get_by_role("button", name="Nouvelle sous-page").click()
    title = tree.get_by_label("Titre de la nouvelle sous-page de « Accueil »")
    title.fill("Budget")
    title.press("Enter")
    expect(said).to_have_text("Sous-page « Budget » créée.")
    _tree_is(page, [["Accueil", ["Compte rendu", "Budget"]]])

    # Dragged onto the middle of "Compte rendu": nested under it, still so after a reload.
    def row(name: str) -> Locator:
        return tree.locator(".atelier-pagetree__row").filter(
            has=page.get_by_role("link", name=name, exact=True)
        )

    row("Budget").drag_to(row("Compte rendu"))
    expect(said).to_have_text("« Budget » déplacée.")
    _tree_is(page, [["Accueil", [["Compte rendu", ["Budget"]]]]])
    page.reload()
    _tree_is(page, [["Accueil", [["Compte rendu", ["Budget"]]]]])

    # From the keyboard, on its link: Alt+Left takes it out, Alt+Up puts it first.
    tree.get_by_role("link", name="Budget").focus()
    page.keyboard.press("Alt+ArrowLeft")
    _tree_is(page, [["Accueil", ["Compte rendu", "Budget"]]])
    expect(tree.get_by_role("link", name="Budget")).to_be_focused()
    page.keyboard.press("Alt+ArrowUp")
    _tree_is(page, [["Accueil", ["Budget", "Compte rendu"]]])
    page.keyboard.press("Alt+ArrowUp")
    expect(said).to_have_text("Impossible de déplacer cette page dans ce sens.")
    page.reload()
    _tree_is(page, [["Accueil", ["Budget", "Compte rendu"]]])

    # The title is edited at the top of the page itself.
    tree.get_by_role("link", name="Budget").click()
    expect(page.locator("#editor")).to_have_attribute("data-ready", "true")
    heading = page.get_by_role("textbox", name="Titre de la page (Entrée pour enregistrer)")
    heading.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("Budget 2027")
    page.keyboard.press("Enter")
    expect(page.locator("[data-title-status]")).to_have_text("Titre enregistré")
    expect(tree.get_by_role("link", name="Budget 2027")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Budget 2027")

    # To the trash from the tree: said so, and "Annuler" brings it back.
    tree.get_by_role("button", name="Actions pour « Budget 2027 »").click()
    tree.get_by_role("button", name="Mettre à la corbeille").click()
    toast = page.locator("[data-trash-toast]")
    expect(toast).to_contain_text("Page placée dans la corbeille")
    expect(tree.get_by_role("link", name="Budget 2027")).to_have_count(0)
    toast.get_by_role("button", name="Annuler").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Budget 2027")
    expect(tree.get_by_role("link", name="Budget 2027")).to_be_visible()

    # On a phone the tree folds behind a button.
    page.set_viewport_size({"width": 390, "height": 844})
    toggle = tree.get_by_role("button", name="Pages de l’espace")
    expect(tree.get_by_role("link", name="Compte rendu")).to_be_hidden()
    toggle.click()
    expect(tree.get_by_role("link", name="Compte rendu")).to_be_visible()
