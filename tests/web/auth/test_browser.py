"""In Debian's Chromium: first administrator, language switch, sign out and in, keyboard, phone.

The pages must work under the real content security policy (no violation in the console),
show the skip link to keyboard users, and fit a phone screen.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser

from tests.support.servers import AtelierServer
from tests.support.waiting import eventually_blocking

pytestmark = pytest.mark.browser

LINK = re.compile(r"http://127\.0\.0\.1:\d+/premier-admin/[A-Za-z0-9_\-]+")
PASSWORD = "le mot de passe du premier admin"


def _first_admin_link(server: AtelierServer) -> str:
    match = eventually_blocking(lambda: LINK.search(server.log()), what="the first-admin link")
    return match.group(0)


def test_a_first_admin_signs_up_switches_to_english_signs_out_and_in(
    atelier: Callable[..., AtelierServer], browser: Browser
) -> None:
    server = atelier()
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    # Every failed load except the wrong password's page (400, on purpose below).
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not (r.status == 400 and r.url.endswith("/connexion"))
            else None
        ),
    )

    page.goto(_first_admin_link(server))
    page.get_by_label("Prénom et nom").fill("Odile <b>Admin</b>")
    page.get_by_label("Adresse électronique").fill("odile@interieur.gouv.fr")
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_label("Confirmer le mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Créer le compte administrateur").click()
    page.wait_for_url("**/admin/comptes")
    assert page.get_by_role("heading", level=1).inner_text() == "Comptes"
    # The name is text, not markup.
    assert page.get_by_role("cell", name="Odile <b>Admin</b>", exact=True).count() == 1

    # Keyboard: the first Tab shows the skip link, which leads to the main content.
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Aller au contenu"
    box = page.get_by_text("Aller au contenu").bounding_box()
    assert box is not None and box["y"] >= 0
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "contenu"

    page.get_by_role("button", name=re.compile("^EN")).click()
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert page.get_by_role("heading", level=1).inner_text() == "Accounts"

    page.get_by_role("button", name="Sign out", exact=True).click()
    page.wait_for_url("**/connexion?avis=deconnecte")
    assert page.get_by_role("status").inner_text() == "You are signed out."
    page.get_by_label("Email address").fill("odile@interieur.gouv.fr")
    page.get_by_label("Password").fill("wrong password here")
    page.get_by_role("button", name="Sign in", exact=True).click()
    assert page.get_by_role("alert").inner_text() == "Wrong email address or password."
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(lambda url: "/connexion" not in url)
    assert page.get_by_role("button", name="Sign out", exact=True).count() == 1
    assert not problems, problems

    # A phone: no sideways scrolling on the sign-in and admin pages.
    phone = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    small = phone.new_page()
    for path in ("/connexion", "/inscription"):
        small.goto(server.http_url + path)
        assert small.evaluate("document.documentElement.scrollWidth") <= 360
    phone.close()
    context.close()
