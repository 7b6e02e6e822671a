"""Version history of pages over HTTP: who may list, read, name and restore; automatic versions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from babel.messages.extract import extract_from_file
from pycrdt import Doc, XmlElement, XmlFragment, XmlText
from starlette.applications import Starlette

from realtime.extract import MAX_DEPTH, document_blocks
from tests.support.export_reading import EXPORT_TAGS, html_problems, version_content
from tests.support.forms import post_form
from tests.support.servers import ROOT
from tests.support.spaces_world import World, build_world
from tests.support.tiptap_documents import Run, document_state, node, paragraph
from web.i18n import COOKIE_NAME, load_catalog
from web.pages import versions
from web.spaces.access import utcnow

WEB = ROOT / "web"


def page_state(*paragraphs: str, base: bytes = b"") -> bytes:
    """A TipTap-like document (on top of `base`) whose paragraphs are these texts."""
    doc: Doc[Any] = Doc()
    if base:
        doc.apply_update(base)
    fragment = doc.get("default", type=XmlFragment)
    while len(fragment.children):
        del fragment.children[0]
    for words in paragraphs:
        paragraph = fragment.children.append(XmlElement("paragraph"))
        paragraph.children.append(XmlText(words))
    return doc.get_update()


async def write(app: Starlette, doc_name: str, *paragraphs: str) -> None:
    store = app.state.store
    await store.flush()
    store.append(doc_name, page_state(*paragraphs, base=await store.load(doc_name)))
    await store.flush()


async def text_of(app: Starlette, doc_name: str) -> str:
    state = app.state.rooms.document_state(doc_name)
    if state is None:
        await app.state.store.flush()
        state = await app.state.store.load(doc_name)
    return document_blocks(state).text()


@pytest.fixture
async def world(app: Starlette, new_client: Callable[[], httpx.AsyncClient]) -> World:
    return await build_world(app, new_client)


def url_of(world: World) -> str:
    return f"/espaces/{world.slug}/pages/{world.page.id}"


async def test_an_editor_names_a_version_and_a_reader_lists_and_reads_it(
    app: Starlette, world: World
) -> None:
    url = url_of(world)
    await write(app, world.page.doc_name, "Premier jet <script>alert(1)</script>")
    editor, reader = world.clients["editor"], world.clients["reader"]

    created = await post_form(editor, url + "/versions", {"name": "Relu par l’équipe"})
    assert created.status_code == 303 and created.headers["location"] == url + "/versions"

    listing = await reader.get(url + "/versions")
    assert listing.status_code == 200
    assert "Relu par l’équipe" in listing.text and "Editor" in listing.text
    assert 'name="name"' not in listing.text  # readers get no form to name a version
    history = await versions.list_versions(app.state.engine, world.page.id)
    shown = await reader.get(f"{url}/versions/{history[0].id}")
    assert shown.status_code == 200
    assert "<p>Premier jet &lt;script&gt;alert(1)&lt;/script&gt;</p>" in shown.text
    assert "Restaurer cette version" not in shown.text


async def test_restoring_brings_the_old_text_back_and_keeps_the_current_one_as_a_version(
    app: Starlette, world: World
) -> None:
    url, doc_name = url_of(world), world.page.doc_name
    await write(app, doc_name, "Version du lundi")
    owner = world.clients["owner"]
    assert (await post_form(owner, url + "/versions", {"name": "Lundi"})).status_code == 303
    await write(app, doc_name, "Texte du mardi", "avec un ajout")
    lundi = (await versions.list_versions(app.state.engine, world.page.id))[0]

    restored = await post_form(owner, f"{url}/versions/{lundi.id}/restaurer")

    assert restored.status_code == 303 and restored.headers["location"] == url
    assert await text_of(app, doc_name) == "Version du lundi"
    history = await versions.list_versions(app.state.engine, world.page.id)
    assert [v.name for v in history] == ["Avant restauration", "Lundi"]
    _before, state = await versions.get_version(app.state.engine, world.page.id, history[0].id)
    assert document_blocks(state).text() == "Texte du mardiavec un ajout"


async def test_readers_commenters_and_reader_guests_cannot_name_or_restore(
    app: Starlette, world: World
) -> None:
    url = url_of(world)
    await write(app, world.page.doc_name, "Intact")
    version_id = await versions.save_version(
        app.state.engine, world.page.id, page_state("Ancien"), name="Ancienne"
    )
    for who in ("reader", "commenter", "space_link_reader"):
        client = world.clients[who]
        assert (await client.get(url + "/versions")).status_code == 200, who
        assert (await client.get(f"{url}/versions/{version_id}")).status_code == 200, who
        refused = await post_form(client, url + "/versions", {"name": "Non"})
        assert refused.status_code == 403, who
        refused = await post_form(client, f"{url}/versions/{version_id}/restaurer")
        assert refused.status_code == 403, who
    assert await text_of(app, world.page.doc_name) == "Intact"
    assert len(await versions.list_versions(app.state.engine, world.page.id)) == 1

    # A guest whose editor link is for this page may restore it.
    guest = world.clients["page_link_editor"]
    assert (await post_form(guest, f"{url}/versions/{version_id}/restaurer")).status_code == 303
    assert await text_of(app, world.page.doc_name) == "Ancien"


async def test_people_without_access_see_no_history(app: Starlette, world: World) -> None:
    url = url_of(world)
    version_id = await versions.save_version(app.state.engine, world.page.id, page_state("x"))
    for who in ("outsider", "instance_admin"):
        client = world.clients[who]
        assert (await client.get(url + "/versions")).status_code == 404, who
        assert (await client.get(f"{url}/versions/{version_id}")).status_code == 404, who
        assert (
            await post_form(client, f"{url}/versions/{version_id}/restaurer")
        ).status_code == 404
    assert (await world.clients["anonymous"].get(url + "/versions")).status_code == 303
    other = await world.new_page("Autre page")
    owner = world.clients["owner"]
    elsewhere = f"/espaces/{world.slug}/pages/{other.id}/versions/{version_id}"
    assert (await owner.get(elsewhere)).status_code == 404  # a version of another page
    guest = world.clients["page_link_editor"]
    assert (await guest.get(f"/espaces/{world.slug}/pages/{other.id}/versions")).status_code == 404


async def test_an_unreadable_version_is_refused_and_the_page_stays_as_it_is(
    app: Starlette, world: World
) -> None:
    url = url_of(world)
    await write(app, world.page.doc_name, "Intact")
    broken = await versions.save_version(app.state.engine, world.page.id, b"\xff\xff\xff")

    refused = await post_form(world.clients["editor"], f"{url}/versions/{broken}/restaurer")

    assert refused.status_code == 422 and "illisible" in refused.text
    assert await text_of(app, world.page.doc_name) == "Intact"
    assert len(await versions.list_versions(app.state.engine, world.page.id)) == 1
    assert (await world.clients["reader"].get(f"{url}/versions/{broken}")).status_code == 200


async def test_a_version_with_nonsense_attributes_is_shown_with_its_text(
    app: Starlette, world: World
) -> None:
    state = document_state(
        node("heading", {"level": "x"}, "Titre"),
        node("orderedList", {"start": "abc"}, node("listItem", {}, paragraph("un"))),
        paragraph(Run("piège", {"link": {"href": "https://a.example/\n[x](javascript:x)"}})),
        node("taskList", {}, node("taskItem", {"checked": "false"}, paragraph("à faire"))),
        node("codeBlock", {"language": 'js" onclick="alert(1)'}, "x = 1"),
    )
    version_id = await versions.save_version(app.state.engine, world.page.id, state, name="v")

    shown = await world.clients["reader"].get(f"{url_of(world)}/versions/{version_id}")

    assert shown.status_code == 200
    content = version_content(shown.text)
    assert "<h1>Titre</h1>" in content and "<ol>" in content and "<p>piège</p>" in content
    # The box is named by its task, for screen readers.
    assert '<input type="checkbox" aria-label="à faire" disabled=""> <p>à faire</p>' in content
    assert '<code class="language-js">x = 1</code>' in content
    assert html_problems(content, EXPORT_TAGS) == []


def _nested(depth: int) -> bytes:
    inner = paragraph("au fond")
    for _ in range(depth):
        inner = node("blockquote", {}, inner)
    return document_state(inner)


async def test_a_version_that_cannot_be_read_is_shown_with_a_notice(
    app: Starlette, world: World
) -> None:
    url, engine, page_id = url_of(world), app.state.engine, world.page.id
    broken = await versions.save_version(engine, page_id, b"\xff\xff\xff", name="cassée")
    too_deep = await versions.save_version(engine, page_id, _nested(MAX_DEPTH + 1), name="abîme")
    deepest = await versions.save_version(engine, page_id, _nested(MAX_DEPTH - 1), name="fond")
    reader = world.clients["reader"]
    notice = "Le contenu de cette version ne peut pas être affiché"

    for version_id in (broken, too_deep):
        shown = await reader.get(f"{url}/versions/{version_id}")
        assert shown.status_code == 200
        assert notice in version_content(shown.text)
    shown = await reader.get(f"{url}/versions/{deepest}")
    assert shown.status_code == 200 and "au fond" in shown.text and notice not in shown.text
    reader.cookies.set(COOKIE_NAME, "en")
    shown = await reader.get(f"{url}/versions/{broken}")
    assert "This version's content cannot be shown" in version_content(shown.text)


async def test_a_version_needs_a_name(world: World) -> None:
    response = await post_form(world.clients["editor"], url_of(world) + "/versions", {"name": "  "})
    assert response.status_code == 422


async def test_changed_pages_get_an_automatic_version_at_most_once_per_interval(
    app: Starlette, world: World
) -> None:
    engine, rooms, store = app.state.engine, app.state.rooms, app.state.store
    doc_name, hour = world.page.doc_name, timedelta(minutes=60)
    await write(app, doc_name, "Une")
    start = utcnow()

    waiting = await versions.snapshot_changed(
        engine, rooms, store, {doc_name, "pas-une-page"}, interval=hour, now=start
    )
    assert waiting == set()
    await write(app, doc_name, "Deux")
    waiting = await versions.snapshot_changed(
        engine, rooms, store, {doc_name}, interval=hour, now=start + timedelta(minutes=10)
    )
    assert waiting == {doc_name}  # changed, but the last version is too recent
    waiting = await versions.snapshot_changed(
        engine, rooms, store, waiting, interval=hour, now=start + timedelta(minutes=61)
    )
    assert waiting == set()

    history = await versions.list_versions(engine, world.page.id)
    assert [v.automatic for v in history] == [True, True]
    texts = []
    for version in history:
        _v, state = await versions.get_version(engine, world.page.id, version.id)
        texts.append(document_blocks(state).text())
    assert texts == ["Deux", "Une"]
    listing = await world.clients["reader"].get(url_of(world) + "/versions")
    assert listing.text.count("Version automatique") == 2


async def test_the_keeper_versions_pages_edited_through_this_worker(
    app: Starlette, world: World
) -> None:
    rooms = app.state.rooms
    await rooms.apply_server_change(world.page.doc_name, lambda current: page_state("Modifiée"))
    await app.state.versions.check()
    history = await versions.list_versions(app.state.engine, world.page.id)
    assert len(history) == 1 and history[0].automatic


def _strings() -> set[str]:
    keywords = {"_": None, "gettext": None, "t": None, "N_": None}
    found: set[str] = set()
    for path in (WEB / "pages" / "versions.py", WEB / "pages" / "version_routes.py"):
        for _l, message, _c, _x in extract_from_file("python", path, keywords=keywords):
            found.add(message if isinstance(message, str) else message[0])
    for path in WEB.glob("templates/pages/version*.html"):
        for _l, message, _c, _x in extract_from_file(
            "jinja2.ext:babel_extract",
            path,
            keywords=keywords,
            options={"extensions": "jinja2.ext.i18n"},
        ):
            found.add(message if isinstance(message, str) else message[0])
    return {m for m in found if m}


def test_every_french_string_of_version_history_has_an_english_translation() -> None:
    catalog = load_catalog("en")
    missing = sorted(m for m in _strings() if not (catalog.get(m) and catalog[m].string))
    assert len(_strings()) > 10
    assert not missing, f"add to web/locale/en/LC_MESSAGES/versions.po: {missing}"


async def test_the_history_speaks_english_on_request(app: Starlette, world: World) -> None:
    await versions.save_version(app.state.engine, world.page.id, page_state("a"), automatic=True)
    await versions.save_version(
        app.state.engine, world.page.id, page_state("b"), name=versions.BEFORE_RESTORE
    )
    client = world.clients["editor"]
    client.cookies.set(COOKIE_NAME, "en")
    listing = await client.get(url_of(world) + "/versions")
    assert "Version history" in listing.text and "Automatic version" in listing.text
    assert "Before restoring" in listing.text and "Avant restauration" not in listing.text


async def test_the_page_view_leads_to_its_version_history(world: World) -> None:
    url = url_of(world)
    page = await world.clients["reader"].get(url)
    assert page.status_code == 200
    assert f'href="{url}/versions"' in page.text
