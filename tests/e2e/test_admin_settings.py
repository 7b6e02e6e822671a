"""The administrators' page and time zones in Chromium: a version's time reads in Paris, then
in New York once the person says so on their account page; an administrator allows a domain
and someone of that domain signs up on their own; the log shows the change."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import signed_in
from tests.support.editor import open_page, type_at_end
from tests.support.servers import AtelierServer
from tests.support.space_seeds import Space
from web.local_time import local_time

pytestmark = pytest.mark.browser

PASSWORD = "un mot de passe bien long"


def version_time(page: Page) -> tuple[datetime, str]:
    """The first version's stored time (its `datetime` attribute) and the text shown."""
    shown = page.locator(".version-list time").first
    expect(shown).to_be_visible()
    stamp = shown.get_attribute("datetime") or ""
    return datetime.fromisoformat(stamp), shown.inner_text()


def test_times_follow_the_persons_zone_and_an_allowed_domain_signs_up_on_its_own(
    browser: Browser, server: AtelierServer, space: Space
) -> None:
    with sqlite3.connect(server.data_dir / "atelier.db") as db:
        db.execute("UPDATE users SET role = 'admin' WHERE email = 'alice@agri.gouv.fr'")
    alice = signed_in(browser, server, "alice@agri.gouv.fr")
    editor = open_page(alice, space.notes_url)
    type_at_end(editor, "Ordre du jour.")
    expect(editor.get_by_role("status")).to_have_text("Enregistré")

    history = alice.new_page()
    history.goto(space.notes_url + "/versions")
    history.get_by_label("Nom de la version").fill("Lundi")
    history.get_by_role("button", name="Nommer cette version").click()
    expect(history.get_by_role("link", name="Lundi")).to_be_visible()
    moment, shown = version_time(history)
    assert shown == local_time(moment, "Europe/Paris") and "UTC" not in shown

    history.goto("/compte")
    history.get_by_label("Fuseau horaire").select_option("America/New_York")
    history.get_by_role("button", name="Enregistrer le profil").click()
    history.goto(space.notes_url + "/versions")
    moment, shown = version_time(history)
    assert shown == local_time(moment, "America/New_York")
    assert shown != local_time(moment, "Europe/Paris")

    # The administrator allows a partner's domain.
    history.goto("/admin/reglages")
    domains = history.get_by_label("Domaines autorisés à s'inscrire")
    expect(domains).to_have_value("gouv.fr")
    domains.fill("gouv.fr\npartenaire.org")
    history.get_by_role("button", name="Enregistrer les réglages").click()
    expect(history.get_by_role("status")).to_contain_text("Réglages enregistrés")
    line = history.locator("table.atelier-audit tbody tr").first
    expect(line).to_contain_text("Alice Martin")
    expect(line).to_contain_text("Domaines autorisés à s'inscrire")
    expect(line).to_contain_text("après : gouv.fr, partenaire.org")
    # Its time in the administrator's zone too.
    stamp = line.locator("time").get_attribute("datetime") or ""
    expect(line.locator("time")).to_have_text(
        local_time(datetime.fromisoformat(stamp), "America/New_York")
    )

    # Someone of that domain registers and confirms without waiting for anyone.
    visitor = browser.new_context(base_url=server.http_url)
    form = visitor.new_page()
    form.goto("/inscription")
    expect(form.get_by_text("gouv.fr, partenaire.org")).to_be_visible()
    form.get_by_label("Prénom et nom").fill("Paul Petit")
    form.get_by_label("Adresse électronique professionnelle").fill("paul@partenaire.org")
    form.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    form.get_by_label("Confirmer le mot de passe").fill(PASSWORD)
    form.get_by_role("button", name="Créer mon compte").click()
    expect(form.get_by_role("status")).to_contain_text("un courriel vient d'être envoyé")
    with sqlite3.connect(server.data_dir / "atelier.db") as db:
        (body,) = db.execute(
            "SELECT body FROM outbox WHERE to_address = 'paul@partenaire.org'"
        ).fetchone()
    link = re.search(r"https?://\S+/inscription/confirmer/\S+", body)
    assert link is not None
    form.goto(link.group(0))
    form.get_by_role("button", name="Activer mon compte").click()
    expect(form.get_by_role("link", name="Espaces")).to_be_visible()
    visitor.close()
    alice.close()
