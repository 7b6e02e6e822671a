"""Markdown and HTML export of pages written by the real TipTap editor."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpx
import pytest
import websockets
from starlette.applications import Starlette

from realtime.extract import Block, TextRun, document_blocks
from tests.support.export_reading import EXPORT_TAGS, html_problems, read_markdown, url_is_safe
from tests.support.servers import ROOT, AtelierServer
from tests.support.spaces_world import World, build_world
from tests.support.tiptap_documents import (
    Run,
    document_state,
    node,
    paragraph,
    sync_step1_message,
    sync_update_message,
)
from web.pages.export import safe_href, to_html, to_html_fragment, to_markdown

FIXTURES = ROOT / "tests" / "fixtures" / "tiptap"

RICH_MARKDOWN = """\
# Réunion du 3 mars

Texte avec **gras**, *italique*, `code`, ~~barré~~ et un [lien](https://example.org/a?b=1&c=2) \
vers [une page](/espaces/projet/pages/12).

## Points

- premier
  - imbriqué
- second ***gras italique***

1. un
2. deux

- [x] fait
- [ ] à faire

> Une citation

```python
def f(x):
    return x * 2  # <b>
```

| Nom | Rôle |
| --- | --- |
| Alice | éditrice \\| cheffe |

Ligne\\
coupée

---

![Un schéma](/fichiers/images/abc.png)

### Fin \\<script\\>alert(1)\\</script\\> \\*étoiles\\* \\_soulignés\\_
"""


@pytest.fixture
def rich() -> Block:
    return document_blocks((FIXTURES / "rich_page.bin").read_bytes())


def test_markdown_of_a_real_editor_page(rich: Block) -> None:
    assert to_markdown(rich) == RICH_MARKDOWN


def test_html_of_a_real_editor_page_keeps_structure_and_escapes_text(rich: Block) -> None:
    out = to_html_fragment(rich)
    assert out.startswith("<h1>Réunion du 3 mars</h1>\n<p>Texte avec <strong>gras</strong>")
    assert '<a href="https://example.org/a?b=1&amp;c=2">lien</a>' in out
    assert (
        '<li class="task-list-item"><input type="checkbox" aria-label="fait" disabled checked> '
        "<p>fait</p>" in out
    )
    assert '<pre><code class="language-python">def f(x):\n    return x * 2  # &lt;b&gt;' in out
    assert "<th><p>Nom</p>\n</th>" in out and "<td><p>éditrice | cheffe</p>\n</td>" in out
    assert "<p>Ligne<br>coupée</p>" in out
    assert '<img src="/fichiers/images/abc.png" alt="Un schéma">' in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out and "<script>" not in out
    assert not out.rstrip().endswith("<p></p>")


def test_standalone_html_names_its_title_and_language(rich: Block) -> None:
    page = to_html(rich, title="Compte rendu <1>", lang="fr")
    assert page.startswith('<!doctype html>\n<html lang="fr">')
    assert "<title>Compte rendu &lt;1&gt;</title>" in page


@pytest.mark.parametrize(
    ("href", "kept"),
    [
        ("https://example.org", True),
        ("HTTPS://example.org/a b", True),
        ("mailto:a@b.fr", True),
        ("/espaces/x/pages/3", True),
        ("#section-2", True),
        ("?page=2", True),
        ("notes/compte-rendu.html", True),
        ("../images/a.png", True),
        ("https://example.org/a?b=1&amp;c=2", True),
        ("javascript:alert(1)", False),
        ("  JavaScript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        ("\tjavascript:alert(1)", False),
        ("java\nscript:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("\u2028javascript:alert(1)", False),
        ("\u200bjavascript:alert(1)", False),
        ("https://example.org/\n[x](javascript:alert(1))", False),
        ("https://example.org/\u2029x", False),
        ("&#106;avascript:alert(1)", False),
        ("java&#x09;script:alert(1)", False),
        ("javascript&colon;alert(1)", False),
        ("/&#x2F;evil.example", False),
        ("/\\evil.example", False),
        ("\\\\evil.example", False),
        ("//evil.example/x", False),
        ("https:evil.example", False),
        ("data:text/html,<b>", False),
        ("DATA:image/png;base64,AAAA", False),
        ("vbscript:msgbox(1)", False),
        ("file:///etc/passwd", False),
        ("", False),
    ],
)
def test_only_web_mail_and_relative_links_survive_export(href: str, kept: bool) -> None:
    assert (safe_href(href) is not None) is kept
    doc = Block("doc", {}, (Block("paragraph", {}, (TextRun("x", {"link": {"href": href}}),)),))
    assert ("<a href" in to_html_fragment(doc)) is kept
    assert ("](" in to_markdown(doc)) is kept
    assert all(url_is_safe(url) for url in read_markdown(to_markdown(doc)).destinations)


@pytest.mark.parametrize("href", [None, 3, True, ["https://example.org"], {"a": 1}])
def test_a_link_address_that_is_not_text_leaves_plain_text(href: object) -> None:
    doc = Block("doc", {}, (Block("paragraph", {}, (TextRun("x", {"link": {"href": href}}),)),))
    assert to_markdown(doc) == "x\n" and to_html_fragment(doc) == "<p>x</p>\n"


def _linked(href: str, text: str = "lien", title: object = None) -> Block:
    link = {"href": href, "title": title}
    return Block("doc", {}, (Block("paragraph", {}, (TextRun(text, {"link": link}),)),))


def test_a_newline_in_a_link_address_cannot_smuggle_a_javascript_link_into_markdown() -> None:
    doc = _linked("https://a.example/\n[x](javascript:alert(1))")
    markdown = to_markdown(doc)
    assert read_markdown(markdown).destinations == []
    assert "javascript" not in to_html_fragment(doc)


@pytest.mark.parametrize("kind", ["taskList", "bulletList", "orderedList"])
@pytest.mark.parametrize("item", ["taskItem", "listItem", "paragraph"])
def test_a_code_block_opening_a_list_item_stays_code(kind: str, item: str) -> None:
    # Found by the hypothesis test: after "- [ ] " on the same line, a fence is not a fence,
    # and the code below it was read as Markdown (a live javascript: link, raw <script>).
    code = Block("codeBlock", {}, (TextRun("[x](javascript:alert(1))\n<script>y</script>"),))
    doc = Block("doc", {}, (Block(kind, {}, (Block(item, {}, (code,)),)),))
    reading = read_markdown(to_markdown(doc))
    assert reading.destinations == [] and reading.raw_html == []
    assert [code for _, code in reading.fences] == [
        "[x](javascript:alert(1))\n<script>y</script>\n"
    ]


def test_a_link_address_cannot_close_its_markdown_link_early() -> None:
    doc = _linked("https://a.example/a)[x](javascript:alert(1)) <b> c")
    reading = read_markdown(to_markdown(doc))
    assert reading.destinations == [
        "https://a.example/a%29%5Bx%5D%28javascript:alert%281%29%29%20%3Cb%3E%20c"
    ]
    assert reading.raw_html == []


def test_markdown_keeps_entities_in_link_addresses_as_typed() -> None:
    doc = _linked("/pages/a&#x2F;b?x=1&amp;y=2&z=3")
    assert read_markdown(to_markdown(doc)).destinations == ["/pages/a%26#x2F;b?x=1%26amp;y=2&z=3"]


def test_link_titles_and_texts_cannot_break_out_of_their_link() -> None:
    title = 'dit "bonjour" \\ | fin\n[x](javascript:alert(1))'
    doc = _linked("https://a.example/", text="a] (b) [c", title=title)
    reading = read_markdown(to_markdown(doc))
    assert reading.destinations == ["https://a.example/"]
    assert reading.titles == ['dit "bonjour" \\ | fin [x](javascript:alert(1))']
    html = to_html_fragment(doc)
    assert html == (
        '<p><a href="https://a.example/" title="dit &quot;bonjour&quot; \\ | fin'
        ' [x](javascript:alert(1))">a] (b) [c</a></p>\n'
    )


def test_an_image_alt_or_address_cannot_smuggle_a_link() -> None:
    alt = "schéma](javascript:alert(1))\n\n[x](javascript:alert(2)"
    image = Block("image", {"src": "/fichiers/a (1).png", "alt": alt, "title": 'le "plan"'})
    hostile = Block("image", {"src": "javascript:alert(3)", "alt": "rien"})
    doc = Block("doc", {}, (image, hostile))
    reading = read_markdown(to_markdown(doc))
    assert reading.destinations == ["/fichiers/a%20%281%29.png"]
    assert reading.titles == ['le "plan"']
    html = to_html_fragment(doc)
    assert html.count("<img") == 1 and "javascript:alert(3)" not in html
    assert 'title="le &quot;plan&quot;"' in html


def test_markdown_text_that_looks_like_syntax_is_escaped() -> None:
    doc = Block(
        "doc",
        {},
        (
            Block("paragraph", {}, (TextRun("# pas un titre"),)),
            Block("paragraph", {}, (TextRun("- pas une liste"),)),
            Block("paragraph", {}, (TextRun("1. pas numéroté"),)),
            Block("paragraph", {}, (TextRun("a `b` c", {"code": {}}),)),
        ),
    )
    assert to_markdown(doc) == (
        "\\# pas un titre\n\n\\- pas une liste\n\n1\\. pas numéroté\n\n``a `b` c``\n"
    )


def test_code_blocks_containing_fences_get_a_longer_fence() -> None:
    doc = Block("doc", {}, (Block("codeBlock", {}, (TextRun("```\ninside\n```"),)),))
    assert to_markdown(doc) == "````\n```\ninside\n```\n````\n"


# --- attributes any editor can sync -----------------------------------------------------------


def _heading(level: object) -> Block:
    return Block("doc", {}, (Block("heading", {"level": level}, (TextRun("Titre"),)),))


@pytest.mark.parametrize(
    ("level", "shown"),
    [
        ("x", 1),
        ("3", 3),
        (2.0, 2),
        (2.5, 1),
        (0, 1),
        (9, 6),
        (-4, 1),
        (10**30, 6),
        (float("nan"), 1),
        (float("inf"), 1),
        (None, 1),
        (True, 1),
        ([2], 1),
        ({"a": 2}, 1),
    ],
)
def test_a_heading_level_is_read_as_one_to_six(level: object, shown: int) -> None:
    assert to_markdown(_heading(level)) == "#" * shown + " Titre\n"
    assert to_html_fragment(_heading(level)) == f"<h{shown}>Titre</h{shown}>\n"


def _ordered(start: object) -> Block:
    items = tuple(
        Block("listItem", {}, (Block("paragraph", {}, (TextRun(t),)),)) for t in ("un", "deux")
    )
    return Block("doc", {}, (Block("orderedList", {"start": start}, items),))


@pytest.mark.parametrize(
    ("start", "first"),
    [
        ("abc", 1),
        ("7", 7),
        (3.0, 3),
        (0, 0),
        (-5, 0),
        (None, 1),
        (float("inf"), 1),
        (10**30, 999_999_998),
        ([1], 1),
    ],
)
def test_an_ordered_list_start_is_read_as_a_small_whole_number(start: object, first: int) -> None:
    assert to_markdown(_ordered(start)) == f"{first}. un\n{first + 1}. deux\n"
    html = to_html_fragment(_ordered(start))
    assert html.startswith(f'<ol start="{first}">' if first != 1 else "<ol>")


@pytest.mark.parametrize(
    ("checked", "done"),
    [
        (True, True),
        ("true", True),
        (False, False),
        ("false", False),
        (1, False),
        (None, False),
        ("oui", False),
        ([True], False),
    ],
)
def test_only_a_true_checked_attribute_ticks_a_task(checked: object, done: bool) -> None:
    item = Block("taskItem", {"checked": checked}, (Block("paragraph", {}, (TextRun("t"),)),))
    doc = Block("doc", {}, (Block("taskList", {}, (item,)),))
    assert to_markdown(doc) == ("- [x] t\n" if done else "- [ ] t\n")
    assert ("disabled checked>" in to_html_fragment(doc)) is done


def test_a_task_box_is_named_by_its_text_and_an_empty_one_is_left_out_for_screen_readers() -> None:
    named = Block("taskItem", {}, (Block("paragraph", {}, (TextRun("Relire <le> devis"),)),))
    empty = Block("taskItem", {}, (Block("paragraph", {}, ()),))
    html = to_html_fragment(Block("doc", {}, (Block("taskList", {}, (named, empty)),)))
    assert '<input type="checkbox" aria-label="Relire &lt;le&gt; devis" disabled>' in html
    assert '<input type="checkbox" aria-hidden="true" disabled>' in html


@pytest.mark.parametrize(
    ("language", "info"),
    [
        ("python", "python"),
        ("js\n```\n[x](javascript:alert(1))\n```", "js"),
        ('x" onmouseover="alert(1)', "x"),
        ("c++ extra", "c++"),
        ("`~~~`", ""),
        (42, ""),
        (None, ""),
    ],
)
def test_a_code_block_language_cannot_leave_its_fence_or_class(language: object, info: str) -> None:
    doc = Block("doc", {}, (Block("codeBlock", {"language": language}, (TextRun("x = 1"),)),))
    reading = read_markdown(to_markdown(doc))
    assert reading.fences == [(info, "x = 1\n")] and reading.destinations == []
    cls = f' class="language-{info}"' if info else ""
    assert to_html_fragment(doc) == f"<pre><code{cls}>x = 1</code></pre>\n"


@pytest.mark.parametrize(
    ("span", "written"),
    [
        (2, ' colspan="2"'),
        ("3", ' colspan="3"'),
        ("abc", ""),
        (10**9, ' colspan="1000"'),
        (-2, ""),
        (float("nan"), ""),
        (None, ""),
        ([2], ""),
    ],
)
def test_table_cell_spans_are_whole_numbers_browsers_honour(span: object, written: str) -> None:
    cell = Block("tableCell", {"colspan": span}, (Block("paragraph", {}, (TextRun("c"),)),))
    doc = Block("doc", {}, (Block("table", {}, (Block("tableRow", {}, (cell,)),)),))
    assert f"<td{written}><p>c</p>\n</td>" in to_html_fragment(doc)
    assert to_markdown(doc) == "| c |\n| --- |\n"


# Made with Yjs 13 under node: a heading whose `level` attribute is a Y.Map and whose `data`
# attribute is a Uint8Array, which the editor never writes but any client may sync.
YJS_TYPED_ATTRIBUTES = bytes.fromhex(
    "0107cff3c984050007010764656661756c74030768656164696e672700cff3c9840500056c6576656c0123"
    "00cff3c984050004646174610201020700cff3c9840500060600cff3c9840503046c696e6b027b7d84cff3"
    "c984050405546974726586cff3c9840509046c696e6b046e756c6c00"
)


def test_attributes_holding_yjs_types_or_bytes_read_as_nothing() -> None:
    blocks = document_blocks(YJS_TYPED_ATTRIBUTES)
    heading = blocks.children[0]
    assert isinstance(heading, Block) and dict(heading.attrs) == {"level": None, "data": None}
    assert to_markdown(blocks) == "# Titre\n" and to_html_fragment(blocks) == "<h1>Titre</h1>\n"


def test_unknown_nodes_and_marks_with_odd_attributes_keep_their_text() -> None:
    runs = (
        TextRun("a", {"highlight": {"color": [1, 2]}, "link": {}}),
        TextRun("b", {"bold": {"weird": None}, "mention": {"id": {"x": 1}}}),
    )
    doc = Block(
        "doc",
        {},
        (
            Block(
                "mystery", {"level": "x", "onclick": "alert(1)"}, (Block("paragraph", {}, runs),)
            ),
            Block("iframe", {"src": "javascript:alert(1)"}, (TextRun("c"),)),
        ),
    )
    assert to_markdown(doc) == "a**b**\n\nc\n"
    assert to_html_fragment(doc) == "<p>a<strong>b</strong></p>\nc"


def test_text_with_line_breaks_keeps_headings_and_tables_whole() -> None:
    cell = Block("tableCell", {}, (Block("paragraph", {}, (TextRun("a\nb | `c|d`", {}),)),))
    doc = Block(
        "doc",
        {},
        (
            Block("heading", {"level": 2}, (TextRun("un\n# deux"),)),
            Block("table", {}, (Block("tableRow", {}, (cell,)),)),
            Block("paragraph", {}, (TextRun("gras\n", {"bold": {}}), TextRun("---"))),
        ),
    )
    assert to_markdown(doc) == (
        "## un \\# deux\n\n| a<br>b \\| \\`c\\|d\\` |\n| --- |\n\n**gras**\\\n\\---\n"
    )


# --- over HTTP: what a reader downloads -------------------------------------------------------

HOSTILE_PAGE = document_state(
    node("heading", {"level": "x"}, "Titre"),
    node("orderedList", {"start": "abc"}, node("listItem", {}, paragraph("un"))),
    paragraph(Run("piège", {"link": {"href": "https://a.example/\n[x](javascript:alert(1))"}})),
)


def _hostile_markdown_is_safe(markdown: str) -> None:
    assert markdown.startswith("# Titre\n\n1. un\n")
    assert all(url_is_safe(url) for url in read_markdown(markdown).destinations)


@pytest.fixture
async def world(app: Starlette, new_client: Callable[[], httpx.AsyncClient]) -> World:
    return await build_world(app, new_client)


async def test_exports_of_a_page_with_nonsense_attributes_answer_with_the_page(
    app: Starlette, world: World
) -> None:
    app.state.store.append(world.page.doc_name, HOSTILE_PAGE)
    await app.state.store.flush()
    url = f"/espaces/{world.slug}/pages/{world.page.id}"
    reader = world.clients["reader"]

    markdown = await reader.get(url + "/export.md")
    page = await reader.get(url + "/export.html")

    assert markdown.status_code == 200 and page.status_code == 200
    _hostile_markdown_is_safe(markdown.text)
    assert "<h1>Titre</h1>\n<ol>\n<li><p>un</p>\n</li>\n</ol>" in page.text
    assert html_problems(page.text, EXPORT_TAGS) == []


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AtelierServer]:
    srv = AtelierServer(tmp_path_factory.mktemp("export-live")).start()
    yield srv
    srv.stop()


async def _sync_as_editor(url: str, update: bytes) -> None:
    """Send an edit the way an editor's browser does, and wait until the server has it."""
    async with websockets.connect(url, open_timeout=5) as ws:
        await ws.send(sync_update_message(update))
        # Messages of one connection are handled in order: the answer to this step 1 comes
        # after the update was applied.
        await ws.send(sync_step1_message())
        async with asyncio.timeout(10):
            while not (await ws.recv(decode=False)).startswith(b"\x00\x01"):
                pass


async def test_an_editor_syncing_nonsense_attributes_cannot_break_the_exports(
    server: AtelierServer, unique: str
) -> None:
    doc, token = f"export-{unique}", server.token("export-")
    await _sync_as_editor(f"{server.sync_url}/{doc}?token={token}", HOSTILE_PAGE)

    async with httpx.AsyncClient(base_url=server.http_url) as client:
        markdown = await client.get(f"/d/{doc}/export.md", params={"token": token})
        page = await client.get(f"/d/{doc}/export.html", params={"token": token})

    assert markdown.status_code == 200 and page.status_code == 200
    _hostile_markdown_is_safe(markdown.text)
    assert html_problems(page.text, EXPORT_TAGS) == []
