"""The editor's toolbar in Chromium: keyboard use, formatting, links, tables, images, export."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.support.editor import mint_token, open_editor, surface, toolbar_button
from tests.support.images import png_file
from tests.support.servers import AtelierServer

pytestmark = pytest.mark.browser


def button(page: Page, command: str) -> Locator:
    return toolbar_button(page, command)


def focused_command(page: Page) -> str:
    return str(page.evaluate("document.activeElement?.dataset?.command ?? ''"))


def test_the_toolbar_is_one_tab_stop_walked_with_arrow_keys(
    browser: Browser, server: AtelierServer, doc: str
) -> None:
    page = open_editor(browser.new_context(), server, doc, mint_token(server, doc))
    surface(page).click()
    page.keyboard.type("Compte rendu")
    page.keyboard.press("Shift+Tab")  # from the text into the toolbar's single tab stop
    assert focused_command(page) != ""
    page.keyboard.press("Home")
    seen = [focused_command(page)]
    while focused_command(page) != "heading1" and len(seen) < 40:
        page.keyboard.press("ArrowRight")
        seen.append(focused_command(page))
    assert "redo" not in seen, "disabled buttons are skipped"
    page.keyboard.press("Enter")
    expect(surface(page).locator("h1")).to_have_text("Compte rendu")
    expect(button(page, "heading1")).to_have_attribute("aria-pressed", "true")
    # Exactly one toolbar button can be reached with Tab.
    tab_stops = page.locator("[data-editor-toolbar] button[tabindex='0']")
    expect(tab_stops).to_have_count(1)


def test_formatting_links_checklists_and_tables_reach_the_markdown_export(
    browser: Browser, server: AtelierServer, doc: str
) -> None:
    token = mint_token(server, doc)
    page = open_editor(browser.new_context(), server, doc, token)
    text = surface(page)
    text.click()
    page.keyboard.type("Réunion")
    button(page, "heading1").click()
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    button(page, "taskList").click()
    page.keyboard.type("Relire le budget")
    text.get_by_role("checkbox", name="Tâche : Relire le budget").check()
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # an empty item leaves the list
    page.keyboard.type("Voir la note")
    for _ in range(len("la note")):
        page.keyboard.press("Shift+ArrowLeft")
    button(page, "link").click()
    dialog = page.get_by_role("dialog", name="Lien")
    dialog.get_by_label("Adresse, ou page de l’espace").fill("javascript:alert(1)")
    dialog.get_by_role("button", name="Appliquer").click()
    expect(dialog.locator("[data-part=error]")).to_be_visible()  # refused, dialog stays
    dialog.get_by_label("Adresse, ou page de l’espace").fill("https://example.org/note")
    dialog.get_by_role("button", name="Appliquer").click()
    expect(dialog).to_be_hidden()
    expect(text.locator("a[href='https://example.org/note']")).to_have_text("la note")
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    button(page, "table").click()
    page.keyboard.type("Nom")
    page.keyboard.press("Tab")
    page.keyboard.type("Rôle")
    expect(button(page, "addRow")).to_be_enabled()
    expect(page.get_by_role("status")).to_have_text("Enregistré")

    page.wait_for_function("() => window.atelier.shared.confirmed")  # the server has read it all
    response = page.request.get(f"{server.http_url}/d/{doc}/export.md?token={token}")
    markdown = response.text()
    assert response.status == 200
    assert markdown.startswith(
        "# Réunion\n\n- [x] Relire le budget\n\nVoir [la note](https://example.org/note)\n"
    )
    assert "| Nom | Rôle |  |\n| --- | --- | --- |\n" in markdown


def test_an_uploaded_image_appears_for_everyone_with_its_text_alternative(
    browser: Browser, server: AtelierServer, doc: str, tmp_path: Path
) -> None:
    author = open_editor(browser.new_context(), server, doc, mint_token(server, doc))
    viewer = open_editor(browser.new_context(), server, doc, mint_token(server, doc, access="ro"))
    surface(author).click()
    button(author, "image").click()
    dialog = author.get_by_role("dialog", name="Insérer une image")
    dialog.get_by_label("Fichier (PNG, JPEG, GIF ou WebP)").set_input_files(png_file(tmp_path))
    dialog.get_by_label("Texte alternatif (ce que montre l’image)").fill("Schéma du pont")
    dialog.get_by_role("button", name="Insérer", exact=True).click()
    expect(dialog).to_be_hidden()

    image = surface(viewer).get_by_role("img", name="Schéma du pont")
    # Shown through the document, with the viewer's own token (never stored in the text).
    shown = rf"^/d/{doc}/images/[0-9a-f]{{64}}\.png\?token="
    expect(image).to_have_attribute("src", re.compile(shown))
    assert "token" not in author.evaluate("window.atelier.editor.getHTML()")
    image.evaluate("img => img.decode()")
    assert image.evaluate("img => img.naturalWidth") == 4


def test_a_pasted_image_goes_through_the_dialog_for_its_text_alternative(
    browser: Browser, server: AtelierServer, doc: str, tmp_path: Path
) -> None:
    page = open_editor(browser.new_context(), server, doc, mint_token(server, doc))
    surface(page).click()
    data = list(png_file(tmp_path).read_bytes())
    page.evaluate(
        """bytes => {
            const file = new File([new Uint8Array(bytes)], "collé.png", { type: "image/png" });
            const clipboard = new DataTransfer();
            clipboard.items.add(file);
            const paste = new ClipboardEvent("paste", {
                clipboardData: clipboard, bubbles: true, cancelable: true,
            });
            document.querySelector("#editor .ProseMirror").dispatchEvent(paste);
        }""",
        data,
    )
    dialog = page.get_by_role("dialog", name="Insérer une image")
    alt = dialog.get_by_label("Texte alternatif (ce que montre l’image)")
    expect(alt).to_be_focused()
    alt.fill("Capture collée")
    dialog.get_by_role("button", name="Insérer", exact=True).click()
    image = surface(page).get_by_role("img", name="Capture collée")
    shown = rf"^/d/{doc}/images/[0-9a-f]{{64}}\.png\?token="
    expect(image).to_have_attribute("src", re.compile(shown))


def test_the_toolbar_is_one_row_on_a_laptop_with_the_rest_behind_plus_and_scrolls_on_a_phone(
    browser: Browser, server: AtelierServer, doc: str
) -> None:
    token = mint_token(server, doc)
    laptop = open_editor(
        browser.new_context(viewport={"width": 1280, "height": 800}), server, doc, token
    )
    toolbar = laptop.locator("[data-editor-toolbar]")
    more = toolbar.get_by_role("button", name="Plus")
    row = toolbar.locator("[data-command=undo]").bounding_box()
    box = toolbar.bounding_box()
    assert row and box
    # One row: the toolbar is as tall as one button and its padding, not more.
    assert box["height"] < row["height"] * 2, (box, row)
    expect(more).to_be_visible()
    expect(more).to_have_attribute("aria-expanded", "false")
    behind = toolbar.locator("[data-toolbar-overflow] [data-command]")
    assert behind.count() > 0
    expect(behind.first).to_be_hidden()
    # From the keyboard: the arrow keys reach "Plus", Enter opens it onto its first button,
    # Escape closes it and comes back.
    surface(laptop).click()
    laptop.keyboard.press("Shift+Tab")
    laptop.keyboard.press("End")
    assert laptop.evaluate("document.activeElement.textContent").strip() == "Plus"
    laptop.keyboard.press("Enter")
    expect(more).to_have_attribute("aria-expanded", "true")
    expect(behind.first).to_be_visible()
    expect(behind.first).to_be_focused()
    laptop.keyboard.press("Escape")
    expect(more).to_have_attribute("aria-expanded", "false")
    expect(more).to_be_focused()
    # A narrower window keeps one row: fewer buttons stay out, more go behind "Plus".
    before = int(toolbar.get_attribute("data-fitted") or 0)
    laptop.set_viewport_size({"width": 800, "height": 800})
    expect(toolbar).not_to_have_attribute("data-fitted", str(before))
    assert int(toolbar.get_attribute("data-fitted") or 0) < before
    box = toolbar.bounding_box()
    assert box and box["height"] < row["height"] * 2

    phone = open_editor(
        browser.new_context(viewport={"width": 390, "height": 844}), server, doc, token
    )
    toolbar = phone.locator("[data-editor-toolbar]")
    first = toolbar.locator("[data-command=undo]").bounding_box()
    box = toolbar.bounding_box()
    assert first and box and box["height"] < first["height"] * 2, (box, first)
    expect(toolbar.get_by_role("button", name="Plus")).to_be_hidden()
    # Every button is on the row, which scrolls sideways to the last one.
    assert toolbar.evaluate("t => t.scrollWidth > t.clientWidth")
    last = toolbar.locator("[data-command=deleteTable]")
    last.scroll_into_view_if_needed()
    expect(last).to_be_in_viewport()
