"""Reading what a page shows: its text with entities decoded, the editor's data attributes."""

from __future__ import annotations

import html
import re

import httpx


def page_text(response: httpx.Response) -> str:
    """A page's HTML with entities decoded, to look for sentences with apostrophes."""
    return html.unescape(response.text)


def editor_data(page: str) -> dict[str, str]:
    """The `data-*` attributes of the page's `#editor` element."""
    tag = re.search(r'<div id="editor"[^>]*>', page, re.S)
    assert tag, "no #editor on the page"
    return dict(re.findall(r'data-([\w-]+)="([^"]*)"', tag.group(0)))
