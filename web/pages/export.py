"""Export a page as Markdown (GitHub flavour) or as a standalone HTML file.

Works on the nodes `realtime.extract` reads from the pycrdt document; node and mark names
are TipTap's. Unknown nodes keep their text; unknown marks are dropped. Every attribute is
read through `web.pages.document_attrs`, since any editor can sync any value into one.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

from realtime.extract import Block, TextRun
from web.pages.document_attrs import (
    attribute_text,
    cell_span,
    code_language,
    heading_level,
    list_start,
    mark_attr,
    safe_href,
    task_checked,
)

__all__ = ["safe_href", "to_html", "to_html_fragment", "to_markdown"]

Node = Block | TextRun


# --- Markdown -------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>~|])")
# "&amp;" or "&#106;" would be decoded by a Markdown renderer: keep them as typed.
_MD_ENTITY = re.compile(r"&(?=#[0-9]|#[xX][0-9a-fA-F]|[A-Za-z][A-Za-z0-9]*;)")
_MD_LINE_START = re.compile(r"^(\s*)(#{1,6}(?=\s|$)|[-+](?=\s|$)|>|=+\s*$|-+\s*$)", re.M)
_MD_ORDERED_START = re.compile(r"^(\s*\d+)([.)])(?=\s|$)", re.M)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# What could end a link destination early, split a table row or be read as an entity.
_MD_URL_UNSAFE = re.compile(r"[ ()<>|]|&(?=#|[A-Za-z][A-Za-z0-9]*;)")
_MD_TITLE_UNSAFE = re.compile(r'([\\"|])|&(?=#|[A-Za-z][A-Za-z0-9]*;)')
_HARD_BREAK = "\\\n"


def _md_escape(text: str) -> str:
    escaped = _MD_SPECIAL.sub(r"\\\1", text)
    escaped = _MD_ENTITY.sub(r"\\&", escaped)
    escaped = _MD_ORDERED_START.sub(r"\1\\\2", escaped)
    return _MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)


def _md_code_span(text: str, *, in_table: bool = False) -> str:
    text = _LINE_BREAK.sub(" ", text)
    if in_table:
        text = text.replace("|", "\\|")  # GFM splits table rows before reading code spans
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_destination(url: str) -> str:
    """A link destination that ends where the link does (`url` passed `safe_href`)."""
    return _MD_URL_UNSAFE.sub(lambda m: f"%{ord(m.group(0)[0]):02X}", url)


def _md_title(title: str) -> str:
    if not title:
        return ""
    return ' "' + _MD_TITLE_UNSAFE.sub(lambda m: "\\" + m.group(0), title) + '"'


def _md_run(run: TextRun, newline: str, in_table: bool) -> str:
    marks = run.marks
    if "code" in marks:
        body = _md_code_span(run.text, in_table=in_table)
    else:
        body = _md_escape(_LINE_BREAK.sub("\n", run.text))
    # Emphasis must hug its text: keep surrounding spaces outside the delimiters.
    lead = body[: len(body) - len(body.lstrip())]
    trail = body[len(body.rstrip()) :]
    core = body.strip()
    if core:
        if "italic" in marks:
            core = f"*{core}*"
        if "bold" in marks:
            core = f"**{core}**"
        if "strike" in marks:
            core = f"~~{core}~~"
        if "underline" in marks:
            core = f"<u>{core}</u>"
        href = safe_href(mark_attr(marks, "link", "href"))
        if href is not None:
            title = attribute_text(mark_attr(marks, "link", "title"))
            core = f"[{core}]({_md_destination(href)}{_md_title(title)})"
    return "".join(part.replace("\n", newline) for part in (lead, core, trail))


def _md_inline(nodes: Iterable[Node], *, newline: str = _HARD_BREAK, in_table: bool = False) -> str:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, TextRun):
            out.append(_md_run(node, newline, in_table))
        elif node.type == "hardBreak":
            out.append(newline)
        elif node.type == "image":
            out.append(_md_image(node.attrs))
        else:
            out.append(_md_inline(node.children, newline=newline, in_table=in_table))
    return "".join(out)


def _md_image(attrs: Mapping[str, Any]) -> str:
    src = safe_href(attrs.get("src"))
    if src is None:
        return ""
    alt = _md_escape(attribute_text(attrs.get("alt")))
    title = _md_title(attribute_text(attrs.get("title")))
    return f"![{alt}]({_md_destination(src)}{title})"


def _indent(text: str, prefix: str, first: str | None = None) -> str:
    lines = text.split("\n")
    head = (first if first is not None else prefix) + lines[0]
    rest = [prefix + line if line else "" for line in lines[1:]]
    return "\n".join([head, *rest])


def _md_blocks(nodes: Iterable[Node]) -> str:
    parts = [_md_block(n) for n in nodes if isinstance(n, Block)]
    return "\n\n".join(p for p in parts if p)


_LISTS = ("bulletList", "orderedList", "taskList")


def _md_item_body(item: Block) -> str:
    # A nested list follows its item's text on the next line, keeping the list tight.
    out = ""
    for child in item.children:
        if not isinstance(child, Block):
            continue
        text = _md_block(child)
        if out:
            out += "\n" if child.type in _LISTS else "\n\n"
        out += text
    return out


def _starts_inline(item: Block) -> bool:
    """Whether a list item's Markdown begins with text (a paragraph, or nothing)."""
    first = next((c for c in item.children if isinstance(c, Block)), None)
    if first is None or first.type == "paragraph":
        return True
    if first.type in ("heading", "codeBlock", "blockquote", "table", "horizontalRule"):
        return False
    if first.type in _LISTS:
        return True
    # Any other node (a list item's own paragraph, unknown kinds) decides by what it holds.
    return _starts_inline(first)


def _md_list(block: Block) -> str:
    entries = [item for item in block.children if isinstance(item, Block)]
    number = list_start(block.attrs, len(entries))
    items: list[str] = []
    for item in entries:
        if block.type == "orderedList":
            marker = f"{number}. "
            number += 1
        elif block.type == "taskList":
            marker = "- [x] " if task_checked(item.attrs) else "- [ ] "
        else:
            marker = "- "
        body = _md_item_body(item)
        width = 2 if block.type == "taskList" else len(marker)
        if not _starts_inline(item):
            # A code block, quote or table after the marker on the same line would be read as
            # text (its fence is not at the start of a line): the marker stands alone first.
            items.append(marker.rstrip() + "\n" + _indent(body, " " * width))
            continue
        items.append(_indent(body, " " * width, marker))
    # Tight list: one item per line (items with several blocks keep their blank lines).
    return "\n".join(items)


def _md_table(block: Block) -> str:
    rows: list[list[str]] = []
    for row in block.children:
        if isinstance(row, Block):
            cells = [
                " <br> ".join(
                    _md_inline(p.children, newline="<br>", in_table=True)
                    for p in cell.children
                    if isinstance(p, Block)
                )
                for cell in row.children
                if isinstance(cell, Block)
            ]
            rows.append(cells)
    width = max((len(r) for r in rows), default=0)
    if not width:
        return ""
    rows = [r + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join([" --- "] * width) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def _md_block(block: Block) -> str:
    kind = block.type
    if kind == "heading":
        return "#" * heading_level(block.attrs) + " " + _md_inline(block.children, newline=" ")
    if kind == "paragraph":
        return _md_inline(block.children)
    if kind in _LISTS:
        return _md_list(block)
    if kind == "blockquote":
        return _indent(_md_blocks(block.children), "> ").replace("\n\n", "\n>\n")
    if kind == "codeBlock":
        code = block.text()
        longest = max((len(m) for m in re.findall(r"`{3,}", code)), default=2)
        fence = "`" * (longest + 1)
        return f"{fence}{code_language(block.attrs)}\n{code}\n{fence}"
    if kind == "table":
        return _md_table(block)
    if kind == "horizontalRule":
        return "---"
    if kind == "image":
        return _md_image(block.attrs)
    if any(isinstance(c, Block) and c.type not in ("hardBreak", "image") for c in block.children):
        return _md_blocks(block.children)
    return _md_inline(block.children)


def to_markdown(doc: Block) -> str:
    """The document as GitHub-flavoured Markdown, ending with one newline."""
    return _md_blocks(doc.children).strip("\n") + "\n"


# --- HTML -----------------------------------------------------------------------------------

_HTML_BLOCKS = {
    "paragraph": "p",
    "blockquote": "blockquote",
    "bulletList": "ul",
    "orderedList": "ol",
    "listItem": "li",
    "table": "table",
    "tableRow": "tr",
    "tableHeader": "th",
    "tableCell": "td",
}
_HTML_MARKS = (("bold", "strong"), ("italic", "em"), ("strike", "s"), ("underline", "u"))


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _title_attr(value: object) -> str:
    title = attribute_text(value)
    return f' title="{_esc(title)}"' if title else ""


def _html_run(run: TextRun) -> str:
    body = _esc(run.text)
    if "code" in run.marks:
        body = f"<code>{body}</code>"
    for mark, tag in _HTML_MARKS:
        if mark in run.marks:
            body = f"<{tag}>{body}</{tag}>"
    href = safe_href(mark_attr(run.marks, "link", "href"))
    if href is not None:
        title = _title_attr(mark_attr(run.marks, "link", "title"))
        body = f'<a href="{_esc(href)}"{title}>{body}</a>'
    return body


def _span_attrs(attrs: Mapping[str, Any]) -> str:
    out = ""
    for name in ("colspan", "rowspan"):
        value = cell_span(attrs, name)
        if value > 1:
            out += f' {name}="{value}"'
    return out


def _html(nodes: Iterable[Node]) -> str:
    return "".join(_html_node(n) for n in nodes)


def _html_node(node: Node) -> str:
    if isinstance(node, TextRun):
        return _html_run(node)
    kind, attrs = node.type, node.attrs
    if kind == "heading":
        level = heading_level(attrs)
        return f"<h{level}>{_html(node.children)}</h{level}>\n"
    if kind == "hardBreak":
        return "<br>"
    if kind == "horizontalRule":
        return "<hr>\n"
    if kind == "image":
        src = safe_href(attrs.get("src"))
        if src is None:
            return ""
        alt = _esc(attribute_text(attrs.get("alt")))
        return f'<img src="{_esc(src)}" alt="{alt}"{_title_attr(attrs.get("title"))}>\n'
    if kind == "codeBlock":
        language = code_language(attrs)
        cls = f' class="language-{_esc(language)}"' if language else ""
        return f"<pre><code{cls}>{_esc(node.text())}</code></pre>\n"
    if kind == "orderedList":
        start = list_start(attrs, sum(isinstance(c, Block) for c in node.children))
        start_attr = f' start="{start}"' if start != 1 else ""
        return f"<ol{start_attr}>\n{_html(node.children)}</ol>\n"
    if kind == "taskList":
        return f'<ul class="task-list">\n{_html(node.children)}</ul>\n'
    if kind == "taskItem":
        checked = " checked" if task_checked(attrs) else ""
        # Named by its task's text, so that a screen reader says what is (not) done; the box
        # of an empty task has nothing to say and is left out for them.
        first = next((c for c in node.children if isinstance(c, Block)), None)
        name = _esc(first.text().strip()) if first is not None else ""
        said = f'aria-label="{name}"' if name else 'aria-hidden="true"'
        box = f'<input type="checkbox" {said} disabled{checked}> '
        return f'<li class="task-list-item">{box}{_html(node.children)}</li>\n'
    if kind == "table":
        return f"<table>\n<tbody>\n{_html(node.children)}</tbody>\n</table>\n"
    tag = _HTML_BLOCKS.get(kind)
    if tag is None:
        return _html(node.children)
    extra = _span_attrs(attrs) if tag in ("td", "th") else ""
    opening = "\n" if tag in ("ul", "blockquote", "tr") else ""
    closing = "" if tag in ("td", "th") else "\n"
    return f"<{tag}{extra}>{opening}{_html(node.children)}</{tag}>{closing}"


def _without_trailing_empty(doc: Block) -> list[Node]:
    # TipTap keeps an empty paragraph at the end so there is always somewhere to type.
    children = list(doc.children)
    while children and isinstance(children[-1], Block) and children[-1].type == "paragraph":
        if children[-1].children:
            break
        children.pop()
    return children


def to_html_fragment(doc: Block) -> str:
    """The document's content as HTML (no <html> wrapper)."""
    return _html(_without_trailing_empty(doc))


def to_html(doc: Block, *, title: str, lang: str = "fr") -> str:
    """A standalone HTML file of the document."""
    return (
        "<!doctype html>\n"
        f'<html lang="{_esc(lang)}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_esc(title)}</title>\n</head>\n<body>\n"
        f"{to_html_fragment(doc)}</body>\n</html>\n"
    )
