"""A space's description as people write it: a small Markdown subset turned into HTML.

What the form's help text promises, and no more: paragraphs (a line break stays a line
break), **bold** or __bold__, *italic* or _italic_, `code`, [links](https://…), lists with
"- " or "* " and numbered lists with "1. ". A line starting with an HTML tag is kept as it is
(descriptions written before, and stored, as HTML), with the lines after it up to a blank
line. The result is not safe by itself:
`web.spaces.validation.description_html` sanitises it with nh3.
"""

from __future__ import annotations

import html
import re

_BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
_NUMBER = re.compile(r"^\s{0,3}\d{1,9}[.)]\s+(.*)$")
_TAG_LINE = re.compile(r"^\s*</?[A-Za-z][^>]*>")
_CODE = re.compile(r"(`+)(.+?)\1")
_LINK = re.compile(r"\[([^\]\n]+)\]\(\s*((?:https?://|mailto:|/)[^\s()<>\"]*)\s*\)")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_STAR_ITALIC = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")
_UNDER_ITALIC = re.compile(r"(?<![_\w])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![_\w])")


def _emphasis(text: str) -> str:
    text = _BOLD.sub(r"<strong>\2</strong>", text)
    text = _STAR_ITALIC.sub(r"<em>\1</em>", text)
    return _UNDER_ITALIC.sub(r"<em>\1</em>", text)


def _links_and_emphasis(text: str) -> str:
    """Links first, so that an address's own `_` or `*` is never taken for emphasis."""
    out: list[str] = []
    at = 0
    for match in _LINK.finditer(text):
        out.append(_emphasis(text[at : match.start()]))
        out.append(f'<a href="{html.escape(match.group(2))}">{_emphasis(match.group(1))}</a>')
        at = match.end()
    out.append(_emphasis(text[at:]))
    return "".join(out)


def inline(text: str) -> str:
    """Bold, italic, code and links within a line (code spans are left alone inside)."""
    out: list[str] = []
    at = 0
    for match in _CODE.finditer(text):
        out.append(_links_and_emphasis(text[at : match.start()]))
        out.append(f"<code>{html.escape(match.group(2).strip(), quote=False)}</code>")
        at = match.end()
    out.append(_links_and_emphasis(text[at:]))
    return "".join(out)


def markdown_html(source: str) -> str:
    """The subset of Markdown above, as HTML (unsanitised)."""
    blocks: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    kind = ""  # "ul" or "ol" while in a list
    raw_html = False  # in a block of HTML, kept as it is until a blank line

    def flush() -> None:
        nonlocal kind
        if paragraph:
            blocks.append("<p>" + "<br>\n".join(inline(line) for line in paragraph) + "</p>")
            paragraph.clear()
        if items:
            body = "\n".join(f"<li>{inline(item)}</li>" for item in items)
            blocks.append(f"<{kind}>\n{body}\n</{kind}>")
            items.clear()
        kind = ""

    for raw in source.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.rstrip()
        bullet, number = _BULLET.match(line), _NUMBER.match(line)
        if not line.strip():
            flush()
            raw_html = False
        elif raw_html or (_TAG_LINE.match(line) and not items and not paragraph):
            flush()
            raw_html = True
            blocks.append(line.strip())
        elif bullet or number:
            wanted = "ul" if bullet else "ol"
            if paragraph or kind != wanted:
                flush()
            kind = wanted
            items.append((bullet or number).group(1))  # type: ignore[union-attr]
        elif items and raw[:1].isspace():
            items[-1] += " " + line.strip()  # a list item going on, indented
        else:
            if items:
                flush()
            paragraph.append(line.strip())
    flush()
    return "\n".join(blocks)
