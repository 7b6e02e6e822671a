"""Read a document's rich text (TipTap / y-prosemirror layout) into plain Python nodes.

y-prosemirror stores a ProseMirror document in the Y.XmlFragment "default": one XmlElement
per node (its tag is the node type, its attributes the node's attributes) and XmlText for
text, whose formatting attributes are the marks. This module turns that into `Block` and
`TextRun` values that know nothing of pycrdt, for the exporters in `web/pages/export.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pycrdt import Doc, XmlElement, XmlFragment, XmlText

from realtime.errors import RealtimeError

# ProseMirror documents nest a few levels in practice; a crafted one could nest thousands.
MAX_DEPTH = 200
# Attribute values are small JSON values in practice (a mark's {"href": ..., "title": ...}).
MAX_VALUE_DEPTH = 16


class ExtractError(RealtimeError):
    """The document cannot be read as rich text."""


@dataclass(frozen=True)
class TextRun:
    """Text with its marks: mark name → the mark's attributes (`{"link": {"href": ...}}`)."""

    text: str
    marks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Block:
    """A ProseMirror node: `type` ("heading", "paragraph", "table", ...), attributes, content."""

    type: str
    attrs: Mapping[str, Any] = field(default_factory=dict)
    children: tuple[Block | TextRun, ...] = ()

    def text(self) -> str:
        """The plain text inside, without formatting."""
        return "".join(c.text if isinstance(c, TextRun) else c.text() for c in self.children)


def _value(value: Any, depth: int = 0) -> Any:
    """An attribute value as plain data (text, number, boolean, None, lists and dicts of them).

    A Yjs client may store anything in an attribute: a nested Yjs type or bytes become None,
    and so does whatever nests deeper than `MAX_VALUE_DEPTH`.
    """
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        # Yjs numbers arrive as floats; ProseMirror attributes such as `level` are integers.
        return int(value) if value.is_integer() else value
    if depth >= MAX_VALUE_DEPTH:
        return None
    if isinstance(value, dict):
        return {str(k): _value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_value(v, depth + 1) for v in value]
    return None


def _mark_name(name: str) -> str:
    # y-prosemirror stores marks that may overlap themselves as "name--<hash>".
    return name.split("--", 1)[0]


def _runs(text: XmlText) -> list[TextRun]:
    runs: list[TextRun] = []
    for insert, attributes in text.diff():
        if not isinstance(insert, str) or not insert:
            continue  # embeds are not used by TipTap's schema
        marks = {
            _mark_name(name): _value(attrs) if isinstance(attrs, dict) else {}
            for name, attrs in (attributes or {}).items()
            if attrs is not None
        }
        runs.append(TextRun(insert, marks))
    return runs


def _children(parent: XmlFragment | XmlElement, depth: int) -> tuple[Block | TextRun, ...]:
    if depth > MAX_DEPTH:
        raise ExtractError(f"the document nests deeper than {MAX_DEPTH} levels")
    out: list[Block | TextRun] = []
    for child in parent.children:
        if isinstance(child, XmlText):
            out.extend(_runs(child))
        elif isinstance(child, XmlElement):
            # pycrdt types __iter__ as returning an Iterable, not an Iterator.
            pairs: Iterable[tuple[str, Any]] = child.attributes.__iter__()
            attrs = {str(k): _value(v) for k, v in pairs}
            out.append(Block(str(child.tag), attrs, _children(child, depth + 1)))
    return tuple(out)


def fragment_blocks(fragment: XmlFragment) -> Block:
    """The fragment as a "doc" block."""
    return Block("doc", {}, _children(fragment, 0))


def document_blocks(update: bytes, field_name: str = "default") -> Block:
    """Read a whole document (one Yjs update, as the store hands it back) as a "doc" block."""
    doc: Doc[Any] = Doc()
    if update:
        try:
            doc.apply_update(update)
        except Exception as exc:  # pycrdt raises bare exceptions for bad bytes
            raise ExtractError(f"the document's bytes cannot be read: {exc}") from None
    return fragment_blocks(doc.get(field_name, type=XmlFragment))
