"""Reading rich text from documents written by the real TipTap editor (fixture captured in
Chromium from the page editor, see tests/fixtures/tiptap/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pycrdt import Doc, XmlElement, XmlFragment, XmlText

from realtime.extract import MAX_DEPTH, Block, ExtractError, TextRun, document_blocks

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tiptap"


@pytest.fixture
def rich() -> Block:
    return document_blocks((FIXTURES / "rich_page.bin").read_bytes())


def test_blocks_come_out_in_order_with_their_types(rich: Block) -> None:
    types = [c.type for c in rich.children if isinstance(c, Block)]
    assert types[:8] == [
        "heading",
        "paragraph",
        "heading",
        "bulletList",
        "orderedList",
        "taskList",
        "blockquote",
        "codeBlock",
    ]
    assert "table" in types and "image" in types and "horizontalRule" in types


def test_numbers_are_integers_and_checkboxes_booleans(rich: Block) -> None:
    heading = rich.children[0]
    assert isinstance(heading, Block) and heading.attrs == {"level": 1}
    assert heading.text() == "Réunion du 3 mars"
    tasks = next(c for c in rich.children if isinstance(c, Block) and c.type == "taskList")
    assert [i.attrs["checked"] for i in tasks.children if isinstance(i, Block)] == [True, False]


def test_marks_carry_their_attributes(rich: Block) -> None:
    paragraph = rich.children[1]
    assert isinstance(paragraph, Block)
    runs = [r for r in paragraph.children if isinstance(r, TextRun)]
    assert TextRun("gras", {"bold": {}}) in runs
    link = next(r for r in runs if r.text == "une page")
    assert link.marks["link"]["href"] == "/espaces/projet/pages/12"


def test_code_keeps_its_newlines_and_language(rich: Block) -> None:
    code = next(c for c in rich.children if isinstance(c, Block) and c.type == "codeBlock")
    assert code.attrs["language"] == "python"
    assert code.text() == "def f(x):\n    return x * 2  # <b>"


def test_an_empty_or_new_document_has_no_blocks() -> None:
    assert document_blocks(b"") == Block("doc")


def test_bytes_that_are_not_a_document_raise_extract_error() -> None:
    with pytest.raises(ExtractError):
        document_blocks(b"\x01\x02not a yjs update at all")


def test_a_document_nested_past_the_limit_is_refused_not_a_crash() -> None:
    doc = Doc()
    fragment = doc.get("default", type=XmlFragment)
    parent: XmlFragment | XmlElement = fragment
    for _ in range(MAX_DEPTH + 5):
        parent = parent.children.append(XmlElement("blockquote"))
    parent.children.append(XmlText("deep"))
    with pytest.raises(ExtractError, match="nests deeper"):
        document_blocks(doc.get_update())
