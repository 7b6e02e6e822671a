"""Restoring an old version of a document as a new change (pycrdt side of version history).

A restore does not rewind the document: it is an ordinary Yjs change, made on the server,
that replaces the rich text (the XmlFragment "default") by a copy of the old one. Everyone
connected receives it live like any other edit, and history stays append-only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pycrdt import Doc, XmlElement, XmlFragment, XmlText

from realtime.errors import RealtimeError
from realtime.extract import MAX_DEPTH

FIELD = "default"


class VersionError(RealtimeError):
    """A version's bytes cannot be read or restored."""


def _load(state: bytes) -> Doc[Any]:
    doc: Doc[Any] = Doc()
    if state:
        try:
            doc.apply_update(state)
        except Exception as exc:  # pycrdt raises bare exceptions for bad bytes
            raise VersionError(f"the document's bytes cannot be read: {exc}") from None
    return doc


def validate_state(state: bytes) -> None:
    """Raise VersionError unless `state` reads as a document."""
    _load(state)


def _copy_text(source: XmlText, target: XmlText) -> None:
    for insert, attributes in source.diff():
        attrs = dict(attributes) if attributes else None
        # Append at the end: pycrdt counts indexes in its own unit (UTF-8 bytes), as len() does.
        if isinstance(insert, str):
            if insert:
                target.insert(len(target), insert, attrs)
        else:
            target.insert_embed(len(target), insert, attrs)


def _copy_children(
    source: XmlFragment | XmlElement, target: XmlFragment | XmlElement, depth: int
) -> None:
    if depth > MAX_DEPTH:
        raise VersionError(f"the document nests deeper than {MAX_DEPTH} levels")
    for child in source.children:
        if isinstance(child, XmlText):
            text = target.children.append(XmlText())
            _copy_text(child, text)
        elif isinstance(child, XmlElement):
            element = target.children.append(XmlElement(str(child.tag)))
            # Values are copied as read (numbers stay floats, as Yjs clients wrote them).
            pairs: Iterable[tuple[str, Any]] = child.attributes.__iter__()
            for key, value in pairs:
                element.attributes[str(key)] = value
            _copy_children(child, element, depth + 1)


def restore_update(current: bytes, old: bytes) -> bytes:
    """The Yjs update that turns document `current` into a copy of `old`'s rich text.

    Both are whole-document updates. The change is computed on a scratch copy of `current`,
    so applying the result to the live document (which holds `current`) has the same effect.
    """
    source = _load(old).get(FIELD, type=XmlFragment)
    doc = _load(current)
    before = doc.get_state()
    fragment = doc.get(FIELD, type=XmlFragment)
    with doc.transaction():
        while len(fragment.children):
            del fragment.children[len(fragment.children) - 1]
        _copy_children(source, fragment, 0)
    return doc.get_update(before)
