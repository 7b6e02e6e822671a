"""The shared layout as a person sees it in Chromium: the header folds into a menu on a phone
(by mouse and by keyboard), the space's navigation is a side menu, fields are full-size, and a
checklist's boxes sit on the line of their text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.support.browser import signed_in
from tests.support.editor import open_page, surface
from tests.support.servers import AtelierServer
from tests.support.space_seeds import Space
from tests.support.tour import AXE, LAPTOP, PHONE

pytestmark = pytest.mark.browser

RUN_AXE = "async () => (await axe.run(document, { resultTypes: ['violations'] })).violations"


@pytest.fixture
def alice(browser: Browser, server: AtelierServer, space: Space) -> Iterator[BrowserContext]:
    context = signed_in(browser, server, "alice@agri.gouv.fr")
    yield context
    context.close()


def at(context: BrowserContext, path: str, size: dict[str, int]) -> Page:
    page = context.new_page()
    page.set_viewport_size(size)  # type: ignore[arg-type]
    page.goto(path)
    return page


def height(page: Page, selector: str) -> float:
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not shown"
    return float(box["height"])


def test_on_a_phone_the_header_is_one_short_row_and_the_menu_button_shows_the_navigation(
    alice: BrowserContext, space: Space
) -> None:
    page = at(alice, f"/espaces/{space.slug}", PHONE)
    navigation = page.get_by_role("navigation", name="Navigation principale")
    assert height(page, "header.fr-header") < 80
    expect(navigation).to_be_hidden()

    page.get_by_role("button", name="Menu").click()
    expect(navigation.get_by_role("link", name="Annuaire")).to_be_visible()
    expect(page.get_by_role("dialog")).to_be_visible()
    # The account and the sign-out are in the menu too.
    expect(page.get_by_role("dialog").get_by_role("button", name="Se déconnecter")).to_be_visible()
    navigation.get_by_role("link", name="Annuaire").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Annuaire")


def test_on_a_phone_the_search_button_opens_the_search_field(
    alice: BrowserContext, space: Space
) -> None:
    page = at(alice, "/espaces", PHONE)
    field = page.get_by_role("searchbox", name="Chercher dans les pages")
    expect(field).to_be_hidden()
    page.get_by_role("button", name="Ouvrir la recherche").click()
    expect(field).to_be_focused()
    field.fill("compte")
    field.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Recherche")
    expect(page.get_by_label("Mots à chercher dans les pages")).to_have_value("compte")


def test_the_phone_menu_opens_and_closes_from_the_keyboard(
    alice: BrowserContext, space: Space
) -> None:
    page = at(alice, "/espaces", PHONE)
    menu = page.get_by_role("button", name="Menu")
    menu.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("navigation", name="Navigation principale")).to_be_visible()
    expect(page.get_by_role("button", name="Fermer")).to_be_focused()
    expect(menu).to_have_attribute("aria-expanded", "true")
    # Tab stays in the open menu; Escape closes it and gives the focus back to its button.
    for _ in range(12):
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.closest('#menu-entete') !== null")
    page.keyboard.press("Escape")
    expect(page.get_by_role("navigation", name="Navigation principale")).to_be_hidden()
    expect(menu).to_be_focused()
    expect(menu).to_have_attribute("aria-expanded", "false")


def test_the_open_phone_menu_has_no_serious_accessibility_violation(
    alice: BrowserContext, space: Space
) -> None:
    alice.add_init_script(path=str(AXE))
    page = at(alice, f"/espaces/{space.slug}", PHONE)
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    violations: list[dict[str, Any]] = page.evaluate(RUN_AXE)
    serious = [v["id"] for v in violations if v["impact"] in ("serious", "critical")]
    assert not serious


def test_on_a_laptop_the_navigation_is_in_the_header_with_no_menu_button(
    alice: BrowserContext, space: Space
) -> None:
    page = at(alice, "/espaces", LAPTOP)
    navigation = page.get_by_role("navigation", name="Navigation principale")
    expect(navigation.get_by_role("link", name="Espaces")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(page.get_by_role("search").first.get_by_role("searchbox")).to_be_visible()


def test_the_space_navigation_is_a_side_menu_beside_the_page_folded_on_a_phone(
    alice: BrowserContext, space: Space
) -> None:
    laptop = at(alice, f"/espaces/{space.slug}/membres", LAPTOP)
    side = laptop.get_by_role("navigation", name="Navigation de l’espace")
    current = side.get_by_role("link", name="Membres")
    expect(current).to_have_attribute("aria-current", "page")
    menu_box, heading_box = side.bounding_box(), laptop.locator("h1").bounding_box()
    assert menu_box and heading_box and menu_box["x"] + menu_box["width"] <= heading_box["x"]

    phone = at(alice, f"/espaces/{space.slug}/membres", PHONE)
    side = phone.get_by_role("navigation", name="Navigation de l’espace")
    expect(side.get_by_role("link", name="Corbeille")).to_be_hidden()
    side.get_by_role("button", name="Projet Pont").click()
    expect(side.get_by_role("link", name="Corbeille")).to_be_visible()


def test_text_fields_are_full_height_with_a_visible_border(
    alice: BrowserContext, space: Space
) -> None:
    page = at(alice, f"/espaces/{space.slug}", LAPTOP)
    field = page.get_by_label("Titre de la nouvelle page")
    assert height(page, "#title") >= 40
    border = field.evaluate("e => parseFloat(getComputedStyle(e).borderBottomWidth)")
    assert border >= 1


def test_a_checklist_box_sits_on_the_line_of_its_text(alice: BrowserContext, space: Space) -> None:
    page = open_page(alice, space.notes_url)
    surface(page).click()
    page.keyboard.type("[ ] Relire le devis")
    item = surface(page).locator("li[data-checked]").first
    box = item.locator("input[type=checkbox]").bounding_box()
    text = item.locator("p").bounding_box()
    assert box and text
    line = text["y"] + min(text["height"], 30) / 2
    assert abs((box["y"] + box["height"] / 2) - line) < 8, (box, text)
