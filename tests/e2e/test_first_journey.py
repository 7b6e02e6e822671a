"""The first journey, all in Chromium: two agents sign up, one creates a space and a page,
adds the other from the directory, and they co-edit the page seeing each other's text."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.support.editor import surface, type_at_end
from tests.support.servers import AtelierServer

pytestmark = pytest.mark.browser

PASSWORD = "un mot de passe bien long"


def confirmation_link(server: AtelierServer, email: str) -> str:
    with sqlite3.connect(server.data_dir / "atelier.db") as db:
        rows = db.execute(
            "SELECT body FROM outbox WHERE to_address = ? ORDER BY id DESC", (email,)
        ).fetchall()
    for (body,) in rows:
        match = re.search(r"https?://\S+/inscription/confirmer/\S+", body)
        if match:
            return match.group(0)
    raise AssertionError(f"no confirmation mail for {email} in the outbox")


def sign_up(browser: Browser, server: AtelierServer, name: str, email: str) -> BrowserContext:
    context = browser.new_context(base_url=server.http_url)
    page = context.new_page()
    page.goto("/inscription")
    page.get_by_label("Prénom et nom").fill(name)
    page.get_by_label("Adresse électronique professionnelle").fill(email)
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_label("Confirmer le mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Créer mon compte").click()
    page.goto(confirmation_link(server, email))
    page.get_by_role("button", name="Activer mon compte").click()
    expect(page.get_by_role("link", name="Espaces")).to_be_visible()
    page.close()
    return context


def test_agents_sign_up_create_a_space_and_a_page_and_co_edit_it(
    browser: Browser, atelier: Callable[..., AtelierServer]
) -> None:
    server = atelier()
    alice = sign_up(browser, server, "Alice Martin", "alice@culture.gouv.fr")
    bob = sign_up(browser, server, "Bob Durand", "bob@culture.gouv.fr")

    owner = alice.new_page()
    owner.goto("/espaces")
    owner.get_by_role("link", name="Créer un espace").click()
    owner.get_by_label("Nom", exact=True).fill("Projet Archives")
    owner.get_by_role("button", name="Créer l’espace").click()
    expect(owner.get_by_text("Aucune page pour l’instant — créez la première")).to_be_visible()
    space_url = owner.url

    owner.get_by_label("Titre de la nouvelle page").fill("Compte rendu")
    owner.get_by_role("button", name="Créer la page").click()
    owner.goto(space_url)
    owner.get_by_role("link", name="Membres", exact=True).click()
    owner.get_by_label("Nom, adresse ou organisation").fill("Bob")
    owner.get_by_role("button", name="Chercher").click()
    owner.get_by_role("button", name="Ajouter").click()
    expect(owner.get_by_text("Bob Durand").first).to_be_visible()

    owner.goto(space_url)
    owner.get_by_role("link", name="Compte rendu").first.click()
    expect(owner.locator("#editor")).to_have_attribute("data-ready", "true")
    page_url = owner.url

    colleague: Page = bob.new_page()
    colleague.goto(page_url)
    expect(colleague.locator("#editor")).to_have_attribute("data-ready", "true")

    type_at_end(owner, "Ordre du jour : ")
    expect(surface(colleague)).to_contain_text("Ordre du jour :")
    type_at_end(colleague, "inventaire.")
    expect(surface(owner)).to_contain_text("Ordre du jour : inventaire.")
    expect(owner.locator(".collaboration-carets__label", has_text="Bob Durand")).to_be_visible()
