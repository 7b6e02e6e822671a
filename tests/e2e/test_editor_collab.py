"""The editor in Chromium: two people co-edit, a reader watches, one goes offline and back.

Each browser context is a separate person (own cookies, own IndexedDB); they open
`/d/{doc}?token=...` on a live `atelier serve`.
"""

from __future__ import annotations

import signal

import pytest
from playwright.sync_api import Browser, expect

from tests.support.editor import (
    expect_blocks,
    mint_token,
    open_editor,
    surface,
    type_at_end,
    type_at_start,
    wait_until_kept_on_device,
)
from tests.support.relay import TcpRelay
from tests.support.servers import AtelierServer

pytestmark = pytest.mark.browser

SAVED = "Enregistré"
SYNCING = "Synchronisation…"
OFFLINE = "Hors ligne — modifications gardées sur cet appareil"


def test_two_people_see_each_others_text_and_caret(
    browser: Browser, server: AtelierServer, doc: str
) -> None:
    alice = open_editor(browser.new_context(), server, doc, mint_token(server, doc, name="Alice"))
    bob = open_editor(browser.new_context(), server, doc, mint_token(server, doc, name="Bob"))
    expect(alice.get_by_role("status")).to_have_text(SAVED)

    type_at_end(alice, "Bonjour de la part d'Alice.")
    expect(surface(bob)).to_contain_text("Bonjour de la part d'Alice.")
    type_at_end(bob, " Et voici Bob.")
    expect(surface(alice)).to_contain_text("Bonjour de la part d'Alice. Et voici Bob.")

    # Each sees the other's caret, labelled with the other's name, and not their own.
    expect(alice.locator(".collaboration-carets__label", has_text="Bob")).to_be_visible()
    expect(bob.locator(".collaboration-carets__label", has_text="Alice")).to_be_visible()
    expect(alice.locator(".collaboration-carets__label", has_text="Alice")).to_have_count(0)


def test_a_reader_sees_live_changes_and_cannot_type(
    browser: Browser, server: AtelierServer, doc: str
) -> None:
    writer = open_editor(browser.new_context(), server, doc, mint_token(server, doc, name="Rédac"))
    reader_token = mint_token(server, doc, access="ro", name="Lecteur")
    reader = open_editor(browser.new_context(), server, doc, reader_token)

    expect(surface(reader)).to_have_attribute("contenteditable", "false")
    expect(surface(reader)).to_have_attribute("aria-readonly", "true")
    expect(surface(writer)).to_have_attribute("aria-readonly", "false")
    expect(reader.locator("[data-editor-toolbar]")).to_have_count(0)
    expect(reader.get_by_text("Lecture seule")).to_be_visible()

    type_at_end(writer, "Version 1")
    expect(surface(reader)).to_contain_text("Version 1")
    surface(reader).click()
    reader.keyboard.type("texte du lecteur")
    type_at_end(writer, ", version 2")
    expect(surface(reader)).to_contain_text("Version 1, version 2")
    expect(surface(reader)).not_to_contain_text("texte du lecteur")
    # The reader sees the writer's caret; the writer never sees the reader's text.
    expect(reader.locator(".collaboration-carets__label", has_text="Rédac")).to_be_visible()
    expect(surface(writer)).not_to_contain_text("texte du lecteur")


def test_two_people_who_edit_one_paragraph_while_one_is_offline_end_with_the_same_text(
    browser: Browser, server: AtelierServer, doc: str, relay: TcpRelay
) -> None:
    away = browser.new_context()
    token = mint_token(server, doc, name="Nomade")
    traveller = open_editor(away, server, doc, token, via=relay.http_url)
    colleague = open_editor(browser.new_context(), server, doc, mint_token(server, doc))
    watcher = open_editor(browser.new_context(), server, doc, mint_token(server, doc, access="ro"))
    type_at_end(traveller, "Ordre du jour : le budget.")
    expect_blocks(colleague, ["Ordre du jour : le budget."])
    expect(traveller.locator("#editor")).to_have_attribute("data-offline-ready", "true")
    status = traveller.get_by_role("status")

    away.set_offline(True)  # the page is told the network is gone...
    relay.cut()  # ...and it is: its service worker cannot reach the server either
    expect(status).to_have_text(OFFLINE)
    type_at_end(traveller, " Adopté.")  # the end of the paragraph
    type_at_start(colleague, "Lundi : ")  # its start
    # The colleague's edit went out (the watcher, online, has it) and not to the traveller,
    # whose own edit stays on the device.
    expect_blocks(watcher, ["Lundi : Ordre du jour : le budget."])
    expect_blocks(traveller, ["Ordre du jour : le budget. Adopté."])
    expect_blocks(colleague, ["Lundi : Ordre du jour : le budget."])

    # Still offline, the traveller reloads: the page comes from the service worker's cache and
    # the text from IndexedDB.
    wait_until_kept_on_device(traveller, "Adopté.")
    traveller.reload()
    expect(traveller.locator("#editor")).to_have_attribute("data-ready", "true")
    expect_blocks(traveller, ["Ordre du jour : le budget. Adopté."])
    expect(status).to_have_text(OFFLINE)

    relay.restore()
    away.set_offline(False)
    expect(status).to_have_text(SAVED)
    merged = ["Lundi : Ordre du jour : le budget. Adopté."]
    for page in (traveller, colleague, watcher):
        expect_blocks(page, merged)
    newcomer = open_editor(browser.new_context(), server, doc, mint_token(server, doc, access="ro"))
    expect_blocks(newcomer, merged)


def test_the_status_says_syncing_until_the_server_has_read_the_edits(
    browser: Browser, server: AtelierServer, doc: str
) -> None:
    page = open_editor(browser.new_context(), server, doc, mint_token(server, doc))
    status = page.get_by_role("status")
    type_at_end(page, "Première phrase.")
    page.wait_for_function("() => window.atelier.shared.confirmed")  # the server's receipt
    expect(status).to_have_text(SAVED)

    server.process.send_signal(signal.SIGSTOP)  # connected, but reading nothing
    try:
        type_at_end(page, " Deuxième phrase.")
        expect(status).to_have_text(SYNCING)
        assert page.evaluate("window.atelier.shared.confirmed") is False
    finally:
        server.process.send_signal(signal.SIGCONT)
    expect(status).to_have_text(SAVED)
    page.wait_for_function("() => window.atelier.shared.confirmed")


def test_edits_made_offline_survive_a_reload_while_the_server_is_unreachable(
    browser: Browser, server: AtelierServer, doc: str
) -> None:
    away = browser.new_context()
    token = mint_token(server, doc, name="Nomade")
    page = open_editor(away, server, doc, token)
    type_at_end(page, "Avant la coupure. ")
    expect(page.get_by_role("status")).to_have_text(SAVED)
    # The service worker keeps the page itself, so it loads again with no network.
    expect(page.locator("#editor")).to_have_attribute("data-offline-ready", "true")

    away.set_offline(True)
    type_at_end(page, "Pendant la coupure.")
    wait_until_kept_on_device(page, "Pendant la coupure.")
    server.stop()
    page.reload()
    expect(page.locator("#editor")).to_have_attribute("data-ready", "true")
    expect(surface(page)).to_contain_text("Avant la coupure. Pendant la coupure.")
    expect(page.get_by_role("status")).to_have_text(OFFLINE)

    server.start()
    away.set_offline(False)
    expect(page.get_by_role("status")).to_have_text(SAVED, timeout=15_000)
    other = open_editor(browser.new_context(), server, doc, mint_token(server, doc))
    expect(surface(other)).to_contain_text("Avant la coupure. Pendant la coupure.")


def test_a_token_for_other_documents_gets_a_refusal_page(
    browser: Browser, server: AtelierServer, doc: str
) -> None:
    token = mint_token(server, "elsewhere/")
    page = browser.new_context().new_page()
    response = page.goto(f"{server.http_url}/d/{doc}?token={token}")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Accès refusé")).to_be_visible()


def test_when_the_server_goes_away_the_status_says_offline_and_edits_sync_on_its_return(
    browser: Browser, server: AtelierServer, doc: str
) -> None:
    page = open_editor(browser.new_context(), server, doc, mint_token(server, doc))
    status = page.get_by_role("status")
    expect(status).to_have_text(SAVED)

    server.stop()  # a restart, a crash, a network cut the browser is not told about
    expect(status).to_have_text(OFFLINE)
    type_at_end(page, "Écrit pendant la panne.")
    server.start()
    expect(status).to_have_text(SAVED, timeout=15_000)
    other = open_editor(browser.new_context(), server, doc, mint_token(server, doc))
    expect(surface(other)).to_contain_text("Écrit pendant la panne.")
