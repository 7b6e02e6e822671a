"""Build page documents the way the TipTap editor stores them, with any attribute values.

y-prosemirror keeps a page in the Y.XmlFragment "default": one XmlElement per node (tag: the
node type, attributes: the node's attributes) and one XmlText per run of text, whose
formatting attributes are the marks (`{"bold": {}, "link": {"href": ...}}`). A client may put
anything there; these helpers let tests do the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pycrdt import Doc, XmlElement, XmlFragment, XmlText


@dataclass(frozen=True)
class Run:
    """Text with its marks (mark name → the mark's attributes, or any value a client sends)."""

    text: str
    marks: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Node:
    """A node: its type, its attributes and its content."""

    tag: str
    attrs: Mapping[str, Any] = field(default_factory=dict)
    children: Sequence[Node | Run] = ()


def node(tag: str, attrs: Mapping[str, Any] | None = None, *children: Node | Run | str) -> Node:
    """`node("heading", {"level": 2}, "Titre")`: plain strings are unmarked runs."""
    content = tuple(Run(c) if isinstance(c, str) else c for c in children)
    return Node(tag, attrs or {}, content)


def paragraph(*children: Node | Run | str) -> Node:
    return node("paragraph", None, *children)


def _fill(parent: XmlFragment | XmlElement, children: Sequence[Node | Run]) -> None:
    text: XmlText | None = None
    for child in children:
        if isinstance(child, Run):
            if text is None:  # adjacent runs share one XmlText, as y-prosemirror does
                text = parent.children.append(XmlText())
            if child.text:
                # pycrdt counts indexes as len() does, so appending at len() is the end.
                text.insert(len(text), child.text, dict(child.marks) or None)
            continue
        text = None
        element = parent.children.append(XmlElement(child.tag))
        for name, value in child.attrs.items():
            element.attributes[name] = value
        _fill(element, child.children)


def document_state(*blocks: Node) -> bytes:
    """A whole-document Yjs update holding these blocks, as the store keeps a page."""
    doc: Doc[Any] = Doc()
    _fill(doc.get("default", type=XmlFragment), blocks)
    return doc.get_update()


def sync_update_message(update: bytes) -> bytes:
    """The y-websocket message that carries `update` (what an editor sends when it types)."""
    return b"\x00\x02" + _varuint(len(update)) + update


def sync_step1_message() -> bytes:
    """A y-websocket sync step 1 with an empty state vector: "send me everything"."""
    return b"\x00\x00\x01\x00"


def _varuint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
