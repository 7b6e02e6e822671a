"""The page editor in Chromium: open it on a document or a page, find and type in its text."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.support.servers import AtelierServer


def mint_token(server: AtelierServer, prefix: str, *, access: str = "rw", name: str = "") -> str:
    """`atelier token` with a display name (the caret label of whoever opens the page)."""
    return server.token(prefix, access, name=name)


def open_editor(
    context: BrowserContext, server: AtelierServer, doc: str, token: str, *, via: str = ""
) -> Page:
    """`/d/{doc}?token=...` in a new tab, once the editor is ready; `via`: another address of
    the server (a relay) to open it through."""
    page = context.new_page()
    page.goto(f"{via or server.http_url}/d/{doc}?token={token}")
    expect(page.locator("#editor")).to_have_attribute("data-ready", "true")
    return page


def open_page(context: BrowserContext, path: str) -> Page:
    """A page of a space in a new tab, once the editor is ready."""
    page = context.new_page()
    page.goto(path)
    expect(page.locator("#editor")).to_have_attribute("data-ready", "true")
    return page


def toolbar_button(page: Page, command: str) -> Locator:
    """A button of the editor's toolbar, opening its "Plus" panel first when it is in there."""
    button = page.locator(f"[data-editor-toolbar] [data-command={command}]")
    if button.evaluate("b => !!b.closest('[data-toolbar-overflow]')"):
        more = page.locator("[data-editor-toolbar] [data-toolbar-more]")
        if more.get_attribute("aria-expanded") != "true":
            more.click()
    return button


def surface(page: Page) -> Locator:
    """The editable text of the editor."""
    return page.locator("#editor .ProseMirror")


def type_at_end(page: Page, text: str) -> None:
    """Click in the text, go to its end and type, as a person does."""
    surface(page).click()
    page.keyboard.press("Control+End")
    page.keyboard.type(text)


def type_at_start(page: Page, text: str) -> None:
    """Click just inside the left edge of the first block and type, as a person does (Home
    stops short when someone else's caret sits at the end of the line)."""
    first = surface(page).locator("> *").first
    box = first.bounding_box()
    assert box is not None, "the editor shows no block"
    first.click(position={"x": 1, "y": box["height"] / 2})
    page.keyboard.type(text)


# Reads the document as this device keeps it: a second y-indexeddb reader of the page's own
# database, on a fresh Y.Doc (the page's classes, so no module is needed).
_KEPT_ON_DEVICE = """async (text) => {
  const { shared } = window.atelier;
  const copy = new shared.ydoc.constructor();
  const reader = new shared.local.constructor(shared.local.name, copy);
  await reader.whenSynced;
  const kept = copy.getXmlFragment("default").toString();
  await reader.destroy();
  copy.destroy();
  return kept.includes(text);
}"""


def wait_until_kept_on_device(page: Page, text: str) -> None:
    """Wait until the page's IndexedDB copy of its document holds `text` (y-indexeddb writes
    each edit in a transaction of its own, after the editor shows it)."""
    page.wait_for_function(_KEPT_ON_DEVICE, arg=text, polling=50)


# The text of each block of the editor as shown, without the other people's carets.
_BLOCKS = """() => [...document.querySelectorAll("#editor .ProseMirror > *")].map((block) => {
  const shown = block.cloneNode(true);
  shown.querySelectorAll(".collaboration-carets__caret").forEach((caret) => caret.remove());
  return shown.textContent;
})"""


def expect_blocks(page: Page, expected: list[str], timeout: float = 5000) -> None:
    """Wait until the editor shows exactly these blocks (paragraphs, headings...) of text,
    carets left out; fail with what it shows."""
    try:
        page.wait_for_function(
            f"(expected) => JSON.stringify(({_BLOCKS})()) === JSON.stringify(expected)",
            arg=expected,
            timeout=timeout,
        )
    except PlaywrightTimeoutError:
        shown = page.evaluate(_BLOCKS)
        raise AssertionError(f"the editor shows {shown!r}, not {expected!r}") from None
