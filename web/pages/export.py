"""Export a page as Markdown (GitHub flavour) or as a standalone HTML file.

Works on the nodes `realtime.extract` reads from the pycrdt document; node and mark names
are TipTap's. Unknown nodes keep their text; unknown marks are dropped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

from realtime.extract import Block, TextRun

Node = Block | TextRun


def safe_href(href: object) -> str | None:
    """Addresses an export may link to: web, mail and paths on the instance."""
    if not isinstance(href, str):
        return None
    value = href.strip()
    if value.startswith("/") and not value.startswith("//"):
        return value
    if re.match(r"^(https?://|mailto:)", value, re.I):
        return value
    return None


# --- Markdown -------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>~|])")
_MD_LINE_START = re.compile(r"^(\s*)(#{1,6}(?=\s|$)|[-+](?=\s)|>|=+\s*$)", re.M)
_MD_ORDERED_START = re.compile(r"^(\s*\d+)([.)])(?=\s|$)", re.M)


def _md_escape(text: str) -> str:
    escaped = _MD_SPECIAL.sub(r"\\\1", text)
    escaped = _MD_ORDERED_START.sub(r"\1\\\2", escaped)
    return _MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)


def _md_code_span(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_run(run: TextRun) -> str:
    marks = run.marks
    if "code" in marks:
        body = _md_code_span(run.text)
    else:
        body = _md_escape(run.text)
    # Emphasis must hug its text: keep surrounding spaces outside the delimiters.
    lead = body[: len(body) - len(body.lstrip())]
    trail = body[len(body.rstrip()) :]
    core = body.strip()
    if not core:
        return body
    if "italic" in marks:
        core = f"*{core}*"
    if "bold" in marks:
        core = f"**{core}**"
    if "strike" in marks:
        core = f"~~{core}~~"
    if "underline" in marks:
        core = f"<u>{core}</u>"
    href = safe_href(marks.get("link", {}).get("href")) if "link" in marks else None
    if href is not None:
        core = f"[{core}]({_md_url(href)})"
    return lead + core + trail


def _md_url(url: str) -> str:
    return "<" + url.replace("<", "%3C").replace(">", "%3E") + ">" if " " in url else url


def _md_inline(nodes: Iterable[Node], *, in_table: bool = False) -> str:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, TextRun):
            out.append(_md_run(node))
        elif node.type == "hardBreak":
            out.append("<br>" if in_table else "\\\n")
        elif node.type == "image":
            out.append(_md_image(node.attrs))
        else:
            out.append(_md_inline(node.children, in_table=in_table))
    return "".join(out)


def _md_image(attrs: Mapping[str, Any]) -> str:
    src = safe_href(attrs.get("src"))
    if src is None:
        return ""
    alt = _md_escape(str(attrs.get("alt") or ""))
    return f"![{alt}]({_md_url(src)})"


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


def _md_list(block: Block) -> str:
    items: list[str] = []
    number = int(block.attrs.get("start") or 1)
    for item in block.children:
        if not isinstance(item, Block):
            continue
        if block.type == "orderedList":
            marker = f"{number}. "
            number += 1
        elif block.type == "taskList":
            marker = "- [x] " if item.attrs.get("checked") else "- [ ] "
        else:
            marker = "- "
        body = _md_item_body(item)
        width = 2 if block.type == "taskList" else len(marker)
        items.append(_indent(body, " " * width, marker))
    # Tight list: one item per line (items with several blocks keep their blank lines).
    return "\n".join(items)


def _md_table(block: Block) -> str:
    rows: list[list[str]] = []
    for row in block.children:
        if isinstance(row, Block):
            cells = [
                " <br> ".join(
                    _md_inline(p.children, in_table=True)
                    for p in cell.children
                    if isinstance(p, Block)
                )
                for cell in row.children
                if isinstance(cell, Block)
            ]
            rows.append(cells)
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join([" --- "] * width) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def _md_block(block: Block) -> str:
    kind = block.type
    if kind == "heading":
        level = min(max(int(block.attrs.get("level") or 1), 1), 6)
        return "#" * level + " " + _md_inline(block.children).replace("\\\n", " ")
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
        language = re.sub(r"[^\w+#.-]", "", str(block.attrs.get("language") or ""))
        return f"{fence}{language}\n{code}\n{fence}"
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


def _html_run(run: TextRun) -> str:
    body = _esc(run.text)
    if "code" in run.marks:
        body = f"<code>{body}</code>"
    for mark, tag in _HTML_MARKS:
        if mark in run.marks:
            body = f"<{tag}>{body}</{tag}>"
    if "link" in run.marks:
        href = safe_href(run.marks["link"].get("href"))
        if href is not None:
            body = f'<a href="{_esc(href)}">{body}</a>'
    return body


def _span_attrs(attrs: Mapping[str, Any]) -> str:
    out = ""
    for name in ("colspan", "rowspan"):
        value = attrs.get(name)
        if isinstance(value, int) and value > 1:
            out += f' {name}="{value}"'
    return out


def _html(nodes: Iterable[Node]) -> str:
    return "".join(_html_node(n) for n in nodes)


def _html_node(node: Node) -> str:
    if isinstance(node, TextRun):
        return _html_run(node)
    kind, attrs = node.type, node.attrs
    if kind == "heading":
        level = min(max(int(attrs.get("level") or 1), 1), 6)
        return f"<h{level}>{_html(node.children)}</h{level}>\n"
    if kind == "hardBreak":
        return "<br>"
    if kind == "horizontalRule":
        return "<hr>\n"
    if kind == "image":
        src = safe_href(attrs.get("src"))
        alt = _esc(str(attrs.get("alt") or ""))
        return f'<img src="{_esc(src)}" alt="{alt}">\n' if src else ""
    if kind == "codeBlock":
        language = re.sub(r"[^\w+#.-]", "", str(attrs.get("language") or ""))
        cls = f' class="language-{language}"' if language else ""
        return f"<pre><code{cls}>{_esc(node.text())}</code></pre>\n"
    if kind == "orderedList":
        start = int(attrs.get("start") or 1)
        start_attr = f' start="{start}"' if start != 1 else ""
        return f"<ol{start_attr}>\n{_html(node.children)}</ol>\n"
    if kind == "taskList":
        return f'<ul class="task-list">\n{_html(node.children)}</ul>\n'
    if kind == "taskItem":
        checked = " checked" if attrs.get("checked") else ""
        box = f'<input type="checkbox" disabled{checked}> '
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
