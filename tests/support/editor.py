"""The page editor in Chromium: open it on a document or a page, find and type in its text."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.support.servers import AtelierServer


def mint_token(server: AtelierServer, prefix: str, *, access: str = "rw", name: str = "") -> str:
    """`atelier token` with a display name (the caret label of whoever opens the page)."""
    return server.token(prefix, access, name=name)


def open_editor(context: BrowserContext, server: AtelierServer, doc: str, token: str) -> Page:
    """`/d/{doc}?token=...` in a new tab, once the editor is ready."""
    page = context.new_page()
    page.goto(f"{server.http_url}/d/{doc}?token={token}")
    expect(page.locator("#editor")).to_have_attribute("data-ready", "true")
    return page


def open_page(context: BrowserContext, path: str) -> Page:
    """A page of a space in a new tab, once the editor is ready."""
    page = context.new_page()
    page.goto(path)
    expect(page.locator("#editor")).to_have_attribute("data-ready", "true")
    return page


def surface(page: Page) -> Locator:
    """The editable text of the editor."""
    return page.locator("#editor .ProseMirror")


def type_at_end(page: Page, text: str) -> None:
    """Click in the text, go to its end and type, as a person does."""
    surface(page).click()
    page.keyboard.press("Control+End")
    page.keyboard.type(text)
