"""Search text: a page's plain text, accent and case folding, and highlighted snippets.

Matching is done on folded text (lower case, accents removed, one character in for at most
a few out), so "ELEVE" finds "élève". Snippets are cut from the original text and mapped
back through the folding, so the highlight falls on the word as written.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from markupsafe import Markup, escape

from realtime.extract import Block, TextRun

SNIPPET_CHARS = 160
MAX_TERMS = 8

# Blocks whose text reads as a line of its own.
_INLINE = {"text", "hardBreak"}


def fold(text: str) -> str:
    """Lower case without accents ("Élève Œuvre" → "eleve œuvre")."""
    return "".join(_fold_char(c) for c in text)


def _fold_char(char: str) -> str:
    if char.isascii():
        return char.lower()
    decomposed = unicodedata.normalize("NFKD", char)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def plain_text(doc: Block) -> str:
    """The document's text, one line a paragraph, heading, list item or table cell."""
    lines: list[str] = []
    current: list[str] = []

    def walk(node: Block | TextRun) -> None:
        if isinstance(node, TextRun):
            current.append(node.text)
            return
        if node.type == "hardBreak":
            current.append(" ")
            return
        has_text = any(isinstance(child, TextRun) for child in node.children)
        for child in node.children:
            walk(child)
        if has_text or node.type not in _INLINE:
            line = "".join(current).strip()
            if line:
                lines.append(line)
            current.clear()

    walk(doc)
    return "\n".join(lines)


def terms_of(query: str) -> list[str]:
    """The folded words of a query, longest first, without repeats (at most MAX_TERMS)."""
    seen: dict[str, None] = {}
    for word in fold(query).split():
        if word not in seen:
            seen[word] = None
    return sorted(seen, key=len, reverse=True)[:MAX_TERMS]


def _folded_with_map(text: str) -> tuple[str, list[int]]:
    """The folded text and, for each folded character, the index of its original one."""
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = _fold_char(char)
        out.append(folded)
        origin.extend([index] * len(folded))
    return "".join(out), origin


def _matches(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    """Non-overlapping spans of `text` (original indices) where a term matches, in order."""
    folded, origin = _folded_with_map(text)
    spans: list[tuple[int, int]] = []
    for term in terms:
        start = folded.find(term)
        while start != -1:
            end = start + len(term)
            span = (origin[start], origin[end - 1] + 1)
            if not any(s < span[1] and span[0] < e for s, e in spans):
                spans.append(span)
            start = folded.find(term, end)
    return sorted(spans)


def highlight(text: str, terms: Sequence[str]) -> Markup:
    """`text` escaped, with every match of a term in <mark>."""
    out = Markup("")
    last = 0
    for start, end in _matches(text, terms):
        out += escape(text[last:start]) + Markup("<mark>") + escape(text[start:end])
        out += Markup("</mark>")
        last = end
    return out + escape(text[last:])


def snippet(body: str, terms: Sequence[str], size: int = SNIPPET_CHARS) -> Markup:
    """About `size` characters of `body` around its first match, escaped and highlighted."""
    flat = " ".join(body.split())
    spans = _matches(flat, terms)
    if not spans:
        cut = flat[:size]
        return escape(cut) + (Markup("…") if len(flat) > size else Markup(""))
    first = spans[0][0]
    start = max(0, first - size // 3)
    if start > 0:
        # Start on a word boundary.
        space = flat.rfind(" ", 0, start)
        start = space + 1 if space != -1 and start - space < 20 else start
    end = min(len(flat), start + size)
    if end < len(flat):
        space = flat.find(" ", end)
        end = space if space != -1 and space - end < 20 else end
    prefix = Markup("…") if start > 0 else Markup("")
    suffix = Markup("…") if end < len(flat) else Markup("")
    return prefix + highlight(flat[start:end], terms) + suffix
