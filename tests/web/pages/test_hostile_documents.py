"""Exports and version views answer for any document an editor could sync, and stay safe.

Documents are built the way TipTap stores them (XmlElements with attributes, XmlTexts with
marks), with the node types the editor uses and some it does not, nested at random, and
attribute values that range from sensible to hostile. Each one is stored as a page and as a
version of it; a reader then downloads both exports and opens the version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from tests.support.export_reading import (
    EXPORT_TAGS,
    html_problems,
    read_markdown,
    url_is_safe,
    version_content,
)
from tests.support.spaces_world import World, build_world
from tests.support.tiptap_documents import Node, Run, document_state
from web.pages import versions

HOSTILE_TEXT = [
    "x",
    "abc",
    "",
    " ",
    "3",
    "-5",
    "1e999",
    "99999999999999999999",
    "true",
    "false",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "\tjavascript:alert(1)",
    "java\nscript:alert(1)",
    "\u2028javascript:alert(1)",
    "&#106;avascript:alert(1)",
    "javascript&colon;alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "https://a.example/\n[x](javascript:alert(1))",
    "https://a.example/)[x](javascript:alert(1)",
    "https://a.example/ <img src=x onerror=alert(1)>",
    "https://a.example/a?b=1&c=2",
    "/\\evil.example",
    "//evil.example",
    "/&#x2F;evil.example",
    "/fichiers/images/a.png",
    "#ancre",
    "mailto:a@b.fr",
    'x" onerror="alert(1)',
    "js\n```\n[x](javascript:alert(1))\n```",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    "[x]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "`",
    "~~~",
    "| a | b |",
    "# titre",
    "1. un",
    "---",
    "\x00",
    "\u202e",
]
ATTRIBUTE_NAMES = [
    "level",
    "start",
    "checked",
    "language",
    "src",
    "alt",
    "title",
    "href",
    "colspan",
    "rowspan",
    "colwidth",
    "onclick",
    "class",
    "style",
]
# The editor's node types, then some it does not have.
NODE_TYPES = [
    "paragraph",
    "heading",
    "bulletList",
    "orderedList",
    "listItem",
    "taskList",
    "taskItem",
    "blockquote",
    "codeBlock",
    "table",
    "tableRow",
    "tableHeader",
    "tableCell",
    "horizontalRule",
    "hardBreak",
    "image",
    "mention",
    "script",
    "img onerror=alert(1)",
]
MARK_NAMES = [
    "bold",
    "italic",
    "strike",
    "underline",
    "code",
    "link",
    "link--a1b2c3",
    "highlight",
]

texts = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=12))
# What a Yjs client can store in an attribute (pycrdt stores no integer past 2**63).
scalars = st.one_of(
    texts, st.integers(-(2**53), 2**53), st.floats(), st.booleans(), st.sampled_from([0, 1, 2, 7])
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(st.one_of(inner, st.none()), max_size=3),
        st.dictionaries(st.sampled_from(["href", "title", "x"]), st.one_of(inner, st.none())),
    ),
    max_leaves=4,
)
attributes = st.dictionaries(st.sampled_from(ATTRIBUTE_NAMES), values, max_size=4)
mark_values = st.one_of(
    st.fixed_dictionaries({"href": values}, optional={"title": values}), st.just({}), values
)
runs = st.builds(Run, texts, st.dictionaries(st.sampled_from(MARK_NAMES), mark_values, max_size=3))


def _nodes(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Node]:
    return st.builds(Node, st.sampled_from(NODE_TYPES), attributes, st.lists(children, max_size=4))


trees = st.recursive(runs, lambda inner: st.one_of(inner, _nodes(inner)), max_leaves=16)
documents = st.lists(_nodes(trees), min_size=1, max_size=4)


@pytest.fixture
async def world(app: Starlette, new_client: Callable[[], httpx.AsyncClient]) -> World:
    return await build_world(app, new_client)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(blocks=documents)
async def test_any_synced_document_exports_and_shows_its_versions_without_unsafe_links(
    app: Starlette, world: World, blocks: list[Node]
) -> None:
    state = document_state(*blocks)
    page = await world.new_page()
    app.state.store.append(page.doc_name, state)
    await app.state.store.flush()
    version_id = await versions.save_version(app.state.engine, page.id, state, name="v")
    url = f"/espaces/{world.slug}/pages/{page.id}"
    reader = world.clients["reader"]

    markdown = await reader.get(url + "/export.md")
    exported = await reader.get(url + "/export.html")
    version = await reader.get(f"{url}/versions/{version_id}")

    assert [markdown.status_code, exported.status_code, version.status_code] == [200, 200, 200]
    reading = read_markdown(markdown.text)
    assert [url for url in reading.destinations if not url_is_safe(url)] == []
    # The only raw HTML in a Markdown export is its underline and table line breaks.
    assert set(reading.raw_html) <= {"<u>", "</u>", "<br>"}
    assert html_problems(exported.text, EXPORT_TAGS) == []
    assert html_problems(version_content(version.text), EXPORT_TAGS) == []
